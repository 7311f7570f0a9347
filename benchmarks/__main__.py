"""`python -m benchmarks`: the whole benchmark report, in markdown (issue 6). benchmarks/README.md says how to read it.

Sections, each a table and a last line of `key=value` figures:
  a  leak: 10,000 warm invocations of the API handler (benchmarks.leak)
  b  cold start: handler import + first request in fresh processes, against a bare boto3 + Powertools import
     (benchmarks.cold_start)
  c  AWS calls per operation, every route of functions/layer0/contract.py, beside the original's counts
     (benchmarks.calls, workload_calls, load_balancer_calls, admin_calls)
  d  stress: docs/compatibility.md#stress-scenarios's min and max cases through the local gateway (benchmarks.stress)
  e  limiter accuracy: 8 concurrent callers against the configured rate (benchmarks.limiter)
  f  pacing: 50 back-to-back GET /service/{id} at the default rate, and GET /service and GET /deploy before and
     after 200 environments and deploys were created and deleted (benchmarks.stress, `pacing`)
The report ends with a summary: every section's figures on one last line.

`--quick` shrinks every section (fewer invocations, runs, sizes and requests) for a fast check of the report
itself; its figures are noisier and its list sizes smaller than the issue asks for. `--sections a,c` runs some.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks import bootstrap
from benchmarks.common import in_process_stack


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    run: Callable[[bool], str]  # quick -> markdown ending with a `key=value` line


def leak_section(quick: bool) -> str:
    from benchmarks import leak

    if quick:
        return leak.report(leak.drive(2_000, rounds=20))
    return leak.report(leak.drive())


def cold_start_section(quick: bool) -> str:
    from benchmarks import cold_start

    return cold_start.report(cold_start.measure(runs=2 if quick else cold_start.RUNS))


def calls_section(quick: bool) -> str:
    from benchmarks import admin_calls, calls, load_balancer_calls, workload_calls
    from layer0.contract import ROUTES

    # Each module on a fresh estate, so that its list cases hold exactly what it makes.
    with in_process_stack():
        environments = calls.measure((1, 5) if quick else calls.LIST_SIZES)
    with in_process_stack(), calls.CallCounter() as counter:
        workload_rows, workload_lists = workload_calls.measure(
            counter,
            cases=((1, 1, 1), (2, 4, 4)) if quick else (workload_calls.LIST_CASE_MIN, workload_calls.LIST_CASE_MAX),
        )
    with in_process_stack(), calls.CallCounter() as counter:
        lb_rows, lb_lists = load_balancer_calls.measure(
            counter, sizes=(1, 3) if quick else load_balancer_calls.LIST_SIZES
        )
    with in_process_stack(), calls.CallCounter() as counter:
        admin_rows = admin_calls.measure(counter)

    row_names = [r.operation for r in environments.rows + workload_rows + lb_rows + admin_rows]
    # The list routes are measured as list cases: GET /service and GET /task, and GET /loadbalancer.
    row_names += list(workload_lists) + (["GET /loadbalancer"] if lb_lists else [])
    missing = admin_calls.uncovered(row_names)
    parts = [
        "Counted through botocore's `before-call` on every client of the client layer: one per API call, not per "
        "retry. Our calls are split into calls on AWS resources and DynamoDB calls (the tag and job tables).",
        "",
        "### Environments (docs/compatibility.md#environments)",
        "",
        calls.report(environments),
        "",
        "### Deploys, services, tasks (docs/compatibility.md: deploys, services, logs)",
        "",
        workload_calls.report(workload_rows, workload_lists),
        "",
        "### Load balancers (docs/compatibility.md#load-balancers)",
        "",
        load_balancer_calls.report(lb_rows, lb_lists),
        "",
        "### Health, admin, tags, jobs, docs (docs/compatibility.md: routes, tables, jobs, scaler)",
        "",
        admin_calls.report(admin_rows),
        "",
        "### Route coverage",
        "",
        f"{len(ROUTES)} routes in functions/layer0/contract.py ROUTES; routes without a row above: "
        + (", ".join(missing) if missing else "none")
        + ".",
        "",
        f"routes={len(ROUTES)} routes_without_row={len(missing)}",
    ]
    return "\n".join(parts)


def stress_section(quick: bool) -> str:
    # Lazily: benchmarks/stress.py is another part of issue 6 (another helper's); the report runs without it.
    try:
        from benchmarks import stress
    except ImportError as error:
        return (
            f"**Not measured: benchmarks.stress could not be imported ({error}).** This section runs "
            "`stress.run(case)` for the min and max cases and prints `stress.report(results)`.\n\nstress_measured=0"
        )
    if quick:
        # Few requests, and a small second case instead of the max (building the max estate takes minutes).
        small = stress.Case(environments=2, load_balancers=2, deploys=4, deploy_families=2, services=2, tasks=4)
        results = stress.run_paired(["min", small], 10)
    else:
        results = stress.run_paired(["min", "max"])
    return stress.report(results)


def pacing_section(quick: bool) -> str:
    from benchmarks import stress

    result = stress.pacing(history=20 if quick else stress.HISTORY)
    return stress.pacing_report(result)


def limiter_section(quick: bool) -> str:
    from benchmarks import limiter

    return limiter.report(limiter.measure(seconds=2.0 if quick else limiter.SECONDS))


SECTIONS = (
    Section("a", "(a) Leak: the API handler warm", leak_section),
    Section("b", "(b) Cold start", cold_start_section),
    Section("c", "(c) AWS calls per operation, beside the original's", calls_section),
    Section(
        "d", "(d) Stress: docs/compatibility.md#stress-scenarios's cases through the local gateway", stress_section
    ),
    Section("e", "(e) Limiter accuracy", limiter_section),
    Section(
        "f",
        "(f) Pacing: one user's back-to-back Gets at the default rate, and lists after a long history",
        pacing_section,
    ),
)


@dataclass(frozen=True)
class Before:
    """One figure of the report beside its value before issue 13 (the issue's "Why", measured on main then) and the
    issue's target for it."""

    figure: str
    before: str
    target: str


BEFORE_ISSUE_13 = (
    Before("service_calls_1", "4", "≤ 3, = service_calls_30"),
    Before("service_calls_30", "33", "= service_calls_1"),
    Before("task_calls_1", "4", "≤ 3, = task_calls_30"),
    Before("task_calls_30", "62", "= task_calls_1"),
    Before("deploy_list_calls_1", "grew with families", "≤ 3, = deploy_list_calls_30"),
    Before("deploy_list_calls_30", "grew with families", "= deploy_list_calls_1"),
    Before("loadbalancer_list_calls_1", "—", "≤ 3, = loadbalancer_list_calls_10"),
    Before("loadbalancer_list_calls_10", "—", "= loadbalancer_list_calls_1"),
    Before("list_environments_ratio", "7–19 (all List routes)", "≤ 3 (goal 2)"),
    Before("list_deploys_ratio", "7–19", "≤ 3 (goal 2)"),
    Before("list_services_ratio", "7–19", "≤ 3 (goal 2)"),
    Before("list_tasks_ratio", "7–19", "≤ 3 (goal 2)"),
    Before("list_load_balancers_ratio", "7–19", "≤ 3 (goal 2)"),
    Before("cold_start_ratio", "5.1", "≤ 2.0 (goal 1.5)"),
    Before("handler_import_ms", "345", "lower"),
    Before("first_request_ms", "186", "lower"),
    Before("bare_import_ms", "105", "(the reference)"),
    Before("cpu_cold_start_ratio", "—", "≤ 2.0 (cold_start_ratio in CPU time)"),
    Before("floor_ratio", "—", "(the stack's least: benchmarks/floor)"),
    Before("rss_growth_mb", "4.3–6.8", "≤ 2"),
    Before("cpu_ratio", "—", "≤ 1.05"),
    Before("sequential_get_p50_ms", "12 for the first 6, then 293", "p99 ≤ 2 × p50"),
    Before("sequential_get_p99_ms", "293", "≤ 2 × sequential_get_p50_ms"),
    Before("history_list_ratio", "≈ 400 (9.9 s against 25 ms)", "≤ 1.5"),
)


def before_and_after(summary: dict[str, str]) -> str:
    """Markdown: every figure issue 13 measured before its work, beside this run's value (or "not run")."""
    lines = [
        "Issue 13's figures before its work (its \"Why\", measured on main then) beside this run's "
        "(docs/architecture.md#the-read-model, docs/architecture.md#cold-start; benchmarks/README.md says what a "
        "good figure is):",
        "",
        "| figure | before | now | target |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `{row.figure}` | {row.before} | {summary.get(row.figure, 'not run')} | {row.target} |"
        for row in BEFORE_ISSUE_13
    ]
    return "\n".join(lines)


def figures(text: str) -> dict[str, str]:
    """The `key=value` figures of a section's last line."""
    last = text.rstrip().splitlines()[-1] if text.strip() else ""
    found = {}
    for word in last.split():
        key, sep, value = word.partition("=")
        if sep and key:
            found[key] = value
    return found


def _commit() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=bootstrap.ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except OSError:
        return "unknown"
    return done.stdout.strip() or "unknown"


def header(quick: bool) -> str:
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"
    return "\n".join(
        [
            "# Layer0-serverless benchmark report",
            "",
            f"- generated {_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M} UTC, commit {_commit()}"
            + (", **--quick** (smaller sizes: not the issue's figures)" if quick else ""),
            f"- Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
            f"load average at start {load}",
            "- AWS is moto (in process, or a moto server for the cold start); see benchmarks/README.md for how to read "
            "each section.",
        ]
    )


def build(selected: str = "abcdef", quick: bool = False, out: Callable[[str], None] = print) -> tuple[str, bool]:
    """Run the selected sections, printing each as it is done; returns (the whole report, every section ran)."""
    parts = [header(quick)]
    out(parts[0])
    summary: dict[str, str] = {}
    ok = True
    for section in SECTIONS:
        if section.key not in selected:
            continue
        started = time.monotonic()
        try:
            body = section.run(quick)
        except Exception:  # noqa: BLE001 - one failed section must not hide the others
            ok = False
            body = f"**This section failed:**\n\n```\n{traceback.format_exc()}```\n\n{section.key}_failed=1"
        summary.update(figures(body))
        text = f"\n## {section.title}\n\n{body}\n\n_section {section.key}: {time.monotonic() - started:.0f} s_"
        parts.append(text)
        out(text)
    tail = (
        "\n## Summary\n\n"
        + before_and_after(summary)
        + "\n\nEvery section's figures (their last lines), on one line:\n\n"
        + " ".join(f"{key}={value}" for key, value in summary.items())
    )
    parts.append(tail)
    out(tail)
    return "\n".join(parts), ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a fast check of the report")
    parser.add_argument("--sections", default="abcdef", help="which sections to run, e.g. `be` or `b,e` (default: all)")
    args = parser.parse_args(argv)
    unknown = set(args.sections.replace(",", "")) - {s.key for s in SECTIONS}
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    _, ok = build(args.sections, args.quick, out=lambda text: print(text, flush=True))
    return 0 if ok else 1


if __name__ == "__main__":
    bootstrap.paths()
    sys.exit(main())
