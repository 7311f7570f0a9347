"""Local mode runs the job machines: `local.embedded.Layer0` creates the workflow-step function and the machines
in its moto server from the builder, and a job started there finishes and is readable over HTTP.

The environment steps are stubbed (tests only), and Wait/Retry are instant: this is about the wiring.
"""

from __future__ import annotations

import socket
import time

import pytest
import requests

from layer0 import auth, aws, jobs, settings
from layer0.workflows import registry
from local import testing
from local.embedded import Layer0

DEADLINE_SECONDS = 60


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def local_mode(monkeypatch):
    # Like a cold start: no auth secret an earlier test left cached.
    auth.forget()
    for name in [n for n in registry.STEPS if n.startswith("environment.")]:
        monkeypatch.setitem(registry.STEPS, name, lambda **args: {"dependencies": [], "gone": True})
    try:
        with testing.make_waits_instant(), Layer0(port=_free_port()) as layer0:
            yield layer0
    finally:
        # The client layer's clients point at the stopped server: later tests need fresh ones.
        aws.reset()
        settings.get.cache_clear()


def test_a_job_started_in_local_mode_completes_and_its_history_is_served(local_mode):
    session = requests.Session()
    session.headers["Authorization"] = f"Basic {local_mode.token}"
    assert settings.get().job_state_machine_prefix.endswith(":stateMachine:l0-l0-job-")

    job = jobs.create(jobs.JobType.DeleteEnvironment, "envabc12345")

    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        response = session.get(f"{local_mode.endpoint}job/{job.job_id}", timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        if body["job_status"] in (3, 4):
            break
        assert time.monotonic() < deadline, body
        time.sleep(0.05)
    assert body["job_status"] == 3, body
    (log,) = session.get(f"{local_mode.endpoint}task/{job.job_id}/logs", timeout=10).json()
    assert log["name"] == "l0-l0-job-delete-environment"
    assert log["lines"][-1].split(" ")[1] == "ExecutionSucceeded"
    assert [job["job_id"] for job in session.get(f"{local_mode.endpoint}job", timeout=10).json()] == [job.job_id]
