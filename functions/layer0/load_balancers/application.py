"""Application Load Balancers (issue 5): the same Layer0 load balancer, made of ELBv2 parts.

The ALB `l0-<prefix>-<id>` has one listener per host port, forwarding to a target group for the listener's
container port (the instance port: a container's hostPort); listeners with the same container port share
one target group. TLS terminates at the ALB: every target group speaks HTTP.

Layer0's settings land on ELBv2 like this:
- the health check is every target group's health check. `HTTP:80/health` maps one to one; `TCP:N` and
  `SSL:N` (the l0 CLI's default is `TCP:80`) have no ALB equivalent, so they become HTTP (HTTPS) on port N,
  path `/`, success codes 200-499 ("the port answers at all"), which `describe` reads back as `TCP:N`/`SSL:N`;
- the idle timeout is the ALB attribute `idle_timeout.timeout_seconds`;
- cross-zone is the target groups' `load_balancing.cross_zone.enabled` (an ALB's own is always on).

Target groups carry the tag `layer0:load_balancer_id` and names that start with `l0-<prefix>-` (the IAM
policies are scoped on it), so a delete finds them even when no listener refers to them any more (a rerun
after a partial failure).
"""

from __future__ import annotations

import hashlib
import re

from botocore.exceptions import ClientError

from layer0 import aws, capacity, ids, settings
from layer0.errors import aws_error_code
from layer0.load_balancers import inputs
from layer0.load_balancers.backend import (
    Attachment,
    Observed,
    Spec,
    host_ports,
    no_matching_container,
    not_found,
)
from layer0.load_balancers.inputs import Listener
from layer0.models import HealthCheck
from layer0.stores import tags as tag_store

TYPE = "application"
ID_TAG = "layer0:load_balancer_id"
MAX_TARGET_GROUP_NAME = 32
TARGET_PROTOCOL = "HTTP"  # TLS terminates at the load balancer
IDLE_TIMEOUT_KEY = "idle_timeout.timeout_seconds"
CROSS_ZONE_KEY = "load_balancing.cross_zone.enabled"
# A TCP/SSL health check as an HTTP(S) one: any answer short of a server error counts as healthy.
ANSWERS_AT_ALL = "200-499"
HTTP_SUCCESS = "200"  # the ELBv2 default
PORT_CHECK_AS = {"TCP": "HTTP", "SSL": "HTTPS"}
PORT_CHECK_FROM = {value: key for key, value in PORT_CHECK_AS.items()}
# `<12-character id>-<port>`, after the AWS-name prefix: the unhashed target group name.
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9]{12}-\d{1,5}$")
_TAG_BATCH = 20  # DescribeTags takes at most 20 ARNs


def _elbv2():
    return aws.client("elbv2")


# --- names -------------------------------------------------------------------------------------------------------


def target_group_name(load_balancer_id: str, port: int) -> str:
    """`l0-<prefix>-<id>-<port>` when it fits in 32 characters; else the prefix and a stable hash of both."""
    plain = f"{ids.aws_name(load_balancer_id)}-{port}"
    if len(plain) <= MAX_TARGET_GROUP_NAME:
        return plain
    prefix = settings.get().aws_name_prefix
    digest = hashlib.sha256(f"{load_balancer_id}:{port}".encode()).hexdigest()
    return prefix + digest[: max(MAX_TARGET_GROUP_NAME - len(prefix), 1)]


# --- reading -----------------------------------------------------------------------------------------------------


def _load_balancer(load_balancer_id: str) -> dict | None:
    try:
        found = _elbv2().describe_load_balancers(Names=[ids.aws_name(load_balancer_id)])["LoadBalancers"]
    except ClientError as error:
        if aws_error_code(error) == "LoadBalancerNotFound":
            return None
        raise
    found = [lb for lb in found if lb.get("Type") == TYPE]
    return found[0] if found else None


def _existing(load_balancer_id: str) -> dict:
    load_balancer = _load_balancer(load_balancer_id)
    if load_balancer is None:
        raise not_found(load_balancer_id)
    return load_balancer


def _aws_listeners(load_balancer_arn: str) -> list[dict]:
    pages = _elbv2().get_paginator("describe_listeners").paginate(LoadBalancerArn=load_balancer_arn)
    return sorted((listener for page in pages for listener in page["Listeners"]), key=lambda listener: listener["Port"])


