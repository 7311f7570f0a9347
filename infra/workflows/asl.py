"""The ASL of the job state machines (JSONPath), as plain data: the one source CDK, local mode and tests use.

Every job machine has the same frame (DESIGN §4):

    SetInProgress -> Body (the job type's states, in a one-branch Parallel) -> SetCompleted
                         \\-- Catch States.ALL (ResultPath $.error) --> SetError -> Failed

- Every step is a Lambda task of the one workflow-step function, whose payload is
  `{"step": <name>, "job_id": ..., "args": {...}}` (see functions/handlers/steps.py). Its ARN is the
  placeholder `${StepFunctionArn}`: CDK fills it with `definition_substitutions`, local mode and tests with
  `render(...)`.
- Every Task state has `TimeoutSeconds` and retries throttling and transient Lambda errors with backoff;
  `Retryable` (layer0.errors.Retryable: "not yet") is retried too, with a per-step policy.
- The machine sets the job's status itself (steps `job.set_status` and `job.set_error`), so a job's status
  never depends on the API staying up. The execution input is `{"job_id": ..., "request": ...}`.
- Waiting is done by the machine (Wait -> Task -> Choice), never by a sleep inside a Lambda.

This module must not import aws_cdk.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# The placeholder for the workflow-step function's ARN (CloudFormation DefinitionSubstitutions syntax).
STEP_FUNCTION_ARN_KEY = "StepFunctionArn"
STEP_FUNCTION_ARN = "${%s}" % STEP_FUNCTION_ARN_KEY
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
# The workflow-step function's handler (functions/handlers/steps.py).
STEP_HANDLER = "handlers.steps.handler"

# The workflow-step function's own timeout; a task waits a little longer before it calls the attempt lost.
STEP_FUNCTION_TIMEOUT_SECONDS = 60
TASK_TIMEOUT_SECONDS = 90

# Errors worth another attempt: AWS throttling or 5xx surviving the client's retries (handlers.steps raises
# `Throttled` or `AwsServerError`), Lambda's own transient failures, and an attempt that timed out.
TRANSIENT_ERRORS = (
    "Throttled",
    "AwsServerError",
    "Lambda.TooManyRequestsException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "States.Timeout",
)
TRANSIENT_RETRY = {"ErrorEquals": list(TRANSIENT_ERRORS), "IntervalSeconds": 2, "BackoffRate": 2.0, "MaxAttempts": 6}


@dataclass(frozen=True)
class RetryPolicy:
    """How a step retries `Retryable` ("this cannot finish yet")."""

    interval_seconds: int = 10
    max_attempts: int = 6
    backoff_rate: float = 1.5
    max_delay_seconds: int | None = None  # caps the backoff's growth (ASL MaxDelaySeconds)

    def asl(self) -> dict:
        retrier = {
            "ErrorEquals": ["Retryable"],
            "IntervalSeconds": self.interval_seconds,
            "BackoffRate": self.backoff_rate,
            "MaxAttempts": self.max_attempts,
        }
        if self.max_delay_seconds is not None:
            retrier["MaxDelaySeconds"] = self.max_delay_seconds
        return retrier


DEFAULT_RETRYABLE = RetryPolicy()


@dataclass(frozen=True)
class JobMachine:
    """One job type's state machine: its number, its name (`l0-<prefix>-job-<slug>`) and its body states."""

    job_type: int
    slug: str
    body: dict  # {"StartAt": ..., "States": {...}}: runs on the execution input, may add keys to it
    timeout_seconds: int
    description: str = ""
    extra: dict = field(default_factory=dict)

    def name(self, prefix: str) -> str:
        return machine_name(prefix, self.slug)

    def definition(self) -> dict:
        return job_definition(self.body, timeout_seconds=self.timeout_seconds, comment=self.description)


def machine_name_prefix(prefix: str) -> str:
    """`l0-<prefix>-job-`: the start of every job machine's name."""
    return f"l0-{prefix}-job-"


def machine_name(prefix: str, slug: str) -> str:
    return machine_name_prefix(prefix) + slug


