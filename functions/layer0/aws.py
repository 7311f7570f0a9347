"""The AWS client layer (docs/architecture.md#the-client-layer): the only place that creates boto3 clients.

The original Layer0 leaked one ticker per AWS session and died of it (docs/architecture.md#the-client-layer, issue
#620). Here:
- a client is created lazily, once per process, and reused by every warm invocation;
- every client of one AWS service shares one token bucket, hooked on botocore's `before-send`, so
  retries are paced too. The bucket's state is computed from the clock on demand: no thread, no timer;
- each service's rate and burst come from the account quota AWS documents for it (`ACCOUNT_QUOTAS`): the rate is
  the quota's refill shared among the containers that may call at once, the burst the quota's bucket
  (docs/operations.md#pacing). `LAYER0_AWS_RATE` / `LAYER0_AWS_BURST`, when set, replace them for every service;
- token buckets belong to one function (`function_scope`), chosen on each call: on AWS a process runs one function,
  so there is one scope; local mode runs every function in one process and gives each buckets of its own, as its
  containers would have (the clients themselves, stateless but for their connection pools, are shared);
- botocore's standard retries absorb throttling; what survives becomes HTTP 503, code 20 (errors.py);
- with `LAYER0_FAULT_RATE` set (tests, `python -m local --fault-rate`), a `FaultInjector` answers that share of
  calls with a throttling error or an HTTP 500 instead of sending them, so the retries act as on a busy AWS;
  with `LAYER0_FAULT_AFTER` (`--fault-after`) a share of those faults comes after AWS did the work: the call is
  sent and its answer lost (an HTTP 500 or a dropped connection), so retries resend calls that already took effect.

Endpoints come from the environment (`AWS_ENDPOINT_URL`), so local mode and tests run this same code.
"""

from __future__ import annotations

import contextlib
import contextvars
import gzip
import json
import logging
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

import boto3
from botocore.awsrequest import AWSResponse
from botocore.client import BaseClient
from botocore.compat import HTTPHeaders
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionClosedError, DataNotFoundError, ReadTimeoutError
from botocore.loaders import JSONFileLoader, Loader, create_loader, instance_cache
from botocore.session import Session as BotocoreSession

from layer0 import settings

# A boto3 client of one AWS service. boto3 makes each service's operations and modeled exceptions
# (`client.exceptions.NoSuchEntityException`) at run time from the service's model, and botocore's `BaseClient`
# declares none of them: to the type checker a service's client is Any.
Client: TypeAlias = Any
_T = TypeVar("_T")


