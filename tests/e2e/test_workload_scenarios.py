"""docs/compatibility.md#smoke-scenarios, the deploy, service and task smoke tests (everything but the load balancer),
replayed over HTTP
against local mode as a user runs it: `python -m local` in a subprocess, whose ECS simulation places tasks on the
instances the scaler adds, runs them, writes their log lines and rolls services out.

Each request is what the l0 CLI sends for the command named in the comment. Environments start with 0 instances,
as `l0 environment create` does: every service and task gets its capacity from the debounced scaler run.
"""

from __future__ import annotations

import base64
import json
import time

import pytest

from tests.e2e.scenario import (
    FIXTURES,
    call,
    create_environment,
    resolve,
    resolve_all,
    resolve_deploy,
    session,
    wait_for_job,
)

DEPLOYMENT_DEADLINE_SECONDS = 180
STEADY_CHECKS = 3  # the CLI's `--wait` wants every deployment at desired == running on 3 checks


@pytest.fixture(scope="module")
def l0():
    yield from session()


def dockerrun(name: str, **changes) -> str:
    document = json.loads((FIXTURES / name).read_text())
    for container in document["containerDefinitions"]:
        container.update(changes)
    return base64.b64encode(json.dumps(document).encode()).decode()


def create_deploy(l0, name: str, fixture: str, **changes) -> dict:
    return call(l0, "POST", "deploy/", json={"deploy_name": name, "dockerrun": dockerrun(fixture, **changes)}).json()


def wait_for_deployment(l0, service_id: str) -> dict:
    """`l0 service create/scale/update --wait`: poll until every deployment has desired == running, 3 times."""
    deadline = time.monotonic() + DEPLOYMENT_DEADLINE_SECONDS
    steady = 0
    while True:
        service = call(l0, "GET", f"service/{service_id}").json()
        if all(d["desired_count"] == d["running_count"] for d in service["deployments"]):
            steady += 1
            if steady == STEADY_CHECKS:
                return service
        else:
            steady = 0
        assert time.monotonic() < deadline, f"service {service_id} never became steady: {service}"
        time.sleep(1)


def create_service(l0, environment_id: str, name: str, deploy: str) -> tuple[dict, str]:
    response = call(
        l0,
        "POST",
        "service/",
        json={"environment_id": environment_id, "service_name": name, "deploy_id": resolve_deploy(l0, deploy)},
    )
    return response.json(), response.headers["X-JobID"]


def test_deploy_scenario(l0):
    # deploy create Service.Dockerrun.aws.json guestbook1
    created = create_deploy(l0, "guestbook1", "Service.Dockerrun.aws.json")
    assert (created["deploy_id"], created["deploy_name"], created["version"]) == ("guestbook1.1", "guestbook1", "1")
    # deploy list; deploy list --all
    assert "guestbook1.1" in [d["deploy_id"] for d in call(l0, "GET", "deploy/").json()]
    # deploy get guestbook1; guestbook1:latest; guest*
    fetched = call(l0, "GET", f"deploy/{resolve_deploy(l0, 'guestbook1')}").json()
    document = json.loads(base64.b64decode(fetched["dockerrun"]))
    [container] = document["containerDefinitions"]
    assert (container["Name"], container["Image"], container["Memory"]) == (
        "guestbook", "quintilesims/guestbook:latest", 128
    )
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    assert resolve_deploy(l0, "guestbook1:latest") == "guestbook1.1"
    assert resolve_all(l0, "deploy", "guest*") == ["guestbook1.1"]
    # deploy delete guestbook1
    call(l0, "DELETE", f"deploy/{resolve_deploy(l0, 'guestbook1')}")
    assert call(l0, "GET", "deploy/guestbook1.1", expected=404).json()["error_code"] == 23
    assert resolve_all(l0, "deploy", "guest*") == []


