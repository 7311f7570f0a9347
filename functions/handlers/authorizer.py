"""API Gateway REQUEST authorizer: lets a request through when its Basic token is the API token.

It never logs the event: the event holds the token.
"""

from __future__ import annotations

from handlers.cold_start import long_lived_init

# The init runs away from the garbage collector, and what it makes is frozen (handlers/cold_start.py).
with long_lived_init():
    from aws_lambda_powertools import Logger

    from handlers import snapstart
    from handlers.observability import inject_lambda_context
    from layer0 import auth

    logger = Logger(service="layer0-authorizer")
    # On AWS it runs from a SnapStart snapshot, as the API function does (docs/architecture.md#cold-start): the
    # snapshot holds its one client, and a restored container reads the token's secret afresh.
    snapstart.register(services=("secretsmanager",))


class Unauthorized(Exception):
    """Raised with the message "Unauthorized", which API Gateway turns into its 401 response."""


def _header(event: dict, name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return value
    return None


# log_event=False whatever POWERTOOLS_LOGGER_LOG_EVENT says: the event holds the token.
@inject_lambda_context(logger, log_event=False)
def handler(event: dict, context) -> dict:
    if not auth.is_authorized(_header(event, "authorization")):
        logger.info("Denied", extra={"path": event.get("path"), "method": event.get("httpMethod")})
        raise Unauthorized("Unauthorized")
    # API Gateway caches this answer per token for 300 s and reuses it on other routes,
    # so the policy allows the whole stage, not just the method asked for.
    api_arn, stage = event["methodArn"].split("/")[:2]
    return {
        "principalId": "layer0",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": f"{api_arn}/{stage}/*"}],
        },
    }