def step_task(
    step: str,
    *,
    args: dict | None = None,
    result_path: str | None = None,
    next_state: str | None = None,
    retryable: RetryPolicy | None = DEFAULT_RETRYABLE,
    timeout_seconds: int = TASK_TIMEOUT_SECONDS,
    job_id_path: str = "$.job_id",
) -> dict:
    """A Task state that runs the workflow step `step`.

    `args` is a Parameters-style dict (keys ending in `.$` are JSONPaths). The step's JSON result is placed at
    `result_path` (None: discarded, the state's input passes through).
    """
    payload: dict[str, Any] = {"step": step, "job_id.$": job_id_path, "args": args or {}}
    state: dict[str, Any] = {
        "Type": "Task",
        "Comment": f"workflow step {step}",
        "Resource": LAMBDA_INVOKE,
        "Parameters": {"FunctionName": STEP_FUNCTION_ARN, "Payload": payload},
        "TimeoutSeconds": timeout_seconds,
        "Retry": [dict(TRANSIENT_RETRY)] + ([retryable.asl()] if retryable else []),
    }
    if result_path is None:
        state["ResultPath"] = None
    else:
        state["ResultSelector"] = {"value.$": "$.Payload"}
        state["ResultPath"] = result_path
    if next_state is None:
        state["End"] = True
    else:
        state["Next"] = next_state
    return state


def job_definition(body: dict, *, timeout_seconds: int, comment: str = "") -> dict:
    """The whole machine around `body`: status in progress, the body, status completed; a Catch to error."""
    return {
        "Comment": comment or "Layer0 job",
        "StartAt": "SetInProgress",
        "TimeoutSeconds": timeout_seconds,
        "States": {
            "SetInProgress": step_task("job.set_status", args={"status": 2}, next_state="Body", retryable=None),
            "Body": {
                "Type": "Parallel",
                "Comment": "the job type's steps; any failure that outlives its retries lands in SetError",
                "Branches": [body],
                "ResultPath": None,
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "SetError"}],
                "Next": "SetCompleted",
            },
            "SetCompleted": step_task("job.set_status", args={"status": 3}, retryable=None),
            "SetError": step_task(
                "job.set_error",
                # The whole Catch output: its Cause can be missing (a path to it would then fail the state).
                args={"error.$": "$.error"},
                next_state="Failed",
                retryable=None,
            ),
            "Failed": {
                "Type": "Fail",
                "Error": "Layer0.JobFailed",
                "Cause": "A step of the job failed; the job's meta.error holds the reason",
            },
        },
    }


# ----------------------------------------------------------------------------------------------------------------
# Job type 1: delete environment (SPEC §3.7, issue 3 part 3)
# ----------------------------------------------------------------------------------------------------------------

# The environment id is the job's request.
_ENV = {"environment_id.$": "$.request"}
DEPENDENCY_CONCURRENCY = 5
INSTANCE_POLL_SECONDS = 10
INSTANCE_POLL_LIMIT = 90  # 15 minutes of polls
SECURITY_GROUP_RETRY = RetryPolicy(interval_seconds=10, max_attempts=50, backoff_rate=1.0)


