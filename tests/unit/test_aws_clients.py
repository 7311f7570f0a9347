"""The AWS client layer (docs/architecture.md#the-client-layer): created once, paced by one shared limiter, no timer, no
thread."""

import json
import random
import threading

import boto3.session
import pytest
from botocore.awsrequest import AWSResponse

from benchmarks.leak import drive
from handlers import api
from layer0 import aws, tags
from layer0.aws import TokenBucket
from layer0.models import Tag
from local.gateway import LambdaContext, proxy_event


class FakeClock:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class _Body:
    def __init__(self, payload: bytes):
        self._payload = payload

    def stream(self, **_kwargs):
        yield self._payload


class ThrottleInjector:
    """Answers a share of a client's HTTP attempts with a DynamoDB-style throttling error."""

    def __init__(self, share: float, seed: int = 7):
        self.share = share
        self.random = random.Random(seed)
        self.injected = 0
        self.attempts = 0

    def __call__(self, request, **_kwargs):
        self.attempts += 1
        if self.random.random() >= self.share:
            return None
        self.injected += 1
        body = json.dumps(
            {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "Rate exceeded"}
        )
        return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.0"}, _Body(body.encode()))


@pytest.fixture
def no_backoff_sleep(monkeypatch):
    """botocore sleeps between retries; record the sleeps instead of waiting."""
    slept = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", slept.append)
    return slept


@pytest.fixture
def fast(monkeypatch, stack):
    """The stack, with pacing lifted: these tests count calls, they do not time them."""
    monkeypatch.setenv("LAYER0_AWS_RATE", "1000000000")
    from layer0 import settings

    settings.get.cache_clear()
    aws.reset()
    yield stack
    aws.reset()


def test_token_bucket_allows_the_burst_then_paces_exactly():
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=5, clock=clock, sleep=clock.sleep)
    released = []
    for _ in range(25):
        bucket.acquire()
        released.append(clock.now)
    assert released[:5] == [100.0] * 5
    gaps = [round(later - earlier, 9) for earlier, later in zip(released[4:], released[5:])]
    assert gaps == [0.1] * 20
    assert clock.now == pytest.approx(102.0)  # (25 - 5) / 10 s


def test_token_bucket_refills_while_idle_up_to_the_burst():
    clock = FakeClock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        assert bucket.acquire() == 0
    assert bucket.acquire() == pytest.approx(0.5)
    clock.now += 60  # a long idle refills only up to the burst
    assert [bucket.acquire() for _ in range(4)] == [0, 0, 0, pytest.approx(0.5)]


def test_token_bucket_serves_concurrent_callers_at_the_rate():
    clock = FakeClock()
    lock = threading.Lock()
    waits = []
    bucket = TokenBucket(rate=4, burst=1, clock=clock, sleep=lambda seconds: None)

    def caller():
        wait = bucket.acquire()
        with lock:
            waits.append(wait)

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # The clock stood still: each caller reserved the next slot, 0.25 s after the one before.
    assert sorted(waits) == [pytest.approx(0.25 * n) for n in range(8)]


def test_token_bucket_rejects_nonsense():
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=1)
    with pytest.raises(ValueError):
        TokenBucket(rate=1, burst=0)


def test_one_client_per_service_serves_every_warm_invocation(fast, monkeypatch):
    created = []
    original = boto3.session.Session.client

    def counting(session, service, *args, **kwargs):
        created.append(service)
        return original(session, service, *args, **kwargs)

    monkeypatch.setattr(boto3.session.Session, "client", counting)
    first = None
    for _ in range(20):
        response = api.handler(proxy_event("GET", "/tag", query={"type": ["environment"]}), LambdaContext())
        assert response["statusCode"] == 200
        first = first or aws.client("dynamodb")
        assert aws.client("dynamodb") is first
    assert created == ["dynamodb"]


def test_one_limiter_per_service_shared_by_its_clients(fast, monkeypatch):
    assert aws.limiter("dynamodb") is aws.limiter("dynamodb")
    assert aws.limiter("dynamodb") is not aws.limiter("ecs")
    taken = {"dynamodb": 0, "ecs": 0, "secretsmanager": 0}
    for service in taken:
        monkeypatch.setattr(aws.limiter(service), "acquire", lambda s=service: taken.__setitem__(s, taken[s] + 1))
    tags.query({"type": "environment"})  # the tag store's DynamoDB query
    aws.client("ecs").list_clusters()
    from layer0 import auth

    auth.forget()
    auth.is_authorized(f"Basic {fast}")  # the auth secret, read on our client
    assert taken == {"dynamodb": 1, "ecs": 1, "secretsmanager": 1}


