"""Service autoscaling end to end in local mode (docs/compatibility.md#service-autoscaling): `python -m local` in a
subprocess; a CloudWatch alarm of the service's target-tracking policy goes to ALARM through the embedded AWS, as
CloudWatch would set it; the simulated Application Auto Scaling raises the service's desired count, ECS's simulated
scheduler follows, and the debounced scaler gives the environment the instances the new copies need."""

from __future__ import annotations

import pytest

from tests.e2e.scenario import call, create_environment, embedded_aws, eventually, session, wait_for_job
from tests.e2e.test_workload_scenarios import create_deploy, create_service, wait_for_deployment


@pytest.fixture(scope="module")
def l0():
    yield from session()


@pytest.fixture(scope="module")
def aws(l0):
    return embedded_aws(l0)



def high_alarm(aws, service_id: str) -> str:
    [policy] = aws("application-autoscaling").describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
    assert policy["PolicyName"] == f"l0-l0-{service_id}-cpu"
    [name] = [a["AlarmName"] for a in policy["Alarms"] if "-AlarmHigh-" in a["AlarmName"]]
    return name


def test_an_alarm_scales_the_service_out_and_the_environment_gains_instances(l0, aws):
    environment_id = create_environment(l0, "autoscaled")["environment_id"]
    # One copy per instance: every copy wants host port 80.
    create_deploy(l0, "guestbook", "Service.Dockerrun.aws.json")
    service, _job = create_service(l0, environment_id, "guestbook", "guestbook")
    service_id = service["service_id"]
    wait_for_deployment(l0, service_id)
    assert call(l0, "GET", f"environment/{environment_id}").json()["cluster_count"] == 1

    body = {"min_count": 1, "max_count": 3, "cpu_target": 50, "scale_out_cooldown": 0}
    autoscaled = call(l0, "PUT", f"service/{service_id}/autoscaling", json=body).json()
    assert autoscaled["autoscaling"]["max_count"] == 3
    assert call(l0, "GET", f"service/{service_id}").json()["autoscaling"]["cpu_target"] == 50.0

    # CPU above the target for long enough: CloudWatch sets the policy's high alarm.
    aws("cloudwatch").set_alarm_state(AlarmName=high_alarm(aws, service_id), StateValue="ALARM", StateReason="load")

    eventually(lambda: call(l0, "GET", f"service/{service_id}").json()["desired_count"] == 3, "desired count 3")
    steady = wait_for_deployment(l0, service_id)
    assert (steady["desired_count"], steady["running_count"]) == (3, 3)
    assert call(l0, "GET", f"environment/{environment_id}").json()["cluster_count"] == 3
    # Never beyond the maximum, while the alarm lasts.
    assert call(l0, "GET", f"service/{service_id}").json()["desired_count"] == 3

    # A manual count outside the range is refused, naming it.
    refused = call(l0, "PUT", f"service/{service_id}/scale", expected=400, json={"desired_count": 4}).json()
    assert refused["error_code"] == 1 and "1-3" in refused["message"]

    # Deleting the service removes its scalable target and policies.
    deleted = call(l0, "DELETE", f"service/{service_id}", expected=202)
    assert wait_for_job(l0, deleted.headers["X-JobID"])["job_status"] == 3
    assert aws("application-autoscaling").describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] == []
    assert aws("application-autoscaling").describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"] == []
