"""`/task` over HTTP (docs/compatibility.md#routes, docs/compatibility.md#tasks, docs/compatibility.md#logs), with the
create-task machine running in moto and instances
registered by the local ECS agent simulation."""

from __future__ import annotations

import contextlib

import datetime as dt
import json

import pytest

from layer0 import settings
from layer0.stores import jobs as job_store
from layer0.stores import rows as row_store
from layer0.stores import tags as tag_store
from tests.conftest import setup_client
from tests.workflows.helpers import execution_arn, job_machines, wait_for_end
from tests.workflows.test_create_task import (  # noqa: F401
    agent,
    create_environment,
    ecs_task,
    register_deploy,
    wait_for_job,
)

DAY = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)).strftime("%Y-%m-%d")


@pytest.fixture
def machines(stack, monkeypatch):
    with job_machines(monkeypatch) as (arns, _waits):
        yield arns


@pytest.fixture
def place(machines, agent):  # noqa: F811 - the fixture imported above
    """An environment with one instance registered in its cluster, and a deploy of the Task fixture."""
    environment_id = create_environment("test")
    agent.sync_once()
    return environment_id, register_deploy("alpine")


def create_task(api, machines, agent, body: dict) -> tuple[str, str]:  # noqa: F811 - the fixture's value
    """POST /task, wait for its job; (job id, task id)."""
    response = api.post("/task", json=body)
    assert response.status_code == 202, response.text
    job_id = response.headers["X-JobID"]
    described = wait_for_job(machines, job_id, agent)
    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    job = api.get(f"/job/{job_id}").json()
    assert job["job_status"] == 3
    return job_id, job["meta"]["task_id"]


def test_post_task_answers_202_with_the_job_and_the_job_starts_the_task(api, machines, place, agent):  # noqa: F811 - the fixture imported above
    environment_id, deploy_id = place
    body = {
        "container_overrides": [{"container_name": "alpine", "environment_overrides": {"key": "val"}}],
        "deploy_id": deploy_id,
        "environment_id": environment_id,
        "task_name": "task1",
    }

    response = api.post("/task", json=body)

    assert response.status_code == 202
    assert response.json() == ""
    job_id = response.headers["X-JobID"]
    assert response.headers["Location"] == f"/job/{job_id}"
    job = api.get(f"/job/{job_id}").json()
    assert job["job_type"] == 5
    assert json.loads(job["request"]) == body
    wait_for_job(machines, job_id, agent)
    task_id = api.get(f"/job/{job_id}").json()["meta"]["task_id"]
    task = api.get(f"/task/{task_id}").json()
    assert task["task_name"] == "task1"
    assert task["environment_id"] == environment_id
    assert task["environment_name"] == "test"
    assert (task["deploy_id"], task["deploy_name"], task["deploy_version"]) == (deploy_id, "alpine", "1")
    assert task["running_count"] + task["pending_count"] == 1
    [copy] = task["copies"]
    assert copy["task_copy_id"].startswith("arn:aws:ecs:")
    assert [detail["container_name"] for detail in copy["details"]] == ["alpine"]


def test_legacy_copies_and_key_case_are_accepted(api, machines, place, agent):  # noqa: F811 - the fixture imported above
    environment_id, deploy_id = place
    body = {"Task_Name": "legacy", "Environment_ID": environment_id, "Deploy_ID": deploy_id, "copies": 3,
            "container_overrides": None}  # fmt: skip

    _, task_id = create_task(api, machines, agent, body)

    assert api.get(f"/task/{task_id}").json()["task_name"] == "legacy"
    # One job starts one task, whatever `copies` says (the CLI sends one job per copy).
    assert len(setup_client("ecs").list_tasks(cluster=f"l0-l0-{environment_id}")["taskArns"]) == 1


