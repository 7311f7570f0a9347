"""ECS events for local mode (docs/architecture.md#the-read-model): what EventBridge delivers on AWS.

moto's ECS emits no events, and its EventBridge never invokes a Lambda target. :class:`EventEmitter` is a reconciler
of ``Agent.steps``, after the simulation's own: on every pass it compares each Layer0 task with what it last told
and, for each change, invokes the events function (through the Lambda API, which local/lambda_runtime.py serves in
this process) with an ECS Task State Change event shaped as EventBridge's, whatever made the change (the simulated
agents, the service scheduler, or a StopTask). Each change adds one to the task's `version`, set on moto's task as
well, so that DescribeTasks shows it, as ECS does. A task stopped and forgotten by ECS in one pass is never told.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from layer0 import contract

log = logging.getLogger(__name__)


def _iso(value: Any) -> str | None:
    if isinstance(value, _dt.datetime):
        return value.astimezone(_dt.UTC).isoformat().replace("+00:00", "Z")
    return None


def _container(container: Any) -> dict:
    if not isinstance(container, dict):
        return {}
    found = {"name": container.get("name", ""), "lastStatus": container.get("lastStatus", "")}
    if container.get("exitCode") is not None:
        found["exitCode"] = container["exitCode"]
    if container.get("reason"):
        found["reason"] = container["reason"]
    return found


def task_state(task: Any) -> dict:
    """The ECS Task State Change detail of a moto task (without `version`)."""
    detail = {
        "clusterArn": task.cluster_arn,
        "taskArn": task.task_arn,
        "taskDefinitionArn": task.task_definition_arn,
        "lastStatus": task.last_status,
        "desiredStatus": task.desired_status,
        "startedBy": task.started_by or "",
        "stoppedReason": task.stopped_reason or "",
        "containers": [_container(c) for c in task.containers],
        "launchType": "EC2",
    }
    for key, attribute in (("startedAt", "started_at"), ("stoppedAt", "stopped_at")):
        if (moment := _iso(getattr(task, attribute, None))) is not None:
            detail[key] = moment
    return detail


class EventEmitter:
    """Tells the events function about every change of a Layer0 task. ``client(service)`` gives boto3 clients,
    ``backend()`` moto's ECS backend (EcsSimulation.backend), ``clock()`` epoch seconds."""

    def __init__(self, client: Callable[[str], Any], backend: Callable[[], Any], function_name: str,
                 clock: Callable[[], float]) -> None:  # fmt: skip
        self.client = client
        self.backend = backend
        self.function_name = function_name
        self.clock = clock
        self._told: dict[str, tuple[int, str]] = {}  # task ARN -> (version, the state told, as JSON)
        self.sent: list[dict] = []  # every event sent, in order (what a test checks)

    def sync(self, snapshot: Any, result: Any) -> None:
        backend = self.backend()
        changed = []
        for cluster in sorted(snapshot.clusters):
            for task in list(backend.tasks.get(cluster, {}).values()):
                detail = task_state(task)
                state = json.dumps(detail, sort_keys=True)
                version, told = self._told.get(task.task_arn, (0, ""))
                if state == told:
                    continue
                version += 1
                self._told[task.task_arn] = (version, state)
                task.version = version  # DescribeTasks shows it, as ECS does
                changed.append({**detail, "version": version})
        for detail in changed:
            event = self._event(detail)
            try:
                self.client("lambda").invoke(FunctionName=self.function_name, Payload=json.dumps(event).encode())
            except Exception as error:  # EventBridge retries, then drops; the hourly reconcile repairs
                message = f"event for {detail['taskArn']}: {error!r}"
                result.errors.append(message)
                log.warning("ECS events simulation: %s", message)
                continue
            self.sent.append(event)

    def _event(self, detail: dict) -> dict:
        _, _, region, account, _ = detail["taskArn"].split(":", 4)
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": contract.ECS_TASK_STATE_CHANGE,
            "source": contract.ECS_EVENT_SOURCE,
            "account": account,
            "time": _dt.datetime.fromtimestamp(self.clock(), tz=_dt.UTC).isoformat().replace("+00:00", "Z"),
            "region": region,
            "resources": [detail["taskArn"]],
            "detail": detail,
        }
