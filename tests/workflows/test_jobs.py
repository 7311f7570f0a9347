"""Job state machines run in moto, built by the same builder CDK synthesizes from (functions/layer0/workflows/).

The environment steps are stubbed here (tests only): these tests are about the job engine, not environments.
"""

from __future__ import annotations

import json
import threading

import boto3
import pytest
from botocore.exceptions import ClientError

from layer0 import jobs
from layer0.workflows import asl, delete_environment, registry
from layer0.errors import Retryable
from layer0.stores import jobs as job_store
from layer0.stores import tags as tag_store
from local.resources import REGION
from tests.workflows.helpers import execution_arn, job_machines, wait_for_end

ENV_STEPS = [name for name in registry.STEPS if name.startswith("environment.")]
# The order the delete-environment machine runs its steps (the Map's dependencies aside).
ORDER = [
    "environment.unlink_all",
    "environment.list_dependencies",
    "environment.delete_provider",
    "environment.delete_autoscaling_group",
    "environment.delete_launch_template",
    "environment.instances_gone",
    "environment.delete_security_group",
    "environment.delete_cluster",
    "environment.delete_tags",
]


class FakeEnvironment:
    """Stands in for layer0.environments: records calls; `behaviour[step]` may raise or answer per call."""

    def __init__(self, dependencies=()):
        self.calls: list[tuple[str, dict]] = []
        self.dependencies = list(dependencies)
        self.behaviour: dict[str, object] = {}
        self._lock = threading.Lock()

    def count(self, name: str) -> int:
        return sum(1 for call, _ in self.calls if call == name)

    def step(self, name: str):
        def run(**args):
            with self._lock:
                self.calls.append((name, dict(args)))
                attempt = self.count(name)
            behaviour = self.behaviour.get(name)
            if callable(behaviour):
                result = behaviour(attempt, args)
                if result is not None:
                    return result
            if name == "environment.list_dependencies":
                return {"dependencies": self.dependencies}
            if name == "environment.instances_gone":
                return {"gone": True}
            return {"environment_id": args["environment_id"]}

        return run


@pytest.fixture
def machines(stack, monkeypatch):
    with job_machines(monkeypatch) as (arns, waits):
        yield arns, waits


@pytest.fixture
def env(machines, monkeypatch):
    fake = FakeEnvironment()
    for name in ENV_STEPS:
        monkeypatch.setitem(registry.STEPS, name, fake.step(name))
    return fake


def run_job(machines, environment_id="envabc12345"):
    arns, _ = machines
    job = jobs.create(jobs.JobType.DeleteEnvironment, environment_id)
    described = wait_for_end(execution_arn(arns[1], job.job_id))
    return job, described


def throttling(operation="DeleteCluster") -> ClientError:
    return ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, operation)


# --- the builder -------------------------------------------------------------------------------------------------


def test_every_task_state_has_a_timeout_and_retries_transient_errors_with_backoff():
    def tasks(states):
        for name, state in states.items():
            if state["Type"] == "Task":
                yield name, state
            for branch in state.get("Branches", []):
                yield from tasks(branch["States"])
            if "Iterator" in state:
                yield from tasks(state["Iterator"]["States"])

    definition = delete_environment.MACHINE.definition()
    found = dict(tasks(definition["States"]))
    assert {state["Parameters"]["Payload"]["step"] for state in found.values()} == {
        "job.set_status", "job.set_error", *ENV_STEPS,
    }  # fmt: skip
    for name, state in found.items():
        assert 0 < state["TimeoutSeconds"] <= 900, name
        transient = state["Retry"][0]
        assert {
            "Throttled",
            "AwsServerError",
            "Lambda.TooManyRequestsException",
            "Lambda.ServiceException",
            "States.Timeout",
        } <= set(transient["ErrorEquals"]), name
        assert transient["IntervalSeconds"] > 0 and transient["BackoffRate"] > 1 and transient["MaxAttempts"] > 1
        assert state["Parameters"]["FunctionName"] == asl.STEP_FUNCTION_ARN
    body = definition["States"]["Body"]
    assert body["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "SetError"}]
    assert definition["TimeoutSeconds"] > 0
    assert body["Branches"][0]["States"]["DeleteDependencies"]["MaxConcurrency"] == 5


LAMBDA_TRANSIENT = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.Unknown",
)


