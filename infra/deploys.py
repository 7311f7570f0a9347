"""What managing deploys may do in AWS (docs/compatibility.md#deploys): one inline policy, attached to the API function,
which
registers, describes, lists and deregisters task definitions (`l0-<prefix>-<name>:<revision>`).

- The ECS task-definition calls Layer0 makes take no resource ARN (IAM checks them against `*` only), so they get
  `*`; ListTaskDefinitionFamilies is asked with the `l0-<prefix>-` prefix by the code.
- A Dockerrun may name a `taskRoleArn`: registering it passes that role to ECS, so iam:PassRole is allowed on the
  instance's own task roles only (infra/task_roles.py), to the ECS tasks service only (`iam:PassedToService`).
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import task_roles
from infra.config import Config
from infra.nag import nag_text

TASK_DEFINITION_ACTIONS = (
    "ecs:RegisterTaskDefinition",
    "ecs:DeregisterTaskDefinition",
    "ecs:DescribeTaskDefinition",
    "ecs:ListTaskDefinitionFamilies",
    "ecs:ListTaskDefinitions",
)

REASONS = {
    "*": (
        "ecs:RegisterTaskDefinition, DeregisterTaskDefinition, DescribeTaskDefinition, ListTaskDefinitionFamilies "
        "and ListTaskDefinitions support no resource-level permissions: IAM only accepts '*' for them."
    ),
    "roles": task_roles.REASON,
}


class DeploysPolicy(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: Config):
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.task_roles = task_roles.task_role_arns(stack, config)
        statements = [
            iam.PolicyStatement(sid="TaskDefinitions", actions=list(TASK_DEFINITION_ACTIONS), resources=["*"]),
            iam.PolicyStatement(
                sid="PassTaskRolesToEcsTasks",
                actions=["iam:PassRole"],
                resources=self.task_roles,
                conditions={"StringEquals": {"iam:PassedToService": task_roles.TASK_SERVICE}},
            ),
        ]
        # Inline (not managed), like the environments policy, so that the function's role keeps no ManagedPolicyArns.
        self.policy = iam.Policy(self, "Policy", policy_name=config.resource_name("deploys"), statements=statements)
        # cdk-nag names each wildcard as it renders the resolved ARN (a concrete account when the stack has one).
        acknowledged = [("*", REASONS["*"])] + [
            (nag_text(stack.resolve(arn)), REASONS["roles"]) for arn in self.task_roles
        ]
        for resource, reason in acknowledged:
            Validations.of(self.policy).acknowledge(
                Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{resource}]", reason=reason)
            )

    def attach_to(self, function: lambda_.IFunction) -> None:
        assert function.role is not None
        self.policy.attach_to_role(function.role)
