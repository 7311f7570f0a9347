"""EventBridge Scheduler for local mode: runs the one-time ``at(...)`` schedules that are due
(docs/architecture.md#local-mode).

moto stores schedules but never fires them. Layer0 creates one kind: ``layer0.scaler.request_run`` schedules a
run of the scaler function 10 s later, with ``ActionAfterCompletion: DELETE``. :class:`ScheduleRunner` is a
reconciler of ``Agent.steps``: on every pass, each ENABLED schedule whose ``at(...)`` time has come (in its
``ScheduleExpressionTimezone``) is fired — its target, a Lambda function that ``local.lambda_runtime`` serves in
this process, is invoked with the schedule's ``Input`` — and then deleted if it says so (else it is remembered
and not fired again). A schedule whose target no local function serves is left as it is. ``rate(...)``/``cron(...)``
schedules are left alone: Layer0 makes none.

All through the public API (Scheduler and Lambda clients), so it works against moto in process or its server.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from local import lambda_runtime

__all__ = ["ScheduleRunner", "due_at"]

log = logging.getLogger(__name__)

_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")


def due_at(expression: str, timezone: str | None = None) -> float | None:
    """Epoch seconds of a one-time ``at(yyyy-mm-ddThh:mm:ss)`` expression; None for any other expression."""
    match = _AT.match(expression.strip())
    if not match:
        return None
    moment = _dt.datetime.fromisoformat(match.group(1)).replace(tzinfo=ZoneInfo(timezone or "UTC"))
    return moment.timestamp()


class ScheduleRunner:
    """Fires due one-time schedules. ``client(service)`` gives boto3 clients; ``clock()`` epoch seconds."""

    def __init__(self, client: Callable[[str], Any], clock: Callable[[], float] = time.time):
        self.client = client
        self.clock = clock
        self.fired: list[str] = []  # names of the schedules fired, in order (what a test checks)
        self._kept: set[str] = set()  # ARNs fired and not deleted (ActionAfterCompletion NONE)
        self._unserved: set[str] = set()  # ARNs whose target no local function serves (warned once)

    def run_due(self, snapshot: Any = None, result: Any = None) -> None:
        """One pass (an ``Agent.steps`` reconciler; both arguments are unused)."""
        scheduler = self.client("scheduler")
        now = self.clock()
        summaries = [
            summary
            for page in scheduler.get_paginator("list_schedules").paginate(State="ENABLED")
            for summary in page.get("Schedules", [])
        ]
        for summary in summaries:
            if summary["Arn"] in self._kept:
                continue
            try:
                self._run_if_due(scheduler, summary, now)
            except Exception as error:  # one schedule must not stop the others
                message = f"schedule {summary['Name']}: {error!r}"
                if result is not None:
                    result.errors.append(message)
                log.warning("EventBridge Scheduler simulation: %s", message)

    def _run_if_due(self, scheduler: Any, summary: dict, now: float) -> None:
        group = summary.get("GroupName") or "default"
        schedule = scheduler.get_schedule(Name=summary["Name"], GroupName=group)
        due = due_at(schedule["ScheduleExpression"], schedule.get("ScheduleExpressionTimezone"))
        if due is None or due > now:
            return
        target = schedule["Target"]
        function = lambda_runtime.function_name_of(target["Arn"])
        if ":lambda:" not in target["Arn"] or function not in lambda_runtime.registered():
            if schedule["Arn"] not in self._unserved:
                self._unserved.add(schedule["Arn"])
                log.warning("schedule %s: target %s is not a function run here; left", schedule["Name"], target["Arn"])
            return
        # Scheduler invokes asynchronously and only retries or dead-letters a failure: it is logged here.
        response = self.client("lambda").invoke(
            FunctionName=target["Arn"], Payload=(target.get("Input") or "{}").encode()
        )
        if response.get("FunctionError"):
            body = json.loads(response["Payload"].read() or b"{}")
            log.warning("schedule %s: %s failed: %s", schedule["Name"], function, body.get("errorMessage"))
        self.fired.append(schedule["Name"])
        if schedule.get("ActionAfterCompletion") == "DELETE":
            scheduler.delete_schedule(Name=schedule["Name"], GroupName=group)
        else:
            self._kept.add(schedule["Arn"])
