"""`python -m benchmarks.leak`: does the API handler leak threads, memory or CPU when warm? (issue #620)

The API function runs in a process of its own, as in a Lambda container: a child with only `functions/` on its path,
calling a moto server that runs in this process (`AWS_ENDPOINT_URL`). The child's figures (CPU, RSS, threads, live
objects) are then the function's alone; moto's work and memory stay in this process, as AWS's are outside a
Lambda's bill.

The *aged* child answers `GET /tag?type=environment` (a DynamoDB Query through the client layer) 10,000 times after
200 warm-up invocations; a table gives its CPU per invocation per window of 1,000. Then the aged child and a *fresh*
twin (started with it, warmed up alike, idle since) take turns, 100 rounds of 40 invocations each, and `cpu_ratio`
is the median over the rounds of the aged block's CPU per invocation over the fresh block's: CPU after 10,000
invocations over CPU after the warm-up, measured side by side so that the machine's load weighs on both alike. A
leak that adds CPU with every invocation shows in full (benchmarks/README.md, section (a), has the figure a
deliberate one gave); the machine's load mostly cancels out. Last line:
`threads_delta=<int> rss_growth_mb=<float> cpu_ratio=<float>`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from dataclasses import dataclass, field

from benchmarks import bootstrap
from benchmarks.common import CHILD_CONTEXT, moto_server

WARMUP = 200
WINDOW = 1_000
ROUNDS = 100  # turns of the aged and fresh children
BLOCK = 40  # invocations per child per turn
MARKER = "LEAK-CHILD "

# The function's process. It reads one command per line on stdin and answers each with one MARKER line on stdout.
CHILD = r"""
import gc, json, sys, threading, time
import boto3.session, psutil

CONTEXT

from handlers import api
from layer0 import tags
from layer0.models import Tag

for index in range(5):  # a PutItem each: the twin writes the same items again
    tags.add(Tag(entity_type="environment", entity_id=f"env{index}", key="name", value=f"env{index}"))
event, context, process = json.loads(sys.argv[1]), Context(), psutil.Process()
started, created = [], []

def count():
    # Every Thread.start (a Timer is a Thread) and every boto3 client made from now on.
    original_start, original_client = threading.Thread.start, boto3.session.Session.client
    def counting_start(thread, *args, **kwargs):
        started.append(thread.name)
        return original_start(thread, *args, **kwargs)
    def counting_client(session, *args, **kwargs):
        created.append(args[0] if args else kwargs.get("service_name"))
        return original_client(session, *args, **kwargs)
    threading.Thread.start, boto3.session.Session.client = counting_start, counting_client
    return {}

def run(n):
    cpu = time.process_time()
    for _ in range(n):
        answer = api.handler(event, context)
        if answer["statusCode"] != 200 or len(json.loads(answer["body"])) != 5:
            raise AssertionError(f"the handler answered {answer['statusCode']}: {answer['body']}")
    return {"cpu_ms": (time.process_time() - cpu) * 1000 / n}

def state():
    gc.collect()  # so that RSS and the object count show what is kept alive
    return {
        "rss": process.memory_info().rss,
        "threads": threading.active_count(),
        "objects": len(gc.get_objects()),
        "threads_started": len(started),
        "clients_created": len(created),
        "moto_imported": "moto" in sys.modules,
    }

for line in sys.stdin:
    command = json.loads(line)
    answer = {"run": lambda: run(command["n"]), "count": count, "state": state}[command["do"]]()
    print("MARKER" + json.dumps(answer), flush=True)
