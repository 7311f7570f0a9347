"""The read model's events function (docs/architecture.md#the-read-model): `l0-<prefix>-events`, invoked by
EventBridge with the ECS events of the instance's `l0-<prefix>-*` clusters, by an hourly reconcile schedule, and once
by each deploy that changes it (a CDK trigger: the reconcile then fills the rows of an upgraded instance at once, not
within the hour). Its role reads what the reconcile observes and writes the tag table, nothing else."""

from __future__ import annotations

from aws_cdk import ArnFormat, CfnResource, Duration, Stack, triggers
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.config import Config
from infra.functions import Functions
from infra.nag import acknowledge_wildcards
from layer0 import contract

RECONCILE_PERIOD = Duration.hours(1)
# How the construct id of the stack's one trigger provider begins (CDK's, aws_cdk.triggers).
TRIGGER_PROVIDER = "AWSCDK.TriggerCustomResourceProvider"

REASONS = {
    "*": (
        "The reconcile lists what the read model holds: ecs:ListClusters, ListTaskDefinitionFamilies, "
        "ListTaskDefinitions and elasticloadbalancing:DescribeLoadBalancers take no resource ARN; ecs:ListServices "
        "is limited by the ecs:cluster condition to the l0-<prefix>-* clusters."
    ),
    "contents": (
        "Services and tasks are in the clusters Layer0 names l0-<prefix>-*; the wildcards are the environment id and "
        "the service or task id."
    ),
    "clusters": "Layer0's clusters are l0-<prefix>-<environment id>; the wildcard is the environment id.",
}


def _reason_for(resource: str) -> str:
    if resource == "*":
        return REASONS["*"]
    if ":service/" in resource or ":task/" in resource:
        return REASONS["contents"]
    return REASONS["clusters"]


class ReadModel(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: Config, functions: Functions, tag_table: dynamodb.ITable
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        names = config.resource_name("*")

        def arn(resource: str, name: str) -> str:
            return stack.format_arn(
                service="ecs", resource=resource, resource_name=name, arn_format=ArnFormat.SLASH_RESOURCE_NAME
            )

        clusters = arn("cluster", names)
        self.function = functions.add(
            "Events",
            name="events",
            handler=contract.EVENTS_HANDLER,
            description="Layer0 read model: ECS events and the hourly reconcile keep the List routes' rows true",
            memory_size=512,
            timeout=Duration.minutes(5),
            # Bounded, so that `aws_containers` counts it (docs/operations.md#pacing). EventBridge invokes it
            # asynchronously: events beyond it wait in Lambda's queue.
            reserved_concurrent_executions=config.throughput.events_concurrency,
        )
        tag_table.grant_read_write_data(self.function)
        policy = iam.Policy(
            self,
            "Policy",
            statements=[
                iam.PolicyStatement(
                    sid="ListEstate",
                    actions=[
                        "ecs:ListClusters",
                        "ecs:ListTaskDefinitionFamilies",
                        "ecs:ListTaskDefinitions",
                        "elasticloadbalancing:DescribeLoadBalancers",
                    ],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="ListServices",
                    actions=["ecs:ListServices"],
                    resources=["*"],
                    conditions={"ArnLike": {"ecs:cluster": clusters}},
                ),
                iam.PolicyStatement(sid="DescribeClusters", actions=["ecs:DescribeClusters"], resources=[clusters]),
                iam.PolicyStatement(
                    sid="DescribeServicesAndTasks",
                    actions=["ecs:DescribeServices", "ecs:DescribeTasks"],
                    resources=[arn("service", f"{names}/*"), arn("task", f"{names}/*")],
                ),
            ],
        )
        assert self.function.role is not None
        policy.attach_to_role(self.function.role)
        acknowledge_wildcards(stack, policy, _reason_for)
        target = targets.LambdaFunction(self.function, retry_attempts=2)
        self.ecs_rule = events.Rule(
            self,
            "EcsEvents",
            description=f"{config.name}: ECS task, service and deployment changes in the instance's clusters",
            event_pattern=events.EventPattern(
                source=[contract.ECS_EVENT_SOURCE],
                detail_type=list(contract.ECS_DETAIL_TYPES),
                detail={"clusterArn": events.Match.wildcard(clusters)},
            ),
            targets=[target],
        )
        self.reconcile_rule = events.Rule(
            self,
            "HourlyReconcile",
            description=f"{config.name}: reconcile the read model with AWS",
            schedule=events.Schedule.rate(RECONCILE_PERIOD),
            targets=[target],
        )
        # Upgrades change the function's code, so the trigger runs the reconcile once after each (its payload is
        # empty: handlers/events.py reconciles on it). Asynchronously: a reconcile that fails does not roll the
        # deploy back; Lambda retries it, and the hourly schedule is still there.
        self.reconcile_on_deploy = triggers.Trigger(
            self,
            "ReconcileOnDeploy",
            handler=self.function,
            invocation_type=triggers.InvocationType.EVENT,
            execute_on_handler_change=True,
        )
        # The trigger's provider is CDK's own Node.js function, one per stack; on Graviton too, as every function.
        [provider] = [child for child in stack.node.children if child.node.id.startswith(TRIGGER_PROVIDER)]
        handler = provider.node.find_child("Handler")
        assert isinstance(handler, CfnResource)
        handler.add_property_override("Architectures", ["arm64"])
