"""Deleting an autoscaled service (job type 2) or its environment removes its scalable target and its policies
(docs/compatibility.md#service-autoscaling), in moto, the delete-service machine running its steps."""

from __future__ import annotations

from layer0 import autoscaling, services
from layer0.models import AutoscalingRequest
from layer0.workflows import delete_environment, registry
from tests.conftest import setup_client
from tests.workflows.helpers import execution_arn, wait_for_end
from tests.workflows.test_services_delete import running_service
from tests.workflows.test_services_rollout import (  # noqa: F401 - fixtures
    machines,
    moto_service,
    polls,
)


def autoscaled(polls, machines) -> tuple[str, str]:
    environment_id, service_id, _arns = running_service(polls, machines)
    services.set_autoscaling(service_id, AutoscalingRequest(min_count=2, max_count=6, cpu_target=50, memory_target=60))
    assert targets() and len(policies()) == 2
    return environment_id, service_id


def targets() -> list[dict]:
    return setup_client("application-autoscaling").describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]


def policies() -> list[dict]:
    return setup_client("application-autoscaling").describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]


def test_the_delete_service_job_removes_the_target_and_its_policies_before_scaling_to_zero(polls, machines):
    environment_id, service_id = autoscaled(polls, machines)

    job = services.start_delete(service_id)
    described = wait_for_end(execution_arn(machines[2], job.job_id))

    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    assert targets() == [] and policies() == []
    assert (moto_service(environment_id, service_id).status, moto_service(environment_id, service_id).desired_count) == (
        "INACTIVE",
        0,
    )


def test_the_removal_step_runs_again_without_error(polls, machines):
    environment_id, service_id = autoscaled(polls, machines)
    step = registry.STEPS["service.remove_autoscaling"]

    first = step(service_id=service_id, environment_id=environment_id)
    again = step(service_id=service_id, environment_id=environment_id)

    assert first["autoscaling_removed"] is True and len(first["policies_deleted"]) == 2
    assert again == {"autoscaling_removed": False, "policies_deleted": []}
    assert step(service_id=service_id, environment_id=None) == {"autoscaling_removed": False, "policies_deleted": []}
    assert autoscaling.current(environment_id, service_id) is None


def test_deleting_the_environment_removes_its_services_targets(polls, machines):
    environment_id, service_id = autoscaled(polls, machines)

    [dependency] = [
        d for d in delete_environment.list_dependencies(environment_id)["dependencies"] if d["kind"] == "service"
    ]
    delete_environment.delete_dependency(environment_id, "service", dependency["id"])

    assert targets() == [] and policies() == []
    assert moto_service(environment_id, service_id).status == "INACTIVE"
