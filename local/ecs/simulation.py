"""What ECS does once a task is placed, and what its service scheduler does, for local mode
(docs/architecture.md#local-mode).

moto places tasks (``run_task``) but runs nothing: no container starts, none exits, none logs, and services get
no task at all. :class:`EcsSimulation` does, one deterministic pass at a time (``Agent.steps`` calls it):

:meth:`EcsSimulation.sync_tasks` — the ECS agent on the instances:

- a PENDING task's containers start on the next pass, in their ``dependsOn`` order (over more passes when they
  wait for a dependency to exit or be healthy); the task is RUNNING (``startedAt``) once none waits, and each
  container with an ``awslogs`` log configuration writes a few lines to ``<awslogs-group>`` /
  ``<awslogs-stream-prefix>/<container name>/<task id>``;
- a task whose containers name a secret or SSM parameter that does not exist stops at once with ECS's
  ``ResourceInitializationError`` (stop code TaskFailedToStart); a container that starts logs the names of its
  secrets (:mod:`local.ecs.secrets`);
- a container whose image name contains ``fail`` cannot be pulled: its task stops at once
  (``CannotPullContainerError``, stop code TaskFailedToStart), which is how failed rollouts are tested;
- a container whose effective command (``entryPoint`` + ``command``, with ``$VAR``/``${VAR}`` expanded from the
  container's environment and the RunTask overrides) is ``sleep N`` exits 0 N seconds after it started
  (``exit C``, ``sleep N; exit C`` and the like exit C); when it is essential and its ``restartPolicy`` does not
  restart it, the task stops, "Essential container in task exited"; any other runs until stopped;
- health checks pass, or fail when they say ``unhealthy``, and restart policies restart containers in place:
  :mod:`local.ecs.containers`.

:meth:`EcsSimulation.sync_services` — the ECS service scheduler, for every ACTIVE service of an ACTIVE cluster:

- the PRIMARY deployment gets tasks (moto's ``run_task``: placement respects memory, CPU and ports;
  ``startedBy`` = the deployment id, ``group`` = ``service:<name>``) until running + pending = desired, and
  loses the extra ones when desired drops; copies that cannot be placed are simply missing, with an event;
- deployment and service counts are those of the real tasks; once the PRIMARY runs its desired count, the older
  deployments' tasks stop, those deployments go and the rollout is COMPLETED;
- a task whose health checks fail is stopped ("Task failed container health checks") and replaced; a rollout
  completes once its tasks with health checks are HEALTHY;
- the circuit breaker (``deploymentConfiguration.deploymentCircuitBreaker``): tasks that stop before running, or
  fail their health checks, count as ``failedTasks``; at ECS's threshold the rollout FAILS and, with rollback, a
  new PRIMARY deployment of the last COMPLETED task definition starts;
- tasks of deleted services, or of deployments no longer there, stop;
- the service's ``events`` say what happened, in ECS's words.

The changes only ECS makes (task status, deployments) have no public API, so this works on moto's ECS backend
in this process (local mode's moto server and ``mock_aws`` both run here), under ``local.ecs.patches.ECS_LOCK``;
the logs go through the CloudWatch Logs API. The moto patches it relies on: ``local.ecs.patches.apply()``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import math
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local.ecs import containers, fargate, patches, secrets

__all__ = [
    "EcsSimulation",
    "LogLine",
    "circuit_breaker_threshold",
    "effective_command",
    "log_stream",
]

log = logging.getLogger(__name__)

ESSENTIAL_EXITED = "Essential container in task exited"
UNHEALTHY_STOPPED = "Task failed container health checks"
CIRCUIT_BREAKER_FAILED = "ECS deployment circuit breaker: tasks failed to start."
_EVENTS_KEPT = 100
_LIVE = ("PROVISIONING", "PENDING", "RUNNING")
_SERVICE_TASK_PREFIX = "ecs-svc/"
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def circuit_breaker_threshold(desired: int) -> int:
    """ECS's failed-task threshold: half the desired count, rounded up, at least 3 and at most 200."""
    return min(200, max(3, math.ceil(0.5 * desired)))