def _forward_target(listener: dict) -> str | None:
    for action in listener.get("DefaultActions", []):
        if action.get("Type") != "forward":
            continue
        if action.get("TargetGroupArn"):
            return action["TargetGroupArn"]
        groups = action.get("ForwardConfig", {}).get("TargetGroups", [])
        if groups:
            return groups[0]["TargetGroupArn"]
    return None


def _target_groups_by_arn(arns: list[str]) -> dict[str, dict]:
    if not arns:
        return {}
    found = _elbv2().describe_target_groups(TargetGroupArns=sorted(set(arns)))["TargetGroups"]
    return {group["TargetGroupArn"]: group for group in found}


def _tagged_target_groups(load_balancer_id: str) -> dict[str, dict]:
    """Target groups of this load balancer found by their name or tag, listeners or not (all pages)."""
    prefix = settings.get().aws_name_prefix
    own_prefix = f"{ids.aws_name(load_balancer_id)}-"
    found: dict[str, dict] = {}
    maybe: dict[str, dict] = {}  # hashed names: only the tag says whose they are
    for page in _elbv2().get_paginator("describe_target_groups").paginate():
        for group in page["TargetGroups"]:
            name = group["TargetGroupName"]
            if not name.startswith(prefix):
                continue
            if name.startswith(own_prefix) and _PLAIN_NAME.match(name[len(prefix) :]):
                found[group["TargetGroupArn"]] = group
            elif not _PLAIN_NAME.match(name[len(prefix) :]):
                maybe[group["TargetGroupArn"]] = group
    arns = list(maybe)
    for start in range(0, len(arns), _TAG_BATCH):
        described = _elbv2().describe_tags(ResourceArns=arns[start : start + _TAG_BATCH])["TagDescriptions"]
        for description in described:
            tags = {tag["Key"]: tag.get("Value", "") for tag in description.get("Tags", [])}
            if tags.get(ID_TAG) == load_balancer_id:
                found[description["ResourceArn"]] = maybe[description["ResourceArn"]]
    return found


def _attached_target_groups(load_balancer_arn: str) -> dict[str, dict]:
    try:
        found = _elbv2().describe_target_groups(LoadBalancerArn=load_balancer_arn)["TargetGroups"]
    except ClientError as error:
        # moto answers "none" with TargetGroupNotFound; a load balancer gone meanwhile has none either.
        if aws_error_code(error) in ("TargetGroupNotFound", "LoadBalancerNotFound"):
            return {}
        raise
    return {group["TargetGroupArn"]: group for group in found}


def _all_target_groups(load_balancer_id: str, load_balancer: dict | None, listeners: list[dict]) -> dict[str, dict]:
    """Every target group of this load balancer: by its listeners, by AWS's association, by name and tag."""
    groups = _tagged_target_groups(load_balancer_id)
    if load_balancer is not None:
        groups.update(_attached_target_groups(load_balancer["LoadBalancerArn"]))
    referenced = [arn for arn in (_forward_target(listener) for listener in listeners) if arn and arn not in groups]
    try:
        groups.update(_target_groups_by_arn(referenced))
    except ClientError as error:
        if aws_error_code(error) != "TargetGroupNotFound":
            raise
    return groups


def _listener(aws_listener: dict, target_groups: dict[str, dict]) -> Listener:
    group = target_groups.get(_forward_target(aws_listener) or "")
    certificates = aws_listener.get("Certificates") or []
    default = [c for c in certificates if c.get("IsDefault")] or certificates
    return Listener(
        protocol=aws_listener["Protocol"].upper(),
        host_port=int(aws_listener["Port"]),
        container_port=int(group["Port"]) if group else 0,
        certificate_arn=default[0]["CertificateArn"] if default else "",
    )


