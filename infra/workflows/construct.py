"""CDK for the job workflows: one Standard state machine per job type that has one, from layer0.workflows.

Each machine has its own step function `l0-<prefix>-job-<slug>-step` (same asset and handler, its own role), so each
job's steps get only the permissions they need (docs/architecture.md#the-job-path); the stack grants each one. The
ASL is the workflow module's JSON, unchanged (`DefinitionBody.from_string`); the machine's own step function's ARN
goes in through `definition_substitutions`, as local mode and the tests fill it in with `JobMachine.render`.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, ArnFormat, RemovalPolicy, Stack, Token, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.config import Config
from infra.functions import Functions
from layer0 import contract
from layer0.workflows import asl, registry

EXECUTION_LOG_RETENTION = logs.RetentionDays.ONE_MONTH

LOG_DELIVERY_REASON = (
    "Step Functions logging to CloudWatch Logs needs logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, "
    "DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, DescribeResourcePolicies and DescribeLogGroups, "
    "which do not support resource-level permissions (AWS documents Resource '*'); X-Ray's PutTraceSegments, "
    "PutTelemetryRecords, GetSamplingRules and GetSamplingTargets neither."
)


class Workflows(Construct):
    """The job state machines; `machines[job_type]`, their step functions `step_functions[job_type]`, and
    `state_machine_prefix` (LAYER0_JOB_STATE_MACHINE_PREFIX)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: Config, functions: Functions) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        stack = Stack.of(self)
        self.log_group = logs.LogGroup(
            self,
            "ExecutionLogs",
            # The /aws/vendedlogs/ prefix keeps CloudWatch Logs' resource policy small (AWS's recommendation).
            log_group_name=f"/aws/vendedlogs/states/{config.name}-jobs",
            retention=EXECUTION_LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(
            self,
            "Role",
            description=f"{config.name} job state machines: invoke their step functions, log, trace",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
        )
        self.step_functions: dict[int, lambda_.Function] = {
            job_type: functions.add_step_function(
                f"Job{int(job_type)}Step",
                slug=machine.slug,
                description=f"Layer0 jobs: runs the steps of job type {int(job_type)} ({machine.slug})",
            )
            for job_type, machine in registry.MACHINES.items()
        }
        # The machines call the functions by their unqualified ARNs, so no `<arn>:*` (as grant_invoke would add).
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="InvokeJobSteps",
                actions=["lambda:InvokeFunction"],
                resources=[function.function_arn for function in self.step_functions.values()],
            )
        )
        self.state_machine_prefix = stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=contract.job_machine_name_prefix(config.prefix),
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.machines: dict[int, sfn.StateMachine] = {}
        for job_type, machine in registry.MACHINES.items():
            self.machines[job_type] = sfn.StateMachine(
                self,
                f"Job{int(job_type)}",
                state_machine_name=machine.name(config.prefix),
                state_machine_type=sfn.StateMachineType.STANDARD,
                definition_body=sfn.DefinitionBody.from_string(machine.definition_string()),
                definition_substitutions={asl.STEP_FUNCTION_ARN_KEY: self.step_functions[job_type].function_arn},
                role=self.role,
                logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
                tracing_enabled=True,
                comment=machine.description,
            )
        Validations.of(self.role).acknowledge(
            Acknowledgment(id="AwsSolutions::AwsSolutions-IAM5[Resource::*]", reason=LOG_DELIVERY_REASON)
        )

    def execution_arns(self) -> list[str]:
        """`...:execution:<machine name>:*` for every machine: executions are named by job ids, known at run time."""
        stack = Stack.of(self)
        return [
            stack.format_arn(
                service="states",
                resource="execution",
                resource_name=f"{machine.name(self._config.prefix)}:*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            for machine in registry.MACHINES.values()
        ]

    def grant_jobs(self, function: lambda_.IFunction) -> None:
        """What layer0.jobs needs: start the job machines; stop, describe and read the history of their executions."""
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="StartJobs",
                actions=["states:StartExecution"],
                resources=[machine.state_machine_arn for machine in self.machines.values()],
            )
        )
        executions = self.execution_arns()
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="ManageJobExecutions",
                actions=["states:StopExecution", "states:DescribeExecution", "states:GetExecutionHistory"],
                resources=executions,
            )
        )
        stack = Stack.of(self)
        # cdk-nag writes unresolved pseudo parameters as <AWS::Region>; a concrete env shows its values.
        region = "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region
        account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
        for machine in registry.MACHINES.values():
            name = machine.name(self._config.prefix)
            finding = (
                f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:{region}:"
                f"{account}:execution:{name}:*]"
            )
            Validations.of(function.role or function).acknowledge(
                Acknowledgment(
                    id=finding,
                    reason=(
                        f"Executions of {name} are named after job ids, which exist only at run time; "
                        "the wildcard is the execution name within that one state machine."
                    ),
                )
            )
