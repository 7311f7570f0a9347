"""An in-process Lambda runtime for Step Functions Lambda tasks under moto (local mode and tests).

With the config ``{"lambda": {"use_docker": false}}`` moto serves Lambda from
``moto.awslambda_simple.models.LambdaSimpleBackend``, whose ``invoke`` echoes the payload. :func:`install`
replaces that one method: an invocation of a function registered with :func:`register` calls the Python
handler in this process, like a warm container, and returns what Lambda's Python runtime would:

- the JSON-encoded result (``Decimal`` as a number, like the real runtime);
- for an exception, the header ``x-amz-function-error: Unhandled`` and the body
  ``{"errorType": <class name>, "errorMessage": str(exc), "requestId", "stackTrace"}``, so that Step Functions
  ``Retry``/``Catch`` match on the class name (``"ErrorEquals": ["ThrottledError"]``).

Unregistered functions keep moto's behaviour (the echo). No Docker. The function must still exist in moto so
that names and ARNs resolve: :func:`create_function` creates a placeholder for a registered handler.

Works in process (``mock_aws``) and in a ``ThreadedMotoServer`` of the same interpreter: the handler runs on
the thread serving the ``Invoke`` request, so it may call other (moto) services itself.
"""

from __future__ import annotations

import decimal
import io
import json
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable
from typing import Any

from layer0 import aws

__all__ = [
    "Handler",
    "LambdaContext",
    "register",
    "unregister",
    "clear",
    "registered",
    "install",
    "uninstall",
    "is_installed",
    "create_function",
    "function_name_of",
]

Handler = Callable[[Any, Any], Any]

_lock = threading.RLock()
_handlers: dict[str, Handler] = {}
_original_invoke: Callable[..., Any] | None = None


def function_name_of(name_or_arn: str) -> str:
    """The bare function name of ``name``, ``name:qualifier``, ``account:function:name[:q]`` or a full ARN."""
    parts = name_or_arn.split(":")
    if "function" in parts[:-1]:
        return parts[parts.index("function") + 1]
    return parts[0]


def register(function_name: str, handler: Handler) -> None:
    """Route invocations of ``function_name`` (a name or an ARN) to ``handler(event, context)``."""
    with _lock:
        _handlers[function_name_of(function_name)] = handler


def unregister(function_name: str) -> None:
    """Forget the handler of ``function_name``; its invocations go back to moto's echo."""
    with _lock:
        _handlers.pop(function_name_of(function_name), None)


def clear() -> None:
    """Forget every registered handler."""
    with _lock:
        _handlers.clear()


def registered() -> dict[str, Handler]:
    """A copy of the registry, name -> handler."""
    with _lock:
        return dict(_handlers)


def _handler_for(function_name: str) -> Handler | None:
    with _lock:
        return _handlers.get(function_name_of(function_name))


class LambdaContext:
    """The part of the Lambda context object that handlers and Powertools use."""

    def __init__(
        self,
        function_name: str,
        invoked_function_arn: str,
        memory_limit_in_mb: int = 128,
        timeout_seconds: float = 3,
        function_version: str = "$LATEST",
        aws_request_id: str | None = None,
    ):
        self.function_name = function_name
        self.function_version = function_version
        self.invoked_function_arn = invoked_function_arn
        self.memory_limit_in_mb = int(memory_limit_in_mb)
        self.aws_request_id = aws_request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"{time.strftime('%Y/%m/%d')}/[{function_version}]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + float(timeout_seconds)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def __repr__(self) -> str:
        return f"LambdaContext(function_name={self.function_name!r}, aws_request_id={self.aws_request_id!r})"


def _decimal_default(value: Any) -> Any:
    # Lambda's Python runtime serialises Decimal (what boto's DynamoDB TypeDeserializer returns) as a number.
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _error_body(error_type: str, message: str, request_id: str, stack: list[str] | None = None) -> bytes:
    body = {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack or []}
    return json.dumps(body).encode("utf-8")


