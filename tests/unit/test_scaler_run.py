"""The scaler's I/O layer against moto: providers from ECS, the ASG applied, and the scheduled function."""

from __future__ import annotations

from handlers import scaler as scaler_function
from layer0 import environments, scaler
from layer0.models import CreateEnvironmentRequest
from layer0.scaler import Consumer
from tests.conftest import setup_client
from tests.workflows.test_create_task import agent  # noqa: F401 - a fixture


def create(name: str, count: int = 0, scaling: str = "layer0") -> str:
    """An environment the Layer0 scaler sizes (a managed one is only reported: the last tests)."""
    request = CreateEnvironmentRequest(
        environment_name=name,
        operating_system="linux",
        instance_size="t3.small",
        min_cluster_count=count,
        scaling=scaling,
    )
    return environments.create(request).environment_id


def asg(environment_id: str) -> dict:
    [group] = setup_client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[f"l0-l0-{environment_id}"])[
        "AutoScalingGroups"
    ]
    return group


def test_instance_memory_comes_from_ec2_and_is_cached(stack):
    scaler.instance_memory.cache_clear()
    assert scaler.instance_memory("t3.small") == 2048
    assert scaler.instance_memory("t9.huge") is None
    assert scaler.instance_memory.cache_info().hits == 0
    scaler.instance_memory("t3.small")
    assert scaler.instance_memory.cache_info().hits == 1


def test_consumers_grow_the_asg_and_raise_its_max(stack, monkeypatch):
    environment_id = create("grow")
    monkeypatch.setattr(scaler, "consumers_of", lambda cluster: [Consumer("big", 1500), Consumer("big2", 1500)])
    info = scaler.run(environment_id)
    assert (info.scale_before_run, info.desired_scale_after_run, info.actual_scale_after_run) == (0, 2, 2)
    assert [c.memory for c in info.pending_resources] == ["1500MiB", "1500MiB"]
    group = asg(environment_id)
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (0, 2, 2)


def test_an_environment_at_zero_stays_at_zero(stack):
    environment_id = create("zero")
    info = scaler.run(environment_id)
    assert (info.desired_scale_after_run, info.actual_scale_after_run) == (0, 0)
    assert asg(environment_id)["DesiredCapacity"] == 0


def test_unused_providers_are_terminated_down_to_the_minimum(stack, monkeypatch):
    environment_id = create("shrink", count=3)
    environments.update_min_count(environment_id, 1)
    instance_ids = [i["InstanceId"] for i in asg(environment_id)["Instances"]]
    monkeypatch.setattr(
        scaler, "providers_of", lambda cluster: [scaler.Provider(i, 2048, [], False) for i in instance_ids]
    )
    info = scaler.run(environment_id)
    assert (info.scale_before_run, info.desired_scale_after_run, info.unused_resource_providers) == (3, 1, 3)
    group = asg(environment_id)
    assert group["DesiredCapacity"] == 1
    remaining = {i["InstanceId"] for i in group["Instances"] if i["LifecycleState"] == "InService"}
    assert len(remaining) == 1 and remaining <= set(instance_ids)


def test_the_scheduled_function_scales_every_environment_and_reports_each(stack, monkeypatch):
    first, second = create("one", count=1), create("two")
    results = scaler_function.handler({}, None)
    assert set(results) == {first, second}
    assert results[first]["desired_scale_after_run"] == 1
    assert results[second]["desired_scale_after_run"] == 0

    def broken(environment_id):
        raise RuntimeError("boom")

    monkeypatch.setattr(scaler, "run", broken)
    assert scaler_function.handler({"environment_id": first}, None) == {first: {"error": "boom"}}


# --- the debounced trigger ------------------------------------------------------------------------------------------


def test_request_run_schedules_one_run_per_environment_and_window(stack, monkeypatch):
    from layer0 import settings

    function_arn = "arn:aws:lambda:us-west-2:123456789012:function:l0-l0-scaler"
    role_arn = "arn:aws:iam::123456789012:role/l0-l0-scaler-schedule"
    monkeypatch.setenv("LAYER0_SCALER_FUNCTION_ARN", function_arn)
    monkeypatch.setenv("LAYER0_SCALER_SCHEDULE_ROLE_ARN", role_arn)
    settings.get.cache_clear()
    start = 1_800_000_000.0  # 2027-01-15T08:00:00Z, the start of a 10-second window
    assert scaler.request_run("envaaaaaaaaa", now=lambda: start) is True
    assert scaler.request_run("envaaaaaaaaa", now=lambda: start + 9.9) is False  # same window: nothing more
    assert scaler.request_run("envbbbbbbbbb", now=lambda: start + 1) is True  # another environment
    assert scaler.request_run("envaaaaaaaaa", now=lambda: start + 10) is True  # the next window

    schedules = setup_client("scheduler").list_schedules(NamePrefix="l0-l0-scale-")["Schedules"]
    assert sorted(s["Name"] for s in schedules) == [
        "l0-l0-scale-envaaaaaaaaa-180000000",
        "l0-l0-scale-envaaaaaaaaa-180000001",
        "l0-l0-scale-envbbbbbbbbb-180000000",
    ]
    first = setup_client("scheduler").get_schedule(Name="l0-l0-scale-envaaaaaaaaa-180000000")
    assert first["ScheduleExpression"] == "at(2027-01-15T08:00:10)"
    assert first["ActionAfterCompletion"] == "DELETE"
    assert first["Target"]["Arn"] == function_arn and first["Target"]["RoleArn"] == role_arn
    assert first["Target"]["Input"] == '{"environment_id": "envaaaaaaaaa"}'


