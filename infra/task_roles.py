"""The IAM roles Layer0 may pass to ECS as a container's task role (README.md#task-roles): the instance's own.

A Dockerrun's `taskRoleArn` is passed to ECS when its task definition is registered and again when a task runs
(iam:PassRole). Only these roles may be passed, and only to the ECS tasks service (`iam:PassedToService`):
- roles named `l0-<prefix>-*` (no path), which includes the roles this stack names;
- roles under the path `/layer0/l0-<prefix>/`, for operators who keep their task roles apart.
Any other role of the account is refused by IAM, so a token holder cannot run a container as, say, an admin role.

The stack's task execution role, `l0-<prefix>-task-execution` (infra/secrets.py), which the deploys' Fargate variants
name too (docs/compatibility.md#fargate-environments), fits `l0-<prefix>-*`: the functions that register and run them
may pass it to ECS tasks.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack

from infra.config import Config
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
