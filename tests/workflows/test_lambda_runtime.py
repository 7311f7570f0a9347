"""local/lambda_runtime.py: Step Functions Lambda tasks call registered Python handlers in process."""

from __future__ import annotations

import decimal
import json
import threading
import uuid

import boto3
import pytest
from moto import mock_aws

from tests.workflows.helpers import output, run_definition
from local import lambda_runtime, moto_patches, testing

REGION = "us-west-2"
ACCOUNT = "123456789012"
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
FUNCTION = "l0-test-workflow-step"


class ThrottledError(Exception):
    pass


@pytest.fixture
def aws():
    """moto in process with Step Functions executing, the runtime installed, a role; yields the role ARN."""
    moto_patches.apply()
    lambda_runtime.install()
    lambda_runtime.clear()
    try:
        with testing.make_waits_instant(), mock_aws(config=MOTO_CONFIG):
            role = boto3.client("iam").create_role(
                RoleName="l0-test-lambda",
                AssumeRolePolicyDocument=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                ),
            )["Role"]["Arn"]
            yield role
    finally:
        lambda_runtime.clear()


def function(role: str, handler, name: str = FUNCTION) -> str:
    """Register ``handler`` and create its placeholder function; returns the function ARN."""
    lambda_runtime.register(name, handler)
    return lambda_runtime.create_function(boto3.client("lambda"), name, role)


def invoke_task(**extra) -> dict:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": FUNCTION, "Payload.$": "$"},
        "OutputPath": "$.Payload",
        **extra,
    }


def run(definition: dict, execution_input=None) -> dict:
    """Create the state machine, run it, and return describe_execution once it is terminal."""
    return run_definition(definition, execution_input)


def test_a_lambda_task_returns_what_the_registered_handler_returns(aws):
    seen = {}

    def handler(event, context):
        seen.update(
            event=event,
            name=context.function_name,
            arn=context.invoked_function_arn,
            memory=context.memory_limit_in_mb,
            request_id=context.aws_request_id,
            remaining=context.get_remaining_time_in_millis(),
        )
        return {"step": event["step"], "done": True, "count": decimal.Decimal("3")}

    arn = function(aws, handler)

    result = output(run({"StartAt": "Step", "States": {"Step": invoke_task(End=True)}}, {"step": "create-cluster"}))

    assert result == {"step": "create-cluster", "done": True, "count": 3}
    assert seen["event"] == {"step": "create-cluster"}
    assert seen["name"] == FUNCTION
    assert seen["arn"] == arn == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}"
    assert seen["memory"] == 256
    assert uuid.UUID(seen["request_id"])
    assert 0 < seen["remaining"] <= 30_000


def test_a_function_arn_works_as_function_name_and_as_resource(aws):
    arn = function(aws, lambda event, context: {"got": event})
    definition = {
        "StartAt": "ByArn",
        "States": {
            "ByArn": invoke_task(Parameters={"FunctionName": arn, "Payload": {"n": 1}}, Next="Legacy"),
            "Legacy": {"Type": "Task", "Resource": arn, "End": True},
        },
    }

    assert output(run(definition)) == {"got": {"got": {"n": 1}}}


def test_throttling_twice_is_absorbed_by_retry(aws):
    calls = []

    def handler(event, context):
        calls.append(event)
        if len(calls) <= 2:
            raise ThrottledError("Rate exceeded")
        return {"attempts": len(calls)}

    function(aws, handler)
    retry = [{"ErrorEquals": ["ThrottledError"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2}]

    result = output(run({"StartAt": "Step", "States": {"Step": invoke_task(Retry=retry, End=True)}}, {"job": "j-1"}))

    assert result == {"attempts": 3}
    assert calls == [{"job": "j-1"}] * 3
    assert testing.make_waits_instant().requested == [("retry", 2), ("retry", 4)]


def test_an_error_that_outlives_retry_lands_in_catch_with_type_and_cause(aws):
    def handler(event, context):
        raise ValueError(f"cluster {event['cluster']} not found")

    function(aws, handler)
    definition = {
        "StartAt": "Step",
        "States": {
            "Step": invoke_task(
                Retry=[{"ErrorEquals": ["ThrottledError"], "MaxAttempts": 5}],
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "MarkJobError"}],
                End=True,
            ),
            "MarkJobError": {
                "Type": "Pass",
                "Parameters": {"cluster.$": "$.cluster", "error.$": "$.error.Error", "cause.$": "$.error.Cause"},
                "End": True,
            },
        },
    }

    result = output(run(definition, {"cluster": "l0-env-1"}))

    assert result["cluster"] == "l0-env-1"
    assert result["error"] == "ValueError"
    cause = json.loads(result["cause"])
    assert cause["errorType"] == "ValueError"
    assert cause["errorMessage"] == "cluster l0-env-1 not found"
    assert any("raise ValueError" in line for line in cause["stackTrace"])


