"""local/ecs/agent.py: the ECS agent simulation registers an environment's ASG instances in its cluster
(docs/architecture.md#local-mode)."""

from __future__ import annotations

import json
import threading
import time

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local.ecs import agent as agent_module
from local.ecs.agent import RESERVED_PORTS, Agent
from tests.conftest import MOTO_CONFIG, setup_client

PREFIX = "test"
AMI = "ami-12345678"
DEADLINE_SECONDS = 30


@pytest.fixture
def aws():
    with mock_aws(config=MOTO_CONFIG):
        yield


@pytest.fixture
def subnet(aws):
    ec2 = setup_client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    return ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone="us-west-2a")["Subnet"]["SubnetId"]


@pytest.fixture
def agent(aws):
    """An Agent; it applies the ECS moto patches, undone afterwards so that other tests see plain moto."""
    try:
        yield Agent(setup_client, PREFIX)
    finally:
        agent_module.unpatch_moto_total_resources()


def environment(subnet: str, name: str, instance_type: str = "t3.medium", desired: int = 2, cluster: bool = True):
    """What the environment workflow makes: a cluster, a launch template and an ASG, all of the same name."""
    if cluster:
        setup_client("ecs").create_cluster(clusterName=name)
    setup_client("ec2").create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData={"ImageId": AMI, "InstanceType": instance_type}
    )
    setup_client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": name, "Version": "$Latest"},
        MinSize=0,
        MaxSize=5,
        DesiredCapacity=desired,
        VPCZoneIdentifier=subnet,
    )
    return name


def group_instances(name: str) -> list[str]:
    groups = setup_client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    return sorted(i["InstanceId"] for i in groups["AutoScalingGroups"][0]["Instances"])


def container_instances(cluster: str) -> list[dict]:
    ecs = setup_client("ecs")
    arns = ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]
    if not arns:
        return []
    return ecs.describe_container_instances(cluster=cluster, containerInstances=arns)["containerInstances"]


def registered_ids(cluster: str) -> list[str]:
    return sorted(ci["ec2InstanceId"] for ci in container_instances(cluster))


def resources(entries: list[dict]) -> dict:
    return {
        entry["name"]: entry["integerValue"] if entry["type"] == "INTEGER" else sorted(entry["stringSetValue"])
        for entry in entries
    }


def task_definition(memory: int = 512, host_port: int | None = None) -> str:
    container = {"name": "app", "image": "nginx", "memory": memory}
    if host_port:
        container["portMappings"] = [{"containerPort": 80, "hostPort": host_port}]
    return setup_client("ecs").register_task_definition(family="app", containerDefinitions=[container])[
        "taskDefinition"
    ]["taskDefinitionArn"]


@pytest.mark.parametrize(("instance_type", "cpu", "memory"), [("t3.medium", 2048, 4096), ("m5.large", 2048, 8192)])
def test_group_instances_register_with_their_instance_type_resources(agent, subnet, instance_type, cpu, memory):
    name = environment(subnet, f"l0-{PREFIX}-env1", instance_type)

    result = agent.sync_once()

    described = container_instances(name)
    assert sorted(ci["ec2InstanceId"] for ci in described) == group_instances(name)
    assert len(described) == 2
    assert sorted(result.registered) == [(name, i) for i in group_instances(name)]
    expected = {"CPU": cpu, "MEMORY": memory, "PORTS": sorted(RESERVED_PORTS), "PORTS_UDP": []}
    for ci in described:
        assert ci["status"] == "ACTIVE"
        assert resources(ci["registeredResources"]) == expected
        assert resources(ci["remainingResources"]) == expected
        attributes = {a["name"]: a.get("value") for a in ci["attributes"]}
        assert attributes["ecs.instance-type"] == instance_type


def test_a_second_pass_registers_nothing_twice(agent, subnet):
    name = environment(subnet, f"l0-{PREFIX}-env1")
    agent.sync_once()

    again = agent.sync_once()

    assert again.registered == [] and again.deregistered == [] and again.errors == []
    assert registered_ids(name) == group_instances(name)
    assert len(container_instances(name)) == 2


def test_scale_in_deregisters_the_terminated_instance(agent, subnet):
    name = environment(subnet, f"l0-{PREFIX}-env1")
    agent.sync_once()
    before = group_instances(name)

    setup_client("autoscaling").set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=1)
    result = agent.sync_once()

    survivors = group_instances(name)
    assert len(survivors) == 1
    assert registered_ids(name) == survivors
    assert [i for _, i in result.deregistered] == sorted(set(before) - set(survivors))


