"""Tasks (docs/compatibility.md#tasks): one ECS RunTask of a deploy in an environment, started by a create-task job
(type 5).

A task `<id>` exists for Layer0 through its tags (entity type `task`): `name`, `environment_id`, `deploy_id` and
`arn`, the ECS task's ARN. Task tags expire after 6 hours (the tag store sets their TTL), and ECS forgets stopped
tasks after about an hour: a task is listed only while both remain, and while its environment exists. Deleting the
environment deletes the tags of all its tasks (layer0.workflows.delete_environment).

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

from botocore.exceptions import ClientError

from layer0 import aws, deploys, environments, ids, jobs, scaler, settings
from layer0 import logs as log_lookup
from layer0.errors import ErrorCode, Layer0Error, aws_error_code, missing_parameter
from layer0.models import CreateTaskRequest, Job, LogFile, Task, TaskCopy, TaskDetail, TaskSummary
from layer0.stores import tags as tag_store

logger = logging.getLogger(__name__)

ENTITY_TYPE = "task"
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
    definition = deploys.active_task_definition(request.deploy_id)
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


def _existing_environments(environment_ids: set[str]) -> set[str]:
    """Those of the environments whose cluster is ACTIVE (DescribeClusters, 100 a call): a deleted environment's
    cluster is INACTIVE, or gone."""
    clusters = [_cluster(environment_id) for environment_id in sorted(environment_ids)]
    ecs = aws.client("ecs")
    return {
        ids.layer0_id(cluster["clusterName"])
        for start in range(0, len(clusters), 100)
        for cluster in ecs.describe_clusters(clusters=clusters[start : start + 100])["clusters"]
        if cluster.get("status") == "ACTIVE"
    }


def list_all() -> list[TaskSummary]:
    """Every tagged task that ECS still knows, in an environment that still exists (docs/compatibility.md#tasks).
    One tag query for the tasks, one for the environment names, DescribeClusters for the environments the tags
    name, and ListTasks only in those that exist."""
    by_task: dict[str, dict[str, str]] = {}
    for tag in tag_store.select_by_type(ENTITY_TYPE):
        by_task.setdefault(tag.entity_id, {})[tag.key] = tag.value
    environment_ids = {env for values in by_task.values() if (env := values.get("environment_id"))}
    listed: set[str] = set()
    for environment_id in sorted(_existing_environments(environment_ids) if environment_ids else set()):
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
    tag_store.delete_entity(ENTITY_TYPE, task_id)


def forget_environment(environment_id: str) -> list[str]:
    """Delete the records (tags) of every task of the environment, running or long finished: the environment's
    delete does this last, so that no task outlives it in `GET /task`. Returns their ids."""
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


def logs(task_id: str, tail: int = 0, start=None, end=None) -> list[LogFile]:
    """The task's container logs (docs/compatibility.md#logs); 404/29 for a task without tags."""
    values = tag_values(task_id)
    if not values.get("arn"):
        raise not_found(task_id)
    return log_lookup.for_tasks([values["arn"]], tail=tail, start=start, end=end)
