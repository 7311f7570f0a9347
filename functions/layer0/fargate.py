"""What Fargate needs (docs/compatibility.md#fargate-environments): its task sizes, its capacity provider
strategies, its awsvpc network configuration, and the Fargate variant of a deploy's task definition.

Deploys are environment-independent: a Dockerrun registered by `POST /deploy` has no network mode or size for
Fargate. A service or task created in a Fargate environment runs the deploy's Fargate variant, registered then:
the deploy's containers and volumes, `requiresCompatibilities` FARGATE, `networkMode` awsvpc, a task size, each
port mapping's `hostPort` equal to its `containerPort`, and the stack's task execution role (which the awslogs
driver needs on Fargate). Its family, `l0-<prefix>-<name>--fargate-<revision>-<digest>` (layer0.ids), names the
deploy, so that services and tasks still show the deploy's id, and the digest of its parameters, so that an
unchanged variant is registered once and reused.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re

from botocore.exceptions import ClientError

from layer0 import aws, deploys, ids, secrets, settings
from layer0.errors import ErrorCode, Layer0Error, aws_error_code

FARGATE = "FARGATE"
FARGATE_SPOT = "FARGATE_SPOT"
CAPACITY_PROVIDERS = (FARGATE, FARGATE_SPOT)

# The valid Linux task sizes: CPU units -> the memory sizes (MiB) Fargate accepts with them.
SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}
# Fargate's Linux on-demand prices relative to each other (a vCPU-hour costs about nine GB-hours): "smallest"
# means cheapest.
_VCPU_PER_GB_PRICE = 9.1

_AMOUNT = re.compile(r"^\s*(?P<number>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>vcpu|gb)?\s*$", re.IGNORECASE)


def strategy(spot: bool) -> list[dict]:
    """The capacity provider strategy: FARGATE; or, with spot, FARGATE_SPOT preferred, FARGATE as a base of 1
    (one copy always on capacity that is not interrupted)."""
    if spot:
        return [
            {"capacityProvider": FARGATE, "base": 1, "weight": 0},
            {"capacityProvider": FARGATE_SPOT, "weight": 1},
        ]
    return [{"capacityProvider": FARGATE, "weight": 1}]


def network_configuration(security_group_id: str) -> dict:
    """awsvpc in the stack's private subnets, with the environment's security group, no public IP."""
    return {
        "awsvpcConfiguration": {
            "subnets": list(settings.get().private_subnets),
            "securityGroups": [security_group_id],
            "assignPublicIp": "DISABLED",
        }
    }


# --- task sizes ------------------------------------------------------------------------------------------------------


def valid_sizes_text() -> str:
    return "; ".join(
        f"cpu {cpu}: memory {', '.join(str(m) for m in memories)}" if len(memories) <= 3 else
        f"cpu {cpu}: memory {memories[0]}-{memories[-1]} in steps of {memories[1] - memories[0]}"
        for cpu, memories in SIZES.items()
    )  # fmt: skip


def _impossible(detail: str) -> Layer0Error:
    return Layer0Error(
        ErrorCode.InvalidJSON,
        f"No Fargate task size fits: {detail}. Valid combinations (CPU units, memory MiB): {valid_sizes_text()}",
    )


def _amount(value: object, field: str, unit: str) -> int:
    """A task-level `cpu` (units, or "N vCPU") or `memory` (MiB, or "N GB"), as ECS reads them."""
    match = _AMOUNT.match(str(value))
    if not match or (match["unit"] and match["unit"].lower() != unit):
        raise _impossible(f"the task's {field} '{value}' is not a number")
    number = float(match["number"])
    return int(number * 1024) if match["unit"] else int(number)


def _cost(size: tuple[int, int]) -> float:
    return size[0] / 1024 * _VCPU_PER_GB_PRICE + size[1] / 1024


def task_size(definition: dict) -> tuple[int, int]:
    """(CPU units, memory MiB): the task definition's own `cpu`/`memory` when given (a valid pair), else the
    cheapest valid size that holds the containers' sum (`cpu`; `memory`, else `memoryReservation`)."""
    containers = definition.get("containerDefinitions") or []
    cpu_needed = sum(int(c.get("cpu") or 0) for c in containers)
    memory_needed = sum(int(c.get("memory") or c.get("memoryReservation") or 0) for c in containers)
    cpu = _amount(definition["cpu"], "cpu", "vcpu") if definition.get("cpu") else None
    memory = _amount(definition["memory"], "memory", "gb") if definition.get("memory") else None
    candidates = sorted(
        (
            (c, m)
            for c, memories in SIZES.items()
            for m in memories
            if (c == cpu if cpu is not None else c >= cpu_needed)
            and (m == memory if memory is not None else m >= memory_needed)
        ),
        key=_cost,
    )
    fitting = [(c, m) for c, m in candidates if c >= cpu_needed and m >= memory_needed]
    if not fitting:
        given = ", ".join(f"{k} {v}" for k, v in (("cpu", cpu), ("memory", memory)) if v is not None)
        raise _impossible(
            f"the containers need {cpu_needed} CPU units and {memory_needed} MiB"
            + (f", the task asks for {given}" if given else "")
        )
    return fitting[0]


