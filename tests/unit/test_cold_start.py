"""Cold start (docs/architecture.md#cold-start): the API function imports no X-Ray recorder with tracing off, and
Powertools' OpenAPI models only for the OpenAPI documents; SnapStart's hooks prepare the snapshot and renew what each
restored container must not share."""

from __future__ import annotations

import gc
import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from handlers import snapstart
from layer0 import auth, aws
from layer0.aws import TokenBucket

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"

# A stand-in for the Lambda runtime's `snapshot_restore_py`: records what registers, and runs the hooks as the
# runtime does around a snapshot.
FAKE_RUNTIME_HOOKS = """
before, after = [], []

def register_before_snapshot(func, *args, **kwargs):
    before.append((func, args, kwargs))
    return func

def register_after_restore(func, *args, **kwargs):
    after.append((func, args, kwargs))
    return func
"""


def fresh_python(code: str, env: dict[str, str], extra_path: Path | None = None) -> dict:
    """Run `code` in a new interpreter with only `functions/` (and `extra_path`) on its path, as the asset; it
    prints one JSON line."""
    path = [str(FUNCTIONS)] + ([str(extra_path)] if extra_path else [])
    environment = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": ":".join(path),
        "AWS_REGION": "us-west-2",
        "AWS_DEFAULT_REGION": "us-west-2",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        **env,
    }
    result = subprocess.run(
        [sys.executable, "-c", code], env=environment, cwd=FUNCTIONS, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


IMPORT_HANDLERS = """
import json, sys
from handlers import api, steps
print(json.dumps({
    "xray_core": "aws_xray_sdk.core" in sys.modules,
    "provider": type(api.tracer.provider).__module__,
    "steps_provider": type(steps.tracer.provider).__module__,
}))
"""


def test_with_tracing_off_no_handler_imports_the_xray_recorder():
    found = fresh_python(IMPORT_HANDLERS, {"POWERTOOLS_TRACE_DISABLED": "true"})
    assert found == {
        "xray_core": False,
        "provider": "handlers.observability",
        "steps_provider": "handlers.observability",
    }


def test_outside_lambda_tracing_is_off_as_powertools_decides():
    found = fresh_python(IMPORT_HANDLERS, {})
    assert found["xray_core"] is False


def test_in_lambda_with_tracing_on_the_tracer_is_x_ray(tmp_path):
    found = fresh_python(IMPORT_HANDLERS, {"LAMBDA_TASK_ROOT": str(FUNCTIONS), "POWERTOOLS_TRACE_DISABLED": "false"})
    assert found["xray_core"] is True
    assert found["provider"].startswith("aws_xray_sdk")


@pytest.mark.parametrize(
    ("function", "clients"),
    [("api", sorted(snapstart.API_SERVICES)), ("authorizer", ["secretsmanager"])],
)
def test_the_functions_on_snapstart_register_the_hooks_with_the_runtime(tmp_path, function, clients):
    (tmp_path / "snapshot_restore_py.py").write_text(FAKE_RUNTIME_HOOKS)
    code = f"""
import gc, json, sys
import snapshot_restore_py as runtime
from handlers import {function}
from layer0 import aws
registered = {{"before": [f.__name__ for f, _, _ in runtime.before], "after": [f.__name__ for f, _, _ in runtime.after]}}
for func, args, kwargs in runtime.before:
    func(*args, **kwargs)
models = "aws_lambda_powertools.event_handler.openapi.models" in sys.modules
print(json.dumps({{**registered, "clients": sorted(aws._clients), "openapi_models": models,
                  "frozen": gc.get_freeze_count() > 0}}))
"""
    found = fresh_python(code, {"POWERTOOLS_TRACE_DISABLED": "true"}, extra_path=tmp_path)
    assert found["before"] == ["before_snapshot"]
    assert found["after"] == ["after_restore"]
    assert found["clients"] == clients
    assert found["frozen"] is True
    # The API's OpenAPI documents are in its snapshot too; the authorizer has none.
    assert found["openapi_models"] is (function == "api")


DOCUMENTS_ON_DEMAND = """
import json, sys
from handlers import api

class Context:
    function_name, memory_limit_in_mb, aws_request_id = "l0-test-api", 1024, "r-1"
    invoked_function_arn = "arn:aws:lambda:us-west-2:123456789012:function:l0-test-api"

def get(path):
    event = {"httpMethod": "GET", "path": path, "resource": path, "headers": {}, "multiValueHeaders": {},
             "queryStringParameters": None, "requestContext": {"requestId": "r-1", "stage": "api"}, "body": None}
    return api.handler(event, Context())

MODELS = "aws_lambda_powertools.event_handler.openapi.models"
health = get("/health")
before = MODELS in sys.modules
idempotency = "aws_lambda_powertools.utilities.idempotency" in sys.modules
document = get("/openapi.json")
print(json.dumps({"health": health["statusCode"], "models_before": before, "document": document["statusCode"],
                  "paths": sorted(json.loads(document["body"])["paths"]), "models_after": MODELS in sys.modules,
                  "idempotency": idempotency}))
"""


def test_openapi_models_load_only_for_the_documents_and_idempotency_only_for_a_key():
    found = fresh_python(DOCUMENTS_ON_DEMAND, {"POWERTOOLS_TRACE_DISABLED": "true"})
    assert found["health"] == 200
    assert found["models_before"] is False
    assert found["idempotency"] is False  # Powertools' Idempotency: with the first Idempotency-Key
    assert found["document"] == 200
    assert "/environment" in found["paths"] and "/openapi.json" not in found["paths"]
    assert found["models_after"] is True


def test_api_services_are_the_services_the_domain_calls_but_the_authorizers():
    called = set()
    for path in (FUNCTIONS / "layer0").rglob("*.py"):
        called |= set(re.findall(r'aws\.client\("([a-z0-9-]+)"\)', path.read_text()))
    assert set(snapstart.API_SERVICES) == called - {"secretsmanager"}


def test_before_snapshot_runs_the_warm_ups_creates_the_clients_and_freezes_them():
    aws.reset()
    warmed = []
    try:
        snapstart.before_snapshot(warm_ups=(lambda: warmed.append(1),), services=("ecs", "dynamodb"))
        assert warmed == [1]
        assert sorted(aws._clients) == ["dynamodb", "ecs"]
        assert gc.get_freeze_count() > 0
        assert len(gc.get_objects(generation=2)) == 0  # everything alive went to the permanent generation
    finally:
        gc.unfreeze()  # the rest of this test process collects as usual
        aws.reset()


class FakeClock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize("restored", [True, False])
def test_after_restore_restarts_the_token_buckets_clock(monkeypatch, restored):
    clock = FakeClock(now=5_000.0)
    bucket = TokenBucket(rate=10, burst=2, clock=clock, sleep=clock.sleep)
    monkeypatch.setitem(aws._limiters, "ecs", bucket)
    for _ in range(2):
        assert bucket.acquire() == 0  # the snapshot's init used the burst
    clock.now = 40.0  # the restored host's monotonic clock: started later than the snapshot's host's
    if restored:
        snapstart.after_restore()
        assert bucket.acquire() == 0  # a full burst
    else:
        assert bucket.acquire() > 100  # the bucket would wait for a clock that went back
    monkeypatch.delitem(aws._limiters, "ecs")


def test_after_restore_reseeds_random():
    random.seed(13)
    snapshot_draw = random.random()
    random.seed(13)  # every container restored from one snapshot starts from the same state
    snapstart.after_restore()
    assert random.random() != snapshot_draw


def test_after_restore_forgets_the_cached_secret(monkeypatch):
    reads = []

    def read(secret_id: str, stage: str, now: float):
        reads.append(stage)
        return auth._Version(token="dG9rZW4=", created=0.0, read_at=now)

    monkeypatch.setattr(auth, "_read", read)
    monkeypatch.setenv("LAYER0_AUTH_SECRET_ID", "arn:aws:secretsmanager:us-west-2:123456789012:secret:l0-auth")
    auth.forget()
    assert auth.is_authorized("Basic dG9rZW4=", now=lambda: 1000.0)
    assert auth.is_authorized("Basic dG9rZW4=", now=lambda: 1001.0)
    assert reads == [auth.CURRENT]  # cached
    snapstart.after_restore()
    assert auth.is_authorized("Basic dG9rZW4=", now=lambda: 1002.0)
    assert reads == [auth.CURRENT, auth.CURRENT]
    auth.forget()


def test_every_client_comes_from_one_session(monkeypatch):
    """botocore loads its endpoint and retry data once per session: the second client must not load them again."""
    import boto3.session

    sessions = []
    original = boto3.session.Session.__init__

    def counting(session, *args, **kwargs):
        sessions.append(session)
        original(session, *args, **kwargs)

    aws.reset()
    monkeypatch.setattr(boto3.session.Session, "__init__", counting)
    aws.client("ecs")
    aws.client("dynamodb")
    assert len(sessions) == 1
    aws.reset()


@pytest.mark.parametrize("function", ["api", "authorizer", "steps", "scaler", "events"])
def test_each_functions_init_runs_without_the_collector_and_freezes_what_it_made(function):
    found = fresh_python(
        f"""
import gc, json
collections = []
gc.callbacks.append(lambda phase, info: phase == "start" and collections.append(info["generation"]))
from handlers import {function}
tracked = len(gc.get_objects())
print(json.dumps({{"enabled": gc.isenabled(), "collections": collections, "frozen": gc.get_freeze_count(),
                  "tracked": tracked}}))
""",
        {"POWERTOOLS_TRACE_DISABLED": "true"},
    )
    assert found["enabled"] is True
    # A few young ones, before the pause (importing handlers/cold_start.py) or after the freeze (the module's own
    # classes); an import with the collector on makes about a hundred, ten of them older or full ones.
    assert found["collections"].count(0) <= 3 and set(found["collections"]) <= {0}, found["collections"]
    # The init's objects (tens of thousands) are in the permanent generation; the collector's generations hold only
    # what was made since.
    assert found["frozen"] > 20_000
    assert found["tracked"] < found["frozen"] / 10


def test_a_failed_init_leaves_the_collector_on_and_freezes_nothing():
    from handlers.cold_start import long_lived_init

    frozen = gc.get_freeze_count()
    with pytest.raises(ImportError), long_lived_init():
        import no_such_module  # noqa: F401

    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen
