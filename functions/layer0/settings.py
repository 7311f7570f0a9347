"""Settings, read once per process from environment variables (docs/operations.md#function-settings names where Layer0
had them).

CDK sets these on every function; local mode sets them before importing the handlers.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from layer0 import contract

DEFAULT_API_VERSION = "v0.10.9-serverless"
LINUX_AMI_PARAMETER = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
LINUX_ARM64_AMI_PARAMETER = "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id"
WINDOWS_AMI_PARAMETER = "/aws/service/ami-windows-latest/Windows_Server-2022-English-Full-ECS_Optimized/image_id"


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    prefix: str
    region: str
    api_version: str
    tag_table: str
    job_table: str
    idempotency_table: str
    auth_secret_id: str
    vpc_id: str
    public_subnets: tuple[str, ...]
    private_subnets: tuple[str, ...]
    s3_bucket: str
    ecs_instance_profile: str
    log_group: str
    # `arn:aws:states:<region>:<account>:stateMachine:l0-<prefix>-job-`: a job type's machine is this + its slug.
    job_state_machine_prefix: str
    # Environments (docs/compatibility.md#environments): the public SSM parameters that name the current ECS-optimised
    # AMIs,
    # and an optional EC2 key pair for the instances.
    linux_ami_parameter: str
    windows_ami_parameter: str
    ssh_key_pair: str
    # Debounced scaler runs (EventBridge Scheduler one-time schedules): the scaler function and the role
    # Scheduler invokes it with. Empty: `scaler.request_run` does nothing.
    scaler_function_arn: str
    scaler_schedule_role_arn: str
    # The AWS client layer (docs/architecture.md#the-client-layer): per service and per process. None: each
    # service's own, from its AWS quota (layer0/aws.py, ACCOUNT_QUOTAS); set, the same for every service.
    aws_rate: float | None
    aws_burst: int | None
    aws_max_attempts: int
    aws_connect_timeout: float
    aws_read_timeout: float
    # Fault injection (issue 6): the share (0..1) of AWS calls the client layer answers with a throttling error
    # or an HTTP 500 instead of sending them, and the seed of its choices (None: unseeded). 0 in production.
    fault_rate: float = 0.0
    fault_seed: int | None = None
    # `strict` refuses Dockerruns that let a container reach its host (docs/compatibility.md#container-policy).
    container_policy: str = contract.CONTAINER_POLICY_PERMISSIVE
    # Instance metadata (README.md#instance-metadata): the IMDSv2 PUT response hop limit of the environments' launch
    # templates. 1 keeps containers in bridge mode from the instance role's credentials; 2 lets them reach it.
    imds_hop_limit: int = 1
    # The share (0..1) of those faults that come after AWS did the work: the call is sent, its answer lost (an
    # HTTP 500 or a dropped connection), and botocore's retries send it again (layer0/aws.py, FaultInjector).
    fault_after: float = 0.0
    # How long a finished task stays listed, with its exit codes, before its read-model row expires by DynamoDB TTL
    # (docs/compatibility.md#tasks; `-c task_retention_hours`).
    task_retention_hours: float = 24.0
    # How many containers may call AWS at once, sharing each service's account quota (docs/operations.md#pacing):
    # the API's and the events function's reserved concurrency plus the steps and the scaler. CDK sets it from
    # `api_concurrency` and `events_concurrency`.
    aws_containers: int = 14
    # The public SSM parameter of the current arm64 ECS-optimised AMI, for Graviton instance types
    # (docs/compatibility.md#graviton-arm64).
    linux_arm64_ami_parameter: str = LINUX_ARM64_AMI_PARAMETER

    @property
    def aws_name_prefix(self) -> str:
        """`l0-<prefix>-`, the prefix of every AWS resource name Layer0 owns (docs/compatibility.md#ids)."""
        return f"l0-{self.prefix}-"


def from_environment(env: dict[str, str] | os._Environ = os.environ) -> Settings:
    prefix = env.get("LAYER0_PREFIX", "l0")
    name = f"l0-{prefix}"
    return Settings(
        prefix=prefix,
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-west-2",
        api_version=env.get("LAYER0_API_VERSION", DEFAULT_API_VERSION),
        tag_table=env.get("LAYER0_AWS_DYNAMO_TAG_TABLE", f"{name}-tags"),
        job_table=env.get("LAYER0_AWS_DYNAMO_JOB_TABLE", f"{name}-jobs"),
        idempotency_table=env.get("LAYER0_IDEMPOTENCY_TABLE", f"{name}-idempotency"),
        auth_secret_id=env.get("LAYER0_AUTH_SECRET_ID", f"{name}-auth"),
        vpc_id=env.get("LAYER0_AWS_VPC_ID", ""),
        public_subnets=_csv(env.get("LAYER0_AWS_PUBLIC_SUBNETS", "")),
        private_subnets=_csv(env.get("LAYER0_AWS_PRIVATE_SUBNETS", "")),
        s3_bucket=env.get("LAYER0_AWS_S3_BUCKET", ""),
        ecs_instance_profile=env.get("LAYER0_AWS_ECS_INSTANCE_PROFILE", ""),
        log_group=env.get("LAYER0_LOG_GROUP", name),
        job_state_machine_prefix=env.get("LAYER0_JOB_STATE_MACHINE_PREFIX", ""),
        linux_ami_parameter=env.get("LAYER0_LINUX_AMI_PARAMETER", LINUX_AMI_PARAMETER),
        windows_ami_parameter=env.get("LAYER0_WINDOWS_AMI_PARAMETER", WINDOWS_AMI_PARAMETER),
        ssh_key_pair=env.get("LAYER0_AWS_SSH_KEY_PAIR", ""),
        scaler_function_arn=env.get("LAYER0_SCALER_FUNCTION_ARN", ""),
        scaler_schedule_role_arn=env.get("LAYER0_SCALER_SCHEDULE_ROLE_ARN", ""),
        aws_rate=float(env["LAYER0_AWS_RATE"]) if env.get("LAYER0_AWS_RATE", "").strip() else None,
        aws_burst=int(env["LAYER0_AWS_BURST"]) if env.get("LAYER0_AWS_BURST", "").strip() else None,
        aws_max_attempts=int(env.get("LAYER0_AWS_MAX_ATTEMPTS", "5")),
        aws_connect_timeout=float(env.get("LAYER0_AWS_CONNECT_TIMEOUT", "3")),
        aws_read_timeout=float(env.get("LAYER0_AWS_READ_TIMEOUT", "10")),
        fault_rate=_fault_rate(env.get("LAYER0_FAULT_RATE", "0")),
        fault_seed=int(env["LAYER0_FAULT_SEED"]) if env.get("LAYER0_FAULT_SEED", "").strip() else None,
        container_policy=_container_policy(env.get("LAYER0_CONTAINER_POLICY", "")),
        imds_hop_limit=_imds_hop_limit(env.get("LAYER0_IMDS_HOP_LIMIT", "1")),
        fault_after=_share("LAYER0_FAULT_AFTER", env.get("LAYER0_FAULT_AFTER", "0")),
        task_retention_hours=_task_retention_hours(env.get("LAYER0_TASK_RETENTION_HOURS", "24")),
        aws_containers=_positive("LAYER0_AWS_CONTAINERS", env.get("LAYER0_AWS_CONTAINERS", str(AWS_CONTAINERS))),
        linux_arm64_ami_parameter=env.get("LAYER0_LINUX_ARM64_AMI_PARAMETER", LINUX_ARM64_AMI_PARAMETER),
    )


def _share(name: str, value: str) -> float:
    share = float(value)
    if not 0 <= share <= 1:
        raise ValueError(f"{name} must be between 0 and 1, not {value!r}")
    return share


def _fault_rate(value: str) -> float:
    return _share("LAYER0_FAULT_RATE", value)


def _container_policy(value: str) -> str:
    return contract.container_policy(value, "LAYER0_CONTAINER_POLICY")


def _imds_hop_limit(value: str) -> int:
    limit = int(value)
    if limit not in contract.IMDS_HOP_LIMITS:
        raise ValueError(f"LAYER0_IMDS_HOP_LIMIT must be 1 or 2, not {value!r}")
    return limit


def _task_retention_hours(value: str) -> float:
    hours = float(value)
    if hours <= 0:
        raise ValueError(f"LAYER0_TASK_RETENTION_HOURS must be more than 0, not {value!r}")
    return hours


@functools.cache
def get() -> Settings:
    """The process's settings. Tests that change the environment call `get.cache_clear()`."""
    return from_environment()


# The default of `aws_containers`: the API's default reserved concurrency (10), the events function's (2), plus one
# container for the job steps and one for the scaler (docs/operations.md#pacing).
AWS_CONTAINERS = 14


def _positive(name: str, value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(f"{name} must be an integer >= 1, not {value!r}")
    return number
