"""Shared fixtures: AWS is always moto, in process here (docs/architecture.md#local-mode)."""

from __future__ import annotations

import os

import boto3
import pytest
from moto import mock_aws

from layer0 import aws, settings
from local.gateway import LambdaContext  # noqa: F401  (re-exported for the tests)
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
    tests of the client layer itself call `aws.reset()`. Its token buckets start full for each test, at the default
    pacing, as a fresh container's would: no test waits for the tokens an earlier one took.
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
    aws.reset_limiters()
    yield
    settings.get.cache_clear()


@pytest.fixture
def stack(monkeypatch):
    """moto in process with the stack's resources; the functions' settings point at them.

    Yields the API token.
    """
    from local import moto_patches

    moto_patches.apply()  # local mode runs with them; idempotent
    with mock_aws(config=MOTO_CONFIG):
        environment, token = create_stack_resources(setup_client)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        settings.get.cache_clear()
        yield token