def _health_check(group: dict) -> HealthCheck:
    protocol = group.get("HealthCheckProtocol", "HTTP").upper()
    port = group.get("HealthCheckPort", "traffic-port")
    port = str(group["Port"]) if port == "traffic-port" else port
    path = group.get("HealthCheckPath") or "/"
    codes = (group.get("Matcher") or {}).get("HttpCode", HTTP_SUCCESS)
    if codes == ANSWERS_AT_ALL and path == "/" and protocol in PORT_CHECK_FROM:
        target = f"{PORT_CHECK_FROM[protocol]}:{port}"
    elif protocol in PORT_CHECK_FROM:
        target = f"{protocol}:{port}{path}"
    else:  # a TCP check someone set outside Layer0
        target = f"{protocol}:{port}"
    return HealthCheck(
        target=target,
        interval=int(group.get("HealthCheckIntervalSeconds", inputs.DEFAULT_HEALTH_CHECK.interval)),
        timeout=int(group.get("HealthCheckTimeoutSeconds", inputs.DEFAULT_HEALTH_CHECK.timeout)),
        healthy_threshold=int(group.get("HealthyThresholdCount", inputs.DEFAULT_HEALTH_CHECK.healthy_threshold)),
        unhealthy_threshold=int(group.get("UnhealthyThresholdCount", inputs.DEFAULT_HEALTH_CHECK.unhealthy_threshold)),
    )


def _cross_zone(target_group_arn: str) -> bool:
    attributes = _elbv2().describe_target_group_attributes(TargetGroupArn=target_group_arn)["Attributes"]
    value = {a["Key"]: a.get("Value") for a in attributes}.get(CROSS_ZONE_KEY, "true")
    return value != "false"  # "use_load_balancer_configuration": an ALB's own is always on


def _listener_target_groups(listeners: list[dict]) -> dict[str, dict]:
    """The target groups the listeners forward to (in listener order)."""
    return _target_groups_by_arn([arn for arn in map(_forward_target, listeners) if arn])


def describe(load_balancer_id: str) -> Observed | None:
    load_balancer = _load_balancer(load_balancer_id)
    if load_balancer is None:
        return None
    arn = load_balancer["LoadBalancerArn"]
    aws_listeners = _aws_listeners(arn)
    groups = _listener_target_groups(aws_listeners)
    ordered = [groups[arn] for arn in map(_forward_target, aws_listeners) if arn in groups]
    health_check = _health_check(ordered[0]) if ordered else inputs.DEFAULT_HEALTH_CHECK
    cross_zone = all(_cross_zone(a) for a in groups) if groups else True
    attributes = _elbv2().describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
    idle = {a["Key"]: a.get("Value") for a in attributes}.get(IDLE_TIMEOUT_KEY)
    return Observed(
        listeners=[_listener(listener, groups) for listener in aws_listeners],
        health_check=health_check,
        idle_timeout=int(idle) if idle else inputs.DEFAULT_IDLE_TIMEOUT,
        cross_zone=cross_zone,
        is_public=load_balancer.get("Scheme") == "internet-facing",
        url=load_balancer.get("DNSName", ""),
        security_groups=list(load_balancer.get("SecurityGroups", [])),
    )


def names() -> list[str]:
    prefix = settings.get().aws_name_prefix
    pages = _elbv2().get_paginator("describe_load_balancers").paginate()
    return [
        lb["LoadBalancerName"]
        for page in pages
        for lb in page["LoadBalancers"]
        if lb.get("Type") == TYPE and lb["LoadBalancerName"].startswith(prefix)
    ]


# --- writing -----------------------------------------------------------------------------------------------------


def _aws_health_check(check: HealthCheck) -> dict:
    """The target-group fields of a (normalised) Layer0 health check."""
    target = inputs.health_check_target(check.target)
    if target.protocol in PORT_CHECK_AS:
        protocol, path, codes = PORT_CHECK_AS[target.protocol], "/", ANSWERS_AT_ALL
    else:
        protocol, path, codes = target.protocol, target.path, HTTP_SUCCESS
    return {
        "HealthCheckProtocol": protocol,
        "HealthCheckPort": str(target.port),
        "HealthCheckPath": path,
        "HealthCheckIntervalSeconds": check.interval,
        "HealthCheckTimeoutSeconds": check.timeout,
        "HealthyThresholdCount": check.healthy_threshold,
        "UnhealthyThresholdCount": check.unhealthy_threshold,
        "Matcher": {"HttpCode": codes},
    }


def _set_cross_zone(target_group_arn: str, enabled: bool) -> None:
    _elbv2().modify_target_group_attributes(
        TargetGroupArn=target_group_arn,
        Attributes=[{"Key": CROSS_ZONE_KEY, "Value": "true" if enabled else "false"}],
    )


