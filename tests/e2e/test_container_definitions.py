"""The rest of the container definition in local mode, as a user sees it
(docs/architecture.md#containers-in-local-mode): a task whose containers start in their dependsOn order (an init
container, then a database once its health check passes, then the app), whose app restarts in place under its
restartPolicy, and a service whose unhealthy tasks are replaced. `python -m local` in a subprocess, in real time:
restartAttemptPeriod is at least 60 s (ECS's minimum, which the API enforces), so this takes a minute and more."""

from __future__ import annotations

import base64
import json

import pytest

from tests.e2e.scenario import call, create_environment, embedded_aws, eventually, session, wait_for_job

INIT = {"name": "init", "image": "busybox", "memory": 32, "essential": False, "command": ["sleep", "1"]}
DB = {
    "name": "db",
    "image": "postgres",
    "memory": 64,
    "essential": False,
    "healthCheck": {"command": ["CMD-SHELL", "pg_isready"], "interval": 5, "retries": 1},
}
APP = {
    "Name": "app",  # keys match case-insensitively at every depth
    "Image": "app",
    "Memory": 64,
    "EntryPoint": ["/bin/sh", "-c"],
    "Command": ["sleep 60; exit 1"],
    "DependsOn": [{"ContainerName": "init", "Condition": "SUCCESS"}, {"containerName": "db", "condition": "HEALTHY"}],
    "RestartPolicy": {"Enabled": True, "RestartAttemptPeriod": 60},
}
SICK = {
    "name": "web",
    "image": "nginx",
    "memory": 64,
    "healthCheck": {"command": ["CMD-SHELL", "curl -f http://localhost/unhealthy"], "interval": 5, "retries": 1},
}


@pytest.fixture(scope="module")
def l0():
    yield from session()


def create_deploy(l0, name: str, *containers: dict) -> str:
    dockerrun = base64.b64encode(json.dumps({"containerDefinitions": list(containers)}).encode()).decode()
    return call(l0, "POST", "deploy/", json={"deploy_name": name, "dockerrun": dockerrun}).json()["deploy_id"]



def logs(l0, task_id: str) -> dict[str, list[str]]:
    return {log["name"]: log["lines"] for log in call(l0, "GET", f"task/{task_id}/logs").json()}


def test_dependencies_health_checks_and_restarts_in_local_mode(l0):
    environment = create_environment(l0, "containers")["environment_id"]
    stack = create_deploy(l0, "stack", APP, DB, INIT)
    sick = create_deploy(l0, "sick", SICK)
    task_request = {"environment_id": environment, "deploy_id": stack, "task_name": "stack"}
    task_job = call(l0, "POST", "task/", expected=202, json=task_request).headers["X-JobID"]
    service = call(
        l0, "POST", "service/", json={"environment_id": environment, "service_name": "sick", "deploy_id": sick}
    )
    job = wait_for_job(l0, task_job)
    assert job["job_status"] == 3, job
    task_id = job["meta"]["task_id"]
    ecs = embedded_aws(l0)("ecs")
    cluster = f"l0-l0-{environment}"

    # dependsOn: app starts only after init exited 0 and db's health check passed; the task runs from then on.
    def running() -> dict | None:
        [copy] = call(l0, "GET", f"task/{task_id}").json()["copies"]
        statuses = {d["container_name"]: d["last_status"] for d in copy["details"]}
        return copy if statuses.get("app") == "RUNNING" else None

    copy = eventually(running, "the app container runs")
    assert {d["container_name"]: (d["last_status"], d["exit_code"]) for d in copy["details"]}["init"] == ("STOPPED", 0)
    [described] = ecs.describe_tasks(cluster=cluster, tasks=[copy["task_copy_id"]])["tasks"]
    assert described["lastStatus"] == "RUNNING"
    assert {c["name"]: c["healthStatus"] for c in described["containers"]}["db"] == "HEALTHY"
    lines = logs(l0, task_id)
    assert lines["init"][-1] == "Slept 1 s; exiting with code 0"
    assert lines["app"][-1] == "Started after its dependencies: init SUCCESS, db HEALTHY"
    group, task_arn_id = "l0-l0", copy["task_copy_id"].split("/")[-1]
    started = {
        name: embedded_aws(l0)("logs").get_log_events(
            logGroupName=group, logStreamName=f"l0/{name}/{task_arn_id}", startFromHead=True
        )["events"][0]["timestamp"]
        for name in ("init", "db", "app")
    }
    assert started["app"] - started["db"] >= 5000  # db's first health check, 5 s after it started
    assert started["app"] - started["init"] >= 1000  # init's `sleep 1`

    # healthCheck: the service's task never becomes healthy, and ECS's scheduler stops it and starts another.
    def replaced() -> list[dict]:
        arns = ecs.list_tasks(cluster=cluster, desiredStatus="STOPPED")["taskArns"]
        stopped = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []
        return [t for t in stopped if t["stoppedReason"] == "Task failed container health checks"]

    [unhealthy, *_] = eventually(replaced, "an unhealthy service task is replaced")
    assert {c["name"]: c["healthStatus"] for c in unhealthy["containers"]} == {"web": "UNHEALTHY"}
    assert unhealthy["group"] == f"service:l0-l0-{service.json()['service_id']}"

    # restartPolicy: app exits 1 after 60 s and is restarted in place; the task keeps running.
    eventually(lambda: "Restarting in place (restart policy; restart 1)" in logs(l0, task_id)["app"], "the app restarts")
    assert logs(l0, task_id)["app"][-2:] == [
        "Slept 60 s; exiting with code 1",
        "Restarting in place (restart policy; restart 1)",
    ]
    task = call(l0, "GET", f"task/{task_id}").json()
    assert task["running_count"] == 1
    assert {d["container_name"]: d["last_status"] for d in task["copies"][0]["details"]}["app"] == "RUNNING"

    call(l0, "DELETE", f"service/{service.json()['service_id']}", expected=202)
    call(l0, "DELETE", f"task/{task_id}")
