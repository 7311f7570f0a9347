"""OpenAPI 3.1 at `/openapi.json` and Swagger UI at `/swagger`, with no CDN."""

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.models import HTTPBase, SecurityScheme

from handlers.api import idempotency
from layer0 import settings

TITLE = "Layer0"
DESCRIPTION = "Deploy Docker containers onto AWS ECS. Every route but /health and /admin/config needs the token."
SECURITY_SCHEMES: dict[str, SecurityScheme] = {
    "layer0Token": HTTPBase(scheme="basic", description="Authorization: Basic <token>")
}
SECURITY: list[dict[str, list[str]]] = [{"layer0Token": []}]


def enable(app: APIGatewayRestResolver) -> None:
    version = settings.get().api_version
    idempotency.document(app)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi():
        body = app.get_openapi_json_schema(
            title=TITLE,
            version=version,
            description=DESCRIPTION,
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
        security_schemes=SECURITY_SCHEMES,
        security=SECURITY,
    )
