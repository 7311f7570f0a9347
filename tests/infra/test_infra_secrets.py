"""Secrets in the template (infra/secrets.py): the key, the task execution role and the API's secrets policy, each
scoped to the instance's `l0/<prefix>/` secrets, and nothing else."""

from __future__ import annotations

import fnmatch

from layer0 import contract
from tests.infra.helpers import as_list, function, only, statements

REGIONAL = "arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>"
SECRETS = f"{REGIONAL.format(service='secretsmanager')}:secret:l0/l0/*"
PARAMETERS = f"{REGIONAL.format(service='ssm')}:parameter/l0/l0/*"

# Every cdk-nag finding infra/secrets.py acknowledges (imported by test_infra_checks); "*" (ListSecrets, the ECR
# pulls) is among the stack's X-Ray acknowledgements already.
SECRET_ACKNOWLEDGEMENTS = {f"AwsSolutions-IAM5[Resource::{SECRETS}]", f"AwsSolutions-IAM5[Resource::{PARAMETERS}]"}
# Actions on "*" (imported by test_infra_template): IAM accepts no resource for them.
SECRET_STAR_ACTIONS = {
    "secretsmanager:ListSecrets", "ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage",
}  # fmt: skip
# What the API function gets (imported by test_infra_template).
SECRET_API_ACTIONS = {
    "secretsmanager:CreateSecret", "secretsmanager:PutSecretValue", "secretsmanager:DescribeSecret",
    "secretsmanager:RestoreSecret", "secretsmanager:DeleteSecret", "secretsmanager:ListSecrets",
    "kms:GenerateDataKey", "kms:Decrypt",
}  # fmt: skip


def _arn(value) -> str:
    """A `Fn::Join` ARN as text, pseudo parameters as <AWS::...>."""
    if isinstance(value, str):
        return value
    separator, parts = value["Fn::Join"]
    return separator.join(p if isinstance(p, str) else f"<{p['Ref']}>" for p in parts)


def _key(synth) -> tuple[str, dict]:
    return only(synth.resources("AWS::KMS::Key"), "KMS key")


def _execution_role(synth, name: str = "l0-l0-task-execution") -> tuple[str, dict]:
    roles = {k: v for k, v in synth.resources("AWS::IAM::Role").items() if v["Properties"].get("RoleName") == name}
    return only(roles, f"role {name}")


def _policy(synth, name: str = "l0-l0-secrets") -> dict:
    policies = {
        k: v for k, v in synth.resources("AWS::IAM::Policy").items() if v["Properties"].get("PolicyName") == name
    }
    return only(policies, f"policy {name}")[1]


def test_the_key_rotates_is_kept_and_has_the_alias_the_api_uses(synth):
    key_id, key = _key(synth)
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"  # the secrets outlive the stack: their key must too
    _, alias = only(synth.resources("AWS::KMS::Alias"), "KMS alias")
    assert alias["Properties"] == {
        "AliasName": contract.secrets_key_alias("l0"),
        "TargetKeyId": {"Fn::GetAtt": [key_id, "Arn"]},
    }


def test_the_execution_role_is_trusted_by_this_account_s_ecs_tasks_only(synth):
    _, role = _execution_role(synth)
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert "ManagedPolicyArns" not in role["Properties"]


def test_the_execution_role_reads_only_the_instance_s_secrets_and_parameters(synth):
    role_id, _ = _execution_role(synth)
    key_id, _ = _key(synth)
    found = {s.get("Sid", ""): s for s in statements(synth.template_json, role_id)}
    assert _arn(found["ReadInstanceSecrets"]["Resource"]) == SECRETS
    assert found["ReadInstanceSecrets"]["Action"] == "secretsmanager:GetSecretValue"
    assert _arn(found["ReadInstanceParameters"]["Resource"]) == PARAMETERS
    assert found["ReadInstanceParameters"]["Action"] == "ssm:GetParameters"
    decrypt = found["DecryptThroughSecretsManagerAndSsm"]
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}
    services = [_arn(v) for v in decrypt["Condition"]["StringEquals"]["kms:ViaService"]]
    assert services == ["secretsmanager.<AWS::Region>.amazonaws.com", "ssm.<AWS::Region>.amazonaws.com"]
    assert set(as_list(found["PullImages"]["Action"])) == {a for a in SECRET_STAR_ACTIONS if a.startswith("ecr:")}
    # The awslogs driver: the containers' log group only.
    [logs] = [s for s in found.values() if "logs:PutLogEvents" in as_list(s["Action"])]
    group_id = next(
        k for k, v in synth.resources("AWS::Logs::LogGroup").items() if v["Properties"].get("LogGroupName") == "l0-l0"
    )
    assert logs["Resource"] == {"Fn::GetAtt": [group_id, "Arn"]}
    granted = {a for s in found.values() for a in as_list(s["Action"])}
    assert granted == {
        "secretsmanager:GetSecretValue", "ssm:GetParameters", "kms:Decrypt", "logs:CreateLogStream", "logs:PutLogEvents",
        *(a for a in SECRET_STAR_ACTIONS if a.startswith("ecr:")),
    }  # fmt: skip