def _target_type(load_balancer_id: str) -> str:
    """`ip` in a Fargate environment, whose tasks register by IP; `instance` otherwise (the load balancer's
    `environment_id` tag, written before anything is created)."""
    tags = tag_store.select_by_type_and_id("load_balancer", load_balancer_id)
    return capacity.placement(next((t.value for t in tags if t.key == "environment_id"), "")).target_type


def _create_target_group(load_balancer_id: str, port: int, health_check: HealthCheck, cross_zone: bool) -> str:
    params = {
        "Name": target_group_name(load_balancer_id, port),
        "Protocol": TARGET_PROTOCOL,
        "Port": port,
        "TargetType": _target_type(load_balancer_id),
        "Tags": [{"Key": ID_TAG, "Value": load_balancer_id}],
        **_aws_health_check(health_check),
    }
    if settings.get().vpc_id:
        params["VpcId"] = settings.get().vpc_id
    # AWS answers a repeat with the same settings (a retry after a lost answer) with the group it made.
    arn = _elbv2().create_target_group(**params)["TargetGroups"][0]["TargetGroupArn"]
    _set_cross_zone(arn, cross_zone)
    return arn


def _create_listener(load_balancer_arn: str, listener: Listener, target_group_arn: str) -> None:
    params = {
        "LoadBalancerArn": load_balancer_arn,
        "Protocol": listener.protocol,
        "Port": listener.host_port,
        "DefaultActions": [{"Type": "forward", "TargetGroupArn": target_group_arn}],
    }
    if listener.certificate_arn:
        params["Certificates"] = [{"CertificateArn": listener.certificate_arn}]
    _elbv2().create_listener(**params)  # AWS answers a repeat with the same settings with the listener


def _add_listeners(
    load_balancer_id: str,
    load_balancer_arn: str,
    listeners: list[Listener],
    by_port: dict[int, str],
    health_check: HealthCheck,
    cross_zone: bool,
) -> None:
    """Listeners forwarding to the target group of their container port, made when `by_port` has none."""
    for listener in listeners:
        if listener.container_port not in by_port:
            by_port[listener.container_port] = _create_target_group(
                load_balancer_id, listener.container_port, health_check, cross_zone
            )
        _create_listener(load_balancer_arn, listener, by_port[listener.container_port])


def create(spec: Spec) -> None:
    """The ALB, its target groups and listeners, the health check and cross-zone (on the target groups) and
    the idle timeout. Errors propagate: the package rolls back with delete_routing and delete_load_balancer."""
    elbv2 = _elbv2()
    # Safe to retry after a lost answer: AWS answers a repeat with the same settings with the load balancer it made.
    load_balancer = elbv2.create_load_balancer(
        Name=spec.name,
        Subnets=list(spec.subnets),
        SecurityGroups=list(spec.security_groups),
        Scheme="internet-facing" if spec.is_public else "internal",
        Type=TYPE,
        IpAddressType="ipv4",
        Tags=[{"Key": ID_TAG, "Value": spec.load_balancer_id}],
    )["LoadBalancers"][0]
    arn = load_balancer["LoadBalancerArn"]
    _add_listeners(spec.load_balancer_id, arn, spec.listeners, {}, spec.health_check, spec.cross_zone)
    set_idle_timeout(spec.load_balancer_id, spec.idle_timeout, load_balancer_arn=arn)


def change_listeners(
    load_balancer_id: str, remove: list[Listener], add: list[Listener], health_check: HealthCheck, cross_zone: bool
) -> None:
    """Delete the listeners on the ports of `remove`, then the target groups no listener will use, then make
    what `add` needs (a target group already serving its container port is reused)."""
    load_balancer = _existing(load_balancer_id)
    arn = load_balancer["LoadBalancerArn"]
    removed_ports = {listener.host_port for listener in remove}
    kept = []
    for aws_listener in _aws_listeners(arn):
        if aws_listener["Port"] in removed_ports:
            _delete_listener(aws_listener["ListenerArn"])
        else:
            kept.append(aws_listener)
    groups = _all_target_groups(load_balancer_id, load_balancer, kept)
    used = {_forward_target(listener) for listener in kept}
    wanted_ports = {listener.container_port for listener in add}
    by_port: dict[int, str] = {}
    for group_arn, group in sorted(groups.items(), key=lambda item: item[0] not in used):
        port = int(group["Port"])
        if group_arn in used:
            by_port.setdefault(port, group_arn)
        elif port in wanted_ports and port not in by_port:
            # An orphan (left by a failure) serves the new listener, with the current settings.
            _elbv2().modify_target_group(TargetGroupArn=group_arn, **_aws_health_check(health_check))
            _set_cross_zone(group_arn, cross_zone)
            by_port[port] = group_arn
        else:
            _delete_target_group(group_arn)
    _add_listeners(load_balancer_id, arn, add, by_port, health_check, cross_zone)


