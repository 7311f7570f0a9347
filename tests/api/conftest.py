"""Routes are tested over HTTP through the local gateway, with moto in process behind it."""

from __future__ import annotations

import threading

import pytest
import requests

from layer0 import settings
from local.gateway import Gateway, http_server


class Api:
    """An HTTP client for the API under test: `api.get(path)` sends the token, `api.anonymous` does not."""

    def __init__(self, url: str, token: str):
        self.url = url
        self.token = token
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Basic {token}"
        self.anonymous = requests.Session()

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, self.url + path.lstrip("/"), timeout=30, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def api(stack):
    from handlers import api as api_function
    from handlers import authorizer

    gateway = Gateway(api_function.handler, authorizer.handler, settings.get().api_version)
    server = http_server(gateway, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Api(f"http://127.0.0.1:{server.server_address[1]}/", stack)
    finally:
        server.shutdown()
        server.server_close()
