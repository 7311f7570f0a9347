"""The ECS agent simulation of local mode (docs/architecture.md#local-mode).

On AWS, the ECS agent on every instance of an environment's Auto Scaling group registers the instance in the
environment's cluster, with the CPU and memory of its instance type, and the instance leaves the cluster when it
is terminated. moto runs no agent, so without this module its clusters stay empty and ``run_task`` with the EC2
launch type fails with "No instances found in cluster".

:class:`Agent` reconciles, for every Layer0 environment (an ASG and an ECS cluster both named
``l0-<prefix>-<id>``), the cluster's container instances with the group's instances:

- an InService or Pending instance that is not registered yet is registered
  (``register_container_instance`` with its identity document and ``totalResources``: CPU = vCPUs × 1024, MEMORY =
  the type's MiB, the agent's reserved ports);
- a container instance whose EC2 instance is terminated, gone or no longer in the group is deregistered
  (``force=True``), after its running tasks are stopped as ECS does ("Host EC2 (instance …) terminated.");
- a Layer0 cluster without its group, or an INACTIVE (deleted) cluster, keeps no container instance.

Each pass (:meth:`Agent.sync_once`, deterministic) then runs, in order, the other reconcilers of ``Agent.steps``:
what the ECS agents and the service scheduler do to tasks and services (:mod:`local.ecs.simulation`: PENDING →
RUNNING, ``sleep N``, failing images, log lines, deployments, circuit breaker; before the service scheduler,
Application Auto Scaling's changes of desired counts, :mod:`local.ecs.autoscaling`), and EventBridge Scheduler's due
one-time schedules (:mod:`local.schedules`: the debounced scaler runs). ``clock`` (epoch seconds) is their time;
tests pass a fake one. :meth:`Agent.start` runs passes on a daemon thread until :meth:`Agent.stop`. Local mode
only: this is not Lambda code.

Container instances are reconciled through the public API (boto3 clients), against moto in process
(``mock_aws``) or the local moto server; the task and service simulation changes moto's ECS objects in this
process, since only ECS itself changes those. An Agent applies the ECS moto patches it needs
(``local.ecs.patches.apply``: totalResources, task status, RunTask failures, StopTask, services) unless told not
to; :func:`unpatch_moto_total_resources` undoes them (for tests).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from local.ecs import patches
from local.ecs.autoscaling import TargetTracking
from local.ecs.capacity import ManagedScaling
from local.ecs.events import EventEmitter
from local.ecs.fargate import FargateNetworking
from local.ecs.simulation import EcsSimulation
from local.schedules import ScheduleRunner

__all__ = [
    "Agent",
    "Snapshot",
    "SyncResult",
    "RESERVED_PORTS",
    "default_client_factory",
    "EcsSimulation",
    "ScheduleRunner",
    "patch_moto_total_resources",
    "unpatch_moto_total_resources",
]

log = logging.getLogger(__name__)

# The ports the ECS agent reserves on every container instance (SSH, Docker, the agent and its introspection API).
RESERVED_PORTS = ("22", "2375", "2376", "51678", "51679")
# ASG lifecycle states in which an instance is (or is about to be) running its agent.
_REGISTER_STATES = frozenset({"InService", "Pending", "Pending:Wait", "Pending:Proceed"})
# ASG lifecycle states after which the instance no longer serves its cluster.
_GONE_STATES_PREFIXES = ("Terminating", "Terminated", "Detaching", "Detached")
_EC2_LIVE_STATES = frozenset({"pending", "running"})
_EC2_GONE_STATES = frozenset({"shutting-down", "terminated"})
_CLUSTER_GONE_CODES = frozenset({"ClusterNotFoundException"})

ClientFactory = Callable[[str], Any]


def default_client_factory(service: str, endpoint_url: str | None = None, region: str | None = None) -> Any:
    """A boto3 client with short timeouts, for `endpoint_url` or else `AWS_ENDPOINT_URL` (what everything uses)."""
    import boto3
    from botocore.config import Config

    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-west-2"
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None,
        config=Config(retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=2, read_timeout=10),
    )


@dataclass
class Snapshot:
    """What one pass saw: the environments' groups and clusters, and the group instances' EC2 view."""

    groups: dict[str, dict]  # ASG name -> describe_auto_scaling_groups entry, Layer0 groups only
    clusters: dict[str, str]  # cluster name -> status, Layer0 clusters only
    ec2: dict[str, dict]  # instance id -> describe_instances entry, for the instances of `groups`

    def environments(self) -> list[str]:
        """Names with both an ACTIVE cluster and a group."""
        return sorted(name for name, status in self.clusters.items() if status == "ACTIVE" and name in self.groups)


@dataclass
class SyncResult:
    """What one pass changed: (cluster, EC2 instance id) pairs, and the errors it logged and went past."""

    registered: list[tuple[str, str]] = field(default_factory=list)
    deregistered: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _error_code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code", "")
    return ""


class Agent:
    """Registers an environment's ASG instances in its cluster and deregisters them when they go; then runs the
    ECS simulation (``self.simulation``) and the due schedules (``self.schedules``).

    ``client_factory(service)`` returns a boto3 client; ``prefix`` is the stack's prefix (names ``l0-<prefix>-*``);
    ``clock()`` is the time in epoch seconds (``sleep N``, schedules). ``patch_moto=False`` leaves moto as it is:
    only for callers that applied ``local.ecs.patches.apply()`` themselves.
    """

    def __init__(
        self,
        client_factory: ClientFactory | None = None,
        prefix: str = "l0",
        *,
        patch_moto: bool = True,
        clock: Callable[[], float] = time.time,
        events_function: str | None = None,
    ):
        self.prefix = prefix
        self.name_prefix = f"l0-{prefix}-"
        self._factory = client_factory or default_client_factory
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._sync_lock = threading.Lock()  # one pass at a time: a manual sync_once and the thread never overlap
        self._instance_types: dict[str, tuple[int, int]] = {}  # type -> (CPU units, MiB)
        self._architectures: dict[str, str] = {}  # type -> arm64 | x86_64
        # The clusters the last pass found ACTIVE: ListClusters leaves a deleted cluster out (as ECS does, after a
        # while; local/moto_patches.py at once), so the next pass describes these too and empties the deleted ones.
        self._active_clusters: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error: str | None = None
        # Reconcilers run in order on every pass; each takes the pass's Snapshot and its SyncResult.
        # Instances first, then what the agents do to tasks, then the service scheduler (so a task it places
        # this pass starts on the next one, as on AWS), then EventBridge Scheduler's due schedules.
        self.simulation = EcsSimulation(self.client, clock)
        self.schedules = ScheduleRunner(self.client, clock)
        # Application Auto Scaling's changes of desired counts (local/ecs/autoscaling.py), before the service
        # scheduler, so that a new count gets its tasks in the same pass.
        self.autoscaling = TargetTracking(self.client, self.name_prefix, clock, events_function)
        # Fargate tasks' network interfaces and target registrations (local/ecs/fargate.py), once tasks moved.
        self.fargate = FargateNetworking(self.client, self.simulation.backend)
        # What capacity providers with managed scaling do (local/ecs/capacity.py): after the instances register.
        self.managed_scaling = ManagedScaling(self.client, self.simulation.backend, self._resources_of, clock)
        self.steps: list[Callable[[Snapshot, SyncResult], None]] = [
            self._sync_container_instances,
            self._guarded(self.managed_scaling.sync),
            self._guarded(self.simulation.sync_tasks),
            self._guarded(self.fargate.sync),
            self._guarded(self.autoscaling.sync),
            self._guarded(self.simulation.sync_services),
            self._guarded(self.schedules.run_due),
        ]
        # ECS events to the events function, as EventBridge delivers them on AWS (local/ecs/events.py): after the
        # steps that change tasks.
        self.events: EventEmitter | None = None
        if events_function:
            self.events = EventEmitter(self.client, self.simulation.backend, events_function, clock)
            self.steps.insert(len(self.steps) - 1, self._guarded(self.events.sync))  # before the schedules
        if patch_moto:
            patch_moto_total_resources()

    # ----------------------------------------------------------------------------------------------------------
    # clients
    # ----------------------------------------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = self._factory(service)
            return self._clients[service]

    def _guarded(self, step: Callable[[Snapshot, SyncResult], None]) -> Callable[[Snapshot, SyncResult], None]:
        """A step whose failure (moto unreachable, a bug) is noted in the result, and the next steps still run."""

        def guarded(snapshot: Snapshot, result: SyncResult) -> None:
            try:
                step(snapshot, result)
            except Exception as error:  # noqa: BLE001 - reported in the result and logged, never fatal to the pass
                message = f"{getattr(step, '__name__', step)}: {error!r}"
                result.errors.append(message)
                self._note_error(message)

        guarded.__name__ = getattr(step, "__name__", "step")
        return guarded

    # ----------------------------------------------------------------------------------------------------------
    # the loop
    # ----------------------------------------------------------------------------------------------------------

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, interval: float = 1.0) -> Agent:
        """Run :meth:`sync_once` every ``interval`` seconds on a daemon thread, until :meth:`stop`."""
        if self.running:
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(interval,), name="local-ecs-agent", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the thread and wait for it: at most the end of the pass in progress."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("ECS agent simulation still busy %.0f s after stop", timeout)

    def _run(self, interval: float) -> None:
        while not self._stop.is_set():
            try:
                self.sync_once()
            except Exception as error:  # never let the thread die; say so once per distinct failure
                self._note_error(f"pass failed: {error!r}")
            self._stop.wait(interval)

    def _note_error(self, message: str) -> None:
        if message != self._last_error:
            log.warning("ECS agent simulation: %s", message)
            self._last_error = message
        else:
            log.debug("ECS agent simulation: %s", message)

    # ----------------------------------------------------------------------------------------------------------
    # one pass
    # ----------------------------------------------------------------------------------------------------------

    def sync_once(self) -> SyncResult:
        """One reconciliation pass over every Layer0 environment. Errors of one environment don't stop the others."""
        with self._sync_lock:
            result = SyncResult()
            snapshot = self.snapshot()
            for step in self.steps:
                step(snapshot, result)
            if not result.errors:
                self._last_error = None
            return result

    def snapshot(self) -> Snapshot:
        groups = self._groups()
        clusters = self._clusters()
        instance_ids = sorted({i["InstanceId"] for group in groups.values() for i in group.get("Instances", [])})
        return Snapshot(groups=groups, clusters=clusters, ec2=self._ec2_instances(instance_ids))

    def _groups(self) -> dict[str, dict]:
        paginator = self.client("autoscaling").get_paginator("describe_auto_scaling_groups")
        return {
            group["AutoScalingGroupName"]: group
            for page in paginator.paginate()
            for group in page.get("AutoScalingGroups", [])
            if group["AutoScalingGroupName"].startswith(self.name_prefix)
        }

    def _clusters(self) -> dict[str, str]:
        ecs = self.client("ecs")
        listed = {
            name
            for page in ecs.get_paginator("list_clusters").paginate()
            for name in (arn.split("/")[-1] for arn in page.get("clusterArns", []))
            if name.startswith(self.name_prefix)
        }
        statuses: dict[str, str] = {}
        for chunk in _chunks(sorted(listed | self._active_clusters), 100):
            for cluster in ecs.describe_clusters(clusters=chunk).get("clusters", []):
                statuses[cluster["clusterName"]] = cluster.get("status", "ACTIVE")
        self._active_clusters = {name for name, status in statuses.items() if status == "ACTIVE"}
        return statuses

    def _ec2_instances(self, instance_ids: list[str]) -> dict[str, dict]:
        """The EC2 view of these instances; a filter, so that an id EC2 no longer knows is simply absent."""
        found: dict[str, dict] = {}
        ec2 = self.client("ec2")
        for chunk in _chunks(instance_ids, 100):
            paginator = ec2.get_paginator("describe_instances")
            for page in paginator.paginate(Filters=[{"Name": "instance-id", "Values": chunk}]):
                for reservation in page.get("Reservations", []):
                    for instance in reservation.get("Instances", []):
                        found[instance["InstanceId"]] = instance
        return found

    # ----------------------------------------------------------------------------------------------------------
    # container instances
    # ----------------------------------------------------------------------------------------------------------

    def _sync_container_instances(self, snapshot: Snapshot, result: SyncResult) -> None:
        # Every Layer0 cluster is reconciled: one without its group, or deleted, must end with no instance.
        for cluster in sorted(snapshot.clusters):
            try:
                self._sync_cluster(cluster, snapshot, result)
            except (ClientError, BotoCoreError) as error:
                if _error_code(error) in _CLUSTER_GONE_CODES:
                    log.debug("cluster %s went away during the pass", cluster)
                    continue
                message = f"{cluster}: {error}"
                result.errors.append(message)
                self._note_error(message)

    def _sync_cluster(self, cluster: str, snapshot: Snapshot, result: SyncResult) -> None:
        group = snapshot.groups.get(cluster) if snapshot.clusters[cluster] == "ACTIVE" else None
        to_register: dict[str, dict] = {}  # EC2 id -> the group's view of it
        to_keep: set[str] = set()
        for member in (group or {}).get("Instances", []):
            instance_id, state = member["InstanceId"], member.get("LifecycleState", "")
            ec2_state = snapshot.ec2.get(instance_id, {}).get("State", {}).get("Name")
            if ec2_state is None or ec2_state in _EC2_GONE_STATES or state.startswith(_GONE_STATES_PREFIXES):
                continue
            to_keep.add(instance_id)
            if state in _REGISTER_STATES and ec2_state in _EC2_LIVE_STATES:
                to_register[instance_id] = member

        registered = self._registered(cluster)  # EC2 id -> container instance ARNs
        for instance_id in sorted(to_register.keys() - registered.keys()):
            self._register(cluster, instance_id, to_register[instance_id], snapshot.ec2[instance_id], result)
        for instance_id in sorted(registered.keys() - to_keep):
            for arn in registered[instance_id]:
                self._deregister(cluster, instance_id, arn, result)

    def _registered(self, cluster: str) -> dict[str, list[str]]:
        ecs = self.client("ecs")
        arns = [
            arn
            for page in ecs.get_paginator("list_container_instances").paginate(cluster=cluster)
            for arn in page.get("containerInstanceArns", [])
        ]
        by_instance: dict[str, list[str]] = {}
        for chunk in _chunks(arns, 100):
            described = ecs.describe_container_instances(cluster=cluster, containerInstances=chunk)
            for container_instance in described.get("containerInstances", []):
                by_instance.setdefault(container_instance.get("ec2InstanceId", ""), []).append(
                    container_instance["containerInstanceArn"]
                )
        return by_instance

    def _register(self, cluster: str, instance_id: str, member: dict, instance: dict, result: SyncResult) -> None:
        instance_type = instance.get("InstanceType") or member.get("InstanceType")
        resources = self._resources_of(instance_type)
        if resources is None:
            message = f"{cluster}: unknown instance type {instance_type!r} of {instance_id}, not registered"
            result.errors.append(message)
            self._note_error(message)
            return
        cpu, memory = resources
        ecs = self.client("ecs")
        document = {
            "instanceId": instance_id,
            "region": ecs.meta.region_name,
            "instanceType": instance_type,
            "availabilityZone": instance.get("Placement", {}).get("AvailabilityZone") or member.get("AvailabilityZone"),
        }
        registered = ecs.register_container_instance(
            cluster=cluster,
            instanceIdentityDocument=json.dumps(document),
            totalResources=[
                {"name": "CPU", "type": "INTEGER", "integerValue": cpu},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": memory},
                {"name": "PORTS", "type": "STRINGSET", "stringSetValue": list(RESERVED_PORTS)},
                {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []},
            ],
        )["containerInstance"]
        # The agent's own attribute, which placement constraints on the architecture match.
        ecs.put_attributes(
            cluster=cluster,
            attributes=[
                {
                    "name": "ecs.cpu-architecture",
                    "value": self._architectures.get(instance_type or "", "x86_64"),
                    "targetId": registered["containerInstanceArn"],
                }
            ],
        )
        result.registered.append((cluster, instance_id))
        log.debug("registered %s (%s) in %s", instance_id, instance_type, cluster)

    def _deregister(self, cluster: str, instance_id: str, arn: str, result: SyncResult) -> None:
        ecs = self.client("ecs")
        # As on AWS, the tasks of a terminated host stop. (moto would also "orphan" them on a forced
        # deregistration, and a later stop_task of such a task fails.)
        running = [
            task
            for page in ecs.get_paginator("list_tasks").paginate(
                cluster=cluster, containerInstance=arn, desiredStatus="RUNNING"
            )
            for task in page.get("taskArns", [])
        ]
        for task in running:
            ecs.stop_task(cluster=cluster, task=task, reason=f"Host EC2 (instance {instance_id}) terminated.")
        ecs.deregister_container_instance(cluster=cluster, containerInstance=arn, force=True)
        result.deregistered.append((cluster, instance_id))
        log.debug("deregistered %s from %s", instance_id, cluster)

    def _resources_of(self, instance_type: str | None) -> tuple[int, int] | None:
        """(CPU units, memory MiB) of an instance type, from DescribeInstanceTypes; cached."""
        if not instance_type:
            return None
        if instance_type not in self._instance_types:
            try:
                types = self.client("ec2").describe_instance_types(InstanceTypes=[instance_type])["InstanceTypes"]
            except ClientError as error:
                if _error_code(error).startswith("InvalidInstanceType"):
                    return None
                raise
            if not types:
                return None
            described = types[0]
            supported = described.get("ProcessorInfo", {}).get("SupportedArchitectures", [])
            self._architectures[instance_type] = "arm64" if "arm64" in supported else "x86_64"
            self._instance_types[instance_type] = (
                int(described["VCpuInfo"]["DefaultVCpus"]) * 1024,
                int(described["MemoryInfo"]["SizeInMiB"]),
            )
        return self._instance_types[instance_type]


# --------------------------------------------------------------------------------------------------------------
# moto fidelity: the ECS patches the simulation needs (local/ecs/patches.py)
# --------------------------------------------------------------------------------------------------------------


def patch_moto_total_resources() -> None:
    """Apply the ECS moto patches (``local.ecs.patches.apply``): totalResources, task status, RunTask failures,
    StopTask, services. The name is historical (the first patch); tests that create an Agent undo them all with
    :func:`unpatch_moto_total_resources`."""
    patches.apply()


def unpatch_moto_total_resources() -> None:
    """Undo every ECS moto patch (``local.ecs.patches.revert``). Idempotent."""
    patches.revert()