class TokenBucket:
    """Paces callers to `rate` per second, allowing bursts of `burst`.

    A caller that finds no token reserves the next one (the balance goes negative) and sleeps until
    it is due, outside the lock, so concurrent callers are served in order at exactly `rate`.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until it is due. Returns the time slept."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait

    def restart(self) -> None:
        """A full bucket from now. After a SnapStart restore the monotonic clock it last read was another host's
        (docs/architecture.md#cold-start): the balance computed from it would be wrong either way."""
        with self._lock:
            self._tokens = float(self.burst)
            self._updated = self._clock()

    def available(self) -> float:
        """The tokens the bucket holds now (negative while callers wait for reserved ones)."""
        with self._lock:
            return min(self.burst, self._tokens + (self._clock() - self._updated) * self.rate)

    def before_send(self, **_kwargs) -> None:
        """botocore `before-send` hook. Must return None: anything else is taken as the HTTP response."""
        self.acquire()


class _Body:
    """The `raw` of an `AWSResponse` that never went on the wire: botocore reads it with `stream()`."""

    def __init__(self, content: bytes):
        self._content = content

    def stream(self, **_kwargs):
        yield self._content


# What AWS answers when it throttles, per wire protocol: the HTTP status, the error code botocore's standard retry
# classifies as throttling (`ThrottledRetryableChecker`), and the body shape that protocol's parser reads the code from.
_THROTTLING = {
    "json": (400, "ThrottlingException"),
    "rest-json": (400, "ThrottlingException"),
    "query": (400, "Throttling"),
    "ec2": (503, "RequestLimitExceeded"),
    "rest-xml": (503, "SlowDown"),
}
_SERVER_ERROR = {"json": "InternalFailure", "rest-json": "InternalFailure"}  # query, ec2, rest-xml: InternalError
THROTTLING, SERVER_ERROR = "throttling", "server_error"
# Faults after AWS did the work: the call reached AWS, and its answer was a 500 or never came back.
LOST_SERVER_ERROR, CONNECTION_CLOSED, READ_TIMEOUT = "lost_server_error", "connection_closed", "read_timeout"
AFTER_KINDS = (LOST_SERVER_ERROR, CONNECTION_CLOSED, READ_TIMEOUT)
# The attribute of a prepared request that tells the wire (`_AnswerLosingSession`) to lose its answer.
LOSE_ANSWER = "layer0_lose_answer"


def _error_response(protocol: str, status: int, code: str, message: str) -> tuple[dict[str, str], bytes]:
    """Headers and body of an AWS error in `protocol`, as botocore's parser for it expects them."""
    if protocol in ("json", "rest-json"):
        body = json.dumps({"__type": code, "message": message}).encode()
        return {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code}, body
    if protocol == "ec2":
        xml = f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors></Response>"
    else:  # query, rest-xml
        kind = "Sender" if status < 500 else "Receiver"
        error = f"<Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        xml = f"<ErrorResponse>{error}</ErrorResponse>"
    return {"Content-Type": "text/xml"}, xml.encode()


class FaultInjector:
    """Fails a share `rate` of AWS calls, choosing per HTTP attempt on `before-send`.

    A share `after` (0..1) of the faults come after AWS did the work: the request is sent, AWS performs it, and
    its answer is lost, as an HTTP 500 or a dropped connection (botocore's ConnectionClosedError or
    ReadTimeoutError), a third each. The rest answer, instead of sending the call, with a throttling error or an
    HTTP 500 (half each), in the service's protocol. What then happens (botocore's retries resending the call, our
    error translation, the job machines' retries) is what happens on AWS under load.

    Faults after the work need the wire (`wrap_http_session`): moto in process answers on `before-send`, so there
    they are chosen and never happen; local mode and tests on a moto server have them.

    One per process, shared by every client; `injected` counts the faults done, by kind.
    """

    def __init__(self, rate: float, seed: int | None = None, after: float = 0.0):
        if not 0 <= rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        if not 0 <= after <= 1:
            raise ValueError("after must be between 0 and 1")
        self.rate = rate
        self.after = after
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.calls = 0
        self.injected: Counter[str] = Counter()

    def _choose(self) -> str | None:
        with self._lock:
            self.calls += 1
            if self._random.random() >= self.rate:
                return None
            if self.after and self._random.random() < self.after:
                return AFTER_KINDS[self._random.randrange(len(AFTER_KINDS))]  # counted when done, on the wire
            kind = THROTTLING if self._random.random() < 0.5 else SERVER_ERROR
            self.injected[kind] += 1
            return kind

    def _count(self, kind: str) -> None:
        with self._lock:
            self.injected[kind] += 1

    def hook(self, protocol: str) -> Callable[..., AWSResponse | None]:
        """The `before-send` hook for a client of a service that speaks `protocol`."""

        def before_send(request, **_kwargs) -> AWSResponse | None:
            kind = self._choose()
            if kind is None:
                return None
            if kind in AFTER_KINDS:
                # Let the call go; the wire loses its answer. A prepared request is made anew for each attempt.
                setattr(request, LOSE_ANSWER, kind)
                return None
            if kind == THROTTLING:
                status, code = _THROTTLING.get(protocol, (400, "Throttling"))
                message = "Rate exceeded (injected fault)"
            else:
                status, code = 500, _SERVER_ERROR.get(protocol, "InternalError")
                message = "We encountered an internal error. Please try again. (injected fault)"
            headers, body = _error_response(protocol, status, code, message)
            return AWSResponse(request.url, status, HTTPHeaders.from_dict(headers), _Body(body))

        return before_send

    def wrap_http_session(self, session: Any, protocol: str) -> Any:
        """`session` (a client's botocore HTTP session), losing the answers of the requests `hook` marked."""
        return _AnswerLosingSession(session, self, protocol)


class _AnswerLosingSession:
    """A botocore HTTP session that sends every request, and then loses the answer of one marked by the fault
    hook: AWS did the work, the caller never hears of it, and botocore's retries send the call again."""

    def __init__(self, session: Any, injector: FaultInjector, protocol: str):
        self._session = session
        self._injector = injector
        self._protocol = protocol

    def send(self, request) -> AWSResponse:
        kind = getattr(request, LOSE_ANSWER, None)
        response = self._session.send(request)
        if kind is None:
            return response
        _ = response.content  # read to the end, so the connection goes back to the pool
        self._injector._count(kind)
        if kind == CONNECTION_CLOSED:
            raise ConnectionClosedError(endpoint_url=request.url)
        if kind == READ_TIMEOUT:
            raise ReadTimeoutError(endpoint_url=request.url)
        code = _SERVER_ERROR.get(self._protocol, "InternalError")
        message = "We encountered an internal error. Please try again. (injected fault, after AWS did the work)"
        headers, body = _error_response(self._protocol, 500, code, message)
        return AWSResponse(request.url, 500, HTTPHeaders.from_dict(headers), _Body(body))

    def __getattr__(self, name: str) -> Any:  # close() and the rest: the session's own
        return getattr(self._session, name)


# botocore logs whole request and response bodies at DEBUG, secrets included (GetSecretValue):
# keep its wire loggers at INFO even when a function runs with LOG_LEVEL=DEBUG.
for _wire_logger in ("botocore.parsers", "botocore.endpoint", "botocore.auth"):
    logging.getLogger(_wire_logger).setLevel(logging.INFO)


@dataclass(frozen=True)
class Pace:
    """A token bucket's settings: `rate` calls per second, bursts of `burst`."""

    rate: float
    burst: int


@dataclass(frozen=True)
class AccountQuota:
    """The request budget AWS gives one account in one Region for the calls Layer0 makes to a service: a token
    bucket of `bucket` tokens refilled at `refill` per second, shared by every caller of the account."""

    refill: float
    bucket: int

    def pace(self, containers: int) -> Pace:
        """One container's share: the refill divided among `containers` calling at once, so that together they
        stay under it; the whole bucket as the burst, so one user's burst of reads goes through without waiting
        (when several containers burst at once, AWS throttles and botocore's retries absorb it)."""
        return Pace(self.refill / containers, self.bucket)


# docs/operations.md#pacing: each figure, the page of AWS's that documents it, and the arithmetic.
ACCOUNT_QUOTAS: dict[str, AccountQuota] = {
    "ecs": AccountQuota(refill=20, bucket=50),  # cluster read actions, the tightest bucket Layer0's reads draw on
    "ec2": AccountQuota(refill=20, bucket=100),  # non-mutating actions (Describe*)
    "elb": AccountQuota(refill=10, bucket=40),  # non-mutating actions; API version 1 has a bucket of its own
    "elbv2": AccountQuota(refill=10, bucket=40),
    "autoscaling": AccountQuota(refill=10, bucket=40),  # no published figure: taken as ELB's
    "dynamodb": AccountQuota(refill=1000, bucket=1000),  # throttled by capacity, not calls: Layer0's own ceiling
    "stepfunctions": AccountQuota(refill=5, bucket=40),  # GetExecutionHistory, the tightest Layer0 calls
    "secretsmanager": AccountQuota(refill=10_000, bucket=10_000),  # GetSecretValue and DescribeSecret, combined
    "logs": AccountQuota(refill=25, bucket=25),  # GetLogEvents: 25 per second
    "scheduler": AccountQuota(refill=250, bucket=250),  # CreateSchedule / DeleteSchedule, the smallest Regions
}
# A service without a documented quota in the table (IAM, STS, SSM, ACM, Lambda, Application Auto Scaling): Layer0 calls
# it rarely (Application Auto Scaling: only for services it autoscales).
UNLISTED_PACE = Pace(rate=10.0, burst=20)


def default_pace(service: str, containers: int) -> Pace:
    """The rate and burst of one container's limiter for `service`, from the table."""
    quota = ACCOUNT_QUOTAS.get(service)
    return quota.pace(containers) if quota is not None else UNLISTED_PACE


def pace(service: str) -> Pace:
    """This process's pace for `service`: the table's, or `LAYER0_AWS_RATE` / `LAYER0_AWS_BURST` where set."""
    config = settings.get()
    default = default_pace(service, config.aws_containers)
    return Pace(config.aws_rate or default.rate, config.aws_burst or default.burst)


_lock = threading.RLock()
# The function whose clients and limiters a call uses: "" on AWS (one function per process). Local mode's Lambda
# runtime sets it around each invocation (local/lambda_runtime.py), so the steps, the scaler and the events function
# never draw on the API's buckets.
_function: contextvars.ContextVar[str] = contextvars.ContextVar("layer0_aws_function", default="")
_clients: dict[str, Client] = {}
_limiters: dict[tuple[str, str], TokenBucket] = {}
_fault_injectors: dict[str, FaultInjector] = {}
_sessions: dict[str, boto3.session.Session] = {}

_K = TypeVar("_K")


def _once(cache: dict[_K, _T], key: _K, make: Callable[[], _T]) -> _T:
    """cache[key], made at most once per process even when threads race for it."""
    found = cache.get(key)
    if found is None:
        with _lock:
            found = cache.get(key)
            if found is None:
                found = cache[key] = make()
    return found


@contextlib.contextmanager
def function_scope(function_name: str) -> Iterator[None]:
    """Within this block, AWS calls draw on `function_name`'s own token buckets."""
    token = _function.set(function_name)
    try:
        yield
    finally:
        _function.reset(token)


def current_function() -> str:
    """The function whose token buckets pace this thread's calls ("" outside any `function_scope`)."""
    return _function.get()


def limiter(service: str) -> TokenBucket:
    """The one token bucket that paces every call to `service` of the current function."""

    def make() -> TokenBucket:
        chosen = pace(service)
        return TokenBucket(chosen.rate, chosen.burst)

    return _once(_limiters, (_function.get(), service), make)


def fault_injector() -> FaultInjector | None:
    """The process's fault injector, or None when `LAYER0_FAULT_RATE` is 0 (the default)."""
    config = settings.get()
    if config.fault_rate <= 0:
        return None
    return _once(_fault_injectors, "", lambda: FaultInjector(config.fault_rate, config.fault_seed, config.fault_after))


class PlainJSONFileLoader(JSONFileLoader):
    """botocore's data files read into plain dicts. botocore reads them into OrderedDicts, which take twice as long
    to build (its endpoint data alone is 1.2 MB); a dict keeps its keys in order as well."""

    def load_file(self, file_path: str) -> Any:
        for extension, open_file in ((".json", open), (".json.gz", gzip.open)):  # botocore's order
            path = file_path + extension
            if os.path.isfile(path):
                with open_file(path, "rb") as data:
                    return json.loads(data.read().decode("utf-8"))
        return None


class ModelLoader(Loader):
    """botocore's data loader, but a service's model loads without listing every service botocore knows first.

    botocore's `load_service_model` checks that the service exists by listing all of its data folders (about 400),
    once per model type: a service model, its endpoint rules and its paginators made three walks, a third of a cold
    API function's first request (docs/architecture.md#cold-start). Here a service whose folder holds the asked
    type loads straight away, as botocore would load it; anything else (an unknown service, a missing type or
    version) goes through botocore's own method, with its own errors.
    """

    FILE_LOADER_CLASS = PlainJSONFileLoader

    @instance_cache
    def load_service_model(self, service_name: str, type_name: str, api_version: str | None = None) -> Any:
        try:
            versions = self.list_api_versions(service_name, type_name)
        except DataNotFoundError:
            versions = []
        version = api_version or (max(versions) if versions else None)
        if version is None or version not in versions:
            return super().load_service_model(service_name, type_name, api_version)
        model = self.load_data(os.path.join(service_name, version, type_name))
        # The rest of botocore's method, unchanged (its private helpers: botocore-stubs types public members only).
        extras = self._find_extras(service_name, type_name, version)  # type: ignore[attr-defined]
        self._extras_processor.process(model, extras)  # type: ignore[attr-defined]
        return model


def _new_session() -> boto3.session.Session:
    core = BotocoreSession()
    # The search path botocore's own loader would have (AWS_DATA_PATH, then its defaults).
    search_paths = create_loader(core.get_config_variable("data_path")).search_paths
    core.register_component("data_loader", ModelLoader(search_paths, include_default_search_paths=False))
    return boto3.session.Session(botocore_session=core)


def _new_client(service: str) -> BaseClient:
    config = settings.get()
    # One session for every client: a session loads botocore's endpoint and retry data once, not per client
    # (docs/architecture.md#cold-start).
    session = _once(_sessions, "", _new_session)
    client: BaseClient = session.client(
        service,
        region_name=config.region,
        config=Config(
            retries={"mode": "standard", "total_max_attempts": config.aws_max_attempts},
            connect_timeout=config.aws_connect_timeout,
            read_timeout=config.aws_read_timeout,
            max_pool_connections=16,
        ),
    )
    # First in line, so nothing that answers instead of the network (moto in tests) skips the pacing.
    # The bucket is looked up on each call: the calling function's own (`function_scope`).
    client.meta.events.register_first("before-send", lambda **_kwargs: limiter(service).before_send())
    injector = fault_injector()
    if injector is not None:
        # After the limiter (first-registered runs first), so faults are paced like the calls they stand for;
        # ahead of every other answerer, so the fault is the answer. (botocore still calls the later hooks: moto
        # in process executes a faulted call anyway; over HTTP, as in local mode, it never reaches AWS.)
        # botocore-stubs types every event handler as returning None, but a before-send handler that returns an
        # AWSResponse is how botocore lets a hook answer a request (the point of this one).
        protocol = client.meta.service_model.protocol
        client.meta.events.register_first("before-send", injector.hook(protocol))  # type: ignore[arg-type]
        if injector.after:
            # botocore offers no public way to give a client its HTTP session; the endpoint's is the wire.
            endpoint = client._endpoint  # type: ignore[attr-defined]
            endpoint.http_session = injector.wrap_http_session(endpoint.http_session, protocol)
    return client


def retried(error: ClientError) -> bool:
    """Whether botocore sent the failed call more than once: an earlier attempt may have done the work and lost
    its answer (docs/architecture.md#the-client-layer), so "already exists" may name what this call made."""
    return int(error.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)) > 0


