"""Classic ELBs (docs/compatibility.md#load-balancers): the load balancers of the original Layer0.

ECS registers a service's instances with the ELB through its service-linked role (AWSServiceRoleForECS), which it
uses when CreateService names no `role`: Layer0 creates no IAM role, so the API needs no iam:CreateRole. The
original made a role `l0-<prefix>-<id>-lb` per ELB; deleting a load balancer still deletes that role when an
adopted instance has one (docs/compatibility.md#differences-on-purpose-and-why).
"""

from __future__ import annotations

import contextlib

from botocore.exceptions import ClientError

from layer0 import aws, ids, settings
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

NOT_FOUND_CODES = ("LoadBalancerNotFound", "AccessPointNotFound")


def legacy_role_name(load_balancer_id: str) -> str:
    """The IAM role the original Layer0 (and Layer0 before issue 12) made for this ELB: `l0-<prefix>-<id>-lb`."""
    return f"{ids.aws_name(load_balancer_id)}-lb"


def _aws_listener(listener: Listener) -> dict:
    entry = {
        "Protocol": listener.protocol,
        "LoadBalancerPort": listener.host_port,
        "InstanceProtocol": listener.instance_protocol,
        "InstancePort": listener.container_port,
    }
    if listener.certificate_arn:
        entry["SSLCertificateId"] = listener.certificate_arn
    return entry


def _aws_health_check(check: HealthCheck) -> dict:
    return {
        "Target": check.target,
        "Interval": check.interval,
        "Timeout": check.timeout,
        "HealthyThreshold": check.healthy_threshold,
        "UnhealthyThreshold": check.unhealthy_threshold,
    }


def create(spec: Spec) -> None:
    elb = aws.client("elb")
    params = {
        "LoadBalancerName": spec.name,
        "Listeners": [_aws_listener(listener) for listener in spec.listeners],
        "Subnets": list(spec.subnets),
        "SecurityGroups": list(spec.security_groups),
    }
    if not spec.is_public:
        params["Scheme"] = "internal"
    # The name is the load balancer's own (claimed): on a retry, "taken" means the earlier attempt made it.
    with aws.done_by_an_earlier_attempt("DuplicateLoadBalancerName", "DuplicateAccessPointName"):
        elb.create_load_balancer(**params)
    elb.configure_health_check(LoadBalancerName=spec.name, HealthCheck=_aws_health_check(spec.health_check))
    elb.modify_load_balancer_attributes(
        LoadBalancerName=spec.name,
        LoadBalancerAttributes={
            "ConnectionSettings": {"IdleTimeout": spec.idle_timeout},
            "CrossZoneLoadBalancing": {"Enabled": spec.cross_zone},
        },
    )


def _description(load_balancer_id: str) -> dict | None:
    try:
        found = aws.client("elb").describe_load_balancers(LoadBalancerNames=[ids.aws_name(load_balancer_id)])
    except ClientError as error:
        if aws_error_code(error) in NOT_FOUND_CODES:
            return None
        raise
    descriptions = found["LoadBalancerDescriptions"]
    return descriptions[0] if descriptions else None


def _listeners(description: dict) -> list[Listener]:
    found = []
    for entry in description.get("ListenerDescriptions", []):
        listener = entry["Listener"]
        found.append(
            Listener(
                protocol=listener["Protocol"].upper(),
                host_port=int(listener["LoadBalancerPort"]),
                container_port=int(listener["InstancePort"]),
                certificate_arn=listener.get("SSLCertificateId") or "",
            )
        )
    return sorted(found, key=lambda listener: listener.host_port)


def describe(load_balancer_id: str) -> Observed | None:
    description = _description(load_balancer_id)
    if description is None:
        return None
    attributes = aws.client("elb").describe_load_balancer_attributes(LoadBalancerName=description["LoadBalancerName"])[
        "LoadBalancerAttributes"
    ]
    check = description.get("HealthCheck")
    health_check = (
        HealthCheck(
            target=check["Target"],
            interval=check["Interval"],
            timeout=check["Timeout"],
            healthy_threshold=check["HealthyThreshold"],
            unhealthy_threshold=check["UnhealthyThreshold"],
        )
        if check
        else inputs.DEFAULT_HEALTH_CHECK
    )
    return Observed(
        listeners=_listeners(description),
        health_check=health_check,
        idle_timeout=int(attributes.get("ConnectionSettings", {}).get("IdleTimeout", inputs.DEFAULT_IDLE_TIMEOUT)),
        cross_zone=bool(attributes.get("CrossZoneLoadBalancing", {}).get("Enabled", False)),
        is_public=description.get("Scheme") == "internet-facing",
        url=description.get("DNSName", ""),
        security_groups=list(description.get("SecurityGroups", [])),
    )


