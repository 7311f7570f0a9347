"""The scaler function (docs/compatibility.md#scaler, docs/architecture.md#shape-on-aws): its hourly EventBridge run
over every environment, and the role
EventBridge Scheduler runs it with for the debounced runs that `layer0.scaler.request_run` schedules (one-time
schedules `l0-<prefix>-scale-<environment id>-<window>`, so no timer lives in a Lambda)."""

from __future__ import annotations

from aws_cdk import Acknowledgment, ArnFormat, Duration, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import Config
from infra.environments import EnvironmentsPolicy
from infra.functions import Functions
from layer0 import contract

SCALER_PERIOD = Duration.hours(1)


class Scaler(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: Config,
        functions: Functions,
        policy: EnvironmentsPolicy,
        tag_table: dynamodb.ITable,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = functions.add(
            "Scaler",
            name="scaler",
            handler=contract.SCALER_HANDLER,
            description="Layer0 scaler: sizes each environment's Auto Scaling group to what its containers need",
            memory_size=512,
            timeout=Duration.minutes(5),
        )
        # Read the clusters and groups, set the desired capacity or terminate an instance (infra/environments.py).
        policy.attach_scaler_to(self.function)
        tag_table.grant_read_data(self.function)  # environment names, for the list
        self.rule = events.Rule(
            self,
            "Hourly",
            description="Layer0: run the scaler over every environment",
            schedule=events.Schedule.rate(SCALER_PERIOD),
            targets=[targets.LambdaFunction(self.function, retry_attempts=2)],
        )
        # Debounced runs: Scheduler invokes the function with this role, and nothing else.
        self.schedule_role = iam.Role(
            self,
            "ScheduleRole",
            role_name=config.resource_name("scaler-schedule"),
            description=f"{config.name}: EventBridge Scheduler runs the scaler for one environment",
            assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
        )
        self.schedule_role.add_to_policy(
            iam.PolicyStatement(
                sid="InvokeScaler", actions=["lambda:InvokeFunction"], resources=[self.function.function_arn]
            )
        )
        self.schedule_prefix = config.resource_name("scale-")

    def grant_request_run(self, function: lambda_.Function) -> None:
        """What layer0.scaler.request_run needs: create the one-time schedules, pass them the role, and both ARNs."""
        stack = Stack.of(self)
        schedules = stack.format_arn(
            service="scheduler",
            resource="schedule",
            resource_name=f"default/{self.schedule_prefix}*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        function.add_to_role_policy(
            iam.PolicyStatement(sid="ScheduleScalerRuns", actions=["scheduler:CreateSchedule"], resources=[schedules])
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="PassTheScheduleRole",
                actions=["iam:PassRole"],
                resources=[self.schedule_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
            )
        )
        function.add_environment("LAYER0_SCALER_FUNCTION_ARN", self.function.function_arn)
        function.add_environment("LAYER0_SCALER_SCHEDULE_ROLE_ARN", self.schedule_role.role_arn)
        assert function.role is not None
        Validations.of(function.role).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{_nag_arn(stack, schedules)}]",
                reason=(
                    "Debounced scaler runs are one-time schedules named l0-<prefix>-scale-<environment id>-<window>, "
                    "known only at run time; the wildcard is that suffix, in the default schedule group."
                ),
            )
        )


def _nag_arn(stack: Stack, arn: str) -> str:
    from infra.nag import nag_text

    return nag_text(stack.resolve(arn))
