"""Fault injection (issue 6): `LAYER0_FAULT_RATE` makes the client layer answer a share of AWS calls with a
throttling error or an HTTP 500 in the service's own protocol, and botocore's standard retries absorb them."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from layer0 import aws, errors, settings
from layer0.aws import SERVER_ERROR, THROTTLING, FaultInjector
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
    for path in ("/environment", "/job", "/service", "/deploy", "/loadbalancer"):
        response = api.handler(proxy_event("GET", path), LambdaContext())
        assert response["statusCode"] == 200, response
    assert sum(aws.fault_injector().injected.values()) > 0


def test_rate_0_registers_no_hook(faults, monkeypatch):
    faults(rate=0, seed=None)
    monkeypatch.setattr(FaultInjector, "hook", lambda *_: pytest.fail("a fault hook was registered"))
    assert aws.fault_injector() is None
    attempts = [aws.client("ecs").list_clusters()["ResponseMetadata"]["RetryAttempts"] for _ in range(50)]
    assert attempts == [0] * 50
