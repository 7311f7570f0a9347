"""Load balancers (SPEC §3.3). For now: how a service attaches to one (SPEC §3.4, create step 2).

A service behind a load balancer gets ECS `loadBalancers` entries and, for a classic ELB, the IAM role
`l0-<prefix>-<lb id>-lb` that ECS assumes to register its instances. The attachment depends on the load
balancer's type, so it is looked up in ATTACHMENTS: a new type (e.g. "application") adds one function there.
"""

from __future__ import annotations

from collections.abc import Callable

from botocore.exceptions import ClientError

from layer0 import aws, ids
from layer0.errors import ErrorCode, Layer0Error
from layer0.stores import tags as tag_store

ENTITY_TYPE = "load_balancer"
# The tag holding a load balancer's type (DESIGN §1: "classic" | "application"); absent means classic,
# as every load balancer of the original Layer0 is.
TYPE_TAG = "load_balancer_type"
CLASSIC = "classic"

NO_MATCHING_CONTAINER = "No containers defined that listen on a port that is mapped by the load balancer"

# (ECS `loadBalancers` entries, the role ECS needs for them or None)
Attachment = tuple[list[dict], str | None]


def not_found(load_balancer_id: str) -> Layer0Error:
    return Layer0Error(ErrorCode.LoadBalancerDoesNotExist, f"Load balancer with id '{load_balancer_id}' does not exist")


def role_name(load_balancer_id: str) -> str:
    """The IAM role ECS assumes for a classic ELB: `l0-<prefix>-<lb id>-lb`."""
    return f"{ids.aws_name(load_balancer_id)}-lb"


def load_balancer_type(load_balancer_id: str) -> str:
    values = {t.key: t.value for t in tag_store.select_by_type_and_id(ENTITY_TYPE, load_balancer_id)}
    return (values.get(TYPE_TAG) or CLASSIC).lower()


def _host_ports(container: dict) -> list[tuple[int, int]]:
    """(hostPort, containerPort) of each mapping that has a host port: a mapping without one (a dynamic port)
    cannot be the target of a classic listener."""
    found = []
    for mapping in container.get("portMappings") or []:
        host_port = mapping.get("hostPort")
        if host_port:
            found.append((int(host_port), int(mapping.get("containerPort") or host_port)))
    return found


def _classic_attachment(load_balancer_id: str, task_definition: dict) -> Attachment:
    """The FIRST container with a port mapping whose hostPort is a listener's instance port (SPEC §3.4)."""
    name = ids.aws_name(load_balancer_id)
    try:
        descriptions = aws.client("elb").describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("LoadBalancerNotFound", "AccessPointNotFound"):
            raise not_found(load_balancer_id) from None
        raise
    if not descriptions:
        raise not_found(load_balancer_id)
    instance_ports = {
        int(listener["Listener"]["InstancePort"]) for listener in descriptions[0].get("ListenerDescriptions", [])
    }
    for container in task_definition.get("containerDefinitions", []):
        for host_port, container_port in _host_ports(container):
            if host_port in instance_ports:
                attachment = {"containerName": container["name"], "containerPort": container_port, "loadBalancerName": name}
                return [attachment], role_name(load_balancer_id)
    raise Layer0Error(ErrorCode.InvalidLoadBalancerID, NO_MATCHING_CONTAINER, status=400)


# Load balancer type -> how a service attaches to it.
ATTACHMENTS: dict[str, Callable[[str, dict], Attachment]] = {
    CLASSIC: _classic_attachment,
}


def service_attachment(load_balancer_id: str, task_definition: dict) -> Attachment:
    """ECS `loadBalancers` and `role` for a service of `task_definition` (an ECS taskDefinition dict) behind
    this load balancer. Unknown load balancer: 404, code 26; no container listening on a mapped port: 400."""
    kind = load_balancer_type(load_balancer_id)
    attach = ATTACHMENTS.get(kind)
    if attach is None:
        raise Layer0Error(
            ErrorCode.InvalidLoadBalancerID,
            f"Load balancer '{load_balancer_id}' has type '{kind}', which services cannot use yet",
            status=400,
        )
    return attach(load_balancer_id, task_definition)
