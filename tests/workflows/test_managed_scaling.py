"""Managed scaling (docs/architecture.md#capacity-providers) against moto and the local ECS simulation
(local/ecs/capacity.py): environments with a capacity provider that start with 0 instances, and scale-in that
never stops a busy instance."""

from __future__ import annotations

import json

import pytest

from layer0 import aws, capacity, deploys, environments, ids
from layer0.models import CreateDeployRequest, CreateEnvironmentRequest
from tests.conftest import setup_client
from tests.workflows.test_create_task import register_deploy


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def agent(clock):
    from local.ecs.agent import Agent, unpatch_moto_total_resources

    try:
        yield Agent(setup_client, clock=clock)
    finally:
        unpatch_moto_total_resources()


def managed_environment(name: str, count: int = 0, instance_size: str = "t3.small") -> str:
    request = CreateEnvironmentRequest(
        environment_name=name, operating_system="linux", instance_size=instance_size, min_cluster_count=count
    )
    return environments.create(request).environment_id


def group(environment_id: str) -> dict:
    return setup_client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[ids.aws_name(environment_id)]
    )["AutoScalingGroups"][0]


def run(environment_id: str, deploy_id: str, count: int = 1) -> list[str]:
    answer = aws.client("ecs").run_task(
        cluster=ids.aws_name(environment_id),
        taskDefinition=ids.task_definition(deploy_id),
        count=count,
        **capacity.launch_arguments(capacity.placement(environment_id)),
    )
    assert answer["failures"] == []
    return [t["taskArn"] for t in answer["tasks"]]


def statuses(environment_id: str, arns: list[str]) -> list[str]:
    tasks = setup_client("ecs").describe_tasks(cluster=ids.aws_name(environment_id), tasks=arns)["tasks"]
    return sorted(t["lastStatus"] for t in tasks)


def test_a_managed_environment_has_a_capacity_provider_as_its_default_strategy(stack):
    environment_id = managed_environment("cp")
    name = ids.aws_name(environment_id)
    ecs = setup_client("ecs")
    [provider] = ecs.describe_capacity_providers(capacityProviders=[name])["capacityProviders"]
    asg = provider["autoScalingGroupProvider"]
    assert asg["autoScalingGroupArn"] == group(environment_id)["AutoScalingGroupARN"]
    assert asg["managedScaling"]["status"] == "ENABLED" and asg["managedScaling"]["targetCapacity"] == 100
    assert asg["managedTerminationProtection"] == "ENABLED"
    assert asg["managedDraining"] == "ENABLED"
    [cluster] = ecs.describe_clusters(clusters=[name])["clusters"]
    assert cluster["capacityProviders"] == [name]
    assert cluster["defaultCapacityProviderStrategy"][0]["capacityProvider"] == name
    described = group(environment_id)
    assert (described["MinSize"], described["DesiredCapacity"], described["MaxSize"]) == (
        0,
        0,
        capacity.MANAGED_MAX_SIZE,
    )
    assert described["NewInstancesProtectedFromScaleIn"] is True
    assert capacity.launch_arguments(capacity.placement(environment_id)) == {
        "placementStrategy": [{"type": "binpack", "field": "memory"}],
        "capacityProviderStrategy": [{"capacityProvider": name, "weight": 1, "base": 0}],
        "placementConstraints": [{"type": "memberOf", "expression": "attribute:ecs.cpu-architecture == x86_64"}],
    }


