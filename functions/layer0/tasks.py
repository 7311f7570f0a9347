"""Tasks (SPEC §3.5): one ECS RunTask of a deploy in an environment, started by a create-task job (type 5).

A task `<id>` exists for Layer0 through its tags (entity type `task`): `name`, `environment_id`, `deploy_id` and
`arn`, the ECS task's ARN. Task tags expire after 6 hours (the tag store sets their TTL), and ECS forgets stopped
tasks after about an hour: a task is listed only while both remain.

Unlike the original, `POST /task` checks its input before it creates the job (missing fields 400/19, unknown
environment 404/24, unknown deploy 404/23), so bad input makes no job. The job's one step, `run`, starts the task;
while the environment has no room for it, the step raises `Retryable` and the state machine tries again while
the scaler adds instances (it counts pending create-task jobs as consumers, SPEC §3.8).
"""

from __future__ import annotations

import hashlib
import logging
import re

from botocore.exceptions import ClientError

from layer0 import aws, deploys, environments, ids, jobs, scaler, settings
from layer0 import logs as log_lookup
from layer0.errors import ErrorCode, Layer0Error, Retryable, missing_parameter
from layer0.models import CreateTaskRequest, Job, LogFile, Tag, Task, TaskCopy, TaskDetail, TaskSummary
from layer0.stores import jobs as job_store
from layer0.stores import tags as tag_store

logger = logging.getLogger(__name__)

ENTITY_TYPE = "task"
STOP_REASON = "Task deleted by user"
# RunTask failure reasons that mean "no container instance has room (yet)": the scaler can fix these.
CAPACITY_REASON_PREFIX = "RESOURCE:"
_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]")


class TaskNotStarted(Exception):
    """ECS refused to start the task for a reason more instances would not fix. Fails the job."""


