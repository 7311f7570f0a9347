"""Tasks (docs/compatibility.md#tasks): one ECS RunTask of a deploy in an environment, started by a create-task job
(type 5).

A task `<id>` exists for Layer0 through its tags (entity type `task`): `name`, `environment_id`, `deploy_id` and
`arn`, the ECS task's ARN. Task tags expire after 6 hours (the tag store sets their TTL). A task is listed from its
row in the read model (keyed by its ARN; ECS events keep its state): a finished one for `task_retention_hours`, then
the row expires. Deleting the environment deletes the rows and tags of all its tasks
(layer0.workflows.delete_environment).

Unlike the original, `POST /task` checks its input before it creates the job (missing fields 400/19, unknown
environment 404/24, unknown deploy 404/23), so bad input makes no job. The job's one step
(layer0.workflows.create_task) starts the task;
while the environment has no room for it, the step raises `Retryable` and the state machine tries again while
the scaler adds instances (it counts pending create-task jobs as consumers, docs/compatibility.md#scaler).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time

from botocore.exceptions import ClientError

from layer0 import aws, capacity, environments, ids, jobs, scaler, settings
from layer0 import logs as log_lookup
from layer0.errors import ErrorCode, Layer0Error, aws_error_code, missing_parameter
from layer0.models import CreateTaskRequest, Job, LogFile, Task, TaskCopy, TaskDetail, TaskSummary
from layer0.stores import rows as row_store
from layer0.stores import tags as tag_store

logger = logging.getLogger(__name__)

ENTITY_TYPE = "task"
# Its rows in the read model (layer0.stores.rows), keyed by the ECS task ARN that ECS events carry.
ROW_KIND = "task"
STOP_REASON = "Task deleted by user"
_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]")


def not_found(task_id: str) -> Layer0Error:
    return Layer0Error(ErrorCode.TaskDoesNotExist, f"Task with id '{task_id}' does not exist")


def _cluster(environment_id: str) -> str:
    return ids.aws_name(environment_id)


def tag_values(task_id: str) -> dict[str, str]:
    return {tag.key: tag.value for tag in tag_store.select_by_type_and_id(ENTITY_TYPE, task_id)}


def _environment_names() -> dict[str, str]:
    return {tag.entity_id: tag.value for tag in tag_store.select_by_type("environment") if tag.key == "name"}


def task_id_for(task_name: str, job_id: str) -> str:
    """The id of the task a job starts: `ids.hashed`'s shape (up to 7 alphanumerics of the name, then hex, 12
    characters), hashed from the job id instead of the clock, so that a rerun of the job's step finds its task."""
    kept = _NOT_ALPHANUMERIC.sub("", task_name)[: ids.MAX_ID_LENGTH - ids.MIN_ID_HASH_LENGTH]
    return kept + hashlib.md5(job_id.encode()).hexdigest()[: ids.MAX_ID_LENGTH - len(kept)]


# --- checks -----------------------------------------------------------------------------------------------------


def _require_environment(environment_id: str) -> None:
    if not environments.cluster_active(environment_id):
        raise environments.not_found(environment_id)


def _validate(request: CreateTaskRequest) -> None:
    for name in ("task_name", "environment_id", "deploy_id"):
        if not getattr(request, name).strip():
            raise missing_parameter(name)
    _require_environment(request.environment_id)
    # On Fargate, the deploy's Fargate variant: registered now, so that a deploy Fargate cannot run is a 400 here.
    _name, definition = capacity.task_definition(capacity.placement(request.environment_id), request.deploy_id)
    containers = sorted(container["name"] for container in definition.get("containerDefinitions", []))
    for override in request.container_overrides:
        if override.container_name not in containers:
            # RunTask would refuse it later, inside the job; say so now.
            raise Layer0Error(
                ErrorCode.InvalidJSON,
                f"Container override for '{override.container_name}': deploy '{request.deploy_id}' has no such "
                f"container (it has {', '.join(containers) or 'none'})",
            )


# --- create (POST /task, then the job's step) -------------------------------------------------------------------


