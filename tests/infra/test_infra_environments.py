"""The environments policy (infra/environments.py): what the API function may do to environments, and no more."""

from __future__ import annotations

import json

from layer0 import contract
from tests.infra.helpers import as_list, function, only

NAMES = "l0-l0-*"
PREFIX = "arn:<AWS::Partition>"
REGIONAL = f"{PREFIX}:{{service}}:<AWS::Region>:<AWS::AccountId>"

# Every cdk-nag finding the policy acknowledges (imported by test_infra_checks).
ENVIRONMENT_ACKNOWLEDGEMENTS = {
    f"AwsSolutions-IAM5[Resource::{resource}]"
    for resource in (
        "*",
        f"{REGIONAL.format(service='ecs')}:cluster/{NAMES}",
        f"{REGIONAL.format(service='ecs')}:container-instance/{NAMES}/*",
        f"{REGIONAL.format(service='ecs')}:service/{NAMES}/*",
        f"{REGIONAL.format(service='ecs')}:task/{NAMES}/*",
        f"{REGIONAL.format(service='ecs')}:capacity-provider/{NAMES}",
        f"{REGIONAL.format(service='ec2')}:security-group/*",
        f"{REGIONAL.format(service='ec2')}:launch-template/*",
        f"{REGIONAL.format(service='ec2')}:instance/*",
        f"{REGIONAL.format(service='ec2')}:volume/*",
        f"{REGIONAL.format(service='ec2')}:network-interface/*",
        f"{REGIONAL.format(service='ec2')}:subnet/*",
        f"{REGIONAL.format(service='ec2')}:key-pair/*",
        f"{PREFIX}:ec2:<AWS::Region>::image/*",
        f"{REGIONAL.format(service='autoscaling')}:autoScalingGroup:*:autoScalingGroupName/{NAMES}",
        f"{REGIONAL.format(service='elasticloadbalancing')}:loadbalancer/{NAMES}",
        f"{REGIONAL.format(service='elasticloadbalancing')}:loadbalancer/app/{NAMES}/*",
        f"{PREFIX}:ssm:<AWS::Region>::parameter/aws/service/ecs/optimized-ami/*",
        f"{PREFIX}:ssm:<AWS::Region>::parameter/aws/service/ami-windows-latest/*",
        # The API function's debounced scaler runs (infra/scaler.py).
        f"{REGIONAL.format(service='scheduler')}:schedule/default/l0-l0-scale-*",
    )
}

# What the API function may do besides the environments policy, for debounced scaler runs (imported by
# test_infra_template).
SCALER_TRIGGER_ACTIONS = {"scheduler:CreateSchedule", "iam:PassRole"}

# The only actions with Resource "*" (imported by test_infra_template).
ENVIRONMENT_STAR_ACTIONS = {
    "ecs:ListClusters", "ecs:DescribeTaskDefinition", "ecs:ListServices", "ecs:ListTasks",
    "ec2:DescribeSecurityGroups", "ec2:DescribeLaunchTemplates", "ec2:DescribeLaunchTemplateVersions",
    "ec2:DescribeInstances", "ec2:DescribeInstanceTypes",
    "autoscaling:DescribeAutoScalingGroups", "elasticloadbalancing:DescribeLoadBalancers",
    "ec2:DescribeInstanceTypeOfferings",
}  # fmt: skip

# Every action of the policy (imported by test_infra_template).
ENVIRONMENT_ACTIONS = ENVIRONMENT_STAR_ACTIONS | {
    "ecs:CreateCluster", "ecs:DeleteCluster", "ecs:DescribeClusters", "ecs:ListContainerInstances",
    "ecs:DescribeContainerInstances", "ecs:DescribeServices", "ecs:UpdateService", "ecs:DeleteService",
    "ecs:DescribeTasks", "ecs:StopTask",
    "ecs:PutClusterCapacityProviders", "ecs:CreateCapacityProvider", "ecs:DescribeCapacityProviders",
    "ecs:DeleteCapacityProvider",
    "ec2:CreateSecurityGroup", "ec2:CreateLaunchTemplate", "ec2:CreateTags", "ec2:AuthorizeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupIngress", "ec2:DeleteSecurityGroup", "ec2:DeleteLaunchTemplate", "ec2:RunInstances",
    "autoscaling:CreateAutoScalingGroup", "autoscaling:UpdateAutoScalingGroup", "autoscaling:DeleteAutoScalingGroup",
    "autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup",
    "autoscaling:CreateOrUpdateTags",
    "elasticloadbalancing:DeleteLoadBalancer", "iam:PassRole", "ssm:GetParameter", "iam:CreateServiceLinkedRole",
}  # fmt: skip


def _policy(synth):
    policies = {
        k: v
        for k, v in synth.resources("AWS::IAM::Policy").items()
        if v["Properties"].get("PolicyName") == "l0-l0-environments"
    }
    return only(policies, "environments policy")


def _statements(synth) -> dict[str, dict]:
    _, policy = _policy(synth)
    return {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}


def _text(value) -> str:
    return json.dumps(value)


