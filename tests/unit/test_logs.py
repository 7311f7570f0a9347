"""CloudWatch log lookup for tasks (docs/compatibility.md#logs), against moto's CloudWatch Logs."""

from __future__ import annotations

import datetime as dt

import pytest

from layer0 import logs, settings
from layer0.errors import ErrorCode, Layer0Error
from tests.conftest import setup_client

OLD_ARN = "arn:aws:ecs:us-west-2:123456789012:task/0f1e2d3c-old"
NEW_ARN = "arn:aws:ecs:us-west-2:123456789012:task/l0-test-env/5a6b7c8d9e"


# CloudWatch Logs (and moto) refuse events older than 14 days: write them at yesterday's date.
DAY = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)).strftime("%Y-%m-%d")


def _at(text: str) -> int:
    """Epoch ms of "HH:MM" yesterday."""
    moment = dt.datetime.strptime(f"{DAY} {text}", "%Y-%m-%d %H:%M").replace(tzinfo=dt.timezone.utc)
    return int(moment.timestamp() * 1000)


def _write(stream: str, lines: list[tuple[str, str]]) -> None:
    """Write (time, message) events into a stream of the Layer0 log group."""
    client = setup_client("logs")
    group = settings.get().log_group
    try:
        client.create_log_stream(logGroupName=group, logStreamName=stream)
    except client.exceptions.ResourceAlreadyExistsException:
        pass
    client.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": _at(moment), "message": message} for moment, message in lines],
    )


def _by_name(files) -> dict[str, list[str]]:
    return {file.name: file.lines for file in files}


@pytest.mark.parametrize("arn", [OLD_ARN, NEW_ARN])
def test_finds_the_streams_of_old_and_new_format_arns(stack, arn):
    task_id = arn.rsplit("/", 1)[-1]
    _write(f"l0/web/{task_id}", [("10:00", "hello"), ("10:01", "world")])
    _write(f"l0/sidecar/{task_id}", [("10:00", "side")])
    _write("l0/web/someone-else", [("10:00", "not mine")])
    _write(f"other/web/{task_id}/extra", [("10:00", "wrong shape")])

    files = logs.for_tasks([arn])

    assert _by_name(files) == {"web": ["hello", "world"], "sidecar": ["side"]}


def test_several_tasks_and_no_task(stack):
    _write("l0/web/0f1e2d3c-old", [("10:00", "a")])
    _write("l0/web/5a6b7c8d9e", [("10:00", "b")])

    files = logs.for_tasks([OLD_ARN, NEW_ARN])

    assert sorted(line for file in files for line in file.lines) == ["a", "b"]
    assert logs.for_tasks([]) == []


def test_tail_keeps_the_last_lines_in_order(stack):
    _write("l0/web/5a6b7c8d9e", [(f"10:{minute:02d}", f"line {minute}") for minute in range(10)])

    assert _by_name(logs.for_tasks([NEW_ARN], tail=3)) == {"web": ["line 7", "line 8", "line 9"]}
    assert _by_name(logs.for_tasks([NEW_ARN], tail=50))["web"] == [f"line {minute}" for minute in range(10)]
    assert _by_name(logs.for_tasks([NEW_ARN], tail=0))["web"] == [f"line {minute}" for minute in range(10)]


def test_start_and_end_bound_the_lines(stack):
    _write("l0/web/5a6b7c8d9e", [(f"10:{minute:02d}", f"line {minute}") for minute in range(10)])

    files = logs.for_tasks(
        [NEW_ARN],
        start=logs.parse_time(f"{DAY} 10:03", "start"),
        end=logs.parse_time(f"{DAY} 10:05", "end"),
    )

    assert _by_name(files) == {"web": ["line 3", "line 4", "line 5"]}


def test_reads_every_page_of_a_long_stream(stack):
    # moto answers at most 10,000 events per GetLogEvents call: more needs paging with the forward token.
    client = setup_client("logs")
    group = settings.get().log_group
    client.create_log_stream(logGroupName=group, logStreamName="l0/web/5a6b7c8d9e")
    base = _at("10:00")
    for batch in range(3):
        client.put_log_events(
            logGroupName=group,
            logStreamName="l0/web/5a6b7c8d9e",
            logEvents=[{"timestamp": base + batch * 5000 + n, "message": str(batch * 5000 + n)} for n in range(5000)],
        )

    lines = _by_name(logs.for_tasks([NEW_ARN]))["web"]

    assert lines == [str(n) for n in range(15000)]
    assert _by_name(logs.for_tasks([NEW_ARN], tail=12000))["web"] == [str(n) for n in range(3000, 15000)]


def test_pages_through_log_streams(stack):
    # DescribeLogStreams answers 50 streams per page: the task's stream is beyond the first page.
    for n in range(60):
        _write(f"l0/web/other-{n}", [("09:00", "x")])
    _write("l0/web/5a6b7c8d9e", [("08:00", "mine")])

    assert _by_name(logs.for_tasks([NEW_ARN])) == {"web": ["mine"]}


def test_missing_log_group_means_no_logs(stack):
    setup_client("logs").delete_log_group(logGroupName=settings.get().log_group)

    assert logs.for_tasks([NEW_ARN]) == []


def test_parse_tail():
    assert logs.parse_tail(None) == 0
    assert logs.parse_tail("") == 0
    assert logs.parse_tail("25") == 25
    with pytest.raises(Layer0Error) as raised:
        logs.parse_tail("ten")
    assert (raised.value.code, raised.value.status) == (ErrorCode.InvalidJSON, 400)


def test_parse_time():
    assert logs.parse_time(None, "start") is None
    assert logs.parse_time("", "start") is None
    assert logs.parse_time("2001-01-01 01:01", "start") == dt.datetime(2001, 1, 1, 1, 1, tzinfo=dt.timezone.utc)
    with pytest.raises(Layer0Error) as raised:
        logs.parse_time("yesterday", "end")
    assert (raised.value.code, raised.value.status) == (ErrorCode.InvalidJSON, 400)
    assert raised.value.message == "Invalid time for 'end': must be in format YYYY-MM-DD HH:MM"
