"""Fuzzing driven by our own OpenAPI document (issue 6): schemathesis reads `GET /openapi.json` from local mode
(`python -m local` in a subprocess: real HTTP, the real gateway, authorizer and handler, moto behind them) and
sends generated requests, valid and invalid, to every route.

Every answer must be no 5xx, a status the document lists for that route, and a body (and headers) matching the
documented schema. Seeded state (an environment, a deploy, a classic load balancer, a service, a task and a
secret) lets half of the examples use real ids, so the routes reach past their 404s. Deletes run after everything else, the
environment's last (its job deletes what is in it).
"""

from __future__ import annotations

import base64
import resource

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from layer0.contract import ROUTES
from tests.e2e.scenario import FIXTURES, call, create_environment, session, wait_for_job

# Examples per route, sized for CI: the module takes about 90 s on 2 shared cores (40 s of it local mode and seeding).
EXAMPLES_PER_ROUTE = 12
TASK_START_SECONDS = 120

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_ROUTE,
    deadline=None,
    derandomize=True,  # the same requests on every CI run: a failure is reproducible, never flaky
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: the failure report names the request as sent
    suppress_health_check=list(HealthCheck),
)


# A hang guard, not a timing check. `GET /service/{id}/logs` lists up to 1,000 of the log group's streams at
# CloudWatch Logs' paced rate (docs/operations.md#pacing), and by then this module's tasks have made many: on the
# loaded 2-core machine of the full suite one such request took over 60 s, and local mode's API function, which
# answers one request at a time as a Lambda container does, kept the next requests waiting behind it.
REQUEST_TIMEOUT = 180

# Local mode's address space is capped: a request that makes it grow without bound (it happened: a billion pending
# copies) fails the suite instead of the machine.
LOCAL_MODE_MEMORY_BYTES = 4 * 1024**3


@pytest.fixture(scope="module")
def l0():
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    # Lowered only while local mode starts: the child keeps it, this process gets its own back.
    resource.setrlimit(resource.RLIMIT_AS, (LOCAL_MODE_MEMORY_BYTES, hard))
    try:
        started = session()
        l0 = next(started)
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    yield l0
    started.close()


@pytest.fixture(scope="module")
def seeded(l0) -> dict[str, str]:
    """Ids of real entities, by the path parameter or body key that takes them."""
    environment = create_environment(l0, "fuzzenv")["environment_id"]
    other_environment = create_environment(l0, "fuzzlink")["environment_id"]
    # A Fargate environment (docs/compatibility.md#fargate-environments): half the seeded cases use it instead.
    fargate = call(
        l0, "POST", "environment/", json={"environment_name": "fuzzfargate", "environment_type": "fargate"}
    ).json()["environment_id"]
    dockerrun = base64.b64encode((FIXTURES / "Task.Dockerrun.aws.json").read_bytes()).decode()
    deploy = call(l0, "POST", "deploy/", json={"deploy_name": "fuzzdeploy", "dockerrun": dockerrun}).json()["deploy_id"]
    load_balancer = call(
        l0, "POST", "loadbalancer/", json={"load_balancer_name": "fuzzlb", "environment_id": environment}
    ).json()["load_balancer_id"]
    service = call(
        l0,
        "POST",
        "service/",
        json={"service_name": "fuzzsvc", "environment_id": environment, "deploy_id": deploy},
    ).json()["service_id"]
    job = call(
        l0,
        "POST",
        "task/",
        expected=202,
        json={"task_name": "fuzztask", "environment_id": environment, "deploy_id": deploy},
    ).headers["X-JobID"]
    secret = call(l0, "POST", "secret/", json={"secret_name": "fuzzsecret", "value": "fuzz"}).json()["secret_name"]
    finished = wait_for_job(l0, job, TASK_START_SECONDS)
    assert finished["job_status"] == 3, f"the seed task's job did not succeed: {finished}"
    return {
        "environment": environment,
        "dest_id": other_environment,
        "deploy": deploy,
        "loadbalancer": load_balancer,
        "service": service,
        "task": finished["meta"]["task_id"],
        "job": job,
        "admin": environment,  # PUT /admin/scale/{id} takes an environment id
        "fargate": fargate,
        "secret": secret,  # DELETE /secret/{name}
    }


@pytest.fixture(scope="module")
def openapi(l0, seeded):
    # From the running API, as a client would read it.
    return schemathesis.openapi.from_url(l0.base + "openapi.json", headers=dict(l0.headers), timeout=30)


BODY_IDS = {"environment_id": "environment", "deploy_id": "deploy", "load_balancer_id": "loadbalancer"}
# Every route of the contract but the documentation's own; deletes last, the environment's very last.
FUZZED = sorted(
    (route for route in ROUTES if route.path not in ("/openapi.json", "/swagger")),
    key=lambda route: (route.method == "DELETE", (route.method, route.path) == ("DELETE", "/environment/{id}")),
)


# Scaling the seeded service to thousands (up to 5000 is valid) makes local mode's ECS simulation run thousands of
# tasks: minutes of CPU, and under that load moto's CloudWatch Logs, which is not thread-safe, answers
# GET /service/{id}/logs' DescribeLogStreams with a 500 ("dictionary changed size during iteration"). Larger counts
# still reach validation, and a generated id.
SEEDED_SCALE_MAX = 10


def _scales_too_far(case) -> bool:
    """A scale, or an autoscaling minimum (the simulated Application Auto Scaling raises the count to it), above
    SEEDED_SCALE_MAX."""
    field = {"/service/{id}/scale": "desired_count", "/service/{id}/autoscaling": "min_count"}.get(case.path)
    if field is None or not isinstance(case.body, dict):
        return False
    count = case.body.get(field)
    return isinstance(count, int) and count > SEEDED_SCALE_MAX


def use_seeded_ids(case, seeded: dict[str, str], fargate: bool = False) -> None:
    """Put real ids where the generated ones would only ever find nothing; with `fargate`, the Fargate
    environment's wherever an environment's id goes."""
    if _scales_too_far(case):
        return
    if fargate:
        seeded = {**seeded, "environment": seeded["fargate"], "admin": seeded["fargate"]}
    kind = case.path.strip("/").split("/")[0]
    for name in list(case.path_parameters or {}):
        key = "dest_id" if name == "dest_id" else kind
        if key in seeded:
            case.path_parameters[name] = seeded[key]
    if isinstance(case.body, dict):
        for field, key in BODY_IDS.items():
            if field in case.body:
                case.body[field] = seeded[key]


def cases(operation):
    """Valid requests and, where the document constrains something, invalid ones."""
    return st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))


# One Hypothesis test per route, built here: schemathesis' own pytest loader (`schemathesis.pytest.from_fixture`)
# sets `Node._nodeid`, which pytest 9 no longer has.
@pytest.mark.parametrize("route", FUZZED, ids=[f"{route.method} {route.path}" for route in FUZZED])
def test_route(route, openapi, l0, seeded):
    operation = openapi[route.path][route.method]

    @FUZZ_SETTINGS
    @given(case=cases(operation), use_seeded=st.booleans(), fargate=st.booleans())
    def fuzz(case, use_seeded: bool, fargate: bool) -> None:
        if use_seeded:
            use_seeded_ids(case, seeded, fargate)
        case.call_and_validate(headers=dict(l0.headers), checks=CHECKS, timeout=REQUEST_TIMEOUT)

    try:
        fuzz()
    except BaseException:
        # A 5xx is logged by local mode with its traceback: show the end of it with the failure.
        print(l0.local.output[-6000:])
        raise
