"""Deploys (docs/compatibility.md#deploys): a Dockerrun document registered as the ECS task definition
`l0-<prefix>-<name>:<revision>`.

A deploy's id is `<name>.<revision>`, so every revision of a name is a deploy of its own. Tags (entity type
`deploy`): `name` and `version` (the revision), which `GET /tag?type=deploy&fuzz=<name>&version=latest` uses to
resolve `NAME:latest`.

A Dockerrun is read the way Layer0's Go decoder read it into the AWS SDK's structures: keys match
case-insensitively at every level, unknown keys are ignored, and only `containerDefinitions`, `volumes`,
`family`, `networkMode`, `taskRoleArn` and `placementConstraints` are used at the top, and the task-level `cpu` and
`memory` (the task size in a Fargate environment, docs/compatibility.md#fargate-environments). The ECS fields come from
botocore's model of RegisterTaskDefinition, so every field ECS knows works, whatever its case, and is type-checked
against that model; the container fields ECS limits further and local mode simulates (`healthCheck`,
`restartPolicy`, `dependsOn`) are checked as ECS checks them (docs/compatibility.md#container-definitions).

Before anything is registered, the instance's limits apply: `taskRoleArn` must be one of its own roles
(docs/compatibility.md#task-roles), and under the strict container policy nothing may reach the host
(docs/compatibility.md#container-policy).
"""

from __future__ import annotations

import fnmatch
import functools
import json
import logging
import re
from collections.abc import Callable
from typing import Any

import botocore.session
from botocore.exceptions import ClientError
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape
from botocore.validate import ParamValidator

from layer0 import aws, contract, ids, secrets, settings
from layer0.errors import ErrorCode, Layer0Error, aws_error_code, aws_error_message, missing_parameter
from layer0.models import CreateDeployRequest, Deploy, DeploySummary, Tag
from layer0.stores import rows as row_store
from layer0.stores import tags as tag_store

logger = logging.getLogger(__name__)

ENTITY_TYPE = "deploy"
ROW_KIND = "deploy"  # its rows in the read model (layer0.stores.rows)
LOG_STREAM_PREFIX = "l0"

# The Dockerrun's top-level keys that reach RegisterTaskDefinition (docs/compatibility.md#deploys); others
# (AWSEBDockerrunVersion...)
# are ignored. `family` is only checked: the family is always `l0-<prefix>-<name>`.
DOCKERRUN_KEYS = (
    "containerDefinitions",
    "volumes",
    "family",
    "networkMode",
    "taskRoleArn",
    "placementConstraints",
    "cpu",
    "memory",
)

# ECS family names: letters, digits, `_` and `-` (and `.` is the id's separator, docs/compatibility.md#ids).
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_DEPLOY_ID = re.compile(r"^(?P<name>[A-Za-z0-9_-]+)(?:\.(?P<revision>[0-9]+))?$")
# ECS answers bad input with these; anything else (throttling, access) keeps its own translation.
_BAD_INPUT_CODES = ("ClientException", "InvalidParameterException")


class DecodeError(ValueError):
    """The Dockerrun is not one Layer0 can read."""


def not_found(deploy_id: str) -> Layer0Error:
    return Layer0Error(ErrorCode.DeployDoesNotExist, f"Deploy with id '{deploy_id}' does not exist")


# --- botocore's model of ECS ---------------------------------------------------------------------------------------


@functools.cache
def _operation(name: str) -> OperationModel:
    # The model only: no client, no credentials (parsing is pure).
    return botocore.session.get_session().get_service_model("ecs").operation_model(name)


def _structure(shape: Shape | None) -> StructureShape:
    if not isinstance(shape, StructureShape):
        raise TypeError(f"botocore's ECS model: expected a structure, not {shape!r}")
    return shape


def _register_shape() -> StructureShape:
    return _structure(_operation("RegisterTaskDefinition").input_shape)


def _task_definition_shape() -> StructureShape:
    return _structure(_structure(_operation("DescribeTaskDefinition").output_shape).members["taskDefinition"])


