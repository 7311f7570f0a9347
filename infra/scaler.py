"""The scaler function (SPEC §3.8, DESIGN §2) and its hourly EventBridge run over every environment."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from infra.environments import EnvironmentsPolicy
from infra.functions import Functions

SCALER_HANDLER = "handlers.scaler.handler"
SCALER_PERIOD = Duration.hours(1)


class Scaler(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Functions,
        policy: EnvironmentsPolicy,
        tag_table: dynamodb.ITable,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = functions.add(
            "Scaler",
            name="scaler",
            handler=SCALER_HANDLER,
            description="Layer0 scaler: sizes each environment's Auto Scaling group to what its containers need",
            memory_size=512,
            timeout=Duration.minutes(5),
        )
        policy.attach_to(self.function)
        tag_table.grant_read_data(self.function)  # environment names, for the list
        self.rule = events.Rule(
            self,
            "Hourly",
            description="Layer0: run the scaler over every environment",
            schedule=events.Schedule.rate(SCALER_PERIOD),
            targets=[targets.LambdaFunction(self.function, retry_attempts=2)],
        )
