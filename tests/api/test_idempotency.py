"""`Idempotency-Key` on the create routes (docs/compatibility.md#idempotency-key), over HTTP through the local gateway,
with moto behind it: a replay answers as the first request did and does nothing else."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from handlers.api import deploys as deploy_routes
from handlers.api import services as service_routes
from layer0 import aws, settings
from layer0.stores import jobs as job_store
from tests.api.test_deploys import b64, fixture
from tests.api.test_services import ecs_services, machines, web  # noqa: F401 - fixtures
from tests.conftest import setup_client
from tests.workflows.test_create_task import agent, register_deploy  # noqa: F401 - a fixture
from tests.workflows.test_services_rollout import create_environment

DAY = 24 * 60 * 60
# What the local gateway's HTTP server adds by itself.
TRANSPORT_HEADERS = ("Date", "Server", "Connection", "Keep-Alive")


def keyed(key: str) -> dict:
    return {"headers": {"Idempotency-Key": key}}


def post_deploy(api, name: str = "guestbook", key: str | None = None, dockerrun: bytes | None = None):
    body = {"deploy_name": name, "dockerrun": b64(dockerrun or fixture("Service"))}
    return api.post("/deploy", json=body, **(keyed(key) if key is not None else {}))


def revisions(name: str = "guestbook") -> list[str]:
    arns = setup_client("ecs").list_task_definitions(familyPrefix=f"l0-l0-{name}", status="ACTIVE")
    return [arn.rsplit("/", 1)[1] for arn in arns["taskDefinitionArns"]]


def answer(response) -> tuple[int, str, dict[str, str]]:
    headers = {name: value for name, value in response.headers.items() if name not in TRANSPORT_HEADERS}
    return response.status_code, response.text, headers


def records() -> list[dict]:
    return setup_client("dynamodb").scan(TableName=settings.get().idempotency_table)["Items"]


def error(response) -> tuple[int, int]:
    return response.status_code, response.json()["error_code"]


# --- replay ----------------------------------------------------------------------------------------------------------


def test_the_same_key_twice_on_post_deploy_makes_one_revision_and_answers_the_same(api):
    first = post_deploy(api, key="deploy-1")
    again = post_deploy(api, key="deploy-1")

    assert first.status_code == 200, first.text
    assert answer(again) == answer(first)
    assert revisions() == ["l0-l0-guestbook:1"]
    # One record, kept for 24 hours; it holds no token.
    [record] = records()
    assert record["status"]["S"] == "COMPLETED"
    assert api.token not in str(record)


def test_requests_without_the_key_behave_as_before(api):
    """The original CLI and Terraform provider send no Idempotency-Key: each POST is a new revision."""
    assert post_deploy(api).status_code == 200
    assert post_deploy(api).status_code == 200

    assert revisions() == ["l0-l0-guestbook:1", "l0-l0-guestbook:2"]
    assert records() == []


def test_the_key_is_ignored_on_routes_that_are_not_creates(api):
    """`DELETE /deploy/{id}` is not an idempotent route: its answer is not kept, whatever the header."""
    assert post_deploy(api).status_code == 200

    deleted = api.delete("/deploy/guestbook.1", **keyed("delete-1"))

    assert deleted.status_code == 200
    assert records() == []


def test_the_same_key_twice_on_post_service_makes_one_ecs_service_and_answers_with_the_same_job(web, api):  # noqa: F811
    environment_id, deploy_id = web
    body = {"environment_id": environment_id, "service_name": "guestbook", "deploy_id": deploy_id}

    first = api.post("/service", json=body, **keyed("service-1"))
    again = api.post("/service", json=body, **keyed("service-1"))

    assert first.status_code == 200, first.text
    assert answer(again) == answer(first)
    assert again.headers["X-JobID"] == first.headers["X-JobID"]
    assert again.headers["Location"] == f"/job/{first.headers['X-JobID']}"
    assert [s["serviceName"] for s in ecs_services(environment_id)] == [f"l0-l0-{first.json()['service_id']}"]
    # Without the key, the same body is a duplicate name, as it was.
    assert error(api.post("/service", json=body)) == (400, 13)


def test_the_same_key_twice_on_post_task_starts_one_job(machines, agent, api):  # noqa: F811
    environment_id = create_environment("test", count=1)
    agent.sync_once()
    body = {"deploy_id": register_deploy("alpine"), "environment_id": environment_id, "task_name": "task1"}

    first = api.post("/task", json=body, **keyed("task-1"))
    again = api.post("/task", json=body, **keyed("task-1"))

    assert first.status_code == 202, first.text
    assert answer(again) == answer(first)
    assert [job.job_id for job in job_store.list_all()] == [first.headers["X-JobID"]]


def test_a_4xx_answer_is_kept_too(web, api, monkeypatch):  # noqa: F811
    _, deploy_id = web
    calls: list[object] = []
    create = service_routes.services.create
    monkeypatch.setattr(service_routes.services, "create", lambda request: calls.append(request) or create(request))
    body = {"environment_id": "missing", "service_name": "guestbook", "deploy_id": deploy_id}
    first = api.post("/service", json=body, **keyed("service-400"))
    assert error(first) == (400, 6)

    again = api.post("/service", json=body, **keyed("service-400"))

    assert answer(again) == answer(first)
    assert len(calls) == 1
    [record] = records()
    assert record["status"]["S"] == "COMPLETED"


# --- scope -----------------------------------------------------------------------------------------------------------


def test_another_token_holder_has_keys_of_its_own(api, monkeypatch):
    from handlers import authorizer

    # Two valid tokens, as while a token is rotated.
    valid = {f"Basic {api.token}", "Basic b3RoZXI6dG9rZW4="}
    monkeypatch.setattr(authorizer.auth, "is_authorized", lambda header: header in valid)
    body = {"deploy_name": "guestbook", "dockerrun": b64(fixture("Service"))}

    mine = api.post("/deploy", json=body, **keyed("shared"))
    theirs = api.post(
        "/deploy", json=body, headers={"Idempotency-Key": "shared", "Authorization": "Basic b3RoZXI6dG9rZW4="}
    )

    mine_again = api.post("/deploy", json=body, **keyed("shared"))

    assert [r.json()["deploy_id"] for r in (mine, theirs, mine_again)] == ["guestbook.1", "guestbook.2", "guestbook.1"]


def test_the_same_key_on_another_route_or_path_is_another_request(web, api):  # noqa: F811
    environment_id, deploy_id = web
    ids = []
    for name in ("one", "two"):
        body = {"environment_id": environment_id, "service_name": name, "deploy_id": deploy_id}
        created = api.post("/service", json=body, **keyed(f"create-{name}"))
        assert created.status_code == 200, created.text
        ids.append(created.json()["service_id"])

    scaled = [
        api.request("PUT", f"/service/{service_id}/scale", json={"desired_count": 2}, **keyed("scale"))
        for service_id in ids
    ]
    deployed = api.request("PUT", f"/service/{ids[0]}/deploy", json={"deploy_id": deploy_id}, **keyed("scale"))
    replayed = api.request("PUT", f"/service/{ids[1]}/scale", json={"desired_count": 2}, **keyed("scale"))

    assert [(r.status_code, r.json()["service_id"], r.json()["desired_count"]) for r in scaled] == [
        (200, ids[0], 2),
        (200, ids[1], 2),
    ]
    assert scaled[0].headers["X-JobID"] != scaled[1].headers["X-JobID"]
    assert replayed.headers["X-JobID"] == scaled[1].headers["X-JobID"]
    assert deployed.status_code == 200, deployed.text
    assert deployed.headers["X-JobID"] not in {r.headers["X-JobID"] for r in scaled}
    assert sorted(s["desiredCount"] for s in ecs_services(environment_id)) == [2, 2]


def test_a_key_lasts_24_hours(api):
    before = int(time.time())
    assert post_deploy(api, key="day").status_code == 200
    after = int(time.time())
    [record] = records()
    assert before + DAY <= int(record["expiration"]["N"]) <= after + DAY

    # A day later (DynamoDB's TTL deletes expired items late; Powertools treats them as gone).
    dynamodb = setup_client("dynamodb")
    dynamodb.update_item(
        TableName=settings.get().idempotency_table,
        Key={"id": record["id"]},
        UpdateExpression="SET expiration = :past",
        ExpressionAttributeValues={":past": {"N": str(before - 1)}},
    )
    again = post_deploy(api, key="day")

    assert again.json()["deploy_id"] == "guestbook.2"


# --- conflicts -------------------------------------------------------------------------------------------------------


def test_the_same_key_with_another_body_is_409_code_30_and_does_nothing(api):
    assert post_deploy(api, key="deploy-1").status_code == 200

    other = post_deploy(api, key="deploy-1", dockerrun=fixture("Task"))

    assert error(other) == (409, 30)
    assert "another request body" in other.json()["message"]
    assert revisions() == ["l0-l0-guestbook:1"]


def test_the_same_body_spelled_differently_is_the_same_body(api):
    dockerrun = b64(fixture("Service"))
    body = f'{{"deploy_name": "guestbook", "dockerrun": "{dockerrun}"}}'
    respaced = f'{{ "dockerrun":"{dockerrun}" ,"deploy_name":"guestbook" }}'
    headers = {"Idempotency-Key": "spaced", "Content-Type": "application/json"}

    first = api.post("/deploy", data=body, headers=headers)
    again = api.post("/deploy", data=respaced, headers=headers)

    assert answer(again) == answer(first)
    assert revisions() == ["l0-l0-guestbook:1"]


def test_a_replay_while_the_first_request_runs_is_409_code_31(api, monkeypatch):
    """The local gateway serves one request at a time, as one warm container does: the record the first request left
    while it ran is put back, as a concurrent replay would find it."""
    create = deploy_routes.deploys.create
    seen: list[dict] = []

    def recording(request):
        seen.extend(records())
        return create(request)

    monkeypatch.setattr(deploy_routes.deploys, "create", recording)
    assert post_deploy(api, key="slow").status_code == 200
    [running] = seen
    assert running["status"]["S"] == "INPROGRESS"
    setup_client("dynamodb").put_item(TableName=settings.get().idempotency_table, Item=running)

    again = post_deploy(api, key="slow")

    assert error(again) == (409, 31)
    assert "still running" in again.json()["message"]
    assert revisions() == ["l0-l0-guestbook:1"]


@pytest.mark.parametrize("key", ["", "x" * 256, "clé", "tab\there"])
def test_a_bad_key_is_400_code_1_and_does_nothing(api, key):
    response = post_deploy(api, key=key)

    assert error(response) == (400, 1)
    assert "Idempotency-Key" in response.json()["message"]
    assert revisions() == []


def test_the_longest_key_is_accepted(api):
    assert post_deploy(api, key="k" * 255).status_code == 200


# --- server errors ---------------------------------------------------------------------------------------------------


def test_a_5xx_answer_is_not_kept_so_a_retry_runs_again(api, monkeypatch):
    create = deploy_routes.deploys.create
    failures = [
        ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "RegisterTaskDefinition")
    ]

    def failing_once(request):
        if failures:
            raise failures.pop()
        return create(request)

    monkeypatch.setattr(deploy_routes.deploys, "create", failing_once)
    failed = post_deploy(api, key="retry")
    assert error(failed) == (503, 20)
    assert records() == []

    retried = post_deploy(api, key="retry")

    assert retried.status_code == 200, retried.text
    assert revisions() == ["l0-l0-guestbook:1"]


# --- OpenAPI ---------------------------------------------------------------------------------------------------------


def test_the_openapi_document_describes_the_header_and_the_409(api):
    document = api.get("/openapi.json").json()

    with_header = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in operation.get("parameters", []))
    }
    assert with_header == {
        ("POST", "/environment"),
        ("POST", "/deploy"),
        ("POST", "/loadbalancer"),
        ("POST", "/service"),
        ("PUT", "/service/{id}/scale"),
        ("PUT", "/service/{id}/deploy"),
        ("POST", "/task"),
    }
    conflict = document["paths"]["/deploy"]["post"]["responses"]["409"]
    assert set(conflict["content"]["application/json"]["schema"]["properties"]) == {"error_code", "message"}
    [header] = [p for p in document["paths"]["/deploy"]["post"]["parameters"] if p["name"] == "Idempotency-Key"]
    assert header["required"] is False


# --- the idempotency table failing -----------------------------------------------------------------------------------


@pytest.fixture
def failing_dynamodb():
    """`failing_dynamodb.add("PutItem")`: the API's next DynamoDB calls of that operation on the idempotency table
    are throttled beyond the client's retries."""
    failing: set[str] = set()

    def fail(params, model, **_):
        if model.name in failing and params.get("TableName") == settings.get().idempotency_table:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, model.name)

    events = aws.client("dynamodb").meta.events
    events.register("provide-client-params.dynamodb", fail)
    yield failing
    events.unregister("provide-client-params.dynamodb", fail)


def test_a_key_that_cannot_be_recorded_is_503_code_20_and_does_nothing(api, failing_dynamodb):
    failing_dynamodb.add("PutItem")

    response = post_deploy(api, key="unrecorded")

    assert error(response) == (503, 20)
    assert revisions() == []


def test_an_answer_that_cannot_be_recorded_is_still_given(api, failing_dynamodb):
    """The route ran: its answer goes out even though the record of it could not be saved."""
    failing_dynamodb.add("UpdateItem")

    response = post_deploy(api, key="unsaved")

    assert response.status_code == 200, response.text
    assert response.json()["deploy_id"] == "guestbook.1"
    assert revisions() == ["l0-l0-guestbook:1"]
