"""Layer0 with embedded AWS: a moto server, the stack's resources in it, and the local gateway.

Used by `python -m local` and by the end-to-end tests. The functions run in this process against
moto's HTTP endpoint (`AWS_ENDPOINT_URL`), through the same client layer they use on AWS.
"""

from __future__ import annotations

import base64
import importlib
import json
import logging
import os
import socket
import threading
import urllib.request
from http.server import ThreadingHTTPServer

import boto3
from moto.server import ThreadedMotoServer

from layer0 import contract
from layer0.workflows import asl, registry
from local import lambda_runtime, moto_patches
from local.ecs.agent import Agent, default_client_factory
from local.gateway import Gateway, http_server
from local.resources import REGION, create_stack_resources

MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
# The embedded AWS answers anyone without credentials (its secrets included, the API token among them): it listens
# on loopback only, whatever the gateway's host (docs/architecture.md#local-mode).
MOTO_HOST = "127.0.0.1"


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _step_function_name(prefix: str) -> str:
    return f"l0-{prefix}-workflow-step"


def _scaler_function_name(prefix: str) -> str:
    return f"l0-{prefix}-scaler"


def _create_scaler(clients, prefix: str) -> dict[str, str]:
    """The scaler function (a placeholder in moto's Lambda, served by local/lambda_runtime.py) and the role
    EventBridge Scheduler invokes it with, as infra/scaler.py makes them. Returns the settings that make
    `layer0.scaler.request_run` schedule debounced runs; local/schedules.py fires them."""
    iam = clients("iam")

    def role(name: str, service: str) -> str:
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
        return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]

    function_arn = lambda_runtime.create_function(
        clients("lambda"), _scaler_function_name(prefix), role(f"l0-{prefix}-scaler", "lambda.amazonaws.com")
    )
    return {
        "LAYER0_SCALER_FUNCTION_ARN": function_arn,
        "LAYER0_SCALER_SCHEDULE_ROLE_ARN": role(f"l0-{prefix}-scaler-schedule", "scheduler.amazonaws.com"),
    }


def _events_function_name(prefix: str) -> str:
    return f"l0-{prefix}-events"


def _create_events_function(clients, prefix: str) -> None:
    """The events function (a placeholder in moto's Lambda, served by local/lambda_runtime.py), as
    infra/read_model.py makes it: the ECS simulation sends it ECS events (local/ecs/events.py)."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = clients("iam").create_role(RoleName=f"l0-{prefix}-events", AssumeRolePolicyDocument=json.dumps(trust))
    lambda_runtime.create_function(clients("lambda"), _events_function_name(prefix), role["Role"]["Arn"])


def _create_job_workflows(clients, prefix: str) -> str:
    """The workflow-step function (a placeholder in moto's Lambda) and the job machines, from the builder CDK
    synthesizes from, with the function's ARN substituted. Returns LAYER0_JOB_STATE_MACHINE_PREFIX."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
            for service in ("lambda.amazonaws.com", "states.amazonaws.com")
        ],
    }
    role = clients("iam").create_role(RoleName=f"l0-{prefix}-workflows", AssumeRolePolicyDocument=json.dumps(trust))
    role_arn = role["Role"]["Arn"]
    function_arn = lambda_runtime.create_function(
        clients("lambda"), _step_function_name(prefix), role_arn, timeout=asl.STEP_FUNCTION_TIMEOUT_SECONDS
    )
    sfn = clients("stepfunctions")
    arn = ""
    for machine in registry.MACHINES.values():
        arn = sfn.create_state_machine(
            name=machine.name(prefix), definition=machine.render(function_arn), roleArn=role_arn, type="STANDARD"
        )["stateMachineArn"]
    return arn.rsplit(":", 1)[0] + ":" + contract.job_machine_name_prefix(prefix)


