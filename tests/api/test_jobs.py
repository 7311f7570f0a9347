"""`/job` and `GET /task/<job id>/logs` over HTTP, with the job machines running in moto (stubbed environment steps)."""

from __future__ import annotations

import threading
import time

import boto3
import pytest

from layer0 import jobs
from layer0.workflows import registry
from layer0.stores import jobs as job_store
from layer0 import settings
from local.resources import REGION
from tests.conftest import setup_client
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
    stored = job_store.get(job.job_id)

    assert body == {
        "job_id": job.job_id,
        "task_id": job.job_id,
        "job_status": 3,
        "job_type": 1,
        "request": "envabc12345",
        "time_created": job.time_created,
        "time_to_exist": stored.time_to_exist,
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


def job_tags_expiry(job_id: str) -> int:
    item = setup_client("dynamodb").get_item(
        TableName=settings.get().tag_table, Key={"EntityType": {"S": "job"}, "EntityID": {"S": job_id}}
    )["Item"]
    return int(item["TimeToExist"]["N"])


@pytest.fixture
def blocked_step(jobs_stack, monkeypatch):
    """The create-task step (`task.run`) waits until the test releases it: its job runs as long as the test wants.

    Yields (started, release) events."""
    started, release = threading.Event(), threading.Event()

    def run(**args):
        started.set()
        release.wait(30)
        return {"task_id": "t", "task_arn": "arn"}

    monkeypatch.setitem(registry.STEPS, "task.run", run)
    try:
        yield started, release
    finally:
        release.set()


def test_a_running_job_keeps_its_row_past_the_longest_job_and_delete_works_on_it(jobs_stack, blocked_step, api):
    started, release = blocked_step
    job = jobs.create(jobs.JobType.CreateTask, '{"task_name": "t"}')
    assert started.wait(30), "the job never reached its step"
    longest = max(machine.timeout_seconds for machine in registry.MACHINES.values())

    running = api.get(f"/job/{job.job_id}").json()

    assert running["job_status"] == 2
    # The row outlives the longest a job may run (the create-task machine's 25 h), not 6 hours from its creation.
    assert running["time_to_exist"] > int(time.time()) + longest
    assert registry.MACHINES[jobs.JobType.CreateTask].timeout_seconds == longest
    assert job_tags_expiry(job.job_id) == running["time_to_exist"]  # its tags too

    deleted = api.delete(f"/job/{job.job_id}")
    release.set()

    assert (deleted.status_code, deleted.json()) == (200, "")
    assert wait_for_end(execution_arn(jobs_stack[5], job.job_id))["status"] == "ABORTED"
    assert api.get(f"/job/{job.job_id}").status_code == 404


def test_every_machine_ends_within_the_rows_lifetime_before_the_end():
    for machine in registry.MACHINES.values():
        assert machine.timeout_seconds < jobs.LONGEST_JOB_SECONDS, machine.slug


@pytest.mark.parametrize("fails", [False, True])
def test_an_ended_job_expires_six_hours_after_its_end(jobs_stack, monkeypatch, fails):
    if fails:

        def broken(**args):
            raise ValueError("cluster still has services")

        monkeypatch.setitem(registry.STEPS, "environment.delete_cluster", broken)
    job = jobs.create(jobs.JobType.DeleteEnvironment, "envabc12345")
    before_end = int(time.time())
    described = wait_for_end(execution_arn(jobs_stack[1], job.job_id))
    after_end = int(time.time()) + 1

    stored = job_store.get(job.job_id)

    assert (described["status"], stored.job_status) == (("FAILED", 4) if fails else ("SUCCEEDED", 3))
    assert before_end + jobs.TTL_SECONDS <= stored.time_to_exist <= after_end + jobs.TTL_SECONDS
    assert job_tags_expiry(job.job_id) == stored.time_to_exist


def test_list_jobs_marks_those_whose_execution_ended_unmarked_as_error(jobs_stack, blocked_step, api):
    started, release = blocked_step
    job = jobs.create(jobs.JobType.CreateTask, '{"task_name": "t"}')
    assert started.wait(30)
    done = finished_job(jobs_stack)
    execution = execution_arn(jobs_stack[5], job.job_id)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    assert [j["job_status"] for j in api.get("/job").json() if j["job_id"] == job.job_id] == [2]
    # Stopped from outside Layer0 (the console, say): no Catch runs, the row still says in progress.
    sfn.stop_execution(executionArn=execution, error="Operator", cause="stopped in the console")
    release.set()
    assert wait_for_end(execution)["status"] == "ABORTED"
    assert job_store.get(job.job_id).job_status == 2

    listed = {j["job_id"]: j for j in api.get("/job").json()}

    assert listed[job.job_id]["job_status"] == 4
    described = sfn.describe_execution(executionArn=execution)
    # The execution's error and cause when Step Functions reports them (moto does not for a stop), else its status.
    reason = jobs.describe_error(described["error"], described.get("cause")) if described.get("error") else None
    assert listed[job.job_id]["meta"] == {"error": reason or "ExecutionAborted"}
    assert listed[done.job_id]["job_status"] == 3
    stored = job_store.get(job.job_id)
    assert stored.job_status == 4  # kept, with its expiry from now
    assert stored.time_to_exist <= int(time.time()) + jobs.TTL_SECONDS


def test_a_job_marked_by_its_machine_after_it_was_read_keeps_the_machines_reason(jobs_stack, blocked_step, api):
    """A GET that read the row while the job ran, and asks Step Functions after the job's SetError step marked it
    and the execution failed, answers with the row as marked: the step's reason, not the execution's generic one."""
    started, release = blocked_step
    job = jobs.create(jobs.JobType.CreateTask, '{"task_name": "t"}')
    assert started.wait(30)
    stale = job_store.get(job.job_id)
    assert stale.job_status == 2
    execution = execution_arn(jobs_stack[5], job.job_id)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    # What the frame does when a step fails: SetError marks the row with the step's reason, then the execution fails.
    job_store.set_meta(job.job_id, {"error": "CannotPullContainerError: pull access denied"})
    jobs._mark(job.job_id, jobs.JobStatus.Error)
    sfn.stop_execution(executionArn=execution, error="Layer0.JobFailed", cause="A step of the job failed")
    release.set()
    wait_for_end(execution)

    answered = jobs._corrected(stale)

    assert answered.job_status == 4
    assert answered.meta == {"error": "CannotPullContainerError: pull access denied"}
    assert job_store.get(job.job_id).meta == {"error": "CannotPullContainerError: pull access denied"}
