"""The `/admin` routes' domain: version, configuration and the table check that replaces `admin sql`."""

from __future__ import annotations

from layer0 import aws, settings
from layer0.errors import ErrorCode, Layer0Error
from layer0.models import APIConfig


def version() -> str:
    return settings.get().api_version


def config() -> APIConfig:
    current = settings.get()
    return APIConfig(
        prefix=current.prefix,
        vpc_id=current.vpc_id,
        public_subnets=list(current.public_subnets),
        private_subnets=list(current.private_subnets),
    )


def check_tables() -> None:
    """`admin sql` used to create the schema. The stack owns the tables now: check they are there."""
    current = settings.get()
    dynamodb = aws.client("dynamodb")
    for table in (current.tag_table, current.job_table):
        try:
            status = dynamodb.describe_table(TableName=table)["Table"]["TableStatus"]
        except dynamodb.exceptions.ResourceNotFoundException:
            raise Layer0Error(ErrorCode.UnexpectedError, f"Table '{table}' does not exist") from None
        if status not in ("ACTIVE", "UPDATING"):
            raise Layer0Error(ErrorCode.UnexpectedError, f"Table '{table}' is {status}", status=503)
