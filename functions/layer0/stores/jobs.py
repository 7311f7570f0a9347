"""The job store (docs/compatibility.md#tables): one item per job, attributes named as the original's Go fields."""

from __future__ import annotations

from layer0 import aws, settings
from layer0.errors import ErrorCode, Layer0Error
from layer0.models import Job


def _table() -> str:
    return settings.get().job_table


def _item(job: Job) -> dict:
    return {
        "JobID": {"S": job.job_id},
        "TaskID": {"S": job.task_id},
        "JobStatus": {"N": str(job.job_status)},
        "JobType": {"N": str(job.job_type)},
        "Request": {"S": job.request},
        "TimeCreated": {"S": job.time_created},
        "TimeToExist": {"N": str(job.time_to_exist)},
        "Meta": {"M": {key: {"S": value} for key, value in job.meta.items()}},
    }


def _job(item: dict) -> Job:
    return Job(
        job_id=item["JobID"]["S"],
        task_id=item.get("TaskID", {}).get("S", ""),
        job_status=int(item["JobStatus"]["N"]),
        job_type=int(item["JobType"]["N"]),
        request=item.get("Request", {}).get("S", ""),
        time_created=item.get("TimeCreated", {}).get("S", ""),
        time_to_exist=int(item.get("TimeToExist", {}).get("N", "0")),
        meta={key: value["S"] for key, value in item.get("Meta", {}).get("M", {}).items()},
    )


def _not_found(job_id: str) -> Layer0Error:
    return Layer0Error(ErrorCode.JobDoesNotExist, f"Job with id '{job_id}' does not exist")


def insert(job: Job) -> None:
    """Write a new job. A retry that finds the job written (its earlier attempt's answer was lost) is done."""
    dynamodb = aws.client("dynamodb")
    item = _item(job)
    try:
        dynamodb.put_item(
            TableName=_table(),
            Item=item,
            ConditionExpression="attribute_not_exists(JobID)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except dynamodb.exceptions.ConditionalCheckFailedException as error:
        if error.response.get("Item") != item:
            raise


def get(job_id: str) -> Job:
    item = (
        aws.client("dynamodb")
        .get_item(TableName=_table(), Key={"JobID": {"S": job_id}}, ConsistentRead=True)
        .get("Item")
    )
    if not item:
        raise _not_found(job_id)
    return _job(item)


def list_all() -> list[Job]:
    pages = aws.client("dynamodb").get_paginator("scan").paginate(TableName=_table())
    return [_job(item) for page in pages for item in page["Items"]]


def delete(job_id: str) -> None:
    aws.client("dynamodb").delete_item(TableName=_table(), Key={"JobID": {"S": job_id}})


def _update(job_id: str, expression: str, values: dict) -> None:
    dynamodb = aws.client("dynamodb")
    try:
        dynamodb.update_item(
            TableName=_table(),
            Key={"JobID": {"S": job_id}},
            UpdateExpression=expression,
            ConditionExpression="attribute_exists(JobID)",
            ExpressionAttributeValues=values,
        )
    except dynamodb.exceptions.ConditionalCheckFailedException:
        raise _not_found(job_id) from None


def set_status(job_id: str, status: int, time_to_exist: int | None = None) -> None:
    """The status, and with `time_to_exist` the row's expiry (epoch seconds) in the same write."""
    if time_to_exist is None:
        _update(job_id, "SET JobStatus = :s", {":s": {"N": str(status)}})
    else:
        values = {":s": {"N": str(status)}, ":t": {"N": str(time_to_exist)}}
        _update(job_id, "SET JobStatus = :s, TimeToExist = :t", values)


def set_meta(job_id: str, meta: dict[str, str]) -> None:
    """Replace the whole meta map, as the original does."""
    _update(job_id, "SET Meta = :m", {":m": {"M": {key: {"S": value} for key, value in meta.items()}}})
