"""The contract every part of Layer0 shares, as plain data: written once, here, inside the Lambda asset.

The functions read it at run time; CDK (infra/) builds API Gateway methods, gateway responses, tables and state
machine names from it; local mode (local/) builds its gateway and its moto resources from it. It imports only
the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

API_HANDLER = "handlers.api.handler"
AUTHORIZER_HANDLER = "handlers.authorizer.handler"
STEP_HANDLER = "handlers.steps.handler"
SCALER_HANDLER = "handlers.scaler.handler"


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway resource path, `{name}` for a path parameter
    auth: bool = True
    # Honours `Idempotency-Key` (docs/compatibility.md#idempotency-key).
    idempotent: bool = False


# Every Layer0 route, in docs/compatibility.md#routes order. A test checks that the API handler serves exactly these.
ROUTES: tuple[Route, ...] = (
    Route("GET", "/health", auth=False),
    Route("GET", "/admin/version"),
    Route("GET", "/admin/config", auth=False),
    Route("POST", "/admin/sql"),
    Route("GET", "/tag"),
    Route("POST", "/tag"),
    Route("DELETE", "/tag"),
    # The API's description is public: Swagger UI sends the token itself (its Authorize button), so no browser ever
    # needs to hold Basic credentials for the API (docs/compatibility.md#auth).
    Route("GET", "/openapi.json", auth=False),
    Route("GET", "/swagger", auth=False),  # Swagger UI, its JS and CSS inlined from the installed Powertools
    # Jobs (docs/compatibility.md#jobs, docs/architecture.md#the-job-path); a job's task id is its job id, so its logs
    # are the execution history.
    Route("GET", "/job"),
    Route("GET", "/job/{id}"),
    Route("DELETE", "/job/{id}"),
    Route("GET", "/task/{id}/logs"),
    # Environments (docs/compatibility.md#environments) and the scaler (docs/compatibility.md#scaler). API Gateway
    # allows one variable name per level: `{id}`.
    Route("PUT", "/admin/scale/{id}"),
    Route("GET", "/environment"),
    Route("POST", "/environment", idempotent=True),
    Route("GET", "/environment/{id}"),
    Route("PUT", "/environment/{id}"),
    Route("DELETE", "/environment/{id}"),
    Route("POST", "/environment/{id}/link"),
    Route("DELETE", "/environment/{id}/link/{dest_id}"),
    # Deploys (docs/compatibility.md#deploys)
    Route("GET", "/deploy"),
    Route("POST", "/deploy", idempotent=True),
    Route("GET", "/deploy/{id}"),
    Route("DELETE", "/deploy/{id}"),
    # Load balancers (docs/compatibility.md#load-balancers)
    Route("GET", "/loadbalancer"),
    Route("POST", "/loadbalancer", idempotent=True),
    Route("GET", "/loadbalancer/{id}"),
    Route("DELETE", "/loadbalancer/{id}"),
    Route("PUT", "/loadbalancer/{id}/ports"),
    Route("PUT", "/loadbalancer/{id}/healthcheck"),
    Route("PUT", "/loadbalancer/{id}/idletimeout"),
    Route("PUT", "/loadbalancer/{id}/crosszone"),
    # Services (docs/compatibility.md#services)
    Route("GET", "/service"),
    Route("POST", "/service", idempotent=True),
    Route("GET", "/service/{id}"),
    Route("DELETE", "/service/{id}"),
    Route("PUT", "/service/{id}/scale", idempotent=True),
    Route("PUT", "/service/{id}/deploy", idempotent=True),
    Route("GET", "/service/{id}/logs"),
    # Service autoscaling (docs/compatibility.md#service-autoscaling): PUT replaces the whole configuration, so a
    # repeat is harmless without a key.
    Route("PUT", "/service/{id}/autoscaling"),
    Route("DELETE", "/service/{id}/autoscaling"),
    # Tasks (docs/compatibility.md#tasks); GET /task/{id}/logs is above, with the jobs
    Route("GET", "/task"),
    Route("POST", "/task", idempotent=True),
    Route("GET", "/task/{id}"),
    Route("DELETE", "/task/{id}"),
    # Secrets (docs/compatibility.md#secrets). Not `idempotent`: a POST is a create-or-update already, and an
    # idempotency record would keep a hash of the value.
    Route("GET", "/secret"),
    Route("POST", "/secret"),
    Route("DELETE", "/secret/{name}"),
)


# CORS (docs/compatibility.md#http-conventions), the same from the API function, the gateway's own answers and
# preflight.
# The original echoed any Origin with `Allow-Credentials: true`, which lets any web page read the API with
# a browser's cached Basic credentials; clients send the token themselves, so `*` without credentials.
CORS_ALLOW_ORIGIN = "*"
CORS_ALLOW_HEADERS = ("Origin", "Content-Type", "X-Auth-Token", "Authorization", "Idempotency-Key")
CORS_EXPOSE_HEADERS = ("Version", "Location", "X-JobID")


@dataclass(frozen=True)
class GatewayResponse:
    """An answer API Gateway gives by itself, before or instead of calling the API function.

    `status` None keeps the status API Gateway chose (e.g. 413, 415 or 502 under DEFAULT_4XX/5XX).
    """

    status: int | None
    body: str
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


# No `WWW-Authenticate`: with it, a browser asks for credentials and then sends them to the API from any web page
# (docs/compatibility.md#auth).
NOT_AUTHORIZED = GatewayResponse(status=401, body="401: Not Authorized", content_type="text/plain")

# Keyed by API Gateway's ResponseType. `$context` variables are filled in by API Gateway
# and by the local gateway alike.
GATEWAY_RESPONSES: dict[str, GatewayResponse] = {
    "UNAUTHORIZED": NOT_AUTHORIZED,
    "ACCESS_DENIED": NOT_AUTHORIZED,
    # API Gateway answers an unknown path with this type (403 by default).
    "MISSING_AUTHENTICATION_TOKEN": GatewayResponse(
        status=404,
        body='{"error_code": 21, "message": "No route for $context.httpMethod $context.path"}',
    ),
    "THROTTLED": GatewayResponse(
        status=429,
        body='{"error_code": 20, "message": "Too many requests: slow down and retry"}',
    ),
    # `messageString` is the message as a quoted, JSON-escaped string.
    "DEFAULT_4XX": GatewayResponse(status=None, body='{"error_code": 21, "message": $context.error.messageString}'),
    "DEFAULT_5XX": GatewayResponse(status=None, body='{"error_code": 21, "message": $context.error.messageString}'),
}


@dataclass(frozen=True)
class Table:
    """A DynamoDB table: `name_suffix` follows `l0-<prefix>-`; keys are (name, type)."""

    name_suffix: str
    setting: str  # the environment variable that passes its name to the functions
    partition_key: tuple[str, str]
    sort_key: tuple[str, str] | None
    ttl_attribute: str


# The tag and job tables keep the original Layer0 schemas (docs/compatibility.md#tables), so existing data can be
# adopted.
TAG_TABLE = Table("tags", "LAYER0_AWS_DYNAMO_TAG_TABLE", ("EntityType", "S"), ("EntityID", "S"), "TimeToExist")
JOB_TABLE = Table("jobs", "LAYER0_AWS_DYNAMO_JOB_TABLE", ("JobID", "S"), None, "TimeToExist")
# Powertools Idempotency's schema.
IDEMPOTENCY_TABLE = Table("idempotency", "LAYER0_IDEMPOTENCY_TABLE", ("id", "S"), None, "expiration")
TABLES: tuple[Table, ...] = (TAG_TABLE, JOB_TABLE, IDEMPOTENCY_TABLE)

# The auth secret is JSON {"username": ..., "password": ...}; the token is base64("username:password").
SECRET_USERNAME = "layer0"


class JobType(IntEnum):
    """Layer0's job types (docs/compatibility.md#jobs): 1-5 are the original's, 6 and up are ours."""

    DeleteEnvironment = 1
    DeleteService = 2
    DeleteLoadBalancer = 3
    DeleteTask = 4
    CreateTask = 5
    Rollout = 6

    @property
    def slug(self) -> str:
        """The job type's state machine is `l0-<prefix>-job-<slug>`."""
        return JOB_SLUGS[self]


