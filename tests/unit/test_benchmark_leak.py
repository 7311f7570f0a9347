"""`python -m benchmarks.leak` (issue 13, report section a): the API function runs in processes of its own against a
moto server in the benchmark's process, and makes no thread or client when warm. Structure and real figures, no
timing thresholds."""

from __future__ import annotations

import pytest

from benchmarks import leak
from benchmarks.__main__ import figures


def test_warm_function_processes_make_no_thread_or_client_and_take_turns():
    result = leak.drive(invocations=200, warmup=20, window=100, rounds=3, block=10)
    # Counted inside the function's process, which never imported moto (drive() fails if it did).
    assert result.threads_started == 0
    assert result.clients_created == 0
    assert result.threads_delta == 0
    assert len(result.window_cpu_ms) == 2
    assert len(result.aged_cpu_ms) == len(result.fresh_cpu_ms) == 3
    assert min(result.window_cpu_ms + result.aged_cpu_ms + result.fresh_cpu_ms) > 0
    text = leak.report(result)
    assert "| 101-200 |" in text
    assert figures(text) == {
        "threads_delta": "0",
        "rss_growth_mb": f"{result.rss_growth_mb:.1f}",
        "cpu_ratio": f"{result.cpu_ratio:.2f}",
        "clients_created": "0",
        "threads_started": "0",
    }


def _result(aged: list[float], fresh: list[float]) -> leak.LeakResult:
    return leak.LeakResult(
        invocations=0,
        window=1,
        block=1,
        threads_delta=0,
        threads_started=0,
        rss_growth_mb=0.0,
        live_objects_delta=0,
        clients_created=0,
        aged_cpu_ms=aged,
        fresh_cpu_ms=fresh,
    )


def test_cpu_ratio_is_the_median_of_the_rounds_aged_over_fresh():
    # A round the machine's load hit on one side only moves the median little ...
    assert _result([2.0, 2.1, 6.0, 1.9, 2.0], [2.0, 2.0, 2.0, 2.0, 2.0]).cpu_ratio == pytest.approx(1.0)
    # ... while a process that got slower with age shows in every round, so in the median.
    assert _result([2.6, 2.7, 2.5, 2.6, 2.6], [2.0, 2.0, 2.0, 2.0, 2.0]).cpu_ratio == pytest.approx(1.3)


def test_threads_and_kept_objects_of_the_function_process_are_counted(monkeypatch):
    # A function that starts a thread and keeps a list alive per invocation (injected here, as a leak would be).
    leaky = leak.CHILD.replace(
        "        answer = api.handler(event, context)\n",
        "        answer = api.handler(event, context)\n"
        "        threading.Thread(target=int).start()\n"
        "        hoard.append([])\n",
        1,
    ).replace("started, created = [], []\n", "started, created, hoard = [], [], []\n", 1)
    assert leaky.count("hoard") == 2  # both replacements applied
    monkeypatch.setattr(leak, "CHILD", leaky)
    result = leak.drive(invocations=100, warmup=10, window=50, rounds=1, block=5)
    assert result.threads_started == 100  # the aged run's, counted from `count` on (the rounds come after)
    assert abs(result.live_objects_delta - 100) <= 5  # the 100 lists kept, give or take what else came and went
    assert result.clients_created == 0
