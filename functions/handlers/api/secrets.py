"""Routes `/secret` (docs/compatibility.md#routes, docs/compatibility.md#secrets). No answer carries a value."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from handlers.api.docs import Tags
from handlers.api.errors import documented, ok_or
from layer0 import secrets
from layer0.models import PutSecretRequest, Secret

router = Router()


@router.get(
    "/secret", tags=[Tags.SECRET], summary="Every secret of this instance, without values", responses=ok_or(500)
)
def list_secrets() -> list[Secret]:
    return secrets.list_all()


@router.post(
    "/secret",
    tags=[Tags.SECRET],
    summary="Create the secret `secret_name` with `value`, or give it a new value",
    responses=ok_or(400, 500),
)
def put_secret(request: PutSecretRequest) -> Secret:
    return secrets.put(request)


@router.delete(
    "/secret/<name>",
    tags=[Tags.SECRET],
    summary=f"Delete a secret; it can be restored (POST it again) for {secrets.RECOVERY_WINDOW_DAYS} days",
    responses={204: {"description": "Deleted", "content": {}}, **documented(400, 404, 500)},
)
def delete_secret(name: str):
    secrets.delete(name)
    return Response(status_code=204, body="")
