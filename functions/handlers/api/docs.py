"""OpenAPI 3.1 at `/openapi.json` and Swagger UI at `/swagger`, with no CDN. Both are public
(docs/compatibility.md#auth): Swagger UI's Authorize button sends the token."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.models import HTTPBase, SecurityScheme, Tag

from handlers.api import idempotency
from layer0 import settings

TITLE = "Layer0"
DESCRIPTION = (
    "Deploy Docker containers onto AWS ECS. Every route but /health, /admin/config, /openapi.json and /swagger "
    "needs the token: in Swagger UI, press Authorize and give the token's user name and password "
    "(the token is base64 of `<user name>:<password>`)."
)
SECURITY_SCHEMES: dict[str, SecurityScheme] = {
    "layer0Token": HTTPBase(scheme="basic", description="Authorization: Basic <token>")
}
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


# The order Swagger UI shows them in: what a user creates first, then what runs, then the plumbing.
TAGS: list[Tag | str] = [
    Tag(name=Tags.ENVIRONMENT, description="Clusters of EC2 instances that services and tasks run on"),
    Tag(name=Tags.DEPLOY, description="Dockerrun revisions (ECS task definitions)"),
    Tag(name=Tags.SERVICE, description="Long-running containers of a deploy, optionally behind a load balancer"),
    Tag(name=Tags.TASK, description="One-off containers of a deploy"),
    Tag(name=Tags.LOAD_BALANCER, description="Classic ELBs and Application Load Balancers in front of services"),
    Tag(name=Tags.JOB, description="The long operations (deletes, task starts, rollouts) and their progress"),
    Tag(name=Tags.TAG, description="Names and other tags of entities; clients resolve names to ids here"),
    Tag(name=Tags.ADMIN, description="Health, version, configuration, table check and the scaler"),
]

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


def enable(app: APIGatewayRestResolver) -> None:
    version = settings.get().api_version
    idempotency.document(app)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi():
        body = app.get_openapi_json_schema(
            title=TITLE,
            version=version,
            description=DESCRIPTION,
            tags=TAGS,
            security_schemes=SECURITY_SCHEMES,
            security=SECURITY,
        )
        return Response(status_code=200, content_type="application/json", body=body)

    # Without `swagger_base_url`, Powertools inlines the UI's JS and CSS from its own package.
    app.enable_swagger(
        path="/swagger",
        title=TITLE,
        version=version,
        description=DESCRIPTION,
        tags=TAGS,
        security_schemes=SECURITY_SCHEMES,
        security=SECURITY,
        middlewares=[_security_headers],
    )
