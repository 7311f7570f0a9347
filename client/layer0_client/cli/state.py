"""What every command shares: the global flags, the client they configure, the printer, the stderr console."""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass, field

import click
import httpx
from rich.console import Console

from layer0_client import API_VERSION, config
from layer0_client.cli.output import Printer
from layer0_client.client import Client
from layer0_client.resolve import Resolver

# Tests swap in an httpx.MockTransport here; None is the network.
TRANSPORT: httpx.BaseTransport | None = None

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """A Go duration (`15m`, `1h30m`, `90s`, `500ms`) in seconds; a bare number is seconds."""
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise click.BadParameter(f"invalid duration '{text}' (e.g. 15m, 1h30m, 90s)")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


@dataclass
class State:
    output: str = "text"
    timeout_text: str = "15m"
    timeout_seconds: float = 15 * 60
    debug: bool = False
    profile: str | None = None
    started: float = field(default_factory=time.monotonic)
    _client: Client | None = None

    @property
    def deadline(self) -> float:
        return self.started + self.timeout_seconds

    @property
    def printer(self) -> Printer:
        return Printer(self.output, sys.stdout, sys.stderr)

    @property
    def console(self) -> Console:
        return Console(stderr=True, highlight=False)

    @property
    def settings(self) -> config.Settings:
        from layer0_client.errors import Layer0ClientError

        try:
            return config.load(profile=self.profile)
        except Layer0ClientError as error:
            raise click.UsageError(str(error)) from error

    @property
    def client(self) -> Client:
        if self._client is None:
            settings = self.settings
            self._client = Client(
                settings.endpoint,
                settings.token,
                expected_version=None if settings.skip_version_verify else API_VERSION,
                verify_ssl=not settings.skip_ssl_verify,
                poll_seconds=settings.poll_seconds,
                transport=TRANSPORT,
                deadline=self.deadline,
                on_request=_debug_log if self.debug else None,
            )
        return self._client

    @property
    def resolver(self) -> Resolver:
        return Resolver(self.client)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _debug_log(request: httpx.Request, response: httpx.Response) -> None:
    """`-d`: each request and answer on stderr, without the token; a secret's value never (its route's body is not
    shown)."""
    body = "" if request.url.path.rstrip("/").endswith("/secret") else request.content.decode(errors="replace")
    sys.stderr.write(f"DEBUG request {request.method} {request.url} {body}\n")
    sys.stderr.write(f"DEBUG response {response.status_code} {response.text}\n")


def state(ctx: click.Context) -> State:
    found = ctx.find_object(State)
    if found is None:  # a command run without the root callback (shell completion)
        found = ctx.ensure_object(State)
    return found
