"""The deployment's settings, read from CDK context (`-c key=value` or cdk.json) and validated once.

Context keys:
  prefix           Layer0 instance name; AWS names are `l0-<prefix>-...` (default "l0", ^[a-z][a-z0-9]{0,15}$)
  vpc_id           import this existing VPC instead of creating one (needs an account/region at synth time)
  api_version      the `Version` header and GET /admin/version (default: settings.DEFAULT_API_VERSION)
  aws_rate         AWS calls per second, per Lambda container, for every AWS service (default: unset, each service's
                   own from its AWS quota, docs/operations.md#pacing)
  aws_burst        token-bucket burst of that limiter, for every AWS service (default: unset, each service's own)
  api_concurrency  reserved concurrency of the API function (default 10)
  container_policy permissive (default) or strict: strict refuses Dockerruns that let a container reach its host
  imds_hop_limit   the IMDSv2 hop limit of the environments' instances: 1 (default) keeps containers in bridge mode
                   from the instance role's credentials, 2 lets them reach the instance metadata service
  task_retention_hours  how long a finished task stays listed, with its exit codes, before its read-model row
                   expires (default 24)
  events_concurrency  reserved concurrency of the read model's events function (default 2)
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layer0 import contract

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = ROOT / "functions"

PREFIX_PATTERN = re.compile(r"^[a-z][a-z0-9]{0,15}$")
VPC_ID_PATTERN = re.compile(r"^vpc-[0-9a-f]{8}([0-9a-f]{9})?$")
# The version goes into API Gateway header literals ('value'), so no quotes or spaces.
API_VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")


def _load_default_api_version() -> str:
    """DEFAULT_API_VERSION, read from functions/layer0/settings.py without importing it.

    Parsing the literal keeps CDK independent of whatever the runtime package imports.
    """
    path = FUNCTIONS_DIR / "layer0" / "settings.py"
    for node in ast.parse(path.read_text(), str(path)).body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "DEFAULT_API_VERSION" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    raise RuntimeError(f"{path} has no DEFAULT_API_VERSION = '<literal>'")


DEFAULT_API_VERSION = _load_default_api_version()


# Containers besides the API's that call AWS at once: one for the job steps, one for the scaler (the same figure as
# functions/layer0/settings.py, AWS_CONTAINERS, less the API's default reserved concurrency).
OTHER_CONTAINERS = 2


@dataclass(frozen=True)
class Throughput:
    """The AWS-rate bound of docs/operations.md#pacing, kept in one place.

    One Lambda container serves one request at a time and owns one limiter per AWS service. Each limiter's rate is
    its service's account quota divided by `aws_containers` (the API's and the events function's reserved
    concurrency, plus the steps and the scaler), so the API's aggregate AWS call rate per service stays under the
    quota. `aws_rate` / `aws_burst`, when set, replace every service's with one figure. CDK sets the reserved
    concurrency and the LAYER0_AWS_CONTAINERS, LAYER0_AWS_RATE and LAYER0_AWS_BURST variables from this object only;
    nothing else may set them.
    """

    api_concurrency: int = 10
    aws_rate: float | None = None
    aws_burst: int | None = None
    # The events function's reserved concurrency (infra/read_model.py): ECS events and the reconcile call ECS too.
    events_concurrency: int = 2

    @property
    def aws_containers(self) -> int:
        """How many containers share each service's account quota: the API's, the events function's, the steps'
        and the scaler's."""
        return self.api_concurrency + self.events_concurrency + OTHER_CONTAINERS

    @property
    def aggregate_aws_rate(self) -> float | None:
        """Upper bound of the API function's calls per second to any one AWS service, when `aws_rate` is set
        (unset, each service's bound is its quota's refill: docs/operations.md#pacing)."""
        return None if self.aws_rate is None else self.api_concurrency * self.aws_rate

    @property
    def api_throttle_rate(self) -> int:
        """API Gateway's steady-state request rate: about 5 requests/s per reserved container
        (a request that takes ~200 ms), so the gateway answers 429 before Lambda throttles."""
        return 5 * self.api_concurrency

    @property
    def api_throttle_burst(self) -> int:
        return 10 * self.api_concurrency

    def environment(self) -> dict[str, str]:
        variables = {"LAYER0_AWS_CONTAINERS": str(self.aws_containers)}
        if self.aws_rate is not None:
            variables["LAYER0_AWS_RATE"] = f"{self.aws_rate:g}"
        if self.aws_burst is not None:
            variables["LAYER0_AWS_BURST"] = str(self.aws_burst)
        return variables


