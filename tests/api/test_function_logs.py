"""The functions' log lines when they share one process, as in local mode (the API, the workflow steps, the events
function and the scaler): each invocation's lines, the domain's included, carry its own function's keys and none
of an earlier or concurrent invocation of another function (handlers/observability.py)."""

from __future__ import annotations

import io
import json
import logging
import threading

import pytest

from handlers import api as api_function
from handlers import events as events_function
from handlers import scaler as scaler_function
from handlers import steps as steps_function
from layer0.workflows import registry
from local.lambda_runtime import LambdaContext


def context(function_name: str) -> LambdaContext:
    return LambdaContext(function_name, f"arn:aws:lambda:us-west-2:123456789012:function:{function_name}")


STEP_CONTEXT = context("l0-l0-workflow-step")
JOB_ID = "0123456789ab"
# The keys the other functions append for one invocation: none may show up on another function's line.
INVOCATION_KEYS = {"step", "job_id", "detail_type", "event_id", "environment_id"}


@pytest.fixture
def lines(monkeypatch):
    """Every function logger's lines, in one buffer; `lines()` parses them."""
    buffer = io.StringIO()
    for function in (api_function, steps_function, events_function, scaler_function):
        monkeypatch.setattr(function.logger.registered_handler, "stream", buffer)
    return lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]


@pytest.fixture
def step(monkeypatch):
    """Registers `test.step`, which runs the function the test sets."""
    box = {}
    monkeypatch.setitem(registry.STEPS, "test.step", lambda **args: box["run"](**args))
    return box


def run_step(name: str = "test.step"):
    return steps_function.handler({"step": name, "job_id": JOB_ID, "args": {}}, STEP_CONTEXT)


def domain_says(message: str) -> dict:
    logging.getLogger("layer0.environments").info(message)
    return {}


def only(found: list[dict], message: str) -> dict:
    [line] = [line for line in found if line.get("message") == message]
    return line


def test_an_api_line_after_a_step_and_an_event_carries_none_of_their_keys(api, lines, step):
    step["run"] = lambda: domain_says("from a step")
    run_step()
    scheduled = {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-29T10:00:00Z",
        "region": "us-west-2",
        "resources": ["arn:aws:events:us-west-2:123456789012:rule/l0-l0-reconcile"],
        "detail": {},
    }
    events_function.handler(scheduled, context("l0-l0-events"))
    assert api.post("/secret", json={"secret_name": "logged", "value": "v"}).status_code == 200

    found = lines()
    from_step = only(found, "from a step")
    assert (from_step["service"], from_step["step"], from_step["job_id"]) == ("layer0-steps", "test.step", JOB_ID)
    reconciled = next(line for line in found if line["message"].startswith("Reconciled the read model"))
    assert reconciled["service"] == "layer0-events" and reconciled["detail_type"] == "Scheduled Event"
    assert not INVOCATION_KEYS & {"step", "job_id"} & reconciled.keys()
    set_line = only(found, "Secret logged set")
    assert set_line["service"] == "layer0-api" and set_line["name"] == "layer0.secrets"
    assert set_line["function_name"] == "l0-local-api" and set_line["correlation_id"]
    assert not INVOCATION_KEYS & set_line.keys(), set_line


def test_a_step_line_after_an_api_call_carries_none_of_its_keys(api, lines, step):
    assert api.post("/secret", json={"secret_name": "first", "value": "v"}).status_code == 200
    step["run"] = lambda: domain_says("from a step")
    run_step()

    found = lines()
    from_step = only(found, "from a step")
    assert from_step["service"] == "layer0-steps" and "correlation_id" not in from_step
    assert from_step["function_name"] == "l0-l0-workflow-step"
    assert only(found, "Secret first set")["service"] == "layer0-api"


def test_an_api_call_while_a_step_runs_keeps_the_keys_of_each_apart(api, lines, step):
    """Local mode runs a job's steps on moto's threads while the gateway serves requests: one function's keys
    never land on the other's lines, whichever logs first."""
    started, answered = threading.Event(), threading.Event()

    def long_step():
        domain_says("step started")
        started.set()
        assert answered.wait(30)
        return domain_says("step ended")

    step["run"] = long_step
    worker = threading.Thread(target=run_step)
    worker.start()
    try:
        assert started.wait(30)
        assert api.post("/secret", json={"secret_name": "during", "value": "v"}).status_code == 200
    finally:
        answered.set()
        worker.join(30)

    found = lines()
    for message in ("step started", "step ended"):
        line = only(found, message)
        assert (line["service"], line["step"], line["job_id"]) == ("layer0-steps", "test.step", JOB_ID)
        assert "correlation_id" not in line
    during = only(found, "Secret during set")
    assert during["service"] == "layer0-api" and not INVOCATION_KEYS & during.keys()


def test_a_scaler_run_keeps_its_environment_to_itself(stack, lines, monkeypatch):
    def fails(environment_id):
        logging.getLogger("layer0.scaler").warning("scaling %s", environment_id)
        raise RuntimeError("boom")

    monkeypatch.setattr(scaler_function.scaler, "run", fails)
    assert scaler_function.handler({"environment_id": "env1"}, context("l0-l0-scaler")) == {"env1": {"error": "boom"}}
    run_step_line = "after the scaler"
    monkeypatch.setitem(registry.STEPS, "test.after", lambda: domain_says(run_step_line))
    run_step("test.after")

    found = lines()
    assert only(found, "scaling env1")["environment_id"] == "env1"
    assert only(found, "Scaling failed")["environment_id"] == "env1"
    assert "environment_id" not in only(found, run_step_line)
