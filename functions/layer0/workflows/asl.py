"""The building blocks of the job state machines (JSONPath ASL), as plain data.

Every step of a job is a Lambda task of its job type's step function (handler functions/handlers/steps.py; on AWS
one function per job type, docs/architecture.md#the-job-path), whose payload is `{"step": <name>, "job_id": ...,
"args": {...}}`. A workflow module registers its step functions by reference on its `Workflow` (`@WORKFLOW.step`),
and builds its Task states from the same references (`WORKFLOW.task(fn)`), so a step's name is written once:
`<namespace>.<function name>`. The handler calls `fn(**args)`.

- The function's ARN is the placeholder `${StepFunctionArn}`: CDK fills it with `definition_substitutions`, local
  mode and the tests with `render(...)`.
- Every Task state has `TimeoutSeconds` and retries throttling and transient Lambda errors with backoff;
  `Retryable` ("not yet", layer0.errors) is retried too, with a per-step policy.
- Waiting is done by the machine (Wait -> Task -> Choice), never by a sleep inside a Lambda.

This module imports nothing from aws_cdk or the domain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from layer0.errors import AwsServerError, Retryable, Throttled

# The placeholder for the step function's ARN (CloudFormation DefinitionSubstitutions syntax).
STEP_FUNCTION_ARN_KEY = "StepFunctionArn"
STEP_FUNCTION_ARN = f"${{{STEP_FUNCTION_ARN_KEY}}}"
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"

# The step function's own timeout; a task waits a little longer before it calls the attempt lost.
STEP_FUNCTION_TIMEOUT_SECONDS = 60
TASK_TIMEOUT_SECONDS = 90

# Lambda's own transient failures of an Invoke, as Step Functions names them (the function never ran, or its answer
# was lost): every step is idempotent, so running it again is safe.
LAMBDA_TRANSIENT_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.Unknown",
)
# Errors worth another attempt: AWS throttling or 5xx surviving the client's retries (the step handler raises
# `Throttled` or `AwsServerError`), Lambda's transient failures, and an attempt that timed out.
TRANSIENT_ERRORS = (Throttled.__name__, AwsServerError.__name__, *LAMBDA_TRANSIENT_ERRORS, "States.Timeout")
TRANSIENT_RETRY = {"ErrorEquals": list(TRANSIENT_ERRORS), "IntervalSeconds": 2, "BackoffRate": 2.0, "MaxAttempts": 6}


@dataclass(frozen=True)
class RetryPolicy:
    """How a step retries `Retryable` ("this cannot finish yet")."""

    interval_seconds: int = 10
    max_attempts: int = 6
    backoff_rate: float = 1.5
    max_delay_seconds: int | None = None  # caps the backoff's growth (ASL MaxDelaySeconds)

    def asl(self) -> dict:
        retrier: dict[str, Any] = {
            "ErrorEquals": [Retryable.__name__],
            "IntervalSeconds": self.interval_seconds,
            "BackoffRate": self.backoff_rate,
            "MaxAttempts": self.max_attempts,
        }
        if self.max_delay_seconds is not None:
            retrier["MaxDelaySeconds"] = self.max_delay_seconds
        return retrier


DEFAULT_RETRYABLE = RetryPolicy()
# A security group is in use until the network interfaces of what used it detach: 50 tries, 10 s apart
# (docs/compatibility.md#load-balancers).
SECURITY_GROUP_RETRY = RetryPolicy(interval_seconds=10, max_attempts=50, backoff_rate=1.0)

StepFunction = Callable[..., Any]
F = TypeVar("F", bound=StepFunction)


class Workflow:
    """The steps of one workflow, each named `<namespace>.<function name>`: the name its Task states send."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.steps: dict[str, StepFunction] = {}

    def step(self, function: F) -> F:
        """Register `function` as a step (usable as a decorator); returns it unchanged."""
        name = f"{self.namespace}.{function.__name__}"
        if self.steps.get(name, function) is not function:
            raise ValueError(f"Two steps are named {name}")
        self.steps[name] = function
        return function

    def name_of(self, function: StepFunction) -> str:
        for name, registered in self.steps.items():
            if registered is function:
                return name
        raise KeyError(f"{function.__qualname__} is not a step of workflow {self.namespace}")

    def task(
        self,
        function: StepFunction,
        *,
        args: dict | None = None,
        result_path: str | None = None,
        next_state: str | None = None,
        retryable: RetryPolicy | None = DEFAULT_RETRYABLE,
        timeout_seconds: int = TASK_TIMEOUT_SECONDS,
    ) -> dict:
        """A Task state that runs the registered step `function`.

        `args` is a Parameters-style dict (keys ending in `.$` are JSONPaths) that becomes the step's keyword
        arguments. The step's JSON result is placed at `result_path` (None: discarded, the state's input passes
        through).
        """
        step = self.name_of(function)
        payload: dict[str, Any] = {"step": step, "job_id.$": "$.job_id", "args": args or {}}
        state: dict[str, Any] = {
            "Type": "Task",
            "Comment": f"workflow step {step}",
            "Resource": LAMBDA_INVOKE,
            "Parameters": {"FunctionName": STEP_FUNCTION_ARN, "Payload": payload},
            "TimeoutSeconds": timeout_seconds,
            "Retry": [dict(TRANSIENT_RETRY)] + ([retryable.asl()] if retryable else []),
        }
        if result_path is None:
            state["ResultPath"] = None
        else:
            state["ResultSelector"] = {"value.$": "$.Payload"}
            state["ResultPath"] = result_path
        if next_state is None:
            state["End"] = True
        else:
            state["Next"] = next_state
        return state


