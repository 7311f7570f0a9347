"""Job type 5 end to end in moto: the create-task machine (functions/layer0/workflows/) running layer0.workflows.create_task.run through
the workflow-step function, against environments with (or without) container instances registered by the local
ECS agent simulation."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from layer0.contract import JobType
from layer0.workflows import create_task, delete_environment, registry
from layer0 import aws, deploys, environments, scaler, tasks
from layer0.models import CreateDeployRequest, CreateEnvironmentRequest, CreateTaskRequest, Job
from layer0.stores import jobs as job_store
from layer0.stores import tags as tag_store
from tests.conftest import setup_client
from tests.workflows.helpers import execution_arn, job_machines, wait_for_end

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"  # the original Layer0's smoke-test fixtures


# --- helpers, shared with tests/api/test_tasks.py -----------------------------------------------------------------


@pytest.fixture
def agent():
    """The local ECS agent simulation (registers ASG instances as container instances); its moto patch is undone after."""
    from local.ecs.agent import Agent, unpatch_moto_total_resources

    try:
        yield Agent(setup_client)
    finally:
        unpatch_moto_total_resources()


def create_environment(name: str, count: int = 1, scaling: str = "") -> str:
    request = CreateEnvironmentRequest(
        environment_name=name,
        operating_system="linux",
        instance_size="t3.small",
        min_cluster_count=count,
        scaling=scaling,
    )
    return environments.create(request).environment_id


def register_deploy(name: str, fixture: str = "Task.Dockerrun.aws.json", memory: int | None = None) -> str:
    """A deploy made as POST /deploy makes it, from a fixture Dockerrun (optionally with other memory). Its id."""
    dockerrun = json.loads((FIXTURES / fixture).read_text())
    if memory is not None:
        dockerrun["containerDefinitions"] = [{**c, "memory": memory} for c in dockerrun["containerDefinitions"]]
    return deploys.create(CreateDeployRequest(deploy_name=name, dockerrun=json.dumps(dockerrun).encode())).deploy_id


def ecs_task(environment_id: str, arn: str) -> dict:
    return setup_client("ecs").describe_tasks(cluster=f"l0-l0-{environment_id}", tasks=[arn])["tasks"][0]


# --- the machine --------------------------------------------------------------------------------------------------


@pytest.fixture
def machines(stack, monkeypatch):
    with job_machines(monkeypatch) as (arns, _waits):
        yield arns


class DebouncedScaler:
    """`scaler.request_run`, run at once and in order, by the real scaler: the first request (from POST /task or from
    the step's first capacity failure, whichever comes first) does nothing yet, as a run 10 s later would find
    nothing new; each later one runs the scaler, which sees the waiting job as a consumer and grows the ASG, and
    then the new instance's agent registers it."""

    def __init__(self, agent, monkeypatch):
        self.agent = agent
        self.requests = 0
        self.infos = []
        self.lock = threading.Lock()
        monkeypatch.setattr(scaler, "request_run", self)

    def __call__(self, environment_id: str) -> bool:
        with self.lock:
            self.requests += 1
            if self.requests == 2:
                self.infos.append(scaler.run(environment_id))
                self.agent.sync_once()
        return True


def start(machines, request: CreateTaskRequest, agent) -> tuple[str, dict]:
    """Start the job and wait for its end, the ECS simulation running meanwhile (the job waits for its task to run).
    The simulation's passes begin once the RunTask step is over (its task tagged, or the job ended), so that no
    pass lands between RunTask and the step's own writes: the tests then see one order of events."""
    job = tasks.start_create(request)
    return job.job_id, wait_for_job(machines, job.job_id, agent)


def wait_for_job(machines, job_id: str, agent) -> dict:
    """`start`'s wait: for the RunTask step, then for the end with the simulation's passes."""
    execution = execution_arn(machines[5], job_id)
    sfn = setup_client("stepfunctions")
    deadline = time.monotonic() + 60
    while not job_store.get(job_id).meta.get("task_id"):
        if sfn.describe_execution(executionArn=execution)["status"] != "RUNNING":
            break
        assert time.monotonic() < deadline, f"job {job_id} never started its task"
        time.sleep(0.01)
    return wait_for_end(execution, agent)


def test_the_machine_is_deployed_with_the_others():
    assert registry.MACHINES[JobType.CreateTask] is create_task.MACHINE
    assert create_task.MACHINE.name("l0") == "l0-l0-job-create-task"
    # 24 hours of capacity retries fit in an execution's 25,000-event history (three events per attempt).
    retry = create_task.capacity_retry()
    assert retry.max_attempts * 3 < 25_000
    delays = [min(10 * 1.2**n, 60) for n in range(retry.max_attempts)]
    assert sum(delays) >= 24 * 3600
    assert create_task.MACHINE.timeout_seconds > 24 * 3600


def test_the_job_starts_the_task_and_names_it_in_meta(machines, agent):
    environment_id = create_environment("tasks")
    agent.sync_once()
    deploy_id = register_deploy("alpine")
    request = CreateTaskRequest(
        task_name="task1",
        environment_id=environment_id,
        deploy_id=deploy_id,
        container_overrides=[{"container_name": "alpine", "environment_overrides": {"key": "val"}}],
    )

    job_id, described = start(machines, request, agent)

    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    job = job_store.get(job_id)
    assert job.job_status == 3
    task_id = job.meta["task_id"]
    assert task_id.startswith("task1") and len(task_id) == 12
    values = {tag.key: tag.value for tag in tag_store.select_by_type_and_id("task", task_id)}
    assert {k: values[k] for k in ("name", "environment_id", "deploy_id")} == {
        "name": "task1",
        "environment_id": environment_id,
        "deploy_id": deploy_id,
    }
    task = ecs_task(environment_id, values["arn"])
    assert task["startedBy"] == "l0-l0-"
    assert task["taskDefinitionArn"].endswith(f":task-definition/l0-l0-{deploy_id.replace('.', ':')}")
    assert task["overrides"]["containerOverrides"] == [
        {"name": "alpine", "environment": [{"name": "key", "value": "val"}]}
    ]


def test_a_rerun_of_the_step_starts_no_second_task(machines, agent):
    environment_id = create_environment("rerun")
    agent.sync_once()
    request = CreateTaskRequest(task_name="once", environment_id=environment_id, deploy_id=register_deploy("alpine"))
    job_id, described = start(machines, request, agent)
    assert described["status"] == "SUCCEEDED"

    again = create_task.run(job_id, request.model_dump_json())

    assert again["task_id"] == job_store.get(job_id).meta["task_id"]
    listed = setup_client("ecs").list_tasks(cluster=f"l0-l0-{environment_id}")["taskArns"]
    assert listed == [again["task_arn"]]


def test_without_capacity_it_retries_until_the_scaler_adds_an_instance(machines, agent, monkeypatch):
    environment_id = create_environment("empty", count=0, scaling="layer0")
    agent.sync_once()
    request = CreateTaskRequest(task_name="waits", environment_id=environment_id, deploy_id=register_deploy("alpine"))
    runs = DebouncedScaler(agent, monkeypatch)

    job_id, described = start(machines, request, agent)

    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    [run] = runs.infos
    assert [c.id.split(",")[0] for c in run.pending_resources] == [f"Job: {job_id}"]
    assert run.desired_scale_after_run == 1
    history = setup_client("stepfunctions").get_execution_history(executionArn=execution_arn(machines[5], job_id))
    failed = [e for e in history["events"] if e["type"] == "TaskFailed"]
    assert failed and all(e["taskFailedEventDetails"]["error"] == "Retryable" for e in failed)
    assert "Failed to start task: RESOURCE:" in failed[0]["taskFailedEventDetails"]["cause"]
    task_id = job_store.get(job_id).meta["task_id"]
    assert tasks.get(task_id).task_name == "waits"
    # Once the task is started, the job is no consumer any more.
    assert not [c for c in scaler.consumers_of(f"l0-l0-{environment_id}") if c.id.startswith("Job:")]


def test_a_full_instance_is_no_room_either(machines, agent, monkeypatch):
    environment_id = create_environment("full", count=1, scaling="layer0")
    agent.sync_once()
    # A task that takes nearly all of the t3.small's 2048 MiB: moto then places no second task (and reports no
    # failure, where ECS says RESOURCE:MEMORY).
    big = register_deploy("big", memory=2000)
    setup_client("ecs").run_task(cluster=f"l0-l0-{environment_id}", taskDefinition=f"l0-l0-{big.replace('.', ':')}")
    request = CreateTaskRequest(task_name="squeezed", environment_id=environment_id, deploy_id=register_deploy("alpine"))
    runs = DebouncedScaler(agent, monkeypatch)

    job_id, described = start(machines, request, agent)

    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    task_id = job_store.get(job_id).meta["task_id"]
    instances = setup_client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[f"l0-l0-{environment_id}"])
    # The scaler grew the group for the job (moto leaves the big task PENDING, so the scaler counts it too).
    assert instances["AutoScalingGroups"][0]["DesiredCapacity"] >= 2
    assert [c.id for c in runs.infos[0].pending_resources if c.id.startswith("Job:")] == [
        f"Job: {job_id}, Deploy: alpine.1, Container: alpine"
    ]
    assert tasks.get(task_id).copies


