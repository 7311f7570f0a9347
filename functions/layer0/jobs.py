"""Jobs (docs/compatibility.md#jobs; docs/architecture.md#the-job-path): a row in the job table plus one Step Functions
execution named by the job id.

The API writes the row (pending) and starts the execution of the job type's state machine; the machine sets the
job in progress, completed or error itself (the steps of layer0.workflows.frame).
`task_id` is the job id, so `l0 job logs <id>` reads `GET /task/<job id>/logs`: the execution history.
"""

from __future__ import annotations

import datetime as _dt
import json
import time

from botocore.exceptions import ClientError

from layer0 import aws, ids, settings
from layer0.contract import JobStatus, JobType
from layer0.errors import ErrorCode, Layer0Error, aws_error_code
from layer0.models import Job, LogFile, Tag, rfc3339
from layer0.stores import jobs as job_store
from layer0.stores import tags as tag_store

# A job's row and its tags expire (DynamoDB TTL) TTL_SECONDS after the job ended: the step that marks it completed
# or error sets that, as does a read that finds its execution ended unmarked. Until then they expire only after
# LONGEST_JOB_SECONDS more, past any machine's TimeoutSeconds (a test holds every machine to it), so a running job
# keeps its row and one whose end nobody recorded still goes (docs/compatibility.md#jobs).
TTL_SECONDS = 6 * 3600
LONGEST_JOB_SECONDS = 26 * 3600
_ENDED = (JobStatus.Completed, JobStatus.Error)


def state_machine_arn(job_type: JobType | int) -> str:
    prefix = settings.get().job_state_machine_prefix
    if not prefix:
        raise Layer0Error(ErrorCode.UnexpectedError, "LAYER0_JOB_STATE_MACHINE_PREFIX is not set")
    return prefix + JobType(job_type).slug


def execution_arn(job: Job) -> str:
    """`arn:aws:states:<region>:<account>:execution:<machine name>:<job id>`."""
    return state_machine_arn(job.job_type).replace(":stateMachine:", ":execution:", 1) + ":" + job.job_id


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def create(job_type: JobType | int, request: str) -> Job:
    """Write the job (pending), tag it, and start its execution. On failure nothing is left behind."""
    job_type = JobType(job_type)
    job_id = ids.job_id()
    job = Job(
        job_id=job_id,
        task_id=job_id,
        job_status=int(JobStatus.Pending),
        job_type=int(job_type),
        request=request,
        time_created=rfc3339(_now()),
        time_to_exist=int(time.time()) + LONGEST_JOB_SECONDS + TTL_SECONDS,
        meta={},
    )
    machine = state_machine_arn(job_type)
    try:
        job_store.insert(job)
        tag_store.insert(Tag(entity_type="job", entity_id=job_id, key="task_id", value=job_id), job.time_to_exist)
        _start_execution(machine, job_id, json.dumps({"job_id": job_id, "request": request}))
    except BaseException as error:
        # A StartExecution whose every answer was lost may have started the job: then it is the answer.
        if not (aws.may_have_taken_effect(error) and _execution_exists(job)):
            _forget(job_id)
            raise
    return job


def _start_execution(machine: str, job_id: str, execution_input: str) -> None:
    """StartExecution named after the new job. A retry is answered with the running execution the earlier attempt
    started (same name and input); once that execution has ended, with ExecutionAlreadyExists: the job's
    execution started all the same, as the name is the job's own."""
    sfn = aws.client("stepfunctions")
    with aws.done_by_an_earlier_attempt("ExecutionAlreadyExists"):
        sfn.start_execution(stateMachineArn=machine, name=job_id, input=execution_input)


def _execution_exists(job: Job) -> bool:
    try:
        aws.client("stepfunctions").describe_execution(executionArn=execution_arn(job))
    except Exception:  # noqa: BLE001 - not there, or not known: the create fails and cleans up
        return False
    return True


def _forget(job_id: str) -> None:
    job_store.delete(job_id)
    for tag in tag_store.select_by_type_and_id("job", job_id):
        tag_store.delete("job", job_id, tag.key)


# Execution statuses after which the machine can no longer mark the job itself.
_ENDED_WITHOUT_MARK = ("FAILED", "TIMED_OUT", "ABORTED")


def get(job_id: str) -> Job:
    """The job. One still pending or in progress whose execution ended without marking it (stopped from outside,
    or past the machine's own timeout, where no Catch runs) is marked as error here, with the execution's reason."""
    job = job_store.get(job_id)
    if job.job_status not in (JobStatus.Pending, JobStatus.InProgress):
        return job
    return _corrected(job)


def _corrected(job: Job) -> Job:
    """A pending or in-progress job, marked as error if its execution has ended (one DescribeExecution)."""
    job_id = job.job_id
    try:
        described = aws.client("stepfunctions").describe_execution(executionArn=execution_arn(job))
    except ClientError as error:
        if aws_error_code(error) in ("ExecutionDoesNotExist", "StateMachineDoesNotExist"):
            return job
        raise
    if described.get("status") not in _ENDED_WITHOUT_MARK:
        return job
    # The row was read before the execution ended: its SetError step may have marked it since, with the step's own
    # reason, which the execution's generic one must not replace.
    current = job_store.get(job_id)
    if current.job_status not in (JobStatus.Pending, JobStatus.InProgress):
        return current
    # e.g. "ExecutionTimedOut" when Step Functions gives no error of its own.
    ended = "Execution" + described["status"].title().replace("_", "")
    reason = describe_error(described.get("error") or ended, described.get("cause"))
    job_store.set_meta(job_id, {**job.meta, "error": reason})
    expires = _mark(job_id, JobStatus.Error)
    return job.model_copy(
        update={"job_status": int(JobStatus.Error), "meta": {**job.meta, "error": reason}, "time_to_exist": expires}
    )


