"""Managed scaling (docs/architecture.md#capacity-providers) against moto and the local ECS simulation
(local/ecs/capacity.py): environments with a capacity provider that start with 0 instances, and scale-in that
never stops a busy instance."""

from __future__ import annotations

import pytest

from layer0 import aws, capacity, environments, ids
from layer0.models import CreateEnvironmentRequest
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
        **capacity.launch_arguments(environment_id),
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
    assert capacity.launch_arguments(environment_id) == {
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
