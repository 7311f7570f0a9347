"""Secrets (docs/compatibility.md#secrets): the KMS key that encrypts the secrets the API creates, the task execution
role ECS reads a deploy's secrets with, and what the API function may do with secrets.

- The key `alias/l0-<prefix>-secrets` rotates yearly. It is kept when the stack is deleted (CDK's default for keys),
  so that the secrets, which the stack does not own, stay readable.
- The role `l0-<prefix>-task-execution`, trusted by ECS tasks of this account only, may read only
  `secret:l0/<prefix>/*` and `parameter/l0/<prefix>/*`, decrypt with the key only through Secrets Manager and SSM
  (SecureStrings under `aws/ssm` need nothing: that key's policy lets the account's principals use it through SSM),
  write to the containers' log group, and pull images from ECR, as the instances' role may. Deploys and tasks pass it
  to ECS under the existing iam:PassRole statements (infra/task_roles.py: `role/l0-<prefix>-*`, to ECS tasks only).
- The API function's inline policy `l0-<prefix>-secrets`: create, put, describe, restore and delete secrets under
  `l0/<prefix>/`, list secrets (no resource-level permission), and encrypt with the key through Secrets Manager.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, ArnFormat, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import Config
from infra.nag import nag_text
from layer0 import contract

# What the API function calls (layer0.secrets), on the instance's secrets.
SECRET_ACTIONS = (
    "secretsmanager:CreateSecret",
    "secretsmanager:PutSecretValue",
    "secretsmanager:DescribeSecret",
    "secretsmanager:RestoreSecret",
    "secretsmanager:DeleteSecret",
)
# Secrets Manager's calls to KMS on the API's behalf, when it creates or puts a value encrypted with the key.
ENCRYPT_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
# What the ECS agent calls to pull images from ECR: the same reads the instances' managed policy grants on `*`.
ECR_PULL_ACTIONS = (
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchGetImage",
)

REASONS = {
    "secrets": (
        "Layer0 secrets are the Secrets Manager secrets named l0/<prefix>/<name> (docs/compatibility.md#secrets); the "
        "wildcard is the user's secret name and the random suffix Secrets Manager adds to every secret ARN."
    ),
    "parameters": (
        "A Dockerrun may name the operator's SSM parameters under /l0/<prefix>/ (docs/compatibility.md#secrets); the "
        "wildcard is the parameter's name below that path."
    ),
    "list": (
        "secretsmanager:ListSecrets supports no resource-level permissions: IAM only accepts '*'. GET /secret lists "
        "with a name filter on l0/<prefix>/ and keeps only those names."
    ),
    "ecr": (
        "Images may come from any ECR repository the instances' role can already pull from (its AWS managed policy "
        "grants these reads on '*'); ecr:GetAuthorizationToken takes no resource ARN."
    ),
}


class Secrets(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: Config, log_group: logs.ILogGroup) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.key = kms.Key(
            self,
            "Key",
            alias=contract.secrets_key_alias(config.prefix),
            description=f"Layer0 {config.prefix}: encrypts the secrets of POST /secret",
            enable_key_rotation=True,
        )
        secret_names = contract.secret_name_prefix(config.prefix) + "*"
        self.secret_arns = stack.format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=secret_names,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.parameter_arns = stack.format_arn(
            service="ssm",
            resource="parameter",
            resource_name=contract.parameter_path(config.prefix).lstrip("/") + "*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        via = [f"secretsmanager.{stack.region}.amazonaws.com", f"ssm.{stack.region}.amazonaws.com"]

        self.execution_role = iam.Role(
            self,
            "TaskExecutionRole",
            role_name=contract.task_execution_role_name(config.prefix),
            description=f"Layer0 {config.prefix}: ECS reads the secrets of deploys that use them",
            # Only ECS tasks of this account (the confused-deputy guard ECS documents for task roles).
            assumed_by=iam.ServicePrincipal(
                "ecs-tasks.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
        )
        for statement in (
            iam.PolicyStatement(
                sid="ReadInstanceSecrets", actions=["secretsmanager:GetSecretValue"], resources=[self.secret_arns]
            ),
            iam.PolicyStatement(
                sid="ReadInstanceParameters", actions=["ssm:GetParameters"], resources=[self.parameter_arns]
            ),
            iam.PolicyStatement(
                sid="DecryptThroughSecretsManagerAndSsm",
                actions=["kms:Decrypt"],
                resources=[self.key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": via}},
            ),
            iam.PolicyStatement(sid="PullImages", actions=list(ECR_PULL_ACTIONS), resources=["*"]),
        ):
            self.execution_role.add_to_policy(statement)
        log_group.grant_write(self.execution_role)

        # Inline (not managed), like the other API policies, so that the function's role keeps no ManagedPolicyArns.
        self.policy = iam.Policy(
            self,
            "Policy",
            policy_name=config.resource_name("secrets"),
            statements=[
                iam.PolicyStatement(
                    sid="ManageInstanceSecrets", actions=list(SECRET_ACTIONS), resources=[self.secret_arns]
                ),
                iam.PolicyStatement(sid="ListSecrets", actions=["secretsmanager:ListSecrets"], resources=["*"]),
                iam.PolicyStatement(
                    sid="EncryptThroughSecretsManager",
                    actions=list(ENCRYPT_ACTIONS),
                    resources=[self.key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": via[0]}},
                ),
            ],
        )
        secrets_text = nag_text(stack.resolve(self.secret_arns))
        parameters_text = nag_text(stack.resolve(self.parameter_arns))
        for construct, resource, reason in (
            (self.policy, secrets_text, REASONS["secrets"]),
            (self.policy, "*", REASONS["list"]),
            (self.execution_role, secrets_text, REASONS["secrets"]),
            (self.execution_role, parameters_text, REASONS["parameters"]),
            (self.execution_role, "*", REASONS["ecr"]),
        ):
            Validations.of(construct).acknowledge(
                Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{resource}]", reason=reason)
            )

    def attach_to(self, function: lambda_.IFunction) -> None:
        assert function.role is not None
        self.policy.attach_to_role(function.role)