class Layer0:
    """Starts everything on enter, stops everything on exit."""

    def __init__(self, host: str = "127.0.0.1", port: int = 9090, prefix: str = "l0", agent_interval: float = 1.0):
        self.host, self.port, self.prefix = host, port, prefix
        self.agent_interval = agent_interval  # seconds between the ECS simulation's passes
        self.endpoint = f"http://{host}:{port}/"
        self._moto: ThreadedMotoServer | None = None
        self._aws_endpoint = ""
        self._http: ThreadingHTTPServer | None = None
        self._agent: Agent | None = None
        self._saved_environment: dict[str, str | None] = {}

    def _setenv(self, name: str, value: str) -> None:
        self._saved_environment.setdefault(name, os.environ.get(name))
        os.environ[name] = value

    def _start_moto(self) -> str:
        self._moto, moto_port = start_moto_server()
        aws_endpoint = f"http://{MOTO_HOST}:{moto_port}"
        # moto's Step Functions interpreter calls back into moto on this port.
        self._setenv("MOTO_PORT", str(moto_port))
        self._aws_endpoint = aws_endpoint
        return aws_endpoint

    def __enter__(self) -> Layer0:
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self) -> None:
        aws_endpoint = self._start_moto()
        moto_patches.apply()
        lambda_runtime.install()
        for name, value in {
            "AWS_ENDPOINT_URL": aws_endpoint,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_SERVICE_NAME": "layer0-local",
        }.items():
            self._setenv(name, value)

        environment, self.token = create_stack_resources(
            lambda service: boto3.client(service, region_name=REGION, endpoint_url=aws_endpoint), self.prefix
        )
        for name, value in environment.items():
            self._setenv(name, value)
        self._setenv(
            "LAYER0_JOB_STATE_MACHINE_PREFIX",
            _create_job_workflows(
                lambda service: boto3.client(service, region_name=REGION, endpoint_url=aws_endpoint), self.prefix
            ),
        )
        for name, value in _create_scaler(
            lambda service: boto3.client(service, region_name=REGION, endpoint_url=aws_endpoint), self.prefix
        ).items():
            self._setenv(name, value)
        _create_events_function(
            lambda service: boto3.client(service, region_name=REGION, endpoint_url=aws_endpoint), self.prefix
        )
        # The ECS simulation (local/ecs/): environments' ASG instances register in their clusters, tasks
        # start, sleep, log and stop, services get their tasks and deployments, due scaler schedules run, and
        # every task change goes to the events function.
        self._agent = Agent(
            lambda service: default_client_factory(service, endpoint_url=aws_endpoint, region=REGION),
            self.prefix,
            events_function=_events_function_name(self.prefix),
        ).start(self.agent_interval)
        self.username, self.password = base64.b64decode(self.token).decode().split(":", 1)

        # Import the functions only now, with their settings in place: like a Lambda cold start.
        from layer0 import aws, settings

        settings.get.cache_clear()
        aws.reset()
        self.api_version = settings.get().api_version
        api = importlib.import_module("handlers.api")
        # The job machines' Lambda tasks run the workflow-step handler in this process (local/lambda_runtime.py).
        lambda_runtime.register(_step_function_name(self.prefix), importlib.import_module("handlers.steps").handler)
        # EventBridge Scheduler's debounced scaler runs invoke it (local/schedules.py).
        lambda_runtime.register(_scaler_function_name(self.prefix), importlib.import_module("handlers.scaler").handler)
        # The simulation's ECS events invoke it (local/ecs/events.py); before this, no cluster has a task to tell of.
        lambda_runtime.register(_events_function_name(self.prefix), importlib.import_module("handlers.events").handler)
        authorizer = importlib.import_module("handlers.authorizer")
        gateway = Gateway(api.handler, authorizer.handler, self.api_version)
        self._http = http_server(gateway, self.host, self.port)
        threading.Thread(target=self._http.serve_forever, name="local-gateway", daemon=True).start()

    @property
    def agent(self) -> Agent | None:
        """The ECS agent simulation while running."""
        return self._agent

    def __exit__(self, *exc) -> None:
        if self._agent is not None:
            self._agent.stop()
            self._agent = None
            moto_patches.revert_ecs()  # moto in this process is plain moto again (tests run on after this)
            lambda_runtime.unregister(_scaler_function_name(self.prefix))
            lambda_runtime.unregister(_events_function_name(self.prefix))
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._moto is not None:
            # moto's backends live in this process, not in the server: empty them, so that the next Layer0 of
            # this process (tests) starts from nothing, as a new `python -m local` does.
            try:
                reset = urllib.request.Request(f"{self._aws_endpoint}/moto-api/reset", method="POST")
                urllib.request.urlopen(reset, timeout=10).close()
            except OSError as error:
                logging.getLogger(__name__).warning("could not reset moto: %s", error)
            self._moto.stop()
            self._moto = None
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environment.clear()


def start_moto_server() -> tuple[ThreadedMotoServer, int]:
    """A moto server on a free port of MOTO_HOST, configured as local mode's (MOTO_CONFIG), and its port. Its
    per-request access log is off."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = _free_port(MOTO_HOST)
    server = ThreadedMotoServer(ip_address=MOTO_HOST, port=port, verbose=False)
    server.start()
    request = urllib.request.Request(
        f"http://{MOTO_HOST}:{port}/moto-api/config",
        data=json.dumps(MOTO_CONFIG).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()
    return server, port
