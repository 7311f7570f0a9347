"""ECS managed scaling for local mode: what an Auto Scaling group capacity provider does
(docs/architecture.md#local-mode).

moto 5.2.5 stores capacity providers and a cluster's default strategy (CreateCapacityProvider,
PutClusterCapacityProviders), and RunTask accepts a strategy, but nothing acts on them: a task that does not fit
is simply not started, and no group grows. Here, for a cluster whose strategy names a capacity provider with
managed scaling ENABLED:

- RunTask (and the service scheduler, both through ``local.ecs.patches.run_task_placing``) starts every copy: those
  no container instance has room for wait in PROVISIONING, with no instance (``local.ecs.patches.provision``);
- each pass (:meth:`ManagedScaling.sync`, a step of ``Agent.steps`` right after the container instances):
  1. PROVISIONING tasks are placed, oldest first, on instances with room, and go PENDING (then RUNNING on the
     next pass, as any task);
  2. managed scaling (target capacity 100%): the group's desired capacity rises by the instances the tasks still
     waiting need (binpacked on the instance type's CPU and memory; instances launched but not registered yet
     count as room), never past its maximum; a task larger than an empty instance stops at once with a
     stoppedReason that says so (ECS keeps it PROVISIONING a while first);
  3. managed termination protection: an instance with tasks is protected from scale-in; one idle for
     ``scale_in_after`` seconds loses its protection and the desired capacity drops by one, so the group (moto's
     own choice of an unprotected instance) terminates that one and never a busy one. The group never goes below
     its minimum, and does not shrink while a task waits.

Differences from AWS, written down in docs/architecture.md#local-mode: no CloudWatch metric or target tracking
policy (the capacity is computed directly each pass), scale-in after ``scale_in_after`` seconds (60, or
``python -m local --scale-in-after N``; AWS: about 15 minutes of the metric below target), managed draining has
nothing to drain (only idle instances go).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from local.ecs import patches

__all__ = ["ManagedScaling", "SCALE_IN_AFTER_SECONDS", "TOO_LARGE_REASON"]

log = logging.getLogger(__name__)

SCALE_IN_AFTER_SECONDS = 60.0
# `python -m local --scale-in-after N` sets it.
SCALE_IN_AFTER_VARIABLE = "LAYER0_LOCAL_SCALE_IN_SECONDS"
TOO_LARGE_REASON = (
    "Capacity provider {provider}: the task needs {cpu} CPU units and {memory} MiB, more than an empty {type} "
    "instance has, so no instance the group can launch can run it"
)


class ManagedScaling:
    """The capacity providers' managed scaling and termination protection, one pass at a time.

    ``client(service)`` gives boto3 clients, ``backend()`` moto's ECS backend, ``resources(type)`` an instance
    type's (CPU units, MiB), ``clock()`` epoch seconds.
    """

    def __init__(
        self,
        client: Callable[[str], Any],
        backend: Callable[[], Any],
        resources: Callable[[str | None], tuple[int, int] | None],
        clock: Callable[[], float] = time.time,
        scale_in_after: float | None = None,
    ):
        self.client = client
        self.backend = backend
        self.resources = resources
        self.clock = clock
        if scale_in_after is None:
            scale_in_after = float(os.environ.get(SCALE_IN_AFTER_VARIABLE) or SCALE_IN_AFTER_SECONDS)
        self.scale_in_after = scale_in_after
        self._idle_since: dict[str, float] = {}  # EC2 instance id -> when it was first seen without a task
        self._protected: dict[str, bool] = {}  # EC2 instance id -> the protection this set last

    def sync(self, snapshot: Any, result: Any) -> None:
        backend = self.backend()
        for name in snapshot.environments():
            cluster = backend.clusters.get(name)
            if cluster is None:
                continue
            provider = patches.managed_provider(backend, cluster, None, None)
            if provider is None:
                continue
            try:
                self._sync_cluster(backend, cluster, provider, snapshot.groups[name])
            except Exception as error:  # one environment must not stop the others
                result.errors.append(f"{name}: managed scaling: {error!r}")

    def _sync_cluster(self, backend: Any, cluster: Any, provider: str, group: dict) -> None:
        now = self.clock()
        instance_type = self._instance_type(group)
        resources = self.resources(instance_type)
        with patches.ECS_LOCK:
            instances = [i for i in backend.container_instances.get(cluster.name, {}).values() if i.status == "ACTIVE"]
            waiting = self._place(backend, cluster, instances)
            too_large, new_needed = self._plan(waiting, resources)
            for task in too_large:
                reason = TOO_LARGE_REASON.format(
                    provider=provider,
                    cpu=task.resource_requirements.get("CPU", 0),
                    memory=task.resource_requirements.get("MEMORY", 0),
                    type=instance_type,
                )
                task.last_status, task.desired_status, task.stopped_reason = "STOPPED", "STOPPED", reason
                patches.finish_stopped_task(task, "TaskFailedToStart")
                task._l0_failed_to_start = True
            busy = {
                t.container_instance_arn
                for t in backend.tasks.get(cluster.name, {}).values()
                if t.container_instance_arn and t.last_status in ("PENDING", "RUNNING")
            }
            busy_instances = {i.ec2_instance_id for i in instances if i.container_instance_arn in busy}
            registered = {i.ec2_instance_id for i in instances}
        autoscaling = self.client("autoscaling")
        name = group["AutoScalingGroupName"]
        members = [m for m in group.get("Instances", []) if m.get("LifecycleState") in ("InService", "Pending")]
        launching = [m for m in members if m["InstanceId"] not in registered]
        # Scale-out: the instances the waiting tasks need, less those launched and not registered yet.
        grow = new_needed - len(launching)
        if grow > 0:
            desired = min(group["MaxSize"], group["DesiredCapacity"] + grow)
            if desired > group["DesiredCapacity"]:
                autoscaling.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=desired)
            return
        # Managed termination protection: busy instances protected, idle ones not once they have been idle long.
        idle = []
        for member in members:
            instance_id = member["InstanceId"]
            if instance_id not in registered:
                continue
            if instance_id in busy_instances:
                self._idle_since.pop(instance_id, None)
                self._protect(autoscaling, name, instance_id, member, True)
            else:
                since = self._idle_since.setdefault(instance_id, now)
                if now - since >= self.scale_in_after:
                    idle.append(member)
        if waiting or not idle or group["DesiredCapacity"] <= group["MinSize"]:
            return
        chosen = sorted(idle, key=lambda m: m["InstanceId"])[0]
        self._protect(autoscaling, name, chosen["InstanceId"], chosen, False)
        autoscaling.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=group["DesiredCapacity"] - 1)
        self._idle_since.pop(chosen["InstanceId"], None)
        log.debug("managed scaling: %s scales in, %s idle", name, chosen["InstanceId"])

    def _protect(self, autoscaling: Any, group: str, instance_id: str, member: dict, protected: bool) -> None:
        if member.get("ProtectedFromScaleIn") == protected and self._protected.get(instance_id) == protected:
            return
        autoscaling.set_instance_protection(
            AutoScalingGroupName=group, InstanceIds=[instance_id], ProtectedFromScaleIn=protected
        )
        self._protected[instance_id] = protected

    def _instance_type(self, group: dict) -> str | None:
        """The type the group launches: its launch template's (the group may have no instance yet)."""
        template = group.get("LaunchTemplate") or {}
        if not template.get("LaunchTemplateName"):
            return next((m["InstanceType"] for m in group.get("Instances", []) if m.get("InstanceType")), None)
        versions = self.client("ec2").describe_launch_template_versions(
            LaunchTemplateName=template["LaunchTemplateName"], Versions=[template.get("Version") or "$Latest"]
        )["LaunchTemplateVersions"]
        return versions[0]["LaunchTemplateData"].get("InstanceType") if versions else None

    @staticmethod
    def _place(backend: Any, cluster: Any, instances: list) -> list:
        """Place the PROVISIONING tasks that fit, oldest first; returns those still waiting."""
        waiting = sorted(
            (
                t
                for t in backend.tasks.get(cluster.name, {}).values()
                if t.last_status == patches.PROVISIONING and t.desired_status == "RUNNING"
            ),
            key=lambda t: t.created_at,
        )
        left = []
        for task in waiting:
            target = next((i for i in instances if backend._can_be_placed(i, task.resource_requirements)), None)
            if target is None:
                left.append(task)
                continue
            backend.update_container_instance_resources(target, task.resource_requirements)
            task.container_instance_arn = target.container_instance_arn
            task.last_status = "PENDING"
        return left

    @staticmethod
    def _plan(waiting: list, resources: tuple[int, int] | None) -> tuple[list, int]:
        """(tasks no empty instance holds, new instances the rest need), binpacked on CPU and memory."""
        if resources is None:
            return [], 1 if waiting else 0
        cpu, memory = resources
        too_large: list = []
        room: list[tuple[int, int]] = []  # the free (CPU, MiB) of each new instance
        for task in waiting:
            need_cpu = task.resource_requirements.get("CPU", 0)
            need_memory = task.resource_requirements.get("MEMORY", 0)
            if need_cpu > cpu or need_memory > memory:
                too_large.append(task)
                continue
            for index, (free_cpu, free_memory) in enumerate(room):
                if need_cpu <= free_cpu and need_memory <= free_memory:
                    room[index] = (free_cpu - need_cpu, free_memory - need_memory)
                    break
            else:
                room.append((cpu - need_cpu, memory - need_memory))
        return too_large, len(room)
