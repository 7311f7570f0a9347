"""What several benchmark modules share: moto in process (or as a server in this process, for function processes)
with the stack's resources, stand-in job machines, the call counter and its tables, requests through the API handler,
and the estate helpers.

This module imports no other benchmarks module. The project's modules (`layer0`, `handlers`, `local`) are imported
inside the functions that use them, so importing it needs nothing on the path (see benchmarks.bootstrap).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
DYNAMODB = "dynamodb"
JOB_MACHINE_PREFIX = "l0-l0-job-"
# Every job type's machine, by the slug its name ends with.
JOB_SLUGS = ("delete-environment", "delete-service", "delete-load-balancer", "create-task", "rollout")
PASS_MACHINE = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


# -- the stack -------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def in_process_stack(aws_rate: float = 1e9):
    """Yields the API token while moto runs in process and the settings point at its resources.

    moto answers in microseconds; the default rate lifts the client layer's pacing so that a
    benchmark measures the code, not the token bucket.
    """
    import boto3
    from moto import mock_aws

    from layer0 import aws, settings
    from local import moto_patches
    from local.resources import REGION, create_stack_resources

    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="WARNING",
        MOTO_EC2_LOAD_DEFAULT_AMIS="false",
        LAYER0_AWS_RATE=str(aws_rate),
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    # Local mode's moto fixes, as the tests' stack has them (a forced group delete terminates protected instances).
    moto_patches.apply()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        environment, token = create_stack_resources(lambda service: boto3.client(service, region_name=REGION))
        os.environ.update(environment)
        settings.get.cache_clear()
        aws.reset()
        yield token


# The Lambda context a function process's handler gets: the source of a class `Context`, for the programs those
# processes run (benchmarks/cold_start.py, benchmarks/leak.py).
CHILD_CONTEXT = """
class Context:  # what a Python Lambda handler reads from its context (as local.gateway.LambdaContext)
    function_name = "l0-bench-api"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-west-2:123456789012:function:l0-bench-api"
    aws_request_id = "00000000-0000-0000-0000-000000000001"
    log_group_name = "/aws/lambda/l0-bench-api"
    def get_remaining_time_in_millis(self):
        return 30000
"""


@contextlib.contextmanager
def moto_server():
    """Yields the environment of a function process that calls AWS at a moto server in this process (moto's
    `ThreadedMotoServer`, configured as local mode configures it, local/embedded.py) with the stack's resources in it
    (`AWS_ENDPOINT_URL`, credentials, the stack's settings, `PYTHONPATH` the Lambda asset). moto stays in this
    process: a child started with this environment holds only the function, as a Lambda container does, and its
    figures (CPU, memory, threads) are the function's alone. On exit the server is emptied and stopped."""
    import urllib.request

    import boto3

    from local import moto_patches
    from local.embedded import MOTO_HOST, start_moto_server
    from local.resources import REGION, create_stack_resources

    moto_patches.apply()  # the server runs moto's code in this process: local mode's fixes apply to it
    server, port = start_moto_server()
    endpoint = f"http://{MOTO_HOST}:{port}"
    try:
        credentials = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
        stack, _token = create_stack_resources(
            lambda service: boto3.client(
                service,
                region_name=REGION,
                endpoint_url=endpoint,
                aws_access_key_id="bench",
                aws_secret_access_key="bench",
            )
        )
        inherited = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("AWS_", "LAYER0_", "POWERTOOLS_", "PYTHON"))
        }
        yield {
            **inherited,
            **credentials,
            **stack,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            # As local mode runs the functions: no X-Ray daemon to send traces to.
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_SERVICE_NAME": "layer0-bench",
            "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "functions"),
        }
    finally:
        with contextlib.suppress(OSError):
            urllib.request.urlopen(
                urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10
            ).close()
        server.stop()


@contextlib.contextmanager
def pacing_restored():
    """Restores `LAYER0_AWS_RATE` and `LAYER0_AWS_BURST` on exit, and resets the client layer, so that whatever runs
    next gets limiters with its own settings."""
    from layer0 import aws, settings

    saved = {name: os.environ.get(name) for name in ("LAYER0_AWS_RATE", "LAYER0_AWS_BURST")}
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        settings.get.cache_clear()
        aws.reset()