def _task_states(states: dict):
    for name, state in states.items():
        if state["Type"] == "Task":
            yield name, state
        for branch in state.get("Branches", []):
            yield from _task_states(branch["States"])
        if "Iterator" in state:
            yield from _task_states(state["Iterator"]["States"])


@pytest.mark.parametrize("job_type", sorted(registry.MACHINES))
def test_every_task_state_of_every_machine_retries_lambdas_own_transient_errors(job_type):
    states = dict(_task_states(registry.MACHINES[job_type].definition()["States"]))
    assert states
    for name, state in states.items():
        retried = {error for retrier in state["Retry"] for error in retrier["ErrorEquals"]}
        assert set(LAMBDA_TRANSIENT) <= retried, (name, set(LAMBDA_TRANSIENT) - retried)


def test_every_step_the_machines_name_is_registered():
    for machine in registry.MACHINES.values():
        named = set()

        def collect(value):
            if isinstance(value, dict):
                if "step" in value and isinstance(value["step"], str):
                    named.add(value["step"])
                for item in value.values():
                    collect(item)
            elif isinstance(value, list):
                for item in value:
                    collect(item)

        collect(json.loads(machine.definition_string()))
        assert named <= set(registry.STEPS), named - set(registry.STEPS)


# --- running the delete-environment machine ------------------------------------------------------------------


def test_happy_path_marks_the_job_in_progress_then_completed(env, machines, monkeypatch):
    seen_in_progress = []

    def unlink(attempt, args):
        seen_in_progress.append(job_store.get(job.job_id).job_status)

    env.behaviour["environment.unlink_all"] = unlink
    job = jobs.create(jobs.JobType.DeleteEnvironment, "envabc12345")
    assert job.job_status == 1 and job.task_id == job.job_id and len(job.job_id) == 12
    assert tag_store.select_by_type_and_id("job", job.job_id)[0].value == job.job_id

    described = wait_for_end(execution_arn(machines[0][1], job.job_id))

    assert described["status"] == "SUCCEEDED", described
    assert seen_in_progress == [2]
    assert job_store.get(job.job_id).job_status == 3
    assert [name for name, _ in env.calls] == ORDER
    assert all(args == {"environment_id": "envabc12345"} for _, args in env.calls)


def test_dependencies_are_deleted_by_a_map_at_most_five_at_a_time(env, machines):
    env.dependencies = [{"kind": ("service", "load_balancer", "task")[i % 3], "id": f"dep{i}"} for i in range(12)]
    running, peak, lock = [0], [0], threading.Lock()
    gate = threading.Event()

    def delete_dependency(attempt, args):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        gate.wait(0.05)  # let the others start: proves the bound without measuring time
        with lock:
            running[0] -= 1

    env.behaviour["environment.delete_dependency"] = delete_dependency

    job, described = run_job(machines)

    assert described["status"] == "SUCCEEDED", described
    deleted = sorted((a["kind"], a["id"]) for n, a in env.calls if n == "environment.delete_dependency")
    assert deleted == sorted((d["kind"], d["id"]) for d in env.dependencies)
    assert all(a["environment_id"] == "envabc12345" for n, a in env.calls if n == "environment.delete_dependency")
    assert 1 <= peak[0] <= 5
    calls = [name for name, _ in env.calls]
    assert calls.index("environment.delete_autoscaling_group") > max(
        i for i, name in enumerate(calls) if name == "environment.delete_dependency"
    )
    assert job_store.get(job.job_id).job_status == 3


def test_a_failing_step_ends_in_status_4_with_the_reason(env, machines):
    def busy(attempt, args):
        raise ValueError("cluster l0-l0-envabc12345 still has services")

    env.behaviour["environment.delete_cluster"] = busy

    job, described = run_job(machines)

    assert described["status"] == "FAILED"
    stored = job_store.get(job.job_id)
    assert stored.job_status == 4
    assert stored.meta == {"error": "ValueError: cluster l0-l0-envabc12345 still has services"}
    assert env.count("environment.delete_cluster") == 1  # not transient: no retry
    assert env.count("environment.delete_tags") == 0