def test_the_api_function_and_only_it_manages_the_instance_s_secrets(synth):
    policy = _policy(synth)
    _, api = function(synth.template_json, contract.API_HANDLER)
    assert policy["Properties"]["Roles"] == [{"Ref": api["Role"]["Fn::GetAtt"][0]}]
    found = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert set(found) == {"ManageInstanceSecrets", "ListSecrets", "EncryptThroughSecretsManager"}
    assert _arn(found["ManageInstanceSecrets"]["Resource"]) == SECRETS
    assert found["ListSecrets"] == {
        "Action": "secretsmanager:ListSecrets",
        "Effect": "Allow",
        "Resource": "*",
        "Sid": "ListSecrets",
    }
    key_id, _ = _key(synth)
    encrypt = found["EncryptThroughSecretsManager"]
    assert encrypt["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert _arn(encrypt["Condition"]["StringEquals"]["kms:ViaService"]) == "secretsmanager.<AWS::Region>.amazonaws.com"
    assert {a for s in found.values() for a in as_list(s["Action"])} == SECRET_API_ACTIONS
    # No other function may touch them (the authorizer reads its auth secret only: test_infra_template).
    for other in synth.resources("AWS::Lambda::Function").values():
        if other["Properties"]["Handler"] in (contract.API_HANDLER, contract.AUTHORIZER_HANDLER):
            continue
        role_id = other["Properties"]["Role"]["Fn::GetAtt"][0]
        assert not any("secretsmanager:" in str(s["Action"]) for s in statements(synth.template_json, role_id))


def test_the_api_may_pass_the_execution_role_to_ecs_tasks_only(synth):
    # RegisterTaskDefinition passes the deploy's executionRoleArn: the deploys policy's PassRole statement covers it.
    document = _policy(synth, "l0-l0-deploys")["Properties"]["PolicyDocument"]
    [pass_role] = [s for s in document["Statement"] if s["Action"] == "iam:PassRole"]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    role_arn = "arn:<AWS::Partition>:iam::<AWS::AccountId>:role/l0-l0-task-execution"
    assert any(fnmatch.fnmatchcase(role_arn, _arn(resource)) for resource in pass_role["Resource"])


def test_every_wildcard_is_acknowledged_with_its_reason(synth):
    from infra.secrets import REASONS

    report = {p["pluginName"]: p for p in synth.validation_report["pluginReports"]}["AwsSolutions"]
    mine = {
        (s["ruleName"], s["reason"])
        for s in report["suppressedViolations"]
        if any(c["constructPath"].startswith("l0-l0/Secrets/") for c in s["violatingConstructs"])
    }
    assert mine == {
        (f"AwsSolutions-IAM5[Resource::{SECRETS}]", REASONS["secrets"]),
        (f"AwsSolutions-IAM5[Resource::{PARAMETERS}]", REASONS["parameters"]),
        ("AwsSolutions-IAM5[Resource::*]", REASONS["list"]),
        ("AwsSolutions-IAM5[Resource::*]", REASONS["ecr"]),
    }


def test_the_scope_follows_the_prefix(imported):
    role_id, _ = _execution_role(imported, "l0-team2-task-execution")
    found = {s.get("Sid", ""): s for s in statements(imported.template_json, role_id)}
    assert _arn(found["ReadInstanceSecrets"]["Resource"]).endswith(":secret:l0/team2/*")
    assert _arn(found["ReadInstanceParameters"]["Resource"]).endswith(":parameter/l0/team2/*")
    manage = {s["Sid"]: s for s in _policy(imported, "l0-team2-secrets")["Properties"]["PolicyDocument"]["Statement"]}
    assert _arn(manage["ManageInstanceSecrets"]["Resource"]).endswith(":secret:l0/team2/*")
    _, alias = only(imported.resources("AWS::KMS::Alias"), "KMS alias")
    assert alias["Properties"]["AliasName"] == "alias/l0-team2-secrets"
