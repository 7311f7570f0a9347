"""What the ECS agent does with a task definition's secrets when a task starts, for local mode
(docs/architecture.md#local-mode, docs/compatibility.md#secrets).

On AWS the agent reads every `valueFrom` (a container's `secrets`, its `logConfiguration.secretOptions`, and its
private registry's `repositoryCredentials.credentialsParameter`) with the
task execution role before any container starts; one it cannot read stops the task, stop code TaskFailedToStart,
with a `ResourceInitializationError`. The simulation checks that each secret or parameter exists (DescribeSecret,
GetParameters: it never reads a value) and fails the task with ECS's words when one does not. Containers that start
log the names of the secrets they received, never a value (the simulation never holds one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

__all__ = ["RESOURCE_INITIALIZATION_ERROR", "failure", "log_lines"]

RESOURCE_INITIALIZATION_ERROR = (
    "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "
)
_ASM = "unable to retrieve secret from asm: service call has been retried 1 time(s): "
_SSM = "unable to retrieve secrets from ssm: service call has been retried 1 time(s): "
_NOT_FOUND = "ResourceNotFoundException: Secrets Manager can't find the specified secret."
_MARKED_FOR_DELETION = (
    "InvalidRequestException: You can't perform this operation on the secret because it was marked for deletion."
)


def _references(definition: dict) -> list[dict]:
    options = (definition.get("logConfiguration") or {}).get("secretOptions") or []
    registry = (definition.get("repositoryCredentials") or {}).get("credentialsParameter")
    return [*(definition.get("secrets") or []), *options, *([{"valueFrom": registry}] if registry else [])]


def _secret_failure(client: Callable[[str], Any], value_from: str) -> str | None:
    """Why the agent could not read a Secrets Manager `valueFrom`, or None. ECS's `:json-key:stage:version` suffix is
    not part of the secret's id; an ARN without the random suffix (a partial ARN) names the secret by its name."""
    arn = ":".join(value_from.split(":")[:7])
    secretsmanager = client("secretsmanager")
    described = None
    for secret_id in (arn, arn.split(":secret:", 1)[-1]):
        try:
            described = secretsmanager.describe_secret(SecretId=secret_id)
            break
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
    if described is None:
        reason = _NOT_FOUND
    elif described.get("DeletedDate"):
        reason = _MARKED_FOR_DELETION
    else:
        return None
    return f"{RESOURCE_INITIALIZATION_ERROR}{_ASM}failed to fetch secret {value_from} from secrets manager: {reason}"


def _parameter_failure(client: Callable[[str], Any], value_from: str) -> str | None:
    name = value_from.split(":parameter", 1)[1] if value_from.startswith("arn:") else value_from
    if not client("ssm").get_parameters(Names=[name])["InvalidParameters"]:
        return None
    return f"{RESOURCE_INITIALIZATION_ERROR}{_SSM}invalid parameters: {name}"


def failure(client: Callable[[str], Any], definitions: list[dict]) -> str | None:
    """The task's stopped reason when one of its containers' secrets cannot be read, else None."""
    for definition in definitions:
        for reference in _references(definition):
            value_from = str(reference.get("valueFrom") or "")
            is_parameter = value_from.startswith("/") or value_from.split(":")[2:3] == ["ssm"]
            reason = (_parameter_failure if is_parameter else _secret_failure)(client, value_from)
            if reason:
                return reason
    return None


def log_lines(definition: dict) -> list[str]:
    """The line a starting container logs about its secrets: their environment variables' names only."""
    names = [str(secret.get("name")) for secret in definition.get("secrets") or []]
    return [f"Secrets: {', '.join(names)} (values not shown)"] if names else []