def test_an_uncaught_error_fails_the_execution_with_the_exception_class_as_error(aws):
    def handler(event, context):
        raise ThrottledError("Rate exceeded")

    function(aws, handler)

    described = run({"StartAt": "Step", "States": {"Step": invoke_task(End=True)}})

    assert described["status"] == "FAILED"
    assert described["error"] == "ThrottledError"
    assert json.loads(described["cause"])["errorMessage"] == "Rate exceeded"


def test_a_map_over_three_items_calls_the_handler_at_most_two_at_a_time(aws):
    lock = threading.Lock()
    running, peak = [0], [0]

    def handler(event, context):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            return {"service": event["name"], "instances": event["scale"] * 2}
        finally:
            with lock:
                running[0] -= 1

    function(aws, handler)
    definition = {
        "StartAt": "Services",
        "States": {
            "Services": {
                "Type": "Map",
                "ItemsPath": "$.services",
                "MaxConcurrency": 2,
                "Iterator": {"StartAt": "Scale", "States": {"Scale": invoke_task(End=True)}},
                "ResultPath": "$.scaled",
                "End": True,
            }
        },
    }
    services = [{"name": f"svc-{i}", "scale": i} for i in range(3)]

    result = output(run(definition, {"services": services}))

    assert result["scaled"] == [{"service": f"svc-{i}", "instances": 2 * i} for i in range(3)]
    assert 1 <= peak[0] <= 2


def test_a_handler_can_call_other_mocked_services(aws):
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName="jobs",
        KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "job_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    def handler(event, context):
        table = boto3.resource("dynamodb").Table("jobs")
        table.put_item(Item={"job_id": event["job_id"], "job_status": "Completed"})
        return table.get_item(Key={"job_id": event["job_id"]})["Item"]

    function(aws, handler)

    result = output(run({"StartAt": "Step", "States": {"Step": invoke_task(End=True)}}, {"job_id": "j-7"}))

    assert result == {"job_id": "j-7", "job_status": "Completed"}


def test_an_unregistered_function_keeps_moto_echo_and_a_missing_one_is_not_found(aws):
    lambda_runtime.create_function(boto3.client("lambda"), "l0-echo", aws)
    lambda_runtime.register("l0-missing", lambda event, context: {"never": "called"})
    definition = {
        "StartAt": "Echo",
        "States": {
            "Echo": invoke_task(Parameters={"FunctionName": "l0-echo", "Payload.$": "$"}, Next="Missing"),
            "Missing": invoke_task(
                Parameters={"FunctionName": "l0-missing", "Payload.$": "$"},
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Done"}],
                End=True,
            ),
            "Done": {"Type": "Pass", "Parameters": {"echo.$": "$.hello", "error.$": "$.error.Error"}, "End": True},
        },
    }

    assert output(run(definition, {"hello": "world"})) == {
        "echo": "world",
        "error": "Lambda.ResourceNotFoundException",
    }


def test_direct_invoke_reports_function_error_like_lambda(aws):
    function(aws, lambda event, context: 1 / 0)
    function(aws, lambda event, context: object(), name="l0-unmarshallable")
    client = boto3.client("lambda")

    failed = client.invoke(FunctionName=FUNCTION, Payload=b"{}")
    unmarshallable = client.invoke(FunctionName="l0-unmarshallable", Payload=b"{}")

    assert failed["FunctionError"] == "Unhandled"
    body = json.loads(failed["Payload"].read())
    assert (body["errorType"], body["errorMessage"]) == ("ZeroDivisionError", "division by zero")
    assert unmarshallable["FunctionError"] == "Unhandled"
    assert json.loads(unmarshallable["Payload"].read())["errorType"] == "Runtime.MarshalError"


def test_install_is_idempotent_and_uninstall_gives_moto_back():
    from moto.awslambda_simple.models import LambdaSimpleBackend

    lambda_runtime.install()
    installed = LambdaSimpleBackend.invoke
    lambda_runtime.install()
    assert LambdaSimpleBackend.invoke is installed
    try:
        lambda_runtime.uninstall()
        lambda_runtime.uninstall()
        assert LambdaSimpleBackend.invoke is not installed
        assert not lambda_runtime.is_installed()
    finally:
        lambda_runtime.install()
    assert LambdaSimpleBackend.invoke is installed


@pytest.mark.parametrize(
    "name",
    [
        FUNCTION,
        f"{FUNCTION}:live",
        f"{ACCOUNT}:function:{FUNCTION}",
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}",
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}:$LATEST",
    ],
)
def test_function_names_resolve_from_names_and_arns(name):
    assert lambda_runtime.function_name_of(name) == FUNCTION
