"""The workflow steps: what the job state machines run, by name, in the workflow-step function.

Every step is `fn(job_id: str, args: dict) -> JSON`, registered here explicitly by name; the state machines
(infra/workflows/asl.py) name them in their Task payloads. A step must be idempotent: a rerun of a job that
failed part-way runs every step again.

Errors a step raises reach Step Functions as their class name (the Lambda errorType):
- `Throttled`: AWS throttling that outlived the client's retries (handlers.steps converts it); retried with backoff;
- `AwsServerError`: an AWS 5xx that outlived them, likewise;
- `Retryable` (layer0.errors): "cannot finish yet", retried on the step's own schedule;
- anything else fails the job, with the reason in its `meta.error`.

The `environment.*` steps live in layer0.environments, `fn(environment_id: str) -> JSON`
(`delete_dependency(environment_id, kind, id)`); they are imported when first run.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from layer0 import jobs
from layer0.errors import ErrorCode, Layer0Error

Step = Callable[[str, dict], Any]


class Throttled(Exception):
    """AWS throttled a step's call beyond the client layer's retries. The state machine retries it with backoff."""


class AwsServerError(Exception):
    """AWS answered a step's call with a 5xx beyond the client layer's retries: transient, and every step is
    idempotent, so the state machine retries it with backoff like throttling."""


class UnknownStep(Exception):
    """A state machine named a step that is not registered: a deployment mismatch, never retried."""


def set_status(job_id: str, args: dict) -> dict:
    status = jobs.JobStatus(int(args["status"]))
    try:
        jobs.set_status(job_id, status)
    except Layer0Error as error:
        if error.code != ErrorCode.JobDoesNotExist:
            raise
        # The job was deleted (DELETE /job/{id}) while its execution finished: nothing to mark.
        return {"job_id": job_id, "job_status": None}
    return {"job_id": job_id, "job_status": int(status)}


def set_error(job_id: str, args: dict) -> dict:
    """`args["error"]` is the Catch output `{"Error": ..., "Cause": ...}` (either may be missing)."""
    caught = args.get("error")
    if isinstance(caught, dict):
        error, cause = caught.get("Error") or "", caught.get("Cause") or ""
    else:
        error, cause = str(caught or ""), str(args.get("cause") or "")
    try:
        reason = jobs.set_error(job_id, error, cause)
    except Layer0Error as error:
        if error.code != ErrorCode.JobDoesNotExist:
            raise
        return {"job_id": job_id, "job_status": None}
    return {"job_id": job_id, "job_status": int(jobs.JobStatus.Error), "error": reason}


def domain_step(module: str, function_name: str, *arg_names: str) -> Step:
    """A step that calls `layer0.<module>.<function_name>(*(args[name] for name in arg_names))`, imported on
    first use (so the step function loads only the domain modules its machines run)."""

    def step(job_id: str, args: dict) -> Any:
        function = getattr(importlib.import_module(f"layer0.{module}"), function_name)
        return function(*(args[name] for name in arg_names))

    step.__name__ = step.__qualname__ = f"{module}.{function_name}"
    return step


def _environment_step(function_name: str, *arg_names: str) -> Step:
    """`layer0.environments.<function_name>(environment_id, *args)`."""
    return domain_step("environments", function_name, "environment_id", *arg_names)


STEPS: dict[str, Step] = {
    "job.set_status": set_status,
    "job.set_error": set_error,
    # Job type 1, delete environment (infra/workflows/asl.py, DELETE_ENVIRONMENT), in the order the machine runs them.
    "environment.unlink_all": _environment_step("unlink_all"),
    "environment.list_dependencies": _environment_step("list_dependencies"),
    "environment.delete_dependency": _environment_step("delete_dependency", "kind", "id"),
    "environment.delete_autoscaling_group": _environment_step("delete_autoscaling_group"),
    "environment.delete_launch_template": _environment_step("delete_launch_template"),
    "environment.instances_gone": _environment_step("instances_gone"),
    "environment.delete_security_group": _environment_step("delete_security_group"),
    "environment.delete_cluster": _environment_step("delete_cluster"),
    "environment.delete_tags": _environment_step("delete_tags"),
    # Job types 2 and 6, delete service and rollout (infra/workflows/asl.py, DELETE_SERVICE and ROLLOUT).
    "service.locate": domain_step("services", "locate", "service_id"),
    "service.scale_to_zero": domain_step("services", "scale_to_zero", "service_id", "environment_id"),
    "service.stop_tasks": domain_step("services", "stop_tasks", "service_id", "environment_id"),
    "service.delete_ecs_service": domain_step("services", "delete_ecs_service", "service_id", "environment_id"),
    "service.delete_tags": domain_step("services", "delete_tags", "service_id"),
    "service.rollout_state": domain_step("services", "rollout_state", "service_id", "environment_id", "deployment_id"),
    # Job type 3, delete load balancer (infra/workflows/asl.py, DELETE_LOAD_BALANCER), in the order the machine runs them.
    "load_balancer.delete_routing": domain_step("load_balancers", "delete_routing", "load_balancer_id"),
    "load_balancer.delete_load_balancer": domain_step("load_balancers", "delete_load_balancer", "load_balancer_id"),
    "load_balancer.delete_security_group": domain_step("load_balancers", "delete_security_group", "load_balancer_id"),
    "load_balancer.delete_tags": domain_step("load_balancers", "delete_tags", "load_balancer_id"),
    # Job type 5, create task (infra/workflows/asl.py, CREATE_TASK).
    "task.run": domain_step("tasks", "run", "job_id", "request"),
}


def run(name: str, job_id: str, args: dict) -> Any:
    step = STEPS.get(name)
    if step is None:
        raise UnknownStep(f"No workflow step named {name!r}")
    return step(job_id, args)