JOB_SLUGS: dict[JobType, str] = {
    JobType.DeleteEnvironment: "delete-environment",
    JobType.DeleteService: "delete-service",
    JobType.DeleteLoadBalancer: "delete-load-balancer",
    JobType.DeleteTask: "delete-task",
    JobType.CreateTask: "create-task",
    JobType.Rollout: "rollout",
}


class JobStatus(IntEnum):
    Pending = 1
    InProgress = 2
    Completed = 3
    Error = 4


def job_machine_name_prefix(prefix: str) -> str:
    """`l0-<prefix>-job-`: the start of every job state machine's name."""
    return f"l0-{prefix}-job-"


def job_machine_name(prefix: str, job_type: JobType) -> str:
    return job_machine_name_prefix(prefix) + job_type.slug


# Task roles (docs/compatibility.md#task-roles): the roles Layer0 may pass to ECS tasks, as IAM resources after
# `arn:<partition>:iam::<account>:`. The API refuses a Dockerrun's `taskRoleArn` outside them, and CDK scopes
# iam:PassRole to them.
def passable_role_resources(prefix: str) -> tuple[str, ...]:
    """`role/l0-<prefix>-*` (the name) and `role/layer0/l0-<prefix>/*` (the path)."""
    return (f"role/l0-{prefix}-*", f"role/{passable_role_path(prefix).strip('/')}/*")


