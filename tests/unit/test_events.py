"""The events function (functions/handlers/events.py) with EventBridge events shaped as ECS sends them: duplicates
and out-of-order events change nothing wrongly (docs/architecture.md#the-read-model)."""

from __future__ import annotations

import copy
import datetime as dt
import time

import pytest

from handlers import events
from layer0 import services, settings, tasks
from layer0.stores import rows as row_store
from tests.conftest import setup_client

ACCOUNT = "123456789012"
CLUSTER = f"arn:aws:ecs:us-west-2:{ACCOUNT}:cluster/l0-l0-envabc123456"
# A task stopped five minutes ago: its row is listed until the retention ends, counted from then.
STOPPED_AT = int(time.time()) - 300
STOPPED_ISO = dt.datetime.fromtimestamp(STOPPED_AT, tz=dt.UTC).isoformat().replace("+00:00", "Z")
TASK_ARN = f"arn:aws:ecs:us-west-2:{ACCOUNT}:task/l0-l0-envabc123456/0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def task_event(version: int, last_status: str, *, exit_code: int | None = None, started_by: str = "l0-l0-",
               cluster: str = CLUSTER, time: str = "2026-11-29T10:00:00Z") -> dict:  # fmt: skip
    stopped = last_status == "STOPPED"
    return {
        "version": "0",
        "id": f"event-{version}-{last_status}",
        "detail-type": "ECS Task State Change",
        "source": "aws.ecs",
        "account": ACCOUNT,
        "time": time,
        "region": "us-west-2",
        "resources": [TASK_ARN],
        "detail": {
            "clusterArn": cluster,
            "containerInstanceArn": f"arn:aws:ecs:us-west-2:{ACCOUNT}:container-instance/l0-l0-envabc123456/abc",
            "containers": [
                {
                    "containerArn": f"arn:aws:ecs:us-west-2:{ACCOUNT}:container/abc",
                    "lastStatus": last_status,
                    "name": "alpine",
                    "taskArn": TASK_ARN,
                    **({"exitCode": exit_code, "reason": "Essential container exited"} if stopped else {}),
                }
            ],
            "createdAt": "2026-11-29T09:59:58.702Z",
            "desiredStatus": "STOPPED" if stopped else "RUNNING",
            "group": "family:l0-l0-alpine",
            "lastStatus": last_status,
            "launchType": "EC2",
            "overrides": {"containerOverrides": [{"name": "alpine"}]},
            "startedBy": started_by,
            **({"stoppedAt": time, "stoppedReason": "Essential container in task exited"} if stopped else {}),
            "taskArn": TASK_ARN,
            "taskDefinitionArn": f"arn:aws:ecs:us-west-2:{ACCOUNT}:task-definition/l0-l0-alpine:1",
            "updatedAt": time,
            "version": version,
        },
    }


@pytest.fixture
def started(stack):
    """A task as its create-task job records it."""
    tasks.write_row("batch1234567", "batch", "envabc123456", "alpine.1", TASK_ARN)
    return "batch1234567"


def row() -> row_store.Row:
    found = row_store.get("task", TASK_ARN)
    assert found is not None
    return found


def test_a_stopped_event_keeps_the_task_listed_with_its_exit_code_until_the_retention_ends(started):
    events.handler(task_event(2, "RUNNING"), None)
    assert row().fields["last_status"] == "RUNNING"
    assert row().expires_at is None

    events.handler(task_event(3, "STOPPED", exit_code=7, time=STOPPED_ISO), None)

    assert [t.task_id for t in tasks.list_all()] == [started]
    assert row().fields["containers"] == [
        {"container_name": "alpine", "exit_code": 7, "last_status": "STOPPED", "reason": "Essential container exited"}
    ]
    assert row().fields["stopped_reason"] == "Essential container in task exited"
    stopped_at = STOPPED_AT
    assert row().expires_at == stopped_at + 24 * 3600


def test_the_retention_is_a_setting(stack, monkeypatch):
    monkeypatch.setenv("LAYER0_TASK_RETENTION_HOURS", "2")
    settings.get.cache_clear()
    tasks.write_row("batch1234567", "batch", "envabc123456", "alpine.1", TASK_ARN)
    events.handler(task_event(3, "STOPPED", exit_code=0, time=STOPPED_ISO), None)
    assert row().expires_at == STOPPED_AT + 2 * 3600


def test_duplicate_and_out_of_order_events_change_nothing(started):
    stopped = task_event(3, "STOPPED", exit_code=1)
    events.handler(stopped, None)
    before = row()

    events.handler(copy.deepcopy(stopped), None)  # EventBridge delivers at least once
    events.handler(task_event(2, "RUNNING"), None)  # an older state, late
    events.handler(task_event(1, "PENDING"), None)

    assert row() == before
    assert row().fields["last_status"] == "STOPPED"