def test_a_step_throttled_twice_then_succeeding_ends_in_status_3(env, machines):
    def throttled_twice(attempt, args):
        if attempt <= 2:
            raise throttling()

    env.behaviour["environment.delete_cluster"] = throttled_twice

    job, described = run_job(machines)

    assert described["status"] == "SUCCEEDED", described
    assert env.count("environment.delete_cluster") == 3
    assert job_store.get(job.job_id).job_status == 3
    retries = [seconds for kind, seconds in machines[1].requested if kind == "retry"]
    assert retries == [2, 4]  # the transient-error backoff


def test_throttling_that_outlives_the_retries_fails_the_job_as_throttled(env, machines):
    def always(attempt, args):
        raise throttling("DeleteLaunchTemplate")

    env.behaviour["environment.delete_launch_template"] = always

    job, described = run_job(machines)

    stored = job_store.get(job.job_id)
    assert stored.job_status == 4
    assert stored.meta["error"].startswith("Throttled: An error occurred (ThrottlingException)")
    assert env.count("environment.delete_launch_template") == asl.TRANSIENT_RETRY["MaxAttempts"] + 1


def test_the_security_group_is_retried_every_10_seconds_while_it_is_in_use(env, machines):
    def in_use(attempt, args):
        if attempt <= 3:
            raise Retryable("sg-123 has dependent ENIs")

    env.behaviour["environment.delete_security_group"] = in_use

    job, described = run_job(machines)

    assert described["status"] == "SUCCEEDED", described
    assert env.count("environment.delete_security_group") == 4
    assert [s for kind, s in machines[1].requested if kind == "retry"] == [10, 10, 10]
    assert asl.SECURITY_GROUP_RETRY.max_attempts == 50


def test_instances_are_polled_by_the_machine_until_gone(env, machines):
    env.behaviour["environment.instances_gone"] = lambda attempt, args: {"gone": attempt >= 3}

    job, described = run_job(machines)

    assert described["status"] == "SUCCEEDED", described
    assert env.count("environment.instances_gone") == 3
    assert [s for kind, s in machines[1].requested if kind == "wait"] == [10, 10, 10]
    calls = [name for name, _ in env.calls]
    assert calls.index("environment.delete_security_group") > max(
        i for i, n in enumerate(calls) if n == "environment.instances_gone"
    )


def test_instances_that_never_go_fail_the_job_after_the_poll_limit(env, machines):
    env.behaviour["environment.instances_gone"] = lambda attempt, args: {"gone": False}

    job, described = run_job(machines)

    assert described["status"] == "FAILED"
    assert env.count("environment.instances_gone") == delete_environment.INSTANCE_POLL_LIMIT
    stored = job_store.get(job.job_id)
    assert stored.job_status == 4
    assert stored.meta["error"].startswith("Layer0.InstancesNotGone: ")
    assert env.count("environment.delete_security_group") == 0


def test_deleting_a_running_job_stops_its_execution_and_deletes_it(env, machines):
    polling, release = threading.Event(), threading.Event()

    def not_yet(attempt, args):
        if attempt == 2:
            polling.set()
            release.wait(30)
        return {"gone": False}

    env.behaviour["environment.instances_gone"] = not_yet
    job = jobs.create(jobs.JobType.DeleteEnvironment, "envabc12345")
    execution = execution_arn(machines[0][1], job.job_id)
    assert polling.wait(30), "the machine never reached its poll loop"
    sfn = boto3.client("stepfunctions", region_name=REGION)
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"

    jobs.delete(job.job_id)
    release.set()

    described = wait_for_end(execution)
    assert described["status"] == "ABORTED"
    with pytest.raises(Exception) as missing:
        job_store.get(job.job_id)
    assert getattr(missing.value, "status", None) == 404
    assert tag_store.select_by_type_and_id("job", job.job_id) == []
    assert env.count("environment.delete_security_group") == 0


def test_deleting_a_finished_job_deletes_it(env, machines):
    job, described = run_job(machines)
    assert described["status"] == "SUCCEEDED"

    jobs.delete(job.job_id)

    assert jobs.list_all() == []
    assert tag_store.select_by_type_and_id("job", job.job_id) == []


