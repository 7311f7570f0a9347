"""The API token (docs/compatibility.md#http-conventions): `Authorization: Basic <base64 of user:password>`, compared in
constant time.

The password lives in Secrets Manager as JSON `{"username", "password"}`. Powertools' provider
caches it in the process (no timer: the age is checked on read), through our shared client.
"""

from __future__ import annotations

import base64
import hmac
import json

from aws_lambda_powertools.utilities.parameters import SecretsProvider

from layer0 import aws, settings

SECRET_MAX_AGE_SECONDS = 300

_provider: SecretsProvider | None = None


def token_from_secret(secret: str | bytes) -> str:
    fields = json.loads(secret)
    return base64.b64encode(f"{fields['username']}:{fields['password']}".encode()).decode()


def _expected_token() -> str:
    global _provider
    if _provider is None:
        _provider = SecretsProvider(boto3_client=aws.client("secretsmanager"))
    secret = _provider.get(settings.get().auth_secret_id, max_age=SECRET_MAX_AGE_SECONDS)
    # No transform: the secret's SecretString (or SecretBinary), as stored.
    if not isinstance(secret, str | bytes):
        raise TypeError(f"The auth secret is {type(secret).__name__}, not a JSON document")
    return token_from_secret(secret)


def is_authorized(authorization_header: str | None) -> bool:
    scheme, _, token = (authorization_header or "").strip().partition(" ")
    if scheme.lower() != "basic" or not token:
        return False
    return hmac.compare_digest(token.strip().encode(), _expected_token().encode())