def _expand(argument: str, environment: dict[str, str]) -> str:
    return _VARIABLE.sub(lambda match: environment.get(match.group(1) or match.group(2), ""), argument)


def effective_command(definition: dict, overrides: dict | None = None) -> list[str]:
    """The argv a container runs: entryPoint + command, variables expanded, after the RunTask overrides."""
    override: dict = next(
        (o for o in (overrides or {}).get("containerOverrides") or [] if o.get("name") == definition.get("name")),
        {},
    )
    environment = {e["name"]: e.get("value", "") for e in definition.get("environment") or []}
    environment.update({e["name"]: e.get("value", "") for e in override.get("environment") or []})
    command = override.get("command") or definition.get("command") or []
    return [_expand(str(argument), environment) for argument in [*(definition.get("entryPoint") or []), *command]]


def log_stream(definition: dict, task_id: str) -> tuple[str, str] | None:
    """(group, stream) of a container's awslogs configuration, ``<prefix>/<container>/<task id>``; else None."""
    configuration = definition.get("logConfiguration") or {}
    options = configuration.get("options") or {}
    if configuration.get("logDriver") != "awslogs" or not options.get("awslogs-group"):
        return None
    prefix = options.get("awslogs-stream-prefix")
    stream = f"{prefix}/{definition.get('name')}/{task_id}" if prefix else task_id
    return options["awslogs-group"], stream


@dataclass(frozen=True)
class LogLine:
    group: str
    stream: str
    timestamp_ms: int
    message: str


def _task_id(task: Any) -> str:
    return task.task_arn.split("/")[-1]


def _datetime(seconds: float) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(seconds, tz=_dt.UTC)