def test_an_event_before_the_job_records_its_task_is_kept(stack):
    events.handler(task_event(3, "STOPPED", exit_code=2), None)
    assert tasks.list_all() == []  # not Layer0's yet: no id, no name

    tasks.write_row("batch1234567", "batch", "envabc123456", "alpine.1", TASK_ARN)

    assert [(t.task_id, t.task_name) for t in tasks.list_all()] == [("batch1234567", "batch")]
    assert row().fields["containers"][0]["exit_code"] == 2


def test_tasks_layer0_did_not_start_and_other_instances_clusters_make_no_row(stack):
    events.handler(task_event(2, "RUNNING", started_by="ecs-svc/1234567890"), None)
    events.handler(task_event(2, "RUNNING", cluster=f"arn:aws:ecs:us-west-2:{ACCOUNT}:cluster/l0-other-env"), None)
    assert row_store.get("task", TASK_ARN) is None


def service_event(detail_type: str, event_name: str, service_arn: str, time: str) -> dict:
    return {
        "version": "0",
        "id": f"{event_name}-{time}",
        "detail-type": detail_type,
        "source": "aws.ecs",
        "account": ACCOUNT,
        "time": time,
        "region": "us-west-2",
        "resources": [service_arn],
        "detail": {
            "eventType": "INFO",
            "eventName": event_name,
            "clusterArn": service_arn.replace(":service/", ":cluster/").rsplit("/", 1)[0],
            "createdAt": time,
        },  # fmt: skip
    }


def test_a_service_event_removes_the_row_of_a_service_deleted_outside_layer0_but_not_a_newer_row(stack):
    ecs = setup_client("ecs")
    ecs.create_cluster(clusterName="l0-l0-envabc123456")
    arn = ecs.create_service(cluster="l0-l0-envabc123456", serviceName="l0-l0-websvc123456", desiredCount=0)["service"][
        "serviceArn"
    ]
    assert events.handler(
        service_event("ECS Service Action", "SERVICE_STEADY_STATE", arn, "2026-11-29T10:00:00Z"), None
    )
    assert [s.service_id for s in services.list_all()] == ["websvc123456"]

    ecs.delete_service(cluster="l0-l0-envabc123456", service="l0-l0-websvc123456")
    # A row written after the event (a newer version) stays; one written before goes.
    services.write_row("websvc123456", "web", "envabc123456", version=1795946400000 + 1)
    events.handler(
        service_event("ECS Deployment State Change", "SERVICE_DEPLOYMENT_COMPLETED", arn, "2026-11-29T10:00:00Z"), None
    )
    assert [s.service_id for s in services.list_all()] == ["websvc123456"]

    events.handler(service_event("ECS Service Action", "SERVICE_STEADY_STATE", arn, "2026-11-29T11:00:00Z"), None)

    assert services.list_all() == []


def test_the_scheduled_event_runs_the_reconcile(stack):
    row_store.put(row_store.Row("service", "gone12345678", {"service_id": "gone12345678", "service_name": "gone",
                                                            "environment_id": "e", "environment_name": ""}))  # fmt: skip
    scheduled = {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": "2026-11-29T10:00:00Z",
        "region": "us-west-2",
        "resources": [f"arn:aws:events:us-west-2:{ACCOUNT}:rule/l0-l0-reconcile"],
        "detail": {},
    }

    events.handler(scheduled, None)

    assert services.list_all() == []


@pytest.mark.parametrize("event_name", ["SERVICE_DESIRED_COUNT_UPDATED", "SERVICE_TASK_PLACEMENT_FAILURE"])
def test_a_desired_count_change_or_a_placement_failure_requests_a_scaler_run(stack, monkeypatch, event_name):
    """docs/compatibility.md#service-autoscaling: the environment's capacity follows what autoscaling asks for."""
    requested: list[str] = []
    monkeypatch.setattr(events.scaler, "request_run", lambda environment_id: requested.append(environment_id))
    arn = f"arn:aws:ecs:us-west-2:{ACCOUNT}:service/l0-l0-envabc123456/l0-l0-websvc123456"

    result = events.handler(service_event("ECS Service Action", event_name, arn, "2026-11-29T10:00:00Z"), None)
    events.handler(service_event("ECS Service Action", "SERVICE_STEADY_STATE", arn, "2026-11-29T10:00:01Z"), None)
    other = arn.replace("l0-l0-envabc123456", "other-cluster")
    events.handler(service_event("ECS Service Action", event_name, other, "2026-11-29T10:00:02Z"), None)

    assert result["scaler_run_requested"] == "envabc123456"
    assert requested == ["envabc123456"]


def test_the_deploy_triggers_empty_invocation_runs_the_reconcile(stack):
    """CDK's trigger (infra/read_model.py) invokes the function with an empty payload after each upgrade."""
    row_store.put(row_store.Row("service", "gone12345678", {"service_id": "gone12345678", "service_name": "gone",
                                                            "environment_id": "e", "environment_name": ""}))  # fmt: skip

    result = events.handler({}, None)

    assert services.list_all() == []
    assert result["service"]["removed"] == ["gone12345678"]
