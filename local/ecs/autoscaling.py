"""Application Auto Scaling for local mode (docs/architecture.md#local-mode, docs/compatibility.md#service-autoscaling).

moto stores scalable targets and target-tracking policies, and makes each ECS policy's two CloudWatch alarms
(``TargetTracking-service/<cluster>/<service>-AlarmHigh-<uuid>`` and ``...-AlarmLow-<uuid>``), but nothing ever
changes a desired count. :class:`TargetTracking` does, as a reconciler of ``Agent.steps`` (before the service
scheduler, so that the new count gets its tasks in the same pass). For every scalable target of a Layer0 service
(namespace ``ecs``, ``service/l0-<prefix>-<env>/l0-<prefix>-<id>``), on every pass:

- a desired count outside ``[MinCapacity, MaxCapacity]`` is moved into it (AWS does so when a range is registered);
- while one of its policies' ``AlarmHigh`` alarms is in ``ALARM``, the count grows by one, at most, once that
  policy's ``ScaleOutCooldown`` has passed since the last change; while every policy's ``AlarmLow`` is in ``ALARM``,
  it shrinks by one after the ``ScaleInCooldown`` (target tracking scales in only when all its policies agree).

So a test or a user changes the count the way an alarm would: ``cloudwatch set-alarm-state`` on the policy's alarm,
against the embedded AWS. The change is made with ECS's UpdateService, as Application Auto Scaling makes it, and is
told to the events function (when there is one) as an ECS Service Action ``SERVICE_DESIRED_COUNT_UPDATED``, which
requests the debounced scaler run. Real target tracking computes the step from the metric; here it is one task.

Everything goes through the public APIs (boto3 clients), against moto in process or its server.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from layer0 import contract

__all__ = ["TargetTracking"]

log = logging.getLogger(__name__)

NAMESPACE = "ecs"
DIMENSION = "ecs:service:DesiredCount"
DESIRED_COUNT_UPDATED = "SERVICE_DESIRED_COUNT_UPDATED"


class TargetTracking:
    """Moves Layer0 services' desired counts as Application Auto Scaling would. ``client(service)`` gives boto3
    clients, ``name_prefix`` is ``l0-<prefix>-``, ``clock()`` epoch seconds; ``events_function`` is told of changes."""

    def __init__(self, client: Callable[[str], Any], name_prefix: str, clock: Callable[[], float],
                 events_function: str | None = None) -> None:  # fmt: skip
        self.client = client
        self.name_prefix = name_prefix
        self.clock = clock
        self.events_function = events_function
        self._changed_at: dict[str, float] = {}  # resource id -> when this last changed its count
        self.changes: list[tuple[str, int, int]] = []  # (resource id, from, to), in order (what a test checks)

    def sync(self, snapshot: Any, result: Any) -> None:
        autoscaling = self.client("application-autoscaling")
        pages = autoscaling.get_paginator("describe_scalable_targets").paginate(ServiceNamespace=NAMESPACE)
        for target in (t for page in pages for t in page["ScalableTargets"]):
            if target["ScalableDimension"] != DIMENSION:
                continue
            parts = target["ResourceId"].split("/")
            if len(parts) != 3 or not parts[1].startswith(self.name_prefix):
                continue
            try:
                self._sync_target(target, parts[1], parts[2], result)
            except Exception as error:  # noqa: BLE001 - one service's failure must not stop the others
                message = f"autoscaling {target['ResourceId']}: {error!r}"
                result.errors.append(message)
                log.warning("Application Auto Scaling simulation: %s", message)

    def _sync_target(self, target: dict, cluster: str, service_name: str, result: Any) -> None:
        ecs = self.client("ecs")
        try:
            found = ecs.describe_services(cluster=cluster, services=[service_name])["services"]
        except ecs.exceptions.ClusterNotFoundException:
            return
        if not found or found[0].get("status") != "ACTIVE":
            return
        service = found[0]
        rid = target["ResourceId"]
        current = service["desiredCount"]
        wanted = self._alarm_step(rid, current)
        wanted = min(max(wanted, target["MinCapacity"]), target["MaxCapacity"])
        if wanted == current:
            return
        ecs.update_service(cluster=cluster, service=service_name, desiredCount=wanted)
        self._changed_at[rid] = self.clock()
        self.changes.append((rid, current, wanted))
        log.info("Application Auto Scaling simulation: %s desired count %d -> %d", rid, current, wanted)
        self._tell(service, current, wanted, result)

    def _alarm_step(self, rid: str, current: int) -> int:
        autoscaling = self.client("application-autoscaling")
        policies = autoscaling.describe_scaling_policies(
            ServiceNamespace=NAMESPACE, ResourceId=rid, ScalableDimension=DIMENSION
        )["ScalingPolicies"]
        tracking = [p for p in policies if p.get("PolicyType") == "TargetTrackingScaling" and p.get("Alarms")]
        if not tracking:
            return current
        names = [alarm["AlarmName"] for policy in tracking for alarm in policy["Alarms"]]
        states = {
            alarm["AlarmName"]: alarm["StateValue"]
            for alarm in self.client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]
        }
        since = self.clock() - self._changed_at.get(rid, float("-inf"))

        def in_alarm(policy: dict, kind: str) -> bool:
            return any(kind in a["AlarmName"] and states.get(a["AlarmName"]) == "ALARM" for a in policy["Alarms"])

        for policy in tracking:
            cooldown = policy["TargetTrackingScalingPolicyConfiguration"].get("ScaleOutCooldown", 300)
            if in_alarm(policy, "-AlarmHigh-") and since >= cooldown:
                return current + 1
        if all(in_alarm(policy, "-AlarmLow-") for policy in tracking):
            cooldown = max(p["TargetTrackingScalingPolicyConfiguration"].get("ScaleInCooldown", 300) for p in tracking)
            if since >= cooldown:
                return current - 1
        return current

    def _tell(self, service: dict, before: int, after: int, result: Any) -> None:
        if not self.events_function:
            return
        _, _, region, account, _ = service["serviceArn"].split(":", 4)
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": contract.ECS_SERVICE_ACTION,
            "source": contract.ECS_EVENT_SOURCE,
            "account": account,
            "time": _dt.datetime.fromtimestamp(self.clock(), tz=_dt.UTC).isoformat().replace("+00:00", "Z"),
            "region": region,
            "resources": [service["serviceArn"]],
            "detail": {
                "eventType": "INFO",
                "eventName": DESIRED_COUNT_UPDATED,
                "clusterArn": service["clusterArn"],
                "desiredCount": after,
                "previousDesiredCount": before,
            },
        }
        try:
            self.client("lambda").invoke(FunctionName=self.events_function, Payload=json.dumps(event).encode())
        except Exception as error:  # noqa: BLE001 - EventBridge retries, then drops; the hourly scaler repairs
            message = f"event for {service['serviceArn']}: {error!r}"
            result.errors.append(message)
            log.warning("Application Auto Scaling simulation: %s", message)