def test_tasks_wait_provisioning_until_the_group_grows_from_zero(stack, agent):
    environment_id = managed_environment("zero")
    deploy_id = register_deploy("alpine")
    arns = run(environment_id, deploy_id, count=2)
    assert statuses(environment_id, arns) == ["PROVISIONING", "PROVISIONING"]

    agent.sync_once()  # managed scaling raises the desired capacity
    assert group(environment_id)["DesiredCapacity"] == 1  # two alpine tasks fit one t3.small
    agent.sync_once()  # the instance registers; the tasks are placed, and start
    assert statuses(environment_id, arns) == ["RUNNING", "RUNNING"]
    [instance] = setup_client("ecs").describe_container_instances(
        cluster=ids.aws_name(environment_id),
        containerInstances=setup_client("ecs").list_container_instances(cluster=ids.aws_name(environment_id))[
            "containerInstanceArns"
        ],
    )["containerInstances"]
    attributes = {a["name"]: a.get("value") for a in instance["attributes"]}
    assert attributes["ecs.cpu-architecture"] == "x86_64"
    # Managed termination protection: the busy instance is protected from scale-in.
    assert [m["ProtectedFromScaleIn"] for m in group(environment_id)["Instances"]] == [True]


def test_a_task_larger_than_any_instance_stops_with_the_reason(stack, agent):
    environment_id = managed_environment("toolarge")
    [arn] = run(environment_id, register_deploy("huge", memory=64_000))

    agent.sync_once()

    [task] = setup_client("ecs").describe_tasks(cluster=ids.aws_name(environment_id), tasks=[arn])["tasks"]
    assert task["lastStatus"] == "STOPPED"
    assert "more than an empty t3.small instance has" in task["stoppedReason"]
    assert group(environment_id)["DesiredCapacity"] == 0


def test_scale_in_terminates_an_idle_instance_never_a_busy_one(stack, agent, clock):
    environment_id = managed_environment("scalein")
    # Two tasks that each take most of a t3.small: two instances.
    deploy_id = register_deploy("big", fixture="LongRunning.Dockerrun.aws.json", memory=1500)
    first, second = run(environment_id, deploy_id, count=2)
    for _ in range(3):
        agent.sync_once()
    assert statuses(environment_id, [first, second]) == ["RUNNING", "RUNNING"]
    assert group(environment_id)["DesiredCapacity"] == 2
    [task] = setup_client("ecs").describe_tasks(cluster=ids.aws_name(environment_id), tasks=[first])["tasks"]
    instances = setup_client("ecs").describe_container_instances(
        cluster=ids.aws_name(environment_id), containerInstances=[task["containerInstanceArn"]]
    )["containerInstances"]
    idle_host = instances[0]["ec2InstanceId"]
    setup_client("ecs").stop_task(cluster=ids.aws_name(environment_id), task=first)

    agent.sync_once()  # idle from now
    assert group(environment_id)["DesiredCapacity"] == 2
    clock.now += agent.managed_scaling.scale_in_after
    agent.sync_once()

    after = group(environment_id)
    assert after["DesiredCapacity"] == 1
    live = [m["InstanceId"] for m in after["Instances"]]
    assert idle_host not in live and len(live) == 1
    assert statuses(environment_id, [second]) == ["RUNNING"]
    # The busy instance stays; the group never goes below its minimum.
    clock.now += 10 * agent.managed_scaling.scale_in_after
    agent.sync_once()
    assert group(environment_id)["DesiredCapacity"] == 1


# --- the jobs: create-task waits for RUNNING, delete-environment removes the capacity provider -----------------------


@pytest.fixture
def machines(stack, monkeypatch):
    from tests.workflows.helpers import job_machines

    with job_machines(monkeypatch) as (arns, _waits):
        yield arns


def start_task(machines, agent, environment_id: str, deploy_id: str, name: str = "task") -> tuple[str, dict]:
    from layer0.models import CreateTaskRequest
    from tests.workflows.test_create_task import start

    return start(machines, CreateTaskRequest(task_name=name, environment_id=environment_id, deploy_id=deploy_id), agent)


