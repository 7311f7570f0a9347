"""Shared set-up for benchmarks: moto in process with the stack's resources, as the tests use it."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]


@contextlib.contextmanager
def in_process_stack(aws_rate: float = 1e9):
    """Yields the API token while moto runs in process and the settings point at its resources.

    moto answers in microseconds; the default rate lifts the client layer's pacing so that a
    benchmark measures the code, not the token bucket.
    """
    import boto3
    from moto import mock_aws

    from layer0 import aws, settings
    from local.resources import REGION, create_stack_resources

    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="WARNING",
        MOTO_EC2_LOAD_DEFAULT_AMIS="false",
        LAYER0_AWS_RATE=str(aws_rate),
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        environment, token = create_stack_resources(lambda service: boto3.client(service, region_name=REGION))
        os.environ.update(environment)
        settings.get.cache_clear()
        aws.reset()
        yield token
