"""Managed scaling and Graviton end to end (docs/architecture.md#capacity-providers,
docs/compatibility.md#graviton-arm64): `python -m local` in a subprocess, whose ECS simulation acts as the
environments' capacity providers (local/ecs/capacity.py). Environments start with 0 instances; ECS (the simulation)
grows their groups from what waits in PROVISIONING and shrinks them by idle instances only."""

from __future__ import annotations

import time

import pytest

from tests.e2e.scenario import call, create_environment, eventually, session, wait_for_job
from tests.e2e.test_workload_scenarios import create_deploy, wait_for_deployment

SCALE_IN_AFTER_SECONDS = 3  # the simulated capacity provider's idle time before scale-in (--scale-in-after)


@pytest.fixture(scope="module")
def l0():
    yield from session("--scale-in-after", str(SCALE_IN_AFTER_SECONDS))


def sizes(l0, environment_id: str) -> tuple[int, int]:
    """(instances, desired capacity) of the group, as `PUT /admin/scale` reports them for a managed environment."""
    info = call(l0, "PUT", f"admin/scale/{environment_id}", json="").json()
    return info["scale_before_run"], info["desired_scale_after_run"]



def run_task(l0, environment_id: str, deploy_id: str, name: str) -> dict:
    body = {"environment_id": environment_id, "deploy_id": deploy_id, "task_name": name, "container_overrides": []}
    return wait_for_job(l0, call(l0, "POST", "task/", json=body, expected=202).headers["X-JobID"])


def test_a_managed_environment_grows_from_zero_and_scales_in_only_idle_instances(l0):
    environment = create_environment(l0, "managed")  # m3.medium, 0 instances
    environment_id = environment["environment_id"]
    assert (environment["scaling"], environment["architecture"], environment["cluster_count"]) == (
        "managed",
        "x86_64",
        0,
    )
    assert sizes(l0, environment_id) == (0, 0)

    # A service whose two copies need an instance each (2000 of an m3.medium's 3840 MiB) reaches its count.
    deploy = create_deploy(l0, "big", "LongRunning.Dockerrun.aws.json", memory=2000)["deploy_id"]
    response = call(
        l0, "POST", "service/", json={"environment_id": environment_id, "service_name": "web", "deploy_id": deploy}
    )
    service_id = response.json()["service_id"]
    assert wait_for_job(l0, response.headers["X-JobID"])["job_status"] == 3
    scaled = call(l0, "PUT", f"service/{service_id}/scale", json={"desired_count": 2})
    assert wait_for_job(l0, scaled.headers["X-JobID"])["job_status"] == 3
    steady = wait_for_deployment(l0, service_id)
    assert (steady["desired_count"], steady["running_count"]) == (2, 2)
    assert sizes(l0, environment_id) == (2, 2)

    # A task on it, with a log: it waits for a third instance, and its job for RUNNING.
    alpine = create_deploy(l0, "alpine", "Task.Dockerrun.aws.json", memory=2000)["deploy_id"]
    job = run_task(l0, environment_id, alpine, "once")
    assert (job["job_status"], job["job_type"]) == (3, 5), job
    [log] = eventually(lambda: call(l0, "GET", f"task/{job['meta']['task_id']}/logs").json(), "the task's log")
    assert log["name"] == "alpine" and log["lines"]

    # The task ends (sleep 10) and one service copy goes: two instances are idle, and go; the busy one stays.
    call(l0, "PUT", f"service/{service_id}/scale", json={"desired_count": 1})
    eventually(lambda: sizes(l0, environment_id) == (1, 1), "scale-in to the one busy instance")
    time.sleep(2 * SCALE_IN_AFTER_SECONDS)
    assert sizes(l0, environment_id) == (1, 1)
    service = call(l0, "GET", f"service/{service_id}").json()
    assert (service["desired_count"], service["running_count"]) == (1, 1)
    # Never a busy instance: the remaining copy never stopped, so the service ran two tasks in all (no replacement).
    logs = call(l0, "GET", f"service/{service_id}/logs").json()
    assert len(logs) == 2, logs

    deleted = call(l0, "DELETE", f"environment/{environment_id}", expected=202)
    assert wait_for_job(l0, deleted.headers["X-JobID"])["job_status"] == 3
    assert call(l0, "GET", "environment/").json() == []


def test_an_arm64_environment_runs_a_task(l0):
    environment = create_environment(l0, "graviton", instance_size="t4g.medium")
    environment_id = environment["environment_id"]
    assert (environment["architecture"], environment["instance_size"]) == ("arm64", "t4g.medium")
    deploy = create_deploy(l0, "armtask", "Task.Dockerrun.aws.json")["deploy_id"]

    job = run_task(l0, environment_id, deploy, "arm")

    assert (job["job_status"], job["job_type"]) == (3, 5), job
    [log] = eventually(lambda: call(l0, "GET", f"task/{job['meta']['task_id']}/logs").json(), "the task's log")
    assert log["lines"]
    assert call(l0, "GET", f"environment/{environment_id}").json()["architecture"] == "arm64"
    windows = {"environment_name": "winarm", "operating_system": "windows", "instance_size": "t4g.medium"}
    assert call(l0, "POST", "environment/", json=windows, expected=400).json()["error_code"] == 1
    deleted = call(l0, "DELETE", f"environment/{environment_id}", expected=202)
    assert wait_for_job(l0, deleted.headers["X-JobID"])["job_status"] == 3
