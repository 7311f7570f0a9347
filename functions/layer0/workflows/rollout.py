"""Job type 6, rollout: follow a service's deployment until it is steady (job completed) or failed (job error).

Service create, scale and update start it (layer0.services). ParseRequest -> a poll every 5 s (WaitForRollout,
CheckRollout, RolloutSteady) for up to an hour; CheckRollout raises RolloutFailed, with the stopped tasks'
reasons, once ECS's circuit breaker marks the deployment FAILED.
"""

from __future__ import annotations

from layer0 import aws, ids, services
from layer0.contract import JobType
from layer0.workflows import asl
from layer0.workflows.frame import JobMachine

WORKFLOW = asl.Workflow("service")

# ECS stop codes that say a deployment's task failed (used once a deployment is no longer listed).
FAILED_STOP_CODES = ("TaskFailedToStart", "EssentialContainerExited")


class RolloutFailed(Exception):
    """A deployment failed (the circuit breaker tripped). Its message names the stopped tasks' reasons; the
    rollout job ends in error with it."""


def _stopped_reasons(environment_id: str, deployment_id: str, stop_codes: tuple[str, ...] | None = None) -> list[str]:
    """The distinct stoppedReasons of the deployment's stopped tasks (only those with one of `stop_codes`)."""
    ecs = aws.client("ecs")
    cluster = ids.aws_name(environment_id)
    try:
        arns = [
            arn
            for page in ecs.get_paginator("list_tasks").paginate(
                cluster=cluster, startedBy=deployment_id, desiredStatus="STOPPED"
            )
            for arn in page["taskArns"]
        ]
    except ecs.exceptions.ClusterNotFoundException:
        return []
    reasons: list[str] = []
    for start in range(0, len(arns), 100):
        for task in ecs.describe_tasks(cluster=cluster, tasks=arns[start : start + 100])["tasks"]:
            if stop_codes is not None and task.get("stopCode") not in stop_codes:
                continue
            reason = task.get("stoppedReason") or ""
            details = [c["reason"] for c in task.get("containers", []) if c.get("reason") and c["reason"] not in reason]
            text = "; ".join(part for part in [reason, *details] if part)
            if text:
                reasons.append(text)
    return list(dict.fromkeys(reasons))


def _failed(service_id: str, deployment: dict | None, deployment_id: str, reasons: list[str]) -> RolloutFailed:
    what = (deployment or {}).get("rolloutStateReason") or f"Deployment {deployment_id} failed."
    detail = "; ".join(reasons) if reasons else "no stopped task gave a reason"
    return RolloutFailed(f"Service '{service_id}': {what} Stopped tasks: {detail}")


@WORKFLOW.step
def rollout_state(service_id: str, environment_id: str, deployment_id: str) -> dict:
    """Where the deployment `deployment_id` of the service is: `{"state": "steady" | "in_progress", ...}`.

    Raises RolloutFailed once ECS marks it FAILED. A deployment that is no longer the PRIMARY one was superseded
    (by a newer update, or a rollback): this rollout is over, completed (`"superseded": true`).
    """
    service = services.describe_any(environment_id, service_id)
    if service is None or service.get("status") != "ACTIVE":
        return {"state": "steady", "superseded": True, "message": f"Service '{service_id}' no longer exists"}
    deployments = service.get("deployments", [])
    tracked = next((d for d in deployments if d.get("id") == deployment_id), None)
    if tracked is not None and tracked.get("rolloutState") == "FAILED":
        raise _failed(service_id, tracked, deployment_id, _stopped_reasons(environment_id, deployment_id))
    if tracked is None:
        # A failed deployment leaves the list once the rollback is steady: its failed tasks tell.
        failed_tasks = _stopped_reasons(environment_id, deployment_id, FAILED_STOP_CODES)
        if failed_tasks:
            raise _failed(service_id, None, deployment_id, failed_tasks)
        return {
            "state": "steady",
            "superseded": True,
            "message": f"Deployment {deployment_id} is gone: a newer deployment replaced it",
        }
    if tracked.get("status") != "PRIMARY":
        primary = services.primary_deployment_id(service)
        return {
            "state": "steady",
            "superseded": True,
            "message": f"Deployment {deployment_id} was superseded by deployment {primary}",
        }
    counts = {"running_count": tracked.get("runningCount", 0), "desired_count": tracked.get("desiredCount", 0)}
    if (
        len(deployments) == 1
        and counts["running_count"] == counts["desired_count"]
        and tracked.get("rolloutState") != "IN_PROGRESS"
    ):
        return {"state": "steady", "superseded": False, **counts}
    return {"state": "in_progress", "deployments": len(deployments), **counts}


# --- the state machine ---------------------------------------------------------------------------------------------

ROLLOUT_POLL_SECONDS = 5
ROLLOUT_POLL_LIMIT = 720  # an hour of polls
_ROLLOUT = {
    "service_id.$": "$.rollout_request.value.service_id",
    "environment_id.$": "$.rollout_request.value.environment_id",
    "deployment_id.$": "$.rollout_request.value.deployment_id",
}


def _body(poll_limit: int) -> dict:
    states = {
        "ParseRequest": {
            "Type": "Pass",
            "Comment": "the request is the JSON {service_id, environment_id, deployment_id}",
            "Parameters": {"value.$": "States.StringToJson($.request)"},
            "ResultPath": "$.rollout_request",
            "Next": "StartRolloutPolls",
        },
        # Raises RolloutFailed (the job ends in error, with the stopped tasks' reasons) once ECS gives up.
        **asl.bounded_poll(
            "Rollout",
            check=lambda next_state: WORKFLOW.task(
                rollout_state, args=_ROLLOUT, result_path="$.rollout", next_state=next_state
            ),
            decide="RolloutSteady",
            done_when={"Variable": "$.rollout.value.state", "StringEquals": "steady"},
            done="RolloutDone",
            gave_up="RolloutTooSlow",
            gave_up_error="Layer0.RolloutNotSteady",
            gave_up_cause=f"The deployment was neither steady nor failed after {poll_limit} checks, "
            f"{ROLLOUT_POLL_SECONDS} seconds apart",
            limit=poll_limit,
            seconds=ROLLOUT_POLL_SECONDS,
        ),
    }
    return {"StartAt": "ParseRequest", "States": states}


def machine(poll_limit: int = ROLLOUT_POLL_LIMIT) -> JobMachine:
    """The request is `{"service_id", "environment_id", "deployment_id"}`: the deployment to follow."""
    return JobMachine(
        job_type=JobType.Rollout,
        body=_body(poll_limit),
        # The polls, plus room for the steps themselves.
        timeout_seconds=poll_limit * ROLLOUT_POLL_SECONDS + 3600,
        description="Layer0 job type 6: follow a service's deployment until it is steady or failed",
    )


MACHINE = machine()
