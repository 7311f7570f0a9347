"""Routes `/tag` (docs/compatibility.md#tags)."""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from handlers.api.docs import Tags
from handlers.api.errors import documented, ok_or
from layer0 import tags
from layer0.models import EntityWithTags, Tag

router = Router()


@router.get(
    "/tag",
    tags=[Tags.TAG],
    summary="Entities with their tags. `type` is required; `id`, `fuzz`, `version=latest` and any key=value filter",
    responses=ok_or(400),
)
def query_tags() -> list[EntityWithTags]:
    # The first value of each parameter, as the original does.
    params = router.current_event.multi_value_query_string_parameters or {}
    return tags.query({key: values[0] for key, values in params.items() if values})


@router.post(
    "/tag",
    tags=[Tags.TAG],
    summary="Set a tag",
    responses={201: {"description": "Tag set", "content": {}}, **documented(400)},
)
def add_tag(tag: Tag):
    tags.add(tag)
    return Response(status_code=201, body="")


@router.delete(
    "/tag",
    tags=[Tags.TAG],
    summary="Delete a tag",
    responses={204: {"description": "Tag deleted", "content": {}}, **documented(400)},
)
def delete_tag(tag: Tag):
    tags.remove(tag)
    return Response(status_code=204, body="")
