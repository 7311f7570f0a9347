"""The CLI tests' tools: `l0` run in-process with Click's CliRunner, against a fake API (an httpx MockTransport) for the
unit tests, or against one local mode per test process for the end-to-end ones (tests/cli/e2e.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from layer0_client import API_VERSION
from layer0_client.cli import app
from layer0_client.cli import state as cli_state

ENDPOINT = "http://l0.test/"
TOKEN = "dGVzdDp0ZXN0"

Answer = tuple[int, Any] | tuple[int, Any, dict[str, str]] | Callable[[httpx.Request], httpx.Response]


def answer(status: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    content = b"" if body is None else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers={"Version": API_VERSION, **(headers or {})})


@dataclass
class FakeAPI:
    """Answers by (method, path); `GET /tag` from `entities` (type -> [(id, name, extra tags)]) with the API's
    fuzz semantics. Records every request."""

    routes: dict[tuple[str, str], Answer] = field(default_factory=dict)
    entities: dict[str, list[tuple[str, str, dict[str, str]]]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, path: str, *responses: Answer) -> None:
        """One answer, or a sequence given in turn (the last one repeats)."""
        queue = list(responses)

        def next_answer(request: httpx.Request) -> httpx.Response:
            item = queue.pop(0) if len(queue) > 1 else queue[0]
            if callable(item):
                return item(request)
            return answer(*item)

        self.routes[(method, path)] = next_answer

    def entity(self, entity_type: str, entity_id: str, name: str, **tags: str) -> None:
        self.entities.setdefault(entity_type, []).append((entity_id, name, tags))

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if request.method == "GET" and path == "/tag":
            return self._tags(request)
        handler = self.routes.get((request.method, path))
        if handler is None:
            return answer(404, {"error_code": 21, "message": f"No route for {request.method} {path}"})
        assert callable(handler)
        return handler(request)

    def _tags(self, request: httpx.Request) -> httpx.Response:
        query = dict(request.url.params)
        fuzz = query.pop("fuzz", "")
        entity_type = query.pop("type")
        found = []
        for entity_id, name, tags in self.entities.get(entity_type, []):
            if fuzz and not (entity_id.startswith(fuzz) or name.startswith(fuzz)):
                continue
            if any(tags.get(key) != value for key, value in query.items() if key != "version"):
                continue
            all_tags = [{"entity_type": entity_type, "entity_id": entity_id, "key": "name", "value": name}]
            all_tags += [
                {"entity_type": entity_type, "entity_id": entity_id, "key": k, "value": v} for k, v in tags.items()
            ]
            found.append({"entity_type": entity_type, "entity_id": entity_id, "tags": all_tags})
        return answer(200, found)

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]

    def body(self, method: str, path: str, index: int = -1) -> Any:
        return json.loads(self.sent(method, path)[index].content)


@pytest.fixture
def api(monkeypatch) -> FakeAPI:
    fake = FakeAPI()
    monkeypatch.setattr(cli_state, "TRANSPORT", httpx.MockTransport(fake.handle))
    return fake


@pytest.fixture
def l0(tmp_path) -> Callable[..., Result]:
    """`l0(*args, input=..., env=...)`: the CLI in-process, with its own HOME and no poll interval."""

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        environ = {
            "HOME": str(tmp_path),
            "XDG_CONFIG_HOME": "",
            "LAYER0_API_ENDPOINT": ENDPOINT,
            "LAYER0_AUTH_TOKEN": TOKEN,
            "LAYER0_POLL_SECONDS": "0",
            **(env or {}),
        }
        return CliRunner().invoke(app, list(args), input=input, env=environ, catch_exceptions=False)

    return run


@pytest.fixture(scope="session")
def local_mode() -> Iterator[Any]:
    """One `python -m local` for every end-to-end module this process runs (pytest-xdist gives a worker whole
    files): started by the first test that needs it, stopped at the end of the session. A start costs seconds."""
    from tests.cli.e2e import start_local_mode

    yield from start_local_mode()