def _by_lower_name(shape: StructureShape) -> dict[str, tuple[str, Shape]]:
    return {name.lower(): (name, member) for name, member in shape.members.items()}


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(type(value), "a number")


def _to_shape(value: Any, shape: Shape, path: str) -> Any:
    """`value` with its keys renamed to the shape's member names, matched case-insensitively, recursively.

    Unknown keys and nulls are dropped (Go leaves such fields unset). Scalars are left for botocore's validator.
    """
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            raise DecodeError(f"{path} must be an object, not {_kind(value)}")
        members = _by_lower_name(shape)
        converted = {}
        for key, item in value.items():
            found = members.get(key.lower())
            if found is None or item is None:
                continue
            name, member = found
            converted[name] = _to_shape(item, member, f"{path}.{name}")
        return converted
    if isinstance(shape, ListShape):
        if not isinstance(value, list):
            raise DecodeError(f"{path} must be an array, not {_kind(value)}")
        return [_to_shape(item, shape.member, f"{path}[{i}]") for i, item in enumerate(value) if item is not None]
    if isinstance(shape, MapShape):
        if not isinstance(value, dict):
            raise DecodeError(f"{path} must be an object, not {_kind(value)}")
        return {key: _to_shape(item, shape.value, f"{path}.{key}") for key, item in value.items() if item is not None}
    if shape.type_name in ("integer", "long") and isinstance(value, bool):
        # botocore's validator takes a bool for an int (Python's bool is one); Go's decoder did not.
        raise DecodeError(f"{path} must be a number, not a boolean")
    return value


def _to_go_fields(value: Any, shape: Shape) -> Any:
    """What ECS returned, as Layer0's Go SDK structures marshalled it: PascalCase fields, every unset one null."""
    if value is None:
        return None
    if isinstance(shape, StructureShape):
        members = shape.members.items()
        return {name[:1].upper() + name[1:]: _to_go_fields(value.get(name), member) for name, member in members}
    if isinstance(shape, ListShape):
        return [_to_go_fields(item, shape.member) for item in value]
    if isinstance(shape, MapShape):
        return {key: _to_go_fields(item, shape.value) for key, item in value.items()}
    if shape.type_name == "timestamp" and hasattr(value, "isoformat"):
        return value.isoformat()
    return value


# --- parsing ---------------------------------------------------------------------------------------------------------


def _awslogs() -> dict:
    current = settings.get()
    return {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": current.log_group,
            "awslogs-region": current.region,
            "awslogs-stream-prefix": LOG_STREAM_PREFIX,
        },
    }


def parse(deploy_name: str, dockerrun: bytes) -> dict:
    """The RegisterTaskDefinition parameters for a Dockerrun, or a 400 (docs/compatibility.md#deploys). Calls nothing in
    AWS."""
    try:
        document = json.loads(dockerrun.decode("utf-8"))
        if not isinstance(document, dict):
            raise DecodeError(f"the document must be a JSON object, not {_kind(document)}")
        members = _by_lower_name(_register_shape())
        wanted = {key.lower() for key in DOCKERRUN_KEYS}
        fields: dict[str, Any] = {}
        for key, value in document.items():
            if key.lower() not in wanted or value is None:
                continue
            name, member = members[key.lower()]
            fields[name] = _to_shape(value, member, name)
    except (UnicodeDecodeError, ValueError) as error:  # json.JSONDecodeError and DecodeError are ValueErrors
        raise Layer0Error(ErrorCode.InvalidJSON, f"Failed to decode deploy: {error}") from None

    family = ids.aws_name(deploy_name)
    if fields.pop("family", "") not in ("", family):
        raise Layer0Error(ErrorCode.InvalidJSON, "Custom family names are currently unsupported in Layer0")
    containers = fields.get("containerDefinitions") or []
    if not containers:
        raise Layer0Error(ErrorCode.InvalidJSON, "Deploy must have at least one container definition")
    for container in containers:
        container.setdefault("logConfiguration", _awslogs())
    parameters = {"family": family, **fields}

    report = ParamValidator().validate(parameters, _register_shape())
    if report.has_errors():
        raise Layer0Error(ErrorCode.InvalidJSON, f"Failed to decode deploy: {report.generate_report()}")
    _check_container_rules(parameters["containerDefinitions"])
    return parameters


