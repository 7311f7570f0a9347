"""`python -m benchmarks.cold_start`: what a cold API function costs before it answers (issue 6, report section b).

Each run is a fresh Python process, as a Lambda cold start is. The parent starts a moto server (moto's
ThreadedMotoServer, configured as local mode configures it: benchmarks/common.py `moto_server`) with the stack's
resources (local/resources.py), and points the child at it with `AWS_ENDPOINT_URL`; moto's import stays in the
parent. The child sees only `functions/` on its path, as the Lambda asset does.

- handler run: the child times `from handlers import api` (the API function's handler module), then one real
  request through `api.handler`: `GET /environment`, which creates the process's first boto3 clients (ECS, DynamoDB)
  and calls moto over HTTP.
- bare run: the child times `import boto3, aws_lambda_powertools` and nothing else.
- traced run: a handler run with tracing on, as on AWS (`TRACED`: the X-Ray SDK's recorder is imported and
  patches botocore).
- floor run: a handler run of benchmarks/floor/floor_app.py instead of the API function (only that folder on its
  path): the least an API function on the same stack (Powertools' validated resolver, pydantic, boto3) costs.
- restored run: SnapStart as the runtime runs it (the child stands in for `snapshot_restore_py`): the import and
  the before-snapshot hook are the snapshot's; the child times the after-restore hook and the first request.
Runs alternate (bare, handler, traced, floor, restored, bare, ...) so that load on the machine hits them alike; the
report gives the medians and their ratios. Then one handler run under `python -X importtime` lists the slowest
imports by cumulative time (a package's time includes everything it imports).

Last line: `cold_start_ratio=<float> handler_import_ms=<float> first_request_ms=<float> bare_import_ms=<float>
traced_cold_start_ratio=<float> snapstart_ratio=<float> cpu_cold_start_ratio=<float> floor_ratio=<float>`;
cpu_cold_start_ratio is the handler and bare runs' ratio in CPU time (`time.process_time()`), less swayed by the
machine's load than wall time; floor_ratio is a floor run's (above) over the bare import.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import bootstrap, common

RUNS = 5
FLOOR = Path(__file__).resolve().parent / "floor"  # the floor app, the only thing on a floor run's path
TOP_IMPORTS = 10
MARKER = "COLD-START-RESULT "

# The child. `json`, `sys` and `time` are imported before the clock starts, in both modes alike.
CHILD = r"""
import json, sys, time

CONTEXT

started, cpu_started = time.perf_counter(), time.process_time()
if sys.argv[1] == "bare":
    import boto3, aws_lambda_powertools
    result = {"import_s": time.perf_counter() - started}
elif sys.argv[1] == "restored":
    # SnapStart, as the Lambda runtime runs it: the init and the before-snapshot hooks happen once, before the
    # snapshot; a restored container starts here, runs the after-restore hooks, then the request.
    import types
    hooks = types.ModuleType("snapshot_restore_py")
    hooks.before, hooks.after = [], []
    hooks.register_before_snapshot = lambda f, *a, **k: hooks.before.append((f, a, k))
    hooks.register_after_restore = lambda f, *a, **k: hooks.after.append((f, a, k))
    sys.modules["snapshot_restore_py"] = hooks
    from handlers import api
    for func, args, kwargs in hooks.before:
        func(*args, **kwargs)
    restored = time.perf_counter()
    for func, args, kwargs in hooks.after:
        func(*args, **kwargs)
    response = api.handler(json.loads(sys.argv[2]), Context())
    result = {
        "import_s": 0.0,
        "request_s": time.perf_counter() - restored,
        "hooks": [len(hooks.before), len(hooks.after)],
        "status": response["statusCode"],
        "body": response.get("body"),
    }
else:  # handler, traced, floor
    if sys.argv[1] == "floor":
        import floor_app as api
    else:
        from handlers import api
    imported = time.perf_counter()
    response = api.handler(json.loads(sys.argv[2]), Context())
    result = {
        "import_s": imported - started,
        "request_s": time.perf_counter() - imported,
        "status": response["statusCode"],
        "body": response.get("body"),
    }
