"""Layer0 errors: the codes of docs/compatibility.md#errors and the HTTP status each one answers with."""

from __future__ import annotations

from enum import IntEnum

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as AwsConnectionError
from botocore.retries.standard import ThrottledRetryableChecker


class ErrorCode(IntEnum):
    InvalidJSON = 1
    InvalidCertificateID = 2
    InvalidCertificateName = 3
    InvalidDeployID = 4
    InvalidDeployName = 5
    InvalidEnvironmentID = 6
    InvalidEnvironmentName = 7
    InvalidJobID = 8
    InvalidJobName = 9
    InvalidLoadBalancerID = 10
    InvalidLoadBalancerName = 11
    InvalidServiceID = 12
    InvalidServiceName = 13
    InvalidTaskID = 14
    InvalidTaskName = 15
    InvalidEntityType = 16
    InvalidTagKey = 17
    InvalidTagValue = 18
    MissingParameter = 19
    Throttled = 20
    UnexpectedError = 21
    FailedTagging = 22
    DeployDoesNotExist = 23
    EnvironmentDoesNotExist = 24
    JobDoesNotExist = 25
    LoadBalancerDoesNotExist = 26
    LoadBalancerAttributeNotFound = 27
    ServiceDoesNotExist = 28
    TaskDoesNotExist = 29
    # Ours (docs/compatibility.md#idempotency-key): an `Idempotency-Key` reused with another body, and one whose
    # first request still runs.
    IdempotencyKeyReused = 30
    IdempotencyKeyInProgress = 31
    # Ours (docs/compatibility.md#secrets): `DELETE /secret/{name}` of a secret that does not exist.
    SecretDoesNotExist = 32


# docs/compatibility.md#errors, except that duplicate service and load-balancer names are the caller's fault: 400, not
# 500
# (docs/compatibility.md#differences-on-purpose-and-why fixes that bug of the original).
_STATUS: dict[ErrorCode, int] = {
    ErrorCode.InvalidJSON: 400,
    ErrorCode.InvalidCertificateID: 400,
    ErrorCode.InvalidDeployID: 400,
    ErrorCode.InvalidEnvironmentID: 400,
    ErrorCode.InvalidLoadBalancerName: 400,
    ErrorCode.InvalidServiceID: 400,
    ErrorCode.InvalidServiceName: 400,
    ErrorCode.InvalidEntityType: 400,
    ErrorCode.InvalidTagKey: 400,
    ErrorCode.InvalidTagValue: 400,
    ErrorCode.MissingParameter: 400,
    ErrorCode.Throttled: 503,
    ErrorCode.DeployDoesNotExist: 404,
    ErrorCode.EnvironmentDoesNotExist: 404,
    ErrorCode.JobDoesNotExist: 404,
    ErrorCode.LoadBalancerDoesNotExist: 404,
    ErrorCode.ServiceDoesNotExist: 404,
    ErrorCode.TaskDoesNotExist: 404,
    ErrorCode.IdempotencyKeyReused: 409,
    ErrorCode.IdempotencyKeyInProgress: 409,
    ErrorCode.SecretDoesNotExist: 404,
}

# The codes botocore's standard retries treat as throttling: a private class attribute, which botocore-stubs omits.
THROTTLING_ERROR_CODES = frozenset(ThrottledRetryableChecker._THROTTLED_ERROR_CODES)  # type: ignore[attr-defined]


class Layer0Error(Exception):
    """An error a client sees as `{"error_code": N, "message": "..."}`."""

    def __init__(self, code: ErrorCode, message: str, status: int | None = None):
        super().__init__(message)
        self.code = ErrorCode(code)
        self.message = message
        self.status = status if status is not None else _STATUS.get(self.code, 500)

    def body(self) -> dict:
        return {"error_code": int(self.code), "message": self.message}


class Retryable(Exception):
    """A workflow step that cannot finish yet (e.g. a security group whose ENIs are still attached).

    The state machine retries it with backoff; it is never an HTTP answer.
    """


class Throttled(Exception):
    """AWS throttled a step's call beyond the client layer's retries. The state machine retries it with backoff."""


class AwsServerError(Exception):
    """AWS answered a step's call with a 5xx beyond the client layer's retries: transient, and every step is
    idempotent, so the state machine retries it with backoff like throttling."""


def aws_error_code(error: ClientError) -> str:
    """The AWS error code of a failed call (`""` when AWS gave none)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def aws_error_message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", ""))


def is_throttling(error: Exception) -> bool:
    if isinstance(error, ClientError):
        return aws_error_code(error) in THROTTLING_ERROR_CODES
    return isinstance(error, Layer0Error) and error.code == ErrorCode.Throttled


def is_aws_server_error(error: Exception) -> bool:
    return isinstance(error, ClientError) and error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500


def missing_parameter(name: str) -> Layer0Error:
    return Layer0Error(ErrorCode.MissingParameter, f"Parameter '{name}' is required")


def from_aws(error: Exception, request_id: str = "") -> Layer0Error:
    """Translate an AWS failure that survived the client layer's retries (docs/compatibility.md#errors, step 4).

    Throttling (503, code 20) and AWS's own server faults (500, code 21) keep AWS's message: it is AWS's generic
    text, and it tells the caller that a retry may work. Any other failure (AccessDenied, a validation error on a
    call Layer0 built, a botocore failure) is a Layer0 bug or a misconfiguration, and AWS's message can name accounts,
    roles and request parameters: the answer is a generic message naming `request_id`, and the caller logs the
    detail under that id.
    """
    if isinstance(error, ClientError):
        aws_code = aws_error_code(error) or "Unknown"
        message = f"AWS Error: {aws_error_message(error)} (code '{aws_code}')"
        if aws_code in THROTTLING_ERROR_CODES:
            return Layer0Error(ErrorCode.Throttled, message)
        if is_aws_server_error(error):
            return Layer0Error(ErrorCode.UnexpectedError, message)
        return Layer0Error(
            ErrorCode.UnexpectedError, f"AWS refused a call Layer0 made (code '{aws_code}'){_logged(request_id)}"
        )
    if isinstance(error, (AwsConnectionError, HTTPClientError)):
        return Layer0Error(
            ErrorCode.UnexpectedError,
            f"AWS could not be reached ({type(error).__name__}){_logged(request_id)}",
            status=503,
        )
    return Layer0Error(ErrorCode.UnexpectedError, f"A call to AWS failed ({type(error).__name__}){_logged(request_id)}")


def _logged(request_id: str) -> str:
    where = f" under request id {request_id}" if request_id else ""
    return f". The detail is in the API function's log{where}."