# --- what ECS refuses in a container definition, and the local simulation relies on --------------------------------

# ECS's documented limits (botocore's model carries none): seconds, or counts.
_HEALTH_CHECK_LIMITS = {"interval": (5, 300), "timeout": (2, 60), "retries": (1, 10), "startPeriod": (0, 300)}
_RESTART_ATTEMPT_PERIOD = (60, 1800)
_IGNORED_EXIT_CODES_MAX = 50
_CONDITIONS = ("START", "COMPLETE", "SUCCESS", "HEALTHY")


def _check_container_rules(containers: list[dict]) -> None:
    """Refuse, with 400/1 naming the field, what ECS refuses in `healthCheck`, `restartPolicy` and `dependsOn`
    (docs/compatibility.md#container-definitions): so a deploy that AWS would refuse is refused in local mode too,
    where moto takes anything, and before AWS is called."""
    by_name = {container.get("name"): container for container in containers}
    for i, container in enumerate(containers):
        path = f"containerDefinitions[{i}]"
        health_check = container.get("healthCheck")
        if health_check is not None:
            command = health_check.get("command") or []
            if not command or command[0] not in ("CMD", "CMD-SHELL"):
                raise _invalid(f"{path}.healthCheck.command must start with CMD or CMD-SHELL")
            for field, (low, high) in _HEALTH_CHECK_LIMITS.items():
                _check_range(health_check.get(field), low, high, f"{path}.healthCheck.{field}")
        restart_policy = container.get("restartPolicy")
        if restart_policy is not None:
            low, high = _RESTART_ATTEMPT_PERIOD
            _check_range(
                restart_policy.get("restartAttemptPeriod"), low, high, f"{path}.restartPolicy.restartAttemptPeriod"
            )
            if len(restart_policy.get("ignoredExitCodes") or []) > _IGNORED_EXIT_CODES_MAX:
                raise _invalid(
                    f"{path}.restartPolicy.ignoredExitCodes may list at most {_IGNORED_EXIT_CODES_MAX} codes"
                )
        for j, dependency in enumerate(container.get("dependsOn") or []):
            where = f"{path}.dependsOn[{j}]"
            target = by_name.get(dependency.get("containerName"))
            if target is None or target is container:
                raise _invalid(f"{where}.containerName must name another container of the deploy")
            condition = dependency.get("condition")
            if condition not in _CONDITIONS:
                raise _invalid(f"{where}.condition must be one of {', '.join(_CONDITIONS)}")
            if condition in ("COMPLETE", "SUCCESS") and target.get("essential", True):
                raise _invalid(f"{where}: a {condition} dependency must be on a container that is not essential")
            if condition == "HEALTHY" and not target.get("healthCheck"):
                raise _invalid(f"{where}: a HEALTHY dependency must be on a container with a healthCheck")
    _check_no_dependency_cycle(containers)


def _invalid(message: str) -> Layer0Error:
    return Layer0Error(ErrorCode.InvalidJSON, f"Invalid deploy: {message}")


def _check_range(value: int | None, low: int, high: int, path: str) -> None:
    if value is not None and not low <= value <= high:
        raise _invalid(f"{path} must be between {low} and {high}")


def _check_no_dependency_cycle(containers: list[dict]) -> None:
    """ECS refuses containers that wait for each other: none of them could ever start."""
    waits_for = {str(c.get("name")): [d["containerName"] for d in c.get("dependsOn") or []] for c in containers}
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = " -> ".join([*path[path.index(name) :], name])
            raise _invalid(f"containerDefinitions: the containers' dependsOn make a cycle ({cycle})")
        if name in done:
            return
        for other in waits_for.get(name, []):
            visit(other, [*path, name])
        done.add(name)

    for name in waits_for:
        visit(name, [])


