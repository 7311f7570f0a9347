"""The delete-environment steps (job type 1) against moto: each is idempotent, and together they leave nothing."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from layer0 import aws, environments, settings
from layer0.errors import Retryable
from layer0.models import CreateEnvironmentRequest
from layer0.stores import tags as tag_store
from tests.conftest import setup_client

STEPS = (
    "unlink_all",
    "delete_autoscaling_group",
    "delete_launch_template",
    "instances_gone",
    "delete_security_group",
    "delete_cluster",
    "delete_tags",
)


def create(name: str, **fields) -> str:
    request = CreateEnvironmentRequest(environment_name=name, operating_system="linux", instance_size="t3.small", **fields)
    return environments.create(request).environment_id


def left(environment_id: str) -> dict[str, int]:
    """Every AWS resource named with the environment's prefix that still exists."""
    name = f"{settings.get().aws_name_prefix}{environment_id}"
    ec2, ecs, autoscaling = setup_client("ec2"), setup_client("ecs"), setup_client("autoscaling")
    clusters = ecs.describe_clusters(clusters=ecs.list_clusters()["clusterArns"] or ["none"])["clusters"]
    instances = [
        i
        for r in ec2.describe_instances()["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] != "terminated" and {"Key": "Name", "Value": name} in i.get("Tags", [])
    ]
    return {
        "clusters": sum(c["clusterName"].startswith(name) and c["status"] == "ACTIVE" for c in clusters),
        "security_groups": sum(g["GroupName"].startswith(name) for g in ec2.describe_security_groups()["SecurityGroups"]),
        "launch_templates": sum(
            t["LaunchTemplateName"].startswith(name) for t in ec2.describe_launch_templates()["LaunchTemplates"]
        ),
        "auto_scaling_groups": sum(
            g["AutoScalingGroupName"].startswith(name)
            for g in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
        ),
        "instances": len(instances),
        "load_balancers": sum(
            lb["LoadBalancerName"].startswith(name)
            for lb in setup_client("elb").describe_load_balancers()["LoadBalancerDescriptions"]
        )
        + sum(lb["LoadBalancerName"].startswith(name) for lb in setup_client("elbv2").describe_load_balancers()["LoadBalancers"]),
        "services": sum(
            1
            for c in clusters
            if c["clusterName"] == name and c["status"] == "ACTIVE"
            for _ in ecs.list_services(cluster=name)["serviceArns"]
        ),
    }


NOTHING = dict.fromkeys(
    ("clusters", "security_groups", "launch_templates", "auto_scaling_groups", "instances", "load_balancers", "services"),
    0,
)


def add_dependencies(environment_id: str) -> dict[str, str]:
    """A service in the cluster, a classic ELB and an ALB in the environment's security group."""
    name = f"{settings.get().aws_name_prefix}{environment_id}"
    ecs = setup_client("ecs")
    ecs.register_task_definition(
        family="l0-l0-web", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 64}]
    )
    service = ecs.create_service(cluster=name, serviceName="l0-l0-websvc", taskDefinition="l0-l0-web", desiredCount=0)
    group_id = environments._security_group(environment_id)["GroupId"]
    subnets = list(settings.get().private_subnets)
    setup_client("elb").create_load_balancer(
        LoadBalancerName=f"{name}c",
        Listeners=[{"Protocol": "TCP", "LoadBalancerPort": 80, "InstancePort": 80}],
        Subnets=subnets,
        SecurityGroups=[group_id],
        Scheme="internal",
    )
    alb = setup_client("elbv2").create_load_balancer(
        Name=f"{name}a", Subnets=subnets, SecurityGroups=[group_id], Scheme="internal"
    )["LoadBalancers"][0]
    return {"service": service["service"]["serviceArn"], "classic": f"{name}c", "alb": alb["LoadBalancerArn"]}


def run_all(environment_id: str) -> list[dict]:
    results = [environments.unlink_all(environment_id)]
    for dependency in environments.list_dependencies(environment_id)["dependencies"]:
        results.append(environments.delete_dependency(environment_id, dependency["kind"], dependency["id"]))
    results += [getattr(environments, step)(environment_id) for step in STEPS[1:]]
    return results


