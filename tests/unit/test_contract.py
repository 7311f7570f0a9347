"""The API function serves the contract's routes."""

import re

from handlers import api
from handlers.api import docs
from layer0 import contract


def test_the_api_function_serves_exactly_the_contract_routes():
    # The documents' routes are registered on their first request (docs.enable_when_asked), or before a snapshot;
    # without this the test's outcome would depend on whether an earlier test in the process asked for them.
    docs.enable(api.app)
    expected = {f"{route.method}{route.path}" for route in contract.ROUTES}
    # Powertools writes a path parameter as <name>, API Gateway as {name}.
    served = {re.sub(r"<(\w+)>", r"{\1}", key) for key in api.app._route_keys}
    assert served == expected


def test_open_routes_are_health_config_and_the_api_s_description():
    open_routes = {route.path for route in contract.ROUTES if not route.auth}
    assert open_routes == {"/health", "/admin/config", "/openapi.json", "/swagger"}


def test_the_401_makes_no_browser_prompt_for_credentials():
    assert not any(name.lower() == "www-authenticate" for name, _ in contract.NOT_AUTHORIZED.headers)
