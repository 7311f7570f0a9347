"""local/ecs/fargate.py through `Agent.sync_once()`: Fargate tasks run without container instances, get an interface
in the subnet with their security group, go PENDING then RUNNING, log, honour `sleep N` and failing images; a
service's tasks are placed through the cluster's strategy and their IPs registered with its `ip` target group;
stopped tasks lose their interface and target (docs/compatibility.md#fargate-environments). In-process moto, one
pass at a time, a fake clock."""

from __future__ import annotations

import pytest

from tests.conftest import setup_client
from tests.workflows.test_ecs_simulation import LAYER0_SERVICE, LOG_GROUP, agent, clock, deploy, sync  # noqa: F401

CLUSTER = "l0-test-fg1"
STRATEGY = [{"capacityProvider": "FARGATE", "weight": 1}]


@pytest.fixture
def network(agent):  # noqa: F811 - the fixture imported above
    """A Fargate environment as Layer0 makes it: a cluster with the Fargate providers, a subnet and a group."""
    ec2 = setup_client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # as the stack's VPC (infra/network.py)
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone="us-west-2a")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=f"{CLUSTER}-env", Description="env", VpcId=vpc)["GroupId"]
    setup_client("ecs").create_cluster(
        clusterName=CLUSTER, capacityProviders=["FARGATE", "FARGATE_SPOT"], defaultCapacityProviderStrategy=STRATEGY
    )
    awsvpc = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group], "assignPublicIp": "DISABLED"}}
    return vpc, subnet, group, awsvpc


def fargate_deploy(command: list[str] | None = None, image: str = "alpine") -> str:
    container = {"name": "app", "image": image, "essential": True, "memory": 128,
                 "portMappings": [{"containerPort": 80, "hostPort": 80}]}  # fmt: skip
    if command:
        container.update(entryPoint=["/bin/sh", "-c"], command=command)
    arn = deploy(containers=[container], family="l0-test-app--fargate-1-0123abcd")
    revision = setup_client("ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"]
    # As layer0.fargate registers a variant: FARGATE, awsvpc, a task size.
    return setup_client("ecs").register_task_definition(
        family="l0-test-app--fargate-1-0123abcd",
        containerDefinitions=revision["containerDefinitions"],
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
    )["taskDefinition"]["taskDefinitionArn"]


def interfaces(group: str) -> list[dict]:
    return setup_client("ec2").describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [group]}])[
        "NetworkInterfaces"
    ]


def task(arn: str) -> dict:
    [found] = setup_client("ecs").describe_tasks(cluster=CLUSTER, tasks=[arn])["tasks"]
    return found


def test_a_fargate_task_gets_an_interface_runs_sleeps_logs_and_frees_it(agent, network, clock):  # noqa: F811
    _vpc, subnet, group, awsvpc = network
    definition = fargate_deploy(["sleep 5"])

    [started] = setup_client("ecs").run_task(
        cluster=CLUSTER, taskDefinition=definition, capacityProviderStrategy=STRATEGY, networkConfiguration=awsvpc
    )["tasks"]

    assert started["lastStatus"] == "PENDING" and "containerInstanceArn" not in started
    [interface] = interfaces(group)
    assert interface["SubnetId"] == subnet
    sync(agent)
    assert task(started["taskArn"])["lastStatus"] == "RUNNING"
    clock.advance(5)
    sync(agent)
    stopped = task(started["taskArn"])
    assert (stopped["lastStatus"], stopped["stopCode"]) == ("STOPPED", "EssentialContainerExited")
    assert stopped["containers"][0]["exitCode"] == 0
    sync(agent)
    assert interfaces(group) == []
    streams = setup_client("logs").describe_log_streams(logGroupName=LOG_GROUP)["logStreams"]
    [stream] = [s["logStreamName"] for s in streams]
    lines = [
        e["message"]
        for e in setup_client("logs").get_log_events(logGroupName=LOG_GROUP, logStreamName=stream)["events"]
    ]
    assert lines[0].startswith("Starting container app") and lines[-1] == "Slept 5 s; exiting with code 0"


def test_a_failing_image_stops_the_task_and_frees_its_interface(agent, network):  # noqa: F811
    _vpc, _subnet, group, awsvpc = network
    definition = fargate_deploy(image="example/fail:latest")

    [started] = setup_client("ecs").run_task(
        cluster=CLUSTER, taskDefinition=definition, capacityProviderStrategy=STRATEGY, networkConfiguration=awsvpc
    )["tasks"]
    sync(agent, 2)

    stopped = task(started["taskArn"])
    assert (stopped["lastStatus"], stopped["stopCode"]) == ("STOPPED", "TaskFailedToStart")
    assert interfaces(group) == []


def test_a_fargate_service_reaches_its_count_behind_an_ip_target_group(agent, network):  # noqa: F811
    vpc, _subnet, group, awsvpc = network
    elbv2 = setup_client("elbv2")
    target_group = elbv2.create_target_group(Name="l0-test-tg", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip")[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    ecs = setup_client("ecs")
    ecs.create_service(
        cluster=CLUSTER,
        serviceName="l0-test-web",
        taskDefinition=fargate_deploy(),
        desiredCount=2,
        capacityProviderStrategy=STRATEGY,
        networkConfiguration=awsvpc,
        loadBalancers=[{"targetGroupArn": target_group, "containerName": "app", "containerPort": 80}],
        **LAYER0_SERVICE,
    )

    sync(agent, 3)

    [service] = ecs.describe_services(cluster=CLUSTER, services=["l0-test-web"])["services"]
    assert (service["runningCount"], service["deployments"][0]["rolloutState"]) == (2, "COMPLETED")
    ips = {i["PrivateIpAddress"] for i in interfaces(group)}
    assert len(ips) == 2
    targets = elbv2.describe_target_health(TargetGroupArn=target_group)["TargetHealthDescriptions"]
    assert {(t["Target"]["Id"], t["Target"]["Port"]) for t in targets} == {(ip, 80) for ip in ips}

    ecs.update_service(cluster=CLUSTER, service="l0-test-web", desiredCount=0)
    sync(agent, 2)

    assert interfaces(group) == []
    assert elbv2.describe_target_health(TargetGroupArn=target_group)["TargetHealthDescriptions"] == []


def test_an_ec2_service_is_placed_as_before(agent, network):  # noqa: F811
    """No FARGATE requirement: the scheduler's EC2 placement, which needs an instance (here none: an event)."""
    ecs = setup_client("ecs")
    ecs.create_service(
        cluster=CLUSTER, serviceName="l0-test-ec2", taskDefinition=deploy(containers=[{"name": "a", "image": "a",
        "memory": 64}]), desiredCount=1, **LAYER0_SERVICE,
    )  # fmt: skip

    sync(agent)

    [service] = ecs.describe_services(cluster=CLUSTER, services=["l0-test-ec2"])["services"]
    assert service["runningCount"] == 0 and "unable to place a task" in service["events"][0]["message"]