""".replace("MARKER", MARKER).replace("CONTEXT", CHILD_CONTEXT)


class FunctionProcess:
    """A child running the API function, driven over its standard input and output."""

    def __init__(self, environment: dict[str, str], event: str):
        self._process = subprocess.Popen(
            [sys.executable, "-c", CHILD, event],
            env=environment,
            cwd=bootstrap.FUNCTIONS,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, do: str, **arguments) -> dict:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps({"do": do, **arguments}) + "\n")
        self._process.stdin.flush()
        for line in self._process.stdout:
            if line.startswith(MARKER):
                return json.loads(line[len(MARKER) :])
        raise RuntimeError(f"the function process ended ({self._process.wait()}) on {do}")

    def run(self, invocations: int) -> float:
        """CPU per invocation (ms) of `invocations` warm invocations."""
        return self.ask("run", n=invocations)["cpu_ms"]

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()  # the child's loop ends with its input
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


@dataclass
class LeakResult:
    invocations: int
    window: int  # invocations per window of the aged run
    block: int  # invocations per child per round
    threads_delta: int
    threads_started: int
    rss_growth_mb: float
    live_objects_delta: int  # gc-tracked objects alive after a full collection, in the function's process
    clients_created: int
    window_cpu_ms: list[float] = field(default_factory=list)  # the aged child's CPU per invocation, per window
    aged_cpu_ms: list[float] = field(default_factory=list)  # per round, side by side with the fresh child's
    fresh_cpu_ms: list[float] = field(default_factory=list)

    @property
    def round_ratios(self) -> list[float]:
        return [aged / fresh for aged, fresh in zip(self.aged_cpu_ms, self.fresh_cpu_ms, strict=True)]

    @property
    def cpu_ratio(self) -> float:
        return statistics.median(self.round_ratios)


def forget_moto_instances() -> int:
    """moto records every model object it ever creates (`instances_tracked`, for its data API), so each
    DynamoDB query result it copies stays alive in this process. Dropped between windows, so that the moto server
    does not slow down over the run (its time is outside the function's figures, but not outside the run's)."""
    from moto.core.base_backend import model_data

    dropped = 0
    for models in model_data.values():
        for model in models.values():
            tracked = getattr(model, "instances_tracked", None)  # set on each model class by moto's metaclass
            if isinstance(tracked, list):
                dropped += len(tracked)
                tracked.clear()
    return dropped


def _event() -> str:
    from local.gateway import proxy_event

    return json.dumps(proxy_event("GET", "/tag", query={"type": ["environment"]}))


def drive(
    invocations: int = 10_000, warmup: int = WARMUP, window: int = WINDOW, rounds: int = ROUNDS, block: int = BLOCK
) -> LeakResult:
    """Start moto's server and the two function processes, and measure."""
    event = _event()
    with moto_server() as environment:
        environment = {
            **environment,
            "PYTHONHASHSEED": "0",  # one hash seed for both children, so that their dicts and sets are laid out alike
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            # The client layer's pacing lifted, as in the other sections: a paced call sleeps, and the figure is the
            # code's CPU, not the token bucket's (docs/operations.md#pacing).
            "LAYER0_AWS_RATE": str(1e9),
        }
        aged, fresh = FunctionProcess(environment, event), FunctionProcess(environment, event)
        try:
            for child in (aged, fresh):
                child.run(warmup)
            aged.ask("count")
            before = aged.ask("state")
            window_cpu_ms = []
            for _ in range(invocations // window):
                forget_moto_instances()
                window_cpu_ms.append(aged.run(window))
            after = aged.ask("state")
            if before["moto_imported"] or after["moto_imported"]:
                raise RuntimeError("the function process imported moto: its figures would include the AWS double")
            aged_cpu_ms, fresh_cpu_ms = [], []
            for index in range(rounds):
                forget_moto_instances()
                # Who goes first alternates, so that a drift of the machine's speed within a round weighs on both.
                first, second = (aged, fresh) if index % 2 == 0 else (fresh, aged)
                cpu = {id(first): first.run(block), id(second): second.run(block)}
                aged_cpu_ms.append(cpu[id(aged)])
                fresh_cpu_ms.append(cpu[id(fresh)])
        finally:
            aged.close()
            fresh.close()
    return LeakResult(
        invocations=invocations,
        window=window,
        block=block,
        threads_delta=after["threads"] - before["threads"],
        threads_started=after["threads_started"],
        rss_growth_mb=(after["rss"] - before["rss"]) / 2**20,
        live_objects_delta=after["objects"] - before["objects"],
        clients_created=after["clients_created"],
        window_cpu_ms=window_cpu_ms,
        aged_cpu_ms=aged_cpu_ms,
        fresh_cpu_ms=fresh_cpu_ms,
    )


def report(result: LeakResult) -> str:
    lines = [
        f"The API function in a process of its own, against a moto server in the benchmark's: {result.invocations:,} "
        f"warm invocations (`GET /tag?type=environment`, one DynamoDB Query each) after {WARMUP} warm-up "
        "invocations.",
        "",
        "| invocations | CPU per invocation (ms) |",
        "|---|---|",
    ]
    lines += [
        f"| {index * result.window + 1:,}-{(index + 1) * result.window:,} | {cpu:.3f} |"
        for index, cpu in enumerate(result.window_cpu_ms)
    ]
    quartiles = (
        statistics.quantiles(result.round_ratios, n=4) if len(result.round_ratios) > 1 else [result.cpu_ratio] * 3
    )
    lines += [
        "",
        f"Then the aged process and a fresh twin (warmed up alike, idle since) take turns: {len(result.round_ratios)} "
        f"rounds of {result.block} invocations each.",
        "",
        "| process | CPU per invocation, median of the rounds (ms) |",
        "|---|---|",
        f"| aged | {statistics.median(result.aged_cpu_ms):.3f} |",
        f"| fresh | {statistics.median(result.fresh_cpu_ms):.3f} |",
        "",
        f"Aged over fresh, per round: quartiles {quartiles[0]:.3f}, {quartiles[1]:.3f}, {quartiles[2]:.3f}.",
    ]
    lines += [
        "",
        "| figure | value |",
        "|---|---|",
        f"| threads alive after minus before (threads_delta) | {result.threads_delta} |",
        f"| threads started during the run | {result.threads_started} |",
        f"| boto3 clients created during the run | {result.clients_created} |",
        f"| RSS growth of the function's process (MB) | {result.rss_growth_mb:.1f} |",
        f"| objects alive after a full collection, after minus before | {result.live_objects_delta:+d} |",
        f"| CPU per invocation, aged over fresh, median of the rounds (cpu_ratio) | {result.cpu_ratio:.3f} |",
        "",
        f"threads_delta={result.threads_delta} rss_growth_mb={result.rss_growth_mb:.1f} "
        f"cpu_ratio={result.cpu_ratio:.2f} "
        f"clients_created={result.clients_created} threads_started={result.threads_started}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.leak", description=__doc__)
    parser.add_argument("--invocations", type=int, default=10_000)
    args = parser.parse_args(argv)
    print(report(drive(args.invocations)))
    return 0


if __name__ == "__main__":
    bootstrap.paths()
    raise SystemExit(main())