def list_all() -> list[Job]:
    """Every job; those still pending or in progress are read as `get` reads them, so one whose execution ended
    unmarked shows as error here too. Ended jobs cost no call to Step Functions."""
    listed = []
    for job in job_store.list_all():
        if job.job_status in (JobStatus.Pending, JobStatus.InProgress):
            try:
                job = _corrected(job)
            except Layer0Error as error:
                if error.code == ErrorCode.JobDoesNotExist:
                    continue  # deleted since the scan read it
                raise
        listed.append(job)
    return listed


def delete(job_id: str) -> None:
    """Stop the job's execution if it still runs, then delete the row and the job's tags
    (docs/compatibility.md#jobs)."""
    job = job_store.get(job_id)
    sfn = aws.client("stepfunctions")
    try:
        sfn.stop_execution(executionArn=execution_arn(job), error="Layer0.JobDeleted", cause="DELETE /job/" + job_id)
    except ClientError as error:
        # Never started (or already purged); a finished execution is not an error to StopExecution.
        if aws_error_code(error) not in ("ExecutionDoesNotExist", "StateMachineDoesNotExist"):
            raise
    _forget(job_id)


def _mark(job_id: str, status: JobStatus) -> int | None:
    """Write the status; an ended job's row gets its expiry, which is returned."""
    expires = int(time.time()) + TTL_SECONDS if status in _ENDED else None
    job_store.set_status(job_id, int(status), expires)
    if expires is not None:
        # The job's tags (its task id, a create-task job's run attempts) go with its row.
        tag_store.set_expiry("job", job_id, expires)
    return expires


def set_status(job_id: str, status: JobStatus | int) -> None:
    _mark(job_id, JobStatus(status))


def set_error(job_id: str, error: str, cause: str) -> str:
    """Status error, with the reason kept in `meta.error`. Returns that reason."""
    reason = describe_error(error, cause)
    job = job_store.get(job_id)
    job_store.set_meta(job_id, {**job.meta, "error": reason})
    _mark(job_id, JobStatus.Error)
    return reason


def describe_error(error: str | None, cause: str | None) -> str:
    """`<error>: <message>` from a Catch's Error and Cause (for a Lambda error, Cause is its JSON report)."""
    message = cause or ""
    try:
        parsed = json.loads(message)
    except (TypeError, ValueError):
        parsed = None
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        message = str(parsed["errorMessage"])
    error = error or "Error"
    return f"{error}: {message}" if message else error


# ----------------------------------------------------------------------------------------------------------------
# Logs: the execution history as log lines
# ----------------------------------------------------------------------------------------------------------------


def _details(event: dict) -> dict:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


def _line(event: dict) -> str:
    stamp = event["timestamp"]
    if isinstance(stamp, _dt.datetime):
        stamp = stamp.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    parts = [str(stamp), event.get("type", "")]
    details = _details(event)
    if details.get("name"):
        parts.append(details["name"])
    if event.get("type") == "TaskScheduled":
        try:
            step = json.loads(details.get("parameters") or "{}").get("Payload", {}).get("step")
        except (TypeError, ValueError, AttributeError):
            step = None
        if step:
            parts.append(step)
    if details.get("error") or details.get("cause"):
        parts.append(describe_error(details.get("error"), details.get("cause")))
    return " ".join(parts)


def _history(execution: str) -> list[dict]:
    pages = aws.client("stepfunctions").get_paginator("get_execution_history").paginate(executionArn=execution)
    return [event for page in pages for event in page["events"]]


def logs(
    job_id: str, tail: int = 0, start: _dt.datetime | None = None, end: _dt.datetime | None = None
) -> list[LogFile]:
    """The job's execution history as one LogFile named after its state machine.

    An unknown job is `TaskDoesNotExist` (404/29): the caller asked for the logs of task `job_id`.
    """
    try:
        job = job_store.get(job_id)
    except Layer0Error as error:
        if error.code != ErrorCode.JobDoesNotExist:
            raise
        raise Layer0Error(ErrorCode.TaskDoesNotExist, f"Task with id '{job_id}' does not exist") from None
    execution = execution_arn(job)
    try:
        events = _history(execution)
    except ClientError as error:
        if aws_error_code(error) != "ExecutionDoesNotExist":
            raise
        events = []
    selected = []
    for event in events:
        stamp = event.get("timestamp")
        if isinstance(stamp, _dt.datetime):
            if start is not None and stamp < start:
                continue
            if end is not None and stamp > end:
                continue
        selected.append(_line(event))
    if tail > 0:
        selected = selected[-tail:]
    machine_name = state_machine_arn(job.job_type).rsplit(":", 1)[-1]
    return [LogFile(name=machine_name, lines=selected)]
