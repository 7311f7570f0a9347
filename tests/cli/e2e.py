"""What the end-to-end CLI tests share: one local mode (`python -m local`, as a user runs it) for every end-to-end
module a test process runs (the session fixture `local_mode` of tests/cli/conftest.py), and `l0` run in-process
against it with Click's CliRunner. Each module has its own HOME, and names of its own."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from layer0_client.cli import app
from tests.e2e.test_local_mode import LocalMode, free_port

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"  # the original Layer0's smoke-test fixtures
# Local mode's clocks are fast; the original's 5 s between polls would only slow the suite.
POLL_SECONDS = "0.5"


@dataclass
class CLI:
    local: LocalMode
    home: Path

    def env(self) -> dict[str, str]:
        return {
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": "",
            "LAYER0_API_ENDPOINT": self.local.endpoint,
            "LAYER0_AUTH_TOKEN": self.local.token,
            "LAYER0_POLL_SECONDS": POLL_SECONDS,
        }

    def run(self, *args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(app, list(args), input=input, env=self.env(), catch_exceptions=False)

    def __call__(self, *args: str, input: str | None = None) -> Result:
        """The command must succeed (exit status 0), as each step of the original smoke tests must."""
        result = self.run(*args, input=input)
        assert result.exit_code == 0, f"l0 {' '.join(args)}: exit {result.exit_code}\n{result.output}"
        return result

    def json(self, *args: str, input: str | None = None) -> Any:
        return json.loads(self("-o", "json", *args, input=input).stdout)


def start_local_mode() -> Iterator[LocalMode]:
    """A fresh local mode, stopped afterwards (the session fixture `local_mode` of tests/cli/conftest.py)."""
    local = LocalMode(free_port())
    try:
        yield local
    finally:
        local.stop()


def dockerrun_file(directory: Path, fixture: str, **changes: str) -> str:
    """A copy of a fixture Dockerrun with fields of its first container changed."""
    document = json.loads((FIXTURES / fixture).read_text())
    document["containerDefinitions"][0].update(changes)
    path = directory / f"{fixture}.{len(changes)}.{'-'.join(changes.values()).replace('/', '_')}.json"
    path.write_text(json.dumps(document))
    return str(path)


Runner = Callable[..., Result]