def test_the_api_function_has_the_environments_policy(synth):
    _, props = function(synth.template_json, contract.API_HANDLER)
    _, policy = _policy(synth)
    assert {"Ref": props["Role"]["Fn::GetAtt"][0]} in policy["Properties"]["Roles"]
    actions = {a for s in policy["Properties"]["PolicyDocument"]["Statement"] for a in as_list(s["Action"])}
    assert actions == ENVIRONMENT_ACTIONS


def test_only_the_api_has_it_and_the_delete_environment_steps_only_the_delete_policy(synth):
    from tests.infra.helpers import granted, step_role

    _, policy = _policy(synth)
    assert len(policy["Properties"]["Roles"]) == 1  # the API function's
    [delete] = [
        p["Properties"] for p in synth.resources("AWS::IAM::Policy").values()
        if p["Properties"]["PolicyName"] == "l0-l0-environment-deletes"
    ]  # fmt: skip
    role = step_role(synth.template_json, "delete-environment")
    assert delete["Roles"] == [{"Ref": role}]
    # The delete steps create, launch and pass nothing.
    actions = granted(synth.template_json, role)
    assert not {
        a for a in actions if a.split(":")[1].startswith(("Create", "Run", "Authorize", "PassRole")) and not a.startswith("logs:")
    }  # fmt: skip
    assert {"ecs:DeleteCluster", "autoscaling:DeleteAutoScalingGroup", "ec2:DeleteLaunchTemplate"} <= actions


def test_star_resources_only_for_calls_aws_does_not_scope(synth):
    _, policy = _policy(synth)
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        if "*" in as_list(statement["Resource"]):
            assert set(as_list(statement["Action"])) <= ENVIRONMENT_STAR_ACTIONS, statement


def test_clusters_services_and_asgs_are_scoped_to_layer0_names(synth):
    statements = _statements(synth)
    assert f"cluster/{NAMES}" in _text(statements["Clusters"]["Resource"])
    for kind in ("container-instance", "service", "task"):
        assert f"{kind}/{NAMES}/*" in _text(statements["ClusterContents"]["Resource"])
    assert f"autoScalingGroupName/{NAMES}" in _text(statements["AutoScalingGroups"]["Resource"])
    assert statements["ListClusterContents"]["Condition"]["ArnLike"]["ecs:cluster"]
    assert f"cluster/{NAMES}" in _text(statements["ListClusterContents"]["Condition"])


def test_capacity_providers_are_scoped_to_layer0_names(synth):
    """Managed environments (docs/architecture.md#capacity-providers): the API creates, the delete step deletes."""
    statements = _statements(synth)
    assert "ecs:PutClusterCapacityProviders" in as_list(statements["Clusters"]["Action"])
    providers = statements["CapacityProviders"]
    assert set(as_list(providers["Action"])) == {
        "ecs:CreateCapacityProvider",
        "ecs:DescribeCapacityProviders",
        "ecs:DeleteCapacityProvider",
    }
    assert _text(providers["Resource"]).endswith(f':capacity-provider/{NAMES}"]]}}')
    [delete] = [
        p["Properties"] for p in synth.resources("AWS::IAM::Policy").values()
        if p["Properties"]["PolicyName"] == "l0-l0-environment-deletes"
    ]  # fmt: skip
    found = {s["Sid"]: s for s in delete["PolicyDocument"]["Statement"]}
    assert set(as_list(found["DeleteCapacityProviders"]["Action"])) == {
        "ecs:DescribeCapacityProviders",
        "ecs:DeleteCapacityProvider",
    }
    assert f"capacity-provider/{NAMES}" in _text(found["DeleteCapacityProviders"]["Resource"])
    assert set(as_list(found["DeleteClusters"]["Action"])) == {"ecs:DeleteCluster", "ecs:PutClusterCapacityProviders"}
    assert f"cluster/{NAMES}" in _text(found["DeleteClusters"]["Resource"])


def test_the_delete_environment_machine_deletes_the_capacity_provider_before_the_group(synth):
    machines = {
        m["Properties"]["StateMachineName"]: m for m in synth.resources("AWS::StepFunctions::StateMachine").values()
    }
    definition = json.loads(machines["l0-l0-job-delete-environment"]["Properties"]["DefinitionString"])
    states = definition["States"]["Body"]["Branches"][0]["States"]
    assert states["DeleteDependencies"]["Next"] == "DeleteCapacityProvider"
    step = states["DeleteCapacityProvider"]
    assert step["Parameters"]["Payload"]["step"] == "environment.delete_provider"
    assert step["Next"] == "DeleteAutoScalingGroup"
    assert any(r["ErrorEquals"] == ["Retryable"] for r in step["Retry"])