@contextlib.contextmanager
def job_machines(slugs: tuple[str, ...], definition: dict = PASS_MACHINE):
    """Stand-in machines (`definition`, a Pass by default) under the names of these job types' machines, so that
    routes start jobs as in the API while a benchmark drives the steps itself. Made with a plain boto3 client, so a
    call counter does not see them; removed, and the setting restored, on exit."""
    import boto3

    from layer0 import settings

    sfn = boto3.client("stepfunctions", region_name=settings.get().region)
    arns = [
        sfn.create_state_machine(
            name=JOB_MACHINE_PREFIX + slug,
            definition=json.dumps(definition),
            roleArn="arn:aws:iam::123456789012:role/l0-l0-jobs",
        )["stateMachineArn"]
        for slug in slugs
    ]
    before = os.environ.get("LAYER0_JOB_STATE_MACHINE_PREFIX")
    os.environ["LAYER0_JOB_STATE_MACHINE_PREFIX"] = arns[0][: -len(slugs[0])]
    settings.get.cache_clear()
    try:
        yield
    finally:
        for arn in arns:
            sfn.delete_state_machine(stateMachineArn=arn)
        if before is None:
            os.environ.pop("LAYER0_JOB_STATE_MACHINE_PREFIX", None)
        else:
            os.environ["LAYER0_JOB_STATE_MACHINE_PREFIX"] = before
        settings.get.cache_clear()


def stand_in_job_machines():
    """Pass machines under every job machine's name, so routes start jobs as in the API; made uncounted."""
    return job_machines(JOB_SLUGS)


# -- counting calls --------------------------------------------------------------------------------------------------


class CallCounter:
    """Counts `service.Operation` for every call made through the client layer while `measure()` is open.

    `install()` wraps `layer0.aws._new_client`, so that a client created later (lazily) is counted too, and
    registers on the clients that already exist; `uninstall()` undoes both.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._calls: list[str] | None = None
        self._clients: list = []
        self._original_new_client = None

    def _before_call(self, model=None, **_kwargs) -> None:
        # botocore `before-call`: once per API call (retries resend the request, they do not call again).
        # Must return None: anything else is taken as the response.
        if model is None:
            return None
        with self._lock:
            if self._calls is not None:
                self._calls.append(f"{model.service_model.service_name}.{model.name}")
        return None

    def _watch(self, client) -> None:
        client.meta.events.register("before-call", self._before_call, unique_id=f"benchmarks.calls.{id(self)}")
        self._clients.append(client)

    def install(self) -> None:
        from layer0 import aws

        original = self._original_new_client = aws._new_client

        def counted_new_client(service: str):
            client = original(service)
            self._watch(client)
            return client

        aws._new_client = counted_new_client
        with aws._lock:
            for client in list(aws._clients.values()):
                self._watch(client)

    def uninstall(self) -> None:
        from layer0 import aws

        if self._original_new_client is not None:
            aws._new_client = self._original_new_client
            self._original_new_client = None
        for client in self._clients:
            client.meta.events.unregister("before-call", unique_id=f"benchmarks.calls.{id(self)}")
        self._clients.clear()

    def __enter__(self) -> CallCounter:
        self.install()
        return self

    def __exit__(self, *_exc) -> None:
        self.uninstall()

    @contextlib.contextmanager
    def measure(self):
        """Yields the list that receives the calls made inside the block."""
        calls: list[str] = []
        with self._lock:
            self._calls = calls
        try:
            yield calls
        finally:
            with self._lock:
                self._calls = None


# The original Layer0's figures for one operation: (its AWS calls, e.g. "8: ecs 1, ec2 3, autoscaling 4"; its
# DynamoDB calls, a count or a text such as "≥ 2"; where they come from).
Original = tuple[str, int | str, str]


@dataclass
class Row:
    operation: str
    calls: list[str]
    original_aws: str  # e.g. "8: ecs 1, ec2 3, autoscaling 4"
    original_dynamodb: int | str
    derivation: str

    @property
    def aws(self) -> Counter:
        return Counter(c.split(".", 1)[0] for c in self.calls if not c.startswith(DYNAMODB + "."))

    @property
    def dynamodb(self) -> int:
        return sum(c.startswith(DYNAMODB + ".") for c in self.calls)

    @property
    def operations(self) -> Counter:
        return Counter(c.split(".", 1)[1] for c in self.calls)


def by_service(counts: Counter) -> str:
    return ", ".join(f"{service} {n}" for service, n in counts.items()) or "0"


def names(calls: list[str]) -> str:
    counts = Counter(calls)
    return ", ".join(f"{name} x{n}" if n > 1 else name for name, n in counts.items())


def table_head(*columns: str) -> list[str]:
    """A markdown table's header row and the separator row under it."""
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def rows_table(rows: list[Row], source: str) -> str:
    lines = table_head(
        "operation",
        "our AWS calls",
        "our DynamoDB calls",
        "original AWS calls",
        "original DynamoDB calls",
        f"original, from {source}",
    )
    for r in rows:
        lines.append(
            f"| {r.operation} | {sum(r.aws.values())}: {by_service(r.aws)} | {r.dynamodb} "
            f"| {r.original_aws} | {r.original_dynamodb} | {r.derivation} |"
        )
    return "\n".join(lines)


