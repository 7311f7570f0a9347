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


PASS_MACHINE = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


@contextlib.contextmanager
def job_machines(slugs: tuple[str, ...], definition: dict = PASS_MACHINE):
    """Stand-in machines (`definition`, a Pass by default) under the names of these job types' machines, so that
    routes start jobs as in the API while a benchmark drives the steps itself. Made with a plain boto3 client, so a
    call counter does not see them; removed, and the setting restored, on exit."""
    import json

    import boto3

    from benchmarks.calls import JOB_MACHINE_PREFIX
    from layer0 import settings

    sfn = boto3.client("stepfunctions", region_name=settings.get().region)
    arns = [
        sfn.create_state_machine(
            name=JOB_MACHINE_PREFIX + slug,
            definition=json.dumps(definition),
            roleArn="arn:aws:iam::123456789012:role/l0-l0-jobs",
        )["stateMachineArn"]
        for slug in slugs
    ]
    before = os.environ.get("LAYER0_JOB_STATE_MACHINE_PREFIX")
    os.environ["LAYER0_JOB_STATE_MACHINE_PREFIX"] = arns[0][: -len(slugs[0])]
    settings.get.cache_clear()
    try:
        yield
    finally:
        for arn in arns:
            sfn.delete_state_machine(stateMachineArn=arn)
        if before is None:
            os.environ.pop("LAYER0_JOB_STATE_MACHINE_PREFIX", None)
        else:
            os.environ["LAYER0_JOB_STATE_MACHINE_PREFIX"] = before
        settings.get.cache_clear()
