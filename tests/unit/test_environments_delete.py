"""The delete-environment steps (job type 1, layer0.workflows.delete_environment) against moto: each is idempotent, and together they leave nothing."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from layer0 import aws, environments, load_balancers, settings
from layer0.errors import Retryable
from layer0.models import CreateEnvironmentRequest, CreateLoadBalancerRequest, Port, Tag
from layer0.stores import tags as tag_store
from layer0.workflows import asl, delete_environment, registry
from tests.conftest import setup_client

STEPS = (
    "unlink_all",
    "delete_provider",  # layer0.capacity: a managed environment's capacity provider
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
    """Every AWS resource of the environment that still exists, and every load balancer's resources and tags
    (a fresh moto holds only the test's)."""
    prefix = settings.get().aws_name_prefix
    name = f"{prefix}{environment_id}"
    ec2, ecs, autoscaling = setup_client("ec2"), setup_client("ecs"), setup_client("autoscaling")
    clusters = ecs.describe_clusters(clusters=ecs.list_clusters()["clusterArns"] or ["none"])["clusters"]
    instances = [
        i
        for r in ec2.describe_instances()["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] != "terminated" and {"Key": "Name", "Value": name} in i.get("Tags", [])
    ]
    groups = [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]]
    return {
        "clusters": sum(c["clusterName"].startswith(name) and c["status"] == "ACTIVE" for c in clusters),
        "security_groups": sum(group.startswith(name) for group in groups),
        "launch_templates": sum(
            t["LaunchTemplateName"].startswith(name) for t in ec2.describe_launch_templates()["LaunchTemplates"]
        ),
        "auto_scaling_groups": sum(
            g["AutoScalingGroupName"].startswith(name)
            for g in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
        ),
        "instances": len(instances),
        "load_balancers": sum(
            lb["LoadBalancerName"].startswith(prefix)
            for lb in setup_client("elb").describe_load_balancers()["LoadBalancerDescriptions"]
        )
        + sum(lb["LoadBalancerName"].startswith(prefix) for lb in setup_client("elbv2").describe_load_balancers()["LoadBalancers"]),
        "target_groups": len(setup_client("elbv2").describe_target_groups()["TargetGroups"]),
        "load_balancer_security_groups": sum(group.startswith(prefix) and group.endswith("-lb") for group in groups),
        "load_balancer_roles": sum(
            r["RoleName"].startswith(prefix) and r["RoleName"].endswith("-lb") for r in setup_client("iam").list_roles()["Roles"]
        ),
        "load_balancer_tags": len(tag_store.select_by_type("load_balancer"))
        + len(tag_store.select_by_type("load_balancer_name")),
        "services": sum(
            1
            for c in clusters
            if c["clusterName"] == name and c["status"] == "ACTIVE"
            for _ in ecs.list_services(cluster=name)["serviceArns"]
        ),
        # A managed environment's (docs/architecture.md#capacity-providers).
        "capacity_providers": sum(
            p.get("status", "ACTIVE") == "ACTIVE"
            for p in ecs.describe_capacity_providers(capacityProviders=[name])["capacityProviders"]
        ),
    }


NOTHING = dict.fromkeys(
    ("clusters", "security_groups", "launch_templates", "auto_scaling_groups", "instances", "load_balancers",
     "target_groups", "load_balancer_security_groups", "load_balancer_roles", "load_balancer_tags", "services",
     "capacity_providers"),
    0,
)  # fmt: skip


def add_dependencies(environment_id: str) -> dict[str, str]:
    """A service in the cluster and two load balancers made by Layer0: a public classic ELB (its
    own security group) and a public application load balancer (listeners, target groups, its own group)."""
    name = f"{settings.get().aws_name_prefix}{environment_id}"
    ecs = setup_client("ecs")
    ecs.register_task_definition(
        family="l0-l0-web", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 64}]
    )
    service = ecs.create_service(cluster=name, serviceName="l0-l0-websvc", taskDefinition="l0-l0-web", desiredCount=0)
    classic = load_balancers.create(
        CreateLoadBalancerRequest(
            load_balancer_name="web",
            environment_id=environment_id,
            is_public=True,
            ports=[Port(host_port=80, container_port=80, protocol="http")],
        )
    )
    application = load_balancers.create(
        CreateLoadBalancerRequest(
            load_balancer_name="api",
            environment_id=environment_id,
            is_public=True,
            load_balancer_type="application",
            ports=[Port(host_port=80, container_port=80, protocol="http"), Port(host_port=81, container_port=8080, protocol="http")],
        )
    )
    return {
        "service": service["service"]["serviceArn"],
        "classic": classic.load_balancer_id,
        "application": application.load_balancer_id,
    }