def test_terminate_instance_in_group_deregisters_it_and_registers_the_replacement(agent, subnet):
    name = environment(subnet, f"l0-{PREFIX}-env1")
    agent.sync_once()
    victim, kept = group_instances(name)
    autoscaling = setup_client("autoscaling")

    autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=True)
    agent.sync_once()
    assert registered_ids(name) == [kept]

    autoscaling.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=2)
    autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=kept, ShouldDecrementDesiredCapacity=False)
    agent.sync_once()
    current = group_instances(name)
    assert len(current) == 2 and kept not in current
    assert registered_ids(name) == current


def test_an_instance_terminated_through_ec2_is_deregistered(agent, subnet):
    name = environment(subnet, f"l0-{PREFIX}-env1")
    agent.sync_once()
    victim = group_instances(name)[0]

    setup_client("ec2").terminate_instances(InstanceIds=[victim])
    agent.sync_once()

    assert victim not in registered_ids(name)


def test_deleting_the_group_deregisters_everything(agent, subnet):
    name = environment(subnet, f"l0-{PREFIX}-env1")
    agent.sync_once()
    instances = group_instances(name)

    setup_client("autoscaling").delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
    result = agent.sync_once()

    assert container_instances(name) == []
    assert sorted(i for _, i in result.deregistered) == instances
    # moto terminates a force-deleted group's instances: the environment delete can wait for them to be gone.
    reservations = setup_client("ec2").describe_instances(InstanceIds=instances)["Reservations"]
    assert {i["State"]["Name"] for r in reservations for i in r["Instances"]} == {"terminated"}


def test_a_deleted_cluster_keeps_no_container_instance(agent, subnet):
    name = environment(subnet, f"l0-{PREFIX}-env1")
    agent.sync_once()

    setup_client("ecs").delete_cluster(cluster=name)  # moto keeps it, INACTIVE
    agent.sync_once()

    assert container_instances(name) == []


def test_a_group_without_its_cluster_is_ignored(agent, subnet):
    environment(subnet, f"l0-{PREFIX}-lonely", cluster=False)

    result = agent.sync_once()

    assert result.registered == [] and result.errors == []
    assert setup_client("ecs").list_clusters()["clusterArns"] == []


def test_groups_outside_the_stack_prefix_are_ignored(agent, subnet):
    for name in ("someone-elses", "l0-other-env1", "l0-testenv"):
        environment(subnet, name)

    result = agent.sync_once()

    assert result.registered == [] and result.errors == []
    for name in ("someone-elses", "l0-other-env1", "l0-testenv"):
        assert container_instances(name) == []


def test_run_task_with_the_ec2_launch_type_is_placed_once_instances_are_registered(agent, subnet):
    name = environment(subnet, f"l0-{PREFIX}-env1", desired=1)
    ecs = setup_client("ecs")
    definition = task_definition(memory=1024, host_port=8080)
    with pytest.raises(ClientError, match="No Container Instances were found in your cluster"):
        ecs.run_task(cluster=name, taskDefinition=definition, launchType="EC2")

    agent.sync_once()
    tasks = ecs.run_task(cluster=name, taskDefinition=definition, launchType="EC2")["tasks"]

    assert len(tasks) == 1
    (ci,) = container_instances(name)
    assert tasks[0]["containerInstanceArn"] == ci["containerInstanceArn"]
    remaining = resources(ci["remainingResources"])
    assert remaining["MEMORY"] == 4096 - 1024
    assert "8080" in remaining["PORTS"]  # moto lists the ports in use among the remaining PORTS, as ECS does
    assert ci["runningTasksCount"] == 1
    # The same host port cannot be placed twice on the one instance.
    again = ecs.run_task(cluster=name, taskDefinition=definition, launchType="EC2")
    assert again["tasks"] == []
    assert again["failures"] == [{"arn": ci["containerInstanceArn"], "reason": "RESOURCE:PORTS"}]


def test_placement_respects_the_instance_type_memory(agent, subnet):
    name = environment(subnet, f"l0-{PREFIX}-env1", instance_type="t3.medium", desired=1)
    agent.sync_once()

    tasks = setup_client("ecs").run_task(
        cluster=name, taskDefinition=task_definition(memory=1500), launchType="EC2", count=5
    )["tasks"]

    assert len(tasks) == 2  # 4096 MiB holds two tasks of 1500 MiB (moto's default of 7482 MiB would hold four)