@pytest.mark.parametrize(
    "missing, code",
    [("task_name", 19), ("environment_id", 19), ("deploy_id", 19)],
)
def test_missing_fields_are_400_code_19_and_make_no_job(api, machines, place, missing, code):
    environment_id, deploy_id = place
    body = {"task_name": "t", "environment_id": environment_id, "deploy_id": deploy_id}
    body[missing] = ""

    response = api.post("/task", json=body)

    assert response.status_code == 400
    assert response.json() == {"error_code": code, "message": f"Parameter '{missing}' is required"}
    assert api.get("/job").json() == []


def test_unknown_environment_or_deploy_is_404_and_makes_no_job(api, machines, place):
    environment_id, deploy_id = place

    no_environment = api.post("/task", json={"task_name": "t", "environment_id": "nope", "deploy_id": deploy_id})
    no_deploy = api.post("/task", json={"task_name": "t", "environment_id": environment_id, "deploy_id": "nope.1"})
    no_container = api.post(
        "/task",
        json={"task_name": "t", "environment_id": environment_id, "deploy_id": deploy_id,
              "container_overrides": [{"container_name": "web", "environment_overrides": {"a": "b"}}]},
    )  # fmt: skip
    bad_json = api.post("/task", data="{not json", headers={"Content-Type": "application/json"})
    assert api.delete(f"/deploy/{deploy_id}").status_code == 200
    deleted_deploy = api.post("/task", json={"task_name": "t", "environment_id": environment_id, "deploy_id": deploy_id})

    assert (no_environment.status_code, no_environment.json()["error_code"]) == (404, 24)
    assert (no_deploy.status_code, no_deploy.json()["error_code"]) == (404, 23)
    assert (no_container.status_code, no_container.json()["error_code"]) == (400, 1)
    assert "has no such container (it has alpine)" in no_container.json()["message"]
    assert (bad_json.status_code, bad_json.json()["error_code"]) == (400, 1)
    assert (deleted_deploy.status_code, deleted_deploy.json()["error_code"]) == (404, 23)
    assert api.get("/job").json() == []
    assert api.get("/task").json() == []


def test_list_get_and_delete(api, machines, place, agent):  # noqa: F811 - the fixture imported above
    environment_id, deploy_id = place
    _, first = create_task(api, machines, agent, {"task_name": "first", "environment_id": environment_id, "deploy_id": deploy_id})
    _, second = create_task(api, machines, agent, {"task_name": "second", "environment_id": environment_id, "deploy_id": deploy_id})

    listed = api.get("/task")

    assert listed.status_code == 200
    assert sorted(listed.json(), key=lambda t: t["task_name"]) == [
        {"task_id": first, "task_name": "first", "environment_id": environment_id, "environment_name": "test"},
        {"task_id": second, "task_name": "second", "environment_id": environment_id, "environment_name": "test"},
    ]
    assert api.get("/task/").status_code == 200  # the CLI's trailing slash
    arn = api.get(f"/task/{first}").json()["copies"][0]["task_copy_id"]

    deleted = api.delete(f"/task/{first}")

    assert (deleted.status_code, deleted.json()) == (200, "")
    stopped = ecs_task(environment_id, arn)
    assert stopped["desiredStatus"] == "STOPPED"
    assert stopped["stoppedReason"] == "Task deleted by user"
    assert tag_store.select_by_type_and_id("task", first) == []
    assert [t["task_id"] for t in api.get("/task").json()] == [second]
    for method, path in (("GET", f"/task/{first}"), ("DELETE", f"/task/{first}"), ("GET", "/task/nothere1234")):
        response = api.request(method, path)
        assert response.status_code == 404
        assert response.json()["error_code"] == 29