def test_request_run_does_nothing_where_no_scheduler_is_configured(stack):
    assert scaler.request_run("envaaaaaaaaa") is False


# --- providers and consumers read from ECS ---------------------------------------------------------------------------




def test_providers_from_container_instances_and_consumers_from_missing_service_copies(stack, agent, monkeypatch):
    from layer0 import aws

    environment_id = create("ecs", count=1)
    cluster = f"l0-l0-{environment_id}"
    # The local ECS agent simulation registers the ASG's instance in the cluster with its type's memory.
    agent.sync_once()
    [provider] = scaler.providers_of(cluster)
    assert provider.id == asg(environment_id)["Instances"][0]["InstanceId"]
    assert (provider.available_memory, provider.in_use) == (2048, False)

    ecs = setup_client("ecs")
    ecs.register_task_definition(
        family="l0-l0-web",
        containerDefinitions=[
            # memory: the hard limit wins over the reservation; ports: non-zero host ports only
            {"name": "web", "image": "nginx", "memory": 1500, "memoryReservation": 100,
             "portMappings": [{"containerPort": 80, "hostPort": 80}, {"containerPort": 81, "hostPort": 0}]},
            {"name": "sidecar", "image": "busybox", "memoryReservation": 64},
        ],
    )  # fmt: skip
    ecs.create_service(cluster=cluster, serviceName="l0-l0-websvc", taskDefinition="l0-l0-web", desiredCount=2)

    # moto counts every copy it cannot place as pending; ECS counts only tasks placed on an instance, so copies
    # that find no room are missing from both counts. Answer as ECS does.
    client = aws.client("ecs")
    describe = client.describe_services

    def as_ecs_does(**kwargs):
        answer = describe(**kwargs)
        for service in answer["services"]:
            for deployment in service["deployments"]:
                deployment["pendingCount"] = 0
        return answer

    monkeypatch.setattr(client, "describe_services", as_ecs_does)
    consumers = scaler.consumers_of(cluster)
    web = [c for c in consumers if "Container: web" in c.id]
    sidecar = [c for c in consumers if "Container: sidecar" in c.id]
    assert [(c.memory, c.ports) for c in web] == [(1500, (80,)), (1500, (80,))]
    assert [(c.memory, c.ports) for c in sidecar] == [(64, ()), (64, ())]
    assert web[0].id == "Service: l0-l0-websvc, Deploy: l0-l0-web:1, Container: web, Copy: 0"

    # The two copies of port 80 need two instances: the ASG grows from 1 to 2, its max with it.
    info = scaler.run(environment_id)
    assert (info.scale_before_run, info.desired_scale_after_run, info.actual_scale_after_run) == (1, 2, 2)
    group = asg(environment_id)
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (1, 2, 2)
    # web 0 and sidecar 0 on the instance, web 1 on a new one, sidecar 1 back on the fuller instance (binpack).
    assert [p.available_memory for p in info.resource_providers] == ["420MiB", "548MiB"]


def test_a_managed_environment_is_reported_and_left_alone(stack, monkeypatch):
    """ECS managed scaling sizes it (docs/architecture.md#capacity-providers): the run reports the group's sizes."""
    environment_id = create("managed", count=1, scaling="managed")
    monkeypatch.setattr(scaler, "consumers_of", lambda cluster: [Consumer("big", 1500), Consumer("big2", 1500)])
    before = asg(environment_id)

    info = scaler.run(environment_id)

    assert (info.scale_before_run, info.desired_scale_after_run, info.actual_scale_after_run) == (1, 1, 1)
    assert info.pending_resources == [] and info.errors == []
    after = asg(environment_id)
    assert (after["DesiredCapacity"], after["MaxSize"], after["MinSize"]) == (
        before["DesiredCapacity"],
        before["MaxSize"],
        before["MinSize"],
    )


def test_no_debounced_run_is_scheduled_for_a_managed_environment(stack, monkeypatch):
    monkeypatch.setenv("LAYER0_SCALER_FUNCTION_ARN", "arn:aws:lambda:us-west-2:123456789012:function:l0-l0-scaler")
    monkeypatch.setenv("LAYER0_SCALER_SCHEDULE_ROLE_ARN", "arn:aws:iam::123456789012:role/l0-l0-scaler-schedule")
    from layer0 import settings

    settings.get.cache_clear()
    managed, layer0 = create("managed", scaling="managed"), create("layer0")

    assert scaler.request_run(managed, now=lambda: 1_800_000_000.0) is False
    assert scaler.request_run(layer0, now=lambda: 1_800_000_000.0) is True
