"""Job type 2, delete service: stop autoscaling it, scale it to 0, stop its tasks, delete it, and forget its tags and
name.

LocateService -> RemoveAutoscaling -> ScaleToZero -> StopTasks -> DeleteService -> DeleteServiceTags. Each step may
be run again after any failure; a service or cluster that is already gone is not an error. The delete-environment job
runs the same steps for each of the environment's services (`delete_in_environment`).
"""

from __future__ import annotations

from layer0 import autoscaling, aws, ids, services, tasks
from layer0.contract import JobType
from layer0.stores import rows as row_store
from layer0.stores import tags as tag_store
from layer0.workflows import asl
from layer0.workflows.frame import JobMachine

WORKFLOW = asl.Workflow("service")


@WORKFLOW.step
def locate(service_id: str) -> dict:
    """`{"environment_id": <id or None>}`: None when nothing is left of the service in ECS or the tags."""
    environment_id, _values = services.locate(service_id)
    return {"environment_id": environment_id}


@WORKFLOW.step
def remove_autoscaling(service_id: str, environment_id: str | None) -> dict:
    """The scalable target and its policies go first, so that Application Auto Scaling does not raise the desired
    count again after ScaleToZero (docs/compatibility.md#service-autoscaling)."""
    return autoscaling.remove(environment_id, service_id)


@WORKFLOW.step
def scale_to_zero(service_id: str, environment_id: str | None) -> dict:
    """Desired count 0 first, so that ECS does not replace the tasks stopped next."""
    if not environment_id:
        return {"scaled": False}
    ecs = aws.client("ecs")
    try:
        ecs.update_service(cluster=ids.aws_name(environment_id), service=ids.aws_name(service_id), desiredCount=0)
    except (
        ecs.exceptions.ServiceNotFoundException,
        ecs.exceptions.ServiceNotActiveException,
        ecs.exceptions.ClusterNotFoundException,
    ):
        return {"scaled": False}
    return {"scaled": True}


@WORKFLOW.step
def stop_tasks(service_id: str, environment_id: str | None) -> dict:
    """Stop the running tasks of every deployment of the service, reason "Service deleted by User"."""
    if not environment_id:
        return {"stopped": []}
    service = services.describe_any(environment_id, service_id)
    if service is None:
        return {"stopped": []}
    arns = services.task_arns(environment_id, service, ("RUNNING",))
    return {"stopped": [arn for arn in arns if tasks.stop(environment_id, arn, services.STOP_REASON)]}


# The ECS service goes with the services' own delete (a failed create rolls back with it too).
WORKFLOW.step(services.delete_ecs_service)


@WORKFLOW.step
def delete_tags(service_id: str) -> dict:
    """The service's row, its tags and its name claim."""
    row_store.delete(services.ROW_KIND, service_id)
    return {
        "released": tag_store.delete_with_claims(
            services.ENTITY_TYPE, service_id, services.NAME_CLAIM_TYPE, "service_id"
        )
    }


def delete_in_environment(environment_id: str, service_id: str) -> dict:
    """Every delete step for a service whose environment is known (the delete-environment job's dependencies)."""
    return {
        **remove_autoscaling(service_id, environment_id),
        **scale_to_zero(service_id, environment_id),
        **stop_tasks(service_id, environment_id),
        **services.delete_ecs_service(service_id, environment_id),
        **delete_tags(service_id),
    }


# --- the state machine ---------------------------------------------------------------------------------------------

# The request is the service id; each step finds the environment again from what `locate` found.
_SERVICE = {"service_id.$": "$.request", "environment_id.$": "$.service.value.environment_id"}


def _body() -> dict:
    task = WORKFLOW.task
    states = {
        "LocateService": task(
            locate, args={"service_id.$": "$.request"}, result_path="$.service", next_state="RemoveAutoscaling"
        ),
        # Before ScaleToZero: a scalable target left in place would raise the count again.
        "RemoveAutoscaling": task(remove_autoscaling, args=_SERVICE, next_state="ScaleToZero"),
        # Desired count 0 before the stops, so that ECS does not start replacements.
        "ScaleToZero": task(scale_to_zero, args=_SERVICE, next_state="StopTasks"),
        "StopTasks": task(stop_tasks, args=_SERVICE, next_state="DeleteService"),
        "DeleteService": task(services.delete_ecs_service, args=_SERVICE, next_state="DeleteServiceTags"),
        "DeleteServiceTags": task(delete_tags, args={"service_id.$": "$.request"}),
    }
    return {"StartAt": "LocateService", "States": states}


MACHINE = JobMachine(
    job_type=JobType.DeleteService,
    body=_body(),
    timeout_seconds=3600,
    description="Layer0 job type 2: delete a service and stop its tasks",
)