def _validate_name(name: str) -> None:
    if not name:
        raise missing_parameter("deploy_name")
    if "." in name:
        raise Layer0Error(ErrorCode.InvalidDeployID, "Deploy names cannot contain '.'")
    if ids.is_fargate_family(ids.aws_name(name)):
        # The families of Fargate variants (layer0.fargate) look like this; a deploy may not take one.
        raise Layer0Error(
            ErrorCode.InvalidDeployName, f"Deploy name '{name}' is reserved for Fargate variants", status=400
        )
    if not _NAME.match(name):
        # The original passed such names to ECS and answered 500; they are the caller's to fix.
        raise Layer0Error(
            ErrorCode.InvalidDeployName,
            f"Deploy name '{name}' is invalid: use letters, digits, '_' and '-' only",
            status=400,
        )


# --- what this instance lets a Dockerrun do ------------------------------------------------------------------------


def host_access(parameters: dict) -> list[str]:
    """The fields of RegisterTaskDefinition parameters that let a container reach its host
    (docs/compatibility.md#container-policy): host networking, host-path volumes (also as a Docker volume's
    `device`), privileged mode, added Linux capabilities and host devices."""
    found = []
    if str(parameters.get("networkMode", "")).lower() == "host":
        found.append("networkMode: host")
    for i, volume in enumerate(parameters.get("volumes") or []):
        if (volume.get("host") or {}).get("sourcePath"):
            found.append(f"volumes[{i}].host.sourcePath")
        # Docker's `local` driver mounts any host path or device named by its `device` option.
        if "device" in ((volume.get("dockerVolumeConfiguration") or {}).get("driverOpts") or {}):
            found.append(f"volumes[{i}].dockerVolumeConfiguration.driverOpts.device")
    for i, container in enumerate(parameters.get("containerDefinitions") or []):
        if container.get("privileged"):
            found.append(f"containerDefinitions[{i}].privileged")
        linux = container.get("linuxParameters") or {}
        if (linux.get("capabilities") or {}).get("add"):
            found.append(f"containerDefinitions[{i}].linuxParameters.capabilities.add")
        if linux.get("devices"):
            found.append(f"containerDefinitions[{i}].linuxParameters.devices")
    return found


def _check_container_policy(parameters: dict) -> None:
    if settings.get().container_policy != contract.CONTAINER_POLICY_STRICT:
        return
    found = host_access(parameters)
    if found:
        raise Layer0Error(
            ErrorCode.InvalidJSON,
            f"This Layer0 instance's container policy is strict: a deploy may not reach its host ({', '.join(found)})",
        )


@functools.cache
def _partition_and_account() -> tuple[str, str]:
    """The partition and account the functions run in (STS GetCallerIdentity, which no policy can deny)."""
    arn = aws.client("sts").get_caller_identity()["Arn"]
    return arn.split(":")[1], arn.split(":")[4]


def _check_task_role(parameters: dict) -> None:
    """A `taskRoleArn` must be one of the instance's own roles (docs/compatibility.md#task-roles): a role of this
    account named `l0-<prefix>-*` or under the path `/layer0/l0-<prefix>/`. ECS also takes a role's bare name,
    which means a role at the root path: the name must then start with `l0-<prefix>-`."""
    role = parameters.get("taskRoleArn")
    if not role:
        return
    partition, account = _partition_and_account()
    resources = contract.passable_role_resources(settings.get().prefix)
    if role.startswith("arn:"):
        arn = role
    elif "/" not in role:
        arn = f"arn:{partition}:iam::{account}:role/{role}"
    else:
        arn = ""
    if not any(fnmatch.fnmatchcase(arn, f"arn:{partition}:iam::{account}:{resource}") for resource in resources):
        allowed = " or ".join(f"arn:{partition}:iam::<this account>:{resource}" for resource in resources)
        raise Layer0Error(
            ErrorCode.InvalidJSON, f"taskRoleArn '{role}' is not a role this Layer0 instance may pass: use {allowed}"
        )


# --- the model -------------------------------------------------------------------------------------------------------


