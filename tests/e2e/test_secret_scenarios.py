"""Secrets end to end in local mode (docs/compatibility.md#secrets), as a user runs them: `python -m local` in a
subprocess, a secret made with `POST /secret`, a deploy that names it, and tasks of that deploy.

- the task's container logs the names of its secrets, never the value;
- a deploy that names a secret ARN that does not exist registers, and its task fails to start with ECS's reason;
- deleting the secret makes the next task of the deploy fail to start too;
- afterwards, the value is in no output of local mode (its log: the API's, the steps', the simulation's), no
  container log, no job (its request and its execution history) and no answer.
"""

from __future__ import annotations

import base64
import json
import time

import pytest

from tests.e2e.scenario import call, create_environment, session, wait_for_job

VALUE = "e2e-Secret-Value-91c4"
TASK_DEADLINE_SECONDS = 120
# A task that runs long enough to be looked at.
CONTAINER = {"name": "app", "image": "alpine", "memory": 64, "command": ["sleep", "600"], "essential": True}


@pytest.fixture(scope="module")
def l0():
    yield from session()


def dockerrun(*secrets: dict) -> str:
    document = {"containerDefinitions": [{**CONTAINER, "secrets": list(secrets)}]}
    return base64.b64encode(json.dumps(document).encode()).decode()


def run_task(l0, environment_id: str, deploy_id: str, name: str) -> str:
    body = {"task_name": name, "environment_id": environment_id, "deploy_id": deploy_id, "container_overrides": []}
    job = wait_for_job(l0, call(l0, "POST", "task/", json=body, expected=202).headers["X-JobID"])
    assert job["job_status"] == 3, job
    return job["meta"]["task_id"]


def run_task_that_cannot_start(l0, environment_id: str, deploy_id: str, name: str) -> str:
    """The create-task job waits for the task to run: one that stops first ends the job in error with its reason."""
    body = {"task_name": name, "environment_id": environment_id, "deploy_id": deploy_id, "container_overrides": []}
    job = wait_for_job(l0, call(l0, "POST", "task/", json=body, expected=202).headers["X-JobID"])
    assert job["job_status"] == 4, job
    assert "ResourceInitializationError" in job["meta"]["error"], job
    return job["meta"]["task_id"]


def wait_for_task(l0, task_id: str, done) -> dict:
    deadline = time.monotonic() + TASK_DEADLINE_SECONDS
    while True:
        task = call(l0, "GET", f"task/{task_id}").json()
        if done(task):
            return task
        assert time.monotonic() < deadline, f"task {task_id}: {task}"
        time.sleep(1)


def stopped_reason(task: dict) -> str:
    return task["copies"][0]["reason"] if task["copies"] else ""


def test_a_task_receives_its_secrets_and_no_value_leaks(l0):
    secret = call(l0, "POST", "secret/", json={"secret_name": "db-password", "value": VALUE}).json()
    assert secret["secret_name"] == "db-password" and VALUE not in json.dumps(secret)
    environment = create_environment(l0, "secrets")["environment_id"]

    # A deploy naming the secret by its Layer0 name: registered with its ARN.
    deploy = call(
        l0,
        "POST",
        "deploy/",
        json={"deploy_name": "withsecret", "dockerrun": dockerrun({"name": "DB_PASSWORD", "valueFrom": "db-password"})},
    ).json()
    container = json.loads(base64.b64decode(deploy["dockerrun"]))["containerDefinitions"][0]
    assert container["Secrets"] == [{"Name": "DB_PASSWORD", "ValueFrom": secret["secret_arn"]}]

    # Its task starts, and its container's first lines name the secret.
    task_id = run_task(l0, environment, deploy["deploy_id"], "reader")
    wait_for_task(l0, task_id, lambda task: task["running_count"] == 1)
    [log] = call(l0, "GET", f"task/{task_id}/logs").json()
    assert log["lines"][1] == "Secrets: DB_PASSWORD (values not shown)", log

    # An ARN under the instance's prefix that does not exist registers; the task fails to start with ECS's reason.
    missing_arn = secret["secret_arn"].replace("db-password", "never-made")
    missing = call(
        l0,
        "POST",
        "deploy/",
        json={"deploy_name": "missing", "dockerrun": dockerrun({"name": "X", "valueFrom": missing_arn})},
    ).json()
    failed = wait_for_task(
        l0, run_task_that_cannot_start(l0, environment, missing["deploy_id"], "broken"), stopped_reason
    )
    assert stopped_reason(failed).startswith(
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "
        "unable to retrieve secret from asm"
    ), failed
    assert stopped_reason(failed).endswith(
        "ResourceNotFoundException: Secrets Manager can't find the specified secret."
    )
    assert failed["running_count"] == 0

    # A deleted secret: the deploy stays, its next task cannot start.
    assert call(l0, "DELETE", "secret/db-password", expected=204).text == ""
    assert call(l0, "GET", "secret/").json() == []
    after = wait_for_task(l0, run_task_that_cannot_start(l0, environment, deploy["deploy_id"], "late"), stopped_reason)
    assert "marked for deletion" in stopped_reason(after), after

    # The value is nowhere: local mode's whole output, every job and its history, every container log, every answer.
    seen: list[str] = [l0.local.output]
    for job in call(l0, "GET", "job/").json():
        seen.append(json.dumps(job))
        seen.append(call(l0, "GET", f"task/{job['job_id']}/logs").text)
    for task in call(l0, "GET", "task/").json():
        seen.append(call(l0, "GET", f"task/{task['task_id']}").text)
        seen.append(call(l0, "GET", f"task/{task['task_id']}/logs").text)
    for deploy_summary in call(l0, "GET", "deploy/").json():
        answer = call(l0, "GET", f"deploy/{deploy_summary['deploy_id']}").json()
        seen.append(base64.b64decode(answer["dockerrun"]).decode())
    assert len(seen) > 5
    assert "db-password" in "".join(seen)  # what was scanned does talk about the secret
    for text in seen:
        assert VALUE not in text
        assert base64.b64encode(VALUE.encode()).decode() not in text
