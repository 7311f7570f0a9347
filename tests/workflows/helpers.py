"""The job machines in moto, as local mode creates them: the workflow-step function and one machine per job type,
built by functions/layer0/workflows/ (the builder CDK synthesizes from) with the function's ARN substituted."""

from __future__ import annotations

import contextlib
import json
import time
import uuid

import boto3

from layer0 import contract
from layer0.workflows import asl, registry
from local import lambda_runtime, moto_patches, testing
from local.resources import REGION

ACCOUNT = "123456789012"
STEP_FUNCTION = "l0-l0-workflow-step"
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
DEADLINE_SECONDS = 60

_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def install_job_machines(monkeypatch, prefix: str = "l0") -> dict[int, str]:
    """Inside an active moto mock: the step function and the job machines; sets LAYER0_JOB_STATE_MACHINE_PREFIX.

    Returns job type -> state machine ARN.
    """
    from handlers import steps as step_handler
    from layer0 import settings

    moto_patches.apply()
    lambda_runtime.install()
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName=f"l0-{prefix}-workflow-step", AssumeRolePolicyDocument=json.dumps(_TRUST))
    lambda_runtime.register(STEP_FUNCTION, step_handler.handler)
    function_arn = lambda_runtime.create_function(
        boto3.client("lambda", region_name=REGION), STEP_FUNCTION, role["Role"]["Arn"], timeout=asl.STEP_FUNCTION_TIMEOUT_SECONDS
    )
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machines = {}
    for job_type, machine in registry.MACHINES.items():
        machines[job_type] = sfn.create_state_machine(
            name=machine.name(prefix),
            definition=machine.render(function_arn),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/l0-{prefix}-jobs",
            type="STANDARD",
        )["stateMachineArn"]
    monkeypatch.setenv(
        "LAYER0_JOB_STATE_MACHINE_PREFIX",
        f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{contract.job_machine_name_prefix(prefix)}",
    )
    settings.get.cache_clear()
    return machines


@contextlib.contextmanager
def job_machines(monkeypatch, prefix: str = "l0"):
    """`install_job_machines`, with instant Wait states and Retry backoff; the step handlers are unregistered after."""
    with testing.make_waits_instant() as waits:
        machines = install_job_machines(monkeypatch, prefix)
        try:
            yield machines, waits
        finally:
            lambda_runtime.unregister(STEP_FUNCTION)


def execution_arn(machine_arn: str, job_id: str) -> str:
    return machine_arn.replace(":stateMachine:", ":execution:") + ":" + job_id


def wait_for_end(execution: str, agent=None) -> dict:
    """describe_execution once the execution is terminal (the mock must still be active). With `agent` (the local
    ECS simulation), a pass of it between checks: the tasks a job waits for start meanwhile."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        if agent is not None:
            agent.sync_once()
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] in TERMINAL:
            return described
        assert time.monotonic() < deadline, f"{execution} still {described['status']} after {DEADLINE_SECONDS}s"
        time.sleep(0.01)


def run_definition(definition: dict, execution_input: dict | None = None, role: str = f"arn:aws:iam::{ACCOUNT}:role/sfn") -> dict:
    """Create a state machine from `definition`, run it, and return describe_execution once it is terminal."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name=f"sm-{uuid.uuid4().hex[:12]}", definition=json.dumps(definition), roleArn=role
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps(execution_input or {}))
    return wait_for_end(execution["executionArn"])


def output(described: dict):
    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    return json.loads(described["output"])
