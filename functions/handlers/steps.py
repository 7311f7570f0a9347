"""A job's step function (one per job type on AWS): runs one step of a job state machine
(docs/architecture.md#the-job-path).

Event: `{"step": "<name>", "job_id": "<id>", "args": {...}}`; the answer is the step's JSON result.
Failures keep a class name Step Functions can match on (Retry/Catch `ErrorEquals` is the Lambda errorType):
AWS throttling becomes `Throttled`, an AWS 5xx `AwsServerError` (both retried); `Retryable` keeps its name;
anything else fails the job.
"""

from __future__ import annotations

from handlers.cold_start import long_lived_init

# The init runs away from the garbage collector, and what it makes is frozen (handlers/cold_start.py).
with long_lived_init():
    from aws_lambda_powertools import Logger

    from handlers.observability import domain_logs_through, inject_lambda_context, make_tracer
    from layer0.errors import AwsServerError, Throttled, is_aws_server_error, is_throttling
    from layer0.workflows import registry

    logger = Logger(service="layer0-steps")
    tracer = make_tracer("layer0-steps")
    domain_logs_through(logger)


@inject_lambda_context(logger)
# Step results and errors can carry Dockerrun environment values: neither goes to X-Ray.
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
def handler(event: dict, context) -> object:
    name = event.get("step", "")
    # Every line of the step, the domain's included, names its job and step.
    logger.thread_safe_append_keys(step=name, job_id=event.get("job_id", ""))
    try:
        return registry.run(name, event.get("args") or {})
    except Exception as error:
        if is_throttling(error):
            logger.warning("Throttled", extra={"error": str(error)})
            raise Throttled(str(error)) from error
        if is_aws_server_error(error):
            logger.warning("AWS server error", extra={"error": str(error)})
            raise AwsServerError(str(error)) from error
        raise
