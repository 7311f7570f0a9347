"""Local mode's ECS events (local/ecs/events.py): the ECS simulation tells the events function of every task change,
as EventBridge does on AWS, so that local mode's `GET /task` is as true as AWS's
(docs/architecture.md#the-read-model)."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from handlers import events
from layer0 import reconcile, tasks
from layer0.models import CreateTaskRequest
from layer0.stores import jobs as job_store
from layer0.stores import rows as row_store
from layer0.stores import tags as tag_store
from layer0.workflows import delete_environment
from local import lambda_runtime
from tests.conftest import setup_client
from tests.workflows.test_create_task import create_environment, machines, register_deploy, start  # noqa: F401

EVENTS_FUNCTION = "l0-l0-events"


class Clock:
    def __init__(self) -> None:
        self.now = float(int(time.time()))  # moved on by hand; real time, as the list drops expired rows

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def agent(machines, clock):  # noqa: F811
    """The ECS simulation with its events going to the events function, served in process as in local mode."""
    from local.ecs.agent import Agent, unpatch_moto_total_resources

    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}  # fmt: skip
    role = setup_client("iam").create_role(RoleName=EVENTS_FUNCTION, AssumeRolePolicyDocument=json.dumps(trust))
    lambda_runtime.create_function(setup_client("lambda"), EVENTS_FUNCTION, role["Role"]["Arn"])
    lambda_runtime.register(EVENTS_FUNCTION, events.handler)
    try:
        yield Agent(setup_client, events_function=EVENTS_FUNCTION, clock=clock)
    finally:
        lambda_runtime.unregister(EVENTS_FUNCTION)
        unpatch_moto_total_resources()


def test_a_finished_task_stays_listed_with_its_exit_code_after_ecs_forgets_it(machines, agent, clock):  # noqa: F811
    environment_id = create_environment("events")
    agent.sync_once()
    request = CreateTaskRequest(task_name="batch", environment_id=environment_id, deploy_id=register_deploy("alpine"))
    job_id, described = start(machines, request, agent)  # the job waits for the task to run
    assert described["status"] == "SUCCEEDED"
    task_id = job_store.get(job_id).meta["task_id"]
    arn = {t.key: t.value for t in tag_store.select_by_type_and_id("task", task_id)}["arn"]

    agent.sync_once()
    assert row_store.get("task", arn).fields["last_status"] == "RUNNING"
    clock.now += 11  # its `sleep 10` is over: the container exits 0 and the task stops
    assert not agent.sync_once().errors
    ecs = setup_client("ecs")
    assert ecs.describe_tasks(cluster=f"l0-l0-{environment_id}", tasks=[arn])["tasks"][0]["lastStatus"] == "STOPPED"

    assert [t.task_id for t in tasks.list_all()] == [task_id]
    row = row_store.get("task", arn)
    assert row.fields["last_status"] == "STOPPED"
    assert row.expires_at == int(clock.now) + 24 * 3600
    assert [e["detail"]["lastStatus"] for e in agent.events.sent] == ["RUNNING", "STOPPED"]
    assert [e["detail"]["version"] for e in agent.events.sent] == [1, 2]

    # ECS forgets a stopped task within about an hour: the read model still knows how it ended.
    from moto.ecs.models import ecs_backends

    backend = ecs_backends["123456789012"]["us-west-2"]
    cluster = backend.tasks[f"l0-l0-{environment_id}"]
    [key] = [k for k, task in cluster.items() if task.task_arn == arn]
    del cluster[key]
    assert setup_client("ecs").describe_tasks(cluster=f"l0-l0-{environment_id}", tasks=[arn])["tasks"] == []
    got = tasks.get(task_id)
    [copy] = got.copies
    assert copy.reason == "Essential container in task exited"
    assert [(d.container_name, d.exit_code, d.last_status) for d in copy.details] == [("alpine", 0, "STOPPED")]
    assert [t.task_id for t in tasks.list_all()] == [task_id]

    # The environment's delete, last step: no record of its tasks is left, finished ones included.
    delete_environment.delete_tags(environment_id)
    assert tasks.list_all() == []
    assert row_store.get("task", arn) is None


def test_the_simulation_tells_each_change_once(machines, agent, clock):  # noqa: F811
    environment_id = create_environment("quiet")
    agent.sync_once()
    start(
        machines,
        CreateTaskRequest(task_name="t", environment_id=environment_id, deploy_id=register_deploy("alpine")),
        agent,
    )
    for _ in range(3):
        agent.sync_once()
    assert [e["detail"]["lastStatus"] for e in agent.events.sent] == ["RUNNING"]
    assert dt.datetime.fromisoformat(agent.events.sent[0]["time"]).timestamp() == clock.now


@pytest.fixture
def quiet_agent():
    """The ECS simulation with no events function: every event is lost."""
    from local.ecs.agent import Agent, unpatch_moto_total_resources

    try:
        yield Agent(setup_client)
    finally:
        unpatch_moto_total_resources()


def test_the_reconcile_repairs_task_rows_whose_events_were_lost_and_records_tasks_from_before_the_read_model(
    machines,  # noqa: F811
    quiet_agent,
):
    environment_id = create_environment("lost")
    quiet_agent.sync_once()
    request = CreateTaskRequest(task_name="lost", environment_id=environment_id, deploy_id=register_deploy("alpine"))
    task_id = job_store.get(start(machines, request, quiet_agent)[0]).meta["task_id"]
    arn = {t.key: t.value for t in tag_store.select_by_type_and_id("task", task_id)}["arn"]
    quiet_agent.sync_once()
    assert row_store.get("task", arn).fields["last_status"] == "PENDING"  # no event came

    reconcile.run()
    assert row_store.get("task", arn).fields["last_status"] == "RUNNING"

    setup_client("ecs").stop_task(cluster=f"l0-l0-{environment_id}", task=arn, reason="Stopped in the console")
    quiet_agent.sync_once()
    reconcile.run()
    stopped = row_store.get("task", arn)
    assert (stopped.fields["last_status"], stopped.fields["stopped_reason"]) == ("STOPPED", "Stopped in the console")
    assert stopped.expires_at is not None

    # A task started before the read model existed: tags, no row.
    row_store.delete("task", arn)
    assert tasks.list_all() == []
    reconcile.run()
    assert [(t.task_id, t.task_name, t.environment_id) for t in tasks.list_all()] == [(task_id, "lost", environment_id)]


def test_the_job_writes_the_tasks_identity_even_when_an_event_lands_between_its_read_and_write(stack, monkeypatch):
    """A managed environment's task changes state several times in its first seconds: an event that lands in the
    middle of the job's write must not leave the row without the task's id (unlisted for good)."""
    arn = "arn:aws:ecs:us-west-2:123456789012:task/l0-l0-envid/abc"
    real_get = row_store.get
    landed = []

    def get_then_event(kind, entity_id):
        found = real_get(kind, entity_id)
        if not landed:
            landed.append(True)
            tasks.apply_state({"taskArn": arn, "lastStatus": "RUNNING", "version": 5, "startedBy": "l0-l0-"})
        return found

    monkeypatch.setattr(row_store, "get", get_then_event)
    tasks.write_row("racy12345678", "racy", "envid", "alpine.1", arn)
    monkeypatch.undo()

    row = row_store.get("task", arn)
    assert (row.fields["task_id"], row.fields["last_status"], row.version) == ("racy12345678", "RUNNING", 5)


def test_an_event_keeps_the_tasks_identity_when_the_job_writes_it_between_the_events_read_and_write(
    stack, monkeypatch
):
    """Three copies of a task started at once (`l0 task create --copies 3`): an event read the row before the job
    wrote the task's identity, and wrote after it. The event's write must not drop the identity, or the task is
    unlisted until the hourly reconcile."""
    arn = "arn:aws:ecs:us-west-2:123456789012:task/l0-l0-envid/def"
    real_get = row_store.get
    landed = []

    def get_then_job(kind, entity_id):
        found = real_get(kind, entity_id)
        if not landed:
            landed.append(True)
            tasks.write_row("racy23456789", "racy", "envid", "alpine.1", arn)
        return found

    monkeypatch.setattr(row_store, "get", get_then_job)
    assert tasks.apply_state({"taskArn": arn, "lastStatus": "RUNNING", "version": 3, "startedBy": "l0-l0-"})
    monkeypatch.undo()

    row = row_store.get("task", arn)
    assert (row.fields["task_id"], row.fields["last_status"], row.version) == ("racy23456789", "RUNNING", 3)
    assert [summary.task_id for summary in tasks.list_all()] == ["racy23456789"]
