"""`PUT` and `DELETE /service/{id}/autoscaling` over HTTP through the local gateway, Application Auto Scaling in moto
behind it (docs/compatibility.md#service-autoscaling)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from layer0 import aws
from tests.api.test_services import create, machines, web  # noqa: F401 - fixtures
from tests.conftest import setup_client

RANGE_AND_CPU = {
    "min_count": 1,
    "max_count": 10,
    "cpu_target": 60,
    "memory_target": None,
    "requests_per_target": None,
    "scale_in_cooldown": 300,
    "scale_out_cooldown": 60,
}


@pytest.fixture
def service_id(web, api) -> str:
    environment_id, deploy_id = web
    response = create(api, environment_id, "guestbook", deploy_id)
    assert response.status_code == 200, response.text
    return response.json()["service_id"]


def put(api, service_id: str, body: dict):
    return api.request("PUT", f"/service/{service_id}/autoscaling", json=body)


def error(response) -> tuple[int, int, str]:
    return response.status_code, response.json()["error_code"], response.json()["message"]


def resource_id(service_id: str, web) -> str:
    return f"service/l0-l0-{web[0]}/l0-l0-{service_id}"


def targets() -> list[dict]:
    return setup_client("application-autoscaling").describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]


def policies() -> dict[str, dict]:
    found = setup_client("application-autoscaling").describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
    return {p["PolicyName"]: p for p in found}


def test_put_registers_the_target_and_one_tracking_policy_per_target(api, web, service_id):
    response = put(api, service_id, {**RANGE_AND_CPU, "memory_target": 75.5})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["service_id"] == service_id
    assert body["autoscaling"] == {**RANGE_AND_CPU, "cpu_target": 60.0, "memory_target": 75.5}
    [target] = targets()
    assert (target["ResourceId"], target["ScalableDimension"]) == (
        resource_id(service_id, web),
        "ecs:service:DesiredCount",
    )
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 10)
    found = policies()
    assert sorted(found) == [f"l0-l0-{service_id}-cpu", f"l0-l0-{service_id}-memory"]
    cpu = found[f"l0-l0-{service_id}-cpu"]
    assert cpu["PolicyType"] == "TargetTrackingScaling"
    assert cpu["ResourceId"] == resource_id(service_id, web)
    configuration = cpu["TargetTrackingScalingPolicyConfiguration"]
    assert configuration["PredefinedMetricSpecification"] == {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}
    assert (configuration["TargetValue"], configuration["ScaleInCooldown"], configuration["ScaleOutCooldown"]) == (
        60.0,
        300,
        60,
    )
    memory = found[f"l0-l0-{service_id}-memory"]["TargetTrackingScalingPolicyConfiguration"]
    assert memory["PredefinedMetricSpecification"]["PredefinedMetricType"] == "ECSServiceAverageMemoryUtilization"
    assert memory["TargetValue"] == 75.5
    # GET shows what Application Auto Scaling has.
    assert api.get(f"/service/{service_id}").json()["autoscaling"] == body["autoscaling"]


def test_a_service_not_autoscaled_shows_null(api, service_id):
    assert api.get(f"/service/{service_id}").json()["autoscaling"] is None


def test_put_again_replaces_the_range_and_removes_the_policies_no_longer_given(api, service_id):
    assert put(api, service_id, {**RANGE_AND_CPU, "memory_target": 70}).status_code == 200

    response = put(api, service_id, {"min_count": 2, "max_count": 4, "memory_target": 50, "scale_in_cooldown": 30})

    assert response.status_code == 200, response.text
    assert response.json()["autoscaling"] == {
        "min_count": 2,
        "max_count": 4,
        "cpu_target": None,
        "memory_target": 50.0,
        "requests_per_target": None,
        "scale_in_cooldown": 30,
        "scale_out_cooldown": 300,
    }
    [target] = targets()
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 4)
    assert sorted(policies()) == [f"l0-l0-{service_id}-memory"]
    assert api.get(f"/service/{service_id}").json()["autoscaling"] == response.json()["autoscaling"]


def test_delete_removes_the_target_and_its_policies_and_answers_the_service(api, service_id):
    assert put(api, service_id, {**RANGE_AND_CPU, "memory_target": 70}).status_code == 200

    response = api.delete(f"/service/{service_id}/autoscaling")

    assert response.status_code == 200, response.text
    assert (response.json()["service_id"], response.json()["autoscaling"]) == (service_id, None)
    assert targets() == [] and policies() == {}
    assert api.get(f"/service/{service_id}").json()["autoscaling"] is None
    # Again: nothing left to remove is not an error.
    assert api.delete(f"/service/{service_id}/autoscaling").status_code == 200


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"min_count": 1, "max_count": 10}, "at least one target"),
        ({"min_count": 1, "max_count": 10, "cpu_target": None, "memory_target": None}, "at least one target"),
        ({"min_count": 5, "max_count": 4, "cpu_target": 50}, "must not be above max_count"),
        ({"min_count": 1, "max_count": 5001, "cpu_target": 50}, "max_count"),
        ({"min_count": -1, "max_count": 3, "cpu_target": 50}, "min_count"),
        ({"min_count": 1, "max_count": 3, "cpu_target": 0}, "cpu_target"),
        ({"min_count": 1, "max_count": 3, "cpu_target": 101}, "cpu_target"),
        ({"min_count": 1, "max_count": 3, "memory_target": "high"}, "memory_target"),
        ({"min_count": 1, "max_count": 3, "requests_per_target": 0}, "requests_per_target"),
        ({"min_count": 1, "max_count": 3, "requests_per_target": 10**40}, "requests_per_target"),
        ({"min_count": 1, "max_count": 3, "cpu_target": 50, "scale_in_cooldown": -5}, "scale_in_cooldown"),
        ({"min_count": 1, "max_count": 3, "cpu_target": 50, "scale_out_cooldown": 86401}, "scale_out_cooldown"),
    ],
)
def test_a_broken_rule_is_400_code_1_and_registers_nothing(api, service_id, body, named):
    status, code, message = error(put(api, service_id, body))

    assert (status, code) == (400, 1)
    assert named in message
    assert targets() == [] and policies() == {}


def test_the_range_is_required_code_19(api, service_id):
    status, code, message = error(put(api, service_id, {"max_count": 3, "cpu_target": 50}))
    assert (status, code) == (400, 19) and "min_count" in message
    assert targets() == []


def test_keys_match_case_insensitively(api, service_id):
    response = put(api, service_id, {"Min_Count": 1, "MAX_COUNT": 2, "Cpu_Target": 40})
    assert response.status_code == 200, response.text
    assert response.json()["autoscaling"]["cpu_target"] == 40.0


def test_requests_per_target_without_an_application_load_balancer_is_400_code_1(api, service_id):
    status, code, message = error(put(api, service_id, {"min_count": 1, "max_count": 3, "requests_per_target": 100}))

    assert (status, code) == (400, 1)
    assert "application load balancer" in message
    assert targets() == [] and policies() == {}


def test_requests_per_target_tracks_the_alb_target_group(api, web, machines):
    environment_id, deploy_id = web
    balancer = api.post(
        "/loadbalancer",
        json={
            "load_balancer_name": "weblb",
            "environment_id": environment_id,
            "load_balancer_type": "application",
            "is_public": True,
            "ports": [{"host_port": 80, "container_port": 80, "protocol": "http"}],
        },
    )
    assert balancer.status_code == 200, balancer.text
    load_balancer_id = balancer.json()["load_balancer_id"]
    created = create(api, environment_id, "guestbook", deploy_id, load_balancer_id=load_balancer_id)
    assert created.status_code == 200, created.text
    service_id = created.json()["service_id"]

    response = put(api, service_id, {"min_count": 1, "max_count": 3, "requests_per_target": 250})

    assert response.status_code == 200, response.text
    assert response.json()["autoscaling"]["requests_per_target"] == 250
    elbv2 = setup_client("elbv2")
    [alb] = elbv2.describe_load_balancers(Names=[f"l0-l0-{load_balancer_id}"])["LoadBalancers"]
    [group] = elbv2.describe_target_groups(LoadBalancerArn=alb["LoadBalancerArn"])["TargetGroups"]
    label = (
        alb["LoadBalancerArn"].split(":loadbalancer/")[1] + "/" + group["TargetGroupArn"].split(":")[-1]
    )  # app/<name>/<id>/targetgroup/<name>/<id>
    [policy] = policies().values()
    metric = policy["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]
    assert metric == {"PredefinedMetricType": "ALBRequestCountPerTarget", "ResourceLabel": label}
    assert label.startswith("app/") and "/targetgroup/" in label


@pytest.fixture
def failing_memory_policy():
    """Application Auto Scaling refuses the memory policy (a quota, a throttle that outlasted the retries)."""

    def refuse(params, **_):
        if params.get("PolicyName", "").endswith("-memory"):
            raise ClientError({"Error": {"Code": "LimitExceededException", "Message": "too many"}}, "PutScalingPolicy")

    events = aws.client("application-autoscaling").meta.events
    events.register("provide-client-params.application-autoscaling.PutScalingPolicy", refuse)
    yield
    events.unregister("provide-client-params.application-autoscaling.PutScalingPolicy", refuse)


def test_a_failed_second_policy_rolls_back_a_first_configuration_to_nothing(api, service_id, failing_memory_policy):
    response = put(api, service_id, {**RANGE_AND_CPU, "memory_target": 70})

    assert response.status_code >= 400
    assert targets() == [] and policies() == {}
    assert api.get(f"/service/{service_id}").json()["autoscaling"] is None


def test_a_failed_replacement_puts_back_the_configuration_before(api, service_id, request):
    assert put(api, service_id, RANGE_AND_CPU).status_code == 200
    before = api.get(f"/service/{service_id}").json()["autoscaling"]
    request.getfixturevalue("failing_memory_policy")

    response = put(api, service_id, {"min_count": 3, "max_count": 6, "cpu_target": 20, "memory_target": 70})

    assert response.status_code >= 400
    assert api.get(f"/service/{service_id}").json()["autoscaling"] == before
    [target] = targets()
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 10)
    assert sorted(policies()) == [f"l0-l0-{service_id}-cpu"]


def test_scale_within_the_range_sets_the_count_and_outside_it_is_400_naming_the_range(api, web, service_id):
    assert put(api, service_id, {"min_count": 2, "max_count": 4, "cpu_target": 50}).status_code == 200

    inside = api.request("PUT", f"/service/{service_id}/scale", json={"desired_count": 3})
    assert inside.status_code == 200, inside.text
    assert inside.json()["desired_count"] == 3
    assert inside.json()["autoscaling"]["max_count"] == 4

    for count in (1, 5):
        status, code, message = error(api.request("PUT", f"/service/{service_id}/scale", json={"desired_count": count}))
        assert (status, code) == (400, 1)
        assert "2-4" in message
    [ecs_service] = setup_client("ecs").describe_services(
        cluster=f"l0-l0-{web[0]}", services=[f"l0-l0-{service_id}"]
    )["services"]
    assert ecs_service["desiredCount"] == 3


def test_an_unknown_service_is_404_code_28(api, machines):
    assert error(put(api, "nosuchservice", RANGE_AND_CPU))[:2] == (404, 28)
    assert error(api.delete("/service/nosuchservice/autoscaling"))[:2] == (404, 28)
    assert targets() == []


def test_only_an_autoscaled_service_s_get_asks_application_autoscaling(api, service_id):
    made: list[str] = []

    def record(model, **_):
        made.append(model.name)

    events = aws.client("application-autoscaling").meta.events
    events.register("before-call.application-autoscaling", record)
    try:
        assert api.get(f"/service/{service_id}").json()["autoscaling"] is None
        assert made == []
        assert put(api, service_id, RANGE_AND_CPU).status_code == 200
        made.clear()
        assert api.get(f"/service/{service_id}").json()["autoscaling"]["cpu_target"] == 60.0
        assert made == ["DescribeScalableTargets", "DescribeScalingPolicies"]
        # Its marker, the service tag `autoscaled`, goes with the autoscaling.
        tags = {t["key"]: t["value"] for e in api.get(f"/tag?type=service&id={service_id}").json() for t in e["tags"]}
        assert tags["autoscaled"] == "true"
        assert api.delete(f"/service/{service_id}/autoscaling").status_code == 200
        tags = {t["key"]: t["value"] for e in api.get(f"/tag?type=service&id={service_id}").json() for t in e["tags"]}
        assert "autoscaled" not in tags
        made.clear()
        assert api.get(f"/service/{service_id}").json()["autoscaling"] is None
        assert made == []
    finally:
        events.unregister("before-call.application-autoscaling", record)


def test_parallel_and_repeated_puts_make_one_target_and_one_policy_per_target(api, service_id):
    import threading

    answers: list[int] = []
    threads = [
        threading.Thread(target=lambda: answers.append(put(api, service_id, RANGE_AND_CPU).status_code))
        for _ in range(5)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers == [200] * 5
    assert len(targets()) == 1
    assert sorted(policies()) == [f"l0-l0-{service_id}-cpu"]
