"""What answers and traces never carry (docs/compatibility.md#errors): AWS's detail on an unexpected AWS error goes
only to the log, under the request id the answer names; the tracer records no answer body."""

from __future__ import annotations

import base64
import json

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError, ParamValidationError

from layer0 import aws, errors
from layer0.errors import ErrorCode
from local.gateway import LambdaContext, proxy_event
from tests.recording_tracer import RecordingProvider

ACCOUNT_DETAIL = "arn:aws:sts::210987654321:assumed-role/l0-l0-api/l0-l0-api"
ACCESS_DENIED = {
    "__type": "AccessDeniedException",
    "message": f"User: {ACCOUNT_DETAIL} is not authorized to perform: ecs:DescribeClusters on resource: *",
}


class _Body:
    def __init__(self, payload: bytes):
        self._payload = payload

    def stream(self, **_kwargs):
        yield self._payload


def _access_denied(request, **_kwargs):
    body = json.dumps(ACCESS_DENIED).encode()
    return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.1"}, _Body(body))


@pytest.fixture
def denied_ecs(stack):
    ecs = aws.client("ecs")
    ecs.meta.events.register_first("before-send", _access_denied)
    yield
    ecs.meta.events.unregister("before-send", _access_denied)


def test_access_denied_answers_a_generic_message_with_the_request_id_and_logs_the_detail(denied_ecs, monkeypatch):
    from handlers import api
    from handlers.api import errors as api_errors

    logged = []
    monkeypatch.setattr(api_errors.logger, "warning", lambda message, extra: logged.append(extra))
    # A Get reads ECS live (DescribeClusters); the List routes read the read model only.
    event = proxy_event("GET", "/environment/env123456789", "/environment/{id}", params={"id": "env123456789"})
    response = api.handler(event, LambdaContext())

    assert response["statusCode"] == 500
    body = json.loads(response["body"])
    assert body["error_code"] == 21
    assert "210987654321" not in body["message"] and "arn:" not in body["message"]
    assert "AccessDeniedException" in body["message"]  # AWS's error code names the kind of failure, not the account
    assert event["requestContext"]["requestId"] in body["message"]
    [entry] = logged
    assert ACCOUNT_DETAIL in entry["error"]


def test_aws_server_faults_and_throttling_keep_aws_s_message():
    """AWS's text for its own faults is generic and tells the caller to retry (the fault suite relies on it)."""
    fault = errors.ClientError(
        {"Error": {"Code": "InternalFailure", "Message": "injected fault"}, "ResponseMetadata": {"HTTPStatusCode": 500}},
        "ListClusters",
    )
    translated = errors.from_aws(fault, request_id="r-1")
    assert (translated.status, translated.code) == (500, ErrorCode.UnexpectedError)
    assert translated.message == "AWS Error: injected fault (code 'InternalFailure')"
    throttled = errors.ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}, "ResponseMetadata": {"HTTPStatusCode": 400}},
        "ListClusters",
    )
    assert errors.from_aws(throttled).code == ErrorCode.Throttled


def test_botocore_failures_name_no_parameter_value():
    # A botocore parameter error quotes the value it refused: here a Dockerrun environment value.
    invalid = ParamValidationError(report="Invalid type for parameter environment[0].value, value: 4242-secret")
    translated = errors.from_aws(invalid, request_id="r-2")
    assert (translated.status, translated.code) == (500, ErrorCode.UnexpectedError)
    assert "4242-secret" not in translated.message and "r-2" in translated.message
    unreachable = errors.from_aws(EndpointConnectionError(endpoint_url="https://ecs.example"), request_id="r-3")
    assert unreachable.status == 503 and "r-3" in unreachable.message



def test_the_tracer_records_no_answer_body(stack, monkeypatch):
    from handlers import api

    provider = RecordingProvider()
    monkeypatch.setattr(api.tracer, "provider", provider)
    secret = "db-password-4242"
    dockerrun = {"containerDefinitions": [{"name": "c", "image": "busybox", "memory": 64, "environment": [
        {"name": "DB_PASSWORD", "value": secret}]}]}  # fmt: skip
    body = json.dumps({"deploy_name": "d", "dockerrun": base64.b64encode(json.dumps(dockerrun).encode()).decode()})
    event = proxy_event("POST", "/deploy", headers={"Content-Type": "application/json"}, body=body.encode())
    response = api.handler(event, LambdaContext())
    assert response["statusCode"] == 200, response["body"]
    assert secret in base64.b64decode(json.loads(response["body"])["dockerrun"]).decode()  # the answer carries it...
    [subsegment] = provider.subsegments
    assert secret not in repr(subsegment.metadata)  # ...and the trace does not
    assert subsegment.metadata == []
