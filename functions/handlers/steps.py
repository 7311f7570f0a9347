"""The workflow-step function: runs one named step of a job state machine (DESIGN §4).

Event: `{"step": "<name>", "job_id": "<id>", "args": {...}}`; the answer is the step's JSON result.
Failures keep a class name Step Functions can match on (Retry/Catch `ErrorEquals` is the Lambda errorType):
AWS throttling becomes `Throttled`, an AWS 5xx `AwsServerError` (both retried); `Retryable` keeps its name;
anything else fails the job.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Tracer
from botocore.exceptions import ClientError

from layer0 import steps
from layer0.errors import THROTTLING_ERROR_CODES, ErrorCode, Layer0Error

logger = Logger(service="layer0-steps")
tracer = Tracer(service="layer0-steps")


def _throttling(error: Exception) -> bool:
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code") in THROTTLING_ERROR_CODES
    return isinstance(error, Layer0Error) and error.code == ErrorCode.Throttled


def _aws_server_error(error: Exception) -> bool:
    return isinstance(error, ClientError) and error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context) -> object:
    name = event.get("step", "")
    job_id = event.get("job_id", "")
    logger.append_keys(step=name, job_id=job_id)
    try:
        return steps.run(name, job_id, event.get("args") or {})
    except Exception as error:
        if _throttling(error):
            logger.warning("Throttled", extra={"error": str(error)})
            raise steps.Throttled(str(error)) from error
        if _aws_server_error(error):
            logger.warning("AWS server error", extra={"error": str(error)})
            raise steps.AwsServerError(str(error)) from error
        raise