def dockerrun_of(task_definition_: dict) -> bytes:
    """The re-serialized Dockerrun of a registered task definition (docs/compatibility.md#deploys): top-level
    lower-camel keys,
    empty ones omitted; containers, volumes and placement constraints with the Go SDK's field names."""
    shape = _task_definition_shape()
    document: dict[str, Any] = {}
    for key in DOCKERRUN_KEYS:
        value = task_definition_.get(key)
        if not value:
            continue
        member = shape.members[key]
        document[key] = value if member.type_name == "string" else _to_go_fields(value, member)
    return json.dumps(document).encode()


def _parts(deploy_id: str) -> tuple[str, str]:
    name, _, revision = deploy_id.rpartition(".")
    return (name, revision) if name else (deploy_id, "")


def _model(task_definition_: dict, tags: dict[str, str]) -> Deploy:
    deploy_id = ids.deploy_id(task_definition_["taskDefinitionArn"])
    name, revision = _parts(deploy_id)
    return Deploy(
        dockerrun=dockerrun_of(task_definition_),
        deploy_id=deploy_id,
        deploy_name=tags.get("name") or name,
        version=tags.get("version") or revision,
    )


def _tag_values(deploy_id: str) -> dict[str, str]:
    return {t.key: t.value for t in tag_store.select_by_type_and_id(ENTITY_TYPE, deploy_id)}


# --- what other modules call -----------------------------------------------------------------------------------------


def task_definition(deploy_id: str) -> dict:
    """The deploy's ECS task definition (DescribeTaskDefinition's `taskDefinition`), ACTIVE or INACTIVE (a service
    may still run a deleted deploy); 404 with code 23 when ECS has none. A missing revision reads as 1."""
    if not _DEPLOY_ID.match(deploy_id) or ids.is_fargate_family(ids.aws_name(deploy_id.partition(".")[0])):
        # Not a deploy id at all (and ECS, or moto, could choke on it), or a Fargate variant: nothing to ask.
        raise not_found(deploy_id)
    try:
        return aws.client("ecs").describe_task_definition(taskDefinition=ids.task_definition(deploy_id))[
            "taskDefinition"
        ]
    except ClientError as error:
        if aws_error_code(error) in _BAD_INPUT_CODES:
            raise not_found(deploy_id) from None
        raise


def active_task_definition(deploy_id: str) -> dict:
    """The deploy's task definition, for a new service, deployment or task; 404 with code 23 when there is none, or
    when it was deleted: ECS starts nothing new on an INACTIVE task definition."""
    found = task_definition(deploy_id)
    if found.get("status") == "INACTIVE":
        raise not_found(deploy_id)
    return found


# --- routes ----------------------------------------------------------------------------------------------------------


def create(request: CreateDeployRequest) -> Deploy:
    """RegisterTaskDefinition, then the `name` and `version` tags; a failure after the register deregisters it."""
    name = request.deploy_name
    _validate_name(name)
    parameters = parse(name, request.dockerrun)
    _check_container_policy(parameters)
    _check_task_role(parameters)
    secrets.apply(parameters, _partition_and_account)  # docs/compatibility.md#secrets
    ecs = aws.client("ecs")
    try:
        registered = _register(parameters)
    except ClientError as error:
        if aws_error_code(error) in _BAD_INPUT_CODES:
            raise Layer0Error(ErrorCode.InvalidJSON, f"Invalid deploy: {aws_error_message(error)}") from None
        raise
    deploy_id = ids.deploy_id(registered["taskDefinitionArn"])
    version = str(registered["revision"])
    tags = {"name": name, "version": version}
    try:
        # A new revision has no tags: one conditional put. Tags left by an adopted instance get overwritten.
        if not tag_store.claim(ENTITY_TYPE, deploy_id, tags):
            for key, value in tags.items():
                tag_store.insert(Tag(entity_type=ENTITY_TYPE, entity_id=deploy_id, key=key, value=value))
        write_row(deploy_id, name, version)
    except Exception:
        logger.exception("Tagging deploy %s failed: deregistering it", deploy_id)
        row_store.delete(ROW_KIND, deploy_id)
        try:
            ecs.deregister_task_definition(taskDefinition=registered["taskDefinitionArn"])
        except ClientError:
            logger.exception("Deregistering %s failed", deploy_id)
        raise
    return _model(registered, tags)


