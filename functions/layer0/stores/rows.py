"""The read model (docs/architecture.md#the-read-model): one item per listed entity, in the tag table, that answers
every List route with one Query.

A row's item is `EntityType` `row:<kind>` (kind: environment, deploy, service, task, loadbalancer), `EntityID` the
entity's id (a task's: its ECS ARN, which ECS events carry), `Row` the List answer's fields as JSON, and no `Tags`:
`/tag` shows an item's tags only, so rows never appear there. `Version` orders the writes of one row (a task's ECS
`version`, or a time in ms for the others): a write older than the row's changes nothing. `TimeToExist` is the
tag table's TTL attribute: a finished task's row expires after the retention period.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

from layer0 import aws, settings

ROW_TYPE_PREFIX = "row:"
KINDS = ("environment", "deploy", "service", "task", "loadbalancer")


@dataclass(frozen=True)
class Row:
    kind: str
    entity_id: str
    fields: dict
    version: int = 0
    expires_at: int | None = None


def now_ms() -> int:
    """The version of a row written from a read of AWS now (the API's writes, reconcile)."""
    return int(time.time() * 1000)


def _table() -> str:
    return settings.get().tag_table


def entity_type(kind: str) -> str:
    return ROW_TYPE_PREFIX + kind


def _key(kind: str, entity_id: str) -> dict:
    return {"EntityType": {"S": entity_type(kind)}, "EntityID": {"S": entity_id}}


def _row(kind: str, item: dict) -> Row:
    expires = item.get("TimeToExist", {}).get("N")
    return Row(
        kind=kind,
        entity_id=item["EntityID"]["S"],
        fields=json.loads(item["Row"]["S"]),
        version=int(item.get("Version", {}).get("N", "0")),
        expires_at=int(expires) if expires else None,
    )


def _item(row: Row) -> dict:
    item = {
        **_key(row.kind, row.entity_id),
        "Row": {"S": json.dumps(row.fields, sort_keys=True)},
        "Version": {"N": str(row.version)},
    }
    if row.expires_at is not None:
        item["TimeToExist"] = {"N": str(row.expires_at)}
    return item


def _put_when(row: Row, **condition) -> bool:
    dynamodb = aws.client("dynamodb")
    try:
        dynamodb.put_item(TableName=_table(), Item=_item(row), **condition)
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return False
    return True


def put(row: Row) -> bool:
    """Write the row unless the stored one is newer (a higher `Version`); True if written. Equal versions write:
    a retried write, or a duplicate event, writes the same row again."""
    return _put_when(
        row,
        ConditionExpression="attribute_not_exists(Version) OR Version <= :v",
        ExpressionAttributeValues={":v": {"N": str(row.version)}},
    )


def put_if_unchanged(row: Row, read: Row | None) -> bool:
    """Write the row only if the stored one is still `read` (the row as this writer read it; None: there was none),
    version and fields alike; True if written. A read-merge-write then never drops what another writer put in
    between: on False, read again and merge again."""
    if read is None:
        return _put_when(row, ConditionExpression="attribute_not_exists(Version)")
    return _put_when(
        row,
        ConditionExpression="Version = :version AND #row = :row",
        ExpressionAttributeNames={"#row": "Row"},
        ExpressionAttributeValues={
            ":version": {"N": str(read.version)},
            ":row": {"S": json.dumps(read.fields, sort_keys=True)},
        },
    )


def get(kind: str, entity_id: str) -> Row | None:
    item = (
        aws.client("dynamodb").get_item(TableName=_table(), Key=_key(kind, entity_id), ConsistentRead=True).get("Item")
    )
    return _row(kind, item) if item and "Row" in item else None


def delete(kind: str, entity_id: str) -> None:
    aws.client("dynamodb").delete_item(TableName=_table(), Key=_key(kind, entity_id))


def delete_if_older(kind: str, entity_id: str, version: int) -> bool:
    """Delete the row unless it was written at or after `version` (a row made while the reconcile ran stays)."""
    dynamodb = aws.client("dynamodb")
    try:
        dynamodb.delete_item(
            TableName=_table(),
            Key=_key(kind, entity_id),
            ConditionExpression="Version < :v",
            ExpressionAttributeValues={":v": {"N": str(version)}},
        )
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return False
    return True


def _query(kind: str, **parameters) -> Iterator[dict]:
    """The items of the kind's partition: one Query (more only for DynamoDB's 1 MB pages)."""
    pages = (
        aws.client("dynamodb")
        .get_paginator("query")
        .paginate(
            TableName=_table(),
            KeyConditionExpression="EntityType = :t",
            ExpressionAttributeValues={":t": {"S": entity_type(kind)}},
            ConsistentRead=True,
            **parameters,
        )
    )
    return (item for page in pages for item in page["Items"] if "Row" in item)


def _unexpired(item: dict, now: int) -> bool:
    expires = item.get("TimeToExist", {}).get("N")
    return not expires or int(expires) > now


def select(kind: str) -> list[Row]:
    """Every row of the kind, keys and versions included (for the reconcile and the task events): one Query.
    Expired rows that DynamoDB has not removed yet (it takes up to a few days) are left out."""
    now = int(time.time())
    return [_row(kind, item) for item in _query(kind) if _unexpired(item, now)]


def listed(kind: str) -> list[dict]:
    """The fields of every unexpired row of the kind, for its List route: `select`'s one Query, reading only what
    the answer needs (docs/architecture.md#the-read-model).

    The Query's ProjectionExpression asks for `Row` and `TimeToExist` only: the key, the entity id (a task's ARN)
    and `Version` would more than double the attributes each row costs to send and parse, for nothing the List
    answers. Expired rows are left out here rather than by a FilterExpression, which DynamoDB applies after reading
    anyway."""
    now = int(time.time())
    items = _query(kind, ProjectionExpression="#row, TimeToExist", ExpressionAttributeNames={"#row": "Row"})
    return [json.loads(item["Row"]["S"]) for item in items if _unexpired(item, now)]