def _delete_environment_body() -> dict:
    states = {
        "UnlinkAll": step_task("environment.unlink_all", args=_ENV, next_state="ListDependencies"),
        "ListDependencies": step_task(
            "environment.list_dependencies", args=_ENV, result_path="$.dependencies", next_state="DeleteDependencies"
        ),
        "DeleteDependencies": {
            "Type": "Map",
            "Comment": "services, load balancers and tasks of the environment, a few at a time",
            "ItemsPath": "$.dependencies.value.dependencies",
            "MaxConcurrency": DEPENDENCY_CONCURRENCY,
            "Parameters": {
                "job_id.$": "$.job_id",
                "request.$": "$.request",
                "kind.$": "$$.Map.Item.Value.kind",
                "id.$": "$$.Map.Item.Value.id",
            },
            "Iterator": {
                "StartAt": "DeleteDependency",
                "States": {
                    "DeleteDependency": step_task(
                        "environment.delete_dependency",
                        args={**_ENV, "kind.$": "$.kind", "id.$": "$.id"},
                        # A load balancer's public group is in use until its ENIs detach (SPEC §3.3: 50 x 10 s).
                        retryable=SECURITY_GROUP_RETRY,
                    )
                },
            },
            "ResultPath": None,
            "Next": "DeleteAutoScalingGroup",
        },
        "DeleteAutoScalingGroup": step_task(
            "environment.delete_autoscaling_group", args=_ENV, next_state="DeleteLaunchTemplate"
        ),
        "DeleteLaunchTemplate": step_task(
            "environment.delete_launch_template", args=_ENV, next_state="StartInstancePolls"
        ),
        "StartInstancePolls": {
            "Type": "Pass",
            "Result": {"count": 0},
            "ResultPath": "$.polls",
            "Next": "WaitForInstances",
        },
        "WaitForInstances": {"Type": "Wait", "Seconds": INSTANCE_POLL_SECONDS, "Next": "CheckInstances"},
        "CheckInstances": step_task(
            "environment.instances_gone", args=_ENV, result_path="$.instances", next_state="CountInstancePoll"
        ),
        "CountInstancePoll": {
            "Type": "Pass",
            "Parameters": {"count.$": "States.MathAdd($.polls.count, 1)"},
            "ResultPath": "$.polls",
            "Next": "InstancesGone",
        },
        "InstancesGone": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.instances.value.gone", "BooleanEquals": True, "Next": "DeleteSecurityGroup"},
                {
                    "Variable": "$.polls.count",
                    "NumericGreaterThanEquals": INSTANCE_POLL_LIMIT,
                    "Next": "InstancesStillThere",
                },
            ],
            "Default": "WaitForInstances",
        },
        "InstancesStillThere": {
            "Type": "Fail",
            "Error": "Layer0.InstancesNotGone",
            "Cause": f"The environment's instances were still there after {INSTANCE_POLL_LIMIT} checks, "
            f"{INSTANCE_POLL_SECONDS} seconds apart",
        },
        "DeleteSecurityGroup": step_task(
            "environment.delete_security_group",
            args=_ENV,
            retryable=SECURITY_GROUP_RETRY,
            next_state="DeleteCluster",
        ),
        "DeleteCluster": step_task("environment.delete_cluster", args=_ENV, next_state="DeleteTags"),
        "DeleteTags": step_task("environment.delete_tags", args=_ENV),
    }
    return {"StartAt": "UnlinkAll", "States": states}


DELETE_ENVIRONMENT = JobMachine(
    job_type=1,
    slug="delete-environment",
    body=_delete_environment_body(),
    timeout_seconds=2 * 3600,
    description="Layer0 job type 1: delete an environment and everything in it",
)

# ----------------------------------------------------------------------------------------------------------------
# Job type 5: create task (SPEC §3.5, §3.7; issue 4 part 4)
# ----------------------------------------------------------------------------------------------------------------

# While the environment has no room for the task, the step raises Retryable and the machine tries again while the
# scaler adds instances: for up to this long (the original: every 10 s for 24 h).
TASK_CAPACITY_RETRY_HOURS = 24.0
# Every 10 s at first, then slower, up to once a minute: a Standard execution's history holds at most 25,000 events
# and each attempt adds three, so 24 h of attempts every 10 s (8,640) would end the execution; this needs ~1,450.
TASK_CAPACITY_RETRY_FIRST_SECONDS = 10
TASK_CAPACITY_RETRY_BACKOFF = 1.2
TASK_CAPACITY_RETRY_MAX_DELAY_SECONDS = 60


def task_capacity_retry(hours: float = TASK_CAPACITY_RETRY_HOURS) -> RetryPolicy:
    """The Retryable policy of the run-task step: enough attempts that their delays add up to `hours`."""
    remaining = hours * 3600
    delay = float(TASK_CAPACITY_RETRY_FIRST_SECONDS)
    attempts = 0
    while remaining > 0:
        attempts += 1
        remaining -= min(delay, TASK_CAPACITY_RETRY_MAX_DELAY_SECONDS)
        delay *= TASK_CAPACITY_RETRY_BACKOFF
    return RetryPolicy(
        interval_seconds=TASK_CAPACITY_RETRY_FIRST_SECONDS,
        max_attempts=max(attempts, 1),
        backoff_rate=TASK_CAPACITY_RETRY_BACKOFF,
        max_delay_seconds=TASK_CAPACITY_RETRY_MAX_DELAY_SECONDS,
    )


