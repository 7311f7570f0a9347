"""`python -m benchmarks` (issue 6): the report's assembly, the cold-start and limiter sections at small sizes, and the
calls rows that make every route of the contract appear in section (c). Structure and real figures, no timing
thresholds."""

from __future__ import annotations

import pytest

from benchmarks import __main__ as report
from benchmarks import admin_calls, calls, cold_start, limiter, load_balancer_calls, workload_calls
from layer0 import aws, settings
from layer0.contract import ROUTES


def test_the_report_runs_the_cold_start_section_and_sums_up_its_figures():
    printed: list[str] = []
    text, ok = report.build("b", quick=True, out=printed.append)
    assert ok
    assert text == "\n".join(printed)
    assert text.startswith("# Layer0-serverless benchmark report")
    assert "## (b) Cold start" in text
    assert "## (a)" not in text and "## (e)" not in text
    body = printed[1]
    section_figures = report.figures(body.split("\n\n_section b")[0])
    assert set(section_figures) == {
        "cold_start_ratio",
        "handler_import_ms",
        "first_request_ms",
        "bare_import_ms",
        "traced_cold_start_ratio",
        "snapstart_ratio",
        "cpu_cold_start_ratio",
        "floor_ratio",
    }
    assert all(float(value) > 0 for value in section_figures.values())
    # The slowest imports are a table of real modules, the handler's own among them.
    assert "| `handlers.api` | 0 |" in body
    # The summary's last line carries every section's figures.
    assert report.figures(text) == section_figures
    # Beside issue 13's figures from before its work; the sections not run say so.
    summary = text.split("## Summary")[1]
    assert f"| `cold_start_ratio` | 5.1 | {section_figures['cold_start_ratio']} | ≤ 2.0 (goal 1.5) |" in summary
    assert "| `first_request_ms` | 186 | " in summary
    assert "| `task_calls_30` | 62 | not run | = task_calls_1 |" in summary


def test_a_failing_section_is_reported_and_the_others_still_run(monkeypatch):
    def broken(_quick):
        raise RuntimeError("no moto today")

    monkeypatch.setattr(
        report,
        "SECTIONS",
        (report.Section("x", "broken", broken), report.Section("y", "fine", lambda _quick: "| a |\n\nfine=1")),
    )
    text, ok = report.build("xy", quick=True, out=lambda _text: None)
    assert not ok
    assert "RuntimeError: no moto today" in text
    assert report.figures(text) == {"x_failed": "1", "fine": "1"}


def test_cold_start_runs_fresh_processes_with_a_real_first_request():
    result = cold_start.measure(runs=1)
    assert result.first_status == 200  # GET /environment through the handler, against the moto server
    assert len(result.handler_import_s) == len(result.first_request_s) == len(result.bare_import_s) == 1
    assert min(result.handler_import_s + result.first_request_s + result.bare_import_s) > 0
    assert result.ratio > 0
    assert len(result.handler_cpu_s) == len(result.bare_cpu_s) == 1 and result.cpu_ratio > 0
    # Tracing on as on AWS, and a SnapStart restore (measure() checks both answered 200 and registered the hooks).
    assert len(result.traced_runs_s) == len(result.restored_request_s) == 1
    assert result.traced_ratio > 0 and result.restored_ratio > 0
    # The floor app answered 200 without importing Layer0 (measure() checks both).
    assert len(result.floor_s) == 1 and result.floor_ratio > 0
    modules = [item.module for item in result.slowest_imports]
    assert len(modules) == cold_start.TOP_IMPORTS
    assert "handlers.api" in modules
    assert not any(module.startswith("moto") for module in modules)  # moto stays in the parent
    cumulative = [item.cumulative_us for item in result.slowest_imports]
    assert cumulative == sorted(cumulative, reverse=True)
    assert cold_start.report(result).splitlines()[-1].startswith("cold_start_ratio=")


def test_importtime_lines_are_parsed_with_their_depth():
    stderr = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:       100 |        100 |     botocore.compat",
            "import time:        50 |        150 |   botocore",
            "import time:        20 |        900 | handlers.api",
        ]
    )
    parsed = cold_start.parse_importtime(stderr, top=2)
    assert [(item.module, item.depth, item.cumulative_us) for item in parsed] == [
        ("handlers.api", 0, 900),
        ("botocore", 1, 150),
    ]


@pytest.fixture
def paced(stack, monkeypatch):
    """The client layer with 20 calls/s and a burst of 1, as section (e) configures it."""
    monkeypatch.setenv("LAYER0_AWS_RATE", "20")
    monkeypatch.setenv("LAYER0_AWS_BURST", "1")
    settings.get.cache_clear()
    aws.reset()
    try:
        yield
    finally:
        aws.reset()


def test_limiter_measures_the_client_layer_and_the_bucket_alone(paced):
    client = limiter.measure_client(callers=8, seconds=1.0)
    bucket = limiter.measure_bucket(rate=20, burst=1, callers=8, seconds=1.0)
    for result in (client, bucket):
        assert (result.configured_rate, result.burst, result.callers, result.errors) == (20, 1, 8, 0)
        assert result.calls > 1 and result.seconds > 0 and result.ratio > 0
        # The limiter never lets more through than its tokens; a slow machine can only lower the count.
        assert result.calls <= result.burst + result.configured_rate * result.seconds + 1
    last = limiter.report([client, bucket]).splitlines()[-1]
    assert last.startswith("limiter_ratio=") and "configured_rate=20 callers=8" in last


def test_admin_rows_count_real_calls_and_every_route_has_a_row(stack, monkeypatch):
    monkeypatch.setenv("LAYER0_AWS_RATE", "1e9")
    settings.get.cache_clear()
    aws.reset()
    try:
        with calls.CallCounter() as counter:
            rows = admin_calls.measure(counter)
    finally:
        aws.reset()
    assert [row.operation for row in rows] == list(admin_calls.ORIGINAL)
    by_operation = {row.operation: row for row in rows}
    assert by_operation["GET /health"].calls == []
    assert by_operation["GET /tag"].calls == ["dynamodb.Query"]
    assert by_operation["PUT /admin/scale/{id}"].operations["DescribeAutoScalingGroups"] == 1
    assert by_operation["DELETE /job/{id}"].operations["StopExecution"] == 1
    assert by_operation["GET /task/{id}/logs (a job's id)"].operations["GetExecutionHistory"] == 1
    assert by_operation["POST /secret"].calls == ["secretsmanager.CreateSecret", "secretsmanager.DescribeSecret"]
    assert by_operation["POST /secret (existing)"].operations["PutSecretValue"] == 1
    assert by_operation["GET /secret"].calls == ["secretsmanager.ListSecrets"]
    assert by_operation["DELETE /secret/{name}"].calls == [
        "secretsmanager.DescribeSecret",
        "secretsmanager.DeleteSecret",
    ]
    assert admin_calls.report(rows).splitlines()[-1].startswith(f"admin_routes={len(rows)} ")

    # Section (c)'s rows: the other modules' rows are named after their ORIGINAL keys (test_benchmark_calls).
    names = list(calls.ORIGINAL) + list(workload_calls.ORIGINAL) + list(workload_calls.LIST_ORIGINAL)
    names += [f"{name} (classic)" for name in load_balancer_calls.ORIGINAL] + [row.operation for row in rows]
    assert admin_calls.uncovered(names) == []
    assert len({admin_calls.route_of(name) for name in names} - {None}) == len(ROUTES)
    # ...and a route without a row is reported.
    assert admin_calls.uncovered([name for name in names if name != "GET /job"]) == ["GET /job"]
