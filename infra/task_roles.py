"""The IAM roles Layer0 may pass to ECS as a container's task role (README.md#task-roles): the instance's own.

A Dockerrun's `taskRoleArn` is passed to ECS when its task definition is registered and again when a task runs
(iam:PassRole). Only these roles may be passed, and only to the ECS tasks service (`iam:PassedToService`):
- roles named `l0-<prefix>-*` (no path), which includes the roles this stack names;
- roles under the path `/layer0/l0-<prefix>/`, for operators who keep their task roles apart.
Any other role of the account is refused by IAM, so a token holder cannot run a container as, say, an admin role.

`TaskExecutionRole` is the stack's task execution role for Fargate tasks, `l0-<prefix>-task-execution`: its name
fits `l0-<prefix>-*`, so the functions that register and run the Fargate variants may pass it to ECS tasks.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import Config
from infra.nag import acknowledge_wildcards
from layer0 import contract

TASK_SERVICE = "ecs-tasks.amazonaws.com"

REASON = (
    "Task roles are the instance's own, chosen by the operator: roles named l0-<prefix>-* or under the path "
    "/layer0/l0-<prefix>/ (README.md#task-roles); the wildcard is the role's name within that scope, and the "
    "role may be passed to the ECS tasks service only (iam:PassedToService = ecs-tasks.amazonaws.com)."
)


def role_name_patterns(config: Config) -> tuple[str, ...]:
    """`l0-<prefix>-*` and `layer0/l0-<prefix>/*`: what follows `role/` in the ARN of a role Layer0 may pass.

    The same patterns as the API's check of a Dockerrun's `taskRoleArn` (`layer0.contract.passable_role_resources`).
    """
    return tuple(resource.removeprefix("role/") for resource in contract.passable_role_resources(config.prefix))


def task_role_arns(stack: Stack, config: Config) -> list[str]:
    """The ARNs of `role_name_patterns`, in the stack's account."""
    return [
        stack.format_arn(
            service="iam", region="", resource="role", resource_name=pattern, arn_format=ArnFormat.SLASH_RESOURCE_NAME
        )
        for pattern in role_name_patterns(config)
    ]


# What ECS does for a Fargate task with its execution role (docs/compatibility.md#fargate-environments): pull the
# image (ECR, for images in the account's registries), and write the awslogs streams in the Layer0 log group.
ECR_PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage")
EXECUTION_REASONS = {
    "*": "ecr:GetAuthorizationToken takes no resource ARN: IAM only accepts '*' for it.",
    "repositories": (
        "A deploy's image may be in any ECR repository of the account, chosen by the user at run time; pulls only."
    ),
    "logs": "The Layer0 log group's ARN ends with ':*', which covers its streams (awslogs writes one per container).",
}


class TaskExecutionRole(Construct):
    """`l0-<prefix>-task-execution`, the task execution role of the deploys' Fargate variants (layer0.fargate): what
    ECS uses to start a Fargate task, never a container's own role (the API refuses it as a `taskRoleArn`)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: Config, log_group: logs.ILogGroup):
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            role_name=contract.task_execution_role_name(config.prefix),
            description=f"Layer0 {config.prefix}: ECS task execution role of Fargate tasks (image pulls, awslogs)",
            # Only ECS tasks of this account (the confused-deputy guard ECS documents).
            assumed_by=iam.ServicePrincipal(
                TASK_SERVICE, conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
        )
        repositories = stack.format_arn(
            service="ecr", resource="repository", resource_name="*", arn_format=ArnFormat.SLASH_RESOURCE_NAME
        )
        self.policy = iam.Policy(
            self,
            "Policy",
            policy_name=config.resource_name("task-execution"),
            statements=[
                iam.PolicyStatement(sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"]),
                iam.PolicyStatement(sid="PullImages", actions=list(ECR_PULL_ACTIONS), resources=[repositories]),
                iam.PolicyStatement(
                    sid="WriteContainerLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_group.log_group_arn],
                ),
            ],
        )
        self.policy.attach_to_role(self.role)

        def reason_for(text: str) -> str:
            if text == "*":
                return EXECUTION_REASONS["*"]
            return EXECUTION_REASONS["repositories"] if ":ecr:" in text else EXECUTION_REASONS["logs"]

        acknowledge_wildcards(stack, self.policy, reason_for)