def create_task_machine(capacity_retry_hours: float = TASK_CAPACITY_RETRY_HOURS) -> JobMachine:
    """The request is the CreateTaskRequest's JSON; the one step (layer0.tasks.run) starts the task, tags it and
    sets the job's meta.task_id."""
    body = {
        "StartAt": "RunTask",
        "States": {
            "RunTask": step_task(
                "task.run",
                args={"job_id.$": "$.job_id", "request.$": "$.request"},
                result_path="$.task",
                retryable=task_capacity_retry(capacity_retry_hours),
            )
        },
    }
    return JobMachine(
        job_type=5,
        slug="create-task",
        body=body,
        # The retries, plus an hour for the steps themselves.
        timeout_seconds=int(capacity_retry_hours * 3600) + 3600,
        description="Layer0 job type 5: start a task, waiting for room in its environment",
    )


CREATE_TASK = create_task_machine()

# ----------------------------------------------------------------------------------------------------------------
# Job types 2 and 6: delete service, rollout (SPEC §3.4; issue 4 parts 2 and 3)
# ----------------------------------------------------------------------------------------------------------------

# The delete-service request is the service id; each step finds the environment again from what `locate` found.
_SERVICE = {"service_id.$": "$.request", "environment_id.$": "$.service.value.environment_id"}


def _delete_service_body() -> dict:
    states = {
        "LocateService": step_task(
            "service.locate", args={"service_id.$": "$.request"}, result_path="$.service", next_state="ScaleToZero"
        ),
        # Desired count 0 before the stops, so that ECS does not start replacements.
        "ScaleToZero": step_task("service.scale_to_zero", args=_SERVICE, next_state="StopTasks"),
        "StopTasks": step_task("service.stop_tasks", args=_SERVICE, next_state="DeleteService"),
        "DeleteService": step_task("service.delete_ecs_service", args=_SERVICE, next_state="DeleteServiceTags"),
        "DeleteServiceTags": step_task("service.delete_tags", args={"service_id.$": "$.request"}),
    }
    return {"StartAt": "LocateService", "States": states}


DELETE_SERVICE = JobMachine(
    job_type=2,
    slug="delete-service",
    body=_delete_service_body(),
    timeout_seconds=3600,
    description="Layer0 job type 2: delete a service and stop its tasks",
)

ROLLOUT_POLL_SECONDS = 5
ROLLOUT_POLL_LIMIT = 720  # an hour of polls
_ROLLOUT = {
    "service_id.$": "$.rollout_request.value.service_id",
    "environment_id.$": "$.rollout_request.value.environment_id",
    "deployment_id.$": "$.rollout_request.value.deployment_id",
}


def _rollout_body(poll_limit: int) -> dict:
    states = {
        "ParseRequest": {
            "Type": "Pass",
            "Comment": "the request is the JSON {service_id, environment_id, deployment_id}",
            "Parameters": {"value.$": "States.StringToJson($.request)"},
            "ResultPath": "$.rollout_request",
            "Next": "StartRolloutPolls",
        },
        "StartRolloutPolls": {
            "Type": "Pass",
            "Result": {"count": 0},
            "ResultPath": "$.polls",
            "Next": "WaitForRollout",
        },
        "WaitForRollout": {"Type": "Wait", "Seconds": ROLLOUT_POLL_SECONDS, "Next": "CheckRollout"},
        # Raises RolloutFailed (the job ends in error, with the stopped tasks' reasons) once ECS gives up.
        "CheckRollout": step_task(
            "service.rollout_state", args=_ROLLOUT, result_path="$.rollout", next_state="CountRolloutPoll"
        ),
        "CountRolloutPoll": {
            "Type": "Pass",
            "Parameters": {"count.$": "States.MathAdd($.polls.count, 1)"},
            "ResultPath": "$.polls",
            "Next": "RolloutSteady",
        },
        "RolloutSteady": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.rollout.value.state", "StringEquals": "steady", "Next": "RolloutDone"},
                {"Variable": "$.polls.count", "NumericGreaterThanEquals": poll_limit, "Next": "RolloutTooSlow"},
            ],
            "Default": "WaitForRollout",
        },
        "RolloutDone": {"Type": "Succeed"},
        "RolloutTooSlow": {
            "Type": "Fail",
            "Error": "Layer0.RolloutNotSteady",
            "Cause": f"The deployment was neither steady nor failed after {poll_limit} checks, "
            f"{ROLLOUT_POLL_SECONDS} seconds apart",
        },
    }
    return {"StartAt": "ParseRequest", "States": states}


