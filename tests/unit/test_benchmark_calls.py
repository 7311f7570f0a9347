"""benchmarks.calls (issue 3, "Measure"): its measuring function, in process against the `stack` fixture, small."""

from __future__ import annotations

import pytest

from benchmarks import calls
from layer0 import aws, settings


@pytest.fixture
def result(stack, monkeypatch):
    # Lift the client layer's pacing for this test only: its buckets are made per process, so forget them
    # before (to take the high rate) and after (so later tests get the default again).
    monkeypatch.setenv("LAYER0_AWS_RATE", "1e9")
    settings.get.cache_clear()
    aws.reset()
    try:
        yield calls.measure(list_sizes=(1, 5))
    finally:
        aws.reset()


def test_list_calls_do_not_grow_and_create_uses_a_launch_template(result):
    assert set(result.list_calls) == {1, 5}
    assert result.list_calls[1] == result.list_calls[5]
    assert result.list_calls[1] == ["ecs.ListClusters", "ecs.DescribeClusters", "dynamodb.Query"]
    assert calls.report(result).splitlines()[-1] == "list_calls_1=3 list_calls_5=3"

    # Create uses a launch template, not a launch configuration.
    create = result.row("create").operations
    assert create["CreateCluster"] == 1
    assert create["CreateLaunchTemplate"] == 1
    assert create["CreateAutoScalingGroup"] == 1
    assert "CreateLaunchConfiguration" not in create

    # Every operation is measured; AWS-resource and DynamoDB calls are counted apart.
    assert [row.operation for row in result.rows] == list(calls.ORIGINAL)
    for row in result.rows:
        assert row.calls, row.operation
        assert sum(row.aws.values()) + row.dynamodb == len(row.calls)
    assert result.row("get").aws == {"ecs": 1, "autoscaling": 1, "ec2": 2}
    assert result.row("delete: the job").operations["DeleteCluster"] == 1


def test_the_counter_lets_go_of_the_client_layer():
    original = aws._new_client
    with calls.CallCounter() as counter:
        assert aws._new_client is not original
        with counter.measure() as seen:
            pass
    assert aws._new_client is original
    assert seen == []
