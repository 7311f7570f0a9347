"""The REST API: one resource and method per `contract.ROUTES` entry, all proxied to the API function;
a REQUEST authorizer on the `auth=True` routes; Layer0-shaped gateway responses; CORS preflight."""

from __future__ import annotations

import json

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import Config
from layer0 import contract

STAGE_NAME = "api"
AUTHORIZER_CACHE_TTL = Duration.seconds(300)
ACCESS_LOG_RETENTION = logs.RetentionDays.THREE_MONTHS

CORS_ALLOW_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "userAgent": "$context.identity.userAgent",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "path": "$context.path",
        "resourcePath": "$context.resourcePath",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "responseLatency": "$context.responseLatency",
        "integrationStatus": "$context.integration.status",
        "integrationLatency": "$context.integration.latency",
        "authorizerStatus": "$context.authorizer.status",
        "authorizerError": "$context.authorizer.error",
        "errorType": "$context.error.responseType",
        "errorMessage": "$context.error.message",
        "xrayTraceId": "$context.xrayTraceId",
    },
    separators=(",", ":"),
)


def quoted(value: str) -> str:
    """An API Gateway static header value: 'value'."""
    if "'" in value:
        raise ValueError(f"API Gateway header literals cannot contain a single quote: {value!r}")
    return f"'{value}'"


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: Config,
        handler: lambda_.IFunction,
        authorizer_handler: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        access_logs = logs.LogGroup(
            self, "AccessLogs", retention=ACCESS_LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        throughput = config.throughput
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=config.name,
            description=f"Layer0 {config.prefix} API ({config.api_version})",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=False,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE_NAME,
                tracing_enabled=True,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.custom(ACCESS_LOG_FORMAT),
                throttling_rate_limit=throughput.api_throttle_rate,
                throttling_burst_limit=throughput.api_throttle_burst,
            ),
        )
        self.authorizer = apigw.RequestAuthorizer(
            self,
            "Authorizer",
            authorizer_name=f"{config.name}-basic",
            handler=authorizer_handler,
            identity_sources=[apigw.IdentitySource.header("Authorization")],
            results_cache_ttl=AUTHORIZER_CACHE_TTL,
        )
        # One Lambda permission for the whole API instead of one per method.
        self.integration = apigw.LambdaIntegration(handler, proxy=True, scope_permission_to_method=False)
        self.methods: dict[contract.Route, apigw.Method] = {}
        self._preflighted: set[str] = set()
        for route in contract.ROUTES:
            self.add_route(route)
        self._add_gateway_responses()
        self._acknowledge()

    @property
    def url(self) -> str:
        """The stage URL, with the trailing slash Layer0 clients need to resolve relative paths."""
        return self.rest_api.url

    def resource(self, path: str) -> apigw.IResource:
        """The resource for `/a/{b}/c` (`{b}` a path parameter), created on first use."""
        resource: apigw.IResource = self.rest_api.root
        for part in (p for p in path.split("/") if p):
            resource = resource.get_resource(part) or resource.add_resource(part)
        return resource

    def add_route(self, route: contract.Route) -> apigw.Method:
        resource = self.resource(route.path)
        method = resource.add_method(
            route.method,
            self.integration,
            authorizer=self.authorizer if route.auth else None,
            authorization_type=apigw.AuthorizationType.CUSTOM if route.auth else apigw.AuthorizationType.NONE,
        )
        self.methods[route] = method
        if not route.auth:
            reason = (
                f"{route.method} {route.path} is open by design of the Layer0 API contract "
                "(docs/compatibility.md#http-conventions)."
            )
            Validations.of(method).acknowledge(Acknowledgment(id="AwsSolutions::AwsSolutions-APIG4", reason=reason))
            Validations.of(method).acknowledge(Acknowledgment(id="AwsSolutions::AwsSolutions-COG4", reason=reason))
        else:
            Validations.of(method).acknowledge(
                Acknowledgment(
                    id="AwsSolutions::AwsSolutions-COG4",
                    reason=(
                        "Existing l0 CLI and Terraform clients send `Authorization: Basic <token>`, so the API "
                        "uses a Lambda REQUEST authorizer for that token instead of a Cognito user pool."
                    ),
                )
            )
        self._add_preflight(resource)
        return method

    def _add_preflight(self, resource: apigw.IResource) -> None:
        """OPTIONS answered by API Gateway itself, with the CORS policy of `contract`."""
        if resource.path in self._preflighted:
            return
        self._preflighted.add(resource.path)
        headers = {
            "Access-Control-Allow-Headers": quoted(",".join(contract.CORS_ALLOW_HEADERS)),
            "Access-Control-Allow-Methods": quoted(",".join(CORS_ALLOW_METHODS)),
            "Access-Control-Allow-Origin": quoted(contract.CORS_ALLOW_ORIGIN),
            "Version": quoted(self._config.api_version),
        }
        parameters = {f"method.response.header.{name}": value for name, value in headers.items()}
        method = resource.add_method(
            "OPTIONS",
            apigw.MockIntegration(
                request_templates={"application/json": '{"statusCode": 200}'},
                passthrough_behavior=apigw.PassthroughBehavior.WHEN_NO_MATCH,
                integration_responses=[
                    apigw.IntegrationResponse(
                        status_code="200",
                        response_parameters=parameters,
                    )
                ],
            ),
            authorization_type=apigw.AuthorizationType.NONE,
            method_responses=[
                apigw.MethodResponse(status_code="200", response_parameters={name: True for name in parameters})
            ],
        )
        reason = "CORS preflight (OPTIONS) must be answered without credentials; API Gateway answers it itself."
        Validations.of(method).acknowledge(Acknowledgment(id="AwsSolutions::AwsSolutions-APIG4", reason=reason))
        Validations.of(method).acknowledge(Acknowledgment(id="AwsSolutions::AwsSolutions-COG4", reason=reason))

    def _add_gateway_responses(self) -> None:
        for response_type, response in contract.GATEWAY_RESPONSES.items():
            headers = {
                "Access-Control-Allow-Origin": quoted(contract.CORS_ALLOW_ORIGIN),
                "Version": quoted(self._config.api_version),
                "Content-Type": quoted(response.content_type),
            }
            headers.update({name: quoted(value) for name, value in response.headers})
            self.rest_api.add_gateway_response(
                response_type.replace("_", " ").title().replace(" ", ""),
                type=apigw.ResponseType.of(response_type),
                status_code=None if response.status is None else str(response.status),
                response_headers=headers,
                templates={"application/json": response.body},
            )

    def _acknowledge(self) -> None:
        Validations.of(self.rest_api).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-APIG2",
                reason=(
                    "Requests are validated by the API function, which must answer Layer0 error bodies "
                    "(400 with code 1 or 19); API Gateway's validator would answer its own shape instead."
                ),
            )
        )
        Validations.of(self.rest_api).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-APIG3",
                reason=(
                    "Every route but /health, /admin/config, /openapi.json and /swagger is behind the token "
                    "authorizer and the stage is throttled; a WAF web ACL is a per-account cost decision operators "
                    "can attach to the stage."
                ),
            )
        )
        Validations.of(self.rest_api).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-APIG6",
                reason=(
                    "Execution logging needs the account-wide, per-region API Gateway CloudWatch role, which a "
                    "Layer0 stack should not take over; JSON access logs (with authorizer and integration "
                    "errors) and X-Ray tracing cover the stage."
                ),
            )
        )
