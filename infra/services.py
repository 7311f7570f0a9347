"""What managing services may do in AWS (docs/compatibility.md#services), beyond the environments policy
(infra/environments.py): one
inline policy, attached to the API function.

The environments policy already grants, on `l0-<prefix>-*` clusters and their services and tasks, what getting,
listing, scaling, updating and deleting services need (ecs:DescribeClusters, ListServices, DescribeServices,
UpdateService, DeleteService, ListTasks, DescribeTasks, StopTask), elasticloadbalancing:DescribeLoadBalancers,
ecs:DescribeTaskDefinition and the ECS service-linked role. Both functions have it: the API function and the
workflow-step function, whose delete-service and rollout steps need nothing more. This policy adds:
- ecs:CreateService, on services of `l0-<prefix>-*` clusters;
- iam:PassRole on the load balancers' roles `l0-<prefix>-*-lb`, to ECS only (CreateService with a classic ELB);
- reading the container logs of the Layer0 log group (`GET /service/{id}/logs`).
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, ArnFormat, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import Config
from infra.nag import nag_text

ECS_SERVICE = "ecs.amazonaws.com"
LOG_ACTIONS = ("logs:DescribeLogStreams", "logs:GetLogEvents")

REASONS = {
    "services": (
        "Services are created in the clusters Layer0 names l0-<prefix>-*, with names l0-<prefix>-<service id>; the "
        "wildcards are the environment id and the service id, known at run time."
    ),
    "roles": (
        "A service behind a classic load balancer passes that load balancer's role, l0-<prefix>-<lb id>-lb, to ECS "
        "(iam:PassedToService = ecs.amazonaws.com); the wildcard is the load balancer id, known at run time."
    ),
}


class ServicesPolicy(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: Config, log_group: logs.ILogGroup):
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        names = config.resource_name("*")  # l0-<prefix>-*
        services = stack.format_arn(
            service="ecs", resource="service", resource_name=f"{names}/*", arn_format=ArnFormat.SLASH_RESOURCE_NAME
        )
        load_balancer_roles = stack.format_arn(
            service="iam",
            region="",
            resource="role",
            resource_name=f"{names}-lb",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        statements = [
            iam.PolicyStatement(sid="CreateServices", actions=["ecs:CreateService"], resources=[services]),
            iam.PolicyStatement(
                sid="PassLoadBalancerRolesToEcs",
                actions=["iam:PassRole"],
                resources=[load_balancer_roles],
                conditions={"StringEquals": {"iam:PassedToService": ECS_SERVICE}},
            ),
            # The log group's ARN ends with `:*`, which covers its streams.
            iam.PolicyStatement(
                sid="ReadContainerLogs", actions=list(LOG_ACTIONS), resources=[log_group.log_group_arn]
            ),
        ]
        # Inline (not managed), like the environments policy, so that the function's role keeps no ManagedPolicyArns.
        self.policy = iam.Policy(self, "Policy", policy_name=config.resource_name("services"), statements=statements)
        for resource, reason in (
            (nag_text(stack.resolve(services)), REASONS["services"]),
            (nag_text(stack.resolve(load_balancer_roles)), REASONS["roles"]),
        ):
            Validations.of(self.policy).acknowledge(
                Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{resource}]", reason=reason)
            )

    def attach_to(self, function: lambda_.IFunction) -> None:
        assert function.role is not None
        self.policy.attach_to_role(function.role)