def _run_handler(handler: Handler, body: Any, context: LambdaContext, response_headers: dict) -> bytes:
    raw = body.decode("utf-8") if isinstance(body, bytes | bytearray) else (body or "")
    try:
        event = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        response_headers["x-amz-function-error"] = "Unhandled"
        return _error_body("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}", context.aws_request_id)
    try:
        result = handler(event, context)
    except Exception as exc:  # an unhandled error of the function, as Lambda reports it
        response_headers["x-amz-function-error"] = "Unhandled"
        stack = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
        return _error_body(type(exc).__name__, str(exc), context.aws_request_id, stack)
    try:
        return json.dumps(result, default=_decimal_default).encode("utf-8")
    except (TypeError, ValueError) as exc:
        response_headers["x-amz-function-error"] = "Unhandled"
        return _error_body("Runtime.MarshalError", f"Unable to marshal response: {exc}", context.aws_request_id)


def _invoke(
    self: Any,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: Any,
) -> str | bytes | None:
    """``LambdaSimpleBackend.invoke``, calling the registered Python handler of the function."""
    handler = _handler_for(function_name)
    if handler is None:
        assert _original_invoke is not None
        return _original_invoke(self, function_name, qualifier, body, headers, response_headers)
    # Like Lambda: the function must exist (raises moto's UnknownFunctionException -> 404 otherwise).
    fn = self.get_function(function_name, qualifier)
    context = LambdaContext(
        function_name=fn.function_name,
        invoked_function_arn=fn.function_arn if not qualifier else f"{fn.function_arn}:{qualifier}",
        memory_limit_in_mb=getattr(fn, "memory_size", 128) or 128,
        timeout_seconds=getattr(fn, "timeout", 3) or 3,
        function_version=str(getattr(fn, "version", "$LATEST") or "$LATEST"),
    )
    if hasattr(headers, "get") and headers.get("X-Amz-Invocation-Type") == "DryRun":
        return b""  # validated, not run
    # Each function paces its AWS calls with token buckets of its own, as its containers would on AWS
    # (docs/architecture.md#local-mode): the steps and the scaler never draw on the API's.
    with aws.function_scope(fn.function_name):
        return _run_handler(handler, body, context, response_headers)


def install() -> None:
    """Replace ``LambdaSimpleBackend.invoke`` with the in-process runtime. Idempotent.

    Call it once, before the first execution that invokes a Lambda task; handlers can be registered before or
    after. It changes the class, so every account and region of the (in-process or threaded-server) moto is
    covered.
    """
    global _original_invoke
    from moto.awslambda_simple.models import LambdaSimpleBackend

    with _lock:
        if _original_invoke is not None:
            return
        _original_invoke = LambdaSimpleBackend.__dict__["invoke"]
        LambdaSimpleBackend.invoke = _invoke  # type: ignore[method-assign]  # replacing moto's method is the point


def uninstall() -> None:
    """Give ``LambdaSimpleBackend.invoke`` back to moto. Idempotent. Registered handlers are kept."""
    global _original_invoke
    from moto.awslambda_simple.models import LambdaSimpleBackend

    with _lock:
        if _original_invoke is None:
            return
        LambdaSimpleBackend.invoke = _original_invoke  # type: ignore[method-assign]  # moto's own method back
        _original_invoke = None


def is_installed() -> bool:
    return _original_invoke is not None


def _placeholder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "index.py",
            "def handler(event, context):\n"
            "    raise RuntimeError('placeholder: served by local.lambda_runtime in process')\n",
        )
    return buffer.getvalue()


def create_function(
    lambda_client: Any,
    name: str,
    role_arn: str,
    *,
    timeout: int = 30,
    memory_size: int = 256,
    environment: dict[str, str] | None = None,
) -> str:
    """Create the placeholder moto function ``name`` for a registered handler; returns its ARN.

    ``role_arn`` must name an existing IAM role of the same account: moto checks it. Idempotent: if the
    function exists already, its ARN is returned.
    """
    try:
        return lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    except lambda_client.exceptions.ResourceNotFoundException:
        pass
    kwargs: dict[str, Any] = {}
    if environment:
        kwargs["Environment"] = {"Variables": dict(environment)}
    response = lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role_arn,
        Handler="index.handler",
        Code={"ZipFile": _placeholder_zip()},
        Timeout=timeout,
        MemorySize=memory_size,
        Publish=False,
        **kwargs,
    )
    return response["FunctionArn"]
