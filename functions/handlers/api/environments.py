"""Routes `/environment` (docs/compatibility.md#routes, docs/compatibility.md#environments). DELETE /environment/{id}
starts a job: see the jobs router."""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from handlers.api.docs import Tags
from handlers.api.errors import documented, ok_or
from handlers.api.jobs import JOB_ACCEPTED_RESPONSES, job_accepted
from layer0 import environments
from layer0.models import (
    CreateEnvironmentLinkRequest,
    CreateEnvironmentRequest,
    Environment,
    EnvironmentSummary,
    UpdateEnvironmentRequest,
)

router = Router()


def _empty() -> Response:
    return Response(status_code=200, content_type="application/json", body='""')


@router.get("/environment", tags=[Tags.ENVIRONMENT], summary="Every environment", responses=ok_or(500))
def list_environments() -> list[EnvironmentSummary]:
    return environments.list_all()


@router.post(
    "/environment",
    tags=[Tags.ENVIRONMENT],
    summary="Create an environment: cluster, security group, launch template and Auto Scaling group (on Fargate: "
    "cluster and security group)",
    responses=ok_or(400, 500),
)
def create_environment(request: CreateEnvironmentRequest) -> Environment:
    return environments.create(request)


@router.get("/environment/<id>", tags=[Tags.ENVIRONMENT], summary="One environment", responses=ok_or(404))
def get_environment(id: str) -> Environment:  # noqa: A002 - the contract's path parameter
    return environments.get(id)


@router.put(
    "/environment/<id>",
    tags=[Tags.ENVIRONMENT],
    summary="Set the minimum instance count; returns the updated environment",
    responses=ok_or(400, 404),
)
def update_environment(id: str, request: UpdateEnvironmentRequest) -> Environment:  # noqa: A002
    return environments.update_min_count(id, request.min_cluster_count)


@router.post(
    "/environment/<id>/link",
    tags=[Tags.ENVIRONMENT],
    summary="Let two environments reach each other (all traffic, both ways)",
    responses={200: {"description": "Linked"}, **documented(400, 404)},
)
def link_environments(id: str, request: CreateEnvironmentLinkRequest):  # noqa: A002
    environments.link(id, request.environment_id)
    return _empty()


@router.delete(
    "/environment/<id>/link/<dest_id>",
    tags=[Tags.ENVIRONMENT],
    summary="Undo a link, both ways",
    responses={200: {"description": "Unlinked"}, **documented()},
)
def unlink_environments(id: str, dest_id: str):  # noqa: A002
    environments.unlink(id, dest_id)
    return _empty()


@router.delete(
    "/environment/<id>",
    tags=[Tags.ENVIRONMENT],
    summary="Delete an environment and what runs in it (job type 1)",
    responses={**JOB_ACCEPTED_RESPONSES, **documented(404)},
)
def delete_environment(id: str):  # noqa: A002
    return job_accepted(environments.start_delete(id))
