"""How failures become Layer0 error bodies (docs/compatibility.md#errors). A 500 here means a bug, never bad input."""

from __future__ import annotations

import base64
import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.types import (
    OpenAPIResponse,
    OpenAPIResponseContentModel,
    OpenAPIResponseContentSchema,
)
from botocore.exceptions import BotoCoreError, ClientError

from layer0.errors import ErrorCode, Layer0Error, from_aws
from layer0.models import ServerError

logger = Logger(service="layer0-api")

_MISSING = ("missing", "string_too_short")


def error_response(error: Layer0Error) -> Response:
    return Response(status_code=error.status, content_type="application/json", body=json.dumps(error.body()))


# The 401 of a missing or wrong token (layer0.contract NOT_AUTHORIZED): API Gateway's own answer, and the API
# function's when a request reaches it without the authorizer's identity (handlers/api/edge.py).
NOT_AUTHORIZED: dict[int, OpenAPIResponse] = {
    401: {
        "description": "No token, or a wrong one: `401: Not Authorized`",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}

# What handlers/api/edge.py refuses before routing, on any route behind the token.
EDGE_REFUSALS: dict[int, str] = {
    403: "A request that changes something, sent by a browser from another site (`Sec-Fetch-Site: cross-site`)",
    413: "A request body over 1 MB (code 1)",
    415: "A request body that is not `application/json` (code 1)",
}


def documented(*statuses: int) -> dict[int, OpenAPIResponse]:
    """OpenAPI `responses` entries for the error statuses a route behind the token can answer, and its 401."""
    content: dict[str, OpenAPIResponseContentSchema | OpenAPIResponseContentModel]
    content = {"application/json": {"model": ServerError}}
    refusals: dict[int, OpenAPIResponse] = {
        status: {"description": description, "content": content} for status, description in EDGE_REFUSALS.items()
    }
    errors: dict[int, OpenAPIResponse] = {
        status: {"description": "Layer0 error", "content": content} for status in statuses
    }
    return {**NOT_AUTHORIZED, **refusals, **errors}


def ok_or(*statuses: int) -> dict[int, OpenAPIResponse]:
    """`documented(...)` and the 200 whose body is the route's return annotation.

    Powertools documents the return annotation by itself only when a route gives no `responses` at all.
    """
    return {200: {"description": "Success"}, **documented(*statuses)}


def from_validation(errors: list[dict]) -> Layer0Error:
    """Validation failures are Layer0 400s: code 19 for a missing parameter, code 1 for the rest."""
    first: dict[str, Any] = errors[0] if errors else {"type": "json_invalid", "loc": ("body",), "msg": "invalid body"}
    if first.get("type") == "json_invalid":
        return Layer0Error(
            ErrorCode.InvalidJSON, f"Failed to decode request body: {first.get('ctx', {}).get('error', 'invalid JSON')}"
        )
    where = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path", "header")]
    field = ".".join(where)
    if first.get("type") in _MISSING and field:
        return Layer0Error(ErrorCode.MissingParameter, f"Parameter '{field}' is required")
    if first.get("type") == "missing":
        return Layer0Error(ErrorCode.InvalidJSON, "A JSON request body is required")
    detail = first.get("msg", "invalid value")
    if field:
        return Layer0Error(ErrorCode.InvalidJSON, f"Invalid value for '{field}': {detail}")
    return Layer0Error(ErrorCode.InvalidJSON, f"Invalid request body: {detail}")


def _body_is_text(event) -> bool:
    if not event.body or not event.is_base64_encoded:
        return True
    try:
        base64.b64decode(event.body).decode()
    except ValueError:  # not base64, or not UTF-8
        return False
    return True


def _request_id(app: APIGatewayRestResolver) -> str:
    """API Gateway's request id: the logger's correlation id, and the stage's access log's `requestId`."""
    request_context = app.current_event.raw_event.get("requestContext") or {}
    return str(request_context.get("requestId") or app.lambda_context.aws_request_id)


def register(app: APIGatewayRestResolver) -> None:
    @app.exception_handler(Layer0Error)
    def _layer0(error: Layer0Error) -> Response:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    def _validation(error: RequestValidationError) -> Response:
        return error_response(from_validation(list(error.errors())))

    @app.exception_handler([ClientError, BotoCoreError])
    def _aws(error: Exception) -> Response:
        # The detail (AWS's message: account ids, role ARNs, parameters) stays in this log line, found by request id.
        translated = from_aws(error, request_id=_request_id(app))
        logger.warning("AWS call failed", extra={"error": str(error), "error_code": int(translated.code)})
        return error_response(translated)

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        logger.exception("Unexpected error")
        message = f"Unexpected error: {type(error).__name__} (request id {_request_id(app)})"
        return error_response(Layer0Error(ErrorCode.UnexpectedError, message))

    @app.exception_handler(UnicodeDecodeError)
    def _undecodable(error: UnicodeDecodeError) -> Response:
        # Powertools decodes a base64-encoded body as UTF-8 before its JSON validation, which only catches JSON errors.
        if _body_is_text(app.current_event):
            return _unexpected(error)
        message = f"Failed to decode request body: not UTF-8 text ({error.reason})"
        return error_response(Layer0Error(ErrorCode.InvalidJSON, message))

    @app.not_found
    def _not_found(_error: Exception) -> Response:
        event = app.current_event
        return error_response(
            Layer0Error(ErrorCode.UnexpectedError, f"No route for {event.http_method} {event.path}", status=404)
        )
