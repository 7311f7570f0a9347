"""What the API function refuses before routing (docs/compatibility.md#http-conventions, docs/compatibility.md#auth).

These checks run before `app.resolve`, not as a Powertools middleware: Powertools runs its request validation
before any middleware, and that validation already parses `application/x-www-form-urlencoded` and
`multipart/form-data` bodies, which is what a cross-site form sends. Nothing here reads the body's content.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from layer0 import contract
from layer0.errors import ErrorCode, Layer0Error

logger = Logger(service="layer0-api")

# API Gateway accepts up to 10 MB; no Layer0 request comes near 1 MB (a Dockerrun is a few KB).
MAX_BODY_BYTES = 1024 * 1024
JSON_MEDIA_TYPE = "application/json"
# Requests that change something: a cross-site page must not be able to send them (docs/compatibility.md#auth).
STATE_CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ROUTE_NEEDS_TOKEN = {(route.method, route.path): route.auth for route in contract.ROUTES}

# Every answer of the API function, refusals included, tells browsers not to guess a content type.
NOSNIFF = ("X-Content-Type-Options", "nosniff")


def refusal(raw_event: dict[str, Any]) -> dict[str, Any] | None:
    """The proxy answer to a request refused before routing, or None when the request may go on."""
    event = APIGatewayProxyEvent(raw_event)
    if _ROUTE_NEEDS_TOKEN.get((event.http_method, event.resource)) and not _principal(event):
        # The gateway's authorizer let the request through without an identity: a misconfigured stage or a direct
        # invoke. The same answer as the gateway's 401.
        logger.warning("Request without the authorizer's principal", extra={"resource": event.resource})
        return _answer(401, contract.NOT_AUTHORIZED.content_type, contract.NOT_AUTHORIZED.body)
    refused = _refused(event)
    if refused is None:
        return None
    logger.info("Request refused", extra={"status": refused.status, "reason": refused.message})
    return _answer(refused.status, "application/json", json.dumps(refused.body()))


def _principal(event: APIGatewayProxyEvent) -> str:
    authorizer = (event.raw_event.get("requestContext") or {}).get("authorizer") or {}
    return str(authorizer.get("principalId") or "")


def _refused(event: APIGatewayProxyEvent) -> Layer0Error | None:
    site = (event.headers.get("sec-fetch-site") or "").lower()
    if event.http_method in STATE_CHANGING_METHODS and site == "cross-site":
        return Layer0Error(
            ErrorCode.UnexpectedError,
            "Cross-site requests may not change anything: the browser sent Sec-Fetch-Site: cross-site",
            status=403,
        )
    if not event.body:
        return None
    if _body_bytes(event) > MAX_BODY_BYTES:
        return Layer0Error(ErrorCode.InvalidJSON, f"The request body is over {MAX_BODY_BYTES} bytes", status=413)
    content_type = event.headers.get("content-type") or ""
    if content_type.split(";", 1)[0].strip().lower() != JSON_MEDIA_TYPE:
        sent = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
        return Layer0Error(
            ErrorCode.InvalidJSON, f"A request body must be {JSON_MEDIA_TYPE}; this one has {sent}", status=415
        )
    return None


def _body_bytes(event: APIGatewayProxyEvent) -> int:
    body = event.body or ""
    if not event.is_base64_encoded:
        return len(body.encode())
    try:
        return len(base64.b64decode(body))
    except (binascii.Error, ValueError):
        return len(body)


def _answer(status: int, content_type: str, body: str) -> dict[str, Any]:
    # Like the gateway's own answers (infra/api.py), a refusal allows any origin to read it.
    headers = {
        "Content-Type": [content_type],
        "Access-Control-Allow-Origin": [contract.CORS_ALLOW_ORIGIN],
        NOSNIFF[0]: [NOSNIFF[1]],
    }
    return {"statusCode": status, "multiValueHeaders": headers, "body": body, "isBase64Encoded": False}


def decode_json(text: str) -> Any:
    """The API's JSON body decoder: a body nested deeper than Python's recursion limit is bad input, not a bug."""
    try:
        return json.loads(text)
    except RecursionError:
        raise Layer0Error(ErrorCode.InvalidJSON, "Failed to decode request body: nested too deeply") from None
