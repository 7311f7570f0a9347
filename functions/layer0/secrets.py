"""Secrets (docs/compatibility.md#secrets): values kept in Secrets Manager as `l0/<prefix>/<name>`, and the
`secrets` of a Dockerrun's containers, which ECS injects as environment variables when a task starts.

A value goes from the request to Secrets Manager and nowhere else: no answer, log line, trace or error message
carries it (the request model holds it as a pydantic `SecretStr`). Every check runs before AWS is called.

A Dockerrun's `valueFrom` (also in a `logConfiguration`'s `secretOptions`; a `repositoryCredentials`'
`credentialsParameter` takes Secrets Manager only) may name only the instance's own secrets:
- a Layer0 secret name, resolved by DescribeSecret to the secret's full ARN (its random suffix is only known to
  Secrets Manager): a name with no secret is 400 code 1, since there is no ARN to register;
- a Secrets Manager ARN under `l0/<prefix>/`, kept as it is (ECS's `:json-key:version-stage:version-id` suffix
  included): one that does not exist registers, and the task fails to start with ECS's reason, as on AWS;
- an SSM parameter ARN, or a name, under `/l0/<prefix>/`; a name becomes the parameter's ARN.
A deploy with any of these runs with the instance's task execution role, the only role allowed to read them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from botocore.exceptions import ClientError

from layer0 import aws, contract, settings
from layer0.errors import ErrorCode, Layer0Error, aws_error_code
from layer0.models import MAX_SECRET_VALUE_BYTES, SECRET_NAME_PATTERN, PutSecretRequest, Secret, rfc3339

logger = logging.getLogger(__name__)

# The shortest window Secrets Manager allows: a deleted secret can be restored for 7 days
# (docs/compatibility.md#secrets), and a POST of its name within them restores it with the new value.
RECOVERY_WINDOW_DAYS = 7

_NAME = re.compile(SECRET_NAME_PATTERN)
# What ECS accepts after a Secrets Manager or SSM prefix: a name, path, version or JSON key.
_REFERENCE_TAIL = re.compile(r"^[A-Za-z0-9_.+=@/:-]+$")


def _invalid(message: str) -> Layer0Error:
    return Layer0Error(ErrorCode.InvalidJSON, message)


def validate_name(name: str) -> None:
    if not _NAME.match(name or ""):
        raise _invalid(
            f"Secret name '{name[:140]}' is invalid: use 1 to 128 letters, digits, '_', '.' and '-'"
            if name
            else "Parameter 'secret_name' is required: 1 to 128 letters, digits, '_', '.' and '-'"
        )


def _validate_value(value: str) -> None:
    """1 byte to 64 KiB of UTF-8. The messages never quote the value."""
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate (`"\ud800"` in JSON) is no text Secrets Manager can keep
        raise _invalid("Parameter 'value' must be valid UTF-8 text") from None
    if not 0 < size <= MAX_SECRET_VALUE_BYTES:
        raise _invalid(f"Parameter 'value' must be 1 to {MAX_SECRET_VALUE_BYTES} bytes of UTF-8, not {size}")


def secret_id(name: str) -> str:
    """The Secrets Manager name of the Layer0 secret `name`: `l0/<prefix>/<name>`."""
    return contract.secret_name_prefix(settings.get().prefix) + name


def not_found(name: str) -> Layer0Error:
    return Layer0Error(ErrorCode.SecretDoesNotExist, f"Secret '{name}' does not exist")


def _model(described: dict) -> Secret:
    prefix = contract.secret_name_prefix(settings.get().prefix)
    changed = described.get("LastChangedDate") or described.get("CreatedDate")
    return Secret(
        secret_name=described["Name"].removeprefix(prefix),
        secret_arn=described["ARN"],
        last_changed=rfc3339(changed),
    )


def _describe(name: str) -> dict | None:
    """DescribeSecret of `l0/<prefix>/<name>`; None when there is none, or it is scheduled for deletion."""
    try:
        described = aws.client("secretsmanager").describe_secret(SecretId=secret_id(name))
    except ClientError as error:
        if aws_error_code(error) == "ResourceNotFoundException":
            return None
        raise
    return None if described.get("DeletedDate") else described


# --- routes ----------------------------------------------------------------------------------------------------------


def put(request: PutSecretRequest) -> Secret:
    """Create the secret, or give an existing one a new value. A create that finds the name taken (a concurrent
    POST, or one deleted within its recovery window, which is restored) puts the value instead."""
    name = request.secret_name
    validate_name(name)
    value = request.value.get_secret_value()
    _validate_value(value)
    client = aws.client("secretsmanager")
    try:
        client.create_secret(
            Name=secret_id(name),
            SecretString=value,
            KmsKeyId=contract.secrets_key_alias(settings.get().prefix),
            Description="Layer0 secret (POST /secret)",
        )
    except ClientError as error:
        # ResourceExistsException: it exists; InvalidRequestException: it is scheduled for deletion.
        if aws_error_code(error) not in ("ResourceExistsException", "InvalidRequestException"):
            raise
        described = client.describe_secret(SecretId=secret_id(name))
        if described.get("DeletedDate"):
            client.restore_secret(SecretId=secret_id(name))
        client.put_secret_value(SecretId=secret_id(name), SecretString=value)
    logger.info("Secret %s set", name)
    described = client.describe_secret(SecretId=secret_id(name))
    return _model(described)


def list_all() -> list[Secret]:
    """Every secret under `l0/<prefix>/` that is not scheduled for deletion, by name."""
    prefix = contract.secret_name_prefix(settings.get().prefix)
    paginator = aws.client("secretsmanager").get_paginator("list_secrets")
    found = [
        _model(entry)
        for page in paginator.paginate(Filters=[{"Key": "name", "Values": [prefix]}])
        for entry in page["SecretList"]
        # The filter matches prefixes of words too: keep exactly this instance's.
        if entry["Name"].startswith(prefix) and not entry.get("DeletedDate")
    ]
    return sorted(found, key=lambda secret: secret.secret_name)


def delete(name: str) -> None:
    """DeleteSecret with a recovery window of RECOVERY_WINDOW_DAYS; 404 code 32 when there is no such secret."""
    validate_name(name)
    if _describe(name) is None:
        raise not_found(name)
    try:
        # A retry whose first attempt did the work finds the secret marked deleted: that is this call's success.
        with aws.done_by_an_earlier_attempt("InvalidRequestException"):
            aws.client("secretsmanager").delete_secret(
                SecretId=secret_id(name), RecoveryWindowInDays=RECOVERY_WINDOW_DAYS
            )
    except ClientError as error:
        # Gone, or scheduled for deletion, since the describe: a concurrent DELETE.
        if aws_error_code(error) in ("ResourceNotFoundException", "InvalidRequestException"):
            raise not_found(name) from None
        raise
    logger.info("Secret %s deleted, recoverable for %d days", name, RECOVERY_WINDOW_DAYS)


# --- a Dockerrun's `secrets` -----------------------------------------------------------------------------------------


def _references(parameters: dict) -> list[tuple[str, dict, str]]:
    """(where, holder, key) of every secret reference ECS reads with the execution role: each `secrets` and
    `logConfiguration.secretOptions` entry's `valueFrom`, and a private registry's
    `repositoryCredentials.credentialsParameter` (a Secrets Manager secret only)."""
    found = []
    for i, container in enumerate(parameters.get("containerDefinitions") or []):
        for j, reference in enumerate(container.get("secrets") or []):
            found.append((f"containerDefinitions[{i}].secrets[{j}].valueFrom", reference, "valueFrom"))
        for j, reference in enumerate((container.get("logConfiguration") or {}).get("secretOptions") or []):
            where = f"containerDefinitions[{i}].logConfiguration.secretOptions[{j}].valueFrom"
            found.append((where, reference, "valueFrom"))
        if container.get("repositoryCredentials"):
            where = f"containerDefinitions[{i}].repositoryCredentials.credentialsParameter"
            found.append((where, container["repositoryCredentials"], "credentialsParameter"))
    return found


def _resolve(value_from: str, where: str, partition: str, account: str, parameters: bool = True) -> str:
    """The ARN a `valueFrom` registers as; 400 code 1 for anything outside the instance's scope. `parameters`:
    whether SSM parameters may be named too."""
    current = settings.get()
    if _NAME.match(value_from):  # a Layer0 secret name: it has no `:` or `/`
        described = _describe(value_from)
        if described is None:
            raise _invalid(
                f"{where}.valueFrom: secret '{value_from}' does not exist: create it first with POST /secret"
            )
        return str(described["ARN"])
    secrets_arn = f"arn:{partition}:secretsmanager:{current.region}:{account}:secret:"
    parameters_arn = f"arn:{partition}:ssm:{current.region}:{account}:parameter"
    secret_prefix = contract.secret_name_prefix(current.prefix)
    path = contract.parameter_path(current.prefix)
    starts = (
        (secrets_arn + secret_prefix, parameters_arn + path, path) if parameters else (secrets_arn + secret_prefix,)
    )
    for start in starts:
        if value_from.startswith(start) and _REFERENCE_TAIL.match(value_from.removeprefix(start)):
            return parameters_arn + value_from if start == path else value_from
    ssm = f", or an SSM parameter {path}... (or its ARN {parameters_arn}{path}...)" if parameters else ""
    raise _invalid(
        f"{where} '{value_from[:300]}' is not one of this Layer0 instance's secrets: use a secret name "
        f"(POST /secret) or a Secrets Manager ARN {secrets_arn}{secret_prefix}...{ssm}"
    )


def apply(parameters: dict, partition_and_account: Callable[[], tuple[str, str]]) -> None:
    """Check and resolve the RegisterTaskDefinition parameters' secret references in place; when there is any,
    give the task definition the instance's task execution role, which ECS reads them with. Calls AWS only when
    there are references (the account, and DescribeSecret of names)."""
    _refuse_execution_role_as_task_role(parameters)
    references = _references(parameters)
    if not references:
        return
    partition, account = partition_and_account()
    for where, holder, key in references:
        holder[key] = _resolve(str(holder.get(key) or ""), where, partition, account, key == "valueFrom")
    parameters["executionRoleArn"] = execution_role_arn(partition, account)


def _refuse_execution_role_as_task_role(parameters: dict) -> None:
    """The execution role reads every secret of the instance: as a task role, it would give a container's code all of
    them at any time, where ECS gives it only those its deploy names, once, at start."""
    role = str(parameters.get("taskRoleArn") or "")
    name = contract.task_execution_role_name(settings.get().prefix)
    if role == name or role.endswith(f":role/{name}"):
        raise _invalid(f"taskRoleArn '{role}' is the instance's task execution role, which no container may run as")


def execution_role_arn(partition: str, account: str) -> str:
    return f"arn:{partition}:iam::{account}:role/{contract.task_execution_role_name(settings.get().prefix)}"
