"""`python -m benchmarks.limiter`: does the client layer's limiter hold the configured rate? (issue 6, section e)

docs/architecture.md#the-client-layer: every client of one AWS service shares one token bucket, hooked first on
botocore's `before-send`.
Here 8 threads call `layer0.aws.client("dynamodb").get_item(...)` on the tag table, against moto in process,
as fast as they can for a few seconds, with `LAYER0_AWS_RATE` and `LAYER0_AWS_BURST` set (default 20/s, burst 1).
The achieved rate is the calls made after the burst, over the time from the start to the last call's end; the
ratio to the configured rate should be close to 1 (above 1: the limiter lets too much through; well below 1:
it, or the machine, is slower than asked). The same is measured on a `TokenBucket` alone (no botocore, no moto):
its ratio is the limiter's own accuracy, the reference for the first.

Last line: `limiter_ratio=<float> bucket_ratio=<float> configured_rate=<float> callers=<int>`.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks import bootstrap
from benchmarks.common import in_process_stack, pacing_restored, table_head

CALLERS = 8
RATE = 20.0
BURST = 1
SECONDS = 5.0


@dataclass
class RateResult:
    name: str
    configured_rate: float
    burst: int
    callers: int
    calls: int
    seconds: float
    errors: int

    @property
    def achieved_rate(self) -> float:
        # The burst is served at once; the rate is what follows it.
        return max(self.calls - self.burst, 0) / self.seconds

    @property
    def ratio(self) -> float:
        return self.achieved_rate / self.configured_rate


def hammer(call: Callable[[], object], callers: int, seconds: float) -> tuple[int, float, int]:
    """`callers` threads call `call` until `seconds` have passed: (calls that returned, seconds to the last one's
    end, calls that raised)."""
    start = threading.Barrier(callers + 1)
    lock = threading.Lock()
    calls, errors, last_end = 0, 0, 0.0
    deadline: list[float] = []

    def caller() -> None:
        nonlocal calls, errors, last_end
        start.wait()
        while time.monotonic() < deadline[0]:
            try:
                call()
            except Exception:  # noqa: BLE001 - counted and reported; a benchmark must finish
                with lock:
                    errors += 1
                continue
            with lock:
                calls += 1
                last_end = time.monotonic()

    threads = [threading.Thread(target=caller, name=f"bench-limiter-{n}") for n in range(callers)]
    for thread in threads:
        thread.start()
    began = time.monotonic()
    deadline.append(began + seconds)
    start.wait()
    for thread in threads:
        thread.join()
    return calls, last_end - began, errors


def measure_bucket(
    rate: float = RATE, burst: int = BURST, callers: int = CALLERS, seconds: float = SECONDS
) -> RateResult:
    """The token bucket alone: the limiter's own accuracy."""
    from layer0.aws import TokenBucket

    bucket = TokenBucket(rate, burst)
    calls, elapsed, errors = hammer(bucket.acquire, callers, seconds)
    return RateResult("TokenBucket alone (no network)", rate, burst, callers, calls, elapsed, errors)


def measure_client(callers: int = CALLERS, seconds: float = SECONDS) -> RateResult:
    """GetItem through `layer0.aws.client("dynamodb")`. The stack must be up, with LAYER0_AWS_RATE and
    LAYER0_AWS_BURST set and the client layer reset (`aws.reset()`), so that its limiter has those settings."""
    from layer0 import aws, settings

    config = settings.get()
    table = config.tag_table
    dynamodb = aws.client("dynamodb")
    paced = aws.pace("dynamodb")
    key = {"EntityType": {"S": "environment"}, "EntityID": {"S": "bench-limiter"}}
    calls, elapsed, errors = hammer(lambda: dynamodb.get_item(TableName=table, Key=key), callers, seconds)
    return RateResult(
        "client layer: DynamoDB GetItem, moto in process",
        paced.rate,
        paced.burst,
        callers,
        calls,
        elapsed,
        errors,
    )


def measure(
    rate: float = RATE, burst: int = BURST, callers: int = CALLERS, seconds: float = SECONDS
) -> list[RateResult]:
    """Both measurements; brings up its own in-process stack with the rate, and restores the settings after."""
    with pacing_restored():
        os.environ["LAYER0_AWS_BURST"] = str(burst)
        with in_process_stack(aws_rate=rate):  # sets LAYER0_AWS_RATE, clears the settings, resets the client layer
            client = measure_client(callers, seconds)
    return [client, measure_bucket(rate, burst, callers, seconds)]


def report(results: list[RateResult]) -> str:
    lines = table_head(
        "what",
        "callers",
        "configured (calls/s, burst)",
        "calls",
        "seconds",
        "achieved (calls/s)",
        "achieved / configured",
        "errors",
    )
    for r in results:
        lines.append(
            f"| {r.name} | {r.callers} | {r.configured_rate:g}, {r.burst} | {r.calls} | {r.seconds:.2f} "
            f"| {r.achieved_rate:.2f} | {r.ratio:.3f} | {r.errors} |"
        )
    client, bucket = results
    lines += [
        "",
        f"limiter_ratio={client.ratio:.3f} bucket_ratio={bucket.ratio:.3f} configured_rate={client.configured_rate:g} "
        f"callers={client.callers}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.limiter", description=__doc__)
    parser.add_argument("--rate", type=float, default=RATE)
    parser.add_argument("--burst", type=int, default=BURST)
    parser.add_argument("--callers", type=int, default=CALLERS)
    parser.add_argument("--seconds", type=float, default=SECONDS)
    args = parser.parse_args(argv)
    print(report(measure(args.rate, args.burst, args.callers, args.seconds)))
    return 0


if __name__ == "__main__":
    bootstrap.paths()
    raise SystemExit(main())
