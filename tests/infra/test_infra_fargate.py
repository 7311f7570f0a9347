"""What Fargate environments need in the template (docs/compatibility.md#fargate-environments): the task execution
role `l0-l0-task-execution` (one, made by infra/secrets.py), which the functions may pass to ECS tasks, and the
create-task step's calls for the Fargate variant of a deploy (infra/tasks.py)."""

from __future__ import annotations

from layer0 import contract
from tests.infra.helpers import as_list, function, granted, only, step_role


def _execution_role(synth) -> tuple[str, dict]:
    roles = {
        k: v
        for k, v in synth.resources("AWS::IAM::Role").items()
        if v["Properties"].get("RoleName") == contract.task_execution_role_name("l0")
    }
    return only(roles, "the task execution role")  # one role, shared with secrets (infra/secrets.py)


def test_the_task_execution_role_trusts_this_accounts_ecs_tasks_and_is_passable(synth):
    _, role = _execution_role(synth)

    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    # The name is one of the roles the functions may pass to ECS tasks (l0-<prefix>-*).
    assert any(pattern.endswith("role/l0-l0-*") for pattern in contract.passable_role_resources("l0"))


def test_the_task_execution_role_pulls_images_and_writes_the_layer0_log_group(synth):
    """What a Fargate task needs of it: ECR pulls and the awslogs streams."""
    role_id, _ = _execution_role(synth)

    statements = _statements_of(synth, role_id)
    actions = {a for s in statements for a in as_list(s["Action"])}

    assert {"ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"} <= actions
    groups = {
        k: v
        for k, v in synth.resources("AWS::Logs::LogGroup").items()
        if v["Properties"].get("LogGroupName") == "l0-l0"
    }
    group_id, _ = only(groups, "l0-l0 log group")
    [logs] = [s for s in statements if "logs:PutLogEvents" in as_list(s["Action"])]
    assert {"logs:CreateLogStream", "logs:PutLogEvents"} <= set(as_list(logs["Action"]))
    assert logs["Resource"] == {"Fn::GetAtt": [group_id, "Arn"]}


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