def test_security_groups_and_launch_templates_by_their_name_tag(synth):
    statements = _statements(synth)
    assert statements["CreateNamedSecurityGroupsAndLaunchTemplates"]["Condition"] == {
        "StringLike": {"aws:RequestTag/Name": NAMES}
    }
    assert statements["ManageNamedSecurityGroupsAndLaunchTemplates"]["Condition"] == {
        "StringLike": {"ec2:ResourceTag/Name": NAMES}
    }
    assert statements["TagOnCreate"]["Condition"]["StringEquals"]["ec2:CreateAction"] == [
        "CreateSecurityGroup",
        "CreateLaunchTemplate",
    ]
    # Security groups are created in the Layer0 VPC only.
    assert "vpc/" in _text(statements["CreateSecurityGroupsInTheVpc"]["Resource"])


def test_pass_role_only_for_the_instance_role_to_ec2(synth):
    statement = _statements(synth)["PassTheInstanceRole"]
    roles = {
        k
        for k, v in synth.resources("AWS::IAM::Role").items()
        if v["Properties"].get("RoleName") == "l0-l0-ecs-instance"
    }
    [role] = roles
    assert statement["Resource"] == {"Fn::GetAtt": [role, "Arn"]}
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}


def test_only_the_public_ami_parameters(synth):
    statement = _statements(synth)["AmiParameters"]
    assert statement["Action"] == "ssm:GetParameter"
    text = _text(statement["Resource"])
    assert "parameter/aws/service/ecs/optimized-ami/*" in text
    assert "parameter/aws/service/ami-windows-latest/*" in text


# --- the scaler function and its hourly run ---------------------------------------------------------------------------


def test_the_scaler_function_runs_hourly_and_may_only_read_and_scale(synth):
    from layer0.contract import SCALER_HANDLER
    from tests.infra.helpers import granted

    function_id, props = function(synth.template_json, SCALER_HANDLER)
    assert props["FunctionName"] == "l0-l0-scaler"
    _, policy = _policy(synth)
    assert {"Ref": props["Role"]["Fn::GetAtt"][0]} not in policy["Properties"]["Roles"]
    actions = granted(synth.template_json, props["Role"]["Fn::GetAtt"][0])
    # Read the clusters and the groups (and the tables: environment names, waiting create-task jobs); set the
    # desired capacity or terminate an instance; raise a group's maximum; write its logs and traces. Nothing else.
    writes = {
        a
        for a in actions
        if not a.split(":")[1].startswith(("Describe", "List", "Get", "Query", "Scan", "BatchGet", "ConditionCheck"))
    }
    assert writes == {
        "autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup",
        "autoscaling:UpdateAutoScalingGroup", "logs:CreateLogStream", "logs:PutLogEvents",
        "xray:PutTraceSegments", "xray:PutTelemetryRecords",
    }, writes  # fmt: skip
    _, rule = only(
        {
            k: v
            for k, v in synth.resources("AWS::Events::Rule").items()
            if "ScheduleExpression" in v["Properties"]
            and any(t["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]} for t in v["Properties"]["Targets"])
        },
        "scheduled rule of the scaler",
    )
    assert rule["Properties"]["ScheduleExpression"] == "rate(1 hour)"
    assert rule["Properties"]["State"] == "ENABLED"
    [target] = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    permissions = [
        p["Properties"]
        for p in synth.resources("AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]}
    ]
    assert [p["Principal"] for p in permissions] == ["events.amazonaws.com"]


def test_debounced_runs_are_schedules_run_with_a_role_that_may_only_invoke_the_scaler(synth):
    from layer0.contract import SCALER_HANDLER
    from tests.infra.helpers import statements

    scaler_id, scaler = function(synth.template_json, SCALER_HANDLER)
    roles = {
        k: v
        for k, v in synth.resources("AWS::IAM::Role").items()
        if v["Properties"].get("RoleName") == "l0-l0-scaler-schedule"
    }
    role_id, role = only(roles, "schedule role")
    assert [s["Principal"] for s in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]] == [
        {"Service": "scheduler.amazonaws.com"}
    ]
    assert statements(synth.template_json, role_id) == [
        {
            "Action": "lambda:InvokeFunction",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [scaler_id, "Arn"]},
            "Sid": "InvokeScaler",
        }
    ]
    _, api = function(synth.template_json, contract.API_HANDLER)
    api_statements = statements(synth.template_json, api["Role"]["Fn::GetAtt"][0])
    create = [s for s in api_statements if "scheduler:CreateSchedule" in as_list(s["Action"])]
    assert len(create) == 1 and "schedule/default/l0-l0-scale-*" in _text(create[0]["Resource"])
    passes = [s for s in api_statements if s.get("Sid") == "PassTheScheduleRole"]
    assert passes == [
        {
            "Action": "iam:PassRole",
            "Condition": {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [role_id, "Arn"]},
            "Sid": "PassTheScheduleRole",
        }
    ]
    variables = api["Environment"]["Variables"]
    assert variables["LAYER0_SCALER_FUNCTION_ARN"] == {"Fn::GetAtt": [scaler_id, "Arn"]}
    assert variables["LAYER0_SCALER_SCHEDULE_ROLE_ARN"] == {"Fn::GetAtt": [role_id, "Arn"]}
    assert "LAYER0_SCALER_FUNCTION_ARN" not in scaler["Environment"]["Variables"]