def _target_group_arns(load_balancer_id: str) -> list[str]:
    """The target groups the listeners of an existing load balancer use (404 when there is none); an
    orphan left by a failure is not worth an account-wide scan here (change_listeners and delete find it)."""
    load_balancer = _existing(load_balancer_id)
    return sorted(_listener_target_groups(_aws_listeners(load_balancer["LoadBalancerArn"])))


def set_health_check(load_balancer_id: str, health_check: HealthCheck) -> None:
    fields = _aws_health_check(health_check)
    for arn in _target_group_arns(load_balancer_id):
        _elbv2().modify_target_group(TargetGroupArn=arn, **fields)


def set_idle_timeout(load_balancer_id: str, seconds: int, load_balancer_arn: str | None = None) -> None:
    arn = load_balancer_arn or _existing(load_balancer_id)["LoadBalancerArn"]
    _elbv2().modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": IDLE_TIMEOUT_KEY, "Value": str(seconds)}]
    )


def set_cross_zone(load_balancer_id: str, enabled: bool) -> None:
    for arn in _target_group_arns(load_balancer_id):
        _set_cross_zone(arn, enabled)


def attachment(load_balancer_id: str, task_definition: dict) -> Attachment:
    """The FIRST container with a port mapping whose hostPort is a target group's port (docs/compatibility.md#services).
    ECS
    registers instances with a target group through its service-linked role: no role of ours."""
    load_balancer = _existing(load_balancer_id)
    listeners = _aws_listeners(load_balancer["LoadBalancerArn"])
    groups = _listener_target_groups(listeners)
    by_port: dict[int, str] = {}
    for listener in listeners:  # by host port: the lowest listener's group wins a tie (none: shared groups)
        group_arn = _forward_target(listener)
        if group_arn in groups:
            by_port.setdefault(int(groups[group_arn]["Port"]), group_arn)
    for container in task_definition.get("containerDefinitions", []):
        for host_port, container_port in host_ports(container):
            if host_port in by_port:
                entry = {
                    "targetGroupArn": by_port[host_port],
                    "containerName": container["name"],
                    "containerPort": container_port,
                }
                return [entry]
    raise no_matching_container()


# --- delete (idempotent) -----------------------------------------------------------------------------------------


def _delete_listener(listener_arn: str) -> bool:
    try:
        _elbv2().delete_listener(ListenerArn=listener_arn)
    except ClientError as error:
        if aws_error_code(error) == "ListenerNotFound":
            return False
        raise
    return True


def _delete_target_group(target_group_arn: str) -> bool:
    try:
        _elbv2().delete_target_group(TargetGroupArn=target_group_arn)
    except ClientError as error:
        if aws_error_code(error) == "TargetGroupNotFound":
            return False
        raise
    return True


def delete_routing(load_balancer_id: str) -> dict:
    """The listeners, then every target group of the load balancer (also those no listener refers to)."""
    load_balancer = _load_balancer(load_balancer_id)
    listeners = _aws_listeners(load_balancer["LoadBalancerArn"]) if load_balancer else []
    groups = _all_target_groups(load_balancer_id, load_balancer, listeners)
    deleted_listeners = [listener["Port"] for listener in listeners if _delete_listener(listener["ListenerArn"])]
    deleted_groups = [group["TargetGroupName"] for arn, group in sorted(groups.items()) if _delete_target_group(arn)]
    return {"deleted_listeners": deleted_listeners, "deleted_target_groups": deleted_groups}


def delete_load_balancer(load_balancer_id: str) -> dict:
    load_balancer = _load_balancer(load_balancer_id)
    if load_balancer is not None:
        try:
            _elbv2().delete_load_balancer(LoadBalancerArn=load_balancer["LoadBalancerArn"])
        except ClientError as error:
            if aws_error_code(error) != "LoadBalancerNotFound":
                raise
            load_balancer = None
    return {"deleted_application_load_balancer": load_balancer is not None}