def passable_role_path(prefix: str) -> str:
    """`/layer0/l0-<prefix>/`: the IAM path of task roles whose names are the operator's choice."""
    return f"/layer0/l0-{prefix}/"


# The instance setting `container_policy` (docs/compatibility.md#container-policy): `strict` refuses Dockerruns that
# let a container reach its host; `permissive`, the default, registers them, as the original did.
CONTAINER_POLICY_PERMISSIVE = "permissive"
CONTAINER_POLICY_STRICT = "strict"
CONTAINER_POLICIES = (CONTAINER_POLICY_PERMISSIVE, CONTAINER_POLICY_STRICT)


def container_policy(value: str, setting: str) -> str:
    """The policy `value` names (any case; empty is the default), or ValueError naming `setting`, where it came from:
    the one check of the function settings and of the CDK context."""
    policy = value.strip().lower() or CONTAINER_POLICY_PERMISSIVE
    if policy not in CONTAINER_POLICIES:
        raise ValueError(f"{setting} must be one of {', '.join(CONTAINER_POLICIES)}, not {value!r}")
    return policy


# The instance setting `imds_hop_limit` (README.md#instance-metadata): 1 keeps containers in bridge mode from the
# instance role's credentials, 2 lets them reach the instance metadata service.
IMDS_HOP_LIMITS = (1, 2)


# The events function (docs/architecture.md#the-read-model): ECS events from EventBridge keep the read model true,
# and an hourly scheduled event runs the reconcile.
EVENTS_HANDLER = "handlers.events.handler"
ECS_EVENT_SOURCE = "aws.ecs"
ECS_TASK_STATE_CHANGE = "ECS Task State Change"
ECS_SERVICE_ACTION = "ECS Service Action"
ECS_DEPLOYMENT_STATE_CHANGE = "ECS Deployment State Change"
ECS_DETAIL_TYPES = (ECS_TASK_STATE_CHANGE, ECS_SERVICE_ACTION, ECS_DEPLOYMENT_STATE_CHANGE)
SCHEDULED_EVENT = "Scheduled Event"

# ECS Service Action events after which the environment may need other capacity
# (docs/compatibility.md#service-autoscaling): Application Auto Scaling changed a desired count, or ECS could not place
# a task. The events function requests a debounced scaler run for them.
ECS_CAPACITY_EVENT_NAMES = ("SERVICE_DESIRED_COUNT_UPDATED", "SERVICE_TASK_PLACEMENT_FAILURE")


# Secrets (docs/compatibility.md#secrets): the Secrets Manager secrets the API keeps, the SSM parameters a Dockerrun
# may name as well, and the role ECS reads them with. The API's checks and CDK's IAM scopes are built from these.
def secret_name_prefix(prefix: str) -> str:
    """`l0/<prefix>/`: a Layer0 secret `NAME` is the Secrets Manager secret `l0/<prefix>/NAME`."""
    return f"l0/{prefix}/"


def parameter_path(prefix: str) -> str:
    """`/l0/<prefix>/`: the SSM parameters a Dockerrun's `secrets` may name."""
    return f"/l0/{prefix}/"


def task_execution_role_name(prefix: str) -> str:
    """`l0-<prefix>-task-execution`: the `executionRoleArn` of every deploy that uses secrets, and of every deploy's
    Fargate variant (docs/compatibility.md#fargate-environments: image pulls, awslogs)."""
    return f"l0-{prefix}-task-execution"


def secrets_key_alias(prefix: str) -> str:
    """`alias/l0-<prefix>-secrets`: the KMS key that encrypts the secrets the API creates."""
    return f"alias/l0-{prefix}-secrets"
