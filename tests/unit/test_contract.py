"""The API function, the local gateway and CDK agree on the routes and the CORS policy."""

import re

from handlers import api
from infra import contract


def test_the_api_function_serves_exactly_the_contract_routes():
    expected = {f"{route.method}{route.path}" for route in contract.ROUTES}
    # Powertools writes a path parameter as <name>, API Gateway as {name}.
    served = {re.sub(r"<(\w+)>", r"{\1}", key) for key in api.app._route_keys}
    assert served == expected


def test_the_api_function_uses_the_contract_cors_policy():
    assert api.CORS._allowed_origins == [contract.CORS_ALLOW_ORIGIN]
    assert set(contract.CORS_ALLOW_HEADERS) <= api.CORS.allow_headers
    assert api.CORS.expose_headers == list(contract.CORS_EXPOSE_HEADERS)
    assert api.CORS.allow_credentials is False


def test_open_routes_are_only_health_and_config():
    assert {route.path for route in contract.ROUTES if not route.auth} == {"/health", "/admin/config"}
