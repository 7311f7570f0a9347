"""`python -m benchmarks.leak`: does the API handler leak threads, memory or CPU when warm? (issue #620)

Runs the API handler warm for 10,000 invocations against moto in process. Each invocation answers
`GET /tag?type=environment`, a DynamoDB query through the client layer. Prints a table per window of
1,000 invocations, then the last line:
`threads_delta=<int> rss_growth_mb=<float> cpu_ratio=<float>`
where cpu_ratio is the CPU per invocation of the last 1,000 divided by that of the first 1,000
after warm-up. The original Layer0's leak made that ratio grow without bound.
"""

from __future__ import annotations

import argparse
import threading
import time
from dataclasses import dataclass, field

import psutil

WARMUP = 200
WINDOW = 1_000


@dataclass
class LeakResult:
    invocations: int
    threads_delta: int
    threads_started: int
    rss_growth_mb: float
    clients_created: int
    window_cpu_ms: list[float] = field(default_factory=list)  # CPU per invocation, per window

    @property
    def cpu_ratio(self) -> float:
        return self.window_cpu_ms[-1] / self.window_cpu_ms[0]


def _event() -> dict:
    return {
        "resource": "/tag",
        "path": "/tag",
        "httpMethod": "GET",
        "headers": {"Accept": "application/json"},
        "multiValueHeaders": {"Accept": ["application/json"]},
        "queryStringParameters": {"type": "environment"},
        "multiValueQueryStringParameters": {"type": ["environment"]},
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {"resourcePath": "/tag", "httpMethod": "GET", "path": "/tag", "stage": "api", "requestId": "r"},
        "body": None,
        "isBase64Encoded": False,
    }


class _Context:
    function_name = "l0-bench-api"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-west-2:123456789012:function:l0-bench-api"
    aws_request_id = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def drive(invocations: int = 10_000, warmup: int = WARMUP, window: int = WINDOW) -> LeakResult:
    """Invoke the warm API handler; the stack must be up (moto active, settings set)."""
    import boto3.session

    from handlers import api
    from layer0 import tags
    from layer0.models import Tag

    for index in range(5):
        tags.add(Tag(entity_type="environment", entity_id=f"env{index}", key="name", value=f"env{index}"))

    started = []
    original_start = threading.Thread.start
    created = []
    original_client = boto3.session.Session.client

    def counting_start(thread, *args, **kwargs):
        started.append(thread.name)
        return original_start(thread, *args, **kwargs)

    def counting_client(session, *args, **kwargs):
        created.append(args[0] if args else kwargs.get("service_name"))
        return original_client(session, *args, **kwargs)

    event, context = _event(), _Context()
    for _ in range(warmup):
        assert api.handler(event, context)["statusCode"] == 200
    process = psutil.Process()
    threads_before = threading.active_count()
    rss_before = process.memory_info().rss
    threading.Thread.start = counting_start  # Timer is a Thread: it is counted too
    boto3.session.Session.client = counting_client
    window_cpu_ms = []
    try:
        for _ in range(invocations // window):
            cpu_start = time.process_time()
            for _ in range(window):
                if api.handler(event, context)["statusCode"] != 200:
                    raise AssertionError("the handler failed")
            window_cpu_ms.append((time.process_time() - cpu_start) * 1000 / window)
    finally:
        threading.Thread.start = original_start
        boto3.session.Session.client = original_client
    return LeakResult(
        invocations=invocations,
        threads_delta=threading.active_count() - threads_before,
        threads_started=len(started),
        rss_growth_mb=(process.memory_info().rss - rss_before) / 2**20,
        clients_created=len(created),
        window_cpu_ms=window_cpu_ms,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.leak", description=__doc__)
    parser.add_argument("--invocations", type=int, default=10_000)
    args = parser.parse_args(argv)

    from benchmarks._stack import in_process_stack

    with in_process_stack():
        result = drive(args.invocations)
    print("| invocations | CPU per invocation (ms) |")
    print("|---|---|")
    for index, cpu in enumerate(result.window_cpu_ms):
        print(f"| {index * WINDOW + 1}-{(index + 1) * WINDOW} | {cpu:.3f} |")
    print(f"threads started during the run: {result.threads_started}; boto3 clients created: {result.clients_created}")
    print(f"threads_delta={result.threads_delta} rss_growth_mb={result.rss_growth_mb:.1f} cpu_ratio={result.cpu_ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
