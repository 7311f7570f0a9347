"""Routes `/job` (docs/compatibility.md#routes, docs/compatibility.md#jobs; docs/architecture.md#the-job-path). A job's
logs (`GET /task/<job id>/logs`) are in the tasks router."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from handlers.api.docs import Tags
from handlers.api.errors import documented, ok_or
from layer0 import jobs
from layer0.models import Job

router = Router()


def job_accepted(job: Job) -> Response:
    """The answer of every route that starts a job: 202, `Location: /job/<id>`, `X-JobID: <id>`, body `""`."""
    return Response(
        status_code=202,
        content_type="application/json",
        body='""',
        headers={"Location": f"/job/{job.job_id}", "X-JobID": job.job_id},
    )


# OpenAPI `responses` for a route answering with job_accepted.
JOB_ACCEPTED_RESPONSES: dict[int, OpenAPIResponse] = {
    202: {
        "description": "Job started: poll `GET /job/{id}` (the id is in `X-JobID` and `Location`)",
        "headers": {
            "Location": {"schema": {"type": "string"}, "description": "/job/<job id>"},
            "X-JobID": {"schema": {"type": "string"}, "description": "the job id"},
        },
    }
}


@router.get("/job", tags=[Tags.JOB], summary="Every job", responses=ok_or())
def list_jobs() -> list[Job]:
    return jobs.list_all()


@router.get("/job/<id>", tags=[Tags.JOB], summary="A job", responses=ok_or(404))
def get_job(id: str) -> Job:  # noqa: A002 - the contract's path parameter
    return jobs.get(id)


@router.delete(
    "/job/<id>",
    tags=[Tags.JOB],
    summary="Stop a job's execution and delete it",
    responses={200: {"description": "Deleted"}, **documented(404)},
)
def delete_job(id: str):  # noqa: A002
    jobs.delete(id)
    return Response(status_code=200, content_type="application/json", body='""')