def start_create(request: CreateTaskRequest) -> Job:
    """Check the request, start the create-task job (type 5, its request the request's JSON), and ask the scaler
    to look at the environment (debounced), which counts the job as a consumer until its task starts."""
    _validate(request)
    job = jobs.create(jobs.JobType.CreateTask, request.model_dump_json())
    scaler.request_run_soon(request.environment_id)
    return job


# --- read and delete ----------------------------------------------------------------------------------------------


def list_all() -> list[TaskSummary]:
    """The read model's task rows: one Query (docs/architecture.md#the-read-model). A running task is listed, and a
    finished one for `task_retention_hours` after it stopped (docs/compatibility.md#tasks)."""
    summaries = [
        TaskSummary(**{field: fields.get(field, "") for field in TaskSummary.model_fields})
        for fields in row_store.listed(ROW_KIND)
        if fields.get("task_id")
    ]
    return sorted(summaries, key=lambda summary: summary.task_id)


def _containers(task: dict) -> list[dict]:
    return [
        {
            "container_name": container.get("name", ""),
            "exit_code": container.get("exitCode") or 0,
            "last_status": container.get("lastStatus", ""),
            "reason": container.get("reason", ""),
        }
        for container in task.get("containers", [])
    ]


def _epoch(value) -> float | None:
    """ECS times: datetimes from boto3, ISO strings in events."""
    if value is None or value == "":
        return None
    if hasattr(value, "timestamp"):
        return value.timestamp()
    from datetime import datetime

    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def state_fields(task: dict) -> tuple[dict, int, int | None]:
    """(the row's fields from an ECS task's state, its ECS version, its expiry): a STOPPED task's row expires
    `task_retention_hours` after it stopped."""
    status = task.get("lastStatus", "")
    fields = {
        "last_status": status,
        "stopped_reason": task.get("stoppedReason", ""),
        "containers": _containers(task),
        "task_definition_arn": task.get("taskDefinitionArn", ""),
    }
    expires_at = None
    if status == "STOPPED":
        stopped = _epoch(task.get("stoppedAt")) or time.time()
        expires_at = int(stopped + settings.get().task_retention_hours * 3600)
    return fields, int(task.get("version") or 0), expires_at


WRITE_ROW_ATTEMPTS = 10


def write_row(task_id: str, name: str, environment_id: str, deploy_id: str, arn: str) -> None:
    """The task's row, as its create-task job started it. An ECS event may have come first and left the task's
    state there: it is kept."""
    identity = {
        "task_id": task_id,
        "task_name": name,
        "environment_id": environment_id,
        "environment_name": _environment_name(environment_id),
        "deploy_id": deploy_id,
    }
    # An event that lands between the read and the write changes the row, and the write (conditional on the row as
    # read) fails: read again and add the identity to what it wrote (a task in a managed environment changes state
    # several times in its first seconds: PROVISIONING, PENDING, RUNNING).
    for _attempt in range(WRITE_ROW_ATTEMPTS):
        existing = row_store.get(ROW_KIND, arn)
        if existing is None:
            fields, version, expires_at = state_fields({"taskArn": arn, "lastStatus": "PENDING"})
        else:
            fields, version, expires_at = existing.fields, existing.version, existing.expires_at
        if row_store.put_if_unchanged(
            row_store.Row(ROW_KIND, arn, {**fields, **identity}, version, expires_at), existing
        ):
            return
    raise RuntimeError(f"Task {task_id}: its row kept changing while its identity was written")


def apply_state(task: dict) -> bool:
    """Update a task's row from the ECS task's state (an ECS event's detail, or a DescribeTasks answer), unless
    the row's `version` is newer: a duplicate or out-of-order event changes nothing. Only Layer0's tasks (started
    by `l0-<prefix>-`) have rows; one whose job has not written its row yet gets the state alone, unlisted until
    the job adds its id and name. True if written."""
    arn = task.get("taskArn", "")
    fields, version, expires_at = state_fields(task)
    # The write is conditional on the row as read: the job's identity (`write_row`) or another event landing in
    # between is merged on the next attempt, never overwritten.
    for _attempt in range(WRITE_ROW_ATTEMPTS):
        row = row_store.get(ROW_KIND, arn)
        if row is None and task.get("startedBy") != settings.get().aws_name_prefix:
            return False
        if row is not None and version < row.version:
            return False
        merged = row_store.Row(ROW_KIND, arn, {**(row.fields if row else {}), **fields}, version, expires_at)
        if row_store.put_if_unchanged(merged, row):
            return True
    raise RuntimeError(f"Task {arn}: its row kept changing while its state was written")