def test_a_failure_other_than_capacity_fails_the_job_with_the_reason(machines, agent, monkeypatch):
    environment_id = create_environment("refused")
    agent.sync_once()
    request = CreateTaskRequest(task_name="refused", environment_id=environment_id, deploy_id=register_deploy("alpine"))
    ecs = aws.client("ecs")
    real_run_task = ecs.run_task

    def refuses(**kwargs):
        # What ECS answers when no instance satisfies a placement constraint (moto checks none).
        answer = real_run_task(**kwargs)
        ecs.stop_task(cluster=kwargs["cluster"], task=answer["tasks"][0]["taskArn"])
        return {"tasks": [], "failures": [{"arn": answer["tasks"][0]["containerInstanceArn"], "reason": "ATTRIBUTE"}]}

    monkeypatch.setattr(ecs, "run_task", refuses)

    job_id, described = start(machines, request, agent)

    assert described["status"] == "FAILED"
    job = job_store.get(job_id)
    assert job.job_status == 4
    assert job.meta["error"] == "TaskNotStarted: Failed to start task: ATTRIBUTE"
    assert "task_id" not in job.meta
    assert tasks.list_all() == []


def test_an_environment_deleted_before_the_job_runs_fails_the_job(machines, agent, monkeypatch):
    environment_id = create_environment("gone")
    agent.sync_once()
    request = CreateTaskRequest(task_name="orphan", environment_id=environment_id, deploy_id=register_deploy("alpine"))
    # The cluster disappears between POST /task and the step.
    monkeypatch.setattr(tasks, "_validate", lambda request: None)
    cluster = f"l0-l0-{environment_id}"
    ecs = setup_client("ecs")
    for arn in ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]:
        ecs.deregister_container_instance(cluster=cluster, containerInstance=arn, force=True)
    ecs.delete_cluster(cluster=cluster)

    job_id, described = start(machines, request, agent)

    assert described["status"] == "FAILED"
    assert job_store.get(job_id).meta["error"] == f"TaskNotStarted: Failed to start task: cluster {cluster} does not exist"


