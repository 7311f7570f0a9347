"""The API token (docs/compatibility.md#http-conventions): `Authorization: Basic <base64 of user:password>`, compared in
constant time.

The password lives in Secrets Manager as JSON `{"username", "password"}`. Token rotation (README.md#token-rotation)
puts a new version: Secrets Manager labels it AWSCURRENT and the one before it AWSPREVIOUS. API Gateway caches an
authorizer's answer for ROTATION_GRACE_SECONDS, so a client keeps getting through on the old token that long anyway;
the authorizer accepts the AWSPREVIOUS token too, but only until ROTATION_GRACE_SECONDS after the AWSCURRENT
version was created, so that no client is cut off mid-rotation and the old token stops working soon after.

Each stage's value is cached in the process for SECRET_MAX_AGE_SECONDS (no timer: the age is checked on read), with
the version's creation date, which Powertools' secrets provider does not return.
"""

from __future__ import annotations

import base64
import datetime
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from layer0 import aws, settings

SECRET_MAX_AGE_SECONDS = 300
# The authorizer cache's TTL (infra/api.py, AUTHORIZER_CACHE_TTL): how long the previous token stays valid.
ROTATION_GRACE_SECONDS = 300
CURRENT, PREVIOUS = "AWSCURRENT", "AWSPREVIOUS"
NEW_PASSWORD_BYTES = 24

Clock = Callable[[], float]


@dataclass(frozen=True)
class _Version:
    token: str | None  # None: the stage labels no version (a secret never rotated has no AWSPREVIOUS)
    created: float  # epoch seconds
    read_at: float


# (secret id, stage) -> its version; the id is the secret's ARN on AWS, unique to each secret.
_cache: dict[tuple[str, str], _Version] = {}
_lock = threading.Lock()


def token_from_secret(secret: str | bytes) -> str:
    fields = json.loads(secret)
    return base64.b64encode(f"{fields['username']}:{fields['password']}".encode()).decode()


def _read(secret_id: str, stage: str, now: float) -> _Version:
    client = aws.client("secretsmanager")
    try:
        found = client.get_secret_value(SecretId=secret_id, VersionStage=stage)
    except client.exceptions.ResourceNotFoundException:
        if stage == CURRENT:
            raise
        return _Version(token=None, created=0.0, read_at=now)
    # The secret's SecretString (or SecretBinary), as stored.
    value = found.get("SecretString") or found.get("SecretBinary")
    if not isinstance(value, str | bytes):
        raise TypeError(f"The auth secret is {type(value).__name__}, not a JSON document")
    created = found.get("CreatedDate")
    created_at = created.timestamp() if isinstance(created, datetime.datetime) else 0.0
    return _Version(token=token_from_secret(value), created=created_at, read_at=now)


def _version(stage: str, now: float) -> _Version:
    key = (settings.get().auth_secret_id, stage)
    with _lock:
        cached = _cache.get(key)
    if cached is not None and 0 <= now - cached.read_at < SECRET_MAX_AGE_SECONDS:
        return cached
    version = _read(*key, now)
    with _lock:
        _cache[key] = version
    return version


def _matches(token: str, expected: str | None) -> bool:
    return expected is not None and hmac.compare_digest(token.encode(), expected.encode())


def is_authorized(authorization_header: str | None, now: Clock = time.time) -> bool:
    scheme, _, token = (authorization_header or "").strip().partition(" ")
    if scheme.lower() != "basic" or not token:
        return False
    token = token.strip()
    moment = now()
    current = _version(CURRENT, moment)
    if _matches(token, current.token):
        return True
    if moment - current.created >= ROTATION_GRACE_SECONDS:
        return False
    # Rotated less than one authorizer-cache period ago: the previous token still gets through.
    return _matches(token, _version(PREVIOUS, moment).token)


def rotate(secret_id: str) -> str:
    """Put a new AWSCURRENT version of the auth secret: the same username, a new random password. Secrets Manager
    moves AWSPREVIOUS to the version that was current. Returns the new version's id (never the token)."""
    client = aws.client("secretsmanager")
    fields = json.loads(client.get_secret_value(SecretId=secret_id, VersionStage=CURRENT)["SecretString"])
    fields["password"] = secrets.token_urlsafe(NEW_PASSWORD_BYTES)
    return client.put_secret_value(SecretId=secret_id, SecretString=json.dumps(fields))["VersionId"]


def forget() -> None:
    """Drop the cached versions (a new process starts with none)."""
    with _lock:
        _cache.clear()