FORGOTTEN_REASON = "ECS no longer knows this task"


def reconcile_rows() -> dict:
    """Bring the rows of unfinished tasks up to date with ECS (the hourly reconcile, for events that never came):
    DescribeTasks, 100 a call per environment. A task ECS no longer knows, or whose cluster is gone, is finished:
    it stays listed for the retention period, then expires. A task with tags and no row (started before the read
    model existed) gets its row while ECS knows it."""
    prefix = settings.get().aws_name_prefix
    rows = row_store.select(ROW_KIND)
    unfinished: dict[str, list[row_store.Row]] = {}
    for row in rows:
        if row.fields.get("last_status") != "STOPPED":
            unfinished.setdefault(row.fields.get("environment_id", ""), []).append(row)
    by_task: dict[str, dict[str, str]] = {}
    for tag in tag_store.select_by_type(ENTITY_TYPE):
        by_task.setdefault(tag.entity_id, {})[tag.key] = tag.value
    with_rows = {row.entity_id for row in rows}
    unrecorded: dict[str, dict[str, tuple[str, dict[str, str]]]] = {}  # environment -> ARN -> (task id, tags)
    for task_id, values in by_task.items():
        if values.get("arn") and values.get("environment_id") and values["arn"] not in with_rows:
            unrecorded.setdefault(values["environment_id"], {})[values["arn"]] = (task_id, values)
    ecs = aws.client("ecs")
    report = {"updated": 0, "finished": 0, "recorded": 0}
    for environment_id in sorted(set(unfinished) | set(unrecorded)):
        batch_rows = {row.entity_id: row for row in unfinished.get(environment_id, [])}
        arns = [*batch_rows, *unrecorded.get(environment_id, {})]
        known: dict[str, dict] = {}
        for start in range(0, len(arns), 100):
            try:
                described = ecs.describe_tasks(cluster=_cluster(environment_id), tasks=arns[start : start + 100])
            except ClientError as error:
                if aws_error_code(error) not in ("ClusterNotFoundException", "InvalidParameterException"):
                    raise
                described = {"tasks": []}
            known.update({task["taskArn"]: task for task in described.get("tasks", [])})
        for arn, (task_id, values) in unrecorded.get(environment_id, {}).items():
            if arn in known:
                write_row(task_id, values.get("name", ""), environment_id, values.get("deploy_id", ""), arn)
                report["recorded"] += apply_state({**known[arn], "startedBy": prefix})
        for arn, row in batch_rows.items():
            if arn in known:
                report["updated"] += apply_state({**known[arn], "startedBy": prefix})
                continue
            fields, _version, expires_at = state_fields(
                {"taskArn": arn, "lastStatus": "STOPPED", "stoppedReason": FORGOTTEN_REASON}
            )
            fields["containers"] = row.fields.get("containers", [])
            report["finished"] += row_store.put(
                row_store.Row(ROW_KIND, arn, {**row.fields, **fields}, row.version, expires_at)
            )
    return report


def _environment_name(environment_id: str) -> str:
    values = {t.key: t.value for t in tag_store.select_by_type_and_id("environment", environment_id)}
    return values.get("name", "")


def _described(cluster: str, arn: str) -> dict | None:
    ecs = aws.client("ecs")
    try:
        described = ecs.describe_tasks(cluster=cluster, tasks=[arn])
    except ClientError as error:
        if aws_error_code(error) in ("ClusterNotFoundException", "InvalidParameterException"):
            return None
        raise
    return described["tasks"][0] if described.get("tasks") else None  # failures: reason MISSING


def _details(task: dict) -> list[TaskDetail]:
    return [
        TaskDetail(
            container_name=container.get("name", ""),
            exit_code=container.get("exitCode") or 0,
            last_status=container.get("lastStatus", ""),
            reason=container.get("reason", ""),
        )
        for container in task.get("containers", [])
    ]


