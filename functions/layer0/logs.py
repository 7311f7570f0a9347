"""Logs of ECS tasks from CloudWatch Logs (docs/compatibility.md#logs), for `GET /task/{id}/logs` and `GET
/service/{id}/logs`.

Every deploy container logs with the awslogs driver to the Layer0 log group, stream prefix `l0`, so a container's
stream is `l0/<container name>/<ECS task id>`. The original took the task id from ARN part [1], which breaks on the
new ARN format `task/<cluster>/<id>`; the last segment works for both
(docs/compatibility.md#differences-on-purpose-and-why).
"""

from __future__ import annotations

import datetime as _dt

from botocore.exceptions import ClientError

from layer0 import aws, settings
from layer0.errors import ErrorCode, Layer0Error, aws_error_code
from layer0.models import LogFile

TIME_FORMAT = "%Y-%m-%d %H:%M"
# The original stops listing streams once it has this many (docs/operations.md#function-settings): the newest ones, by
# last event time.
MAX_STREAMS = 1000
# GetLogEvents answers at most this many events per call.
MAX_EVENTS_PER_CALL = 10000


def parse_tail(value: str | None) -> int:
    """The `tail` query parameter: an integer, empty means everything (≤ 0 too)."""
    if value is None or value.strip() == "":
        return 0
    try:
        return int(value.strip())
    except ValueError:
        raise Layer0Error(ErrorCode.InvalidJSON, f"Invalid value for 'tail': {value!r} is not an integer") from None


def parse_time(value: str | None, name: str) -> _dt.datetime | None:
    """`YYYY-MM-DD HH:MM`, as UTC (docs/compatibility.md#logs); empty means no bound. A bad value is the caller's fault:
    400, code 1."""
    if value is None or value.strip() == "":
        return None
    try:
        return _dt.datetime.strptime(value.strip(), TIME_FORMAT).replace(tzinfo=_dt.UTC)
    except ValueError:
        raise Layer0Error(
            ErrorCode.InvalidJSON, f"Invalid time for '{name}': must be in format YYYY-MM-DD HH:MM"
        ) from None


def task_id_of(task_arn: str) -> str:
    """The ECS task id: the last `/` segment of `arn:...:task/<id>` and of `arn:...:task/<cluster>/<id>`."""
    return task_arn.rsplit("/", 1)[-1]


def _epoch_ms(moment: _dt.datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.UTC)
    return int(moment.timestamp() * 1000)


def _streams(group: str) -> list[str]:
    """Names of the group's newest streams (by last event), at most about MAX_STREAMS."""
    client = aws.client("logs")
    names: list[str] = []
    kwargs: dict = {"logGroupName": group, "orderBy": "LastEventTime", "descending": True}
    while True:
        page = client.describe_log_streams(**kwargs)
        names.extend(stream["logStreamName"] for stream in page.get("logStreams", []))
        token = page.get("nextToken")
        if len(names) >= MAX_STREAMS or not token or token == kwargs.get("nextToken"):
            return names
        kwargs["nextToken"] = token


def _bounds(start: _dt.datetime | None, end: _dt.datetime | None) -> dict:
    bounds = {}
    if start is not None:
        bounds["startTime"] = _epoch_ms(start)
    if end is not None:
        bounds["endTime"] = _epoch_ms(end)
    return bounds


def _messages(group: str, stream: str, tail: int, bounds: dict) -> list[str]:
    """The stream's messages, oldest first. With tail > 0, only the last `tail`, read backwards from the end.

    Paging stops when the token comes back unchanged: that is how GetLogEvents says "no more".
    """
    client = aws.client("logs")
    kwargs = {"logGroupName": group, "logStreamName": stream, **bounds}
    if tail > 0:
        kwargs["startFromHead"] = False
        pages: list[list[str]] = []
        count = 0
        while count < tail:
            kwargs["limit"] = min(tail - count, MAX_EVENTS_PER_CALL)
            page = client.get_log_events(**kwargs)
            lines = [event["message"] for event in page.get("events", [])]
            pages.insert(0, lines)
            count += len(lines)
            token = page.get("nextBackwardToken")
            if not lines or not token or token == kwargs.get("nextToken"):
                break
            kwargs["nextToken"] = token
        return [line for lines in pages for line in lines][-tail:]
    kwargs["startFromHead"] = True
    messages: list[str] = []
    while True:
        page = client.get_log_events(**kwargs)
        messages.extend(event["message"] for event in page.get("events", []))
        token = page.get("nextForwardToken")
        if not token or token == kwargs.get("nextToken"):
            return messages
        kwargs["nextToken"] = token


def for_tasks(
    task_arns: list[str],
    tail: int = 0,
    start: _dt.datetime | None = None,
    end: _dt.datetime | None = None,
) -> list[LogFile]:
    """One LogFile per container stream of these tasks (docs/compatibility.md#logs), named after the container."""
    catalog = {task_id_of(arn) for arn in task_arns if arn}
    if not catalog:
        return []
    group = settings.get().log_group
    try:
        streams = _streams(group)
    except ClientError as error:
        if aws_error_code(error) == "ResourceNotFoundException":
            return []  # no log group (yet): no logs, not a server error
        raise
    bounds = _bounds(start, end)
    files = []
    for stream in streams:
        parts = stream.split("/")
        if len(parts) != 3 or parts[2] not in catalog:
            continue
        try:
            lines = _messages(group, stream, tail, bounds)
        except ClientError as error:
            if aws_error_code(error) == "ResourceNotFoundException":
                continue  # the stream went away between listing and reading
            raise
        files.append(LogFile(name=parts[1], lines=lines))
    return files