# What two registrations of one Dockerrun differ in.
_REGISTRATION_FIELDS = ("taskDefinitionArn", "revision", "registeredAt", "registeredBy", "status", "deregisteredAt")


def _register(parameters: dict) -> dict:
    """RegisterTaskDefinition, once. It has no client token: an attempt whose answer was lost registered a
    revision too, one of the `RetryAttempts` revisions just before the answer's. Those with this very definition
    and no deploy tags (no deploy names them) are that attempt's: they are deregistered. When every answer was
    lost, the family's newest revisions with these containers and no deploy tags are. (A concurrent create of the
    same Dockerrun that has not tagged its revision yet would look the same: a window of milliseconds.)"""
    ecs = aws.client("ecs")
    family = parameters["family"]
    try:
        response = ecs.register_task_definition(**parameters)
    except Exception as error:
        if aws.may_have_taken_effect(error):
            newest = ecs.list_task_definitions(
                familyPrefix=family, status="ACTIVE", sort="DESC", maxResults=settings.get().aws_max_attempts
            )["taskDefinitionArns"]
            wanted = _containers(parameters)
            _deregister_untagged(
                [arn for arn in newest if arn.rsplit("/", 1)[1].rsplit(":", 1)[0] == family],
                lambda described: _containers(described) == wanted,
            )
        raise
    registered = response["taskDefinition"]
    retries = int(response.get("ResponseMetadata", {}).get("RetryAttempts", 0))
    if retries:

        def definition(described: dict) -> dict:
            return {key: value for key, value in described.items() if key not in _REGISTRATION_FIELDS}

        _deregister_untagged(
            [
                f"{family}:{revision}"
                for revision in range(max(1, registered["revision"] - retries), registered["revision"])
            ],
            lambda described: definition(described) == definition(registered),
        )
    return registered


def _containers(definition: dict) -> list[tuple[str, str]]:
    return [(container.get("name", ""), container.get("image", "")) for container in definition["containerDefinitions"]]


def _deregister_untagged(candidates: list[str], made_by_this_call: Callable[[dict], bool]) -> None:
    """Deregister the candidate revisions that are ACTIVE, that this call made, and that no deploy names."""
    ecs = aws.client("ecs")
    for candidate in candidates:
        try:
            described = ecs.describe_task_definition(taskDefinition=candidate)["taskDefinition"]
        except ClientError:
            continue
        arn = described["taskDefinitionArn"]
        if described.get("status") != "ACTIVE" or not made_by_this_call(described):
            continue
        if tag_store.select_by_type_and_id(ENTITY_TYPE, ids.deploy_id(arn)):
            continue
        logger.info("Deregistering %s, registered by an attempt whose answer was lost", arn)
        ecs.deregister_task_definition(taskDefinition=arn)


def get(deploy_id: str) -> Deploy:
    """A deploy; 404/23 when ECS has no such task definition, or has it deregistered (the deploy was deleted)."""
    definition = task_definition(deploy_id)
    if definition.get("status") != "ACTIVE":
        raise not_found(deploy_id)
    return _model(definition, _tag_values(ids.deploy_id(definition["taskDefinitionArn"])))


def list_all() -> list[DeploySummary]:
    """The read model's deploy rows: one Query, whatever the number of families
    (docs/architecture.md#the-read-model)."""
    return [DeploySummary(**fields) for fields in row_store.listed(ROW_KIND)]


def write_row(deploy_id: str, name: str, version: str) -> None:
    """The deploy's row in the read model, as `GET /deploy` lists it."""
    fields = {"deploy_id": deploy_id, "deploy_name": name, "version": version}
    row_store.put(row_store.Row(ROW_KIND, deploy_id, fields, version=row_store.now_ms()))