def not_found(task_id: str) -> Layer0Error:
    return Layer0Error(ErrorCode.TaskDoesNotExist, f"Task with id '{task_id}' does not exist")


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def _message(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Message", "")


def _cluster(environment_id: str) -> str:
    return ids.aws_name(environment_id)


def _tags(task_id: str) -> dict[str, str]:
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
    clusters = aws.client("ecs").describe_clusters(clusters=[_cluster(environment_id)])["clusters"]
    if not any(cluster.get("status") == "ACTIVE" for cluster in clusters):
        raise environments.not_found(environment_id)


def _task_definition(deploy_id: str) -> dict:
    """The deploy's task definition; 404/23 when there is none, or when it was deleted: ECS runs no new task of an
    INACTIVE task definition."""
    definition = deploys.task_definition(deploy_id)
    if definition.get("status") == "INACTIVE":
        raise deploys.not_found(deploy_id)
    return definition


def _validate(request: CreateTaskRequest) -> None:
    for name in ("task_name", "environment_id", "deploy_id"):
        if not getattr(request, name).strip():
            raise missing_parameter(name)
    _require_environment(request.environment_id)
    definition = _task_definition(request.deploy_id)
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
    _request_scaler_run(request.environment_id)
    return job


def _request_scaler_run(environment_id: str) -> None:
    # The scaler also runs hourly: a failure to schedule an early run delays the task, it does not fail it.
    try:
        scaler.request_run(environment_id)
    except Exception:  # noqa: BLE001
        logger.exception("Could not schedule a scaler run for environment %s", environment_id)


def _overrides(request: CreateTaskRequest) -> dict:
    return {
        "containerOverrides": [
            {
                "name": override.container_name,
                "environment": [{"name": key, "value": value} for key, value in override.environment_overrides.items()],
            }
            for override in request.container_overrides
        ]
    }


def _has_container_instances(cluster: str) -> bool:
    """Whether the cluster has an active container instance; a cluster that is gone fails the job."""
    ecs = aws.client("ecs")
    try:
        if ecs.list_container_instances(cluster=cluster, status="ACTIVE", maxResults=1)["containerInstanceArns"]:
            return True
        active = any(c.get("status") == "ACTIVE" for c in ecs.describe_clusters(clusters=[cluster])["clusters"])
    except ecs.exceptions.ClusterNotFoundException:
        active = False
    if not active:
        raise TaskNotStarted(f"Failed to start task: cluster {cluster} does not exist")
    return False


def _no_room(request: CreateTaskRequest, reason: str) -> Retryable:
    _request_scaler_run(request.environment_id)
    return Retryable(f"Failed to start task: {reason}")


# A job tag counting the job's RunTask calls that placed nothing: each call's client token is `<job id>-<count>`.
RUN_ATTEMPT_KEY = "run_attempt"


def _run_attempt(job_id: str) -> int:
    for tag in tag_store.select_by_type_and_id("job", job_id):
        if tag.key == RUN_ATTEMPT_KEY and tag.value.isdigit():
            return int(tag.value)
    return 0


def _placed_nothing(job_id: str, attempt: int) -> None:
    tag_store.insert(Tag(entity_type="job", entity_id=job_id, key=RUN_ATTEMPT_KEY, value=str(attempt + 1)))


def _run_task(job_id: str, request: CreateTaskRequest) -> str:
    """RunTask, once per job; returns the task's ARN.

    The client token makes a repeat of a call that started the task (the step failed before it tagged the task)
    answer with that task instead of starting another. A call that placed nothing moves the job to a new token,
    so that the next attempt is a new request, not the repeat of a failed one.
    """
    cluster = _cluster(request.environment_id)
    if not _has_container_instances(cluster):
        raise _no_room(request, f"RESOURCE:INSTANCES (environment '{request.environment_id}' has no instances yet)")
    ecs = aws.client("ecs")
    attempt = _run_attempt(job_id)
    try:
        response = ecs.run_task(
            cluster=cluster,
            taskDefinition=ids.task_definition(request.deploy_id),
            count=1,
            startedBy=settings.get().aws_name_prefix,
            placementStrategy=[{"type": "binpack", "field": "memory"}],
            overrides=_overrides(request),
            clientToken=f"{job_id}-{attempt}",
        )
    except ClientError as error:
        if "No Container Instances were found" in _message(error):
            raise _no_room(request, "RESOURCE:INSTANCES (no container instances)") from None
        if _code(error) in ("InvalidParameterException", "ClientException", "ClusterNotFoundException"):
            raise TaskNotStarted(f"Failed to start task: {_message(error)}") from None
        raise
    started = response.get("tasks", [])
    if started:
        return started[0]["taskArn"]
    _placed_nothing(job_id, attempt)
    reasons = [failure.get("reason", "") for failure in response.get("failures", [])]
    if reasons and not all(reason.startswith(CAPACITY_REASON_PREFIX) for reason in reasons):
        raise TaskNotStarted("Failed to start task: " + ", ".join(reasons))
    # Failures RESOURCE:*, or (moto) no task and no failure: no instance has room.
    raise _no_room(request, ", ".join(reasons) or "RESOURCE:MEMORY (no container instance has room)")


def _tag(task_id: str, request: CreateTaskRequest, arn: str) -> None:
    # `arn` first: once it is there, a rerun knows the task was started.
    values = {
        "arn": arn,
        "name": request.task_name,
        "environment_id": request.environment_id,
        "deploy_id": request.deploy_id,
    }
    for key, value in values.items():
        tag_store.insert(Tag(entity_type=ENTITY_TYPE, entity_id=task_id, key=key, value=value))


def run(job_id: str, request: str) -> dict:
    """The create-task job's step: start the task, tag it, set the job's `meta.task_id`. Idempotent: a rerun
    finds the task by its tags (the task id comes from the job id) and starts no second one."""
    parsed = CreateTaskRequest.model_validate_json(request)
    task_id = task_id_for(parsed.task_name, job_id)
    arn = _tags(task_id).get("arn") or _run_task(job_id, parsed)
    _tag(task_id, parsed, arn)
    try:
        job = job_store.get(job_id)
        if job.meta.get("task_id") != task_id:
            job_store.set_meta(job_id, {**job.meta, "task_id": task_id})
    except Layer0Error as error:
        if error.code != ErrorCode.JobDoesNotExist:
            raise
        # The job was deleted while it ran; the task it started is a task like any other.
    return {"task_id": task_id, "task_arn": arn}


# --- read and delete ----------------------------------------------------------------------------------------------


def _listed_arns(cluster: str) -> set[str]:
    """ARNs of the cluster's Layer0 tasks ECS still knows: running, pending and recently stopped."""
    ecs = aws.client("ecs")
    found: set[str] = set()
    try:
        for status in ("RUNNING", "STOPPED"):
            for page in ecs.get_paginator("list_tasks").paginate(
                cluster=cluster, desiredStatus=status, startedBy=settings.get().aws_name_prefix
            ):
                found.update(page["taskArns"])
    except ecs.exceptions.ClusterNotFoundException:
        pass
    return found


def list_all() -> list[TaskSummary]:
    """Every tagged task that ECS still knows (SPEC §3.5). One tag query for the tasks, one for the environment
    names, and ListTasks only in the environments the tags name."""
    by_task: dict[str, dict[str, str]] = {}
    for tag in tag_store.select_by_type(ENTITY_TYPE):
        by_task.setdefault(tag.entity_id, {})[tag.key] = tag.value
    environment_ids = {values.get("environment_id") for values in by_task.values()} - {None, ""}
    listed: set[str] = set()
    for environment_id in sorted(environment_ids):
        listed |= _listed_arns(_cluster(environment_id))
    names = _environment_names() if by_task else {}
    return [
        TaskSummary(
            task_id=task_id,
            task_name=values.get("name", ""),
            environment_id=values.get("environment_id", ""),
            environment_name=names.get(values.get("environment_id", ""), ""),
        )
        for task_id, values in sorted(by_task.items())
        if values.get("arn") in listed
    ]


def _described(cluster: str, arn: str) -> dict | None:
    ecs = aws.client("ecs")
    try:
        described = ecs.describe_tasks(cluster=cluster, tasks=[arn])
    except ClientError as error:
        if _code(error) in ("ClusterNotFoundException", "InvalidParameterException"):
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
    values = _tags(task_id)
    if not values.get("arn"):
        raise not_found(task_id)
    environment_id = values.get("environment_id", "")
    task = _described(_cluster(environment_id), values["arn"])
    if task is None:
        raise not_found(task_id)
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


def stop(environment_id: str, arn: str, reason: str = STOP_REASON) -> bool:
    """StopTask; a task or cluster ECS no longer knows is already stopped (False)."""
    try:
        aws.client("ecs").stop_task(cluster=_cluster(environment_id), task=arn, reason=reason)
    except ClientError as error:
        if _code(error) not in ("InvalidParameterException", "ClusterNotFoundException"):
            raise
        return False
    return True


def delete(task_id: str) -> None:
    """Synchronous (SPEC §3.5): stop the ECS task, then delete the task's tags."""
    values = _tags(task_id)
    if not values:
        raise not_found(task_id)
    arn, environment_id = values.get("arn"), values.get("environment_id", "")
    # Only a task ECS still knows and has not stopped: StopTask on a forgotten one is an error.
    task = _described(_cluster(environment_id), arn) if arn else None
    if task is not None and task.get("desiredStatus") != "STOPPED":
        stop(environment_id, task["taskArn"])
    tag_store.delete_entity(ENTITY_TYPE, task_id)


def logs(task_id: str, tail: int = 0, start=None, end=None) -> list[LogFile]:
    """The task's container logs (SPEC §3.6); 404/29 for a task without tags."""
    values = _tags(task_id)
    if not values.get("arn"):
        raise not_found(task_id)
    return log_lookup.for_tasks([values["arn"]], tail=tail, start=start, end=end)
