"""Load balancers (docs/compatibility.md#load-balancers, with the changes of
docs/compatibility.md#differences-on-purpose-and-why): classic ELBs and, additively, Application Load Balancers.

A load balancer `<id>` of environment `<env>` is the ELB (or ALB) `l0-<prefix>-<id>` in the public or private
subnets, with the environment's security group `l0-<prefix>-<env>-env` and, when public, its own group
`l0-<prefix>-<id>-lb` open on each listener port. Tags (entity type `load_balancer`): `name`, `environment_id`,
`load_balancer_type`. A name is unique in its environment: it is claimed atomically (entity type
`load_balancer_name`, id `<env>:<name>`) before anything is created; a duplicate is 400 with code 11.

This package checks the request (inputs.py), claims the name, keeps the security groups and the tags; the
type's backend (classic.py, application.py: backend.Backend) makes and reads the load balancer. Deleting is job
type 3 (layer0.workflows.delete_load_balancer runs the delete operations at the end of this module); a failed
create rolls back through the same operations, so nothing is left half-created. Environment delete runs them all
for each of its load balancers (`delete_now`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from botocore.exceptions import ClientError

from layer0 import aws, capacity, ids, jobs, security_groups
from layer0.errors import ErrorCode, Layer0Error, Retryable, aws_error_code, aws_error_message, missing_parameter
from layer0.load_balancers import application, classic, inputs
from layer0.load_balancers.backend import Attachment, Backend, Observed, Spec, not_found
from layer0.load_balancers.inputs import APPLICATION, CLASSIC
from layer0.models import (
    CreateLoadBalancerRequest,
    HealthCheck,
    Job,
    LoadBalancer,
    LoadBalancerSummary,
    Port,
    Tag,
)
from layer0.stores import rows as row_store
from layer0.stores import tags as tag_store

logger = logging.getLogger(__name__)

ENTITY_TYPE = "load_balancer"
ROW_KIND = "loadbalancer"  # its rows in the read model (layer0.stores.rows)
NAME_CLAIM_TYPE = "load_balancer_name"
TYPE_TAG = "load_balancer_type"  # absent: classic, as every load balancer of the original Layer0 is
PUBLIC_GROUP_DESCRIPTION = "Auto-generated Layer0 Load Balancer Security Group"
OPEN_TO = "0.0.0.0/0"

# AWS error codes that mean the request itself is wrong (a certificate ELB cannot use, a bad setting): 400.
BAD_REQUEST_CODES = frozenset(
    {"ValidationError", "InvalidConfigurationRequest", "CertificateNotFound", "InvalidParameterValue",
     "InvalidParameterCombination", "UnsupportedProtocol", "InvalidInput", "DuplicateListener"}
)  # fmt: skip

__all__ = [
    "ENTITY_TYPE", "Attachment", "create", "get", "list_all", "update_ports", "update_health_check",
    "update_idle_timeout", "update_cross_zone", "start_delete", "service_attachment", "not_found",
    "delete_routing", "delete_load_balancer", "delete_security_group", "delete_tags", "delete_now",
]  # fmt: skip


# Each type's backend; mypy checks both modules against the Backend protocol.
BACKENDS: dict[str, Backend] = {CLASSIC: classic, APPLICATION: application}


def _backend(kind: str) -> Backend:
    return BACKENDS[kind]


def _values(load_balancer_id: str) -> dict[str, str]:
    return {t.key: t.value for t in tag_store.select_by_type_and_id(ENTITY_TYPE, load_balancer_id)}


def _kind(values: dict[str, str]) -> str:
    return (values.get(TYPE_TAG) or CLASSIC).lower()


def load_balancer_type(load_balancer_id: str) -> str:
    return _kind(_values(load_balancer_id))


def target_type(load_balancer_id: str) -> str:
    """How a service's tasks register with the load balancer: `instance` (a classic ELB, or an application load
    balancer of an EC2 environment) or `ip` (an application load balancer of a Fargate environment)."""
    values = _values(load_balancer_id)
    if _kind(values) == CLASSIC:
        return "instance"
    return capacity.placement(values.get("environment_id", "")).target_type


def _claim_id(environment_id: str, name: str) -> str:
    return f"{environment_id}:{name}"


def _as_bad_request(error: ClientError) -> Exception:
    """AWS refusing the request's content is the caller's 400; anything else stays as it is."""
    if aws_error_code(error) in BAD_REQUEST_CODES:
        return inputs.bad_input(
            f"AWS refused the load balancer: {aws_error_message(error)} (code '{aws_error_code(error)}')"
        )
    return error


# --- security groups ------------------------------------------------------------------------------------------------


def _public_group_name(load_balancer_id: str) -> str:
    return f"{ids.aws_name(load_balancer_id)}-lb"


def _environment_group_id(environment_id: str) -> str:
    group = security_groups.find(f"{ids.aws_name(environment_id)}-env")
    if group is None:
        raise Layer0Error(ErrorCode.InvalidEnvironmentID, f"Environment with id '{environment_id}' does not exist")
    return group["GroupId"]


def _reconcile_ingress(group: dict, host_ports: list[int]) -> None:
    """TCP from anywhere on exactly the listener ports (docs/compatibility.md#load-balancers step 5)."""
    ec2 = aws.client("ec2")
    current = {p.get("FromPort") for p in group.get("IpPermissions", [])}
    wanted = set(host_ports)

    def permissions(ports: set[int]) -> list[dict]:
        return [
            {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": OPEN_TO}]}
            for port in sorted(ports)
        ]

    if current - wanted:
        ec2.revoke_security_group_ingress(GroupId=group["GroupId"], IpPermissions=permissions(current - wanted))
    if wanted - current:
        with aws.done_by_an_earlier_attempt("InvalidPermission.Duplicate"):
            ec2.authorize_security_group_ingress(GroupId=group["GroupId"], IpPermissions=permissions(wanted - current))


def _public_group(load_balancer_id: str, host_ports: list[int]) -> str:
    """Create (or find) the public load balancer's own group and open its listener ports."""
    name = _public_group_name(load_balancer_id)
    group = security_groups.find(name)
    if group is None:
        group = {"GroupId": security_groups.create(name, PUBLIC_GROUP_DESCRIPTION), "IpPermissions": []}
    _reconcile_ingress(group, host_ports)
    return group["GroupId"]


# --- reading --------------------------------------------------------------------------------------------------------


def _environment_names() -> dict[str, str]:
    return {t.entity_id: t.value for t in tag_store.select_by_type("environment") if t.key == "name"}


def _service_of(load_balancer_id: str) -> tuple[str, str]:
    """The first service whose `load_balancer_id` tag is this load balancer: (id, name)."""
    services: dict[str, dict[str, str]] = {}
    for tag in tag_store.select_by_type("service"):
        services.setdefault(tag.entity_id, {})[tag.key] = tag.value
    for service_id, values in sorted(services.items()):
        if values.get("load_balancer_id") == load_balancer_id:
            return service_id, values.get("name", "")
    return "", ""


def _model(load_balancer_id: str, kind: str, values: dict[str, str], observed: Observed) -> LoadBalancer:
    environment_id = values.get("environment_id", "")
    environment_name = ""
    if environment_id:
        environment_name = {t.key: t.value for t in tag_store.select_by_type_and_id("environment", environment_id)}.get(
            "name", ""
        )
    service_id, service_name = _service_of(load_balancer_id)
    return LoadBalancer(
        cross_zone=observed.cross_zone,
        environment_id=environment_id,
        environment_name=environment_name,
        health_check=observed.health_check,
        idle_timeout=observed.idle_timeout,
        is_public=observed.is_public,
        load_balancer_id=load_balancer_id,
        load_balancer_name=values.get("name", ""),
        ports=[listener.port() for listener in observed.listeners],
        service_id=service_id,
        service_name=service_name,
        url=observed.url,
        load_balancer_type=kind,
    )


def _observed(load_balancer_id: str) -> tuple[str, dict[str, str], Observed]:
    values = _values(load_balancer_id)
    kind = _kind(values)
    observed = _backend(kind).describe(load_balancer_id)
    if observed is None:
        raise not_found(load_balancer_id)
    return kind, values, observed


def get(load_balancer_id: str) -> LoadBalancer:
    kind, values, observed = _observed(load_balancer_id)
    return _model(load_balancer_id, kind, values, observed)


def list_all() -> list[LoadBalancerSummary]:
    """The read model's load balancer rows: one Query (docs/architecture.md#the-read-model)."""
    return [LoadBalancerSummary(**fields) for fields in row_store.listed(ROW_KIND)]


def write_row(load_balancer_id: str, name: str, environment_id: str, kind: str, version: int | None = None) -> None:
    """The load balancer's row in the read model, as `GET /loadbalancer` lists it."""
    environment_name = {t.key: t.value for t in tag_store.select_by_type_and_id("environment", environment_id)}.get(
        "name", ""
    )
    fields = {
        "load_balancer_id": load_balancer_id,
        "load_balancer_name": name,
        "environment_id": environment_id,
        "environment_name": environment_name,
        "load_balancer_type": kind,
    }
    row_store.put(row_store.Row(ROW_KIND, load_balancer_id, fields, version=version or row_store.now_ms()))


def observed_rows() -> list[row_store.Row]:
    """The rows as ELB has them (the hourly reconcile, docs/architecture.md#the-read-model): each type's
    load balancers named `l0-<prefix>-*` (all pages), names from two tag queries."""
    grouped: dict[str, dict[str, str]] = {}
    for tag in tag_store.select_by_type(ENTITY_TYPE):
        grouped.setdefault(tag.entity_id, {})[tag.key] = tag.value
    environment_names = _environment_names()
    version = row_store.now_ms()
    rows = []
    for kind in (CLASSIC, APPLICATION):
        for name in _backend(kind).names():
            load_balancer_id = ids.layer0_id(name)
            values = grouped.get(load_balancer_id, {})
            environment_id = values.get("environment_id", "")
            fields = {
                "load_balancer_id": load_balancer_id,
                "load_balancer_name": values.get("name", ""),
                "environment_id": environment_id,
                "environment_name": environment_names.get(environment_id, ""),
                "load_balancer_type": kind,
            }
            rows.append(row_store.Row(ROW_KIND, load_balancer_id, fields, version=version))
    return rows


# --- create ---------------------------------------------------------------------------------------------------------


def _default_ports(kind: str) -> list[Port]:
    """The l0 CLI's default port, 80:80/tcp; an application load balancer speaks HTTP."""
    return [Port(host_port=80, container_port=80, protocol="tcp" if kind == CLASSIC else "http")]


def _name_taken(environment_id: str, name: str) -> bool:
    """A load balancer of an adopted Layer0 instance, tagged before name claims existed, with this name here."""
    grouped: dict[str, dict[str, str]] = {}
    for tag in tag_store.select_by_type(ENTITY_TYPE):
        grouped.setdefault(tag.entity_id, {})[tag.key] = tag.value
    return any(v.get("name") == name and v.get("environment_id") == environment_id for v in grouped.values())


def create(request: CreateLoadBalancerRequest) -> LoadBalancer:
    if not request.environment_id:
        raise missing_parameter("environment_id")
    if not request.load_balancer_name:
        raise missing_parameter("load_balancer_name")
    kind = inputs.load_balancer_type(request.load_balancer_type)
    environment_id, name = request.environment_id, request.load_balancer_name
    if kind == CLASSIC and capacity.is_fargate(environment_id):
        # docs/compatibility.md#fargate-environments
        raise inputs.bad_input(
            f"Environment '{environment_id}' runs on Fargate: a classic load balancer cannot register Fargate "
            "tasks (they register by IP); use load_balancer_type 'application'"
        )
    # Every check reads only; nothing is written before they all pass.
    ports = request.ports if request.ports is not None else _default_ports(kind)
    if not ports:
        raise inputs.bad_input("A load balancer needs one port at least")
    listeners = inputs.listeners(kind, ports)
    health_check = inputs.health_check(kind, request.health_check or inputs.DEFAULT_HEALTH_CHECK)
    idle_timeout = inputs.idle_timeout(
        kind, inputs.DEFAULT_IDLE_TIMEOUT if request.idle_timeout is None else request.idle_timeout
    )
    cross_zone = inputs.DEFAULT_CROSS_ZONE if request.cross_zone is None else request.cross_zone
    subnets = inputs.subnets(kind, request.is_public)
    environment_group = _environment_group_id(environment_id)

    load_balancer_id = ids.hashed(name)
    claim = _claim_id(environment_id, name)
    duplicate = Layer0Error(
        ErrorCode.InvalidLoadBalancerName,
        f"Load balancer with name '{name}' already exists in environment '{environment_id}'",
    )
    if not tag_store.claim(NAME_CLAIM_TYPE, claim, {"load_balancer_id": load_balancer_id}):
        raise duplicate
    if _name_taken(environment_id, name):
        tag_store.release(NAME_CLAIM_TYPE, claim, "load_balancer_id", load_balancer_id)
        raise duplicate

    values = {"name": name, "environment_id": environment_id, TYPE_TAG: kind}
    try:
        groups = [environment_group]
        if request.is_public:
            groups.insert(0, _public_group(load_balancer_id, [listener.host_port for listener in listeners]))
        spec = Spec(
            load_balancer_id=load_balancer_id,
            name=ids.aws_name(load_balancer_id),
            is_public=request.is_public,
            subnets=subnets,
            security_groups=groups,
            listeners=listeners,
            health_check=health_check,
            idle_timeout=idle_timeout,
            cross_zone=cross_zone,
        )
        # The type tag first, so that a rollback (and a later delete job) knows which backend to ask.
        for key, value in values.items():
            tag_store.insert(Tag(entity_type=ENTITY_TYPE, entity_id=load_balancer_id, key=key, value=value))
        try:
            _backend(kind).create(spec)
        except ClientError as error:
            raise _as_bad_request(error) from None
        write_row(load_balancer_id, name, environment_id, kind)
    except Exception:
        logger.exception("Creating load balancer %s failed: rolling back", load_balancer_id)
        try:
            delete_now(load_balancer_id, retry_security_group=False)
        except Exception:  # noqa: BLE001 - the original error is the answer
            logger.exception("Rollback of load balancer %s failed", load_balancer_id)
            row_store.delete(ROW_KIND, load_balancer_id)
            tag_store.delete_entity(ENTITY_TYPE, load_balancer_id)
            tag_store.release(NAME_CLAIM_TYPE, claim, "load_balancer_id", load_balancer_id)
        raise
    return get(load_balancer_id)


# --- updates --------------------------------------------------------------------------------------------------------


def update_ports(load_balancer_id: str, ports: list[Port]) -> LoadBalancer:
    """Full replacement of the listener set (docs/compatibility.md#load-balancers): remove what is not requested, add
    what is new, and
    open exactly the new ports on a public load balancer's own group."""
    kind, values, observed = _observed(load_balancer_id)
    requested = inputs.listeners(kind, ports)
    remove = [listener for listener in observed.listeners if listener not in requested]
    add = [listener for listener in requested if listener not in observed.listeners]
    if remove or add:
        try:
            _backend(kind).change_listeners(load_balancer_id, remove, add, observed.health_check, observed.cross_zone)
        except ClientError as error:
            raise _as_bad_request(error) from None
    if observed.is_public:
        group = security_groups.find(_public_group_name(load_balancer_id))
        if group is not None:
            _reconcile_ingress(group, [listener.host_port for listener in requested])
    # Only the listeners changed: the answer is what was read, with the requested ones (no second describe).
    observed.listeners = sorted(requested, key=lambda listener: listener.host_port)
    return _model(load_balancer_id, kind, values, observed)


def _update(load_balancer_id: str, change: Callable[[Backend, str], None]) -> LoadBalancer:
    """Apply `change(backend, kind)` to the load balancer; answer it as it is then."""
    kind = load_balancer_type(load_balancer_id)
    try:
        change(_backend(kind), kind)
    except ClientError as error:
        if aws_error_code(error) in ("LoadBalancerNotFound", "AccessPointNotFound"):
            raise not_found(load_balancer_id) from None
        raise _as_bad_request(error) from None
    return get(load_balancer_id)


def update_health_check(load_balancer_id: str, health_check: HealthCheck) -> LoadBalancer:
    return _update(
        load_balancer_id,
        lambda backend, kind: backend.set_health_check(load_balancer_id, inputs.health_check(kind, health_check)),
    )


def update_idle_timeout(load_balancer_id: str, seconds: int) -> LoadBalancer:
    return _update(
        load_balancer_id,
        lambda backend, kind: backend.set_idle_timeout(load_balancer_id, inputs.idle_timeout(kind, seconds)),
    )


def update_cross_zone(load_balancer_id: str, enabled: bool) -> LoadBalancer:
    return _update(load_balancer_id, lambda backend, kind: backend.set_cross_zone(load_balancer_id, enabled))


# --- services behind a load balancer --------------------------------------------------------------------------------


def service_attachment(load_balancer_id: str, task_definition: dict) -> Attachment:
    """ECS `loadBalancers` for a service of `task_definition` behind this load balancer (no `role`: ECS uses its
    service-linked role).
    Unknown load balancer: 404, code 26; no container listening on a mapped port: 400, code 10."""
    return _backend(load_balancer_type(load_balancer_id)).attachment(load_balancer_id, task_definition)


# --- delete (job type 3) ---------------------------------------------------------------------------------------------


def start_delete(load_balancer_id: str) -> Job:
    """Start the delete-load-balancer job (type 3). A delete that failed part-way can be started again: the
    load balancer counts as present while AWS knows it or its tags remain."""
    values = _values(load_balancer_id)
    if (
        not values
        and _backend(CLASSIC).describe(load_balancer_id) is None
        and _backend(APPLICATION).describe(load_balancer_id) is None
    ):
        raise not_found(load_balancer_id)
    return jobs.create(jobs.JobType.DeleteLoadBalancer, load_balancer_id)


def _backends_for_delete(load_balancer_id: str) -> list[Backend]:
    """The tagged type's backend; both when the tags are gone (an untagged `l0-<prefix>-` load balancer)."""
    values = _values(load_balancer_id)
    if TYPE_TAG in values:
        return [_backend(_kind(values))]
    return [_backend(CLASSIC), _backend(APPLICATION)]


def delete_routing(load_balancer_id: str) -> dict:
    """Classic: a legacy IAM role's policies and the role, if any. Application: the listeners and the target groups."""
    result: dict = {}
    for backend in _backends_for_delete(load_balancer_id):
        result.update(backend.delete_routing(load_balancer_id))
    return result


def delete_load_balancer(load_balancer_id: str) -> dict:
    result: dict = {}
    for backend in _backends_for_delete(load_balancer_id):
        result.update(backend.delete_load_balancer(load_balancer_id))
    return result


def delete_security_group(load_balancer_id: str) -> dict:
    """The public load balancer's own group. Its network interfaces detach some time after the load balancer
    is deleted: `Retryable` until then (the machine retries it)."""
    return {"deleted_security_group": security_groups.delete(_public_group_name(load_balancer_id))}


def delete_tags(load_balancer_id: str) -> dict:
    """The load balancer's row, its tags and its name claim."""
    row_store.delete(ROW_KIND, load_balancer_id)
    return {
        "released": tag_store.delete_with_claims(ENTITY_TYPE, load_balancer_id, NAME_CLAIM_TYPE, "load_balancer_id")
    }


def delete_now(load_balancer_id: str, retry_security_group: bool = True) -> dict:
    """Every delete step in order (environment delete, and the rollback of a failed create). With
    `retry_security_group`, a group still in use raises Retryable for the caller's retry; without, it is left
    for the tags to be forgotten anyway (a rollback straight after a create has no ENIs to wait for)."""
    result = {**delete_routing(load_balancer_id), **delete_load_balancer(load_balancer_id)}
    try:
        result.update(delete_security_group(load_balancer_id))
    except Retryable:
        if retry_security_group:
            raise
        logger.warning("Load balancer %s: its security group is still in use and is left", load_balancer_id)
    result.update(delete_tags(load_balancer_id))
    return result
