"""The statement that lets a function create the AWS service-linked roles its first call of a service needs (ELB,
Auto Scaling, ECS, Application Auto Scaling): each role by its ARN, for its service only."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam


def create_statement(stack: Stack, sid: str, roles: dict[str, str]) -> iam.PolicyStatement:
    """iam:CreateServiceLinkedRole on `roles` ({service principal: role name}), conditioned on those services."""
    services = list(roles)
    condition = (
        {"StringEquals": {"iam:AWSServiceName": services[0]}}
        if len(services) == 1
        else {"StringLike": {"iam:AWSServiceName": services}}
    )
    return iam.PolicyStatement(
        sid=sid,
        actions=["iam:CreateServiceLinkedRole"],
        resources=[
            stack.format_arn(
                service="iam",
                region="",
                resource="role",
                resource_name=f"aws-service-role/{service}/{role}",
                arn_format=ArnFormat.SLASH_RESOURCE_NAME,
            )
            for service, role in roles.items()
        ],
        conditions=condition,
    )