def run_all(environment_id: str) -> list[dict]:
    results = [delete_environment.unlink_all(environment_id)]
    for dependency in delete_environment.list_dependencies(environment_id)["dependencies"]:
        results.append(delete_environment.delete_dependency(environment_id, dependency["kind"], dependency["id"]))
    results += [registry.STEPS[f"environment.{step}"](environment_id=environment_id) for step in STEPS[1:]]
    return results


def test_the_steps_in_order_leave_nothing_and_can_run_again(stack):
    other = create("other")
    environment_id = create("doomed", min_cluster_count=2)
    environments.link(environment_id, other)
    dependencies = add_dependencies(environment_id)
    assert left(environment_id) == {**NOTHING, "clusters": 1, "security_groups": 1, "launch_templates": 1,
                                     "auto_scaling_groups": 1, "instances": 2, "load_balancers": 2, "target_groups": 2,
                                     "load_balancer_security_groups": 2, "load_balancer_roles": 0,
                                     "load_balancer_tags": 3 * 2 + 2, "services": 1,
                                     "capacity_providers": 1}  # fmt: skip

    listed = delete_environment.list_dependencies(environment_id)["dependencies"]
    assert sorted((d["kind"], d["id"]) for d in listed) == sorted(
        [("service", dependencies["service"]), ("load_balancer", dependencies["classic"]),
         ("load_balancer", dependencies["application"])]
    )  # fmt: skip

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
    assert again[6] in ({"deleted": True}, {"deleted": False})
    assert again[:6] + again[7:] == [
        {"unlinked": []},
        {"deleted": False},
        {"deleted": False},
        {"deleted": False},
        {"gone": True, "instances": []},
        {"deleted": False},
        {"released": [], "tasks": []},
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
    state = delete_environment.instances_gone(environment_id)
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
    from local.ecs.agent import Agent, unpatch_moto_total_resources

    environment_id = create("tasks", min_cluster_count=1)
    cluster = f"{settings.get().aws_name_prefix}{environment_id}"
    try:
        Agent(setup_client).sync_once()  # the instance registers in the cluster, so ECS can place a task
    finally:
        unpatch_moto_total_resources()
    ecs = setup_client("ecs")
    ecs.register_task_definition(family="l0-l0-job", containerDefinitions=[{"name": "c", "image": "alpine", "memory": 64}])
    [task] = ecs.run_task(cluster=cluster, taskDefinition="l0-l0-job", count=1)["tasks"]

    assert delete_environment.list_dependencies(environment_id) == {"dependencies": [{"kind": "task", "id": task["taskArn"]}]}
    assert delete_environment.delete_dependency(environment_id, "task", task["taskArn"]) == {
        "deleted": {"kind": "task", "id": task["taskArn"]}
    }
    assert delete_environment.list_dependencies(environment_id) == {"dependencies": []}
    # Stopping it again is harmless.
    delete_environment.delete_dependency(environment_id, "task", task["taskArn"])


def test_deleting_the_environment_deletes_its_load_balancers_through_their_delete_steps(stack):
    environment_id = create("balanced")
    dependencies = add_dependencies(environment_id)
    alb_name = f"{settings.get().aws_name_prefix}{dependencies['application']}"
    [alb] = setup_client("elbv2").describe_load_balancers(Names=[alb_name])["LoadBalancers"]
    listeners = [
        listener["ListenerArn"]
        for listener in setup_client("elbv2").describe_listeners(LoadBalancerArn=alb["LoadBalancerArn"])["Listeners"]
    ]
    assert len(listeners) == 2

    run_all(environment_id)

    assert left(environment_id) == NOTHING
    with pytest.raises(ClientError) as raised:
        setup_client("elbv2").describe_listeners(ListenerArns=listeners)
    assert raised.value.response["Error"]["Code"] == "ListenerNotFound"
    for load_balancer_id in (dependencies["classic"], dependencies["application"]):
        with pytest.raises(Exception) as raised:
            load_balancers.get(load_balancer_id)
        assert getattr(raised.value, "status", None) == 404
    assert load_balancers.list_all() == []
    # The names are free again in a new environment of the same name.
    assert add_dependencies(create("balanced"))


def test_load_balancer_dependencies_are_layer0_ids_tagged_or_named_in_the_environment_group(stack):
    environment_id = create("found")
    other = create("elsewhere")
    tagged = add_dependencies(environment_id)
    # A Layer0 load balancer whose tags were lost is still found by its name and the environment's group.
    lost = load_balancers.create(
        CreateLoadBalancerRequest(load_balancer_name="lost", environment_id=environment_id)
    ).load_balancer_id
    tag_store.delete_entity("load_balancer", lost)
    # Tags of a load balancer AWS no longer knows are found too, so that they go.
    tag_store.insert(Tag(entity_type="load_balancer", entity_id="gone12345678", key="environment_id", value=environment_id))
    # Not Layer0's: a load balancer not named by Layer0 in the group, and one of another environment.
    group_id = environments.find_security_group(environment_id)["GroupId"]
    setup_client("elb").create_load_balancer(
        LoadBalancerName="someone-elses",
        Listeners=[{"Protocol": "TCP", "LoadBalancerPort": 80, "InstancePort": 80}],
        Subnets=list(settings.get().private_subnets)[:1],
        SecurityGroups=[group_id],
        Scheme="internal",
    )
    elsewhere = load_balancers.create(CreateLoadBalancerRequest(load_balancer_name="web", environment_id=other))

    listed = [d["id"] for d in delete_environment.list_dependencies(environment_id)["dependencies"] if d["kind"] == "load_balancer"]

    assert listed == sorted([tagged["classic"], tagged["application"], lost, "gone12345678"])
    for load_balancer_id in listed:
        delete_environment.delete_dependency(environment_id, "load_balancer", load_balancer_id)
    assert delete_environment.list_dependencies(environment_id)["dependencies"] == [
        {"kind": "service", "id": tagged["service"]}
    ]
    assert tag_store.select_by_type_and_id("load_balancer", "gone12345678") == []
    remaining = setup_client("elb").describe_load_balancers()["LoadBalancerDescriptions"]
    assert sorted(lb["LoadBalancerName"] for lb in remaining) == sorted(
        ["someone-elses", f"{settings.get().aws_name_prefix}{elsewhere.load_balancer_id}"]
    )


def test_a_load_balancer_whose_group_is_still_in_use_is_retried_and_a_rerun_finishes(stack, monkeypatch):
    environment_id = create("draining")
    dependencies = add_dependencies(environment_id)
    ec2 = aws.client("ec2")
    real_delete = ec2.delete_security_group

    def in_use(**_kwargs):
        raise ClientError({"Error": {"Code": "DependencyViolation", "Message": "resource has a dependent object"}}, "DeleteSecurityGroup")

    monkeypatch.setattr(ec2, "delete_security_group", in_use)
    with pytest.raises(Retryable, match="still in use"):
        delete_environment.delete_dependency(environment_id, "load_balancer", dependencies["classic"])
    # The load balancer went; its group and tags wait for the retry.
    classic_name = f"{settings.get().aws_name_prefix}{dependencies['classic']}"
    elb_names = [lb["LoadBalancerName"] for lb in setup_client("elb").describe_load_balancers()["LoadBalancerDescriptions"]]
    assert classic_name not in elb_names
    assert left(environment_id)["load_balancer_security_groups"] == 2
    assert tag_store.select_by_type_and_id("load_balancer", dependencies["classic"]) != []

    monkeypatch.setattr(ec2, "delete_security_group", real_delete)
    assert delete_environment.delete_dependency(environment_id, "load_balancer", dependencies["classic"]) == {
        "deleted": {"kind": "load_balancer", "id": dependencies["classic"]}
    }
    delete_environment.delete_dependency(environment_id, "load_balancer", dependencies["application"])
    counts = left(environment_id)
    assert (counts["load_balancers"], counts["load_balancer_security_groups"], counts["load_balancer_tags"]) == (0, 0, 0)


def test_the_delete_environment_machine_retries_a_load_balancer_whose_group_is_still_in_use(stack, monkeypatch):
    from layer0 import jobs
    from layer0.stores import jobs as job_store
    from tests.workflows.helpers import execution_arn, job_machines, wait_for_end

    environment_id = create("retried")
    add_dependencies(environment_id)
    load_balancer_groups = [
        g["GroupId"] for g in setup_client("ec2").describe_security_groups()["SecurityGroups"] if g["GroupName"].endswith("-lb")
    ]
    ec2 = aws.client("ec2")
    real_delete = ec2.delete_security_group
    refused = []

    def in_use_once(**kwargs):
        if not refused:
            refused.append(kwargs["GroupId"])
            raise ClientError({"Error": {"Code": "DependencyViolation", "Message": "in use"}}, "DeleteSecurityGroup")
        return real_delete(**kwargs)

    monkeypatch.setattr(ec2, "delete_security_group", in_use_once)
    with job_machines(monkeypatch) as (machines, waits):
        job = jobs.create(jobs.JobType.DeleteEnvironment, environment_id)
        described = wait_for_end(execution_arn(machines[1], job.job_id))

    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    assert job_store.get(job.job_id).job_status == 3
    [group_id] = refused
    assert group_id in load_balancer_groups
    assert group_id not in [g["GroupId"] for g in setup_client("ec2").describe_security_groups()["SecurityGroups"]]
    assert ("retry", asl.SECURITY_GROUP_RETRY.interval_seconds) in waits.requested
    assert left(environment_id) == NOTHING
