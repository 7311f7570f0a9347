"""`/job` and `GET /task/<job id>/logs` over HTTP, with the job machines running in moto (stubbed environment steps)."""

from __future__ import annotations

import pytest

from layer0 import jobs
from layer0.workflows import registry
from layer0.stores import jobs as job_store
from tests.workflows.helpers import execution_arn, job_machines, wait_for_end


@pytest.fixture
def jobs_stack(stack, monkeypatch):
    """The stack plus the workflow-step function and the job machines; the environment steps answer trivially.

    Yields job type -> state machine ARN. Separate from `stack`, so that tests without jobs stay fast.
    """

    def stub(**args):
        return {"dependencies": [], "gone": True}

    for name in [n for n in registry.STEPS if n.startswith("environment.")]:
        monkeypatch.setitem(registry.STEPS, name, stub)
    with job_machines(monkeypatch) as (machines, _waits):
        yield machines


def finished_job(machines, request="envabc12345"):
    job = jobs.create(jobs.JobType.DeleteEnvironment, request)
    described = wait_for_end(execution_arn(machines[1], job.job_id))
    assert described["status"] == "SUCCEEDED", described
    return job


def test_list_jobs(jobs_stack, api):
    assert api.get("/job").json() == []
    first, second = finished_job(jobs_stack), finished_job(jobs_stack, "envdef67890a")

    response = api.get("/job")

    assert response.status_code == 200
    listed = {job["job_id"]: job for job in response.json()}
    assert set(listed) == {first.job_id, second.job_id}
    assert listed[second.job_id]["request"] == "envdef67890a"
    assert api.get("/job/").status_code == 200  # the CLI's trailing slash


def test_get_job(jobs_stack, api):
    job = finished_job(jobs_stack)

    body = api.get(f"/job/{job.job_id}").json()

    assert body == {
        "job_id": job.job_id,
        "task_id": job.job_id,
        "job_status": 3,
        "job_type": 1,
        "request": "envabc12345",
        "time_created": job.time_created,
        "time_to_exist": job.time_to_exist,
        "meta": {},
    }
    assert body["time_created"].endswith("Z")


def test_get_unknown_job_is_404_code_25(jobs_stack, api):
    response = api.get("/job/0123456789ab")
    assert response.status_code == 404
    assert response.json() == {"error_code": 25, "message": "Job with id '0123456789ab' does not exist"}


def test_delete_job(jobs_stack, api):
    job = finished_job(jobs_stack)

    response = api.delete(f"/job/{job.job_id}")

    assert response.status_code == 200
    assert response.json() == ""
    assert api.get(f"/job/{job.job_id}").status_code == 404
    assert api.get("/tag?type=job").json() == []
    assert api.delete(f"/job/{job.job_id}").json()["error_code"] == 25


def test_job_logs_are_the_execution_history(jobs_stack, api):
    job = finished_job(jobs_stack)

    response = api.get(f"/task/{job.job_id}/logs")

    assert response.status_code == 200
    (log,) = response.json()
    assert log["name"] == "l0-l0-job-delete-environment"
    events = [line.split(" ")[1] for line in log["lines"]]
    assert events[0] == "ExecutionStarted" and events[-1] == "ExecutionSucceeded"
    assert any(line.endswith("TaskStateEntered SetCompleted") for line in log["lines"])
    tail = api.get(f"/task/{job.job_id}/logs", params={"tail": "3"}).json()[0]["lines"]
    assert tail == log["lines"][-3:]
    everything = api.get(
        f"/task/{job.job_id}/logs", params={"start": "2000-01-01 00:00", "end": "2999-12-31 23:59"}
    ).json()[0]["lines"]
    assert everything == log["lines"]
    assert api.get(f"/task/{job.job_id}/logs", params={"end": "2000-01-01 00:00"}).json()[0]["lines"] == []


@pytest.mark.parametrize(
    "params, message",
    [
        ({"tail": "ten"}, "Invalid value for 'tail': 'ten' is not an integer"),
        ({"start": "2026-11-26T17:00"}, "Invalid time for 'start': must be in format YYYY-MM-DD HH:MM"),
        ({"end": "yesterday"}, "Invalid time for 'end': must be in format YYYY-MM-DD HH:MM"),
    ],
)
def test_bad_log_parameters_are_400(jobs_stack, api, params, message):
    job = finished_job(jobs_stack)
    response = api.get(f"/task/{job.job_id}/logs", params=params)
    assert response.status_code == 400
    assert response.json() == {"error_code": 1, "message": message}


def test_logs_of_an_unknown_task_are_404_code_29(jobs_stack, api):
    response = api.get("/task/0123456789ab/logs")
    assert response.status_code == 404
    assert response.json() == {"error_code": 29, "message": "Task with id '0123456789ab' does not exist"}


def test_job_accepted_answers_202_with_location_and_job_id(jobs_stack):
    from handlers.api.jobs import job_accepted

    job = finished_job(jobs_stack)
    response = job_accepted(job)
    assert response.status_code == 202
    assert response.body == '""'
    assert response.headers["Location"] == f"/job/{job.job_id}"
    assert response.headers["X-JobID"] == job.job_id
    assert job_store.get(job.job_id).job_status == 3