# --- the Fargate variant of a deploy ---------------------------------------------------------------------------------


@functools.cache
def execution_role_arn() -> str:
    """The stack's task execution role, `l0-<prefix>-task-execution` (infra/secrets.py), in this account."""
    arn = aws.client("sts").get_caller_identity()["Arn"]
    return secrets.execution_role_arn(arn.split(":")[1], arn.split(":")[4])


def _unsupported(definition: dict) -> list[str]:
    """What a task definition has that Fargate or awsvpc refuses."""
    found = []
    for i, volume in enumerate(definition.get("volumes") or []):
        if (volume.get("host") or {}).get("sourcePath"):
            found.append(f"volumes[{i}].host.sourcePath (no host paths on Fargate)")
        if volume.get("dockerVolumeConfiguration"):
            found.append(f"volumes[{i}].dockerVolumeConfiguration (no Docker volumes on Fargate)")
    for i, container in enumerate(definition.get("containerDefinitions") or []):
        for key, why in (
            ("links", "awsvpc has no links: the task's containers reach each other on localhost"),
            ("privileged", "no privileged containers on Fargate"),
            ("hostname", "awsvpc sets no hostname"),
            ("dockerSecurityOptions", "not on Fargate"),
        ):
            if container.get(key):
                found.append(f"containerDefinitions[{i}].{key} ({why})")
        if ((container.get("linuxParameters") or {}).get("devices")) or (
            ((container.get("linuxParameters") or {}).get("capabilities") or {}).get("add")
        ):
            found.append(f"containerDefinitions[{i}].linuxParameters (no devices or added capabilities on Fargate)")
    return found


def _container(container: dict) -> dict:
    """A container as awsvpc runs it: each port mapping's hostPort is its containerPort."""
    mappings = []
    for mapping in container.get("portMappings") or []:
        mapping = {key: value for key, value in mapping.items() if key != "hostPort"}
        if mapping.get("containerPort"):
            mapping["hostPort"] = mapping["containerPort"]
        mappings.append(mapping)
    return {**container, "portMappings": mappings} if "portMappings" in container else dict(container)


def variant_parameters(deploy_id: str, definition: dict) -> dict:
    """RegisterTaskDefinition's parameters for the deploy's Fargate variant, or a 400 (code 1) when the deploy
    cannot run on Fargate."""
    unsupported = _unsupported(definition)
    if unsupported:
        raise Layer0Error(
            ErrorCode.InvalidJSON, f"Deploy '{deploy_id}' cannot run on Fargate: {'; '.join(unsupported)}"
        )
    cpu, memory = task_size(definition)
    parameters: dict = {
        "containerDefinitions": [_container(c) for c in definition.get("containerDefinitions") or []],
        "requiresCompatibilities": [FARGATE],
        "networkMode": "awsvpc",
        "cpu": str(cpu),
        "memory": str(memory),
        "executionRoleArn": execution_role_arn(),
    }
    for key in ("volumes", "taskRoleArn"):
        if definition.get(key):
            parameters[key] = definition[key]
    digest = hashlib.sha256(json.dumps(parameters, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return {"family": ids.fargate_family(deploy_id, digest), **parameters}


def variant(deploy_id: str) -> tuple[str, dict]:
    """(`family:revision`, parameters) of the deploy's Fargate variant, registered unless an ACTIVE one exists
    (404 code 23 when the deploy does not exist; 400 code 1 when it cannot run on Fargate). Concurrent first uses
    may each register a revision: they are the same definition, and later uses take the newest."""
    definition = deploys.active_task_definition(deploy_id)
    parameters = variant_parameters(deploy_id, definition)
    family = parameters["family"]
    ecs = aws.client("ecs")
    try:
        found = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
        if found.get("status") == "ACTIVE":
            return f"{family}:{found['revision']}", parameters
    except ClientError as error:
        if aws_error_code(error) not in ("ClientException", "InvalidParameterException"):
            raise
    registered = ecs.register_task_definition(**parameters)["taskDefinition"]
    return f"{family}:{registered['revision']}", parameters
