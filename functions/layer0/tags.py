"""Tags as users see them through `/tag` (docs/compatibility.md#tags): every client turns names into ids with it."""

from __future__ import annotations

from itertools import groupby

from layer0.errors import ErrorCode, Layer0Error, missing_parameter
from layer0.models import EntityWithTags, Tag
from layer0.stores import rows as row_store
from layer0.stores import tags as tag_store

# Query parameters with a meaning of their own; every other one is a tag filter.
_SPECIAL = ("type", "id", "fuzz")


def query(params: dict[str, str]) -> list[EntityWithTags]:
    filters = dict(params)
    entity_type = filters.pop("type", "")
    if not entity_type:
        raise missing_parameter("type")
    entity_id = filters.pop("id", "")
    fuzz = filters.pop("fuzz", "")
    latest = filters.get("version") == "latest"
    if latest:
        del filters["version"]

    if entity_id:
        tags = tag_store.select_by_type_and_id(entity_type, entity_id)
    else:
        tags = tag_store.select_by_type(entity_type)
    entities = _group(tags)

    # Key and value are checked independently: any tag with the key, any tag with the value.
    for key, value in filters.items():
        entities = [e for e in entities if any(t.key == key for t in e.tags) and any(t.value == value for t in e.tags)]
    if fuzz:
        entities = [e for e in entities if e.entity_id.startswith(fuzz) or _name(e).startswith(fuzz)]
    if latest:
        entities = _latest(entities)
    return entities


def _group(tags: list[Tag]) -> list[EntityWithTags]:
    ordered = sorted(tags, key=lambda t: (t.entity_type, t.entity_id))
    return [
        EntityWithTags(entity_type=entity_type, entity_id=entity_id, tags=list(group))
        for (entity_type, entity_id), group in groupby(ordered, key=lambda t: (t.entity_type, t.entity_id))
    ]


def _value(entity: EntityWithTags, key: str) -> str | None:
    return next((t.value for t in entity.tags if t.key == key), None)


def _name(entity: EntityWithTags) -> str:
    # An entity without a name tag can only match `fuzz` by id (fuzz is never empty there).
    return _value(entity, "name") or ""


def _latest(entities: list[EntityWithTags]) -> list[EntityWithTags]:
    best: tuple[int, EntityWithTags] | None = None
    for entity in entities:
        raw = _value(entity, "version")
        if raw is None:
            continue
        try:
            version = int(raw)
        except ValueError:
            raise Layer0Error(
                ErrorCode.InvalidTagValue,
                f"Tag 'version' of {entity.entity_type} '{entity.entity_id}' is not an integer: '{raw}'",
            ) from None
        if best is None or version > best[0]:
            best = (version, entity)
    return [best[1]] if best else []


def _require(tag: Tag, *fields: str) -> None:
    for field in fields:
        if not getattr(tag, field):
            raise missing_parameter(field)


def _writable(tag: Tag) -> None:
    """The read model's items share the tag table (docs/architecture.md#the-read-model): tags there would show them
    in `/tag`, and deleting the last one would delete a row."""
    if tag.entity_type.startswith(row_store.ROW_TYPE_PREFIX):
        raise Layer0Error(
            ErrorCode.InvalidEntityType, f"Entity type '{tag.entity_type}' is reserved for Layer0's read model"
        )


def add(tag: Tag) -> None:
    _require(tag, "entity_type", "entity_id", "key")
    _writable(tag)
    tag_store.insert(tag)


def remove(tag: Tag) -> None:
    _require(tag, "entity_type", "entity_id", "key")
    _writable(tag)
    tag_store.delete(tag.entity_type, tag.entity_id, tag.key)
