"""Fault injection (issue 6): `LAYER0_FAULT_RATE` makes the client layer answer a share of AWS calls with a
throttling error or an HTTP 500 in the service's own protocol, and botocore's standard retries absorb them."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError

from layer0 import aws, errors, settings
from layer0.aws import (
    CONNECTION_CLOSED,
    LOST_SERVER_ERROR,
    READ_TIMEOUT,
    SERVER_ERROR,
    THROTTLING,
    FaultInjector,
)
from layer0.errors import ErrorCode


class FakeRequest:
    url = "https://example.invalid/"


@pytest.fixture
def no_backoff_sleep(monkeypatch):
    """botocore sleeps between retries; record the sleeps instead of waiting."""
    slept = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", slept.append)
    return slept


@pytest.fixture
def faults(monkeypatch, stack):
    """Set the fault settings, with pacing lifted, and get fresh clients that honour them."""

    def configure(rate: float, seed: int | None = 11, max_attempts: int = 5) -> None:
        monkeypatch.setenv("LAYER0_FAULT_RATE", str(rate))
        if seed is not None:
            monkeypatch.setenv("LAYER0_FAULT_SEED", str(seed))
        monkeypatch.setenv("LAYER0_AWS_MAX_ATTEMPTS", str(max_attempts))
        monkeypatch.setenv("LAYER0_AWS_RATE", "1000000000")
        settings.get.cache_clear()
        aws.reset()

    yield configure
    aws.reset()


def test_the_share_is_the_rate_with_both_kinds_about_half_each():
    injector = FaultInjector(0.2, seed=3)
    hook = injector.hook("json")
    answers = [hook(request=FakeRequest()) for _ in range(10_000)]
    faulted = [answer for answer in answers if answer is not None]
    assert injector.calls == 10_000
    assert 1800 <= len(faulted) <= 2200
    assert sum(injector.injected.values()) == len(faulted)
    assert 0.4 <= injector.injected[THROTTLING] / len(faulted) <= 0.6
    assert sorted({answer.status_code for answer in faulted}) == [400, 500]


def test_a_seed_repeats_the_same_choices():
    def statuses(seed):
        hook = FaultInjector(0.3, seed=seed).hook("query")
        return [getattr(hook(request=FakeRequest()), "status_code", None) for _ in range(200)]

    assert statuses(5) == statuses(5)
    assert statuses(5) != statuses(6)


def test_rate_outside_0_to_1_is_refused(monkeypatch):
    with pytest.raises(ValueError):
        FaultInjector(1.5)
    monkeypatch.setenv("LAYER0_FAULT_RATE", "-0.1")
    with pytest.raises(ValueError, match="LAYER0_FAULT_RATE"):
        settings.from_environment()


# One call per protocol Layer0 speaks: json, query, ec2, rest-json (and rest-xml, S3).
CALLS = [
    ("dynamodb", "list_tables", {}),
    ("ecs", "list_clusters", {}),
    ("iam", "list_roles", {}),
    ("elbv2", "describe_load_balancers", {}),
    ("ec2", "describe_vpcs", {}),
    ("scheduler", "list_schedules", {}),
    ("s3", "list_buckets", {}),
]


@pytest.mark.parametrize("service,operation,kwargs", CALLS, ids=[call[0] for call in CALLS])
def test_every_protocol_parses_both_faults_as_aws_sends_them(faults, service, operation, kwargs):
    """Without retries, each fault reaches the caller as the ClientError AWS would give, and Layer0 translates a
    throttle to 503 code 20 and a 500 to 500 code 21 `AWS Error: ...`."""
    faults(rate=1, max_attempts=1)
    seen = {}
    for _ in range(30):
        with pytest.raises(ClientError) as raised:
            getattr(aws.client(service), operation)(**kwargs)
        response = raised.value.response
        status = response["ResponseMetadata"]["HTTPStatusCode"]
        kind = SERVER_ERROR if status == 500 else THROTTLING
        seen[kind] = (response["Error"]["Code"], errors.from_aws(raised.value))
    assert set(seen) == {THROTTLING, SERVER_ERROR}
    throttle_code, throttled = seen[THROTTLING]
    assert throttle_code in errors.THROTTLING_ERROR_CODES
    assert (throttled.status, throttled.code) == (503, ErrorCode.Throttled)
    server_code, failed = seen[SERVER_ERROR]
    assert server_code in ("InternalFailure", "InternalError")
    assert (failed.status, failed.code) == (500, ErrorCode.UnexpectedError)
    assert failed.message.startswith("AWS Error: ") and "injected fault" in failed.message


def test_retried_calls_succeed_and_retries_are_counted(faults, no_backoff_sleep):
    faults(rate=0.3, max_attempts=8)
    dynamodb = aws.client("dynamodb")
    attempts = [dynamodb.list_tables()["ResponseMetadata"]["RetryAttempts"] for _ in range(100)]
    injector = aws.fault_injector()
    assert sum(attempts) == sum(injector.injected.values()) > 0
    assert injector.injected[THROTTLING] > 0 and injector.injected[SERVER_ERROR] > 0
    assert injector.calls == 100 + sum(attempts)
    assert len(no_backoff_sleep) == sum(attempts)


def test_faults_reach_every_service_through_the_api(faults, no_backoff_sleep):
    """The domain's own calls (the tag table, ECS) are faulted too, and the API still answers."""
    from handlers import api
    from local.gateway import LambdaContext, proxy_event

    faults(rate=0.3, max_attempts=10)
    # Each list is one Query of the read model (docs/architecture.md#the-read-model): a few rounds to meet faults.
    paths = ("/environment", "/job", "/service", "/deploy", "/loadbalancer", "/task")
    for path in paths * 3:
        response = api.handler(proxy_event("GET", path), LambdaContext())
        assert response["statusCode"] == 200, response
    assert sum(aws.fault_injector().injected.values()) > 0