def test_service_scenario(l0):
    # environment create test; deploy create Service.Dockerrun.aws.json guestbook
    test = create_environment(l0, "test")["environment_id"]
    create_deploy(l0, "guestbook", "Service.Dockerrun.aws.json")
    # service create test service1 guestbook:latest (the load balancer of the original scenario is issue 5's)
    service1, _ = create_service(l0, test, "service1", "guestbook:latest")
    assert (service1["service_name"], service1["environment_id"], service1["desired_count"]) == ("service1", test, 1)
    # service create --wait test service2 guestbook:latest
    service2, rollout2 = create_service(l0, test, "service2", "guestbook:latest")
    assert wait_for_job(l0, rollout2)["job_status"] == 3
    assert wait_for_deployment(l0, service2["service_id"])["running_count"] == 1
    # service create test service3 guestbook:latest
    service3, _ = create_service(l0, test, "service3", "guestbook:latest")
    # service list; service get service1
    names = sorted(s["service_name"] for s in call(l0, "GET", "service/").json())
    assert names == ["service1", "service2", "service3"]
    assert call(l0, "GET", f"service/{resolve(l0, 'service', 'service1', environment_id=test)}").json()[
        "service_id"
    ] == service1["service_id"]
    # service scale service1 2; scale --wait service2 2
    call(l0, "PUT", f"service/{service1['service_id']}/scale", json={"desired_count": 2})
    scaled = call(l0, "PUT", f"service/{service2['service_id']}/scale", json={"desired_count": 2})
    assert scaled.json()["desired_count"] == 2
    assert wait_for_job(l0, scaled.headers["X-JobID"])["job_status"] == 3
    for service in (service1, service2):
        steady = wait_for_deployment(l0, service["service_id"])
        assert (steady["desired_count"], steady["running_count"]) == (2, 2)
    # deploy create Service.Dockerrun.aws.json guestbook (revision 2); update service1/--wait service2/service3
    assert create_deploy(l0, "guestbook", "Service.Dockerrun.aws.json")["deploy_id"] == "guestbook.2"
    latest = resolve_deploy(l0, "guestbook:latest")
    for service in (service1, service2, service3):
        updated = call(l0, "PUT", f"service/{service['service_id']}/deploy", json={"deploy_id": latest})
        assert wait_for_job(l0, updated.headers["X-JobID"])["job_status"] == 3
        steady = wait_for_deployment(l0, service["service_id"])
        assert [d["deploy_id"] for d in steady["deployments"]] == ["guestbook.2"]
        assert steady["running_count"] == steady["desired_count"]
    # service logs service1; --tail 100; --start/--end
    logs = call(l0, "GET", f"service/{service1['service_id']}/logs").json()
    assert logs and all(log["name"] == "guestbook" for log in logs)
    assert all(log["lines"] for log in logs)
    tail = call(l0, "GET", f"service/{service1['service_id']}/logs?tail=1").json()
    assert all(len(log["lines"]) == 1 for log in tail)
    old = call(l0, "GET", f"service/{service1['service_id']}/logs?start=2001-01-01 01:01&end=2012-12-12 12:12")
    assert all(log["lines"] == [] for log in old.json())
    assert call(l0, "GET", f"service/{service1['service_id']}/logs?tail=x", expected=400).json()["error_code"] == 1
    # A failed rollout: service3 onto an image that cannot start ends the job in error, back on guestbook.2.
    broken = create_deploy(l0, "broken", "Service.Dockerrun.aws.json", image="quintilesims/fail:latest")
    updated = call(l0, "PUT", f"service/{service3['service_id']}/deploy", json={"deploy_id": broken["deploy_id"]})
    failed = wait_for_job(l0, updated.headers["X-JobID"])
    assert failed["job_status"] == 4, failed
    assert "CannotPullContainerError" in failed["meta"]["error"], failed
    rolled_back = wait_for_deployment(l0, service3["service_id"])
    assert [d["deploy_id"] for d in rolled_back["deployments"]] == ["guestbook.2"]
    # deploy delete guestbook:latest (twice)
    call(l0, "DELETE", f"deploy/{resolve_deploy(l0, 'guestbook:latest')}")
    call(l0, "DELETE", f"deploy/{resolve_deploy(l0, 'guestbook:latest')}")
    # service delete --wait service1
    deleted = call(l0, "DELETE", f"service/{service1['service_id']}", expected=202)
    job = wait_for_job(l0, deleted.headers["X-JobID"])
    assert (job["job_status"], job["job_type"]) == (3, 2), job
    assert call(l0, "GET", f"service/{service1['service_id']}", expected=404).json()["error_code"] == 28
    # environment delete --wait test
    job = wait_for_job(l0, call(l0, "DELETE", f"environment/{test}", expected=202).headers["X-JobID"])
    assert job["job_status"] == 3, job
    assert call(l0, "GET", "service/").json() == []