def test_expired_tags_and_vanished_tasks_do_not_break_the_list(api, machines, place, agent):  # noqa: F811 - the fixture imported above
    environment_id, deploy_id = place
    _, kept = create_task(api, machines, agent, {"task_name": "kept", "environment_id": environment_id, "deploy_id": deploy_id})
    _, expired = create_task(api, machines, agent, {"task_name": "expired", "environment_id": environment_id, "deploy_id": deploy_id})
    # The TTL removed one finished task's records (its row and its tags); other tasks have tags but no row: one names
    # an ECS task ECS has forgotten, one names a deleted environment, and one lost all but its name.
    row_store.delete("task", {t.key: t.value for t in tag_store.select_by_type_and_id("task", expired)}["arn"])
    tag_store.delete_entity("task", expired)
    gone_arn = "arn:aws:ecs:us-west-2:123456789012:task/l0-l0-" + environment_id + "/0123456789abcdef"
    for key, value in (("name", "ghost"), ("environment_id", environment_id), ("deploy_id", deploy_id), ("arn", gone_arn)):
        tag_store.insert(tag_store.Tag(entity_type="task", entity_id="ghost1234567", key=key, value=value))
    for key, value in (("name", "lost"), ("environment_id", "deletedenv12"), ("arn", gone_arn)):
        tag_store.insert(tag_store.Tag(entity_type="task", entity_id="lost12345678", key=key, value=value))
    tag_store.insert(tag_store.Tag(entity_type="task", entity_id="partial12345", key="name", value="partial"))

    listed = api.get("/task")

    assert listed.status_code == 200
    assert [t["task_id"] for t in listed.json()] == [kept]
    assert api.get(f"/task/{expired}").status_code == 404
    assert api.get("/task/ghost1234567").json()["error_code"] == 29
    assert api.get("/task/lost12345678").json()["error_code"] == 29
    assert api.get("/task/partial12345").json()["error_code"] == 29
    # A task whose ECS task is gone can still be deleted (its tags go).
    assert api.delete("/task/ghost1234567").status_code == 200
    assert tag_store.select_by_type_and_id("task", "ghost1234567") == []


def _write_log(stream: str, lines: list[tuple[str, str]]) -> None:
    client = setup_client("logs")
    group = settings.get().log_group
    # Only these lines: the job waited for the task to run, and the ECS simulation logged its start there.
    with contextlib.suppress(client.exceptions.ResourceNotFoundException):
        client.delete_log_stream(logGroupName=group, logStreamName=stream)
    client.create_log_stream(logGroupName=group, logStreamName=stream)
    client.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[
            {
                "timestamp": int(dt.datetime.strptime(f"{DAY} {at}", "%Y-%m-%d %H:%M").replace(tzinfo=dt.timezone.utc).timestamp() * 1000),
                "message": message,
            }
            for at, message in lines
        ],
    )


def test_logs_of_a_task(api, machines, place, agent):  # noqa: F811 - the fixture imported above
    environment_id, deploy_id = place
    _, task_id = create_task(api, machines, agent, {"task_name": "logs", "environment_id": environment_id, "deploy_id": deploy_id})
    arn = api.get(f"/task/{task_id}").json()["copies"][0]["task_copy_id"]
    ecs_id = arn.rsplit("/", 1)[-1]
    _write_log(f"l0/alpine/{ecs_id}", [(f"10:0{n}", f"line {n}") for n in range(5)])
    _write_log("l0/alpine/someone-else", [("10:00", "not mine")])

    everything = api.get(f"/task/{task_id}/logs")
    tail = api.get(f"/task/{task_id}/logs", params={"tail": "2"})
    window = api.get(f"/task/{task_id}/logs", params={"start": f"{DAY} 10:01", "end": f"{DAY} 10:03"})

    assert everything.status_code == 200
    assert everything.json() == [{"name": "alpine", "lines": [f"line {n}" for n in range(5)]}]
    assert tail.json() == [{"name": "alpine", "lines": ["line 3", "line 4"]}]
    assert window.json() == [{"name": "alpine", "lines": ["line 1", "line 2", "line 3"]}]