def test_the_steps_in_order_leave_nothing_and_can_run_again(stack):
    other = create("other")
    environment_id = create("doomed", min_cluster_count=2)
    environments.link(environment_id, other)
    dependencies = add_dependencies(environment_id)
    assert left(environment_id) == {**NOTHING, "clusters": 1, "security_groups": 1, "launch_templates": 1,
                                     "auto_scaling_groups": 1, "instances": 2, "load_balancers": 2, "services": 1}  # fmt: skip

    listed = environments.list_dependencies(environment_id)["dependencies"]
    assert sorted((d["kind"], d["id"]) for d in listed) == sorted(
        [("service", dependencies["service"]), ("load_balancer", dependencies["classic"]), ("load_balancer", dependencies["alb"])]
    )

    results = run_all(environment_id)
    assert results[0] == {"unlinked": [other]}
    assert {"gone": True, "instances": []} in results
    assert left(environment_id) == NOTHING
    assert tag_store.select_by_type_and_id("environment", environment_id) == []
    assert tag_store.select_by_type("environment_name") == [
        t for t in tag_store.select_by_type("environment_name") if t.value == other
    ]
    # The other side of the link is clean, and it still works.
    remaining = environments.get(other)
    assert remaining.links == []
    [group] = setup_client("ec2").describe_security_groups(GroupIds=[remaining.security_group_id])["SecurityGroups"]
    assert {p["GroupId"] for perm in group["IpPermissions"] for p in perm["UserIdGroupPairs"]} == {group["GroupId"]}
    with pytest.raises(Exception) as raised:
        environments.get(environment_id)
    assert getattr(raised.value, "status", None) == 404

    # Twice is harmless, and each "not found" is said plainly.
    again = run_all(environment_id)
    # moto deletes an INACTIVE cluster again where AWS says "not found": both are fine.
    assert again[5] in ({"deleted": True}, {"deleted": False})
    assert again[:5] + again[6:] == [
        {"unlinked": []},
        {"deleted": False},
        {"deleted": False},
        {"gone": True, "instances": []},
        {"deleted": False},
        {"released": []},
    ]
    assert left(environment_id) == NOTHING
    # The name can be used again.
    assert create("doomed")


def test_a_rerun_after_a_failure_part_way_finishes_the_job(stack):
    environment_id = create("partial", min_cluster_count=1)
    environments.delete_autoscaling_group(environment_id)
    environments.delete_launch_template(environment_id)
    assert left(environment_id)["clusters"] == 1
    run_all(environment_id)
    assert left(environment_id) == NOTHING


def test_instances_gone_is_false_while_instances_run(stack):
    environment_id = create("running", min_cluster_count=1)
    state = environments.instances_gone(environment_id)
    assert state["gone"] is False and len(state["instances"]) == 1


def test_a_security_group_still_in_use_is_retryable(stack, monkeypatch):
    environment_id = create("busy")
    ec2 = aws.client("ec2")

    def in_use(**_kwargs):
        raise ClientError({"Error": {"Code": "DependencyViolation", "Message": "resource has a dependent object"}}, "DeleteSecurityGroup")

    monkeypatch.setattr(ec2, "delete_security_group", in_use)
    with pytest.raises(Retryable, match="still in use"):
        environments.delete_security_group(environment_id)
    monkeypatch.undo()
    assert environments.delete_security_group(environment_id) == {"deleted": True}


def test_a_cluster_with_instances_is_retryable(stack, monkeypatch):
    environment_id = create("nonempty")
    ecs = aws.client("ecs")

    def not_empty(**_kwargs):
        raise ecs.exceptions.ClusterContainsContainerInstancesException(
            {"Error": {"Code": "ClusterContainsContainerInstancesException", "Message": "instances"}}, "DeleteCluster"
        )

    monkeypatch.setattr(ecs, "delete_cluster", not_empty)
    with pytest.raises(Retryable):
        environments.delete_cluster(environment_id)


def test_steps_return_json(stack):
    import json

    environment_id = create("json")
    for result in run_all(environment_id):
        assert json.loads(json.dumps(result)) == result


def test_running_tasks_are_dependencies_and_are_stopped(stack):
    from local.agent import Agent, unpatch_moto_total_resources

    environment_id = create("tasks", min_cluster_count=1)
    cluster = f"{settings.get().aws_name_prefix}{environment_id}"
    try:
        Agent(setup_client).sync_once()  # the instance registers in the cluster, so ECS can place a task
    finally:
        unpatch_moto_total_resources()
    ecs = setup_client("ecs")
    ecs.register_task_definition(family="l0-l0-job", containerDefinitions=[{"name": "c", "image": "alpine", "memory": 64}])
    [task] = ecs.run_task(cluster=cluster, taskDefinition="l0-l0-job", count=1)["tasks"]

    assert environments.list_dependencies(environment_id) == {"dependencies": [{"kind": "task", "id": task["taskArn"]}]}
    assert environments.delete_dependency(environment_id, "task", task["taskArn"]) == {
        "deleted": {"kind": "task", "id": task["taskArn"]}
    }
    assert environments.list_dependencies(environment_id) == {"dependencies": []}
    # Stopping it again is harmless.
    environments.delete_dependency(environment_id, "task", task["taskArn"])