def test_a_job_whose_execution_cannot_start_leaves_nothing_behind(machines):
    with pytest.raises(ClientError) as failed:
        # A job type with no machine yet (e.g. 3, delete load balancer).
        jobs.create(next(t for t in jobs.JobType if t not in registry.MACHINES), "lb1234567890")
    assert failed.value.response["Error"]["Code"] == "StateMachineDoesNotExist"
    assert jobs.list_all() == []
    assert tag_store.select_by_type("job") == []


def test_logs_are_the_execution_history(env, machines):
    env.behaviour["environment.delete_cluster"] = lambda attempt, args: (_ for _ in ()).throw(ValueError("boom"))
    job, _ = run_job(machines)

    (log,) = jobs.logs(job.job_id)

    assert log.name == "l0-l0-job-delete-environment"
    assert log.lines[0].split(" ")[1] == "ExecutionStarted"
    assert any(line.endswith("TaskStateEntered DeleteAutoScalingGroup") for line in log.lines)
    assert any("environment.delete_cluster" in line for line in log.lines)
    assert any("ValueError: boom" in line for line in log.lines)
    assert log.lines[-1].split(" ")[1] == "ExecutionFailed"
    assert jobs.logs(job.job_id, tail=2)[0].lines == log.lines[-2:]


def test_a_job_whose_execution_was_stopped_from_outside_reads_as_error(env, machines):
    polling, release = threading.Event(), threading.Event()

    def not_yet(attempt, args):
        if attempt == 1:
            polling.set()
            release.wait(30)
        return {"gone": False}

    env.behaviour["environment.instances_gone"] = not_yet
    job = jobs.create(jobs.JobType.DeleteEnvironment, "envabc12345")
    execution = execution_arn(machines[0][1], job.job_id)
    assert polling.wait(30)
    assert jobs.get(job.job_id).job_status == 2  # running: read as it is

    boto3.client("stepfunctions", region_name=REGION).stop_execution(
        executionArn=execution, error="Operator", cause="stopped in the console"
    )
    release.set()
    assert wait_for_end(execution)["status"] == "ABORTED"

    read = jobs.get(job.job_id)
    assert read.job_status == 4
    described = boto3.client("stepfunctions", region_name=REGION).describe_execution(executionArn=execution)
    # The execution's error and cause when Step Functions reports them (moto does not for a stop), else its status.
    expected = (
        jobs.describe_error(described.get("error"), described.get("cause"))
        if described.get("error")
        else "ExecutionAborted"
    )
    assert read.meta == {"error": expected}
    assert job_store.get(job.job_id).job_status == 4  # kept


@pytest.mark.parametrize("code", [error.removeprefix("Lambda.") for error in LAMBDA_TRANSIENT])
def test_a_step_whose_lambda_invoke_fails_once_with_a_transient_lambda_error_is_retried(
    env, machines, monkeypatch, code
):
    """Lambda answers the Invoke itself with an error (the function never ran): Step Functions names it
    `Lambda.<code>`, and the Task state's retry runs the step again."""
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.core.exceptions import JsonRESTError

    invoke = LambdaSimpleBackend.invoke
    failed = []

    def failing_once(self, function_name, qualifier, body, headers, response_headers):
        if not failed and json.loads(body).get("step") == "environment.delete_cluster":
            failed.append(code)
            error = JsonRESTError(code, "transient failure of the Lambda service")
            error.code = 429 if code == "TooManyRequestsException" else 500
            raise error
        return invoke(self, function_name, qualifier, body, headers, response_headers)

    monkeypatch.setattr(LambdaSimpleBackend, "invoke", failing_once)

    job, described = run_job(machines)

    assert described["status"] == "SUCCEEDED", described
    assert failed == [code]
    assert env.count("environment.delete_cluster") == 1  # the failed Invoke never ran it
    assert job_store.get(job.job_id).job_status == 3
    history = boto3.client("stepfunctions", region_name=REGION).get_execution_history(
        executionArn=described["executionArn"]
    )["events"]
    errors = [e["taskFailedEventDetails"]["error"] for e in history if e["type"] == "TaskFailed"]
    assert errors == [f"Lambda.{code}"]
