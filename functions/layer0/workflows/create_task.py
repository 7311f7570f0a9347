"""Job type 5, create task: start one ECS task of a deploy, waiting for room in its environment, then for it to run.

`POST /task` checks the request and starts the job (layer0.tasks.start_create); its request is the
CreateTaskRequest's JSON. RunTask starts the task, tags it and sets the job's `meta.task_id`. In an environment
the Layer0 scaler sizes, while there is no room, the step raises `Retryable` and the machine tries again while the
scaler adds instances (it counts pending create-task jobs as consumers), for up to 24 hours. In an environment
with managed scaling (docs/architecture.md#capacity-providers) RunTask always starts the task: it waits in
PROVISIONING while ECS grows the group.

Then a poll (WaitForTask, CheckTask, TaskStarted) waits for the task to run: the job completes once it is RUNNING
(or stopped after running), and ends in error with the task's stoppedReason when it stops before running (a
capacity provider that could not place it, an image that cannot be pulled).
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from layer0 import aws, capacity, fargate, ids, scaler, settings, tasks
from layer0.contract import JobType
from layer0.errors import ErrorCode, Layer0Error, Retryable, aws_error_code, aws_error_message
from layer0.models import CreateTaskRequest, Tag
from layer0.stores import jobs as job_store
from layer0.stores import tags as tag_store
from layer0.workflows import asl
from layer0.workflows.frame import JobMachine

WORKFLOW = asl.Workflow("task")

# RunTask failure reasons that mean "no container instance has room (yet)": the scaler can fix these.
CAPACITY_REASON_PREFIX = "RESOURCE:"


class TaskNotStarted(Exception):
    """ECS refused to start the task for a reason more instances would not fix. Fails the job."""


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


def _has_container_instances(cluster: str, managed: bool) -> bool:
    """Whether the cluster has an active container instance (a managed one need not have: its capacity provider
    launches them for the task); a cluster that is gone fails the job."""
    ecs = aws.client("ecs")
    try:
        if (
            not managed
            and ecs.list_container_instances(cluster=cluster, status="ACTIVE", maxResults=1)["containerInstanceArns"]
        ):
            return True
        active = any(c.get("status") == "ACTIVE" for c in ecs.describe_clusters(clusters=[cluster])["clusters"])
    except ecs.exceptions.ClusterNotFoundException:
        active = False
    if not active:
        raise TaskNotStarted(f"Failed to start task: cluster {cluster} does not exist")
    return managed


def _no_room(request: CreateTaskRequest, reason: str) -> Retryable:
    scaler.request_run_soon(request.environment_id)
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
    cluster = ids.aws_name(request.environment_id)
    where = capacity.placement(request.environment_id)
    placement = capacity.launch_arguments(where)
    # Through a capacity provider (Fargate's, or a managed EC2 environment's), a task that does not fit waits in
    # PROVISIONING while capacity is added: no instance need be there yet.
    managed = "capacityProviderStrategy" in placement
    if not _has_container_instances(cluster, managed):
        raise _no_room(request, f"RESOURCE:INSTANCES (environment '{request.environment_id}' has no instances yet)")
    ecs = aws.client("ecs")
    attempt = _run_attempt(job_id)
    try:
        # On Fargate, the deploy's Fargate variant (`POST /task` registered it; made again if it was deleted since).
        task_definition = (
            fargate.variant(request.deploy_id)[0] if where.fargate else ids.task_definition(request.deploy_id)
        )
        response = ecs.run_task(
            cluster=cluster,
            taskDefinition=task_definition,
            count=1,
            startedBy=settings.get().aws_name_prefix,
            overrides=_overrides(request),
            clientToken=f"{job_id}-{attempt}",
            **placement,
        )
    except Layer0Error as error:  # the deploy was deleted, or its Fargate variant cannot be made
        raise TaskNotStarted(f"Failed to start task: {error.message}") from None
    except ClientError as error:
        if "No Container Instances were found" in aws_error_message(error):
            raise _no_room(request, "RESOURCE:INSTANCES (no container instances)") from None
        if aws_error_code(error) in ("InvalidParameterException", "ClientException", "ClusterNotFoundException"):
            raise TaskNotStarted(f"Failed to start task: {aws_error_message(error)}") from None
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
        tag_store.insert(Tag(entity_type=tasks.ENTITY_TYPE, entity_id=task_id, key=key, value=value))


@WORKFLOW.step
def run(job_id: str, request: str) -> dict:
    """The job's step: start the task, tag it, set the job's `meta.task_id`. Idempotent: a rerun
    finds the task by its tags (the task id comes from the job id) and starts no second one."""
    parsed = CreateTaskRequest.model_validate_json(request)
    task_id = tasks.task_id_for(parsed.task_name, job_id)
    arn = tasks.tag_values(task_id).get("arn") or _run_task(job_id, parsed)
    _tag(task_id, parsed, arn)
    tasks.write_row(task_id, parsed.task_name, parsed.environment_id, parsed.deploy_id, arn)
    try:
        job = job_store.get(job_id)
        if job.meta.get("task_id") != task_id:
            job_store.set_meta(job_id, {**job.meta, "task_id": task_id})
    except Layer0Error as error:
        if error.code != ErrorCode.JobDoesNotExist:
            raise
        # The job was deleted while it ran; the task it started is a task like any other.
    return {"task_id": task_id, "task_arn": arn, "environment_id": parsed.environment_id}


@WORKFLOW.step
def task_state(task_arn: str, environment_id: str) -> dict:
    """Where the job's task is: `{"state": "running" | "waiting", "status": <lastStatus>}`.

    Raises TaskNotStarted, with the task's stoppedReason, when it stopped without ever running (a capacity provider
    that could not place it stops it after a while, as does an image that cannot be pulled). A task that ran and
    stopped before this poll saw it (`sleep 1`) ran: the job completes.
    """
    ecs = aws.client("ecs")
    try:
        found = ecs.describe_tasks(cluster=ids.aws_name(environment_id), tasks=[task_arn])["tasks"]
    except ecs.exceptions.ClusterNotFoundException:
        raise TaskNotStarted(f"Task {task_arn}: environment '{environment_id}' no longer exists") from None
    if not found:
        raise TaskNotStarted(f"Task {task_arn} no longer exists")
    task = found[0]
    status = task.get("lastStatus", "")
    if status == "RUNNING" or task.get("startedAt"):
        return {"state": "running", "status": status}
    if status in ("STOPPED", "DEPROVISIONING", "STOPPING") or task.get("desiredStatus") == "STOPPED":
        reason = task.get("stoppedReason") or "the task stopped before it ran"
        details = [c["reason"] for c in task.get("containers", []) if c.get("reason") and c["reason"] not in reason]
        raise TaskNotStarted("; ".join(["Task did not start: " + reason, *details]))
    return {"state": "waiting", "status": status}


# --- the state machine ---------------------------------------------------------------------------------------------

# While the environment has no room for the task, the step raises Retryable and the machine tries again while the
# scaler adds instances: for up to this long (the original: every 10 s for 24 h).
TASK_CAPACITY_RETRY_HOURS = 24.0
# Every 10 s at first, then slower, up to once a minute: a Standard execution's history holds at most 25,000 events
# and each attempt adds three, so 24 h of attempts every 10 s (8,640) would end the execution; this needs ~1,450.
TASK_CAPACITY_RETRY_FIRST_SECONDS = 10
TASK_CAPACITY_RETRY_BACKOFF = 1.2
TASK_CAPACITY_RETRY_MAX_DELAY_SECONDS = 60


def capacity_retry(hours: float = TASK_CAPACITY_RETRY_HOURS) -> asl.RetryPolicy:
    """The Retryable policy of the run step: enough attempts that their delays add up to `hours`."""
    remaining = hours * 3600
    delay = float(TASK_CAPACITY_RETRY_FIRST_SECONDS)
    attempts = 0
    while remaining > 0:
        attempts += 1
        remaining -= min(delay, TASK_CAPACITY_RETRY_MAX_DELAY_SECONDS)
        delay *= TASK_CAPACITY_RETRY_BACKOFF
    return asl.RetryPolicy(
        interval_seconds=TASK_CAPACITY_RETRY_FIRST_SECONDS,
        max_attempts=max(attempts, 1),
        backoff_rate=TASK_CAPACITY_RETRY_BACKOFF,
        max_delay_seconds=TASK_CAPACITY_RETRY_MAX_DELAY_SECONDS,
    )


# The wait for the started task to run (a task PROVISIONING in a managed environment waits there while ECS adds an
# instance; ECS stops it, with a reason, when it gives up): a poll every 5 s, then every minute.
TASK_POLL_SECONDS = 5
TASK_POLL_BACKOFF_AFTER = 60  # polls; then every TASK_POLL_SLOW_SECONDS, to keep the execution's history short
TASK_POLL_SLOW_SECONDS = 60
# How long the job waits for a started task to run: 5 minutes of quick polls, then 45 of slow ones. The machine must
# end within jobs.LONGEST_JOB_SECONDS (a job's row outlives it), with the 24 hours of capacity retries before.
TASK_WAIT_SECONDS = 50 * 60


def _wait_states(poll_limit: int) -> dict:
    return asl.bounded_poll(
        "Task",
        # Raises TaskNotStarted (the job ends in error, with the task's stoppedReason) when it stopped unstarted.
        check=lambda next_state: WORKFLOW.task(
            task_state,
            args={
                "task_arn.$": "$.task.value.task_arn",
                "environment_id.$": "$.task.value.environment_id",
            },
            result_path="$.state",
            next_state=next_state,
        ),
        decide="TaskStarted",
        done_when={"Variable": "$.state.value.state", "StringEquals": "running"},
        done="TaskRunning",
        gave_up="TaskNeverRan",
        gave_up_error="Layer0.TaskNotRunning",
        gave_up_cause=f"The task was neither running nor stopped after {poll_limit} checks",
        limit=poll_limit,
        seconds=TASK_POLL_SECONDS,
        slow_after=TASK_POLL_BACKOFF_AFTER,
        slow_seconds=TASK_POLL_SLOW_SECONDS,
    )


def machine(capacity_retry_hours: float = TASK_CAPACITY_RETRY_HOURS) -> JobMachine:
    slow_polls = (TASK_WAIT_SECONDS - TASK_POLL_BACKOFF_AFTER * TASK_POLL_SECONDS) // TASK_POLL_SLOW_SECONDS
    body = {
        "StartAt": "RunTask",
        "States": {
            "RunTask": WORKFLOW.task(
                run,
                args={"job_id.$": "$.job_id", "request.$": "$.request"},
                result_path="$.task",
                retryable=capacity_retry(capacity_retry_hours),
                next_state="StartTaskPolls",
            ),
            **_wait_states(TASK_POLL_BACKOFF_AFTER + slow_polls),
        },
    }
    return JobMachine(
        job_type=JobType.CreateTask,
        body=body,
        # The retries, the wait for the task to run, plus an hour for the steps themselves.
        timeout_seconds=int(capacity_retry_hours * 3600) + TASK_WAIT_SECONDS + 3600,
        description="Layer0 job type 5: start a task, waiting for room in its environment",
    )


MACHINE = machine()