def rollout_machine(poll_limit: int = ROLLOUT_POLL_LIMIT) -> JobMachine:
    """The request is `{"service_id", "environment_id", "deployment_id"}`: the deployment to follow."""
    return JobMachine(
        job_type=6,
        slug="rollout",
        body=_rollout_body(poll_limit),
        # The polls, plus room for the steps themselves.
        timeout_seconds=poll_limit * ROLLOUT_POLL_SECONDS + 3600,
        description="Layer0 job type 6: follow a service's deployment until it is steady or failed",
    )


ROLLOUT = rollout_machine()

# ----------------------------------------------------------------------------------------------------------------
# Job type 3: delete load balancer (SPEC §3.3; issue 5 part 4)
# ----------------------------------------------------------------------------------------------------------------

# The load balancer id is the job's request.
_LOAD_BALANCER = {"load_balancer_id.$": "$.request"}


def _delete_load_balancer_body() -> dict:
    states = {
        # Classic: the IAM role's policies and the role; application: the listeners and the target groups.
        "DeleteRouting": step_task("load_balancer.delete_routing", args=_LOAD_BALANCER, next_state="DeleteLoadBalancer"),
        "DeleteLoadBalancer": step_task(
            "load_balancer.delete_load_balancer", args=_LOAD_BALANCER, next_state="DeleteSecurityGroup"
        ),
        # The public group's network interfaces detach some time after the load balancer goes (SPEC §3.3: 50 x 10 s).
        "DeleteSecurityGroup": step_task(
            "load_balancer.delete_security_group",
            args=_LOAD_BALANCER,
            retryable=SECURITY_GROUP_RETRY,
            next_state="DeleteTags",
        ),
        "DeleteTags": step_task("load_balancer.delete_tags", args=_LOAD_BALANCER),
    }
    return {"StartAt": "DeleteRouting", "States": states}


DELETE_LOAD_BALANCER = JobMachine(
    job_type=3,
    slug="delete-load-balancer",
    body=_delete_load_balancer_body(),
    timeout_seconds=3600,
    description="Layer0 job type 3: delete a load balancer, its role or listeners and target groups, its security group",
)

# Job type -> its machine. Type 4 (delete task) has none: the API never creates it; creating such a job
# fails cleanly (StartExecution: StateMachineDoesNotExist) and leaves nothing behind.
MACHINES: dict[int, JobMachine] = {machine.job_type: machine for machine in (DELETE_ENVIRONMENT, CREATE_TASK, DELETE_SERVICE, ROLLOUT, DELETE_LOAD_BALANCER)}

# Job type -> machine slug, for every Layer0 job type (functions/layer0/jobs.py has the same table;
# tests/workflows checks they agree).
SLUGS: dict[int, str] = {
    1: "delete-environment",
    2: "delete-service",
    3: "delete-load-balancer",
    4: "delete-task",
    5: "create-task",
    6: "rollout",
}


def definition_string(machine: JobMachine) -> str:
    """The definition as CDK puts it in the template (`DefinitionString`), placeholders unfilled."""
    return json.dumps(machine.definition(), indent=None, sort_keys=False)


def render(machine: JobMachine, step_function_arn: str) -> str:
    """The definition with the step function's ARN filled in, as CloudFormation's substitution does it."""
    return definition_string(machine).replace(STEP_FUNCTION_ARN, step_function_arn)
