"""What Fargate environments need in the template (docs/compatibility.md#fargate-environments): the task execution
role `l0-l0-task-execution` (infra/task_roles.py), which the functions may pass to ECS tasks, and the create-task
step's calls for the Fargate variant of a deploy (infra/tasks.py)."""

from __future__ import annotations

from layer0 import contract
from tests.infra.helpers import as_list, function, granted, only, step_role

REGIONAL = "arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>"

# The cdk-nag findings the execution role's policy acknowledges (imported by test_infra_checks); its "*"
# (ecr:GetAuthorizationToken) is the stack-wide `AwsSolutions-IAM5[Resource::*]`.
FARGATE_ACKNOWLEDGEMENTS = {f"AwsSolutions-IAM5[Resource::{REGIONAL.format(service='ecr')}:repository/*]"}


def _execution_role(synth) -> tuple[str, dict]:
    roles = {
        k: v
        for k, v in synth.resources("AWS::IAM::Role").items()
        if v["Properties"].get("RoleName") == contract.task_execution_role_name("l0")
    }
    return only(roles, "the task execution role")


def test_the_task_execution_role_is_named_for_the_api_and_trusts_this_accounts_ecs_tasks_only(synth):
    role_id, role = _execution_role(synth)

    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert "ManagedPolicyArns" not in role["Properties"]
    # The name is one of the roles the functions may pass to ECS tasks (l0-<prefix>-*).
    assert any(pattern.endswith("role/l0-l0-*") for pattern in contract.passable_role_resources("l0")), (
        contract.passable_role_resources("l0")
    )
    assert role_id


def test_the_task_execution_role_pulls_images_and_writes_the_layer0_log_group_only(synth):
    role_id, _ = _execution_role(synth)

    found = {s["Sid"]: s for s in _statements_of(synth, role_id)}

    assert set(found) == {"EcrLogin", "PullImages", "WriteContainerLogs"}
    assert as_list(found["EcrLogin"]["Action"]) == ["ecr:GetAuthorizationToken"]
    assert sorted(as_list(found["PullImages"]["Action"])) == [
        "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"
    ]  # fmt: skip
    assert sorted(as_list(found["WriteContainerLogs"]["Action"])) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    groups = {
        k: v
        for k, v in synth.resources("AWS::Logs::LogGroup").items()
        if v["Properties"].get("LogGroupName") == "l0-l0"
    }
    group_id, _ = only(groups, "l0-l0 log group")
    assert found["WriteContainerLogs"]["Resource"] == {"Fn::GetAtt": [group_id, "Arn"]}


def _statements_of(synth, role_id: str) -> list[dict]:
    return [
        statement
        for policy in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"].get("Roles", [])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_the_create_task_step_may_make_a_fargate_variant_and_read_security_groups(synth):
    role = step_role(synth.template_json, "create-task")

    actions = granted(synth.template_json, role)

    assert {"ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition", "ec2:DescribeSecurityGroups"} <= actions
    # Nothing that creates or deletes network resources: ECS makes the tasks' interfaces.
    assert not {a for a in actions if a.startswith("ec2:") and not a.startswith("ec2:Describe")}


def test_the_api_may_register_variants_and_pass_the_execution_role_to_ecs_tasks(synth):
    _, api = function(synth.template_json, contract.API_HANDLER)
    role = api["Role"]["Fn::GetAtt"][0]

    statements = _statements_of(synth, role)

    assert "ecs:RegisterTaskDefinition" in granted(synth.template_json, role)
    [passing] = [s for s in statements if s.get("Sid") == "PassTaskRolesToEcsTasks"]
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    assert {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, ":role/l0-l0-*"]]
    } in as_list(passing["Resource"])
