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
import gc
import threading
import time
from dataclasses import dataclass, field
from unittest import mock

import psutil

from benchmarks import bootstrap
from benchmarks.common import in_process_stack

WARMUP = 200
WINDOW = 1_000


@dataclass
class LeakResult:
    invocations: int
    threads_delta: int
    threads_started: int
    rss_growth_mb: float
    live_objects_delta: int  # gc-tracked objects still alive after a full collection, moto's excluded
    live_moto_objects_delta: int  # moto keeps copies of DynamoDB query results alive in process
    clients_created: int
    window_cpu_ms: list[float] = field(default_factory=list)  # CPU per invocation, per window

    @property
    def cpu_ratio(self) -> float:
        return self.window_cpu_ms[-1] / self.window_cpu_ms[0]


def forget_moto_instances() -> int:
    """moto records every model object it ever creates (`instances_tracked`, for its data API), so each
    DynamoDB query result it copies stays alive. That is the test double's memory, not ours: drop the
    records between windows so moto's growth does not slow the garbage collector under our figures."""
    from moto.core.base_backend import model_data

    dropped = 0
    for models in model_data.values():
        for model in models.values():
            tracked = getattr(model, "instances_tracked", None)  # set on each model class by moto's metaclass
            if isinstance(tracked, list):
                dropped += len(tracked)
                tracked.clear()
    return dropped


def _from_moto(obj) -> bool:
    return str(getattr(type(obj), "__module__", "")).startswith("moto.")


def _is_moto(obj) -> bool:
    """A moto object, or a dict holding moto objects (an item's attributes)."""
    return _from_moto(obj) or (type(obj) is dict and any(_from_moto(value) for value in list(obj.values())[:1]))


def _live_objects() -> tuple[int, int]:
    """(objects not from moto, objects from moto) alive after a full collection."""
    gc.collect()
    alive = gc.get_objects()
    moto = sum(1 for obj in alive if _is_moto(obj))
    return len(alive) - moto, moto


def drive(invocations: int = 10_000, warmup: int = WARMUP, window: int = WINDOW) -> LeakResult:
    """Invoke the warm API handler; the stack must be up (moto active, settings set)."""
    import boto3.session

    from handlers import api
    from layer0 import tags
    from layer0.models import Tag
    from local.gateway import LambdaContext, proxy_event

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

    event = proxy_event("GET", "/tag", query={"type": ["environment"]})
    context = LambdaContext("l0-bench-api")
    for _ in range(warmup):
        assert api.handler(event, context)["statusCode"] == 200
    process = psutil.Process()
    threads_before = threading.active_count()
    # Collect reference cycles (moto's responses make many) so that RSS shows what is kept alive. moto's records are
    # dropped before both RSS readings: otherwise the last window's (36 objects per invocation, over 1,000
    # invocations) weigh on the second reading and not on the first (issue 13: the RSS growth was moto's).
    forget_moto_instances()
    gc.collect()
    rss_before = process.memory_info().rss
    objects_before = _live_objects()
    window_cpu_ms = []
    with (
        mock.patch.object(threading.Thread, "start", counting_start),  # Timer is a Thread: it is counted too
        mock.patch.object(boto3.session.Session, "client", counting_client),
    ):
        for _ in range(invocations // window):
            forget_moto_instances()
            cpu_start = time.process_time()
            for _ in range(window):
                if api.handler(event, context)["statusCode"] != 200:
                    raise AssertionError("the handler failed")
            window_cpu_ms.append((time.process_time() - cpu_start) * 1000 / window)
    forget_moto_instances()
    gc.collect()
    return LeakResult(
        invocations=invocations,
        threads_delta=threading.active_count() - threads_before,
        threads_started=len(started),
        rss_growth_mb=(process.memory_info().rss - rss_before) / 2**20,
        live_objects_delta=_live_objects()[0] - objects_before[0],
        live_moto_objects_delta=_live_objects()[1] - objects_before[1],
        clients_created=len(created),
        window_cpu_ms=window_cpu_ms,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.leak", description=__doc__)
    parser.add_argument("--invocations", type=int, default=10_000)
    args = parser.parse_args(argv)

    with in_process_stack():
        result = drive(args.invocations)
    print("| invocations | CPU per invocation (ms) |")
    print("|---|---|")
    for index, cpu in enumerate(result.window_cpu_ms):
        print(f"| {index * WINDOW + 1}-{(index + 1) * WINDOW} | {cpu:.3f} |")
    print(f"threads started during the run: {result.threads_started}; boto3 clients created: {result.clients_created}")
    print(
        f"objects still alive after a full collection: {result.live_objects_delta:+d} outside moto, "
        f"{result.live_moto_objects_delta:+d} inside moto (moto's own instance records, dropped between windows and "
        "before each RSS reading)"
    )
    print(
        f"threads_delta={result.threads_delta} rss_growth_mb={result.rss_growth_mb:.1f} "
        f"cpu_ratio={result.cpu_ratio:.2f}"
    )
    return 0


if __name__ == "__main__":
    bootstrap.paths()
    raise SystemExit(main())