def test_the_create_task_job_waits_for_running_while_the_group_grows_from_zero(machines, agent):
    from layer0 import tasks
    from layer0.stores import jobs as job_store

    environment_id = managed_environment("jobzero")
    assert group(environment_id)["DesiredCapacity"] == 0

    job_id, described = start_task(machines, agent, environment_id, register_deploy("alpine"))

    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    job = job_store.get(job_id)
    assert job.job_status == 3
    arn = tasks.tag_values(job.meta["task_id"])["arn"]
    [task] = setup_client("ecs").describe_tasks(cluster=ids.aws_name(environment_id), tasks=[arn])["tasks"]
    assert task["startedAt"] and task.get("capacityProviderName") == ids.aws_name(environment_id)
    assert group(environment_id)["DesiredCapacity"] == 1
    # It went through PROVISIONING first: RunTask never lacked room, so no capacity retry happened.
    history = setup_client("stepfunctions").get_execution_history(
        executionArn=described["executionArn"], maxResults=1000
    )["events"]
    assert not [e for e in history if e["type"] == "TaskFailed"]
    checks = [
        e for e in history if e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] == "CheckTask"
    ]
    assert len(checks) >= 2  # waiting, then running


def test_the_create_task_job_fails_with_the_capacity_providers_reason(machines, agent):
    from layer0.stores import jobs as job_store

    environment_id = managed_environment("jobtoolarge")

    job_id, described = start_task(machines, agent, environment_id, register_deploy("huge", memory=64_000))

    assert described["status"] == "FAILED"
    job = job_store.get(job_id)
    assert job.job_status == 4
    assert job.meta["error"].startswith("TaskNotStarted: Task did not start: Capacity provider l0-l0-")
    assert "more than an empty t3.small instance has" in job.meta["error"]


def test_the_create_task_job_fails_with_the_reason_of_a_task_that_stopped_before_running(machines, agent):
    from layer0.stores import jobs as job_store

    environment_id = managed_environment("jobpull", count=1)
    agent.sync_once()
    # An image that cannot be pulled (the simulation's convention: its name contains "fail").
    dockerrun = {"containerDefinitions": [{"name": "app", "image": "example/fail", "memory": 64}]}
    deploy_id = deploys.create(
        CreateDeployRequest(deploy_name="broken", dockerrun=json.dumps(dockerrun).encode())
    ).deploy_id

    job_id, described = start_task(machines, agent, environment_id, deploy_id)

    assert described["status"] == "FAILED", described
    error = job_store.get(job_id).meta["error"]
    assert error.startswith("TaskNotStarted: Task did not start: CannotPullContainerError"), error


def test_deleting_a_managed_environment_removes_its_capacity_provider_and_a_rerun_is_done(machines, agent):
    from layer0 import jobs
    from layer0.stores import jobs as job_store
    from tests.unit.test_environments_delete import NOTHING, left
    from tests.workflows.helpers import execution_arn, wait_for_end

    environment_id = managed_environment("doomedcp", count=1)
    run(environment_id, register_deploy("alpine"))
    agent.sync_once()
    agent.sync_once()
    assert left(environment_id)["capacity_providers"] == 1

    job = jobs.create(jobs.JobType.DeleteEnvironment, environment_id)
    described = wait_for_end(execution_arn(machines[1], job.job_id), agent)

    assert described["status"] == "SUCCEEDED", job_store.get(job.job_id).meta
    assert left(environment_id) == NOTHING
    # The step again (a retry after a lost answer) finds nothing to do.
    assert capacity.delete_provider(environment_id) == {"deleted": False}


def test_services_that_need_the_same_host_port_get_an_instance_each(stack, agent):
    environment_id = managed_environment("ports", count=1, instance_size="m3.medium")
    deploy_id = register_deploy("guestbook", fixture="Service.Dockerrun.aws.json")
    ecs = aws.client("ecs")
    for name in ("one", "two"):
        ecs.create_service(
            cluster=ids.aws_name(environment_id),
            serviceName=f"l0-l0-{name}",
            taskDefinition=ids.task_definition(deploy_id),
            desiredCount=1,
            **capacity.launch_arguments(capacity.placement(environment_id)),
        )
    for _ in range(5):
        agent.sync_once()

    described = setup_client("ecs").describe_services(
        cluster=ids.aws_name(environment_id), services=["l0-l0-one", "l0-l0-two"]
    )["services"]
    assert [s["runningCount"] for s in described] == [1, 1]
    assert group(environment_id)["DesiredCapacity"] == 2