def observed_rows() -> list[row_store.Row]:
    """The rows as ECS has them (the hourly reconcile, docs/architecture.md#the-read-model): every ACTIVE revision
    of every `l0-<prefix>-*` family (ListTaskDefinitionFamilies, ListTaskDefinitions per family), names and
    versions from one tag query."""
    prefix = settings.get().aws_name_prefix
    ecs = aws.client("ecs")
    families = [
        family
        for page in ecs.get_paginator("list_task_definition_families").paginate(familyPrefix=prefix, status="ACTIVE")
        for family in page["families"]
        if family.startswith(prefix) and not ids.is_fargate_family(family)  # a variant is no deploy of its own
    ]
    arns = [
        arn
        for family in families
        for page in ecs.get_paginator("list_task_definitions").paginate(familyPrefix=family, status="ACTIVE")
        for arn in page["taskDefinitionArns"]
        # familyPrefix names one family; keep exactly that one, whatever the backend's matching.
        if arn.split("/", 1)[-1].rsplit(":", 1)[0] == family
    ]
    tags: dict[str, dict[str, str]] = {}
    for tag in tag_store.select_by_type(ENTITY_TYPE):
        tags.setdefault(tag.entity_id, {})[tag.key] = tag.value
    version = row_store.now_ms()
    rows = []
    for arn in arns:
        deploy_id = ids.deploy_id(arn)
        name, revision = _parts(deploy_id)
        values = tags.get(deploy_id, {})
        fields = {
            "deploy_id": deploy_id,
            "deploy_name": values.get("name") or name,
            "version": values.get("version") or revision,
        }
        rows.append(row_store.Row(ROW_KIND, deploy_id, fields, version=version))
    return rows


def _deregister_fargate_variants(deploy_id: str) -> None:
    """The deploy's Fargate variants (layer0.fargate) go with it: every ACTIVE revision of the families
    `l0-<prefix>-<name>--fargate-<revision>-*`. Services still running one keep running, as with the deploy's own."""
    ecs = aws.client("ecs")
    prefix = ids.fargate_family(deploy_id, "")
    families = [
        family
        for page in ecs.get_paginator("list_task_definition_families").paginate(familyPrefix=prefix, status="ACTIVE")
        for family in page["families"]
        if family.startswith(prefix) and ids.is_fargate_family(family)
    ]
    for family in families:
        for page in ecs.get_paginator("list_task_definitions").paginate(familyPrefix=family, status="ACTIVE"):
            for arn in page["taskDefinitionArns"]:
                if arn.split("/", 1)[-1].rsplit(":", 1)[0] == family:
                    ecs.deregister_task_definition(taskDefinition=arn)


def delete(deploy_id: str) -> None:
    """DeregisterTaskDefinition, then forget the tags. Unknown or already deleted: 400 with code 4
    (docs/compatibility.md#deploys)."""
    unknown = Layer0Error(ErrorCode.InvalidDeployID, f"Deploy with id '{deploy_id}' does not exist")
    try:
        definition = task_definition(deploy_id)
    except Layer0Error as error:
        if error.code == ErrorCode.DeployDoesNotExist:
            raise unknown from None
        raise
    if definition.get("status") != "ACTIVE":
        # Deregistered before: its row and tags may have outlived a delete that failed part-way.
        row_store.delete(ROW_KIND, ids.deploy_id(definition["taskDefinitionArn"]))
        tag_store.delete_entity(ENTITY_TYPE, ids.deploy_id(definition["taskDefinitionArn"]))
        raise unknown
    try:
        aws.client("ecs").deregister_task_definition(taskDefinition=definition["taskDefinitionArn"])
    except ClientError as error:
        if aws_error_code(error) in _BAD_INPUT_CODES:
            raise unknown from None
        raise
    _deregister_fargate_variants(ids.deploy_id(definition["taskDefinitionArn"]))
    row_store.delete(ROW_KIND, ids.deploy_id(definition["taskDefinitionArn"]))
    tag_store.delete_entity(ENTITY_TYPE, ids.deploy_id(definition["taskDefinitionArn"]))
