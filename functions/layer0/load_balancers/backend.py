"""What a load-balancer type implements: one module per type (`classic`, `application`), the same functions.

The package (`layer0.load_balancers`) checks the request (inputs.py), claims the name, makes the security
groups and keeps the tags; a backend makes and reads the load balancer itself. Every delete function is
idempotent: it succeeds when there is nothing (left) to delete, because a job reruns its steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from layer0.errors import ErrorCode, Layer0Error
from layer0.load_balancers.inputs import Listener
from layer0.models import HealthCheck

NO_MATCHING_CONTAINER = "No containers defined that listen on a port that is mapped by the load balancer"


def not_found(load_balancer_id: str) -> Layer0Error:
    return Layer0Error(ErrorCode.LoadBalancerDoesNotExist, f"Load balancer with id '{load_balancer_id}' does not exist")


def no_matching_container() -> Layer0Error:
    return Layer0Error(ErrorCode.InvalidLoadBalancerID, NO_MATCHING_CONTAINER, status=400)


def host_ports(container: dict) -> list[tuple[int, int]]:
    """(hostPort, containerPort) of each mapping that has a host port: a mapping without one (a dynamic port)
    cannot be the target of a listener's fixed instance port."""
    found = []
    for mapping in container.get("portMappings") or []:
        host_port = mapping.get("hostPort")
        if host_port:
            found.append((int(host_port), int(mapping.get("containerPort") or host_port)))
    return found


# ECS `loadBalancers` entries for CreateService. No `role`: ECS uses its service-linked role (AWSServiceRoleForECS).
Attachment = list[dict]


@dataclass(frozen=True)
class Spec:
    """A load balancer to create, every input already checked."""

    load_balancer_id: str
    name: str  # the AWS name, l0-<prefix>-<id>
    is_public: bool
    subnets: list[str]
    security_groups: list[str]  # [the public `-lb` group if public, the environment's `-env` group]
    listeners: list[Listener]
    health_check: HealthCheck  # normalised by inputs.health_check
    idle_timeout: int
    cross_zone: bool


@dataclass
class Observed:
    """A load balancer as AWS describes it."""

    listeners: list[Listener]
    health_check: HealthCheck
    idle_timeout: int
    cross_zone: bool
    is_public: bool
    url: str  # the DNS name
    security_groups: list[str] = field(default_factory=list)


class Backend(Protocol):
    """The functions of `layer0.load_balancers.classic` and `layer0.load_balancers.application`."""

    def create(self, spec: Spec) -> None:
        """Create the load balancer and everything it needs (application: target groups and listeners), then its
        health check, idle timeout and cross-zone setting. On failure the package rolls back with the delete
        functions."""

    def describe(self, load_balancer_id: str) -> Observed | None:
        """None when AWS does not know it."""

    def names(self) -> list[str]:
        """AWS names of every load balancer of this type whose name starts with l0-<prefix>- (all pages)."""

    def change_listeners(self, load_balancer_id: str, remove: list[Listener], add: list[Listener],
                         health_check: HealthCheck, cross_zone: bool) -> None:  # fmt: skip
        """Delete the listeners `remove`, then create `add` (an application LB gives new target groups the
        current health check and cross-zone setting)."""

    def set_health_check(self, load_balancer_id: str, health_check: HealthCheck) -> None: ...

    def set_idle_timeout(self, load_balancer_id: str, seconds: int) -> None: ...

    def set_cross_zone(self, load_balancer_id: str, enabled: bool) -> None: ...

    def attachment(self, load_balancer_id: str, task_definition: dict) -> Attachment:
        """ECS `loadBalancers` for a service of `task_definition` (an ECS taskDefinition dict):
        the FIRST container with a port mapping whose hostPort is a listener's instance port
        (docs/compatibility.md#services).
        Unknown load balancer: load_balancers.not_found; no matching container: 400, code 10."""

    def delete_routing(self, load_balancer_id: str) -> dict:
        """Classic: a legacy IAM role's policies, then the role. Application: the listeners, then the target
        groups."""

    def delete_load_balancer(self, load_balancer_id: str) -> dict: ...