def test_rate_0_registers_no_hook(faults, monkeypatch):
    faults(rate=0, seed=None)
    monkeypatch.setattr(FaultInjector, "hook", lambda *_: pytest.fail("a fault hook was registered"))
    assert aws.fault_injector() is None
    attempts = [aws.client("ecs").list_clusters()["ResponseMetadata"]["RetryAttempts"] for _ in range(50)]
    assert attempts == [0] * 50


# --- faults after AWS did the work (LAYER0_FAULT_AFTER, `python -m local --fault-after`) ------------------------------


@pytest.fixture
def moto_on_the_wire(monkeypatch):
    """A moto server, as local mode runs it: faults after the work need the wire (moto in process answers on
    `before-send`, before any request is sent). Yields a configure(rate, after, max_attempts) and a factory of
    fault-free clients to look at what AWS did."""
    import socket
    import urllib.request

    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"

    def configure(rate: float, after: float, max_attempts: int = 5, seed: int = 7) -> None:
        for name, value in {
            "AWS_ENDPOINT_URL": endpoint,
            "LAYER0_FAULT_RATE": str(rate),
            "LAYER0_FAULT_AFTER": str(after),
            "LAYER0_FAULT_SEED": str(seed),
            "LAYER0_AWS_MAX_ATTEMPTS": str(max_attempts),
            "LAYER0_AWS_RATE": "1000000000",
        }.items():
            monkeypatch.setenv(name, value)
        settings.get.cache_clear()
        aws.reset()

    try:
        yield configure, lambda service: boto3.client(service, endpoint_url=endpoint, region_name="us-west-2")
    finally:
        aws.reset()
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()
        server.stop()


def test_a_fault_after_the_work_loses_the_answer_of_a_call_aws_performed(moto_on_the_wire, no_backoff_sleep):
    """Without retries: each call fails, as a 500 or a dropped connection, and yet AWS made each cluster."""
    configure, plain = moto_on_the_wire
    configure(rate=1, after=1, max_attempts=1)
    ecs = aws.client("ecs")
    failures = []
    for number in range(30):
        with pytest.raises((ClientError, ConnectionClosedError, ReadTimeoutError)) as raised:
            ecs.create_cluster(clusterName=f"l0-after-{number}")
        failures.append(raised.value)
    made = {c.split("/")[-1] for c in plain("ecs").list_clusters()["clusterArns"]}
    assert made == {f"l0-after-{number}" for number in range(30)}
    injector = aws.fault_injector()
    assert set(injector.injected) == {LOST_SERVER_ERROR, CONNECTION_CLOSED, READ_TIMEOUT}
    assert sum(injector.injected.values()) == 30
    served = [f for f in failures if isinstance(f, ClientError)]
    assert len(served) == injector.injected[LOST_SERVER_ERROR]
    for failure in served:  # what AWS answers when it fails: Layer0 translates it as any AWS 500
        assert failure.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert (errors.from_aws(failure).status, errors.from_aws(failure).code) == (500, ErrorCode.UnexpectedError)
    for failure in failures:
        if not isinstance(failure, ClientError):
            assert (errors.from_aws(failure).status, errors.from_aws(failure).code) == (503, ErrorCode.UnexpectedError)


def test_retries_resend_a_call_that_already_took_effect(moto_on_the_wire, no_backoff_sleep):
    """What the mode is for: a call that is not idempotent (RegisterTaskDefinition) is done twice when its answer
    is lost and botocore retries it, as on AWS."""
    configure, plain = moto_on_the_wire
    configure(rate=0.5, after=1, max_attempts=10)
    ecs = aws.client("ecs")
    container = [{"name": "app", "image": "nginx", "memory": 64}]
    retries = [
        ecs.register_task_definition(family="l0-resent", containerDefinitions=container)["ResponseMetadata"][
            "RetryAttempts"
        ]
        for _ in range(20)
    ]
    revisions = plain("ecs").list_task_definitions(familyPrefix="l0-resent")["taskDefinitionArns"]
    assert sum(retries) > 0
    assert len(revisions) == 20 + sum(retries) == 20 + sum(aws.fault_injector().injected.values())


def test_the_share_after_the_work_is_the_after_setting(no_backoff_sleep):
    injector = FaultInjector(1, seed=4, after=0.25)
    hook = injector.hook("json")
    requests_ = [FakeRequest() for _ in range(4000)]
    answered = [hook(request=request) for request in requests_]
    marked = [request for request, answer in zip(requests_, answered, strict=True) if answer is None]
    assert 800 <= len(marked) <= 1200  # sent, to be lost on the wire
    assert sum(injector.injected.values()) == 4000 - len(marked)  # counted when done


@pytest.mark.parametrize("value", ["-0.1", "1.5"])
def test_fault_after_outside_0_to_1_is_refused(monkeypatch, value):
    monkeypatch.setenv("LAYER0_FAULT_AFTER", value)
    with pytest.raises(ValueError, match="LAYER0_FAULT_AFTER"):
        settings.from_environment()
    with pytest.raises(ValueError):
        FaultInjector(0.5, after=float(value))


def test_without_fault_after_the_wire_is_botocores_own(faults):
    faults(rate=0.5)
    assert type(aws.client("ecs")._endpoint.http_session).__name__ == "URLLib3Session"
