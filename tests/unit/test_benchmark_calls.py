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
    assert result.list_calls[1] == ["dynamodb.Query"]
    assert calls.report(result).splitlines()[-1] == "list_calls_1=1 list_calls_5=1"

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


def test_every_issue_4_route_is_counted_and_lists_are_one_query_whatever_the_estate(stack, monkeypatch):
    from benchmarks import workload_calls

    monkeypatch.setenv("LAYER0_AWS_RATE", "1e9")
    settings.get.cache_clear()
    aws.reset()
    try:
        with calls.CallCounter() as counter:
            rows, lists = workload_calls.measure(counter, cases=((1, 1, 1), (2, 4, 4)))
    finally:
        aws.reset()
    assert sorted(row.operation for row in rows) == sorted(workload_calls.ORIGINAL)
    for row in rows:
        assert row.calls, row.operation
    by_operation = {row.operation: row for row in rows}
    assert by_operation["POST /service"].operations["CreateService"] == 1
    assert by_operation["create-task job (type 5)"].operations["RunTask"] == 1
    assert by_operation["DELETE /task/{id}"].operations["StopTask"] == 1
    # One Query of the read model, whatever the number of environments, families, services and tasks.
    for route in ("GET /service", "GET /task", "GET /deploy"):
        assert lists[route][(2, 4, 4)] == lists[route][(1, 1, 1)] == ["dynamodb.Query"], route
    assert workload_calls.report(rows, lists).splitlines()[-1] == (
        "service_calls_1=1 service_calls_2=1 task_calls_1=1 task_calls_2=1 deploy_list_calls_1=1 deploy_list_calls_2=1"
    )


def test_every_load_balancer_route_is_counted_for_both_types_and_the_list_does_not_grow(stack, monkeypatch):
    from benchmarks import load_balancer_calls

    monkeypatch.setenv("LAYER0_AWS_RATE", "1e9")
    settings.get.cache_clear()
    aws.reset()
    try:
        with calls.CallCounter() as counter:
            rows, lists = load_balancer_calls.measure(counter, sizes=(1, 3))
    finally:
        aws.reset()
    routes = [name for name in load_balancer_calls.ORIGINAL if name != "GET /loadbalancer"]
    assert [row.operation for row in rows] == [f"{route} ({kind})" for kind in ("classic", "application") for route in routes]
    for row in rows:
        assert row.calls, row.operation
    by_operation = {row.operation: row for row in rows}
    assert by_operation["POST /loadbalancer (classic)"].operations["CreateLoadBalancer"] == 1
    assert by_operation["POST /loadbalancer (application)"].operations["CreateListener"] == 2
    assert by_operation["delete-load-balancer job (type 3) (classic)"].operations["DeleteLoadBalancer"] == 1
    assert lists[1] == lists[3]
    assert load_balancer_calls.report(rows, lists).splitlines()[-1] == (
        f"loadbalancer_list_calls_1={len(lists[1])} loadbalancer_list_calls_3={len(lists[3])}"
    )