def test_the_tasks_of_a_terminated_host_stop(agent, subnet):
    name = environment(subnet, f"l0-{PREFIX}-env1", desired=1)
    agent.sync_once()
    ecs = setup_client("ecs")
    (task,) = ecs.run_task(cluster=name, taskDefinition=task_definition(), launchType="EC2")["tasks"]
    (instance_id,) = group_instances(name)

    setup_client("autoscaling").set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=0)
    agent.sync_once()

    (stopped,) = ecs.describe_tasks(cluster=name, tasks=[task["taskArn"]])["tasks"]
    assert stopped["lastStatus"] == "STOPPED"
    assert stopped["stoppedReason"] == f"Host EC2 (instance {instance_id}) terminated."
    assert container_instances(name) == []


def test_one_failing_cluster_does_not_stop_the_others(agent, subnet, monkeypatch):
    first = environment(subnet, f"l0-{PREFIX}-env1")
    second = environment(subnet, f"l0-{PREFIX}-env2")
    gone = environment(subnet, f"l0-{PREFIX}-env3")
    real = agent._registered

    def flaky(cluster: str):
        if cluster == first:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "ListX")
        if cluster == gone:
            raise ClientError({"Error": {"Code": "ClusterNotFoundException", "Message": "gone"}}, "ListX")
        return real(cluster)

    monkeypatch.setattr(agent, "_registered", flaky)
    result = agent.sync_once()

    assert len(result.errors) == 1 and "Rate exceeded" in result.errors[0]
    assert container_instances(first) == [] and container_instances(gone) == []
    assert registered_ids(second) == group_instances(second)

    monkeypatch.setattr(agent, "_registered", real)
    assert agent.sync_once().errors == []
    assert registered_ids(first) == group_instances(first)


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_start_runs_passes_in_a_thread_and_stop_ends_it(agent, subnet):
    name = environment(subnet, f"l0-{PREFIX}-env1")
    failed_once = threading.Event()

    def failing_once(snapshot, result):
        if not failed_once.is_set():
            failed_once.set()
            raise RuntimeError("boom")  # a pass that fails must not end the thread

    agent.steps.insert(0, failing_once)
    agent.start(interval=0.01)
    thread = agent.thread
    try:
        assert thread is not None and thread.daemon
        wait_for(lambda: len(container_instances(name)) == 2, "the agent thread to register the instances")
        assert failed_once.is_set()
        setup_client("autoscaling").set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=1)
        wait_for(lambda: len(container_instances(name)) == 1, "the agent thread to deregister one")
    finally:
        agent.stop()

    assert not thread.is_alive()
    assert agent.thread is None and not agent.running


def test_stop_without_start_is_harmless(agent):
    agent.stop()
    assert not agent.running


def test_against_a_moto_server_as_in_local_mode(moto_server):
    """Local mode's set-up: moto's server in this process, the agent's own clients on its endpoint."""
    endpoint, clients = moto_server
    ec2, ecs, autoscaling = clients("ec2"), clients("ecs"), clients("autoscaling")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone="us-west-2a")["Subnet"]["SubnetId"]
    name = f"l0-{PREFIX}-env1"
    ecs.create_cluster(clusterName=name)
    ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={"ImageId": AMI, "InstanceType": "m5.large"})
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": name, "Version": "$Latest"},
        MinSize=0,
        MaxSize=2,
        DesiredCapacity=1,
        VPCZoneIdentifier=subnet,
    )
    local_agent = Agent(lambda service: agent_module.default_client_factory(service, endpoint_url=endpoint), PREFIX)

    local_agent.start(interval=0.01)
    try:
        wait_for(lambda: ecs.list_container_instances(cluster=name)["containerInstanceArns"], "a registration")
    finally:
        local_agent.stop()
        agent_module.unpatch_moto_total_resources()

    (arn,) = ecs.list_container_instances(cluster=name)["containerInstanceArns"]
    (ci,) = ecs.describe_container_instances(cluster=name, containerInstances=[arn])["containerInstances"]
    assert resources(ci["registeredResources"])["MEMORY"] == 8192
    assert ci["ec2InstanceId"] == autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
        "AutoScalingGroups"
    ][0]["Instances"][0]["InstanceId"]


@pytest.fixture
def moto_server():
    """A ThreadedMotoServer on a free port, emptied afterwards; yields (endpoint, client factory)."""
    import socket
    import urllib.request

    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        yield endpoint, lambda service: boto3.client(service, region_name="us-west-2", endpoint_url=endpoint)
    finally:
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()
        server.stop()
