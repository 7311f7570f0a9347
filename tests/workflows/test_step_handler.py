"""The workflow-step function's contract: a named step runs with its args; failures keep names ASL can match."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from handlers import steps as handler_module
from layer0 import steps
from layer0.errors import ErrorCode, Layer0Error, Retryable
from local.lambda_runtime import LambdaContext

CONTEXT = LambdaContext("l0-l0-workflow-step", "arn:aws:lambda:us-west-2:123456789012:function:l0-l0-workflow-step")


def invoke(step: str, **args):
    return handler_module.handler({"step": step, "job_id": "0123456789ab", "args": args}, CONTEXT)


@pytest.fixture
def step(monkeypatch):
    """Registers `test.step`, which runs the function the test sets."""
    box = {}
    monkeypatch.setitem(steps.STEPS, "test.step", lambda job_id, args: box["run"](job_id, args))
    return box


def test_a_step_gets_the_job_id_and_args_and_its_result_is_returned(step):
    step["run"] = lambda job_id, args: {"job_id": job_id, "echo": args}
    assert invoke("test.step", environment_id="env1") == {"job_id": "0123456789ab", "echo": {"environment_id": "env1"}}


@pytest.mark.parametrize("code", ["Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"])
def test_aws_throttling_becomes_throttled(step, code):
    def throttled(job_id, args):
        raise ClientError({"Error": {"Code": code, "Message": "Rate exceeded"}}, "DescribeClusters")

    step["run"] = throttled
    with pytest.raises(steps.Throttled) as raised:
        invoke("test.step")
    assert type(raised.value).__name__ == "Throttled"  # the errorType Retry matches on


def test_an_aws_5xx_becomes_aws_server_error_and_a_4xx_stays_itself(step):
    def failing(status, code):
        def run(job_id, args):
            raise ClientError(
                {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "CreateCluster"
            )

        return run

    step["run"] = failing(500, "InternalFailure")
    with pytest.raises(steps.AwsServerError) as raised:
        invoke("test.step")
    assert type(raised.value).__name__ == "AwsServerError"  # in the machines' transient retry
    step["run"] = failing(400, "InvalidParameterException")
    with pytest.raises(ClientError):
        invoke("test.step")


def test_a_layer0_throttled_error_becomes_throttled(step):
    def throttled(job_id, args):
        raise Layer0Error(ErrorCode.Throttled, "slow down")

    step["run"] = throttled
    with pytest.raises(steps.Throttled):
        invoke("test.step")


def test_retryable_and_other_errors_keep_their_names(step):
    def not_yet(job_id, args):
        raise Retryable("ENIs still attached")

    step["run"] = not_yet
    with pytest.raises(Retryable) as raised:
        invoke("test.step")
    assert type(raised.value).__name__ == "Retryable"

    def denied(job_id, args):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "DeleteCluster")

    step["run"] = denied
    with pytest.raises(ClientError):
        invoke("test.step")


def test_an_unknown_step_is_an_error_of_its_own():
    with pytest.raises(steps.UnknownStep, match="No workflow step named 'nope'"):
        invoke("nope")


def test_the_environment_steps_call_layer0_environments(monkeypatch):
    from layer0 import environments

    calls = []
    monkeypatch.setattr(environments, "delete_dependency", lambda *a: calls.append(a) or {"deleted": True})
    monkeypatch.setattr(environments, "delete_cluster", lambda *a: calls.append(a) or {"deleted": True})

    assert invoke("environment.delete_dependency", environment_id="env1", kind="service", id="svc1") == {"deleted": True}
    assert invoke("environment.delete_cluster", environment_id="env1") == {"deleted": True}
    assert calls == [("env1", "service", "svc1"), ("env1",)]


def test_set_error_takes_the_catch_output_even_without_a_cause(monkeypatch):
    recorded = []
    monkeypatch.setattr(steps.jobs, "set_error", lambda job_id, error, cause: recorded.append((error, cause)) or error)

    invoke("job.set_error", error={"Error": "States.Timeout"})
    invoke("job.set_error", error={"Error": "ValueError", "Cause": '{"errorMessage": "boom"}'})

    assert recorded == [("States.Timeout", ""), ("ValueError", '{"errorMessage": "boom"}')]
