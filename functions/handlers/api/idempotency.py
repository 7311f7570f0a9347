"""`Idempotency-Key` on the create routes (docs/compatibility.md#idempotency-key), with Powertools Idempotency.

`honour_idempotency_key`, a middleware registered once for every route, acts on the routes `layer0.contract.ROUTES`
marks idempotent when the request carries the header; any other request goes through untouched. A key's scope is the
token holder and the route (method and path, path parameters filled in), and its record lasts 24 hours. A replay
answers with the first answer's status, body, `Content-Type`, `X-JobID` and `Location`, and does nothing else. 5xx
answers are not stored, so that a retry after a server error runs again.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from layer0 import aws, contract, settings
from layer0.errors import ErrorCode, Layer0Error
from layer0.models import ServerError

if TYPE_CHECKING:  # loaded for the OpenAPI document only (docs/architecture.md#cold-start)
    from aws_lambda_powertools.event_handler.openapi import models as openapi
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

logger = Logger(service="layer0-api")

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
EXPIRES_AFTER_SECONDS = 24 * 60 * 60
# What a replay gives back besides the status and the body.
REPLAYED_HEADERS = ("Content-Type", "X-JobID", "Location")
# Powertools prefixes every record's id with this: `api#<hash>`.
KEY_PREFIX = "api"

IDEMPOTENT_ROUTES = frozenset((route.method, route.path) for route in contract.ROUTES if route.idempotent)


@functools.cache
def config() -> IdempotencyConfig:
    """What Powertools hashes: `key`, `route` and `holder` name the record (`key &&`: no key, no record), and `body`
    must be the first request's. Powertools' Idempotency loads with the first request that carries a key
    (docs/architecture.md#cold-start)."""
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

    return IdempotencyConfig(
        event_key_jmespath="key && [key, route, holder]",
        payload_validation_jmespath="body",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=EXPIRES_AFTER_SECONDS,
        hash_function="sha256",
    )


class _NotStored(Exception):
    """Carries a 5xx answer out of the idempotent function, so that Powertools deletes the in-progress record."""

    def __init__(self, answer: dict):
        super().__init__(answer["status"])
        self.answer = answer


def _run(request: dict, answer: Callable[[], dict]) -> dict:
    """`request` is what Powertools hashes; `answer` runs the route and gives the answer to store."""
    return answer()


@functools.cache
def _idempotent(table_name: str, client: aws.Client) -> Callable[..., dict]:
    """`_run` made idempotent on `table_name`, through the client layer's DynamoDB client.

    Made on first use, not at import: the table is a setting and the client is made lazily.
    """
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, idempotent_function

    persistence = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=client)
    decorate = idempotent_function(
        data_keyword_argument="request", persistence_store=persistence, config=config(), key_prefix=KEY_PREFIX
    )
    return decorate(_run)


def validate_key(key: str) -> None:
    """1 to 255 characters of printable ASCII, not only spaces: anything else is 400 code 1."""
    if not (0 < len(key) <= MAX_KEY_LENGTH and all(" " <= char <= "~" for char in key) and key.strip()):
        raise Layer0Error(
            ErrorCode.InvalidJSON,
            f"Header '{HEADER}' must be 1 to {MAX_KEY_LENGTH} printable ASCII characters",
        )


def _holder(event) -> str:
    """The token holder: the authorizer's principal, and a hash of the token (never the token itself)."""
    principal = event.request_context.authorizer.principal_id
    header = event.get_header_value("Authorization", default_value="", case_sensitive=False) or ""
    # The token as `layer0.auth.is_authorized` reads it, so that `basic` and `Basic` are one holder.
    token = header.strip().partition(" ")[2].strip()
    return f"{principal} {hashlib.sha256(token.encode()).hexdigest()}"


def _route(event) -> str:
    """The method and the resource path with its parameters filled in: `PUT /service/X/scale`."""
    path = event.resource
    for name, value in (event.path_parameters or {}).items():
        path = path.replace("{" + name + "}", value)
    return f"{event.http_method} {path}"


def _body(event) -> Any:
    """The request body, parsed when it is JSON, so that spacing and key order do not make another body."""
    try:
        raw = event.decoded_body
        return json.loads(raw) if raw else None
    except ValueError:  # not base64, not UTF-8 or not JSON: the route answers it with a 400
        return event.body


def _stored(app: APIGatewayRestResolver, response: Response) -> dict:
    body = response.body
    if isinstance(body, bytes):
        body = body.decode()
    elif body is not None and not isinstance(body, str):
        body = app._serializer(body)  # what Powertools' response builder would do
    headers = {name: response.headers[name] for name in REPLAYED_HEADERS if name in response.headers}
    return {"status": response.status_code, "body": body, "headers": headers}


