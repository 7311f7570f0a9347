"""Layer0's JSON models (docs/compatibility.md#json-fields), field names exactly as the l0 CLI and Terraform provider
send them.

Requests follow the Go decoder's habits (docs/compatibility.md#http-conventions): keys match case-insensitively, unknown
keys are
ignored, and `[]byte` fields travel as base64 strings.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
from typing import Annotated, Any

import pydantic
from pydantic import BeforeValidator, ConfigDict, Field, PlainSerializer, SecretStr, model_validator


class BaseModel(pydantic.BaseModel):
    """Every Layer0 model. Its validator and serializer are built on first use, not on import: a route pays only
    for the models it uses (docs/architecture.md#cold-start)."""

    model_config = ConfigDict(defer_build=True)


def _decode_base64(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise ValueError("must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"illegal base64 data: {exc}") from exc


def rfc3339(moment: object) -> str:
    """Go's RFC3339Nano, as Layer0 wrote every time.Time (a job's time_created, a deployment's created and
    updated) and as its clients parse it: UTC, `Z`, fractional seconds without trailing zeros."""
    if not isinstance(moment, _dt.datetime):
        return str(moment or "")
    utc = moment.astimezone(_dt.UTC) if moment.tzinfo else moment
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += "." + f"{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


# A Go `[]byte` field: base64 in JSON, bytes in Python.
Base64Bytes = Annotated[
    bytes,
    BeforeValidator(_decode_base64),
    PlainSerializer(lambda raw: base64.b64encode(raw).decode(), return_type=str, when_used="json"),
]


class RequestModel(BaseModel):
    """A request body. Keys are matched case-insensitively, as Go's JSON decoder does."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _lower_case_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key.lower() if isinstance(key, str) else key: value for key, value in data.items()}
        return data


class Tag(RequestModel):
    entity_id: str = Field(default="")
    entity_type: str = Field(default="")
    key: str = Field(default="")
    value: str = Field(default="")


class EntityWithTags(BaseModel):
    entity_id: str
    entity_type: str
    tags: list[Tag]


class SQLVersion(RequestModel):
    message: list[str] | None = None
    version: str = ""


class APIConfig(BaseModel):
    prefix: str
    vpc_id: str
    public_subnets: list[str]
    private_subnets: list[str]


class Job(BaseModel):
    job_id: str
    task_id: str
    job_status: int
    job_type: int
    request: str
    time_created: str
    time_to_exist: int
    meta: dict[str, str] = Field(default_factory=dict)


class LogFile(BaseModel):
    name: str
    lines: list[str] = Field(default_factory=list)


class ServerError(BaseModel):
    error_code: int
    message: str


# --- environments (docs/compatibility.md#json-fields)
# --------------------------------------------------------------------------------------


# An environment's minimum instance count is bounded so that a typo is a 400, not an Auto Scaling group told to
# launch millions of instances (moto, in local mode, runs out of subnet addresses and fails with a 500).
MAX_MIN_CLUSTER_COUNT = 100


class CreateEnvironmentRequest(RequestModel):
    environment_name: str = ""
    # No default at the API (docs/compatibility.md#json-fields): the CLI and Terraform send m3.medium. Empty means
    # DEFAULT_INSTANCE_SIZE.
    instance_size: str = ""
    user_data_template: Base64Bytes = b""
    min_cluster_count: int = Field(default=0, ge=0, le=MAX_MIN_CLUSTER_COUNT)
    operating_system: str = ""
    ami_id: str = ""
    # "ec2" (the default) or "fargate" (docs/compatibility.md#fargate-environments); `spot` is Fargate's only.
    environment_type: str = ""
    spot: bool = False
    # "managed" (ECS capacity provider with managed scaling) or "layer0" (the Layer0 scaler):
    # docs/architecture.md#capacity-providers. Empty means "managed".
    scaling: str = ""


class UpdateEnvironmentRequest(RequestModel):
    min_cluster_count: int = Field(default=0, ge=0, le=MAX_MIN_CLUSTER_COUNT)


class CreateEnvironmentLinkRequest(RequestModel):
    environment_id: str = ""


class Environment(BaseModel):
    environment_id: str
    environment_name: str
    cluster_count: int
    instance_size: str
    security_group_id: str
    operating_system: str
    ami_id: str
    links: list[str] = Field(default_factory=list)
    environment_type: str = "ec2"
    spot: bool = False
    scaling: str = ""  # "managed" or "layer0" (docs/architecture.md#capacity-providers)
    architecture: str = ""  # "x86_64" or "arm64", of the instance type (DescribeInstanceTypes)


class EnvironmentSummary(BaseModel):
    environment_id: str
    environment_name: str
    operating_system: str
    # Addition (docs/compatibility.md#fargate-environments); a row written before it is an EC2 environment's.
    environment_type: str = "ec2"


# --- the scaler (docs/compatibility.md#json-fields, docs/compatibility.md#scaler)
# --------------------------------------------------------------------------------


class ResourceConsumer(BaseModel):
    id: str
    memory: str  # "<n>MiB"
    ports: list[int] = Field(default_factory=list)


class ResourceProvider(BaseModel):
    id: str
    in_use: bool
    used_ports: list[int] = Field(default_factory=list)
    available_memory: str  # "<n>MiB"


class ScalerRunInfo(BaseModel):
    environment_id: str
    scale_before_run: int
    desired_scale_after_run: int
    actual_scale_after_run: int
    unused_resource_providers: int
    pending_resources: list[ResourceConsumer] = Field(default_factory=list)
    resource_providers: list[ResourceProvider] = Field(default_factory=list)
    # Addition: resources that fit no instance of the environment's size. The run still scales for the others.
    errors: list[str] = Field(default_factory=list)


# --- tasks (docs/compatibility.md#json-fields, docs/compatibility.md#tasks)
# ---------------------------------------------------------------------------------------


def _none_as_empty(value: Any) -> Any:
    # Go clients send a nil slice or map as null.
    return value if value is not None else []


class ContainerOverride(RequestModel):
    container_name: str = ""
    environment_overrides: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _null_overrides(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {key.lower() if isinstance(key, str) else key: value for key, value in data.items()}
            if data.get("environment_overrides") is None:
                data.pop("environment_overrides", None)
        return data


class CreateTaskRequest(RequestModel):
    """`copies` (v0.10.0-0.10.3) is accepted and ignored: one job starts one task (docs/compatibility.md#tasks)."""

    container_overrides: Annotated[list[ContainerOverride], BeforeValidator(_none_as_empty)] = Field(
        default_factory=list
    )
    deploy_id: str = ""
    environment_id: str = ""
    task_name: str = ""


class TaskDetail(BaseModel):
    container_name: str
    exit_code: int = 0
    last_status: str = ""
    reason: str = ""


class TaskCopy(BaseModel):
    details: list[TaskDetail] = Field(default_factory=list)
    reason: str = ""  # the ECS task's stoppedReason
    task_copy_id: str  # the ECS task ARN


class Task(BaseModel):
    copies: list[TaskCopy] = Field(default_factory=list)
    deploy_id: str
    deploy_name: str
    deploy_version: str
    environment_id: str
    environment_name: str
    pending_count: int
    running_count: int
    task_id: str
    task_name: str


class TaskSummary(BaseModel):
    task_id: str
    task_name: str
    environment_id: str
    environment_name: str


# --- services (docs/compatibility.md#json-fields, docs/compatibility.md#services)
# ------------------------------------------------------------------------------------


class CreateServiceRequest(RequestModel):
    deploy_id: str = ""
    environment_id: str = ""
    load_balancer_id: str = ""  # optional: the service runs behind this load balancer
    service_name: str = ""


# ECS's default quota of tasks per service. Above it, a count is a typo: the scaler would count a billion pending
# copies (local mode ran out of memory) before ECS refused it.
MAX_DESIRED_COUNT = 5000


class ScaleServiceRequest(RequestModel):
    # Required: a body without it would otherwise scale the service to 0.
    desired_count: int = Field(ge=0, le=MAX_DESIRED_COUNT)


class UpdateServiceRequest(RequestModel):
    deploy_id: str = ""


# Requests per task per minute: above a million is a typo (and an unbounded int would not fit a float).
MAX_REQUESTS_PER_TARGET = 1_000_000
# Cooldowns above a day are typos (Application Auto Scaling takes any int32 of seconds).
MAX_COOLDOWN_SECONDS = 86_400


class Autoscaling(BaseModel):
    """A service's autoscaling (docs/compatibility.md#service-autoscaling): its range and its target-tracking
    targets, null for a target not tracked. Utilizations are percents; `requests_per_target` is the load balancer's
    requests per task per minute."""

    min_count: int
    max_count: int
    cpu_target: float | None = None
    memory_target: float | None = None
    requests_per_target: int | None = None
    scale_in_cooldown: int = 300
    scale_out_cooldown: int = 300


class AutoscalingRequest(RequestModel):
    """`PUT /service/{id}/autoscaling`: min ≤ max ≤ 5000 and at least one target."""

    min_count: int = Field(ge=0, le=MAX_DESIRED_COUNT)
    max_count: int = Field(ge=0, le=MAX_DESIRED_COUNT)
    cpu_target: float | None = Field(default=None, gt=0, le=100)
    memory_target: float | None = Field(default=None, gt=0, le=100)
    requests_per_target: int | None = Field(default=None, ge=1, le=MAX_REQUESTS_PER_TARGET)
    # null, like a missing cooldown, means Application Auto Scaling's default of 300 s.
    scale_in_cooldown: int | None = Field(default=None, ge=0, le=MAX_COOLDOWN_SECONDS)
    scale_out_cooldown: int | None = Field(default=None, ge=0, le=MAX_COOLDOWN_SECONDS)

    @model_validator(mode="after")
    def _a_range_and_a_target(self) -> AutoscalingRequest:
        if self.min_count > self.max_count:
            raise ValueError(f"min_count ({self.min_count}) must not be above max_count ({self.max_count})")
        if self.cpu_target is None and self.memory_target is None and self.requests_per_target is None:
            raise ValueError("give at least one target: cpu_target, memory_target or requests_per_target")
        return self

    def settings(self) -> Autoscaling:
        return Autoscaling(**self.model_dump(exclude_none=True))


class Deployment(BaseModel):
    created: str  # RFC 3339 with nanoseconds, as Go writes time.Time
    deploy_id: str
    deploy_name: str
    deploy_version: str
    desired_count: int
    pending_count: int
    running_count: int
    status: str  # PRIMARY, ACTIVE, ...
    updated: str
    deployment_id: str  # the ECS deployment id, ecs-svc/...
    # Ours (docs/compatibility.md#services): ECS's failedTasks, the deployment's tasks that failed to start or
    # failed their health checks (the circuit breaker counts them). The original CLI ignores fields it does not know.
    failed_tasks: int = 0


class Service(BaseModel):
    deployments: list[Deployment] = Field(default_factory=list)
    desired_count: int
    environment_id: str
    environment_name: str
    load_balancer_id: str
    load_balancer_name: str
    pending_count: int
    running_count: int
    service_id: str
    service_name: str
    # Ours (docs/compatibility.md#service-autoscaling): null when the service is not autoscaled; the original CLI
    # ignores fields it does not know.
    autoscaling: Autoscaling | None = None


class ServiceSummary(BaseModel):
    service_id: str
    service_name: str
    environment_id: str
    environment_name: str


# --- deploys (docs/compatibility.md#json-fields, docs/compatibility.md#deploys)
# -------------------------------------------------------------------------------------


class CreateDeployRequest(RequestModel):
    deploy_name: str = ""
    dockerrun: Base64Bytes = b""  # a Dockerrun.aws.json document


class Deploy(BaseModel):
    dockerrun: Base64Bytes  # the registered task definition, re-serialized (docs/compatibility.md#deploys)
    deploy_id: str  # `<name>.<revision>`
    deploy_name: str
    version: str  # the ECS revision


class DeploySummary(BaseModel):
    deploy_id: str
    deploy_name: str
    version: str


# --- load balancers (docs/compatibility.md#json-fields, docs/compatibility.md#load-balancers;
# docs/compatibility.md#differences-on-purpose-and-why: `load_balancer_type`)
# ----------------------------------------------


class Port(RequestModel):
    """A listener: `host_port` is the load balancer's port, `container_port` the instance port, which must be
    a container's hostPort (docs/compatibility.md#json-fields). HTTPS and SSL need a certificate, by name (IAM) or ARN
    (IAM or ACM)."""

    certificate_name: str = ""
    certificate_arn: str = ""
    container_port: int = 0
    host_port: int = 0
    protocol: str = ""


class HealthCheck(RequestModel):
    target: str = ""  # PROTOCOL:PORT, or PROTOCOL:PORT/PATH for HTTP and HTTPS
    interval: int = 0
    timeout: int = 0
    healthy_threshold: int = 0
    unhealthy_threshold: int = 0


class CreateLoadBalancerRequest(RequestModel):
    load_balancer_name: str = ""
    environment_id: str = ""
    is_public: bool = False
    # The l0 CLI and Terraform always send these; a body without them gets the CLI's defaults
    # (ports 80:80, health check TCP:80 30/5/2/2, idle timeout 60 s, cross-zone on). Explicit zeros are 400.
    ports: list[Port] | None = None
    health_check: HealthCheck | None = None
    idle_timeout: int | None = None
    cross_zone: bool | None = None
    load_balancer_type: str = (
        ""  # "classic" (default) or "application" (docs/compatibility.md#differences-on-purpose-and-why)
    )


class UpdateLoadBalancerPortsRequest(RequestModel):
    ports: list[Port] = Field(default_factory=list)


class UpdateLoadBalancerHealthCheckRequest(RequestModel):
    health_check: HealthCheck = Field(default_factory=HealthCheck)


class UpdateLoadBalancerIdleTimeoutRequest(RequestModel):
    # The l0 CLI and the Terraform provider send the idle timeout under `health_check`
    # (docs/compatibility.md#json-fields, sic);
    # `idle_timeout` is accepted too.
    health_check: int | None = None
    idle_timeout: int | None = None

    @property
    def seconds(self) -> int:
        return self.idle_timeout if self.idle_timeout is not None else (self.health_check or 0)


class UpdateLoadBalancerCrossZoneRequest(RequestModel):
    cross_zone: bool = False


class LoadBalancer(BaseModel):
    cross_zone: bool
    environment_id: str
    environment_name: str
    health_check: HealthCheck
    idle_timeout: int
    is_public: bool
    load_balancer_id: str
    load_balancer_name: str
    ports: list[Port] = Field(default_factory=list)
    service_id: str = ""
    service_name: str = ""
    url: str = ""
    load_balancer_type: str = "classic"


class LoadBalancerSummary(BaseModel):
    load_balancer_id: str
    load_balancer_name: str
    environment_id: str
    environment_name: str
    load_balancer_type: str = "classic"


# --- secrets (docs/compatibility.md#secrets)
# -------------------------------------------------------------------------------------

# The rules, checked by layer0.secrets before AWS is called (400 code 1); the schema shows them to clients.
SECRET_NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,128}$"
MAX_SECRET_VALUE_BYTES = 65536  # Secrets Manager's limit for a SecretString, in UTF-8 bytes


class PutSecretRequest(RequestModel):
    # No constraints that pydantic enforces: the domain checks both and answers 400 code 1 without quoting the value.
    secret_name: str = Field(
        default="",
        description="The secret's name: letters, digits, `_`, `.` and `-`, 1 to 128 characters",
        json_schema_extra={"pattern": SECRET_NAME_PATTERN, "minLength": 1, "maxLength": 128},
    )
    # pydantic's SecretStr: printed, logged or dumped, it shows `**********`.
    value: SecretStr = Field(
        default=SecretStr(""),
        description="The secret's value: 1 byte to 64 KiB of UTF-8. No answer, log or trace ever shows it.",
        json_schema_extra={"minLength": 1, "maxLength": MAX_SECRET_VALUE_BYTES},
    )


class Secret(BaseModel):
    secret_name: str
    secret_arn: str  # the Secrets Manager ARN, with its random suffix: what a Dockerrun's `valueFrom` resolves to
    last_changed: str  # RFC 3339, when the value last changed
