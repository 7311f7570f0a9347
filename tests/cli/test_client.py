"""The client library alone: routes, errors, retries with Idempotency-Key, the version check, waits."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from layer0 import contract
from layer0_client import API_VERSION, Client, ConnectionFailed, NotAuthorized, ServerError, VersionMismatch
from layer0_client import client as client_module
from layer0_client.errors import WaitTimeout
from layer0_client.models import Autoscaling
from tests.cli.conftest import ENDPOINT, FakeAPI, answer

ROOT = Path(__file__).resolve().parents[2]
# The newest routes (secrets, service autoscaling): the client reaches them before every API has them.
NEW_ROUTES = {
    ("POST", "/secret"),
    ("GET", "/secret"),
    ("DELETE", "/secret/{name}"),
    ("PUT", "/service/{id}/autoscaling"),
    ("DELETE", "/service/{id}/autoscaling"),
}


def make(fake: FakeAPI, **kwargs) -> tuple[Client, list[float]]:
    slept: list[float] = []
    kwargs.setdefault("expected_version", API_VERSION)
    client = Client(ENDPOINT, "tok", transport=httpx.MockTransport(fake.handle), sleep=slept.append, **kwargs)
    return client, slept


def test_the_client_has_a_method_for_every_route_of_the_contract():
    served = {(route.method, route.path) for route in contract.ROUTES}
    reached = set(client_module.ROUTES)
    assert served <= reached, served - reached
    assert reached - served <= NEW_ROUTES, (reached - served) - NEW_ROUTES
    assert all(callable(getattr(Client, name)) for name in client_module.ROUTES.values())


def test_the_client_and_the_cli_import_none_of_the_lambda_code():
    script = "import sys, layer0_client.cli; print(sorted(m for m in sys.modules if m.split('.')[0] in ('layer0', 'handlers', 'local', 'infra')))"  # noqa: E501
    env = {**os.environ, "PYTHONPATH": str(ROOT / "client")}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_an_error_answer_raises_server_error_with_code_and_message():
    fake = FakeAPI()
    fake.on("GET", "/environment/e1", (404, {"error_code": 24, "message": "Environment 'e1' does not exist"}))
    client, _ = make(fake)
    with pytest.raises(ServerError) as raised:
        client.get_environment("e1")
    assert (raised.value.status, raised.value.error_code) == (404, 24)
    assert str(raised.value) == "ServerError (code=24) Environment 'e1' does not exist"


def test_401_raises_not_authorized_with_the_original_hint():
    fake = FakeAPI()
    fake.on("GET", "/job", lambda request: httpx.Response(401, text="401: Not Authorized"))
    client, _ = make(fake)
    with pytest.raises(NotAuthorized, match="Invalid Auth Token"):
        client.list_jobs()


def test_429_503_and_connection_errors_are_retried_with_backoff_and_one_idempotency_key():
    fake = FakeAPI()
    calls = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            return answer(429, {"error_code": 20, "message": "slow down"})
        if len(calls) == 2:
            raise httpx.ConnectError("refused", request=request)
        if len(calls) == 3:
            return answer(503, {"error_code": 20, "message": "throttled"}, {"Retry-After": "2"})
        return answer(200, {"deploy_id": "d.1", "deploy_name": "d", "version": "1", "dockerrun": ""})

    fake.routes[("POST", "/deploy")] = flaky
    client, slept = make(fake)
    deploy = client.create_deploy("d", b"{}")
    assert deploy.deploy_id == "d.1"
    assert len(calls) == 4
    keys = {request.headers["Idempotency-Key"] for request in calls}
    assert len(keys) == 1 and len(keys.pop()) == 32  # one key, sent with every retry of the one create
    assert len(slept) == 3 and slept[2] == 2.0  # Retry-After honoured


def test_every_create_sends_a_new_idempotency_key_and_reads_do_not():
    fake = FakeAPI()
    service = {"service_id": "s1", "service_name": "s", "deployments": []}
    fake.on("POST", "/service", (200, service, {"X-JobID": "j1"}))
    fake.on("PUT", "/service/s1/scale", (200, service, {"X-JobID": "j2"}))
    fake.on("GET", "/service/s1", (200, service))
    client, _ = make(fake)
    first = client.create_service("s", "e", "d.1")
    client.create_service("s", "e", "d.1")
    change = client.scale_service("s1", 3)
    client.get_service("s1")
    assert first.rollout_job_id == "j1" and change.rollout_job_id == "j2"
    created = fake.sent("POST", "/service")
    assert created[0].headers["Idempotency-Key"] != created[1].headers["Idempotency-Key"]
    assert "Idempotency-Key" in fake.sent("PUT", "/service/s1/scale")[0].headers
    assert "Idempotency-Key" not in fake.sent("GET", "/service/s1")[0].headers


def test_a_key_whose_first_request_still_runs_is_retried():
    fake = FakeAPI()
    fake.on(
        "POST",
        "/task",
        (409, {"error_code": 31, "message": "still running"}),
        (202, "", {"X-JobID": "job1"}),
    )
    client, slept = make(fake)
    assert client.create_task("t", "e", "d.1") == "job1"
    assert len(fake.sent("POST", "/task")) == 2 and len(slept) == 1


def test_retries_end_with_the_last_error():
    fake = FakeAPI()
    fake.on("GET", "/job", (503, {"error_code": 20, "message": "throttled"}))
    client, slept = make(fake, retries=2)
    with pytest.raises(ServerError, match=r"code=20"):
        client.list_jobs()
    assert len(fake.sent("GET", "/job")) == 3 and len(slept) == 2


def test_connection_failures_after_the_retries():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = Client(ENDPOINT, "t", transport=httpx.MockTransport(refuse), sleep=lambda s: None, retries=1)
    with pytest.raises(ConnectionFailed, match="Unable to connect to API") as raised:
        client.list_jobs()
    assert "LAYER0_API_ENDPOINT" not in str(raised.value)
    default = Client("http://localhost:9090/", "t", transport=httpx.MockTransport(refuse), sleep=lambda s: None)
    with pytest.raises(ConnectionFailed, match="Set LAYER0_API_ENDPOINT"):
        default.list_jobs()


def test_version_mismatch_unless_the_check_is_off():
    fake = FakeAPI()
    fake.on("GET", "/admin/version", lambda r: httpx.Response(200, json="v9", headers={"Version": "v9"}))
    client, _ = make(fake)
    with pytest.raises(VersionMismatch, match="CLI: 'v0.10.9-serverless', API: 'v9'"):
        client.admin_version()
    unchecked, _ = make(fake, expected_version=None)
    assert unchecked.admin_version() == "v9"


def test_wait_for_job_polls_until_the_job_ends():
    fake = FakeAPI()
    job = {"job_id": "j", "job_type": 1, "time_created": "2026-01-01T00:00:00Z"}
    fake.on(
        "GET",
        "/job/j",
        (200, {**job, "job_status": 1}),
        (200, {**job, "job_status": 2}),
        (200, {**job, "job_status": 3}),
    )
    client, slept = make(fake, poll_seconds=5)
    assert client.wait_for_job("j").job_status == 3
    assert slept == [5, 5]


def test_waits_end_at_the_deadline():
    fake = FakeAPI()
    fake.on("GET", "/job/j", (200, {"job_id": "j", "job_type": 1, "job_status": 2}))
    client, _ = make(fake, deadline=0.0)
    with pytest.raises(WaitTimeout):
        client.wait_for_job("j")


def test_request_bodies_of_the_new_routes():
    fake = FakeAPI()
    fake.on("POST", "/secret", (200, {"secret_name": "db", "secret_arn": "arn:x", "last_changed": ""}))
    fake.on("DELETE", "/secret/db", (204, None))
    fake.on("GET", "/secret", (200, [{"secret_name": "db", "secret_arn": "arn:x", "last_changed": ""}]))
    fake.on(
        "PUT",
        "/service/s1/autoscaling",
        (200, {"service_id": "s1", "autoscaling": {"min_count": 1, "max_count": 4, "cpu_target": 60}}),
    )  # noqa: E501
    fake.on("DELETE", "/service/s1/autoscaling", (200, {"service_id": "s1", "autoscaling": None}))
    client, _ = make(fake)
    assert client.set_secret("db", "hunter2").secret_arn == "arn:x"
    assert fake.body("POST", "/secret") == {"secret_name": "db", "value": "hunter2"}
    assert [s.secret_name for s in client.list_secrets()] == ["db"]
    client.delete_secret("db")
    service = client.set_service_autoscaling("s1", Autoscaling(min_count=1, max_count=4, cpu_target=60))
    assert service.autoscaling is not None and service.autoscaling.max_count == 4
    assert fake.body("PUT", "/service/s1/autoscaling") == {
        "min_count": 1,
        "max_count": 4,
        "cpu_target": 60.0,
        "memory_target": None,
        "requests_per_target": None,
        "scale_in_cooldown": None,
        "scale_out_cooldown": None,
    }
    assert client.clear_service_autoscaling("s1").autoscaling is None


def test_a_request_gets_no_more_time_than_the_deadline_leaves():
    seen: list[dict] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return answer(200, [])

    client = Client(ENDPOINT, "t", transport=httpx.MockTransport(record), deadline=time.monotonic() + 3)
    client.list_jobs()
    assert 0 < seen[0]["read"] <= 3
    Client(ENDPOINT, "t", transport=httpx.MockTransport(record), timeout_seconds=7).list_jobs()
    assert seen[1]["read"] == 7


def test_a_lost_answer_is_resent_only_when_that_cannot_do_the_work_twice():
    fake = FakeAPI()
    sent: list[httpx.Request] = []

    def lose(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        raise httpx.ReadError("connection reset", request=request)

    fake.routes[("DELETE", "/environment/e1")] = lose
    fake.routes[("GET", "/environment/e1")] = lose
    client, _ = make(fake, retries=2)
    with pytest.raises(ConnectionFailed):
        client.delete_environment("e1")  # a second delete job is not for the client to start
    assert len(sent) == 1
    with pytest.raises(ConnectionFailed):
        client.get_environment("e1")
    assert len(sent) == 4
