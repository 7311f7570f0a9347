"""The Lambda functions. Every function shares one asset (`functions/` + dependencies), one environment
(the variables `layer0.settings.from_environment` reads), and gets its own role and log group."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.bundling import PLATFORM, function_code
from infra.config import Config
from layer0 import contract
from layer0.workflows import asl

FUNCTION_LOG_RETENTION = logs.RetentionDays.ONE_MONTH
DEFAULT_TIMEOUT = Duration.seconds(30)
METRICS_NAMESPACE = "Layer0"
API_ALIAS = "live"  # the alias API Gateway invokes, of the API function and of the authorizer

XRAY_REASON = (
    "Active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords do not support resource-level "
    "permissions, so AWS documents Resource '*' for them. Every other statement of this role names its resources."
)


class Functions(Construct):
    """Creates functions on demand: `add(...)`. `api` and `authorizer` (invoked through `api_alias` and
    `authorizer_alias`) are the two the API needs; each job type's step function is made by the workflows
    (infra/workflows/construct.py, `add_step_function`)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: Config, environment: Mapping[str, str]) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.environment: dict[str, str] = dict(environment)
        self._code = function_code()
        self.api = self.add(
            "Api",
            name="api",
            handler=contract.API_HANDLER,
            description="Layer0 API: every route of the Layer0 HTTP API",
            memory_size=1024,
            timeout=Duration.seconds(29),  # API Gateway's integration timeout
            reserved_concurrent_executions=config.throughput.api_concurrency,
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS,
        )
        # SnapStart restores published versions only, never $LATEST: API Gateway invokes this alias of the current
        # version (docs/architecture.md#cold-start). A change to the code or the environment publishes a new one.
        self.api_alias = lambda_.Alias(self, "ApiAlias", alias_name=API_ALIAS, version=self.api.current_version)
        # The authorizer is on the request path whenever API Gateway's cache of its answer misses: SnapStart too,
        # and API Gateway invokes its alias likewise.
        self.authorizer = self.add(
            "Authorizer",
            name="authorizer",
            handler=contract.AUTHORIZER_HANDLER,
            description="Layer0 API: checks Authorization: Basic <token> against the auth secret",
            memory_size=256,
            timeout=Duration.seconds(10),
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS,
        )
        self.authorizer_alias = lambda_.Alias(
            self, "AuthorizerAlias", alias_name=API_ALIAS, version=self.authorizer.current_version
        )

    def add_step_function(self, construct_id: str, *, slug: str, description: str) -> lambda_.Function:
        """`l0-<prefix>-job-<slug>-step`: runs the workflow steps of one job type's machine, with its own role, so
        that each job's steps get only what they call (docs/architecture.md#the-job-path)."""
        return self.add(
            construct_id,
            name=f"job-{slug}-step",
            handler=contract.STEP_HANDLER,
            description=description,
            memory_size=512,
            timeout=Duration.seconds(asl.STEP_FUNCTION_TIMEOUT_SECONDS),
        )

    def add(
        self,
        construct_id: str,
        *,
        name: str,
        handler: str,
        description: str,
        memory_size: int = 512,
        timeout: Duration = DEFAULT_TIMEOUT,
        reserved_concurrent_executions: int | None = None,
        environment: Mapping[str, str] | None = None,
        snap_start: lambda_.SnapStartConf | None = None,
    ) -> lambda_.Function:
        """A function `l0-<prefix>-<name>` with the shared asset and environment, on the shared platform (arm64,
        infra/bundling.py), its own log group `/aws/lambda/l0-<prefix>-<name>`, and a role that may only write to
        that log group (and X-Ray)."""
        function_name = self._config.resource_name(name)
        log_group = logs.LogGroup(
            self,
            f"{construct_id}Logs",
            log_group_name=f"/aws/lambda/{function_name}",
            retention=FUNCTION_LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            self,
            f"{construct_id}Role",
            description=f"{function_name} Lambda function",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        )
        # Instead of AWSLambdaBasicExecutionRole (logs:* on every log group): this log group only.
        log_group.grant_write(role)
        function = lambda_.Function(
            self,
            construct_id,
            function_name=function_name,
            description=description,
            code=self._code,
            handler=handler,
            runtime=PLATFORM.runtime,
            architecture=PLATFORM.architecture,
            memory_size=memory_size,
            timeout=timeout,
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            reserved_concurrent_executions=reserved_concurrent_executions,
            snap_start=snap_start,
            environment={
                **self.environment,
                "POWERTOOLS_SERVICE_NAME": f"layer0-{name}",
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                **(environment or {}),
            },
        )
        # The X-Ray statement lands in the role's default policy, a child of the role.
        Validations.of(role).acknowledge(
            Acknowledgment(id="AwsSolutions::AwsSolutions-IAM5[Resource::*]", reason=XRAY_REASON)
        )
        return function