def test_every_attempt_retries_included_takes_a_token(fast, no_backoff_sleep, monkeypatch):
    taken = []
    bucket = aws.limiter("dynamodb")
    monkeypatch.setattr(bucket, "acquire", lambda: taken.append(1) or 0.0)
    injector = ThrottleInjector(share=1.0)

    def throttle_twice(request, **kwargs):
        return injector(request) if injector.attempts < 2 else None

    aws.client("dynamodb").meta.events.register_first("before-send", throttle_twice)
    assert tags.query({"type": "environment"}) == []
    assert len(taken) == 3  # two throttled attempts and the one that succeeded


def test_throttling_on_30_percent_of_calls_is_absorbed_by_retries(fast, no_backoff_sleep):
    injector = ThrottleInjector(share=0.3)
    aws.client("dynamodb").meta.events.register_first("before-send", injector)
    for index in range(100):
        tags.add(Tag(entity_type="service", entity_id=f"s{index:03d}", key="name", value=f"svc{index}"))
    found = tags.query({"type": "service"})
    assert [entity.entity_id for entity in found] == [f"s{index:03d}" for index in range(100)]
    assert 0.2 < injector.injected / injector.attempts < 0.4  # about 30% of the attempts were throttled...
    assert len(no_backoff_sleep) == injector.injected  # ...and each one was retried after a backoff


def test_throttling_that_outlasts_the_retries_is_503_code_20(fast, no_backoff_sleep):
    injector = ThrottleInjector(share=1.0)
    aws.client("dynamodb").meta.events.register_first("before-send", injector)
    response = api.handler(proxy_event("GET", "/tag", query={"type": ["environment"]}), LambdaContext())
    assert response["statusCode"] == 503
    body = json.loads(response["body"])
    assert body["error_code"] == 20
    assert "ThrottlingException" in body["message"]
    assert injector.attempts == 5  # LAYER0_AWS_MAX_ATTEMPTS, the default


def test_three_thousand_warm_invocations_start_no_thread_and_leak_none():
    """The original leaked a ticker per AWS session (issue #620). Same driver as benchmarks/leak.py (the API
    function in a process of its own, against a moto server in this one), which runs 10,000 for the figures; a leak
    of one thread or client per call shows at any count, so the suite runs fewer, and one round of the CPU turns."""
    before = threading.active_count()
    result = drive(3_000, rounds=1)
    assert result.threads_started == 0  # no Thread, no Timer (a Timer is a Thread)
    assert result.threads_delta == 0
    assert threading.active_count() == before
    assert result.clients_created == 0  # every invocation reused the warm clients


# --- pacing sized from AWS's quotas (docs/operations.md#pacing) -----------------------------------------------------


def _fresh_settings() -> None:
    from layer0 import settings

    settings.get.cache_clear()
    aws.reset()


def test_each_service_is_paced_from_its_account_quota_shared_by_the_containers(monkeypatch):
    monkeypatch.setenv("LAYER0_AWS_CONTAINERS", "12")
    _fresh_settings()
    try:
        ecs, ec2, elb, iam = (aws.limiter(service) for service in ("ecs", "ec2", "elb", "iam"))
        # ECS cluster reads: bucket 50, refill 20/s per account, shared by 12 containers.
        assert (ecs.rate, ecs.burst) == (pytest.approx(20 / 12), 50)
        assert (ec2.rate, ec2.burst) == (pytest.approx(20 / 12), 100)
        assert (elb.rate, elb.burst) == (pytest.approx(10 / 12), 40)
        assert (iam.rate, iam.burst) == (aws.UNLISTED_PACE.rate, aws.UNLISTED_PACE.burst)
        # One user's burst of reads goes through without waiting: a whole bucket of ECS calls.
        assert [ecs.acquire() for _ in range(50)] == [0.0] * 50
    finally:
        aws.reset()


def test_more_api_containers_give_each_a_smaller_share(monkeypatch):
    monkeypatch.setenv("LAYER0_AWS_CONTAINERS", "22")
    _fresh_settings()
    try:
        assert aws.limiter("ecs").rate == pytest.approx(20 / 22)
    finally:
        aws.reset()


