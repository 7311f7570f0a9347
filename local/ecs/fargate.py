"""Fargate in local mode's ECS simulation (docs/architecture.md#local-mode, docs/compatibility.md#fargate-environments).

On AWS a Fargate task needs no container instance: ECS gives it an elastic network interface in the subnet of its
awsvpc configuration, with its security groups, registers the interface's IP with the target groups of its
service's load balancers once it runs, and deletes the interface after it stops. moto (``run_task`` with a FARGATE
capacity provider) already places such a task without an instance and makes its interface, but never frees the
interface, registers nothing, and its service scheduler is the simulation's (local/ecs/simulation.py), which
places EC2 tasks. This module adds, as two small hooks:

- :func:`run_options`, for the service scheduler: a service whose task definition requires FARGATE is placed
  through its cluster's capacity provider strategy, in the service's awsvpc configuration (moto keeps the
  service's network configuration, not its strategy; Layer0 gives both the cluster's);
- :class:`FargateNetworking.sync`, an agent step after the tasks' own: a RUNNING Fargate task's IP is registered
  with its service's ``ip`` target groups; a STOPPED one's is deregistered and its interface deleted; an interface
  moto made for a task that no longer exists is deleted too (a deleted cluster's).

PENDING → RUNNING, logs, ``sleep N`` and failing images are the same as for EC2 tasks (the simulation's
``sync_tasks``, which walks every Layer0 cluster's tasks whether or not they have an instance).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from local.ecs import patches

# AWS's own capacity providers of Fargate: a strategy naming them is placed by run_options, not by the group's.
CAPACITY_PROVIDERS = ("FARGATE", "FARGATE_SPOT")

__all__ = ["FargateNetworking", "is_fargate_definition", "run_options", "task_ip"]

log = logging.getLogger(__name__)

# moto describes the interfaces it makes for awsvpc tasks so.
MOTO_TASK_INTERFACE = "moto ECS"


def is_fargate_definition(definition: Any) -> bool:
    return "FARGATE" in (getattr(definition, "requires_compatibilities", None) or [])


def run_options(backend: Any, cluster: Any, service: Any, task_definition: str) -> dict:
    """``run_task_placing`` options for a service's tasks: FARGATE ones through the cluster's strategy, in the
    service's awsvpc configuration; {} for EC2 ones (the caller's launch type)."""
    if not is_fargate_definition(backend.describe_task_definition(task_definition)):
        return {}
    strategy = cluster.default_capacity_provider_strategy or [{"capacityProvider": "FARGATE", "weight": 1}]
    return {
        "launch_type": None,
        "capacity_provider_strategy": strategy,
        "networking_configuration": getattr(service, "network_configuration", None) or None,
    }


def _detail(task: Any, name: str) -> str:
    for attachment in getattr(task, "attachments", None) or []:
        for detail in attachment.get("details", []):
            if detail.get("name") == name:
                return detail.get("value", "")
    return ""


def task_ip(task: Any) -> str:
    """The private IP of an awsvpc task's interface ("" without one)."""
    return _detail(task, "privateIPv4Address")


class FargateNetworking:
    """The interfaces and target registrations of Fargate tasks. ``client(service)`` gives boto3 clients;
    ``backend()`` moto's ECS backend."""

    def __init__(self, client: Callable[[str], Any], backend: Callable[[], Any]):
        self.client = client
        self.backend = backend

    def sync(self, snapshot: Any, result: Any) -> None:
        backend = self.backend()
        register: list[tuple[str, str, int]] = []  # (target group, IP, port)
        deregister: list[tuple[str, str, int]] = []
        release: list[str] = []  # interface ids
        live_interfaces: set[str] = set()
        with patches.ECS_LOCK:  # read and mark under the lock; call moto after it (never across an HTTP call)
            for cluster_name, tasks in list(backend.tasks.items()):
                for task in list(tasks.values()):
                    interface = _detail(task, "networkInterfaceId")
                    if interface and task.last_status != "STOPPED":
                        live_interfaces.add(interface)
                    if not interface or task.container_instance_arn:
                        continue
                    if task.last_status == "RUNNING" and not hasattr(task, "_l0_targets"):
                        task._l0_targets = self._targets(backend, cluster_name, task)
                        register.extend(task._l0_targets)
                    elif task.last_status == "STOPPED" and not getattr(task, "_l0_released", False):
                        task._l0_released = True
                        deregister.extend(getattr(task, "_l0_targets", []))
                        release.append(interface)
        elbv2, ec2 = self.client("elbv2"), self.client("ec2")
        for group, ip, port in register:
            self._call(result, elbv2.register_targets, TargetGroupArn=group, Targets=[{"Id": ip, "Port": port}])
        for group, ip, port in deregister:
            self._call(result, elbv2.deregister_targets, TargetGroupArn=group, Targets=[{"Id": ip, "Port": port}])
        for page in ec2.get_paginator("describe_network_interfaces").paginate(
            Filters=[{"Name": "description", "Values": [MOTO_TASK_INTERFACE]}]
        ):
            for found in page["NetworkInterfaces"]:
                if found["NetworkInterfaceId"] not in live_interfaces:
                    release.append(found["NetworkInterfaceId"])
        for interface in dict.fromkeys(release):
            self._call(result, ec2.delete_network_interface, NetworkInterfaceId=interface)

    @staticmethod
    def _targets(backend: Any, cluster_name: str, task: Any) -> list[tuple[str, str, int]]:
        """(target group, IP, container port) for each `ip` target group of the task's service."""
        group = getattr(task, "group", "") or ""
        if not group.startswith("service:"):
            return []
        service = backend.services.get(f"{cluster_name}:{group.removeprefix('service:')}")
        ip = task_ip(task)
        if service is None or not ip:
            return []
        return [
            (lb["targetGroupArn"], ip, int(lb["containerPort"]))
            for lb in service.load_balancers or []
            if lb.get("targetGroupArn") and lb.get("containerPort")
        ]

    @staticmethod
    def _call(result: Any, call: Callable[..., Any], **params: Any) -> None:
        try:
            call(**params)
        except Exception as error:  # noqa: BLE001 - one failure must not stop the others; the pass reports it
            code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
            if code in ("InvalidNetworkInterfaceID.NotFound", "TargetGroupNotFound"):
                return  # gone already
            result.errors.append(f"fargate: {call.__name__}: {error!r}")
