"""Routes `/task` (docs/compatibility.md#routes, docs/compatibility.md#tasks, docs/compatibility.md#logs). POST /task
starts a create-task job (type 5); the job starts the task.

`GET /task/{id}/logs` serves two kinds of id: a task's (its containers' CloudWatch logs) and a job's, because a
job's task id is its job id (docs/architecture.md#the-job-path: `l0 job logs` reads the execution history there).
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from handlers.api.docs import Tags
from handlers.api.errors import documented, ok_or
from handlers.api.jobs import JOB_ACCEPTED_RESPONSES, job_accepted
from layer0 import jobs, logs, tasks
from layer0.errors import ErrorCode, Layer0Error
from layer0.models import CreateTaskRequest, LogFile, Task, TaskSummary

router = Router()


@router.get("/task", tags=[Tags.TASK], summary="Every task ECS still knows", responses=ok_or(500))
def list_tasks() -> list[TaskSummary]:
    return tasks.list_all()


@router.post(
    "/task",
    tags=[Tags.TASK],
    summary="Start a task of a deploy in an environment (job type 5; the job's meta.task_id names the task)",
    responses={**JOB_ACCEPTED_RESPONSES, **documented(400, 404)},
)
def create_task(request: CreateTaskRequest):
    return job_accepted(tasks.start_create(request))


@router.get("/task/<id>", tags=[Tags.TASK], summary="A task and its containers", responses=ok_or(404))
def get_task(id: str) -> Task:  # noqa: A002 - the contract's path parameter
    return tasks.get(id)


@router.delete(
    "/task/<id>",
    tags=[Tags.TASK],
    summary="Stop a task and forget it (synchronous)",
    responses={200: {"description": "Deleted"}, **documented(404)},
)
def delete_task(id: str):  # noqa: A002
    tasks.delete(id)
    return Response(status_code=200, content_type="application/json", body='""')


@router.get(
    "/task/<id>/logs",
    tags=[Tags.TASK],
    summary="A task's container logs; for a job's task id, the job's execution history. "
    "Query: tail, start, end (YYYY-MM-DD HH:MM, UTC)",
    responses=ok_or(400, 404),
)
def task_logs(id: str) -> list[LogFile]:  # noqa: A002
    query = router.current_event.query_string_parameters or {}
    tail = logs.parse_tail(query.get("tail"))
    start = logs.parse_time(query.get("start"), "start")
    end = logs.parse_time(query.get("end"), "end")
    try:
        return tasks.logs(id, tail=tail, start=start, end=end)
    except Layer0Error as error:
        if error.code != ErrorCode.TaskDoesNotExist:
            raise
    # Not a task: a job's task id, or 404/29.
    return jobs.logs(id, tail=tail, start=start, end=end)
