"""The tag store (docs/compatibility.md#tables): one DynamoDB item per entity, `Tags` a map with one value per key."""

from __future__ import annotations

import contextlib
import time
import uuid

from layer0 import aws, settings
from layer0.models import Tag

# Tags of short-lived entities expire with DynamoDB TTL, set on the first insert only (docs/compatibility.md#tables).
TTL_SECONDS = 6 * 3600
# The attribute of a claimed item that names the `claim` call that made it.
CLAIM_TOKEN = "ClaimToken"


def _expires(entity_type: str, entity_id: str) -> bool:
    return entity_type in ("task", "job") or (entity_type == "deploy" and entity_id.startswith("job."))


def _table() -> str:
    return settings.get().tag_table


def _key(entity_type: str, entity_id: str) -> dict:
    return {"EntityType": {"S": entity_type}, "EntityID": {"S": entity_id}}


def _tags_of(item: dict) -> list[Tag]:
    entity_type, entity_id = item["EntityType"]["S"], item["EntityID"]["S"]
    return [
        Tag(entity_type=entity_type, entity_id=entity_id, key=key, value=value["S"])
        for key, value in sorted(item.get("Tags", {}).get("M", {}).items())
    ]


def insert(tag: Tag, expires_at: int | None = None) -> None:
    """Set `tag.key` to `tag.value` on the entity, creating the item (with its TTL) if it is new.

    `expires_at` (epoch seconds) replaces the new item's default TTL: a job's tags live as long as its row."""
    dynamodb = aws.client("dynamodb")
    item = {**_key(tag.entity_type, tag.entity_id), "Tags": {"M": {tag.key: {"S": tag.value}}}}
    if expires_at is not None:
        item["TimeToExist"] = {"N": str(expires_at)}
    elif _expires(tag.entity_type, tag.entity_id):
        item["TimeToExist"] = {"N": str(int(time.time()) + TTL_SECONDS)}
    try:
        dynamodb.put_item(TableName=_table(), Item=item, ConditionExpression="attribute_not_exists(EntityType)")
    except dynamodb.exceptions.ConditionalCheckFailedException:
        # The item exists: set the one key atomically, leaving its other tags and its TTL alone.
        dynamodb.update_item(
            TableName=_table(),
            Key=_key(tag.entity_type, tag.entity_id),
            UpdateExpression="SET Tags.#k = :v",
            ExpressionAttributeNames={"#k": tag.key},
            ExpressionAttributeValues={":v": {"S": tag.value}},
        )


def delete(entity_type: str, entity_id: str, key: str) -> None:
    """Remove one key; the item goes when its last key does. A missing key is a no-op."""
    dynamodb = aws.client("dynamodb")
    try:
        remaining = dynamodb.update_item(
            TableName=_table(),
            Key=_key(entity_type, entity_id),
            UpdateExpression="REMOVE Tags.#k",
            ConditionExpression="attribute_exists(Tags.#k)",
            ExpressionAttributeNames={"#k": key},
            ReturnValues="ALL_NEW",
        )["Attributes"]
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return
    if not remaining.get("Tags", {}).get("M"):
        # Another writer may have added a key since: keep the item then.
        with contextlib.suppress(dynamodb.exceptions.ConditionalCheckFailedException):
            dynamodb.delete_item(
                TableName=_table(),
                Key=_key(entity_type, entity_id),
                ConditionExpression="attribute_not_exists(Tags) OR Tags = :empty",
                ExpressionAttributeValues={":empty": {"M": {}}},
            )


def set_expiry(entity_type: str, entity_id: str, expires_at: int) -> None:
    """The entity's TTL (epoch seconds); an entity without tags stays without."""
    dynamodb = aws.client("dynamodb")
    with contextlib.suppress(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.update_item(
            TableName=_table(),
            Key=_key(entity_type, entity_id),
            UpdateExpression="SET TimeToExist = :t",
            ConditionExpression="attribute_exists(EntityType)",
            ExpressionAttributeValues={":t": {"N": str(expires_at)}},
        )


def delete_entity(entity_type: str, entity_id: str) -> None:
    aws.client("dynamodb").delete_item(TableName=_table(), Key=_key(entity_type, entity_id))


def select_by_type(entity_type: str) -> list[Tag]:
    pages = (
        aws.client("dynamodb")
        .get_paginator("query")
        .paginate(
            TableName=_table(),
            KeyConditionExpression="EntityType = :t",
            ExpressionAttributeValues={":t": {"S": entity_type}},
            ConsistentRead=True,
        )
    )
    return [tag for page in pages for item in page["Items"] for tag in _tags_of(item)]


def select_by_type_and_id(entity_type: str, entity_id: str) -> list[Tag]:
    item = (
        aws.client("dynamodb")
        .get_item(TableName=_table(), Key=_key(entity_type, entity_id), ConsistentRead=True)
        .get("Item")
    )
    return _tags_of(item) if item else []


def claim(entity_type: str, entity_id: str, tags: dict[str, str]) -> bool:
    """Create the item only if it does not exist: True if this call created it.

    An atomic claim, e.g. of an environment name, made before anything is created for it.
    The item carries a token of this call, outside its tags: when a retry of the put finds the item there, the
    token says whether the earlier attempt, whose answer was lost, made it (then the claim is ours).
    """
    dynamodb = aws.client("dynamodb")
    token = str(uuid.uuid4())
    item = {
        **_key(entity_type, entity_id),
        "Tags": {"M": {k: {"S": v} for k, v in tags.items()}},
        CLAIM_TOKEN: {"S": token},
    }
    try:
        dynamodb.put_item(
            TableName=_table(),
            Item=item,
            ConditionExpression="attribute_not_exists(EntityType)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except dynamodb.exceptions.ConditionalCheckFailedException as error:
        return error.response.get("Item", {}).get(CLAIM_TOKEN, {}).get("S") == token
    except Exception as error:
        if aws.may_have_taken_effect(error):  # the claim may be there: take it back, or the name stays taken
            with contextlib.suppress(Exception):
                dynamodb.delete_item(
                    TableName=_table(),
                    Key=_key(entity_type, entity_id),
                    ConditionExpression="#t = :t",
                    ExpressionAttributeNames={"#t": CLAIM_TOKEN},
                    ExpressionAttributeValues={":t": {"S": token}},
                )
        raise
    return True


def release(entity_type: str, entity_id: str, key: str, value: str) -> None:
    """Delete the item if its `key` still has `value` (the claim is still ours); otherwise leave it."""
    dynamodb = aws.client("dynamodb")
    with contextlib.suppress(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.delete_item(
            TableName=_table(),
            Key=_key(entity_type, entity_id),
            ConditionExpression="Tags.#k = :v",
            ExpressionAttributeNames={"#k": key},
            ExpressionAttributeValues={":v": {"S": value}},
        )


def delete_with_claims(entity_type: str, entity_id: str, claim_type: str, claim_key: str) -> list[str]:
    """Forget an entity: release every name claim (`claim_type` items whose `claim_key` is `entity_id`; found by
    id, so a rerun after the entity's tags went still finds them), then delete its tags. Returns the released
    claims."""
    claims = [t.entity_id for t in select_by_type(claim_type) if t.key == claim_key and t.value == entity_id]
    for claim in claims:
        release(claim_type, claim, claim_key, entity_id)
    delete_entity(entity_type, entity_id)
    return claims