def _response(answer: dict) -> Response:
    return Response(status_code=answer["status"], body=answer["body"], headers=answer["headers"])


def honour_idempotency_key(
    app: APIGatewayRestResolver, next_middleware: Callable[[APIGatewayRestResolver], Response]
) -> Response:
    event = app.current_event
    if (event.http_method, event.resource) not in IDEMPOTENT_ROUTES:
        return next_middleware(app)
    key = event.get_header_value(HEADER, case_sensitive=False)
    if key is None:
        return next_middleware(app)
    validate_key(key)
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )

    first: list[dict] = []

    def answer() -> dict:
        try:
            response = next_middleware(app)
        except Exception as error:
            # Answer as the app's exception handlers do, so that 4xx answers are stored too.
            handle = app.exception_handler_manager.lookup_exception_handler(type(error))
            if handle is None:
                raise
            response = handle(error)
        stored = _stored(app, response)
        if response.status_code >= 500:
            raise _NotStored(stored)
        first.append(stored)
        return stored

    request = {"key": key, "route": _route(event), "holder": _holder(event), "body": _body(event)}
    # The in-progress record expires with the invocation, so that a timed-out request does not block its key.
    config().register_lambda_context(app.lambda_context)
    try:
        return _response(
            _idempotent(settings.get().idempotency_table, aws.client("dynamodb"))(request=request, answer=answer)
        )
    except _NotStored as not_stored:
        return _response(not_stored.answer)
    except IdempotencyValidationError:
        raise Layer0Error(
            ErrorCode.IdempotencyKeyReused,
            f"This {HEADER} was already used on this route with another request body: use a new key",
        ) from None
    except IdempotencyAlreadyInProgressError:
        raise Layer0Error(
            ErrorCode.IdempotencyKeyInProgress,
            f"The first request with this {HEADER} is still running: retry later to get its answer",
        ) from None
    except IdempotencyPersistenceLayerError as error:
        if first:
            # The route ran but its answer could not be stored: give it rather than hide the work done.
            logger.warning("Idempotency record not saved", extra={"error": str(error.__cause__)})
            return _response(first[0])
        if isinstance(error.__cause__, Exception):
            raise error.__cause__ from None  # a DynamoDB failure: the app's handlers answer it (503 when throttled)
        raise


# --- OpenAPI ---------------------------------------------------------------------------------------------------------

HEADER_DESCRIPTION = (
    "Optional. Within 24 hours, a request with the same key from the same token holder on the same route (path "
    "parameters included) answers with the first answer (status, body, `X-JobID`, `Location`) and does nothing else. "
    f"The same key with another body is 409 (code {int(ErrorCode.IdempotencyKeyReused)}); while the first request "
    f"still runs, 409 (code {int(ErrorCode.IdempotencyKeyInProgress)}). 5xx answers are not kept. "
    f"1 to {MAX_KEY_LENGTH} printable ASCII characters."
)


def _parameter() -> openapi.Parameter:
    from aws_lambda_powertools.event_handler.openapi import models as openapi

    return openapi.Parameter.model_validate(
        {
            "name": HEADER,
            "in": "header",
            "required": False,
            "description": HEADER_DESCRIPTION,
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[ -~]+$"},
        }
    )


def _conflict() -> openapi.Response:
    from aws_lambda_powertools.event_handler.openapi import models as openapi

    schema = ServerError.model_json_schema()
    return openapi.Response.model_validate(
        {
            "description": f"`{HEADER}` reused with another body, or its first request still runs",
            "content": {"application/json": {"schema": schema}},
        }
    )


def add_to_openapi(schema: openapi.OpenAPI) -> openapi.OpenAPI:
    """The header and its 409 on every idempotent route of an OpenAPI document."""
    for method, path in IDEMPOTENT_ROUTES:
        operation: openapi.Operation | None = getattr((schema.paths or {}).get(path), method.lower(), None)
        if operation is None:
            continue
        operation.parameters = [*(operation.parameters or []), _parameter()]
        operation.responses = {**(operation.responses or {}), 409: _conflict()}
    return schema


def document(app: APIGatewayRestResolver) -> None:
    """Make the app's OpenAPI documents (`/openapi.json` and `/swagger`) describe the header."""
    build = app.get_openapi_schema

    @functools.wraps(build)
    def with_idempotency_key(*args, **kwargs) -> openapi.OpenAPI:
        return add_to_openapi(build(*args, **kwargs))

    app.get_openapi_schema = with_idempotency_key  # type: ignore[method-assign]
