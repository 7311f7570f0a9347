"""The AWS client layer (DESIGN §3): the only place that creates boto3 clients.

The original Layer0 leaked one ticker per AWS session and died of it (SPEC §6, issue #620). Here:
- a client is created lazily, once per process, and reused by every warm invocation;
- every client of one AWS service shares one token bucket, hooked on botocore's `before-send`, so
  retries are paced too. The bucket's state is computed from the clock on demand: no thread, no timer;
- botocore's standard retries absorb throttling; what survives becomes HTTP 503, code 20 (errors.py).

Endpoints come from the environment (`AWS_ENDPOINT_URL`), so local mode and tests run this same code.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import boto3
from botocore.client import BaseClient
from botocore.config import Config

from layer0 import settings


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

    def before_send(self, **_kwargs) -> None:
        """botocore `before-send` hook. Must return None: anything else is taken as the HTTP response."""
        self.acquire()


# botocore logs whole request and response bodies at DEBUG, secrets included (GetSecretValue):
# keep its wire loggers at INFO even when a function runs with LOG_LEVEL=DEBUG.
for _wire_logger in ("botocore.parsers", "botocore.endpoint", "botocore.auth"):
    logging.getLogger(_wire_logger).setLevel(logging.INFO)

_lock = threading.RLock()
_clients: dict[str, BaseClient] = {}
_limiters: dict[str, TokenBucket] = {}


def _once(cache: dict, service: str, make: Callable[[], object]):
    """cache[service], made at most once per process even when threads race for it."""
    found = cache.get(service)
    if found is None:
        with _lock:
            found = cache.get(service)
            if found is None:
                found = cache[service] = make()
    return found


def limiter(service: str) -> TokenBucket:
    """The one token bucket shared by every client of `service` in this process."""
    config = settings.get()
    return _once(_limiters, service, lambda: TokenBucket(config.aws_rate, config.aws_burst))


def _new_client(service: str) -> BaseClient:
    config = settings.get()
    client = boto3.session.Session().client(
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
    client.meta.events.register_first("before-send", limiter(service).before_send)
    return client


def client(service: str) -> BaseClient:
    """The process's client for `service`, created on first use."""
    return _once(_clients, service, lambda: _new_client(service))


def reset() -> None:
    """Forget every client and limiter: for tests that change settings or the endpoint."""
    with _lock:
        _clients.clear()
        _limiters.clear()