result["cpu_s"] = time.process_time() - cpu_started  # this process's CPU, whatever else the machine runs
result["moto_imported"] = "moto" in sys.modules  # the AWS double must not weigh on the figures
result["layer0_imported"] = "layer0" in sys.modules  # a floor run must not
print("MARKER" + json.dumps(result), flush=True)
""".replace("MARKER", MARKER).replace("CONTEXT", common.CHILD_CONTEXT)


@dataclass
class ImportTime:
    module: str
    self_us: int
    cumulative_us: int
    depth: int  # 0 = imported by the child's own code; n = imported n levels below


@dataclass
class ColdStartResult:
    runs: int
    handler_import_s: list[float] = field(default_factory=list)
    first_request_s: list[float] = field(default_factory=list)
    bare_import_s: list[float] = field(default_factory=list)
    traced_import_s: list[float] = field(default_factory=list)  # tracing on, as on AWS
    traced_request_s: list[float] = field(default_factory=list)
    restored_request_s: list[float] = field(default_factory=list)  # SnapStart: after-restore hooks + first request
    handler_cpu_s: list[float] = field(default_factory=list)  # CPU time of the handler runs (import + request)
    bare_cpu_s: list[float] = field(default_factory=list)
    floor_s: list[float] = field(default_factory=list)  # the floor app (benchmarks/floor): import + first request
    first_status: int = 0
    slowest_imports: list[ImportTime] = field(default_factory=list)

    @property
    def handler_runs_s(self) -> list[float]:
        """Handler import + first request, per run (each run appends to both lists)."""
        return [a + b for a, b in zip(self.handler_import_s, self.first_request_s, strict=True)]

    @property
    def handler_total_s(self) -> float:
        return statistics.median(self.handler_runs_s)

    @property
    def bare_s(self) -> float:
        return statistics.median(self.bare_import_s)

    @property
    def ratio(self) -> float:
        return self.handler_total_s / self.bare_s

    @property
    def traced_runs_s(self) -> list[float]:
        return [a + b for a, b in zip(self.traced_import_s, self.traced_request_s, strict=True)]

    @property
    def traced_ratio(self) -> float:
        return statistics.median(self.traced_runs_s) / self.bare_s

    @property
    def cpu_ratio(self) -> float:
        """The ratio in CPU time: less swayed than wall time by what else runs on the machine."""
        return statistics.median(self.handler_cpu_s) / statistics.median(self.bare_cpu_s)

    @property
    def floor_ratio(self) -> float:
        return statistics.median(self.floor_s) / self.bare_s

    @property
    def restored_ratio(self) -> float:
        return statistics.median(self.restored_request_s) / self.bare_s


def _event() -> str:
    from local.gateway import proxy_event

    return json.dumps(proxy_event("GET", "/environment"))


# Tracing on, as on AWS: the X-Ray SDK takes the trace header Lambda sets, and sends its segments over UDP to a
# daemon address where nothing listens (a UDP send does not wait for a reader).
TRACED = {
    "POWERTOOLS_TRACE_DISABLED": "false",
    "LAMBDA_TASK_ROOT": str(bootstrap.FUNCTIONS),
    "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
}


def _child(environment: dict[str, str], mode: str, event: str, importtime: bool = False) -> tuple[dict, str]:
    if mode == "traced":
        environment = {**environment, **TRACED}
    folder = FLOOR if mode == "floor" else bootstrap.FUNCTIONS
    if mode == "floor":
        environment = {**environment, "PYTHONPATH": str(FLOOR)}
    command = [sys.executable] + (["-X", "importtime"] if importtime else []) + ["-c", CHILD, mode, event]
    done = subprocess.run(
        command, env=environment, cwd=folder, capture_output=True, text=True, timeout=300, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARKER)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the {mode} child failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(lines[-1][len(MARKER) :]), done.stderr


def parse_importtime(stderr: str, top: int = TOP_IMPORTS) -> list[ImportTime]:
    """The `top` imports with the longest cumulative time, from `-X importtime`'s stderr."""
    found = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:") :].split("|", 2)
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2  # `-X importtime` indents nested imports by 2
        found.append(ImportTime(name.strip(), int(self_us), int(cumulative_us), depth))
    return sorted(found, key=lambda item: item.cumulative_us, reverse=True)[:top]