def test_bad_tail_or_time_is_400_code_1(api, machines, place, agent):  # noqa: F811 - the fixture imported above
    environment_id, deploy_id = place
    _, task_id = create_task(api, machines, agent, {"task_name": "bad", "environment_id": environment_id, "deploy_id": deploy_id})

    tail = api.get(f"/task/{task_id}/logs", params={"tail": "ten"})
    start = api.get(f"/task/{task_id}/logs", params={"start": "yesterday"})

    assert (tail.status_code, tail.json()["error_code"]) == (400, 1)
    assert (start.status_code, start.json()) == (
        400,
        {"error_code": 1, "message": "Invalid time for 'start': must be in format YYYY-MM-DD HH:MM"},
    )


def test_logs_of_a_job_id_are_its_execution_history(api, machines, place, agent):  # noqa: F811 - the fixture imported above
    environment_id, deploy_id = place
    job_id, _ = create_task(api, machines, agent, {"task_name": "job", "environment_id": environment_id, "deploy_id": deploy_id})

    response = api.get(f"/task/{job_id}/logs")

    assert response.status_code == 200
    [log] = response.json()
    assert log["name"] == "l0-l0-job-create-task"
    assert any("task.run" in line for line in log["lines"])
    assert job_store.get(job_id).task_id == job_id


def test_logs_of_neither_a_task_nor_a_job_are_404_code_29(api, machines):
    response = api.get("/task/0123456789ab/logs")

    assert response.status_code == 404
    assert response.json()["error_code"] == 29


def test_deleting_an_environment_forgets_its_finished_tasks_too(api, machines, place, agent):  # noqa: F811 - the fixture imported above
    """Ghost tasks: a task that had stopped before its environment was deleted stayed listed by GET /task, with an
    empty environment name."""
    environment_id, deploy_id = place
    _, finished = create_task(api, machines, agent, {"task_name": "finished", "environment_id": environment_id, "deploy_id": deploy_id})
    _, running = create_task(api, machines, agent, {"task_name": "running", "environment_id": environment_id, "deploy_id": deploy_id})
    ecs = setup_client("ecs")
    finished_arn = api.get(f"/task/{finished}").json()["copies"][0]["task_copy_id"]
    ecs.stop_task(cluster=f"l0-l0-{environment_id}", task=finished_arn, reason="Essential container exited")
    assert sorted(t["task_id"] for t in api.get("/task").json()) == sorted([finished, running])

    deleted = api.delete(f"/environment/{environment_id}")
    assert deleted.status_code == 202, deleted.text
    described = wait_for_end(execution_arn(machines[1], deleted.headers["X-JobID"]))
    assert described["status"] == "SUCCEEDED", api.get(f"/job/{deleted.headers['X-JobID']}").json()["meta"]

    assert api.get("/task").json() == []
    assert tag_store.select_by_type("task") == []
    for task_id in (finished, running):
        assert api.get(f"/task/{task_id}").json()["error_code"] == 29


def test_a_task_record_whose_environment_is_gone_is_not_listed(api, machines, place, agent):  # noqa: F811 - the fixture imported above
    """A record left behind by an earlier version (or a delete that failed before its last step) names a deleted
    environment: ECS (moto, at least) still lists the stopped task, but GET /task does not."""
    environment_id, deploy_id = place
    _, finished = create_task(api, machines, agent, {"task_name": "finished", "environment_id": environment_id, "deploy_id": deploy_id})
    record = tag_store.select_by_type_and_id("task", finished)
    arn = {t.key: t.value for t in record}["arn"]
    setup_client("ecs").stop_task(cluster=f"l0-l0-{environment_id}", task=arn, reason="Essential container exited")
    deleted = api.delete(f"/environment/{environment_id}")
    assert wait_for_end(execution_arn(machines[1], deleted.headers["X-JobID"]))["status"] == "SUCCEEDED"
    for tag in record:
        tag_store.insert(tag)
    assert arn in setup_client("ecs").list_tasks(cluster=f"l0-l0-{environment_id}", desiredStatus="STOPPED")["taskArns"]

    assert api.get("/task").json() == []
