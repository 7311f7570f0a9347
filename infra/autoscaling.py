"""What service autoscaling may do in AWS (docs/compatibility.md#service-autoscaling): one inline policy for the API
function (`PUT` / `DELETE /service/{id}/autoscaling`, and reading it for `GET /service/{id}`), and one for the
delete-service and delete-environment steps, which only remove.

Application Auto Scaling's scalable targets have ARNs with an id AWS generates (`scalable-target/<random>`), not the
service's name, so its actions cannot be scoped to `l0-<prefix>-` services by resource; they are scoped to this
account's and Region's scalable targets and, with Application Auto Scaling's condition keys, to ECS services'
desired counts. The Describe actions take no resource ARN. Registering a target also needs ECS to be readable and
updatable (the API function has that on `l0-<prefix>-*` services, infra/environments.py), and Application Auto
Scaling's service-linked role for ECS, created on first use. Target-tracking policies own CloudWatch alarms named
`TargetTracking-service/l0-<prefix>-.../...`, which the caller must be allowed to make and delete.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import service_linked_roles
from infra.config import Config
from infra.nag import acknowledge_wildcards

NAMESPACE = "ecs"
DIMENSION = "ecs:service:DesiredCount"
SERVICE_LINKED_ROLE_SERVICE = "ecs.application-autoscaling.amazonaws.com"
SERVICE_LINKED_ROLE_NAME = "AWSServiceRoleForApplicationAutoScaling_ECSService"

READ_ACTIONS = ("application-autoscaling:DescribeScalableTargets", "application-autoscaling:DescribeScalingPolicies")
WRITE_ACTIONS = (
    "application-autoscaling:RegisterScalableTarget",
    "application-autoscaling:DeregisterScalableTarget",
    "application-autoscaling:PutScalingPolicy",
    "application-autoscaling:DeleteScalingPolicy",
)
REMOVE_ACTIONS = (
    "application-autoscaling:DeregisterScalableTarget",
    "application-autoscaling:DeleteScalingPolicy",
)
ALARM_ACTIONS = ("cloudwatch:DescribeAlarms", "cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms")
REMOVE_ALARM_ACTIONS = ("cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms")

REASONS = {
    "*": (
        "application-autoscaling:DescribeScalableTargets and DescribeScalingPolicies take no resource ARN; Layer0 "
        "always passes the ecs namespace and one l0-<prefix>- service's resource id."
    ),
    "targets": (
        "Scalable target ARNs end with an id Application Auto Scaling generates, not the service's name; the "
        "statement is limited by the service-namespace and scalable-dimension conditions to ECS services' desired "
        "counts, and Layer0 only names l0-<prefix>- services."
    ),
    "alarms": (
        "Target-tracking policies own alarms Application Auto Scaling names TargetTracking-service/<cluster>/<service>-"
        "<AlarmHigh|AlarmLow>-<uuid>; the wildcard follows the l0-<prefix>- cluster name."
    ),
}


def _reason_for(text: str) -> str:
    if text == "*":
        return REASONS["*"]
    return REASONS["alarms"] if ":alarm:" in text else REASONS["targets"]


class AutoscalingPolicy(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: Config) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        targets = stack.format_arn(
            service="application-autoscaling",
            resource="scalable-target",
            resource_name="*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        alarms = stack.format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name=f"TargetTracking-service/{config.resource_name('*')}",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        ecs_desired_counts = {
            "StringEquals": {
                "application-autoscaling:service-namespace": NAMESPACE,
                "application-autoscaling:scalable-dimension": DIMENSION,
            }
        }

        def read(actions: tuple[str, ...]) -> iam.PolicyStatement:
            return iam.PolicyStatement(sid="ReadAutoscaling", actions=list(actions), resources=["*"])

        def write(sid: str, actions: tuple[str, ...]) -> iam.PolicyStatement:
            return iam.PolicyStatement(
                sid=sid, actions=list(actions), resources=[targets], conditions=ecs_desired_counts
            )

        self.policy = iam.Policy(
            self,
            "Policy",
            policy_name=config.resource_name("autoscaling"),
            statements=[
                read(READ_ACTIONS),
                write("AutoscaleEcsServices", WRITE_ACTIONS),
                iam.PolicyStatement(sid="TargetTrackingAlarms", actions=list(ALARM_ACTIONS), resources=[alarms]),
                # Application Auto Scaling acts on ECS through its service-linked role, made on the first registration.
                service_linked_roles.create_statement(
                    stack, "AutoscalingServiceLinkedRole", {SERVICE_LINKED_ROLE_SERVICE: SERVICE_LINKED_ROLE_NAME}
                ),
            ],
        )
        # The delete-service steps (also run by the delete-environment job): remove only.
        self.remove_policy = iam.Policy(
            self,
            "RemovePolicy",
            policy_name=config.resource_name("autoscaling-removal"),
            statements=[
                # The policies to delete before the target (layer0.autoscaling.remove).
                read(("application-autoscaling:DescribeScalingPolicies",)),
                write("RemoveAutoscaling", REMOVE_ACTIONS),
                iam.PolicyStatement(
                    sid="DeleteTargetTrackingAlarms", actions=list(REMOVE_ALARM_ACTIONS), resources=[alarms]
                ),
            ],
        )
        for policy in (self.policy, self.remove_policy):
            acknowledge_wildcards(stack, policy, _reason_for)

    def attach_to(self, function: lambda_.IFunction) -> None:
        assert function.role is not None
        self.policy.attach_to_role(function.role)

    def attach_remove_to(self, function: lambda_.IFunction) -> None:
        assert function.role is not None
        self.remove_policy.attach_to_role(function.role)
