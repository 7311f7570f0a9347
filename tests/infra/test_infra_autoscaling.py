"""The autoscaling policies (infra/autoscaling.py) in the template: the API function autoscales ECS services' desired
counts only, the delete steps only remove, and the events function may request scaler runs
(docs/compatibility.md#service-autoscaling)."""

from __future__ import annotations

import json

from infra.nag import nag_text
from layer0 import contract
from tests.infra.helpers import as_list, function, granted, only, statements, step_role

REGIONAL = "arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>"
TARGETS = f"{REGIONAL.format(service='application-autoscaling')}:scalable-target/*"
ALARMS = f"{REGIONAL.format(service='cloudwatch')}:alarm:TargetTracking-service/l0-l0-*"

# Every cdk-nag finding the policies acknowledge (imported by test_infra_checks).
AUTOSCALING_ACKNOWLEDGEMENTS = {f"AwsSolutions-IAM5[Resource::{arn}]" for arn in (TARGETS, ALARMS)}

READ = {"application-autoscaling:DescribeScalableTargets", "application-autoscaling:DescribeScalingPolicies"}
REMOVE = {"application-autoscaling:DeregisterScalableTarget", "application-autoscaling:DeleteScalingPolicy"}
WRITE = REMOVE | {"application-autoscaling:RegisterScalableTarget", "application-autoscaling:PutScalingPolicy"}
# Every action the API function gets from it (imported by test_infra_template).
AUTOSCALING_ACTIONS = READ | WRITE | {
    "cloudwatch:DescribeAlarms", "cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "iam:CreateServiceLinkedRole",
}  # fmt: skip
# What the delete-service steps get from it (imported by test_infra_services).
AUTOSCALING_REMOVE_ACTIONS = REMOVE | {
    "application-autoscaling:DescribeScalingPolicies", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms",
}  # fmt: skip
ECS_DESIRED_COUNTS = {
    "StringEquals": {
        "application-autoscaling:service-namespace": "ecs",
        "application-autoscaling:scalable-dimension": "ecs:service:DesiredCount",
    }
}


def _policy(synth, name: str) -> dict:
    policies = {
        k: v for k, v in synth.resources("AWS::IAM::Policy").items() if v["Properties"].get("PolicyName") == name
    }
    return only(policies, name)[1]["Properties"]


def _by_sid(policy: dict) -> dict[str, dict]:
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}


def _text(value) -> str:
    return nag_text(value)  # the ARN as cdk-nag writes it


def test_the_api_function_autoscales_ecs_desired_counts_only(synth):
    _, props = function(synth.template_json, contract.API_HANDLER)
    policy = _policy(synth, "l0-l0-autoscaling")
    assert policy["Roles"] == [{"Ref": props["Role"]["Fn::GetAtt"][0]}]
    found = _by_sid(policy)
    assert set(as_list(found["ReadAutoscaling"]["Action"])) == READ and found["ReadAutoscaling"]["Resource"] == "*"
    write = found["AutoscaleEcsServices"]
    assert set(as_list(write["Action"])) == WRITE
    assert _text(write["Resource"]) == TARGETS
    assert write["Condition"] == ECS_DESIRED_COUNTS
    alarms = found["TargetTrackingAlarms"]
    assert _text(alarms["Resource"]) == ALARMS
    assert {a for s in policy["PolicyDocument"]["Statement"] for a in as_list(s["Action"])} == AUTOSCALING_ACTIONS


def test_only_the_ecs_autoscaling_service_linked_role_may_be_created(synth):
    statement = _by_sid(_policy(synth, "l0-l0-autoscaling"))["AutoscalingServiceLinkedRole"]
    assert statement["Action"] == "iam:CreateServiceLinkedRole"
    assert statement["Condition"] == {
        "StringEquals": {"iam:AWSServiceName": "ecs.application-autoscaling.amazonaws.com"}
    }
    assert _text(statement["Resource"]).endswith(
        ":role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService"
    )


def test_the_delete_steps_may_only_remove_autoscaling(synth):
    policy = _policy(synth, "l0-l0-autoscaling-removal")
    actions = {a for s in policy["PolicyDocument"]["Statement"] for a in as_list(s["Action"])}
    assert actions == AUTOSCALING_REMOVE_ACTIONS
    assert _by_sid(policy)["RemoveAutoscaling"]["Condition"] == ECS_DESIRED_COUNTS
    for slug in ("delete-service", "delete-environment"):
        assert AUTOSCALING_REMOVE_ACTIONS <= granted(synth.template_json, step_role(synth.template_json, slug)), slug
    rollout = granted(synth.template_json, step_role(synth.template_json, "rollout"))
    assert not any(a.startswith("application-autoscaling:") for a in rollout)


def test_the_events_function_may_request_a_debounced_scaler_run(synth):
    events_id, props = function(synth.template_json, contract.EVENTS_HANDLER)
    actions = granted(synth.template_json, props["Role"]["Fn::GetAtt"][0])
    assert {"scheduler:CreateSchedule", "iam:PassRole"} <= actions
    variables = props["Environment"]["Variables"]
    assert "LAYER0_SCALER_FUNCTION_ARN" in variables and "LAYER0_SCALER_SCHEDULE_ROLE_ARN" in variables
    pass_role = [
        s for s in statements(synth.template_json, props["Role"]["Fn::GetAtt"][0]) if s["Action"] == "iam:PassRole"
    ]
    assert pass_role and "scheduler.amazonaws.com" in json.dumps(pass_role)
