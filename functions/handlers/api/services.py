"""Routes `/service` (docs/compatibility.md#routes, docs/compatibility.md#services). Create, scale and update answer 200
with the Service, as Layer0 does, and
start a rollout job (type 6) whose id is in `X-JobID`; DELETE starts the delete-service job (type 2)."""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from handlers.api.docs import Tags
from handlers.api.errors import documented, ok_or
from handlers.api.jobs import JOB_ACCEPTED_RESPONSES, job_accepted
from layer0 import logs, services
from layer0.models import (
    AutoscalingRequest,
    CreateServiceRequest,
    Job,
    LogFile,
    ScaleServiceRequest,
    Service,
    ServiceSummary,
    UpdateServiceRequest,
)

router = Router()

# OpenAPI `responses` for a route answering with _with_rollout.
SERVICE_WITH_ROLLOUT_RESPONSES: dict[int, OpenAPIResponse] = {
    200: {
        "description": "The service; a rollout job (type 6) follows the deployment until it is steady or failed",
        "content": {"application/json": {"model": Service}},
        "headers": {
            "X-JobID": {"schema": {"type": "string"}, "description": "the rollout job's id"},
            "Location": {"schema": {"type": "string"}, "description": "/job/<rollout job id>"},
        },
    }
}


def _with_rollout(answer: tuple[Service, Job]) -> Response:
    service, job = answer
    return Response(
        status_code=200,
        content_type="application/json",
        body=json.dumps(service.model_dump(mode="json")),
        headers={"X-JobID": job.job_id, "Location": f"/job/{job.job_id}"},
    )


@router.get("/service", tags=[Tags.SERVICE], summary="Every service", responses=ok_or(500))
def list_services() -> list[ServiceSummary]:
    return services.list_all()


@router.post(
    "/service",
    tags=[Tags.SERVICE],
    summary="Create a service (optionally behind a load balancer) and start its rollout job",
    responses={**SERVICE_WITH_ROLLOUT_RESPONSES, **documented(400, 404)},
)
def create_service(request: CreateServiceRequest):
    return _with_rollout(services.create(request))


@router.get("/service/<id>", tags=[Tags.SERVICE], summary="One service", responses=ok_or(404))
def get_service(id: str) -> Service:  # noqa: A002 - the contract's path parameter
    return services.get(id)


@router.delete(
    "/service/<id>",
    tags=[Tags.SERVICE],
    summary="Delete a service: scale to 0, stop its tasks, delete it (job type 2)",
    responses={**JOB_ACCEPTED_RESPONSES, **documented(404)},
)
def delete_service(id: str):  # noqa: A002
    return job_accepted(services.start_delete(id))


@router.put(
    "/service/<id>/scale",
    tags=[Tags.SERVICE],
    summary="Set the desired count and start a rollout job",
    responses={**SERVICE_WITH_ROLLOUT_RESPONSES, **documented(400, 404)},
)
def scale_service(id: str, request: ScaleServiceRequest):  # noqa: A002
    return _with_rollout(services.scale(id, request.desired_count))


@router.put(
    "/service/<id>/deploy",
    tags=[Tags.SERVICE],
    summary="Run another deploy and start a rollout job",
    responses={**SERVICE_WITH_ROLLOUT_RESPONSES, **documented(400, 404)},
)
def update_service(id: str, request: UpdateServiceRequest):  # noqa: A002
    return _with_rollout(services.update_deploy(id, request.deploy_id))


@router.get(
    "/service/<id>/logs",
    tags=[Tags.SERVICE],
    summary="The logs of the service's tasks. Query: tail, start, end (YYYY-MM-DD HH:MM)",
    responses=ok_or(400, 404),
)
def service_logs(id: str) -> list[LogFile]:  # noqa: A002
    query = router.current_event.query_string_parameters or {}
    tail = logs.parse_tail(query.get("tail"))
    start = logs.parse_time(query.get("start"), "start")
    end = logs.parse_time(query.get("end"), "end")
    return services.logs(id, tail=tail, start=start, end=end)


@router.put(
    "/service/<id>/autoscaling",
    tags=[Tags.SERVICE],
    summary="Autoscale the service: its desired-count range and one target-tracking policy per target given "
    "(replaces any earlier configuration)",
    responses=ok_or(400, 404),
)
def put_autoscaling(id: str, request: AutoscalingRequest) -> Service:  # noqa: A002
    return services.set_autoscaling(id, request)


@router.delete(
    "/service/<id>/autoscaling",
    tags=[Tags.SERVICE],
    summary="Stop autoscaling the service: its scalable target and policies go, its desired count stays",
    responses=ok_or(404),
)
def delete_autoscaling(id: str) -> Service:  # noqa: A002
    return services.remove_autoscaling(id)
