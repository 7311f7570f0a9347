"""Following things as they happen: a rollout's progress line, new log lines, a task until it stops."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from layer0_client import models
from layer0_client.cli.state import State
from layer0_client.client import ServiceChange
from layer0_client.errors import Layer0ClientError


class RolloutFailed(Layer0ClientError):
    pass


def progress_line(service: models.Service, deployment_id: str = "") -> str:
    """`desired 2, running 1, pending 1, failed 0` of the deployment the rollout follows (`deployment_id`, while ECS
    lists it), else of the newest (PRIMARY) one; `failed N` when the API says (an older API does not)."""
    deployments = service.deployments
    followed = next((d for d in deployments if deployment_id and d.deployment_id == deployment_id), None)
    followed = followed or next((d for d in deployments if d.status == "PRIMARY"), None)
    desired, running, pending = (
        (followed.desired_count, followed.running_count, followed.pending_count)
        if followed
        else (service.desired_count, service.running_count, service.pending_count)
    )
    line = f"Rollout of {service.service_name or service.service_id}: desired {desired}, running {running}, "
    line += f"pending {pending}"
    if followed is not None and followed.failed_tasks is not None:
        line += f", failed {followed.failed_tasks}"
    if len(deployments) > 1:
        line += f" ({len(deployments)} deployments)"
    return line


def rollout(current: State, change: ServiceChange) -> models.Service:
    """Follow the rollout job to its end, one live line of progress on stderr; a failed rollout (the circuit
    breaker) raises with the job's reason, after the last line. An API without rollout jobs: the original CLI's
    wait, every deployment at its desired count on three checks."""
    client, console = current.client, current.console
    service_id = change.service.service_id
    if change.rollout_job_id is None:
        return _steady(current, service_id)
    # The rollout follows the deployment the change made PRIMARY (a rollback's new PRIMARY is another one).
    primary = next((d for d in change.service.deployments if d.status == "PRIMARY"), None)
    followed = primary.deployment_id if primary else ""
    last: list[str] = []

    def show(service: models.Service) -> None:
        line = progress_line(service, followed)
        if console.is_terminal:
            status.update(line)
        elif not last or last[-1] != line:
            console.print(line)
        last.append(line)

    with console.status("Waiting for Deployment") as status:
        job, service = client.wait_for_rollout(service_id, change.rollout_job_id, show)
    if job.job_status == models.JobStatus.Error:
        if console.is_terminal and last:
            console.print(last[-1])  # the live line is gone with the spinner: its last state stays on screen
        reason = job.meta.get("error") or "no reason given"
        raise RolloutFailed(f"Rollout job {job.job_id} failed: {reason}")
    return service


def _steady(current: State, service_id: str) -> models.Service:
    client = current.client
    checks = 0
    with current.console.status("Waiting for Deployment"):
        while True:
            service = client.get_service(service_id)
            if all(d.running_count == d.desired_count for d in service.deployments):
                checks += 1
                if checks >= 3:
                    return service
            client.pause(client.poll_seconds)


class _Lines:
    """Which lines of which log file were printed already. Files are named after containers, so two tasks'
    files may share a name: they are told apart by their order among the files of that name."""

    def __init__(self) -> None:
        self.printed: dict[tuple[str, int], int] = {}

    def new(self, files: Sequence[models.LogFile], tail: int = 0) -> list[tuple[str, list[str]]]:
        seen: dict[str, int] = {}
        out = []
        for file in files:
            index = seen.get(file.name, 0)
            seen[file.name] = index + 1
            key = (file.name, index)
            first = key not in self.printed
            lines = file.lines[self.printed.get(key, 0) :]
            if first and tail:
                lines = lines[-tail:]
            self.printed[key] = len(file.lines)
            if lines:
                out.append((file.name, lines))
        return out


def logs(current: State, fetch: Callable[..., list[models.LogFile]], tail: int, start: str) -> None:
    """Print new lines every poll interval until Ctrl-C (or --timeout)."""
    lines = _Lines()
    try:
        while True:
            for name, new in lines.new(fetch(start=start or None), tail):
                current.printer.log_lines(name, new)
            current.client.pause(current.client.poll_seconds)
    except KeyboardInterrupt:
        return


def essential_exit_code(current: State, task: models.Task) -> int:
    """The exit code of the task's essential container (the first one, if the Dockerrun marks several)."""
    details = [detail for copy in task.copies for detail in copy.details]
    essential: set[str] = set()
    try:
        document = current.client.get_deploy(task.deploy_id).dockerrun_document()
    except Layer0ClientError:
        document = {}
    definitions: list[Any] = next((v for k, v in document.items() if k.lower() == "containerdefinitions"), []) or []
    for definition in definitions:
        fields = {k.lower(): v for k, v in definition.items()} if isinstance(definition, dict) else {}
        if fields.get("essential", True) is not False and fields.get("name"):
            essential.add(str(fields["name"]))
    chosen = [d for d in details if d.container_name in essential] or details
    return next((d.exit_code for d in chosen if d.exit_code), 0)


def tasks(current: State, task_ids: Sequence[str], tail: int = 0, start: str = "") -> int:
    """Print the tasks' logs until they all stop; the exit code is the first non-zero essential container's."""
    client = current.client
    printed = {task_id: _Lines() for task_id in task_ids}
    running = list(task_ids)
    stopped: dict[str, models.Task] = {}
    try:
        while running:
            for task_id in list(running):
                # Read the task before its logs, so that the last poll of a stopped task gets its last lines.
                found = client.get_task(task_id)
                for name, new in printed[task_id].new(client.get_task_logs(task_id, start=start or None), tail):
                    current.printer.log_lines(name, new)
                if found.stopped:
                    running.remove(task_id)
                    stopped[task_id] = found
            if running:
                client.pause(client.poll_seconds)
    except KeyboardInterrupt:
        return 130
    codes = [essential_exit_code(current, stopped[task_id]) for task_id in task_ids]
    return next((code for code in codes if code), 0)
