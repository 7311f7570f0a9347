"""What managing services may do in AWS (docs/compatibility.md#services), beyond the environments policy
(infra/environments.py): one
inline policy, attached to the API function.

The environments policy already grants, on `l0-<prefix>-*` clusters and their services and tasks, what getting,
listing, scaling, updating and deleting services need (ecs:DescribeClusters, ListServices, DescribeServices,
UpdateService, DeleteService, ListTasks, DescribeTasks, StopTask), elasticloadbalancing:DescribeLoadBalancers,
ecs:DescribeTaskDefinition and the ECS service-linked role, on the API function. The delete-service and rollout
jobs' step functions get only what their steps call (`attach_delete_steps_to`, `attach_rollout_steps_to`). This
policy adds:
- ecs:CreateService, on services of `l0-<prefix>-*` clusters (behind a load balancer, ECS uses its service-linked
  role: no role is passed);
- reading the container logs of the Layer0 log group (`GET /service/{id}/logs`).
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, ArnFormat, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import Config
from infra.nag import acknowledge_wildcards, nag_text

LOG_ACTIONS = ("logs:DescribeLogStreams", "logs:GetLogEvents")

REASONS = {
    "*": (
        "ecs:ListClusters takes no resource ARN; ecs:ListServices and ListTasks are limited by the ecs:cluster "
        "condition to the l0-<prefix>-* clusters."
    ),
    "tasks": (
        "A service's tasks are in the clusters Layer0 names l0-<prefix>-*; the wildcards are the environment id and "
        "the task id ECS generates."
    ),
    "services": (
        "Services are created in the clusters Layer0 names l0-<prefix>-*, with names l0-<prefix>-<service id>; the "
        "wildcards are the environment id and the service id, known at run time."
    ),
}


# What the delete-service steps call (layer0.workflows.delete_service; also run by the delete-environment job).
SERVICE_DELETE_ACTIONS = (
    "ecs:DescribeServices",
    "ecs:UpdateService",
    "ecs:DeleteService",
    "ecs:StopTask",
)
# What the rollout step reads (layer0.workflows.rollout).
ROLLOUT_ACTIONS = ("ecs:DescribeServices", "ecs:DescribeTasks")


class ServicesPolicy(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: Config, log_group: logs.ILogGroup):
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        names = config.resource_name("*")  # l0-<prefix>-*
        services = stack.format_arn(
            service="ecs", resource="service", resource_name=f"{names}/*", arn_format=ArnFormat.SLASH_RESOURCE_NAME
        )
        statements = [
            iam.PolicyStatement(sid="CreateServices", actions=["ecs:CreateService"], resources=[services]),
            # The log group's ARN ends with `:*`, which covers its streams.
            iam.PolicyStatement(
                sid="ReadContainerLogs", actions=list(LOG_ACTIONS), resources=[log_group.log_group_arn]
            ),
        ]
        # Inline (not managed), like the environments policy, so that the function's role keeps no ManagedPolicyArns.
        self.policy = iam.Policy(self, "Policy", policy_name=config.resource_name("services"), statements=statements)
        clusters = stack.format_arn(
            service="ecs", resource="cluster", resource_name=names, arn_format=ArnFormat.SLASH_RESOURCE_NAME
        )
        tasks = stack.format_arn(
            service="ecs", resource="task", resource_name=f"{names}/*", arn_format=ArnFormat.SLASH_RESOURCE_NAME
        )

        def list_in_clusters(*actions: str) -> iam.PolicyStatement:
            return iam.PolicyStatement(
                sid="ListInLayer0Clusters",
                actions=list(actions),
                resources=["*"],
                conditions={"ArnLike": {"ecs:cluster": clusters}},
            )

        # The delete-service job's steps: find the service's cluster, scale it to 0, stop its tasks, delete it.
        self.delete_steps_policy = iam.Policy(
            self,
            "DeleteStepsPolicy",
            policy_name=config.resource_name("service-deletes"),
            statements=[
                # A service without its environment tag is found by searching the Layer0 clusters.
                iam.PolicyStatement(sid="FindClusters", actions=["ecs:ListClusters"], resources=["*"]),
                list_in_clusters("ecs:ListServices", "ecs:ListTasks"),
                iam.PolicyStatement(
                    sid="DeleteServices", actions=list(SERVICE_DELETE_ACTIONS), resources=[services, tasks]
                ),
            ],
        )
        # The rollout job's step: read the service's deployments and its stopped tasks.
        self.rollout_steps_policy = iam.Policy(
            self,
            "RolloutStepsPolicy",
            policy_name=config.resource_name("rollouts"),
            statements=[
                list_in_clusters("ecs:ListTasks"),
                iam.PolicyStatement(sid="ReadServices", actions=list(ROLLOUT_ACTIONS), resources=[services, tasks]),
            ],
        )
        for policy in (self.delete_steps_policy, self.rollout_steps_policy):
            acknowledge_wildcards(stack, policy, _reason_for)
        Validations.of(self.policy).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_text(stack.resolve(services))}]",
                reason=REASONS["services"],
            )
        )

    def attach_to(self, function: lambda_.IFunction) -> None:
        assert function.role is not None
        self.policy.attach_to_role(function.role)

    def attach_delete_steps_to(self, function: lambda_.IFunction) -> None:
        assert function.role is not None
        self.delete_steps_policy.attach_to_role(function.role)

    def attach_rollout_steps_to(self, function: lambda_.IFunction) -> None:
        assert function.role is not None
        self.rollout_steps_policy.attach_to_role(function.role)


def _reason_for(text: str) -> str:
    if text == "*":
        return REASONS["*"]
    return REASONS["services"] if ":service/" in text else REASONS["tasks"]
