"""Routes `/health` and `/admin/*` (docs/compatibility.md#routes,
docs/compatibility.md#differences-on-purpose-and-why)."""

import json
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from handlers.api.docs import Tags
from handlers.api.errors import documented, ok_or
from layer0 import admin, scaler
from layer0.models import APIConfig, ScalerRunInfo, SQLVersion

router = Router()


@router.get("/health", tags=[Tags.ADMIN], summary="Liveness check (no token needed)")
def health():
    return Response(status_code=200, content_type="application/json", body='""')


@router.get(
    "/admin/version",
    tags=[Tags.ADMIN],
    summary="The API version, as a JSON string",
    responses={
        200: {"description": "The version", "content": {"application/json": {"schema": {"type": "string"}}}},
        **documented(),
    },
)
def version():
    return Response(status_code=200, content_type="application/json", body=json.dumps(admin.version()))


@router.get("/admin/config", tags=[Tags.ADMIN], summary="Prefix, VPC and subnets (no token needed)")
def config() -> APIConfig:
    return admin.config()


@router.post(
    "/admin/sql",
    tags=[Tags.ADMIN],
    summary="Check that the tables exist (the schema is the stack's)",
    responses={204: {"description": "The tables exist", "content": {}}, **documented(400, 500)},
)
def sql(body: Annotated[SQLVersion | None, Body()] = None):
    admin.check_tables()
    return Response(status_code=204, body="")


@router.put(
    "/admin/scale/<id>",
    tags=[Tags.ADMIN],
    summary="Run the scaler on one environment now (any body, ignored)",
    responses=ok_or(404, 500),
)
def scale(id: str) -> ScalerRunInfo:  # noqa: A002 - the contract's path parameter
    return scaler.run(id)
