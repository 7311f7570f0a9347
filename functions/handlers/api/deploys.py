"""Routes `/deploy` (docs/compatibility.md#routes, docs/compatibility.md#deploys). Deletes are synchronous (200 `""`),
not jobs."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from handlers.api.docs import Tags
from handlers.api.errors import documented, ok_or
from layer0 import deploys
from layer0.models import CreateDeployRequest, Deploy, DeploySummary

router = Router()


@router.get("/deploy", tags=[Tags.DEPLOY], summary="Every active revision of every deploy", responses=ok_or(500))
def list_deploys() -> list[DeploySummary]:
    return deploys.list_all()


@router.post(
    "/deploy",
    tags=[Tags.DEPLOY],
    summary="Register a Dockerrun (base64 in `dockerrun`) as the next revision of the deploy `deploy_name`",
    responses=ok_or(400, 500),
)
def create_deploy(request: CreateDeployRequest) -> Deploy:
    return deploys.create(request)


@router.get("/deploy/<id>", tags=[Tags.DEPLOY], summary="One deploy (`<name>.<revision>`)", responses=ok_or(404))
def get_deploy(id: str) -> Deploy:  # noqa: A002 - the contract's path parameter
    return deploys.get(id)


@router.delete(
    "/deploy/<id>",
    tags=[Tags.DEPLOY],
    summary="Deregister a deploy",
    responses={200: {"description": "Deleted"}, **documented(400)},
)
def delete_deploy(id: str):  # noqa: A002
    deploys.delete(id)
    return Response(status_code=200, content_type="application/json", body='""')