# -- requests through the API handler --------------------------------------------------------------------------------


def handler_answer(method: str, path: str, body: dict | str | None = None, query: dict | None = None) -> dict:
    """One request through the API handler, as the local gateway sends it: `{"status", "body" (text), "headers"}`;
    any answer but a 2xx is an AssertionError. `body` is sent as JSON (a string too: `""` is the JSON `""`); None
    sends no body."""
    from handlers import api
    from local.gateway import LambdaContext, proxy_event

    event = proxy_event(
        method,
        path,
        query={key: [value] for key, value in (query or {}).items()},
        body=json.dumps(body).encode() if body is not None else b"",
        headers={"Accept": "application/json", "Content-Type": "application/json"},
    )
    response = api.handler(event, LambdaContext("l0-bench-api"))
    if not 200 <= response["statusCode"] < 300:
        raise AssertionError(f"{method} {path} answered {response['statusCode']}: {response.get('body')}")
    headers = {key: values[0] for key, values in (response.get("multiValueHeaders") or {}).items()}
    headers.update(response.get("headers") or {})
    return {"status": response["statusCode"], "body": response.get("body"), "headers": headers}


def call_api(method: str, path: str, body: dict | None = None, query: dict | None = None) -> dict:
    """A JSON route through the API handler: `{"body" (parsed), "headers"}`."""
    answer = handler_answer(method, path, body, query)
    return {"body": json.loads(answer["body"]) if answer["body"] else None, "headers": answer["headers"]}


# -- the estate ------------------------------------------------------------------------------------------------------


def dockerrun(fixture: str) -> str:
    """A Dockerrun file of tests/fixtures, base64 as `POST /deploy` takes it."""
    return base64.b64encode((FIXTURES / fixture).read_bytes()).decode()


def create_environment(name: str) -> str:
    """A linux environment with 1 instance (layer0.environments.create); its id."""
    from layer0 import environments
    from layer0.models import CreateEnvironmentRequest

    request = CreateEnvironmentRequest(environment_name=name, operating_system="linux", min_cluster_count=1)
    return environments.create(request).environment_id


def register_instances() -> None:
    """One pass of the local ECS agent simulation: the environments' instances join their clusters."""
    import boto3

    from layer0 import settings
    from local.ecs.agent import Agent

    region = settings.get().region
    Agent(lambda service: boto3.client(service, region_name=region), settings.get().prefix).sync_once()


def run_create_task_job(job_id: str, request: str) -> str:
    """The create-task machine's steps up to RunTask, through the workflow-step dispatch; the task's id. (Its wait
    for the task to run, CheckTask, is left out: no ECS simulation runs the task here.)"""
    from layer0 import jobs
    from layer0.workflows import registry

    registry.run("job.set_status", {"job_id": job_id, "status": 2})
    registry.run("task.run", {"job_id": job_id, "request": request})
    registry.run("job.set_status", {"job_id": job_id, "status": 3})
    return jobs.get(job_id).meta["task_id"]