class EcsSimulation:
    """The ECS agents and the service scheduler. ``client(service)`` gives boto3 clients; ``clock()`` epoch seconds."""

    def __init__(self, client: Callable[[str], Any], clock: Callable[[], float] = time.time):
        self.client = client
        self.clock = clock
        self._account: str | None = None
        self._streams: set[tuple[str, str]] = set()

    # ----------------------------------------------------------------------------------------------------------
    # moto
    # ----------------------------------------------------------------------------------------------------------

    def backend(self) -> Any:
        from moto.ecs.models import ecs_backends

        if self._account is None:
            self._account = self.client("sts").get_caller_identity()["Account"]
        return ecs_backends[self._account][self.client("ecs").meta.region_name]

    def _definitions(self, backend: Any, task: Any) -> list[dict]:
        return backend.describe_task_definition(task.task_definition_arn).container_definitions

    # ----------------------------------------------------------------------------------------------------------
    # tasks: what the agents do
    # ----------------------------------------------------------------------------------------------------------

    def sync_tasks(self, snapshot: Any, result: Any) -> None:
        """Start PENDING tasks (or fail those whose image cannot be pulled), and move their containers on: exits,
        restarts, health (local/ecs/containers.py)."""
        backend = self.backend()
        now = self.clock()
        lines: list[LogLine] = []
        with patches.ECS_LOCK:
            for cluster in sorted(snapshot.clusters):
                for task in list(backend.tasks.get(cluster, {}).values()):
                    try:
                        self._advance(backend, task, now, lines)
                    except Exception as error:  # one broken task must not stop the others
                        result.errors.append(f"{cluster}: task {_task_id(task)}: {error!r}")
        self._write(lines)

    def _advance(self, backend: Any, task: Any, now: float, lines: list[LogLine]) -> None:
        status = task.last_status
        if status == "STOPPED":
            if getattr(task, "stopped_at", None) is None:  # stopped by moto itself
                patches.finish_stopped_task(task, "UserInitiated", _datetime(now))
            return
        if task.desired_status != "RUNNING":
            return
        if status == "PENDING":
            self._start(backend, task, now, lines)
        elif status == "RUNNING":
            self._run_containers(backend, task, now, lines)

    def _start(self, backend: Any, task: Any, now: float, lines: list[LogLine]) -> None:
        """A PENDING task: its images are pulled on its first pass (or it fails to start), then its containers
        start in their dependsOn order (local/ecs/containers.py), over one pass or more."""
        if getattr(task, "_l0_containers", None) is None:
            definitions = self._definitions(backend, task)
            if self._secrets_fail(backend, task, now, definitions):
                return
            failing = [d for d in definitions if "fail" in (d.get("image") or "")]
            if failing:
                image = failing[0].get("image")
                reason = (
                    "CannotPullContainerError: pull image manifest has been retried 5 time(s): "
                    f"failed to resolve ref {image}: not found"
                )
                self._stop(backend, task, now, reason, "TaskFailedToStart")
                for container in task.containers:
                    if container.get("image") == image:
                        container["reason"] = reason
                task._l0_failed_to_start = True
                return
            pulled = _datetime(now)
            task.pull_started_at = task.pull_stopped_at = pulled
            task.connectivity, task.connectivity_at = "CONNECTED", pulled
            task._l0_started = now
            for container in task.containers:
                container["runtimeId"] = uuid.uuid4().hex + uuid.uuid4().hex
            task._l0_containers = containers.TaskContainers(
                _task_id(task), definitions, lambda definition: effective_command(definition, task.overrides)
            )
        self._run_containers(backend, task, now, lines)

    def _secrets_fail(self, backend: Any, task: Any, now: float, definitions: list[dict]) -> bool:
        """Stop the task as ECS does when a secret it names cannot be read (local/ecs/secrets.py)."""
        reason = secrets.failure(self.client, definitions)
        if reason is None:
            return False
        self._stop(backend, task, now, reason, "TaskFailedToStart")
        task._l0_failed_to_start = True
        return True

    def _run_containers(self, backend: Any, task: Any, now: float, lines: list[LogLine]) -> None:
        """The task's containers move on to `now` (local/ecs/containers.py): starts, exits, restarts, health. The
        task is RUNNING once none waits to start, and stops when an essential container stops."""
        runs = getattr(task, "_l0_containers", None)
        if runs is None:
            return
        outcome = runs.advance(now, lambda definition, at, messages: self._log(lines, definition, task, at, messages))
        runs.show(task.containers, now)
        task.health_status = runs.health(now)
        if outcome.essential_stopped:
            never_ran = task.last_status == "PENDING" and not outcome.essential_ran
            if getattr(task, "started_at", None) is None and outcome.essential_ran:
                task.started_at = _datetime(now)  # its container started, then exited in the same pass
            task._l0_failed_to_start = never_ran
            self._stop(
                backend, task, now, ESSENTIAL_EXITED, "TaskFailedToStart" if never_ran else "EssentialContainerExited"
            )
        elif outcome.all_started and task.last_status == "PENDING":
            task.status = "RUNNING"
            task.started_at = _datetime(now)

    @staticmethod
    def _log(lines: list[LogLine], definition: dict, task: Any, now: float, messages: list[str]) -> None:
        destination = log_stream(definition, _task_id(task))
        if destination:
            lines.extend(LogLine(*destination, int(now * 1000), message) for message in messages)

    def _stop(self, backend: Any, task: Any, now: float, reason: str, stop_code: str) -> None:
        """Stop a task as ECS does, giving its instance its resources back (moto's stop_task)."""
        instance = (task.container_instance_arn or "").split("/")[-1]
        if instance and instance in backend.container_instances.get(task.cluster_name, {}):
            backend.stop_task(task.cluster_name, task.task_arn, reason)
        else:  # no instance to give resources back to (gone already)
            task.last_status, task.desired_status, task.stopped_reason = "STOPPED", "STOPPED", reason
        patches.finish_stopped_task(task, stop_code, _datetime(now))

    def _write(self, lines: list[LogLine]) -> None:
        """Put the lines in their streams (creating those), in order. A missing group drops its lines, as the
        awslogs driver would fail to log there."""
        if not lines:
            return
        logs = self.client("logs")
        by_stream: dict[tuple[str, str], list[LogLine]] = {}
        for line in lines:
            by_stream.setdefault((line.group, line.stream), []).append(line)
        for (group, stream), entries in by_stream.items():
            events = [{"timestamp": e.timestamp_ms, "message": e.message} for e in entries]
            for _attempt in range(2):  # a stream cached as made may have gone with its group: make it again
                try:
                    if (group, stream) not in self._streams:
                        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                            logs.create_log_stream(logGroupName=group, logStreamName=stream)
                        self._streams.add((group, stream))
                    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
                    break
                except logs.exceptions.ResourceNotFoundException:
                    self._streams.discard((group, stream))
            else:
                log.debug("log group %s does not exist: %d lines dropped", group, len(entries))

    # ----------------------------------------------------------------------------------------------------------
    # services: what the ECS service scheduler does
    # ----------------------------------------------------------------------------------------------------------

    def sync_services(self, snapshot: Any, result: Any) -> None:
        backend = self.backend()
        now = self.clock()
        with patches.ECS_LOCK:
            for name in sorted(snapshot.clusters):
                cluster = backend.clusters.get(name)
                if cluster is None:
                    continue
                try:
                    self._sync_cluster_services(backend, cluster, now)
                except Exception as error:
                    result.errors.append(f"{name}: services: {error!r}")

    def _sync_cluster_services(self, backend: Any, cluster: Any, now: float) -> None:
        services = [
            s
            for s in list(backend.services.values())
            if s.cluster_name == cluster.name and s.status == "ACTIVE" and cluster.status == "ACTIVE"
        ]
        deployments = {d["id"] for s in services for d in s.deployments}
        for task in self._tasks(backend, cluster):
            orphan = task.started_by.startswith(_SERVICE_TASK_PREFIX) and task.started_by not in deployments
            if orphan and task.last_status in _LIVE:  # its service was deleted, or its deployment went
                self._scale_in(backend, task, task.started_by, now)
        for service in services:
            self._schedule(backend, cluster, service, now)
        live = [t for t in self._tasks(backend, cluster) if t.last_status in _LIVE]
        cluster.running_tasks_count = sum(1 for t in live if t.last_status == "RUNNING")
        cluster.pending_tasks_count = sum(1 for t in live if t.last_status == "PENDING")

    @staticmethod
    def _tasks(backend: Any, cluster: Any, group: str | None = None) -> list:
        return [t for t in list(backend.tasks.get(cluster.name, {}).values()) if group is None or t.group == group]

    def _scale_in(self, backend: Any, task: Any, deployment_id: str, now: float) -> None:
        reason = f"Scaling activity initiated by (deployment {deployment_id})"
        self._stop(backend, task, now, reason, "ServiceSchedulerInitiated")

    def _schedule(self, backend: Any, cluster: Any, service: Any, now: float) -> None:
        """One service: count failures, circuit breaker, place or stop PRIMARY tasks, counts, rollout completion."""
        group = f"service:{service.name}"
        tasks = self._tasks(backend, cluster, group)
        self._replace_unhealthy(backend, service, tasks, now)
        for deployment in service.deployments:
            for task in tasks:
                failed = getattr(task, "_l0_failed_to_start", False) or getattr(task, "_l0_failed_health", False)
                failed = failed and not getattr(task, "_l0_failure_counted", False)
                if task.started_by == deployment["id"] and failed:
                    task._l0_failure_counted = True
                    deployment["failedTasks"] += 1
                    deployment["updatedAt"] = _datetime(now)

        primary = next((d for d in service.deployments if d["status"] == "PRIMARY"), None)
        if primary is None:
            return
        primary = self._circuit_breaker(service, primary, now)
        if primary["rolloutState"] != "FAILED":
            self._scale(backend, cluster, service, primary, [t for t in tasks if t.started_by == primary["id"]], now)
        self._count(service, self._tasks(backend, cluster, group), now)

        running_all = primary["runningCount"] == primary["desiredCount"] and primary["pendingCount"] == 0
        # A task with container health checks counts once they pass (local/ecs/containers.py).
        running_all = running_all and all(
            containers.passes_health_checks(t)
            for t in tasks
            if t.started_by == primary["id"] and t.last_status == "RUNNING"
        )
        if primary["rolloutState"] == "IN_PROGRESS" and running_all:
            for task in tasks:  # the older deployments drain
                if task.started_by != primary["id"] and task.last_status in _LIVE:
                    self._scale_in(backend, task, primary["id"], now)
            service.deployments[:] = [primary]
            primary["rolloutState"] = "COMPLETED"
            primary["rolloutStateReason"] = f"ECS deployment {primary['id']} completed."
            primary["updatedAt"] = _datetime(now)
            self._count(service, self._tasks(backend, cluster, group), now)
            self._event(service, now, f"(service {service.name}) (deployment {primary['id']}) deployment completed.")
        steady = running_all and len(service.deployments) == 1 and primary["rolloutState"] == "COMPLETED"
        if steady and not getattr(service, "_l0_steady", False):
            self._event(service, now, f"(service {service.name}) has reached a steady state.")
        service._l0_steady = steady

    def _replace_unhealthy(self, backend: Any, service: Any, tasks: list, now: float) -> None:
        """A service's RUNNING task whose health check failed (local/ecs/containers.py) is stopped, counts as a
        failed task of its deployment, and the scheduler replaces it, as ECS does."""
        for task in tasks:
            if task.last_status != "RUNNING" or getattr(task, "health_status", None) != "UNHEALTHY":
                continue
            self._event(
                service, now, f"(service {service.name}) (task {_task_id(task)}) failed container health checks."
            )
            self._stop(backend, task, now, UNHEALTHY_STOPPED, "ServiceSchedulerInitiated")
            task._l0_failed_health = True
            self._event(service, now, f"(service {service.name}) has stopped 1 running tasks: (task {_task_id(task)}).")

    def _scale(self, backend: Any, cluster: Any, service: Any, primary: dict, tasks: list, now: float) -> None:
        """Start the PRIMARY's missing copies, or stop its extra ones (PENDING first, then the newest)."""
        live = [t for t in tasks if t.last_status in _LIVE]
        missing = primary["desiredCount"] - len(live)
        if missing > 0:
            self._place(backend, cluster, service, primary, missing, now)
        elif missing < 0:
            extra = sorted(live, key=lambda t: (t.last_status == "RUNNING", -getattr(t, "_l0_started", 0)))[:-missing]
            for task in extra:
                self._scale_in(backend, task, primary["id"], now)
            names = " ".join(f"(task {_task_id(t)})" for t in extra)
            self._event(service, now, f"(service {service.name}) has stopped {len(extra)} running tasks: {names}.")

    def _circuit_breaker(self, service: Any, primary: dict, now: float) -> dict:
        """Fail the PRIMARY rollout at the failed-task threshold; roll back if asked. Returns the PRIMARY."""
        configuration = getattr(service, "deployment_configuration", None) or {}
        breaker = configuration.get("deploymentCircuitBreaker") or {}
        if not breaker.get("enable") or primary["rolloutState"] != "IN_PROGRESS":
            return primary
        if primary["failedTasks"] < circuit_breaker_threshold(primary["desiredCount"]):
            return primary
        primary["rolloutState"] = "FAILED"
        primary["rolloutStateReason"] = CIRCUIT_BREAKER_FAILED
        primary["updatedAt"] = _datetime(now)
        failed = f"(service {service.name}) (deployment {primary['id']}) deployment failed: tasks failed to start."
        self._event(service, now, failed)
        if not breaker.get("rollback"):
            return primary
        completed = [d for d in service.deployments if d is not primary and d["rolloutState"] == "COMPLETED"]
        if not completed:
            return primary
        target = max(completed, key=lambda d: d["createdAt"])
        service.task_definition = target["taskDefinition"]
        rollback = patches.start_deployment(
            service,
            target["taskDefinition"],
            reason=f"ECS deployment circuit breaker: rolling back to deploymentId {target['id']}.",
        )
        self._event(service, now, f"(service {service.name}) rolling back to deployment {target['id']}.")
        return rollback

    def _place(self, backend: Any, cluster: Any, service: Any, deployment: dict, count: int, now: float) -> None:
        # A service made with an Auto Scaling group capacity provider's strategy places through it
        # (local/ecs/capacity.py); FARGATE ones are fargate.run_options' (a task definition that requires FARGATE).
        strategy = [
            item
            for item in getattr(service, "capacity_provider_strategy", None) or []
            if item.get("capacityProvider") not in fargate.CAPACITY_PROVIDERS
        ]
        try:
            options = {
                "started_by": deployment["id"],
                "launch_type": None if strategy else (service.launch_type or "EC2"),
                "capacity_provider_strategy": strategy or None,
                "group": f"service:{service.name}",
                # FARGATE tasks: the cluster's strategy, in awsvpc, with no instance (local/ecs/fargate.py).
                **fargate.run_options(backend, cluster, service, deployment["taskDefinition"]),
            }
            placed, failures = patches.run_task_placing(
                backend, cluster.name, deployment["taskDefinition"], count, **options
            )
        except Exception as error:  # InvalidParameterException: no container instance at all
            placed, failures = [], [{"arn": cluster.arn, "reason": getattr(error, "message", None) or str(error)}]
        if placed:
            names = " ".join(f"(task {_task_id(t)})" for t in placed)
            self._event(service, now, f"(service {service.name}) has started {len(placed)} tasks: {names}.")
        if failures:
            self._event(service, now, _unable_to_place(service.name, failures[0]), once=True)

    def _count(self, service: Any, tasks: list, now: float) -> None:
        for deployment in service.deployments:
            live = [t for t in tasks if t.started_by == deployment["id"] and t.last_status in _LIVE]
            running = sum(1 for t in live if t.last_status == "RUNNING")
            counts = (running, len(live) - running)
            if counts != (deployment["runningCount"], deployment["pendingCount"]):
                deployment["runningCount"], deployment["pendingCount"] = counts
                deployment["updatedAt"] = _datetime(now)
        service.running_count = sum(d["runningCount"] for d in service.deployments)
        service.pending_count = sum(d["pendingCount"] for d in service.deployments)

    @staticmethod
    def _event(service: Any, now: float, message: str, once: bool = False) -> None:
        """Add a service event, newest first; ``once``: not when the newest event says the same already."""
        if once and service.events and service.events[0]["message"] == message:
            return
        service.events.insert(0, {"id": str(uuid.uuid4()), "createdAt": _datetime(now), "message": message})
        del service.events[_EVENTS_KEPT:]


_PLACEMENT_DETAIL = {
    "RESOURCE:CPU": "has insufficient CPU units available",
    "RESOURCE:MEMORY": "has insufficient memory available",
    "RESOURCE:PORTS": "is already using a port required by your task",
}


def _unable_to_place(service_name: str, failure: dict) -> str:
    head = (
        f"(service {service_name}) was unable to place a task because no container instance met all of its "
        "requirements."
    )
    tail = "For more information, see the Troubleshooting section of the Amazon ECS Developer Guide."
    detail = _PLACEMENT_DETAIL.get(failure["reason"])
    if detail is None:
        return f"{head} Reason: {failure['reason']} {tail}"
    return f"{head} The closest matching (container-instance {failure['arn'].split('/')[-1]}) {detail}. {tail}"
