"""local/ecs/autoscaling.py through `Agent.sync_once()`: Application Auto Scaling's target tracking as local mode
simulates it (docs/compatibility.md#service-autoscaling). Deterministic: in-process moto, a fake clock."""

from __future__ import annotations

import json

from local.ecs.agent import Agent
from tests.conftest import setup_client
from tests.workflows.test_ecs_simulation import (  # noqa: F401 - fixtures
    CLUSTER,
    agent,
    clock,
    create_service,
    deploy,
    environment,
    service,
    service_tasks,
    sync,
)

RESOURCE = f"service/{CLUSTER}/web"


def app() -> str:
    """A deploy whose copies fit side by side (no host port)."""
    return deploy(containers=[{"name": "app", "image": "nginx", "memory": 128}])


def autoscale(min_count: int, max_count: int, *, scale_out: int = 0, scale_in: int = 0, kinds=("CPU",)) -> None:
    autoscaling = setup_client("application-autoscaling")
    autoscaling.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=RESOURCE,
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=min_count,
        MaxCapacity=max_count,
    )
    for kind in kinds:
        autoscaling.put_scaling_policy(
            PolicyName=f"web-{kind.lower()}",
            ServiceNamespace="ecs",
            ResourceId=RESOURCE,
            ScalableDimension="ecs:service:DesiredCount",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 50.0,
                "PredefinedMetricSpecification": {"PredefinedMetricType": f"ECSServiceAverage{kind}Utilization"},
                "ScaleOutCooldown": scale_out,
                "ScaleInCooldown": scale_in,
            },
        )


def alarm(kind: str, which: str, state: str) -> None:
    """Set one policy's alarm ("High" or "Low") the way CloudWatch would."""
    [policy] = [
        p
        for p in setup_client("application-autoscaling").describe_scaling_policies(ServiceNamespace="ecs")[
            "ScalingPolicies"
        ]
        if p["PolicyName"] == f"web-{kind.lower()}"
    ]
    [name] = [a["AlarmName"] for a in policy["Alarms"] if f"-Alarm{which}-" in a["AlarmName"]]
    setup_client("cloudwatch").set_alarm_state(AlarmName=name, StateValue=state, StateReason="local test")


def test_a_count_outside_a_new_range_moves_into_it(agent):
    environment(instances=2)
    create_service(app(), desired=1)
    autoscale(3, 5)

    sync(agent)

    assert service()["desiredCount"] == 3
    assert agent.autoscaling.changes == [(RESOURCE, 1, 3)]
    sync(agent, 2)
    assert len(service_tasks()) == 3


def test_a_high_alarm_scales_out_one_task_per_cooldown_up_to_the_maximum(agent, clock):
    environment(instances=3)
    create_service(app(), desired=1)
    autoscale(1, 3, scale_out=60)
    sync(agent)
    assert service()["desiredCount"] == 1  # no alarm: nothing moves

    alarm("CPU", "High", "ALARM")
    sync(agent)
    assert service()["desiredCount"] == 2
    sync(agent)
    assert service()["desiredCount"] == 2  # the scale-out cooldown
    clock.advance(60)
    sync(agent)
    clock.advance(60)
    sync(agent)
    assert service()["desiredCount"] == 3  # the maximum
    assert [change[1:] for change in agent.autoscaling.changes] == [(1, 2), (2, 3)]


def test_scale_in_needs_every_policy_s_low_alarm(agent):
    environment(instances=3)
    create_service(app(), desired=3)
    autoscale(1, 3, kinds=("CPU", "Memory"))

    alarm("CPU", "Low", "ALARM")
    sync(agent)
    assert service()["desiredCount"] == 3
    alarm("Memory", "Low", "ALARM")
    sync(agent)
    assert service()["desiredCount"] == 2


def test_targets_of_other_instances_and_deregistered_targets_are_left_alone(agent):
    environment(instances=1)
    create_service(app(), desired=1)
    autoscale(2, 2)
    setup_client("application-autoscaling").deregister_scalable_target(
        ServiceNamespace="ecs", ResourceId=RESOURCE, ScalableDimension="ecs:service:DesiredCount"
    )
    sync(agent)
    assert service()["desiredCount"] == 1 and agent.autoscaling.changes == []


def test_a_change_is_told_to_the_events_function_as_ecs_tells_it(clock, monkeypatch):
    from moto import mock_aws

    from local.ecs import agent as agent_module
    from tests.conftest import MOTO_CONFIG

    invoked: list[dict] = []
    with mock_aws(config=MOTO_CONFIG):
        setup_client("logs").create_log_group(logGroupName="l0-test")
        told = Agent(setup_client, "test", clock=clock, events_function="l0-test-events")
        lambda_client = told.client("lambda")
        monkeypatch.setattr(
            lambda_client, "invoke", lambda FunctionName, Payload: invoked.append(json.loads(Payload)) or {}
        )
        try:
            environment(instances=2)
            create_service(app(), desired=1)
            autoscale(2, 4)
            told.sync_once()
        finally:
            agent_module.unpatch_moto_total_resources()

    [event] = [e for e in invoked if e["detail-type"] == "ECS Service Action"]
    assert event["source"] == "aws.ecs"
    assert event["detail"]["eventName"] == "SERVICE_DESIRED_COUNT_UPDATED"
    assert event["detail"]["clusterArn"].endswith(f":cluster/{CLUSTER}")
    assert event["resources"][0].endswith("/web")
    assert (event["detail"]["previousDesiredCount"], event["detail"]["desiredCount"]) == (1, 2)