def get(task_id: str) -> Task:
    values = tag_values(task_id)
    if not values.get("arn"):
        raise not_found(task_id)
    environment_id = values.get("environment_id", "")
    task = _described(_cluster(environment_id), values["arn"])
    if task is None:
        # ECS forgets a stopped task within about an hour; its row keeps its exit codes for the retention period.
        row = row_store.get(ROW_KIND, values["arn"])
        if row is None:
            raise not_found(task_id)
        task = _from_row(row)
    deploy_id = values.get("deploy_id") or ids.deploy_id(task.get("taskDefinitionArn", ""))
    deploy_name, _, deploy_version = deploy_id.partition(".")
    status = task.get("lastStatus", "")
    return Task(
        copies=[TaskCopy(details=_details(task), reason=task.get("stoppedReason", ""), task_copy_id=task["taskArn"])],
        deploy_id=deploy_id,
        deploy_name=deploy_name,
        deploy_version=deploy_version,
        environment_id=environment_id,
        environment_name=_environment_names().get(environment_id, ""),
        pending_count=int(status == "PENDING"),
        running_count=int(status == "RUNNING"),
        task_id=task_id,
        task_name=values.get("name", ""),
    )


def _from_row(row: row_store.Row) -> dict:
    """An ECS task description, as far as the row remembers it."""
    return {
        "taskArn": row.entity_id,
        "lastStatus": row.fields.get("last_status", ""),
        "stoppedReason": row.fields.get("stopped_reason", ""),
        "taskDefinitionArn": row.fields.get("task_definition_arn", ""),
        "containers": [
            {
                "name": container["container_name"],
                "exitCode": container["exit_code"],
                "lastStatus": container["last_status"],
                "reason": container["reason"],
            }
            for container in row.fields.get("containers", [])
        ],
    }


def stop(environment_id: str, arn: str, reason: str = STOP_REASON) -> bool:
    """StopTask; a task or cluster ECS no longer knows is already stopped (False)."""
    try:
        aws.client("ecs").stop_task(cluster=_cluster(environment_id), task=arn, reason=reason)
    except ClientError as error:
        if aws_error_code(error) not in ("InvalidParameterException", "ClusterNotFoundException"):
            raise
        return False
    return True


def delete(task_id: str) -> None:
    """Synchronous (docs/compatibility.md#tasks): stop the ECS task, then delete the task's tags."""
    values = tag_values(task_id)
    if not values:
        raise not_found(task_id)
    arn, environment_id = values.get("arn"), values.get("environment_id", "")
    # Only a task ECS still knows and has not stopped: StopTask on a forgotten one is an error.
    task = _described(_cluster(environment_id), arn) if arn else None
    if task is not None and task.get("desiredStatus") != "STOPPED":
        stop(environment_id, task["taskArn"])
    if arn:
        row_store.delete(ROW_KIND, arn)
    tag_store.delete_entity(ENTITY_TYPE, task_id)


def forget_environment(environment_id: str) -> list[str]:
    """Delete the records (rows and tags) of every task of the environment, running or long finished: the
    environment's delete does this last, so that no task outlives it in `GET /task`. Returns their ids."""
    for row in row_store.select(ROW_KIND):
        if row.fields.get("environment_id") == environment_id:
            row_store.delete(ROW_KIND, row.entity_id)
    forgotten = sorted(
        {
            tag.entity_id
            for tag in tag_store.select_by_type(ENTITY_TYPE)
            if tag.key == "environment_id" and tag.value == environment_id
        }
    )
    for task_id in forgotten:
        tag_store.delete_entity(ENTITY_TYPE, task_id)
    return forgotten


def forget_arn(arn: str) -> None:
    """Delete the records of the task whose ECS task this is (the environment's delete stops it)."""
    row_store.delete(ROW_KIND, arn)
    for tag in tag_store.select_by_type(ENTITY_TYPE):
        if tag.key == "arn" and tag.value == arn:
            tag_store.delete_entity(ENTITY_TYPE, tag.entity_id)


def logs(task_id: str, tail: int = 0, start=None, end=None) -> list[LogFile]:
    """The task's container logs (docs/compatibility.md#logs); 404/29 for a task without tags."""
    values = tag_values(task_id)
    if not values.get("arn"):
        raise not_found(task_id)
    return log_lookup.for_tasks([values["arn"]], tail=tail, start=start, end=end)
