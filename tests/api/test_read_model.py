"""The read model (docs/architecture.md#the-read-model): every List route answers from one DynamoDB Query, however
large the estate; the API's writes keep it true."""

from __future__ import annotations

import time

import pytest

from layer0 import aws
from layer0.stores import rows as row_store

# Each List route, its row kind, and one row's fields as the route answers them.
ROUTES = {
    "/environment": (
        "environment",
        lambda i: {
            "environment_id": f"env{i:09d}",
            "environment_name": f"e{i}",
            "operating_system": "linux",
            "environment_type": "fargate" if i % 2 else "ec2",
        },
    ),
    "/deploy": ("deploy", lambda i: {"deploy_id": f"d{i}.1", "deploy_name": f"d{i}", "version": "1"}),
    "/service": (
        "service",
        lambda i: {
            "service_id": f"svc{i:09d}",
            "service_name": f"s{i}",
            "environment_id": "env000000001",
            "environment_name": "e1",
        },
    ),
    "/task": (
        "task",
        lambda i: {
            "task_id": f"tsk{i:09d}",
            "task_name": f"t{i}",
            "environment_id": "env000000001",
            "environment_name": "e1",
        },
    ),
    "/loadbalancer": (
        "loadbalancer",
        lambda i: {
            "load_balancer_id": f"lb{i:010d}",
            "load_balancer_name": f"l{i}",
            "environment_id": "env000000001",
            "environment_name": "e1",
            "load_balancer_type": "classic",
        },
    ),
}


def _calls(api, path: str) -> list[str]:
    calls: list[str] = []

    def record(event_name, **_kwargs):
        calls.append(event_name.split(".", 2)[-1])

    clients = [aws.client(s) for s in ("ecs", "dynamodb", "ec2", "autoscaling", "elb", "elbv2")]
    for client in clients:
        client.meta.events.register("before-call", record)
    try:
        assert api.get(path).status_code == 200
    finally:
        for client in clients:
            client.meta.events.unregister("before-call", record)
    return calls


@pytest.mark.parametrize("path", sorted(ROUTES))
def test_a_list_makes_one_query_for_one_or_thirty_entities(api, path):
    kind, fields = ROUTES[path]
    row_store.put(row_store.Row(kind, f"id-{0}", fields(0)))
    one = _calls(api, path)
    for i in range(1, 30):
        row_store.put(row_store.Row(kind, f"id-{i}", fields(i)))

    thirty = _calls(api, path)

    assert one == thirty == ["Query"]
    answered = api.get(path).json()
    assert sorted(answered, key=str) == sorted((fields(i) for i in range(30)), key=str)


def test_an_environment_row_written_before_environment_types_lists_as_ec2(api):
    fields = {"environment_id": "env000000001", "environment_name": "old", "operating_system": "linux"}
    row_store.put(row_store.Row("environment", "env000000001", fields))

    assert api.get("/environment").json() == [{**fields, "environment_type": "ec2"}]


@pytest.mark.parametrize("path", sorted(ROUTES))
def test_a_list_reads_only_the_rows_answer_and_expiry_not_their_keys(api, path):
    kind, fields = ROUTES[path]
    row_store.put(row_store.Row(kind, "id-1", fields(1), version=7, expires_at=int(time.time()) + 3600))
    asked: list[dict] = []

    def record(params, **_kwargs):
        asked.append(params)

    dynamodb = aws.client("dynamodb")
    dynamodb.meta.events.register("before-parameter-build.dynamodb.Query", record)
    try:
        answer = api.get(path)
    finally:
        dynamodb.meta.events.unregister("before-parameter-build.dynamodb.Query", record)

    assert answer.status_code == 200
    assert answer.json() == [fields(1)]
    [query] = asked
    names = query.get("ExpressionAttributeNames", {})
    projected = {names.get(name.strip(), name.strip()) for name in query["ProjectionExpression"].split(",")}
    assert projected == {"Row", "TimeToExist"}
    # The reconcile and the events function still read whole rows, versions included.
    [row] = row_store.select(kind)
    assert (row.entity_id, row.version) == ("id-1", 7)


def test_rows_never_show_in_the_tag_routes(api):
    row_store.put(row_store.Row("service", "svc000000001", ROUTES["/service"][1](1)))

    assert api.get("/tag", params={"type": "row:service"}).json() == []
    assert api.get("/tag", params={"type": "service"}).json() == []


def test_the_tag_routes_refuse_the_read_models_entity_types(api):
    fields = ROUTES["/service"][1](1)
    row_store.put(row_store.Row("service", "svc000000001", fields))
    tag = {"entity_type": "row:service", "entity_id": "svc000000001", "key": "name", "value": "x"}

    for method in ("POST", "DELETE"):
        response = api.request(method, "/tag", json=tag)
        assert response.status_code == 400
        assert response.json()["error_code"] == 16

    assert api.get("/tag", params={"type": "row:service"}).json() == []
    assert api.get("/service").json() == [fields]


@pytest.mark.parametrize("path", sorted(ROUTES))
def test_a_list_leaves_out_rows_whose_retention_has_ended_and_keeps_the_others(api, path):
    kind, fields = ROUTES[path]
    now = int(time.time())
    row_store.put(row_store.Row(kind, "id-kept", fields(1)))
    row_store.put(row_store.Row(kind, "id-retained", fields(2), expires_at=now + 3600))
    row_store.put(row_store.Row(kind, "id-ended", fields(3), expires_at=now - 1))  # DynamoDB's TTL has not run yet

    assert sorted(api.get(path).json(), key=str) == sorted([fields(1), fields(2)], key=str)
    # The rows themselves are still there, for the reconcile and the events function.
    assert {row.entity_id for row in row_store.select(kind)} == {"id-kept", "id-retained"}
    assert row_store.get(kind, "id-ended") is not None
