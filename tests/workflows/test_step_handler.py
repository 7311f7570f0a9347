"""The workflow-step function's contract: a named step runs with its args; failures keep names ASL can match."""

from __future__ import annotations

import io
import json
import logging

import pytest
from botocore.exceptions import ClientError

from handlers import steps as handler_module
from handlers.observability import domain_logs_through
from layer0.errors import AwsServerError, ErrorCode, Layer0Error, Retryable, Throttled
from layer0.workflows import frame, registry
from local.lambda_runtime import LambdaContext
from tests.recording_tracer import RecordingProvider

CONTEXT = LambdaContext("l0-l0-workflow-step", "arn:aws:lambda:us-west-2:123456789012:function:l0-l0-workflow-step")


def invoke(step: str, **args):
    return handler_module.handler({"step": step, "job_id": "0123456789ab", "args": args}, CONTEXT)


@pytest.fixture
def step(monkeypatch):
    """Registers `test.step`, which runs the function the test sets."""
    box = {}
    monkeypatch.setitem(registry.STEPS, "test.step", lambda **args: box["run"](**args))
    return box


def test_a_step_gets_its_args_as_keyword_arguments_and_its_result_is_returned(step):
    step["run"] = lambda **args: {"echo": args}
    assert invoke("test.step", environment_id="env1") == {"echo": {"environment_id": "env1"}}


@pytest.mark.parametrize("code", ["Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"])
def test_aws_throttling_becomes_throttled(step, code):
    def throttled(**args):
        raise ClientError({"Error": {"Code": code, "Message": "Rate exceeded"}}, "DescribeClusters")

    step["run"] = throttled
    with pytest.raises(Throttled) as raised:
        invoke("test.step")
    assert type(raised.value).__name__ == "Throttled"  # the errorType Retry matches on


def test_an_aws_5xx_becomes_aws_server_error_and_a_4xx_stays_itself(step):
    def failing(status, code):
        def run(**args):
            raise ClientError(
                {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "CreateCluster"
            )

        return run

    step["run"] = failing(500, "InternalFailure")
    with pytest.raises(AwsServerError) as raised:
        invoke("test.step")
    assert type(raised.value).__name__ == "AwsServerError"  # in the machines' transient retry
    step["run"] = failing(400, "InvalidParameterException")
    with pytest.raises(ClientError):
        invoke("test.step")


def test_a_layer0_throttled_error_becomes_throttled(step):
    def throttled(**args):
        raise Layer0Error(ErrorCode.Throttled, "slow down")

    step["run"] = throttled
    with pytest.raises(Throttled):
        invoke("test.step")


def test_retryable_and_other_errors_keep_their_names(step):
    def not_yet(**args):
        raise Retryable("ENIs still attached")

    step["run"] = not_yet
    with pytest.raises(Retryable) as raised:
        invoke("test.step")
    assert type(raised.value).__name__ == "Retryable"

    def denied(**args):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "DeleteCluster")

    step["run"] = denied
    with pytest.raises(ClientError):
        invoke("test.step")


def test_an_unknown_step_is_an_error_of_its_own():
    with pytest.raises(registry.UnknownStep, match="No workflow step named 'nope'"):
        invoke("nope")


def test_every_task_state_of_every_machine_names_a_registered_step_with_the_arguments_it_takes():
    import inspect

    def tasks(states: dict):
        for state in states.values():
            if state["Type"] == "Task":
                yield state["Parameters"]["Payload"]
            for branch in state.get("Branches", []):
                yield from tasks(branch["States"])
            if "Iterator" in state:
                yield from tasks(state["Iterator"]["States"])

    seen = set()
    for machine in registry.MACHINES.values():
        for payload in tasks(machine.definition()["States"]):
            function = registry.STEPS[payload["step"]]
            names = {key.removesuffix(".$") for key in payload["args"]}
            inspect.signature(function).bind(**dict.fromkeys(names))  # raises if the step cannot take these args
            seen.add(payload["step"])
    assert seen == set(registry.STEPS)  # and no step is registered that no machine runs


def test_set_error_takes_the_catch_output_even_without_a_cause(monkeypatch):
    recorded = []
    monkeypatch.setattr(frame.jobs, "set_error", lambda job_id, error, cause: recorded.append((error, cause)) or error)

    invoke("job.set_error", job_id="0123456789ab", error={"Error": "States.Timeout"})
    invoke("job.set_error", job_id="0123456789ab", error={"Error": "ValueError", "Cause": '{"errorMessage": "boom"}'})

    assert recorded == [("States.Timeout", ""), ("ValueError", '{"errorMessage": "boom"}')]


def test_a_domain_log_line_names_the_job_and_the_step(step, monkeypatch):
    # The step function's cold start does this; during an invocation the domain writes through the logger of the
    # function invoked, whichever handler was imported last (tests/api/test_function_logs.py).
    domain_logs_through(handler_module.logger)
    stream = io.StringIO()
    monkeypatch.setattr(handler_module.logger.registered_handler, "stream", stream)

    def logs(**args):
        logging.getLogger("layer0.environments").warning("from the domain")
        return {}

    step["run"] = logs
    invoke("test.step")

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    domain = [line for line in lines if line.get("message") == "from the domain"]
    assert domain, lines
    assert domain[0]["job_id"] == "0123456789ab"
    assert domain[0]["step"] == "test.step"
    assert domain[0]["service"] == "layer0-steps"



@pytest.mark.parametrize("fails", [False, True], ids=["result", "error"])
def test_the_tracer_records_neither_a_steps_result_nor_its_error(step, monkeypatch, fails):
    """A step's result and its error can carry a Dockerrun's environment values: they must not reach X-Ray."""
    provider = RecordingProvider()
    monkeypatch.setattr(handler_module.tracer, "provider", provider)
    secret = "db-password-4242"

    def run(**args):
        if fails:
            raise ValueError(f"container env DB_PASSWORD={secret}")
        return {"environment": [{"name": "DB_PASSWORD", "value": secret}]}

    step["run"] = run
    if fails:
        with pytest.raises(ValueError):
            invoke("test.step")
    else:
        assert secret in json.dumps(invoke("test.step"))  # the result carries it...
    [subsegment] = provider.subsegments
    assert secret not in repr(subsegment.metadata)  # ...and the trace does not