def may_have_taken_effect(error: BaseException) -> bool:
    """Whether a call that failed with `error` after the client layer's retries may still have been done by AWS:
    its last answer never came (a connection error) or was a 5xx. Then the caller's clean-up must look for it."""
    if isinstance(error, ClientError):
        return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)) >= 500
    return isinstance(error, BotoCoreError)


@contextlib.contextmanager
def done_by_an_earlier_attempt(*codes: str) -> Iterator[None]:
    """Around one create call of a resource whose name is this request's own (its Layer0 name is claimed): an
    error with one of `codes` ("already exists") that comes on a retry is taken as success, since the earlier
    attempt made the resource; on a first attempt it is raised as it is."""
    try:
        yield
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code not in codes or not retried(error):
            raise
        logging.getLogger(__name__).info("%s on a retry: an earlier attempt made it", code)


def client(service: str) -> Client:
    """The process's client for `service`, created on first use."""
    return _once(_clients, service, lambda: _new_client(service))


def restart_limiters() -> None:
    """Restart every token bucket's clock, keeping the buckets the clients are hooked on (SnapStart's after-restore)."""
    with _lock:
        buckets = list(_limiters.values())
    for bucket in buckets:
        bucket.restart()


def reset_limiters() -> None:
    """Forget every token bucket, keeping the clients: the next calls find full buckets with the current settings
    (benchmarks that change the pacing between phases)."""
    with _lock:
        _limiters.clear()


def reset() -> None:
    """Forget every client and limiter: for tests that change settings or the endpoint."""
    with _lock:
        _clients.clear()
        _limiters.clear()
        _fault_injectors.clear()
        _sessions.clear()