def measure(runs: int = RUNS) -> ColdStartResult:
    result = ColdStartResult(runs=runs)
    event = _event()
    with common.moto_server() as environment:
        for _ in range(runs):
            bare, _ = _child(environment, "bare", event)
            result.bare_import_s.append(bare["import_s"])
            handler, _ = _child(environment, "handler", event)
            if handler["status"] != 200:
                raise RuntimeError(f"GET /environment answered {handler['status']}: {handler['body']}")
            if handler["moto_imported"] or bare["moto_imported"]:
                raise RuntimeError("the child imported moto: its figures would include the AWS double")
            result.first_status = handler["status"]
            result.handler_import_s.append(handler["import_s"])
            result.handler_cpu_s.append(handler["cpu_s"])
            result.bare_cpu_s.append(bare["cpu_s"])
            result.first_request_s.append(handler["request_s"])
            traced, _ = _child(environment, "traced", event)
            floor, _ = _child(environment, "floor", event)
            restored, _ = _child(environment, "restored", event)
            if floor["layer0_imported"]:
                raise RuntimeError("the floor app imported Layer0's code: it would not be the floor")
            for name, run in (("traced", traced), ("restored", restored), ("floor", floor)):
                if run["status"] != 200 or run["moto_imported"]:
                    raise RuntimeError(f"the {name} run answered {run['status']}: {run['body']}")
            if restored["hooks"] != [1, 1]:
                raise RuntimeError(f"the API function registered {restored['hooks']} SnapStart hooks, not one of each")
            result.traced_import_s.append(traced["import_s"])
            result.floor_s.append(floor["import_s"] + floor["request_s"])
            result.traced_request_s.append(traced["request_s"])
            result.restored_request_s.append(restored["request_s"])
        _, stderr = _child(environment, "handler", event, importtime=True)
    result.slowest_imports = parse_importtime(stderr)
    return result


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def report(result: ColdStartResult) -> str:
    lines = [
        f"Fresh processes, {result.runs} runs each, medians (ms):",
        "",
        "| what | median (ms) | min (ms) | max (ms) |",
        "|---|---|---|---|",
    ]
    for label, values in (
        ("`from handlers import api`", result.handler_import_s),
        ("first request, `GET /environment` (first boto3 clients, moto over HTTP)", result.first_request_s),
        ("handler import + first request", result.handler_runs_s),
        ("bare `import boto3, aws_lambda_powertools`", result.bare_import_s),
        ("tracing on (as on AWS): handler import", result.traced_import_s),
        ("tracing on (as on AWS): first request", result.traced_request_s),
        ("tracing on (as on AWS): handler import + first request", result.traced_runs_s),
        ("SnapStart, restored: after-restore hooks + first request", result.restored_request_s),
        ("floor app (benchmarks/floor): import + first request", result.floor_s),
    ):
        lines.append(f"| {label} | {median_ms(values):.0f} | {min(values) * 1000:.0f} | {max(values) * 1000:.0f} |")
    lines += [
        "",
        f"Ratio, handler import + first request over the bare import: **{result.ratio:.2f}** (tracing off, as in "
        f"local mode); with tracing on: {result.traced_ratio:.2f}; restored from a SnapStart snapshot (the "
        f"function's init and the before-snapshot hook ran before the snapshot; Lambda's own restore time is not "
        f"in it): {result.restored_ratio:.2f}. In CPU time (`time.process_time()` of the same runs, less swayed by the "
        f"machine's load): {result.cpu_ratio:.2f}. The floor app's (Powertools' validated resolver, pydantic, one "
        f"DynamoDB Query, no Layer0 code): {result.floor_ratio:.2f}.",
        "",
        f"The {len(result.slowest_imports)} slowest imports of one handler run (`python -X importtime`; cumulative "
        "includes what the module imports, so nested rows overlap):",
        "",
        "| module | depth | cumulative (ms) | self (ms) |",
        "|---|---|---|---|",
    ]
    for item in result.slowest_imports:
        lines.append(
            f"| `{item.module}` | {item.depth} | {item.cumulative_us / 1000:.1f} | {item.self_us / 1000:.1f} |"
        )
    lines += [
        "",
        f"cold_start_ratio={result.ratio:.2f} handler_import_ms={median_ms(result.handler_import_s):.0f} "
        f"first_request_ms={median_ms(result.first_request_s):.0f} "
        f"bare_import_ms={median_ms(result.bare_import_s):.0f} traced_cold_start_ratio={result.traced_ratio:.2f} "
        f"snapstart_ratio={result.restored_ratio:.2f} cpu_cold_start_ratio={result.cpu_ratio:.2f} "
        f"floor_ratio={result.floor_ratio:.2f}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cold_start", description=__doc__)
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args(argv)
    print(report(measure(args.runs)))
    return 0


if __name__ == "__main__":
    bootstrap.paths()
    raise SystemExit(main())
