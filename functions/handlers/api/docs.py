"""OpenAPI 3.1 at `/openapi.json` and Swagger UI at `/swagger`, with no CDN. Both are public
(docs/compatibility.md#auth): Swagger UI's Authorize button sends the token.

Powertools' OpenAPI models (80 pydantic models) load only when a request asks for one of these paths, or before
SnapStart's snapshot: `enable` registers the two routes on first use (docs/architecture.md#cold-start).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from handlers.api import idempotency
from layer0 import settings

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.models import SecurityScheme, Tag

TITLE = "Layer0"
DESCRIPTION = (
    "Deploy Docker containers onto AWS ECS. Every route but /health, /admin/config, /openapi.json and /swagger "
    "needs the token: in Swagger UI, press Authorize and give the token's user name and password "
    "(the token is base64 of `<user name>:<password>`)."
)
PATHS = ("/openapi.json", "/swagger")
SECURITY: list[dict[str, list[str]]] = [{"layer0Token": []}]


class Tags:
    """Swagger UI's groups, one per resource; routes name theirs in their decorator (`tags=[Tags.SERVICE]`)."""

    ENVIRONMENT = "environment"
    DEPLOY = "deploy"
    SERVICE = "service"
    TASK = "task"
    LOAD_BALANCER = "load balancer"
    JOB = "job"
    TAG = "tag"
    ADMIN = "admin"
    SECRET = "secret"


# The order Swagger UI shows them in: what a user creates first, then what runs, then the plumbing.
TAG_DESCRIPTIONS = {
    Tags.ENVIRONMENT: "Clusters of EC2 instances that services and tasks run on",
    Tags.DEPLOY: "Dockerrun revisions (ECS task definitions)",
    Tags.SERVICE: "Long-running containers of a deploy, optionally behind a load balancer",
    Tags.TASK: "One-off containers of a deploy",
    Tags.LOAD_BALANCER: "Classic ELBs and Application Load Balancers in front of services",
    Tags.SECRET: "Values kept in Secrets Manager that deploys' containers receive as environment variables",
    Tags.JOB: "The long operations (deletes, task starts, rollouts) and their progress",
    Tags.TAG: "Names and other tags of entities; clients resolve names to ids here",
    Tags.ADMIN: "Health, version, configuration, table check and the scaler",
}


def _tags() -> list[Tag | str]:
    from aws_lambda_powertools.event_handler.openapi.models import Tag

    return [Tag(name=name, description=description) for name, description in TAG_DESCRIPTIONS.items()]


def _security_schemes() -> dict[str, SecurityScheme]:
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBase

    return {"layer0Token": HTTPBase(scheme="basic", description="Authorization: Basic <token>")}


NO_SOURCE = "'none'"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def content_security_policy(html: str) -> str:
    """A CSP for a page whose scripts are all inline (Powertools inlines Swagger UI's bundle and its start-up).

    Each inline script is allowed by its hash, so no other script can run. Styles need 'unsafe-inline': the
    stylesheet is inlined too, and Swagger UI renders inline `style` attributes, which hashes cannot allow;
    CSS cannot run code, and it can load nothing from outside (`img-src`, `font-src`, `connect-src`).
    """
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    return (
        "default-src 'none'; "
        f"script-src {hashes or NO_SOURCE}; "
        "style-src 'unsafe-inline'; "
        "img-src 'self' data:; "
        "connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def _security_headers(app: APIGatewayRestResolver, next_middleware: Callable[..., Response]) -> Response:
    """The Swagger page may not be framed (clickjacking its Authorize dialog) nor run any script but its own."""
    response = next_middleware(app)
    response.headers["X-Frame-Options"] = "DENY"
    if str(response.headers.get("Content-Type", "")).startswith("text/html") and isinstance(response.body, str):
        response.headers["Content-Security-Policy"] = content_security_policy(response.body)
    return response


_enabled: set[int] = set()  # id() of the apps whose documents are registered


def enable_when_asked(app: APIGatewayRestResolver, event: dict[str, Any]) -> None:
    """Register the documents' routes when `event` asks for one of them (the first time only)."""
    if event.get("path") in PATHS or event.get("resource") in PATHS:
        enable(app)


def enable(app: APIGatewayRestResolver) -> None:
    """Register `/openapi.json` and `/swagger` on `app`, once."""
    if id(app) in _enabled:
        return
    _enabled.add(id(app))
    version = settings.get().api_version
    tags = _tags()
    security_schemes = _security_schemes()
    idempotency.document(app)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi():
        body = app.get_openapi_json_schema(
            title=TITLE,
            version=version,
            description=DESCRIPTION,
            tags=tags,
            security_schemes=security_schemes,
            security=SECURITY,
        )
        return Response(status_code=200, content_type="application/json", body=body)

    # Without `swagger_base_url`, Powertools inlines the UI's JS and CSS from its own package.
    app.enable_swagger(
        path="/swagger",
        title=TITLE,
        version=version,
        description=DESCRIPTION,
        tags=tags,
        security_schemes=security_schemes,
        security=SECURITY,
        middlewares=[_security_headers],
    )