def test_aws_rate_and_burst_when_set_replace_every_services_own(monkeypatch):
    monkeypatch.setenv("LAYER0_AWS_RATE", "3")
    _fresh_settings()
    try:
        assert (aws.limiter("ecs").rate, aws.limiter("ecs").burst) == (3.0, 50)  # the burst stays the quota's
        assert aws.limiter("dynamodb").rate == 3.0
        monkeypatch.setenv("LAYER0_AWS_BURST", "7")
        _fresh_settings()
        assert {aws.limiter(service).burst for service in ("ecs", "ec2", "iam")} == {7}
    finally:
        aws.reset()


def test_local_mode_gives_each_function_token_buckets_of_its_own(monkeypatch):
    """A step function's calls, run by local mode's Lambda runtime, leave the API's token bucket untouched."""
    from moto import mock_aws

    from local import lambda_runtime

    monkeypatch.setenv("LAYER0_AWS_RATE", "0.001")  # no refill worth counting while the test runs
    _fresh_settings()
    step_name = "l0-test-job-environment-step"

    def step(event, context):
        for _ in range(5):
            aws.client("ecs").list_clusters()
        return aws.current_function()

    lambda_runtime.install()
    try:
        with mock_aws(config={"lambda": {"use_docker": False}}):
            role = boto3.client("iam").create_role(
                RoleName="l0-test-lambda",
                AssumeRolePolicyDocument=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                ),
            )["Role"]["Arn"]
            lambda_runtime.register(step_name, step)
            lambda_runtime.create_function(boto3.client("lambda"), step_name, role)
            api_ecs = aws.limiter("ecs")  # the API's: local mode's gateway calls the API outside any scope
            aws.client("ecs").list_clusters()  # one API call
            answer = boto3.client("lambda").invoke(FunctionName=step_name, Payload=b"{}")
            assert json.loads(answer["Payload"].read()) == step_name
            assert api_ecs.available() == pytest.approx(api_ecs.burst - 1, abs=0.01)  # only the API's own call
            with aws.function_scope(step_name):
                step_ecs = aws.limiter("ecs")
                assert step_ecs is not api_ecs
                assert step_ecs.available() == pytest.approx(step_ecs.burst - 5, abs=0.01)
                assert aws.client("ecs") is not None
    finally:
        lambda_runtime.unregister(step_name)
        aws.reset()


def test_a_client_loads_its_models_without_listing_every_service_botocore_knows(fast, monkeypatch):
    aws.reset()
    listed = []
    original = aws.ModelLoader.list_available_services

    def list_available_services(self, type_name):
        listed.append(type_name)
        return original(self, type_name)

    monkeypatch.setattr(aws.ModelLoader, "list_available_services", list_available_services)
    client = aws.client("dynamodb")
    client.get_paginator("query")
    client.list_tables()

    assert listed == []


@pytest.mark.parametrize("type_name", ["service-2", "endpoint-rule-set-1", "paginators-1", "waiters-2"])
def test_the_client_layers_models_are_botocores_own(type_name):
    from botocore.loaders import Loader

    ours = aws._new_session()._session.get_component("data_loader")
    theirs = Loader()
    for service in ("dynamodb", "ecs", "elbv2"):
        assert ours.load_service_model(service, type_name) == theirs.load_service_model(service, type_name)
    # The data every client reads, as plain dicts (botocore's are OrderedDicts), keys in the same order.
    for name in ("endpoints", "partitions", "sdk-default-configuration", "_retry"):
        plain, ordered = ours.load_data(name), theirs.load_data(name)
        assert type(plain) is dict
        assert plain == ordered and list(plain) == list(ordered)


def test_an_unknown_service_or_missing_model_fails_as_botocore_fails():
    from botocore.exceptions import DataNotFoundError, UnknownServiceError

    loader = aws._new_session()._session.get_component("data_loader")
    with pytest.raises(UnknownServiceError):
        loader.load_service_model("no-such-service", "service-2")
    with pytest.raises(UnknownServiceError):  # STS has no waiters: botocore calls that an unknown service too
        loader.load_service_model("sts", "waiters-2")
    with pytest.raises(DataNotFoundError):
        loader.load_service_model("dynamodb", "service-2", "1999-01-01")
