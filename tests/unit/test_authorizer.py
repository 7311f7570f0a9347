"""The REQUEST authorizer (docs/compatibility.md#http-conventions, docs/architecture.md#shape-on-aws): `Authorization:
Basic <token>` or API Gateway's 401."""

from __future__ import annotations

import base64
import hmac
import json
import logging
import sys

import pytest

from handlers import authorizer
from layer0 import auth, aws, settings
from tests.conftest import LambdaContext, setup_client

API = "arn:aws:execute-api:us-west-2:123456789012:abc123"
METHOD_ARN = f"{API}/api/GET/tag"
ORIGINAL_DEFAULT_TOKEN = "bGF5ZXIwOm5vaGF4cGx6"  # layer0:nohaxplz, the original's default


@pytest.fixture(autouse=True)
def fresh_secret_cache():
    """The secret cache is module-global: each test starts cold, like a new Lambda container."""
    auth.forget()
    yield
    auth.forget()


def event(headers: dict[str, str] | None) -> dict:
    """A REQUEST authorizer event, as API Gateway sends it for `GET /tag`."""
    return {
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "resource": "/tag",
        "path": "/tag",
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {key: [value] for key, value in (headers or {}).items()} or None,
        "queryStringParameters": {"type": "environment"},
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "stage": "api",
            "resourcePath": "/tag",
            "httpMethod": "GET",
            "path": "/api/tag",
            "requestId": "req-1",
            "identity": {"sourceIp": "127.0.0.1"},
        },
    }


def authorize(headers: dict[str, str] | None) -> dict:
    return authorizer.handler(event(headers), LambdaContext())


def assert_unauthorized(headers: dict[str, str] | None) -> None:
    with pytest.raises(Exception) as raised:
        authorize(headers)
    # API Gateway answers 401 only when the authorizer fails with exactly this message.
    assert str(raised.value) == "Unauthorized"