@dataclass(frozen=True)
class Config:
    prefix: str = "l0"
    vpc_id: str | None = None
    api_version: str = DEFAULT_API_VERSION
    throughput: Throughput = Throughput()
    container_policy: str = contract.CONTAINER_POLICY_PERMISSIVE
    imds_hop_limit: int = 1
    task_retention_hours: float = 24.0

    @property
    def name(self) -> str:
        """`l0-<prefix>`: the stack name, the containers' log group, and the start of every AWS name."""
        return f"l0-{self.prefix}"

    def resource_name(self, suffix: str) -> str:
        """`l0-<prefix>-<suffix>` (docs/compatibility.md#ids)."""
        return f"{self.name}-{suffix}"

    @classmethod
    def from_context(cls, get: Callable[[str], Any]) -> Config:
        """Build from a context getter such as `app.node.try_get_context`."""
        defaults = cls()
        prefix = _text(get("prefix"), defaults.prefix)
        if not PREFIX_PATTERN.match(prefix):
            raise ValueError(f"context prefix={prefix!r} must match {PREFIX_PATTERN.pattern}")
        vpc_id = _text(get("vpc_id"), "") or None
        if vpc_id is not None and not VPC_ID_PATTERN.match(vpc_id):
            raise ValueError(f"context vpc_id={vpc_id!r} is not a VPC id (vpc-xxxxxxxx)")
        api_version = _text(get("api_version"), defaults.api_version)
        if not API_VERSION_PATTERN.match(api_version):
            raise ValueError(f"context api_version={api_version!r} must match {API_VERSION_PATTERN.pattern}")
        throughput = Throughput(
            api_concurrency=_number(get, "api_concurrency", defaults.throughput.api_concurrency, int, minimum=1),
            aws_rate=_number(get, "aws_rate", defaults.throughput.aws_rate, float, minimum=0.1),
            aws_burst=_number(get, "aws_burst", defaults.throughput.aws_burst, int, minimum=1),
            events_concurrency=_number(
                get, "events_concurrency", defaults.throughput.events_concurrency, int, minimum=1
            ),
        )
        container_policy = contract.container_policy(_text(get("container_policy"), ""), "context container_policy")
        imds_hop_limit = _number(get, "imds_hop_limit", defaults.imds_hop_limit, int, minimum=1)
        if imds_hop_limit not in contract.IMDS_HOP_LIMITS:
            raise ValueError(f"context imds_hop_limit={imds_hop_limit} must be 1 or 2")
        return cls(
            prefix=prefix,
            vpc_id=vpc_id,
            api_version=api_version,
            throughput=throughput,
            container_policy=container_policy,
            imds_hop_limit=imds_hop_limit,
            task_retention_hours=_number(
                get, "task_retention_hours", defaults.task_retention_hours, float, minimum=0.01
            ),
        )


def _text(value: Any, default: str) -> str:
    if value is None:
        return default
    return str(value).strip()


def _number(get: Callable[[str], Any], key: str, default: Any, kind: type, *, minimum: float) -> Any:
    raw = get(key)
    if raw is None or raw == "":
        return default
    try:
        value = kind(float(raw)) if kind is float else kind(str(raw).strip())
    except (TypeError, ValueError):
        raise ValueError(f"context {key}={raw!r} is not a valid {kind.__name__}") from None
    if value < minimum:
        raise ValueError(f"context {key}={raw!r} must be at least {minimum}")
    return value