def test_task_scenario(l0):
    # environment create test; deploy create Task.Dockerrun.aws.json alpine
    test = create_environment(l0, "test")["environment_id"]
    create_deploy(l0, "alpine", "Task.Dockerrun.aws.json")
    alpine = resolve_deploy(l0, "alpine:latest")
    request = {"environment_id": test, "deploy_id": alpine, "container_overrides": []}
    # task create --wait test task1 alpine:latest
    job = wait_for_job(l0, call(l0, "POST", "task/", json={**request, "task_name": "task1"}, expected=202).headers["X-JobID"])
    assert (job["job_status"], job["job_type"]) == (3, 5), job
    task1 = job["meta"]["task_id"]
    assert call(l0, "GET", f"task/{task1}").json()["task_name"] == "task1"
    # task create --env alpine:key=val --copies 3 test task2 alpine:latest (the CLI creates one job per copy)
    overrides = [{"container_name": "alpine", "environment_overrides": {"key": "val"}}]
    job_ids = [
        call(l0, "POST", "task/", json={**request, "task_name": "task2", "container_overrides": overrides}, expected=202)
        .headers["X-JobID"]
        for _ in range(3)
    ]
    copies = [wait_for_job(l0, job_id) for job_id in job_ids]
    assert [copy["job_status"] for copy in copies] == [3, 3, 3], copies
    task2 = {copy["meta"]["task_id"] for copy in copies}
    assert len(task2) == 3
    # task list; list --all; get task1; get t*
    listed = call(l0, "GET", "task/").json()
    assert sorted(t["task_name"] for t in listed) == ["task1", "task2", "task2", "task2"]
    assert set(resolve_all(l0, "task", "task2", environment_id=test)) == task2
    assert set(resolve_all(l0, "task", "t*")) == task2 | {task1}
    got = call(l0, "GET", f"task/{task1}").json()
    assert (got["deploy_id"], got["environment_id"], len(got["copies"])) == (alpine, test, 1)
    # task logs task1; --tail 100; --start/--end
    [log] = call(l0, "GET", f"task/{task1}/logs").json()
    assert log["name"] == "alpine" and log["lines"]
    [tail] = call(l0, "GET", f"task/{task1}/logs?tail=100").json()
    assert tail["lines"] == log["lines"]
    [old] = call(l0, "GET", f"task/{task1}/logs?start=2001-01-01 01:01&end=2012-12-12 12:12").json()
    assert old["lines"] == []
    # task delete task1; deploy delete alpine:latest; environment delete --wait test
    call(l0, "DELETE", f"task/{task1}")
    assert call(l0, "GET", f"task/{task1}", expected=404).json()["error_code"] == 29
    call(l0, "DELETE", f"deploy/{alpine}")
    job = wait_for_job(l0, call(l0, "DELETE", f"environment/{test}", expected=202).headers["X-JobID"])
    assert job["job_status"] == 3, job
    assert call(l0, "GET", "task/").json() == []
