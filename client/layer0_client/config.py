"""Where the CLI finds its API: environment variables and named profiles.

Profiles live in `$XDG_CONFIG_HOME/layer0/config.toml` (default `~/.config/layer0/config.toml`), one table each:

    [prod]
    endpoint = "https://abc.execute-api.us-east-1.amazonaws.com/prod/"
    token = "..."
    skip_version_verify = false
    skip_ssl_verify = false

`l0 --profile prod` takes everything from that profile, and environment variables fill only what it leaves out.
Without `--profile`, the environment variables (`LAYER0_API_ENDPOINT`, `LAYER0_AUTH_TOKEN`,
`LAYER0_SKIP_VERSION_VERIFY`, `LAYER0_SKIP_SSL_VERIFY`) come first, then the profile named by `LAYER0_PROFILE` or
`[default]`, then the original CLI's defaults.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layer0_client.errors import Layer0ClientError

DEFAULT_ENDPOINT = "http://localhost:9090/"
DEFAULT_TOKEN = "bGF5ZXIwOm5vaGF4cGx6"  # the original's default, base64 of layer0:nohaxplz
TRUE = ("1", "true")


@dataclass(frozen=True)
class Settings:
    endpoint: str
    token: str
    skip_version_verify: bool
    skip_ssl_verify: bool
    poll_seconds: float


def config_path(environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".config")
    return Path(base) / "layer0" / "config.toml"


def _profile(environ: Mapping[str, str], name: str | None, required: bool) -> dict[str, Any]:
    path = config_path(environ)
    if not path.is_file():
        if required:
            raise Layer0ClientError(f"Profile '{name}' not found: {path} does not exist")
        return {}
    try:
        document = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise Layer0ClientError(f"Cannot read {path}: {error}") from error
    profile = document.get(name or "default")
    if not isinstance(profile, dict):
        if required:
            raise Layer0ClientError(f"Profile '{name}' not found in {path}")
        return {}
    return profile


def _flag(value: Any) -> bool:
    return value is True or str(value).strip().lower() in TRUE


def load(environ: Mapping[str, str] | None = None, profile: str | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    chosen = _profile(environ, profile or environ.get("LAYER0_PROFILE"), required=bool(profile))
    from_env = {
        "endpoint": environ.get("LAYER0_API_ENDPOINT"),
        "token": environ.get("LAYER0_AUTH_TOKEN"),
        "skip_version_verify": environ.get("LAYER0_SKIP_VERSION_VERIFY"),
        "skip_ssl_verify": environ.get("LAYER0_SKIP_SSL_VERIFY"),
    }
    first, second = (chosen, from_env) if profile else (from_env, chosen)

    def pick(key: str, default: Any) -> Any:
        for source in (first, second):
            if source.get(key) not in (None, ""):
                return source[key]
        return default

    try:
        poll_seconds = float(environ.get("LAYER0_POLL_SECONDS") or 5)
    except ValueError:
        poll_seconds = 5.0
    return Settings(
        endpoint=str(pick("endpoint", DEFAULT_ENDPOINT)),
        token=str(pick("token", DEFAULT_TOKEN)),
        skip_version_verify=_flag(pick("skip_version_verify", False)),
        skip_ssl_verify=_flag(pick("skip_ssl_verify", False)),
        poll_seconds=poll_seconds,
    )