def bounded_poll(
    subject: str,
    *,
    check: Callable[[str], dict],
    decide: str,
    done_when: dict,
    done: str,
    gave_up: str,
    gave_up_error: str,
    gave_up_cause: str,
    limit: int,
    seconds: int,
    slow_after: int | None = None,
    slow_seconds: int = 60,
) -> dict:
    """The states of a poll that waits, checks, counts its checks, and ends in `done` (Succeed) once `done_when` (a
    Choice rule, without its Next) holds after a check, or in `gave_up` (Fail) after `limit` checks; the check
    itself raises to end the job in error. `check(next_state)` builds the check's Task state.

    Its entry is `Start<subject>Polls`; then `WaitFor<subject>` (`seconds`), `Check<subject>`, `Count<subject>Poll`
    and the Choice `decide`. With `slow_after`, the Choice `<subject>PollPace` waits `slow_seconds` instead
    (`WaitLonger`) once that many checks are done, to keep a long wait's execution history short.
    """
    wait, count = f"WaitFor{subject}", f"Count{subject}Poll"
    first = f"{subject}PollPace" if slow_after is not None else wait
    states: dict[str, dict] = {
        f"Start{subject}Polls": {"Type": "Pass", "Result": {"count": 0}, "ResultPath": "$.polls", "Next": first},
    }
    if slow_after is not None:
        states[first] = {
            "Type": "Choice",
            "Choices": [{"Variable": "$.polls.count", "NumericGreaterThanEquals": slow_after, "Next": "WaitLonger"}],
            "Default": wait,
        }
        states["WaitLonger"] = {"Type": "Wait", "Seconds": slow_seconds, "Next": f"Check{subject}"}
    states[wait] = {"Type": "Wait", "Seconds": seconds, "Next": f"Check{subject}"}
    states[f"Check{subject}"] = check(count)
    states[count] = {
        "Type": "Pass",
        "Parameters": {"count.$": "States.MathAdd($.polls.count, 1)"},
        "ResultPath": "$.polls",
        "Next": decide,
    }
    states[decide] = {
        "Type": "Choice",
        "Choices": [
            {**done_when, "Next": done},
            {"Variable": "$.polls.count", "NumericGreaterThanEquals": limit, "Next": gave_up},
        ],
        "Default": first,
    }
    states[done] = {"Type": "Succeed"}
    states[gave_up] = {"Type": "Fail", "Error": gave_up_error, "Cause": gave_up_cause}
    return states
