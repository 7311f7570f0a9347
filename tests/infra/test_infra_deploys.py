"""The deploys policy (infra/deploys.py): what the API function may do to task definitions, and no more."""

from __future__ import annotations

from layer0 import contract
from layer0.workflows import asl, registry
from tests.infra.helpers import as_list, function, only

# Every cdk-nag finding the policy acknowledges (imported by test_infra_checks).
TASK_ROLES = "arn:<AWS::Partition>:iam::<AWS::AccountId>:role/"
DEPLOY_ACKNOWLEDGEMENTS = {
    "AwsSolutions-IAM5[Resource::*]",
    f"AwsSolutions-IAM5[Resource::{TASK_ROLES}l0-l0-*]",
    f"AwsSolutions-IAM5[Resource::{TASK_ROLES}layer0/l0-l0/*]",
}

# The ECS task-definition calls, which IAM only accepts on "*" (imported by test_infra_template).
DEPLOY_STAR_ACTIONS = {
    "ecs:RegisterTaskDefinition", "ecs:DeregisterTaskDefinition", "ecs:DescribeTaskDefinition",
    "ecs:ListTaskDefinitionFamilies", "ecs:ListTaskDefinitions",
}  # fmt: skip

# Every action of the policy (imported by test_infra_template).
DEPLOY_ACTIONS = DEPLOY_STAR_ACTIONS | {"iam:PassRole"}


def _policy(synth):
    policies = {
        k: v
        for k, v in synth.resources("AWS::IAM::Policy").items()
        if v["Properties"].get("PolicyName") == "l0-l0-deploys"
    }
    return only(policies, "deploys policy")


def _statements(synth) -> dict[str, dict]:
    _, policy = _policy(synth)
    return {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}


def _role(synth, handler: str) -> dict:
    _, props = function(synth.template_json, handler)
    return {"Ref": props["Role"]["Fn::GetAtt"][0]}


def test_the_api_function_and_only_it_has_the_deploys_policy(synth):
    _, policy = _policy(synth)
    assert policy["Properties"]["Roles"] == [_role(synth, contract.API_HANDLER)]
    # Not the job steps' functions: no job registers task definitions.
    actions = {a for s in policy["Properties"]["PolicyDocument"]["Statement"] for a in as_list(s["Action"])}
    assert actions == DEPLOY_ACTIONS


def test_star_only_for_the_task_definition_calls(synth):
    statements = _statements(synth)
    assert set(statements) == {"TaskDefinitions", "PassTaskRolesToEcsTasks"}
    assert statements["TaskDefinitions"]["Resource"] == "*"
    assert set(as_list(statements["TaskDefinitions"]["Action"])) == DEPLOY_STAR_ACTIONS
    assert "Condition" not in statements["TaskDefinitions"]


def _role_arn(name: str) -> dict:
    return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, f":role/{name}"]]}


def test_only_the_instances_own_task_roles_may_be_passed_and_to_ecs_tasks_only(synth):
    statement = _statements(synth)["PassTaskRolesToEcsTasks"]
    assert statement["Action"] == "iam:PassRole"
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    # The l0-<prefix>- names and the /layer0/l0-<prefix>/ path: never the account's every role (role/*).
    assert statement["Resource"] == [_role_arn("l0-l0-*"), _role_arn("layer0/l0-l0/*")]


def test_the_task_role_scope_follows_the_prefix(imported):
    [policy] = [
        v
        for v in imported.resources("AWS::IAM::Policy").values()
        if v["Properties"]["PolicyName"] == "l0-team2-deploys"
    ]
    [statement] = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Sid"] == "PassTaskRolesToEcsTasks"
    ]
    assert [r["Fn::Join"][1][-1].split(":", 5)[-1] for r in statement["Resource"]] == [
        "role/l0-team2-*", "role/layer0/l0-team2/*"
    ]  # fmt: skip


def test_every_wildcard_is_acknowledged_with_its_reason(synth):
    from infra.deploys import REASONS

    report = {p["pluginName"]: p for p in synth.validation_report["pluginReports"]}["AwsSolutions"]
    mine = {
        s["ruleName"]: s["reason"]
        for s in report["suppressedViolations"]
        if any(c["constructPath"].startswith("l0-l0/Deploys/") for c in s["violatingConstructs"])
    }
    assert mine == {
        "AwsSolutions-IAM5[Resource::*]": REASONS["*"],
        f"AwsSolutions-IAM5[Resource::{TASK_ROLES}l0-l0-*]": REASONS["roles"],
        f"AwsSolutions-IAM5[Resource::{TASK_ROLES}layer0/l0-l0/*]": REASONS["roles"],
    }
    assert set(mine) == DEPLOY_ACKNOWLEDGEMENTS
