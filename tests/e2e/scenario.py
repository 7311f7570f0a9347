"""What the docs/compatibility.md#smoke-scenarios scenario tests share: a session on a local mode of its own, and the l0
CLI's habits
(name resolution through `GET /tag`, polling a job every few seconds until it ends)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import requests

from tests.e2e.test_local_mode import LocalMode, free_port

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"  # the original Layer0's smoke-test fixtures
JOB_DEADLINE_SECONDS = 180


def session(*options: str) -> Iterator[requests.Session]:
    """A requests session on a fresh `python -m local` (with these command-line options), stopped afterwards (use as a
    module-scoped fixture)."""
    local = LocalMode(free_port(), *options)
    l0 = requests.Session()
    l0.headers["Authorization"] = f"Basic {local.token}"
    l0.base = local.endpoint
    l0.local = local
    try:
        yield l0
    finally:
        local.stop()


def embedded_aws(l0) -> Callable[[str], Any]:
    """boto3 clients on local mode's embedded AWS (without faults: those are in Layer0's client layer), from the
    endpoint line it prints at start."""
    match = re.search(r"^Embedded AWS \(moto\): (\S+) region (\S+)$", l0.local.output, re.MULTILINE)
    assert match, l0.local.output
    endpoint, region = match.groups()
    return lambda service: boto3.client(
        service, endpoint_url=endpoint, region_name=region, aws_access_key_id="local", aws_secret_access_key="local"
    )


def eventually(check, what: str, seconds: float = JOB_DEADLINE_SECONDS, interval: float = 1.0):
    """Poll `check()` until it is truthy, and return that (local mode's ECS simulation works in passes, about one a
    second); fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(interval)
    return found


def call(l0, method: str, path: str, expected: int = 200, **kwargs) -> requests.Response:
    response = l0.request(method, l0.base + path, timeout=60, **kwargs)
    assert response.status_code == expected, f"{method} {path}: {response.status_code} {response.text}"
    return response


def resolve_all(l0, entity_type: str, target: str, **extra: str) -> list[str]:
    """The CLI's lookup: GET /tag?type=..&fuzz=..; without a trailing `*` only exact id or name matches count."""
    wildcard = target.endswith("*")
    fuzz = target.rstrip("*")
    query = "".join(f"&{key}={value}" for key, value in extra.items())
    entities = call(l0, "GET", f"tag/?type={entity_type}&fuzz={fuzz}{query}").json()
    if wildcard:
        return [e["entity_id"] for e in entities]
    return [
        e["entity_id"]
        for e in entities
        if e["entity_id"] == target or any(t["key"] == "name" and t["value"] == target for t in e["tags"])
    ]


def resolve(l0, entity_type: str, target: str, **extra: str) -> str:
    [entity_id] = resolve_all(l0, entity_type, target, **extra)
    return entity_id


def resolve_deploy(l0, target: str) -> str:
    """`NAME[:VERSION]`, VERSION possibly `latest` (docs/compatibility.md#how-the-cli-builds-its-requests deploy
    scope)."""
    name, _, version = target.partition(":")
    if version == "latest":
        return resolve(l0, "deploy", name, version="latest")
    if version:
        return resolve(l0, "deploy", name, version=version)
    return resolve(l0, "deploy", name)


def wait_for_job(l0, job_id: str, deadline_seconds: float = JOB_DEADLINE_SECONDS) -> dict:
    deadline = time.monotonic() + deadline_seconds
    while True:
        job = call(l0, "GET", f"job/{job_id}").json()
        if job["job_status"] in (3, 4) or time.monotonic() > deadline:
            return job
        time.sleep(1)


def create_environment(l0, name: str, **fields) -> dict:
    body = {"environment_name": name, "instance_size": "m3.medium", "min_cluster_count": 0, "operating_system": "linux"}
    return call(l0, "POST", "environment/", json={**body, **fields}).json()