def assert_allows_the_stage(policy: dict) -> None:
    assert policy == {
        "principalId": "layer0",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": f"{API}/api/*"}],
        },
    }


@pytest.mark.parametrize("header", ["Authorization", "authorization", "AUTHORIZATION"])
def test_the_token_is_allowed_on_the_whole_stage(stack, header):
    assert_allows_the_stage(authorize({header: f"Basic {stack}", "Accept": "application/json"}))


def test_the_allow_policy_does_not_depend_on_the_route(stack):
    # API Gateway caches the answer per token and reuses it on other routes.
    other = event({"Authorization": f"Basic {stack}"})
    other["methodArn"] = f"{API}/api/DELETE/environment/envabc123456"
    assert_allows_the_stage(authorizer.handler(other, LambdaContext()))


@pytest.mark.parametrize(
    "headers",
    [
        None,
        {},
        {"Accept": "application/json"},
        {"Authorization": ""},
        {"Authorization": "Basic"},
        {"Authorization": "Basic "},
        {"Authorization": f"Basic {ORIGINAL_DEFAULT_TOKEN}"},
        {"Authorization": "Basic d3Jvbmc6dG9rZW4="},
    ],
    ids=["no-headers", "empty-headers", "no-authorization", "empty", "basic-alone", "basic-space", "default", "wrong"],
)
def test_anything_but_the_token_is_unauthorized(stack, headers):
    assert_unauthorized(headers)


def test_the_token_under_another_scheme_is_unauthorized(stack):
    assert_unauthorized({"Authorization": f"Bearer {stack}"})
    assert_unauthorized({"Authorization": stack})


def test_a_token_that_only_starts_like_the_right_one_is_unauthorized(stack):
    assert_unauthorized({"Authorization": f"Basic {stack[:-1]}"})
    assert_unauthorized({"Authorization": f"Basic {stack}x"})


def test_the_token_is_compared_in_constant_time(stack, monkeypatch):
    decisions: list[bool] = []
    real = hmac.compare_digest

    def spy(a, b):
        result = real(a, b)
        decisions.append(result)
        return result

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)

    assert_allows_the_stage(authorize({"Authorization": f"Basic {stack}"}))
    assert_unauthorized({"Authorization": f"Basic {ORIGINAL_DEFAULT_TOKEN}"})
    assert decisions == [True, False]

    # With the spy overruling the comparison, the handler follows it: compare_digest is what decides.
    monkeypatch.setattr(auth.hmac, "compare_digest", lambda a, b: False)
    assert_unauthorized({"Authorization": f"Basic {stack}"})


def test_the_token_never_reaches_the_logs(stack, capsys, caplog, monkeypatch):
    password = base64.b64decode(stack).decode().split(":", 1)[1]
    # Powertools' handler holds the stdout of import time: point it at the captured one. Our own loggers
    # log everything; the rest at INFO (botocore's DEBUG wire log prints every response body, secrets included).
    monkeypatch.setattr(authorizer.logger.registered_handler, "stream", sys.stdout)
    level = authorizer.logger.log_level
    authorizer.logger.setLevel(logging.DEBUG)
    caplog.set_level(logging.INFO)
    for name in ("layer0", "handlers", authorizer.logger.name):
        caplog.set_level(logging.DEBUG, logger=name)
    try:
        authorize({"Authorization": f"Basic {stack}"})
        assert_unauthorized({"Authorization": f"Bearer {stack}"})
        assert_unauthorized({"Authorization": f"Basic {stack}x"})
    finally:
        authorizer.logger.setLevel(level)

    captured = capsys.readouterr()
    logged = "\n".join([captured.out, captured.err, caplog.text, *(repr(r.__dict__) for r in caplog.records)])
    assert "Denied" in logged  # the capture sees the authorizer's log lines
    assert stack not in logged
    assert password not in logged


def test_the_secret_is_read_once_and_cached(stack):
    reads: list[str] = []
    events = aws.client("secretsmanager").meta.events
    events.register(
        "before-parameter-build.secrets-manager.GetSecretValue",
        lambda params, **_: reads.append(params["VersionStage"]),
        unique_id="count-reads",
    )
    try:
        for _ in range(3):
            assert_allows_the_stage(authorize({"Authorization": f"Basic {stack}"}))
        assert_unauthorized({"Authorization": f"Basic {ORIGINAL_DEFAULT_TOKEN}"})
        assert_allows_the_stage(authorize({"Authorization": f"Basic {stack}"}))
    finally:
        events.unregister("before-parameter-build.secrets-manager.GetSecretValue", unique_id="count-reads")
    # The current version once; the previous one once too, when a wrong token comes while the current version is
    # younger than one authorizer-cache period (this secret was just created, and has no previous version).
    assert reads == ["AWSCURRENT", "AWSPREVIOUS"]


def test_the_password_stays_out_of_logs_even_at_debug(stack, monkeypatch, caplog):
    """botocore logs response bodies at DEBUG; the client layer keeps those loggers quiet."""
    import logging

    from layer0 import auth

    auth.forget()
    with caplog.at_level(logging.DEBUG):
        assert auth.is_authorized(f"Basic {stack}")
    password = base64.b64decode(stack).decode().split(":", 1)[1]
    assert password not in caplog.text
    assert stack not in caplog.text


# --- token rotation (README.md#token-rotation) ------------------------------------------------------------------------


def _rotate() -> tuple[str, float]:
    """`make rotate-token`: a new AWSCURRENT version. Returns the new token and when that version was created."""
    secret_id = settings.get().auth_secret_id
    version_id = auth.rotate(secret_id)
    current = setup_client("secretsmanager").get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")
    assert current["VersionId"] == version_id
    return auth.token_from_secret(current["SecretString"]), current["CreatedDate"].timestamp()


def test_rotation_keeps_the_previous_version_and_changes_only_the_password(stack):
    secret_id = settings.get().auth_secret_id
    secretsmanager = setup_client("secretsmanager")
    before = secretsmanager.get_secret_value(SecretId=secret_id)
    new_token, _created = _rotate()
    previous = secretsmanager.get_secret_value(SecretId=secret_id, VersionStage="AWSPREVIOUS")
    assert previous["VersionId"] == before["VersionId"]
    assert auth.token_from_secret(previous["SecretString"]) == stack
    old_fields, new_fields = json.loads(before["SecretString"]), json.loads(
        secretsmanager.get_secret_value(SecretId=secret_id)["SecretString"]
    )
    assert new_fields["username"] == old_fields["username"]
    assert new_fields["password"] != old_fields["password"] and len(new_fields["password"]) >= 32
    assert new_token != stack


def test_right_after_a_rotation_both_tokens_get_through_the_authorizer(stack):
    new_token, _created = _rotate()
    assert_allows_the_stage(authorize({"Authorization": f"Basic {new_token}"}))
    # A client that has not fetched the new token yet is not cut off.
    assert_allows_the_stage(authorize({"Authorization": f"Basic {stack}"}))
    assert_unauthorized({"Authorization": f"Basic {ORIGINAL_DEFAULT_TOKEN}"})


def test_the_previous_token_is_accepted_for_one_authorizer_cache_period_only(stack):
    new_token, created = _rotate()
    assert auth.ROTATION_GRACE_SECONDS == 300  # API Gateway's authorizer cache (infra/api.py)

    def at(seconds: float):
        return lambda: created + seconds

    assert auth.is_authorized(f"Basic {stack}", now=at(10))
    assert auth.is_authorized(f"Basic {stack}", now=at(auth.ROTATION_GRACE_SECONDS - 1))
    assert not auth.is_authorized(f"Basic {stack}", now=at(auth.ROTATION_GRACE_SECONDS))
    assert not auth.is_authorized(f"Basic {stack}", now=at(auth.ROTATION_GRACE_SECONDS + 3600))
    assert auth.is_authorized(f"Basic {new_token}", now=at(auth.ROTATION_GRACE_SECONDS + 3600))
    # A cold container after the period refuses it as well.
    auth.forget()
    assert not auth.is_authorized(f"Basic {stack}", now=at(auth.ROTATION_GRACE_SECONDS + 1))
    assert auth.is_authorized(f"Basic {new_token}", now=at(auth.ROTATION_GRACE_SECONDS + 1))


def test_two_rotations_leave_only_the_latest_two_tokens(stack):
    second, _ = _rotate()
    third, created = _rotate()
    soon = lambda: created + 1  # noqa: E731
    assert auth.is_authorized(f"Basic {third}", now=soon)
    assert auth.is_authorized(f"Basic {second}", now=soon)
    assert not auth.is_authorized(f"Basic {stack}", now=soon)


def test_rotation_and_the_grace_period_log_no_token(stack, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    new_token, created = _rotate()
    for token, seconds in ((stack, 5), (new_token, 5), (stack, 900), (f"{stack}x", 5)):
        auth.is_authorized(f"Basic {token}", now=lambda seconds=seconds: created + seconds)
    captured = capsys.readouterr()
    logged = "\n".join([captured.out, captured.err, caplog.text, *(repr(r.__dict__) for r in caplog.records)])
    for token in (stack, new_token):
        assert token not in logged
        assert base64.b64decode(token).decode().split(":", 1)[1] not in logged
