"""The original smoke scenarios (docs/compatibility.md#smoke-scenarios), command by command, with this `l0` against
one local mode; and what the Go CLI could not do on the routes this branch has: application load balancers,
rollouts (live progress, a failed rollout's exit status), following logs, task exit codes, Idempotency-Key retries.

Every command of the original CLI runs here at least once (test_every_command_of_the_go_cli_was_run checks it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from layer0_client import Client
from tests.cli.e2e import CLI, FIXTURES, dockerrun_file

ROOT = Path(__file__).resolve().parents[2]
SERVICE = str(FIXTURES / "Service.Dockerrun.aws.json")
TASK = str(FIXTURES / "Task.Dockerrun.aws.json")
USER_DATA = str(FIXTURES / "user_data.tmpl")

# (group, command) of every command of the Go CLI; each test adds what it ran.
GO_COMMANDS = {
    "admin": {"debug", "sql", "version", "scale"},
    "deploy": {"create", "delete", "get", "list"},
    "environment": {"create", "delete", "get", "list", "setmincount", "link", "unlink"},
    "job": {"delete", "get", "list", "logs"},
    "loadbalancer": {
        "create",
        "addport",
        "dropport",
        "healthcheck",
        "idletimeout",
        "cross-zone",
        "delete",
        "get",
        "list",
    },
    "service": {"create", "update", "scale", "delete", "get", "list", "logs"},
    "task": {"create", "delete", "get", "list", "logs"},
}
RAN: set[tuple[str, str]] = set()


@pytest.fixture(scope="module")
def cli(local_mode, tmp_path_factory) -> CLI:
    runner = CLI(local_mode, tmp_path_factory.mktemp("home"))
    original = runner.run

    def recording(*args: str, input: str | None = None):
        words = [a for a in args if not a.startswith("-")]
        if len(words) >= 2:
            RAN.add((words[0], words[1]))
        return original(*args, input=input)

    runner.run = recording  # type: ignore[method-assign]
    return runner


def test_admin_scenario(cli: CLI):
    assert cli("admin", "sql").stdout == "Successfully Configured SQL\n"
    assert cli("admin", "version").stdout == "v0.10.9-serverless\n"
    debug = cli("admin", "debug").stdout
    assert "API Version:    v0.10.9-serverless" in debug and cli.local.token not in debug


def test_deploy_scenario(cli: CLI):
    created = cli("deploy", "create", SERVICE, "guestbook1").stdout.splitlines()
    assert created[1].split() == ["guestbook1.1", "guestbook1", "1"]
    assert "guestbook1" in cli("deploy", "list").stdout
    assert "guestbook1.1" in cli("deploy", "list", "--all").stdout
    cli("deploy", "get", "guestbook1")
    assert [d["deploy_id"] for d in cli.json("deploy", "get", "guestbook1:latest")] == ["guestbook1.1"]
    cli("deploy", "get", "guest*")
    cli("deploy", "delete", "guestbook1")
    assert cli.run("deploy", "get", "guestbook1").exit_code == 1


def test_environment_scenario(cli: CLI):
    cli("environment", "create", "test1")
    cli("environment", "list")
    cli("environment", "get", "test1")
    cli("environment", "get", "t*")
    cli("environment", "create", "--user-data", USER_DATA, "test2")
    cli("environment", "create", "--min-count", "2", "test3")
    cli("environment", "create", "--os", "windows", "test4")
    assert cli("environment", "link", "test3", "test4").stdout == "Environment successfully linked\n"
    [linked] = cli.json("environment", "get", "test3")
    assert len(linked["links"]) == 1
    assert cli("environment", "unlink", "test3", "test4").stdout == "Environment successfully unlinked\n"
    cli("environment", "list")
    cli("environment", "get", "test2")
    cli("environment", "setmincount", "test3", "0")
    cli("environment", "setmincount", "test3", "3")
    cli("admin", "scale", "test3")
    for name in ("test1", "test2", "test3"):
        assert "l0 job get" in cli("environment", "delete", name).stdout
    cli("environment", "delete", "--wait", "test4")
    assert cli.run("environment", "get", "test4").exit_code == 1


def test_job_scenario(cli: CLI):
    cli("environment", "create", "test")
    cli("environment", "delete", "-wait", "test")  # the Go spelling, as the smoke test wrote it
    assert "Delete Environment" in cli("job", "list").stdout
    jobs = cli.json("job", "list")
    newest = max(jobs, key=lambda job: job["time_created"])["job_id"]
    [job] = cli.json("job", "get", newest)
    assert job["job_status"] == 3
    history = cli("job", "logs", newest).stdout
    assert history.startswith("l0-") and "ExecutionSucceeded" in history
    cli("job", "logs", newest)
    cli("job", "logs", "--start", "2001-01-01 01:01", "--end", "2012-12-12 12:12", newest)
    cli("job", "delete", newest)
    assert cli.run("job", "get", newest).exit_code == 1


def test_load_balancer_scenario(cli: CLI):
    prefix = cli.json("admin", "version") and Client(cli.local.endpoint, cli.local.token).admin_config().prefix
    cli("environment", "create", "test")
    cli("loadbalancer", "create", "test", "loadbalancer1")
    cli("loadbalancer", "list")
    cli("loadbalancer", "get", "loadbalancer1")
    assert "8000:8000/HTTP" in cli("loadbalancer", "addport", "loadbalancer1", "8000:8000/http").stdout
    assert "8000" not in cli("loadbalancer", "dropport", "loadbalancer1", "8000").stdout
    cli("loadbalancer", "delete", "--wait", "loadbalancer1")
    ports = ["--port", "80:80/http", "--port", "443:443/https"]
    cli("loadbalancer", "create", *ports, "--private", "--certificate", f"l0-{prefix}-api", "test", "loadbalancer2")
    cli("loadbalancer", "list")
    [private] = cli.json("loadbalancer", "get", "loadbalancer2")
    assert private["is_public"] is False and private["ports"][1]["certificate_name"] == f"l0-{prefix}-api"
    cli("loadbalancer", "get", "l*")
    cli("loadbalancer", "delete", "--wait", "loadbalancer2")
    checks = ["--healthcheck-target", "TCP:80", "--healthcheck-interval", "30", "--healthcheck-timeout", "5"]
    checks += ["--healthcheck-healthy-threshold", "2", "--healthcheck-unhealthy-threshold", "2"]
    cli("loadbalancer", "create", *checks, "test", "loadbalancer3")
    cli("loadbalancer", "healthcheck", "loadbalancer3")
    changes = ["--set-target", "TCP:88", "--set-interval", "45", "--set-timeout", "10"]
    changes += ["--set-healthy-threshold", "5", "--set-unhealthy-threshold", "3"]
    changed = cli("loadbalancer", "healthcheck", *changes, "loadbalancer3").stdout.splitlines()[1].split()
    assert changed[2:] == ["TCP:88", "45", "10", "5", "3"]
    assert cli("loadbalancer", "idletimeout", "loadbalancer3", "120").stdout.splitlines()[1].split()[-1] == "120"
    cli("loadbalancer", "delete", "--wait", "loadbalancer3")
    cli("loadbalancer", "create", "--port", "80:80/http", "test", "loadbalancer4")
    cli("deploy", "create", SERVICE, "guestbook")
    cli("service", "create", "--loadbalancer", "loadbalancer4", "test", "service1", "guestbook:latest")
    cli("loadbalancer", "list")
    [behind] = cli.json("loadbalancer", "get", "loadbalancer4")
    assert behind["service_name"] == "service1"
    cli("deploy", "delete", "guestbook:latest")
    cli("loadbalancer", "create", "--disable-cross-zone", "test", "loadbalancer5")
    assert cli("loadbalancer", "cross-zone", "loadbalancer5").stdout.splitlines()[1].split()[-1] == "false"
    assert cli("loadbalancer", "cross-zone", "--disable", "loadbalancer5").stdout.splitlines()[1].split()[-1] == "false"
    assert cli("loadbalancer", "cross-zone", "--enable", "loadbalancer5").stdout.splitlines()[1].split()[-1] == "true"
    # Beyond the Go CLI: an application load balancer.
    [alb] = cli.json("loadbalancer", "create", "--type", "application", "--port", "80:80/http", "test", "alb1")
    assert alb["load_balancer_type"] == "application"
    cli("environment", "delete", "--wait", "test")
    assert cli.run("loadbalancer", "get", "alb1").exit_code == 1


def test_service_scenario(cli: CLI, tmp_path):
    cli("environment", "create", "test")
    cli("loadbalancer", "create", "--port", "80:80/http", "test", "loadbalancer1")
    cli("deploy", "create", SERVICE, "guestbook")
    cli("service", "create", "--loadbalancer", "loadbalancer1", "test", "service1", "guestbook:latest")
    created = cli("service", "create", "--wait", "test", "service2", "guestbook:latest")
    assert "Rollout of service2: desired 1, running 1, pending 0" in created.stderr  # the live progress line
    assert created.stdout.splitlines()[1].split()[-1] == "1/1"
    cli("service", "create", "test", "service3", "guestbook:latest")
    cli("service", "list")
    cli("service", "get", "service1")
    cli("service", "scale", "service1", "2")
    scaled = cli("service", "scale", "--wait", "service2", "2")
    assert scaled.stdout.splitlines()[1].split()[-1] == "2/2"
    cli("deploy", "create", SERVICE, "guestbook")
    cli("service", "update", "service1", "guestbook:latest")
    updated = cli("service", "update", "--wait", "service2", "guestbook:latest")
    [latest] = cli.json("deploy", "get", "guestbook:latest")
    assert f"guestbook:{latest['version']} " in updated.stdout
    cli("service", "update", "service3", "guestbook:latest")
    assert "Rollout" in cli("job", "list").stdout
    cli("service", "logs", "service1")
    cli("service", "logs", "--tail", "100", "service1")
    cli("service", "logs", "--start", "2001-01-01 01:01", "--end", "2012-12-12 12:12", "service1")
    # Beyond the Go CLI: a rollout onto an image that cannot start fails, and the CLI says why, with exit status 1.
    cli(
        "deploy",
        "create",
        dockerrun_file(tmp_path, "Service.Dockerrun.aws.json", image="quintilesims/fail:1"),
        "broken",
    )
    failed = cli.run("service", "update", "--wait", "service3", "broken:latest")
    assert failed.exit_code == 1, failed.output
    assert "Rollout job" in failed.stderr and "CannotPullContainerError" in failed.stderr
    cli("deploy", "delete", "guestbook:latest")
    cli("deploy", "delete", "guestbook:latest")
    cli("service", "delete", "--wait", "service1")
    assert cli.run("service", "get", "service1").exit_code == 1
    cli("environment", "delete", "--wait", "test")


def test_task_scenario(cli: CLI):
    cli("environment", "create", "test")
    cli("deploy", "create", TASK, "alpine")
    waited = cli("task", "create", "--wait", "test", "task1", "alpine:latest")
    assert waited.stdout.splitlines()[1].split()[:2][1] == "task1"
    started = cli("task", "create", "--env", "alpine:key=val", "--copies", "3", "test", "task2", "alpine:latest")
    assert "l0 job get" in started.stdout
    cli("task", "list")
    cli("task", "list", "--all")
    cli("task", "get", "task1")
    cli("task", "get", "t*")
    cli("task", "logs", "task1")
    cli("task", "logs", "--tail", "100", "task1")
    cli("task", "logs", "--start", "2001-01-01 01:01", "--end", "2012-12-12 12:12", "task1")
    cli("task", "delete", "task1")
    # Beyond the Go CLI: a task's logs followed until it stops, and its exit status.
    followed = cli("task", "create", "--wait", "--follow", "--env", "alpine:COMMAND=sleep 2", "test", "t3", "alpine")
    assert "alpine | Slept 2 s; exiting with code 0" in followed.stdout
    cli("task", "create", "--wait", "--env", "alpine:COMMAND=sleep 3", "test", "t4", "alpine:latest")  # the name exists
    tail = cli("task", "logs", "--follow", "test:t4")
    assert "Slept 3 s" in tail.stdout
    cli("deploy", "delete", "alpine:latest")
    cli("environment", "delete", "--wait", "test")


@pytest.fixture(scope="module")
def followed(cli: CLI) -> str:
    """An environment with an instance from the start (no scaler run to wait for) for the tests that follow a
    rollout or a task to its end; its delete is started, not waited for."""
    cli("environment", "create", "--min-count", "1", "followed")
    yield "followed"
    assert "l0 job get" in cli("environment", "delete", "followed").stdout


def test_a_service_whose_image_cannot_start_shows_its_failed_tasks(cli: CLI, followed: str, tmp_path):
    """Beyond the Go CLI: the rollout line counts the deployment's failed tasks (the API's `failed_tasks`); with no
    earlier deployment to roll back to, the failed one stays, and `service get` shows its count too."""
    image = dockerrun_file(tmp_path, "Service.Dockerrun.aws.json", image="quintilesims/fail:1")
    cli("deploy", "create", image, "cannotstart")
    created = cli.run("service", "create", "--wait", followed, "cannotstart", "cannotstart:latest")
    assert created.exit_code == 1, created.output
    progress = [line for line in created.stderr.splitlines() if line.startswith("Rollout of cannotstart:")]
    # The circuit breaker of a one-copy service trips at 3 failed tasks, and the job ends with it.
    assert progress[-1] == "Rollout of cannotstart: desired 1, running 0, pending 0, failed 3", created.stderr
    assert "Rollout job" in created.stderr and "CannotPullContainerError" in created.stderr
    [service] = cli.json("service", "get", "cannotstart")
    [deployment] = service["deployments"]
    assert (deployment["status"], deployment["failed_tasks"], deployment["running_count"]) == ("PRIMARY", 3, 0)


@pytest.mark.parametrize("code", [3, 0])
def test_task_create_wait_follow_exits_with_the_essential_containers_exit_code(cli: CLI, followed: str, code: int):
    """Beyond the Go CLI: `l0` exits with the task's essential container's exit code (local mode runs
    `sleep N; exit C` as a container that sleeps N seconds, then exits C)."""
    cli("deploy", "create", TASK, "exiter")
    name = f"exit{code}"
    command = f"alpine:COMMAND=sleep 1; exit {code}"
    result = cli.run("task", "create", "--wait", "--follow", "--env", command, followed, name, "exiter:latest")
    assert result.exit_code == code, result.output
    assert f"alpine | Slept 1 s; exiting with code {code}" in result.stdout
    [task] = cli.json("task", "get", f"{followed}:{name}")
    assert [detail["exit_code"] for copy in task["copies"] for detail in copy["details"]] == [code]


def function_log_lines(cli: CLI, message: str) -> list[dict]:
    """Local mode's structured log lines (its functions write them to its stdout) whose message is `message`,
    once there is one: the reader thread gets them shortly after the answer."""
    deadline = time.monotonic() + 30
    while True:
        found = [json.loads(line) for line in cli.local.output.splitlines() if f'"message":"{message}"' in line]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_an_api_log_line_after_a_job_step_carries_none_of_the_steps_keys(cli: CLI, followed: str):
    """Local mode runs the API, the job steps, the events function and the scaler in one process: each function's
    invocation logs with its own keys only (handlers/observability.py)."""
    cli("deploy", "create", TASK, "logstep")
    cli("task", "create", "--wait", "--env", "alpine:COMMAND=exit 0", followed, "logstep", "logstep:latest")
    cli("secret", "set", "logcheck", input="a value\n")
    [line] = function_log_lines(cli, "Secret logcheck set")
    assert (line["service"], line["name"]) == ("layer0-api", "layer0.secrets"), line
    assert not {"step", "job_id", "detail_type", "event_id", "environment_id"} & line.keys(), line
    assert "a value" not in cli.local.output


def test_a_create_whose_answer_is_lost_is_retried_with_its_key_and_happens_once(cli: CLI):
    """The client sends the request, the connection drops before the answer: the retry carries the same
    Idempotency-Key, so the API answers with the first answer and registers nothing more."""

    class LoseFirstAnswer(httpx.HTTPTransport):
        lost = 0

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = super().handle_request(request)
            if request.method == "POST" and not self.lost:
                response.read()
                self.lost += 1
                raise httpx.ReadError("connection reset", request=request)
            return response

    client = Client(cli.local.endpoint, cli.local.token, transport=LoseFirstAnswer(), sleep=lambda s: None)
    deploy = client.create_deploy("once", (FIXTURES / "Task.Dockerrun.aws.json").read_bytes())
    assert deploy.version == "1"
    assert [d.deploy_id for d in client.list_deploys() if d.deploy_name == "once"] == ["once.1"]


def test_the_installed_l0_runs_as_a_program(cli: CLI):
    """`.venv/bin/l0` (make installs it), a process of its own, with the settings local mode prints."""
    program = Path(sys.executable).with_name("l0")
    assert program.exists(), "make installs the l0 console script (pyproject.toml [project.scripts])"
    env = {**os.environ, **cli.env()}
    listed = subprocess.run([str(program), "environment", "list"], env=env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("ENVIRONMENT ID")
    missing = subprocess.run(
        [str(program), "environment", "get", "nope"], env=env, capture_output=True, text=True, timeout=60
    )  # noqa: E501
    assert missing.returncode == 1 and "yielded no matches" in missing.stderr


def test_every_command_of_the_go_cli_was_run():
    expected = {(group, command) for group, commands in GO_COMMANDS.items() for command in commands}
    assert expected - RAN == set()