def test_deleting_the_environment_stops_its_tasks_and_forgets_them(machines, agent):
    environment_id = create_environment("doomed")
    agent.sync_once()
    request = CreateTaskRequest(task_name="doomed", environment_id=environment_id, deploy_id=register_deploy("alpine"))
    job_id, described = start(machines, request, agent)
    assert described["status"] == "SUCCEEDED"
    task_id = job_store.get(job_id).meta["task_id"]
    dependencies = delete_environment.list_dependencies(environment_id)["dependencies"]
    [arn] = [d["id"] for d in dependencies if d["kind"] == "task"]

    delete_environment.delete_dependency(environment_id, "task", arn)

    assert ecs_task(environment_id, arn)["desiredStatus"] == "STOPPED"
    assert tag_store.select_by_type_and_id("task", task_id) == []
    assert tasks.list_all() == []


def test_a_step_that_failed_after_runtask_starts_no_second_task_when_run_again(stack, agent, monkeypatch):
    environment_id = create_environment("crash")
    agent.sync_once()
    request = CreateTaskRequest(task_name="crash", environment_id=environment_id, deploy_id=register_deploy("alpine"))
    job = Job(job_id="0123456789ab", task_id="0123456789ab", job_status=2, job_type=5,
                        request=request.model_dump_json(), time_created="", time_to_exist=0)  # fmt: skip
    job_store.insert(job)
    real_tag = create_task._tag

    def lost(*args):
        raise ConnectionError("the Lambda died before it tagged the task")

    monkeypatch.setattr(create_task, "_tag", lost)
    with pytest.raises(ConnectionError):
        create_task.run(job.job_id, job.request)
    monkeypatch.setattr(create_task, "_tag", real_tag)

    result = create_task.run(job.job_id, job.request)

    # The second RunTask repeated the first one's client token: ECS answered with the task it had started.
    listed = setup_client("ecs").list_tasks(cluster=f"l0-l0-{environment_id}")["taskArns"]
    assert listed == [result["task_arn"]]
    assert job_store.get(job.job_id).meta == {"task_id": result["task_id"]}


def test_only_waiting_create_task_jobs_of_the_environment_are_scaler_consumers(stack):
    environment_id = create_environment("consumers", count=0)
    deploy_id = register_deploy("alpine")

    def job(job_id: str, *, status: int = 1, job_type: int = 5, environment: str = environment_id,
            deploy: str = deploy_id, meta: dict | None = None) -> None:  # fmt: skip
        request = CreateTaskRequest(task_name=job_id, environment_id=environment, deploy_id=deploy)
        job_store.insert(Job(job_id=job_id, task_id=job_id, job_status=status, job_type=job_type,
                             request=request.model_dump_json(), time_created="", time_to_exist=0, meta=meta or {}))  # fmt: skip

    job("pending00001")
    job("running00002", status=2)
    job("finished0003", status=3)
    job("failed000004", status=4)
    job("started00005", status=2, meta={"task_id": "started123ab"})
    job("otherenv0006", environment="otherenv1234")
    job("nodeploy0007", deploy="missing.9")
    job("deleteenv008", job_type=1)

    consumers = scaler.consumers_of(f"l0-l0-{environment_id}")

    assert sorted((c.id, c.memory) for c in consumers) == [
        (f"Job: pending00001, Deploy: {deploy_id}, Container: alpine", 100),
        (f"Job: running00002, Deploy: {deploy_id}, Container: alpine", 100),
    ]
