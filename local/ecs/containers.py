"""The containers of a placed task, as the ECS agent runs them, for local mode's ECS simulation
(docs/architecture.md#containers-in-local-mode).

:class:`TaskContainers` keeps, for one task, what its agent knows of each container, and :meth:`TaskContainers.advance`
moves them on to a pass's time:

- **start order** (``dependsOn``): a container starts once every dependency's condition holds: ``START`` (the
  dependency started), ``COMPLETE`` (it exited), ``SUCCESS`` (it exited 0), ``HEALTHY`` (its health check passed).
  Containers without dependencies start first, in the definition's order; a container started in the same pass as
  its dependency logs its start lines a millisecond after it, so the streams' timestamps show the order. A
  condition that can no longer hold (a ``SUCCESS`` dependency exited non-zero, a ``HEALTHY`` one turned UNHEALTHY
  or stopped, a dependency that never started), or that did not hold within the dependency's ``startTimeout``,
  stops the waiting container without starting it. The task stays PENDING until no container waits, as ECS shows
  it;
- **exits**: the effective command ``sleep N`` exits 0 after N seconds; ``exit C``, ``true`` and ``false`` exit at
  once with C, 0 and 1; ``sleep N; exit C`` (or ``&&``) exits C after N seconds; anything else runs until stopped;
- **health** (``healthCheck``): UNKNOWN, then HEALTHY at the first check (``interval`` seconds after the container
  started), unless the health check's command or the container's own contains ``unhealthy``: then each check
  fails, failures within ``startPeriod`` do not count, and the container is UNHEALTHY at the ``retries``-th one
  that does. The task's ``healthStatus`` is that of its essential containers with a health check (or, when none
  has one, of the others that do), as ECS computes it;
- **restarts** (``restartPolicy`` with ``enabled``): a container that exits with a code not in
  ``ignoredExitCodes``, after running at least ``restartAttemptPeriod`` seconds (default 300) since it last
  (re)started, is restarted in place at its exit time: it stays RUNNING, its health starts over, and its log says
  so. Otherwise it stops, and when it is essential its task stops ("Essential container in task exited").

Local mode only: this is not Lambda code.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.ecs import secrets

__all__ = [
    "DEFAULT_RESTART_ATTEMPT_PERIOD",
    "Outcome",
    "TaskContainers",
    "exit_of",
    "passes_health_checks",
    "task_health",
]

DEFAULT_RESTART_ATTEMPT_PERIOD = 300  # seconds, ECS's default
_HEALTH_CHECK_DEFAULTS = {"interval": 30, "retries": 3, "startPeriod": 0}
_SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh"})
_SLEEP = re.compile(r"^(?:exec\s+)?sleep\s+(\d+(?:\.\d+)?)$")
_EXIT = re.compile(r"^exit(?:\s+(\d+))?$")
_STEP = re.compile(r"\s*(?:;|&&)\s*")
_UNHEALTHY = "unhealthy"
# log(definition, at, lines): lines for a container's stream. The start and restart lines are the simulation's
# (no container runs): they go to the container's stream, where a user looks.
LogFunction = Callable[[dict, float, list[str]], None]


def exit_of(argv: list[str]) -> tuple[float, int] | None:
    """(seconds, exit code) of a command that ends by itself; None for one that runs until stopped."""
    script = " ".join(argv)
    if len(argv) >= 3 and argv[0].rsplit("/", 1)[-1] in _SHELLS and argv[1] == "-c":
        script = argv[2]
    steps = _STEP.split(script.strip().rstrip(";").strip())
    seconds = 0.0
    for i, step in enumerate(steps):
        sleep, leave = _SLEEP.match(step), _EXIT.match(step)
        if sleep:
            seconds += float(sleep.group(1))
        elif leave:  # the shell ends here, whatever follows
            return seconds, int(leave.group(1) or 0)
        elif step in ("true", "false") and i == len(steps) - 1:
            return seconds, 0 if step == "true" else 1
        else:
            return None
    return (seconds, 0) if seconds else None


def _health_check(definition: dict) -> dict | None:
    """The container's health check with ECS's defaults; a task definition registered straight into the embedded
    AWS may hold any number: those ECS would refuse get the defaults too."""
    check = definition.get("healthCheck")
    if not check or not check.get("command"):
        return None
    given = {key: value for key, value in check.items() if value is not None}
    merged = {**_HEALTH_CHECK_DEFAULTS, **given}
    for key, default in _HEALTH_CHECK_DEFAULTS.items():
        low = 0 if key == "startPeriod" else 1
        if not isinstance(merged[key], int | float) or merged[key] < low:
            merged[key] = default
    return merged


@dataclass
class _Container:
    """What the agent knows of one container of the task."""

    definition: dict
    argv: list[str]
    status: str = "PENDING"  # PENDING, RUNNING, STOPPED
    started_at: float | None = None  # when this run (the first, or the last restart) started
    exit_at: float | None = None
    exit_code: int = 0
    ran: bool = False  # it started at least once
    restarts: int = 0
    waiting_since: float | None = None
    reason: str | None = None

    @property
    def name(self) -> str:
        return str(self.definition.get("name"))

    @property
    def essential(self) -> bool:
        return bool(self.definition.get("essential", True))

    def health(self, now: float) -> str:
        """UNKNOWN, HEALTHY or UNHEALTHY at `now`, from this run's start."""
        check = _health_check(self.definition)
        if check is None or self.status != "RUNNING" or self.started_at is None:
            return "UNKNOWN"
        interval = float(check["interval"])
        checks = int((now - self.started_at) // interval)  # checks run so far, the first `interval` after start
        if checks < 1:
            return "UNKNOWN"
        command = " ".join(str(part) for part in [*check["command"], *self.argv])
        if _UNHEALTHY not in command.lower():
            return "HEALTHY"
        # Failures during the start period do not count.
        first_counted = max(1, -int(-float(check["startPeriod"]) // interval))
        counted = checks - first_counted + 1
        return "UNHEALTHY" if counted >= int(check["retries"]) else "UNKNOWN"


@dataclass
class Outcome:
    """What a pass did to the task as a whole."""

    all_started: bool = False  # no container waits any more: the task is RUNNING
    essential_stopped: bool = False  # an essential container stopped: the task stops
    # ...after it ran (it exited, `exit 0` at once included), not because it never started: the task ran, as on ECS
    essential_ran: bool = False


@dataclass
class TaskContainers:
    """The containers of one task. ``command_of(definition)`` is a container's effective argv."""

    task_id: str
    definitions: list[dict]
    command_of: Callable[[dict], list[str]]
    containers: dict[str, _Container] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for definition in self.definitions:
            self.containers[str(definition.get("name"))] = _Container(definition, self.command_of(definition))

    def advance(self, now: float, log: LogFunction) -> Outcome:
        """Exits (and restarts) that are due, then every start that is due, until nothing changes."""
        order = 0  # starts within this pass, a millisecond apart
        changed = True
        while changed:
            changed = self._exit_due(now, log)
            for container in self.containers.values():
                if container.status != "PENDING":
                    continue
                if container.waiting_since is None:
                    container.waiting_since = now
                verdict = self._dependencies(container, now)
                if verdict == "met":
                    self._start(container, now, now + order / 1000, log)
                    order += 1
                    changed = True
                elif verdict == "never":
                    container.status = "STOPPED"
                    changed = True
        return Outcome(
            all_started=all(c.status != "PENDING" for c in self.containers.values()),
            essential_stopped=any(c.essential and c.status == "STOPPED" for c in self.containers.values()),
            essential_ran=any(c.essential and c.status == "STOPPED" and c.ran for c in self.containers.values()),
        )

    def show(self, task_containers: list[dict], now: float) -> None:
        """Write statuses, exit codes, reasons and health into the task's containers (as DescribeTasks shows them)."""
        for shown in task_containers:
            container = self.containers.get(shown.get("name", ""))
            if container is None:
                continue
            if container.status == "RUNNING" and shown.get("lastStatus") != "RUNNING":
                shown["lastStatus"] = "RUNNING"
            elif container.status == "STOPPED":
                shown["lastStatus"] = "STOPPED"
                if container.ran:
                    shown["exitCode"] = container.exit_code
            if container.reason:
                shown["reason"] = container.reason
            shown["healthStatus"] = container.health(now)

    def health(self, now: float) -> str:
        return task_health(
            [(c.essential, _health_check(c.definition) is not None, c.health(now)) for c in self.containers.values()]
        )

    # -- the agent's steps ----------------------------------------------------------------------------------------

    def _start(self, container: _Container, at: float, logged_at: float, log: LogFunction) -> None:
        container.status, container.started_at, container.ran = "RUNNING", at, True
        ends = exit_of(container.argv)
        container.exit_at = None if ends is None else at + ends[0]
        container.exit_code = 0 if ends is None else ends[1]
        lines = [
            f"Starting container {container.name} of task {self.task_id}",
            *secrets.log_lines(container.definition),
            f"Image: {container.definition.get('image')}",
            f"Command: {shlex.join(container.argv) if container.argv else '(the image default)'}",
        ]
        dependencies = container.definition.get("dependsOn") or []
        if dependencies:
            met = ", ".join(f"{d['containerName']} {d['condition']}" for d in dependencies)
            lines.append(f"Started after its dependencies: {met}")
        log(container.definition, logged_at, lines)

    def _exit_due(self, now: float, log: LogFunction) -> bool:
        changed = False
        for container in sorted(self.containers.values(), key=lambda c: c.exit_at or 0):
            while container.status == "RUNNING" and container.exit_at is not None and container.exit_at <= now:
                at, code = container.exit_at, container.exit_code
                ran_for = at - (container.started_at or at)
                said = f"Slept {ran_for:g} s; exiting with code {code}" if ran_for else f"Exiting with code {code}"
                changed = True
                if self._restarts(container, code, ran_for):
                    container.restarts += 1
                    log(
                        container.definition,
                        at,
                        [said, f"Restarting in place (restart policy; restart {container.restarts})"],
                    )
                    container.started_at = at
                    container.exit_at = at + ran_for
                else:
                    log(container.definition, at, [said])
                    container.status = "STOPPED"
        return changed

    @staticmethod
    def _restarts(container: _Container, code: int, ran_for: float) -> bool:
        policy = container.definition.get("restartPolicy") or {}
        if not policy.get("enabled"):
            return False
        if code in (policy.get("ignoredExitCodes") or []):
            return False
        period = policy.get("restartAttemptPeriod") or DEFAULT_RESTART_ATTEMPT_PERIOD
        return ran_for > 0 and ran_for >= period

    def _dependencies(self, container: _Container, now: float) -> str:
        """ "met" when every condition holds, "never" when one cannot hold any more (or timed out), else "wait"."""
        verdict = "met"
        for dependency in container.definition.get("dependsOn") or []:
            target = self.containers.get(dependency.get("containerName", ""))
            condition = dependency.get("condition")
            if target is None:
                continue
            state = _condition(target, condition, now)
            if state == "wait":
                timeout = target.definition.get("startTimeout")
                if (
                    timeout is not None
                    and container.waiting_since is not None
                    and now - container.waiting_since >= timeout
                ):
                    state = "never"
            if state == "never":
                container.reason = f"DependencyConditionUnmet: {target.name} did not reach {condition}" + (
                    f" within its startTimeout of {target.definition.get('startTimeout')} s"
                    if target.status != "STOPPED"
                    else ""
                )
                return "never"
            if state == "wait":
                verdict = "wait"
        return verdict


def _condition(target: _Container, condition: str | None, now: float) -> str:
    """Whether `target` is in `condition`: "met", "wait" or "never"."""
    if target.status == "STOPPED" and not target.ran:
        return "never"
    if condition == "START":
        return "met" if target.ran else "wait"
    if condition in ("COMPLETE", "SUCCESS"):
        if target.status != "STOPPED":
            return "wait"
        return "met" if condition == "COMPLETE" or target.exit_code == 0 else "never"
    if condition == "HEALTHY":
        health = target.health(now)
        if health == "HEALTHY":
            return "met"
        return "never" if health == "UNHEALTHY" or target.status == "STOPPED" else "wait"
    return "never"


def task_health(containers: list[tuple[bool, bool, str]]) -> str:
    """A task's healthStatus from its containers' (essential, has a health check, health), as ECS computes it."""
    checked = [health for essential, has_check, health in containers if essential and has_check]
    if not checked:  # only then do the non-essential containers' health checks count
        checked = [health for essential, has_check, health in containers if has_check]
    if not checked:
        return "UNKNOWN"
    if "UNHEALTHY" in checked:
        return "UNHEALTHY"
    return "HEALTHY" if all(health == "HEALTHY" for health in checked) else "UNKNOWN"


def passes_health_checks(task: Any) -> bool:
    """Whether a moto task the simulation runs counts as healthy for its service's rollout: it has no health check
    to wait for, or its healthStatus is HEALTHY."""
    runs = getattr(task, "_l0_containers", None)
    if runs is None or not any(_health_check(d) for d in runs.definitions):
        return True
    return getattr(task, "health_status", None) == "HEALTHY"
