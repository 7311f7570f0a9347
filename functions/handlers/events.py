"""The events function (docs/architecture.md#the-read-model): EventBridge invokes it with the ECS events of the
instance's `l0-<prefix>-*` clusters, which keep the read model's rows true, and once an hour with a scheduled event,
which runs the reconcile; the deploy trigger runs the reconcile too, after each upgrade. Events are parsed with
Powertools' parser and its EventBridge model; the domain (layer0.tasks, layer0.services, layer0.reconcile) does the
writing, idempotently."""

from __future__ import annotations

from handlers.cold_start import long_lived_init

# The init runs away from the garbage collector, and what it makes is frozen (handlers/cold_start.py).
with long_lived_init():
    from datetime import datetime
    from typing import Literal

    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.utilities.parser import parse
    from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
    from pydantic import BaseModel, ConfigDict, Field

    from handlers.observability import domain_logs_through, inject_lambda_context
    from layer0 import contract, ids, reconcile, scaler, services, settings, tasks

    logger = Logger(service="layer0-events")
    domain_logs_through(logger)


class _EcsDetail(BaseModel):
    # ECS's own camel-case names, kept as they are: the domain reads ECS task descriptions in that shape.
    model_config = ConfigDict(extra="ignore")


class EcsContainer(_EcsDetail):
    name: str = ""
    lastStatus: str = ""  # noqa: N815
    exitCode: int | None = None  # noqa: N815
    reason: str = ""


class EcsTask(_EcsDetail):
    taskArn: str  # noqa: N815
    clusterArn: str  # noqa: N815
    lastStatus: str = ""  # noqa: N815
    desiredStatus: str = ""  # noqa: N815
    version: int = 0
    startedBy: str = ""  # noqa: N815
    stoppedReason: str = ""  # noqa: N815
    stoppedAt: datetime | None = None  # noqa: N815
    taskDefinitionArn: str = ""  # noqa: N815
    containers: list[EcsContainer] = []


class EcsServiceEvent(_EcsDetail):
    eventName: str = ""  # noqa: N815
    clusterArn: str = ""  # noqa: N815


class TaskStateChange(EventBridgeModel):
    detail_type: Literal["ECS Task State Change"] = Field(alias="detail-type")
    detail: EcsTask


class ServiceChange(EventBridgeModel):
    """ECS Service Action and ECS Deployment State Change: `resources` names the service."""

    detail_type: Literal["ECS Service Action", "ECS Deployment State Change"] = Field(alias="detail-type")
    detail: EcsServiceEvent


def _environment_of(cluster_arn: str) -> str | None:
    """The environment whose cluster this is; None for a cluster of another instance (the rules select only ours)."""
    cluster = cluster_arn.rsplit("/", 1)[-1]
    return ids.layer0_id(cluster) if cluster.startswith(settings.get().aws_name_prefix) else None


def _task_state(event: dict) -> dict:
    change = parse(event=event, model=TaskStateChange)
    task = change.detail
    if _environment_of(task.clusterArn) is None:
        return {"ignored": task.taskArn}
    written = tasks.apply_state(task.model_dump())
    return {"task": task.taskArn, "version": task.version, "written": written}


def _service_change(event: dict) -> dict:
    change = parse(event=event, model=ServiceChange)
    environment_id = _environment_of(change.detail.clusterArn)
    version = int(change.time.timestamp() * 1000)
    done = {}
    for arn in change.resources:
        name = arn.rsplit("/", 1)[-1]
        if environment_id is None or not name.startswith(settings.get().aws_name_prefix):
            continue
        service_id = ids.layer0_id(name)
        done[service_id] = services.refresh_row(environment_id, service_id, version)
    if environment_id is not None and change.detail.eventName in contract.ECS_CAPACITY_EVENT_NAMES:
        # Autoscaling changed a desired count, or a task found no room: the environment's capacity follows
        # (docs/compatibility.md#service-autoscaling).
        scaler.request_run_soon(environment_id)
        return {"services": done, "scaler_run_requested": environment_id}
    return {"services": done}


@inject_lambda_context(logger)
def handler(event: dict, context) -> dict:
    detail_type = event.get("detail-type")
    logger.thread_safe_append_keys(detail_type=detail_type, event_id=event.get("id"))
    if detail_type == contract.ECS_TASK_STATE_CHANGE:
        result = _task_state(event)
    elif detail_type in (contract.ECS_SERVICE_ACTION, contract.ECS_DEPLOYMENT_STATE_CHANGE):
        result = _service_change(event)
    elif detail_type == contract.SCHEDULED_EVENT:
        parse(event=event, model=EventBridgeModel)
        result = reconcile.run()
    elif event == {}:
        # The deploy trigger (infra/read_model.py) invokes with no payload: the rows of an upgraded instance are
        # rebuilt now, not at the next hourly run.
        result = reconcile.run()
    else:
        logger.warning("An event this function does not handle")
        result = {"ignored": detail_type}
    logger.debug("Event handled", extra={"result": result})
    return result
