"""Shared fixtures: AWS is always moto, in process here (DESIGN §5)."""

from __future__ import annotations

import base64
import json
import os

import boto3
import pytest
from moto import mock_aws

from layer0 import settings
from local.resources import REGION, create_stack_resources

MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
# moto loads hundreds of AMIs into every new EC2 backend; no test here needs them.
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")

_setup_clients: dict[str, object] = {}


def setup_client(service: str):
    """boto3 clients for test set-up, made once: moto intercepts them whenever a mock is active."""
    if service not in _setup_clients:
        _setup_clients[service] = boto3.client(service, region_name=REGION)
    return _setup_clients[service]


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch):
    """Fake credentials and no real endpoint, for every test; fresh settings.

    The client layer's clients survive between tests (they depend on nothing a test changes);
    tests of the client layer itself call `aws.reset()`.
    """
    for name in list(os.environ):
        if name.startswith(("AWS_", "LAYER0_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    settings.get.cache_clear()
    yield
    settings.get.cache_clear()


@pytest.fixture
def stack(monkeypatch):
    """moto in process with the stack's resources; the functions' settings point at them.

    Yields the API token.
    """
    with mock_aws(config=MOTO_CONFIG):
        environment, token = create_stack_resources(setup_client)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        settings.get.cache_clear()
        yield token


class LambdaContext:
    function_name = "l0-test-api"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-west-2:123456789012:function:l0-test-api"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def rest_event(method: str, path: str, body=None, query: dict | None = None, headers: dict | None = None) -> dict:
    """A REST v1 proxy event as API Gateway sends it after the authorizer let it through."""
    raw = body if isinstance(body, str) or body is None else json.dumps(body)
    multi_query = {key: value if isinstance(value, list) else [value] for key, value in (query or {}).items()}
    headers = {"Content-Type": "application/json", **(headers or {})}
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {key: [value] for key, value in headers.items()},
        "queryStringParameters": {key: values[-1] for key, values in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": path,
            "stage": "api",
            "requestId": "req-1",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": raw,
        "isBase64Encoded": False,
    }


def basic(token: str) -> dict:
    return {"Authorization": f"Basic {token}"}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
