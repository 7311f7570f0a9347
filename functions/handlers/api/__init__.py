"""The API function: every Layer0 route, one Powertools router per resource.

The handler only translates events; the routers call the domain in `layer0`.
"""

from __future__ import annotations

from handlers.cold_start import long_lived_init

# The whole init runs away from the garbage collector, and what it makes is frozen (handlers/cold_start.py).
with long_lived_init():
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig
    from aws_lambda_powertools.logging import correlation_paths

    from handlers import snapstart
    from handlers.api import (
        admin,
        deploys,
        docs,
        edge,
        environments,
        errors,
        jobs,
        load_balancers,
        secrets,
        services,
        tags,
        tasks,
    )
    from handlers.api.idempotency import honour_idempotency_key
    from handlers.observability import domain_logs_through, inject_lambda_context, make_tracer
    from layer0 import contract, settings

    logger = Logger(service="layer0-api")
    tracer = make_tracer("layer0-api")
    domain_logs_through(logger)

    CORS = CORSConfig(
        allow_origin=contract.CORS_ALLOW_ORIGIN,
        allow_headers=list(contract.CORS_ALLOW_HEADERS),
        expose_headers=list(contract.CORS_EXPOSE_HEADERS),
    )

    # debug=False whatever POWERTOOLS_DEV says: in debug mode the resolver prints every event, request bodies (secret
    # values among them, docs/compatibility.md#secrets) included.
    app = APIGatewayRestResolver(
        enable_validation=True, cors=CORS, json_body_deserializer=edge.decode_json, debug=False
    )
    errors.register(app)
    app.use(middlewares=[honour_idempotency_key])
    for module in (admin, tags, jobs, environments, deploys, load_balancers, services, tasks, secrets):
        app.include_router(module.router)
    # The OpenAPI documents load on their first request, or before SnapStart's snapshot
    # (docs/architecture.md#cold-start).
    snapstart.register(lambda: docs.enable(app))


# log_event=False whatever POWERTOOLS_LOGGER_LOG_EVENT says: events carry request bodies, secret values among them.
@inject_lambda_context(logger, correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
# Answers carry Dockerrun environment values and errors may quote them: neither goes to X-Ray.
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
def handler(event: dict, context) -> dict:
    docs.enable_when_asked(app, event)
    response = edge.refusal(event) or app.resolve(event, context)
    headers = response.setdefault("multiValueHeaders", {})
    # Every answer carries the API version (docs/compatibility.md#http-conventions); the CLI compares it with its own.
    headers["Version"] = [settings.get().api_version]
    headers.setdefault(edge.NOSNIFF[0], [edge.NOSNIFF[1]])
    return response
