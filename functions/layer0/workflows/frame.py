"""The frame every job state machine shares, and its two steps (docs/architecture.md#the-job-path).

    SetInProgress -> Body (the job type's states, in a one-branch Parallel) -> SetCompleted
                         \\-- Catch States.ALL (ResultPath $.error) --> SetError -> Failed

The machine sets the job's status itself, so a job's status never depends on the API staying up. The execution
input is `{"job_id": ..., "request": ...}`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from layer0 import contract, jobs
from layer0.contract import JobStatus, JobType
from layer0.errors import ErrorCode, Layer0Error
from layer0.workflows import asl

WORKFLOW = asl.Workflow("job")


@WORKFLOW.step
def set_status(job_id: str, status: int) -> dict:
    job_status = JobStatus(int(status))
    try:
        jobs.set_status(job_id, job_status)
    except Layer0Error as error:
        if error.code != ErrorCode.JobDoesNotExist:
            raise
        # The job was deleted (DELETE /job/{id}) while its execution finished: nothing to mark.
        return {"job_id": job_id, "job_status": None}
    return {"job_id": job_id, "job_status": int(job_status)}


@WORKFLOW.step
def set_error(job_id: str, error: object = None) -> dict:
    """`error` is the Catch output `{"Error": ..., "Cause": ...}` (either may be missing)."""
    if isinstance(error, dict):
        name, cause = error.get("Error") or "", error.get("Cause") or ""
    else:
        name, cause = str(error or ""), ""
    try:
        reason = jobs.set_error(job_id, name, cause)
    except Layer0Error as failure:
        if failure.code != ErrorCode.JobDoesNotExist:
            raise
        return {"job_id": job_id, "job_status": None}
    return {"job_id": job_id, "job_status": int(JobStatus.Error), "error": reason}


_JOB_ID = {"job_id.$": "$.job_id"}


def job_definition(body: dict, *, timeout_seconds: int, comment: str = "") -> dict:
    """The whole machine around `body`: status in progress, the body, status completed; a Catch to error."""
    return {
        "Comment": comment or "Layer0 job",
        "StartAt": "SetInProgress",
        "TimeoutSeconds": timeout_seconds,
        "States": {
            "SetInProgress": WORKFLOW.task(
                set_status, args={**_JOB_ID, "status": int(JobStatus.InProgress)}, next_state="Body", retryable=None
            ),
            "Body": {
                "Type": "Parallel",
                "Comment": "the job type's steps; any failure that outlives its retries lands in SetError",
                "Branches": [body],
                "ResultPath": None,
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "SetError"}],
                "Next": "SetCompleted",
            },
            "SetCompleted": WORKFLOW.task(
                set_status, args={**_JOB_ID, "status": int(JobStatus.Completed)}, retryable=None
            ),
            "SetError": WORKFLOW.task(
                set_error,
                # The whole Catch output: its Cause can be missing (a path to it would then fail the state).
                args={**_JOB_ID, "error.$": "$.error"},
                next_state="Failed",
                retryable=None,
            ),
            "Failed": {
                "Type": "Fail",
                "Error": "Layer0.JobFailed",
                "Cause": "A step of the job failed; the job's meta.error holds the reason",
            },
        },
    }


@dataclass(frozen=True)
class JobMachine:
    """One job type's state machine: `l0-<prefix>-job-<slug>`, the job type's states (`body`) in the frame."""

    job_type: JobType
    body: dict  # {"StartAt": ..., "States": {...}}: runs on the execution input, may add keys to it
    timeout_seconds: int
    description: str = ""

    @property
    def slug(self) -> str:
        return self.job_type.slug

    def name(self, prefix: str) -> str:
        return contract.job_machine_name(prefix, self.job_type)

    def definition(self) -> dict:
        return job_definition(self.body, timeout_seconds=self.timeout_seconds, comment=self.description)

    def definition_string(self) -> str:
        """The definition as CDK puts it in the template (`DefinitionString`), the function's ARN a placeholder."""
        return json.dumps(self.definition(), indent=None, sort_keys=False)

    def render(self, step_function_arn: str) -> str:
        """The definition with the step function's ARN filled in, as CloudFormation's substitution does it."""
        return self.definition_string().replace(asl.STEP_FUNCTION_ARN, step_function_arn)