def names() -> list[str]:
    prefix = settings.get().aws_name_prefix
    pages = aws.client("elb").get_paginator("describe_load_balancers").paginate()
    return [
        lb["LoadBalancerName"]
        for page in pages
        for lb in page["LoadBalancerDescriptions"]
        if lb["LoadBalancerName"].startswith(prefix)
    ]


def _call(load_balancer_id: str, operation: str, **params) -> None:
    """One ELB call on this load balancer; an unknown one is 404, code 26."""
    try:
        getattr(aws.client("elb"), operation)(LoadBalancerName=ids.aws_name(load_balancer_id), **params)
    except ClientError as error:
        if aws_error_code(error) in NOT_FOUND_CODES:
            raise not_found(load_balancer_id) from None
        raise


def change_listeners(
    load_balancer_id: str, remove: list[Listener], add: list[Listener], health_check: HealthCheck, cross_zone: bool
) -> None:
    if remove:
        ports = [listener.host_port for listener in remove]
        _call(load_balancer_id, "delete_load_balancer_listeners", LoadBalancerPorts=ports)
    if add:
        listeners = [_aws_listener(listener) for listener in add]
        _call(load_balancer_id, "create_load_balancer_listeners", Listeners=listeners)


def set_health_check(load_balancer_id: str, health_check: HealthCheck) -> None:
    _call(load_balancer_id, "configure_health_check", HealthCheck=_aws_health_check(health_check))


def set_idle_timeout(load_balancer_id: str, seconds: int) -> None:
    _call(
        load_balancer_id,
        "modify_load_balancer_attributes",
        LoadBalancerAttributes={"ConnectionSettings": {"IdleTimeout": seconds}},
    )


def set_cross_zone(load_balancer_id: str, enabled: bool) -> None:
    _call(
        load_balancer_id,
        "modify_load_balancer_attributes",
        LoadBalancerAttributes={"CrossZoneLoadBalancing": {"Enabled": enabled}},
    )


def attachment(load_balancer_id: str, task_definition: dict) -> Attachment:
    """The FIRST container with a port mapping whose hostPort is a listener's instance port
    (docs/compatibility.md#services)."""
    description = _description(load_balancer_id)
    if description is None:
        raise not_found(load_balancer_id)
    instance_ports = {listener.container_port for listener in _listeners(description)}
    for container in task_definition.get("containerDefinitions", []):
        for host_port, container_port in host_ports(container):
            if host_port in instance_ports:
                entry = {
                    "containerName": container["name"],
                    "containerPort": container_port,
                    "loadBalancerName": description["LoadBalancerName"],
                }
                return [entry]
    raise no_matching_container()


def delete_routing(load_balancer_id: str) -> dict:
    """A legacy role's inline policies, then the role, when an adopted load balancer has one
    (docs/compatibility.md#load-balancers: before the load balancer). Layer0 makes no such role any more."""
    iam = aws.client("iam")
    role = legacy_role_name(load_balancer_id)
    try:
        policies = [
            name
            for page in iam.get_paginator("list_role_policies").paginate(RoleName=role)
            for name in page["PolicyNames"]
        ]
    except iam.exceptions.NoSuchEntityException:
        return {"deleted_role": False}
    for policy in policies:
        with contextlib.suppress(iam.exceptions.NoSuchEntityException):
            iam.delete_role_policy(RoleName=role, PolicyName=policy)
    try:
        iam.delete_role(RoleName=role)
    except iam.exceptions.NoSuchEntityException:
        return {"deleted_role": False, "deleted_role_policies": policies}
    return {"deleted_role": True, "deleted_role_policies": policies}


def delete_load_balancer(load_balancer_id: str) -> dict:
    """Deleting a classic ELB that does not exist succeeds in AWS; this says whether there was one."""
    existed = _description(load_balancer_id) is not None
    if existed:
        aws.client("elb").delete_load_balancer(LoadBalancerName=ids.aws_name(load_balancer_id))
    return {"deleted_classic_load_balancer": existed}
