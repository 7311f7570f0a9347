"""Deleting a service (job type 2) end to end in moto: the DELETE_SERVICE machine running layer0.workflows.delete_service's steps,
and the delete-environment job deleting its services the same way. Nothing is stubbed but the rollouts' ECS."""

from __future__ import annotations

import pytest

from layer0 import environments, jobs, services
from layer0.workflows import delete_environment, delete_service, registry
from layer0.errors import Layer0Error
from layer0.models import CreateServiceRequest
from layer0.stores import jobs as job_store
from layer0.stores import tags as tag_store
from tests.conftest import setup_client
from tests.workflows.helpers import execution_arn, wait_for_end
from tests.workflows.test_services_rollout import (  # noqa: F401 - fixtures
    create_environment,
    create_service,
    finish,
    machines,
    moto_service,
    polls,
    register_deploy,
    register_instances,
)


def running_service(polls, machines, name: str = "guestbook"):
    """An environment with two instances, and a steady service with two tasks its deployment started (one per
    instance: both use host port 80)."""
    environment_id = create_environment("web", count=2)
    register_instances(environment_id)
    service, job = create_service(polls, environment_id, name, register_deploy("guestbook"))
    assert finish(machines, job.job_id)["status"] == "SUCCEEDED"
    cluster = f"l0-l0-{environment_id}"
    deployment_id = service.deployments[0].deployment_id
    ecs = setup_client("ecs")
    arns = [
        ecs.run_task(cluster=cluster, taskDefinition="l0-l0-guestbook:1", startedBy=deployment_id)["tasks"][0]["taskArn"]
        for _ in range(2)
    ]
    return environment_id, service.service_id, arns


def tasks(environment_id: str, arns: list[str]) -> list[dict]:
    return setup_client("ecs").describe_tasks(cluster=f"l0-l0-{environment_id}", tasks=arns)["tasks"]


def delete(machines, service_id: str) -> tuple[str, dict]:
    job = services.start_delete(service_id)
    return job.job_id, wait_for_end(execution_arn(machines[2], job.job_id))


def test_deleting_a_service_scales_it_to_zero_stops_its_tasks_and_forgets_it(polls, machines):
    environment_id, service_id, arns = running_service(polls, machines)

    job_id, described = delete(machines, service_id)

    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    stored = job_store.get(job_id)
    assert (stored.job_type, stored.job_status, stored.request) == (2, 3, service_id)
    ecs_service = moto_service(environment_id, service_id)
    assert (ecs_service.status, ecs_service.desired_count) == ("INACTIVE", 0)
    # The original never managed to stop them (docs/compatibility.md#services).
    assert [(t["desiredStatus"], t["stoppedReason"]) for t in tasks(environment_id, arns)] == [
        ("STOPPED", "Service deleted by User")
    ] * 2
    assert tag_store.select_by_type_and_id("service", service_id) == []
    assert tag_store.select_by_type("service_name") == []
    with pytest.raises(Layer0Error) as raised:
        services.get(service_id)
    assert raised.value.status == 404 and int(raised.value.code) == 28
    assert services.list_all() == []
    # The name is free again.
    again, _job = services.create(
        CreateServiceRequest(environment_id=environment_id, service_name="guestbook", deploy_id="guestbook.1")
    )
    assert again.service_name == "guestbook"


def test_every_step_can_run_again_and_a_rerun_after_a_failure_finishes(polls, machines, monkeypatch):
    environment_id, service_id, arns = running_service(polls, machines)

    def broken(service_id, environment_id):
        raise RuntimeError("the ECS API is down")

    with monkeypatch.context() as patch:
        patch.setitem(registry.STEPS, "service.delete_ecs_service", broken)
        failed_id, failed = delete(machines, service_id)
    assert failed["status"] == "FAILED"
    assert job_store.get(failed_id).meta["error"] == "RuntimeError: the ECS API is down"
    assert moto_service(environment_id, service_id).status == "ACTIVE"

    job_id, described = delete(machines, service_id)
    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    assert moto_service(environment_id, service_id).status == "INACTIVE"
    # Once nothing is left, each step is a no-op, and a new delete is a 404.
    for step in ("scale_to_zero", "stop_tasks", "delete_ecs_service"):
        registry.STEPS[f"service.{step}"](service_id=service_id, environment_id=environment_id)
        registry.STEPS[f"service.{step}"](service_id=service_id, environment_id=None)
    assert delete_service.delete_tags(service_id) == {"released": []}
    with pytest.raises(Layer0Error) as raised:
        services.start_delete(service_id)
    assert int(raised.value.code) == 28


def test_deleting_the_environment_deletes_its_services_their_tasks_tags_and_names(polls, machines):
    environment_id, service_id, arns = running_service(polls, machines)

    [dependency] = [d for d in delete_environment.list_dependencies(environment_id)["dependencies"] if d["kind"] == "service"]
    delete_environment.delete_dependency(environment_id, "service", dependency["id"])

    assert moto_service(environment_id, service_id).status == "INACTIVE"
    assert {t["stoppedReason"] for t in tasks(environment_id, arns)} == {"Service deleted by User"}
    assert tag_store.select_by_type_and_id("service", service_id) == []
    assert tag_store.select_by_type("service_name") == []
    assert [d for d in delete_environment.list_dependencies(environment_id)["dependencies"] if d["kind"] == "service"] == []


def test_the_delete_job_is_type_2_with_the_service_id_as_request(polls, machines):
    environment_id, service_id, _arns = running_service(polls, machines)
    job = services.start_delete(service_id)
    assert (job.job_type, job.request) == (int(jobs.JobType.DeleteService), service_id)
    assert wait_for_end(execution_arn(machines[2], job.job_id))["status"] == "SUCCEEDED"
