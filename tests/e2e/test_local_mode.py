"""Local mode as a user runs it: `python -m local --port N` in a process of its own, then HTTP
(docs/architecture.md#local-mode).

The process gets no AWS or Layer0 settings from the test run: it must find everything by itself.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60  # seconds to wait for local mode's last start-up line
READY_LINE = "Press Ctrl-C to stop"
ORIGINAL_DEFAULT_TOKEN = "bGF5ZXIwOm5vaGF4cGx6"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def user_environment() -> dict[str, str]:
    """The test run's environment without what the test fixtures put there (AWS, Layer0 and moto settings)."""
    return {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "LAYER0_", "MOTO_"))}


def as_in_a_terminal() -> None:
    """Ctrl-C works in a terminal; a test run started in the background may have SIGINT ignored, and
    children inherit that. Give the child the terminal's default."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(port: int, *options: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "local", "--port", str(port), *options],
        cwd=ROOT,
        env=user_environment(),
        text=True,
        preexec_fn=as_in_a_terminal,
        **kwargs,
    )


class LocalMode:
    """A running `python -m local`; its output (stdout and stderr) is collected by a reader thread."""

    def __init__(self, port: int, *options: str):
        self.port = port
        self.process = start(port, *options, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=1)
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name=f"local-mode-{port}", daemon=True)
        self._reader.start()
        self.endpoint, self.token = self._wait_until_ready()

    def _read(self) -> None:
        for line in self.process.stdout:
            with self._changed:
                self._lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "".join(self._lines)

    def _line(self, prefix: str) -> str | None:
        return next((line.strip() for line in self._lines if line.startswith(prefix)), None)

    def _wait_until_ready(self) -> tuple[str, str]:
        deadline = time.monotonic() + START_TIMEOUT
        with self._changed:
            # Wait for the last line printed at start, so every export line has been read.
            while self._line(READY_LINE) is None:
                left = deadline - time.monotonic()
                if left <= 0 or (self.process.poll() is not None and not self._reader.is_alive()):
                    self.stop()
                    pytest.fail(
                        f"local mode did not print its token within {START_TIMEOUT} s "
                        f"(exit code {self.process.returncode}). Output:\n{''.join(self._lines)}"
                    )
                self._changed.wait(min(left, 0.5))
            endpoint = self._line("export LAYER0_API_ENDPOINT=")
            token = self._line("export LAYER0_AUTH_TOKEN=")
        assert endpoint is not None, self.output
        return endpoint.partition("=")[2], token.partition("=")[2]

    def wait_for_exit(self, timeout: float) -> int:
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"local mode still running {timeout} s after being told to stop. Output:\n{self.output}")
        self._reader.join(timeout=10)
        return code

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._reader.join(timeout=10)


@pytest.fixture(scope="module")
def local():
    layer0 = LocalMode(free_port())
    try:
        yield layer0
    finally:
        layer0.stop()


def url(local: LocalMode, path: str) -> str:
    return local.endpoint + path.lstrip("/")


def get(local: LocalMode, path: str, token: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Basic {token}"} if token else {}
    return requests.get(url(local, path), headers=headers, timeout=30)


def authorized(local: LocalMode) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Basic {local.token}"
    return session


# --- what it prints ------------------------------------------------------------------------------------


def test_it_prints_what_the_l0_cli_needs(local):
    assert local.endpoint == f"http://127.0.0.1:{local.port}/"
    # The token is base64 of layer0:<password>, freshly generated: never the original's public default.
    username, _, password = base64.b64decode(local.token, validate=True).decode().partition(":")
    assert username == "layer0"
    assert password
    assert local.token != ORIGINAL_DEFAULT_TOKEN
    assert "export LAYER0_SKIP_VERSION_VERIFY=1" in local.output.splitlines()


# --- auth over HTTP ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/health", "/admin/config"])
def test_open_routes_answer_without_the_token(local, path):
    response = get(local, path)
    assert response.status_code == 200, response.text
    assert response.headers["Version"]


def test_admin_config_describes_the_embedded_network(local):
    config = get(local, "/admin/config").json()
    assert config["prefix"] == "l0"
    assert config["vpc_id"].startswith("vpc-")
    assert len(config["public_subnets"]) == len(config["private_subnets"]) == 2


@pytest.mark.parametrize("path", ["/admin/version", "/tag?type=environment"])
def test_protected_routes_need_the_token(local, path):
    for token in (None, ORIGINAL_DEFAULT_TOKEN, local.token + "x"):
        response = get(local, path, token)
        assert response.status_code == 401, (token, response.text)
        assert "WWW-Authenticate" not in response.headers
        assert response.headers["Version"]

    response = get(local, path, local.token)
    assert response.status_code == 200, response.text
    assert response.headers["Version"]


def test_the_token_in_the_output_is_the_one_the_api_takes(local):
    # What a user does: copy the export line into the shell, then run the CLI.
    token_line = next(line for line in local.output.splitlines() if line.startswith("export LAYER0_AUTH_TOKEN="))
    token = token_line.split("=", 1)[1]
    assert get(local, "/admin/version", token).status_code == 200


# --- what the l0 CLI does ------------------------------------------------------------------------------


def test_l0_environment_get_finds_no_matches(local):
    # `l0 environment get x` resolves the name first (docs/compatibility.md#how-the-cli-builds-its-requests); no match
    # -> the CLI prints "no matches".
    response = authorized(local).get(url(local, "/tag?type=environment&fuzz=x"), timeout=30)
    assert response.status_code == 200, response.text
    assert response.json() == []


def test_l0_admin_version(local):
    response = authorized(local).get(url(local, "/admin/version"), timeout=30)
    assert response.status_code == 200, response.text
    version = response.json()
    assert isinstance(version, str) and version
    assert response.headers["Version"] == version
    assert f"Layer0 {version} is serving on {local.endpoint}" in local.output


def test_l0_admin_sql(local):
    response = authorized(local).post(url(local, "/admin/sql"), json={"version": "latest"}, timeout=30)
    assert response.status_code == 204, response.text
    assert response.text == ""


def test_a_tag_round_trip(local):
    session = authorized(local)
    for key, value in (("name", "e2e"), ("environment_id", "e2eenv000001")):
        response = session.post(
            url(local, "/tag"),
            json={"entity_type": "service", "entity_id": "e2esvc000001", "key": key, "value": value},
            timeout=30,
        )
        assert 200 <= response.status_code < 300, response.text

    response = session.get(url(local, "/tag?type=service&fuzz=e2e"), timeout=30)
    assert response.status_code == 200, response.text
    service = {"entity_id": "e2esvc000001", "entity_type": "service"}
    assert response.json() == [
        {
            **service,
            "tags": [
                {**service, "key": "environment_id", "value": "e2eenv000001"},
                {**service, "key": "name", "value": "e2e"},
            ],
        }
    ]


def test_an_idempotency_key_replays_the_first_create(local):
    """Local mode makes the idempotency table too (docs/compatibility.md#idempotency-key)."""
    session = authorized(local)
    dockerrun = (ROOT / "tests" / "fixtures" / "Service.Dockerrun.aws.json").read_bytes()
    body = {"deploy_name": "e2ekeyed", "dockerrun": base64.b64encode(dockerrun).decode()}
    headers = {"Idempotency-Key": "e2e-deploy-1"}

    first = session.post(url(local, "/deploy"), json=body, headers=headers, timeout=30)
    again = session.post(url(local, "/deploy"), json=body, headers=headers, timeout=30)

    assert first.status_code == 200, first.text
    assert (again.status_code, again.json()) == (200, first.json())
    listed = session.get(url(local, "/deploy"), timeout=30).json()
    assert [d["deploy_id"] for d in listed if d["deploy_name"] == "e2ekeyed"] == ["e2ekeyed.1"]


@pytest.mark.parametrize("with_token", [False, True], ids=["anonymous", "with-token"])
def test_an_unknown_path_is_a_json_404(local, with_token):
    response = get(local, "/no/such/route", local.token if with_token else None)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["error_code"], int)
    assert body["message"]


# --- starting and stopping -----------------------------------------------------------------------------


def test_ctrl_c_stops_it_cleanly():
    layer0 = LocalMode(free_port())
    try:
        assert get(layer0, "/health").status_code == 200
        layer0.process.send_signal(signal.SIGINT)
        code = layer0.wait_for_exit(timeout=30)
    finally:
        layer0.stop()

    assert code == 0, layer0.output
    lines = layer0.output.splitlines()
    assert "Stopped." in lines
    assert "Traceback" not in layer0.output
    # The port is released: nothing answers there any more.
    with pytest.raises(requests.ConnectionError):
        get(layer0, "/health")


def test_a_port_in_use_is_a_clear_error():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = start(port, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"local mode kept running on a busy port. Output:\n{out}\n{err}")

    assert process.returncode == 2, (out, err)
    assert "already in use" in err
    assert re.search(rf"\b{port}\b", err)
    assert "LAYER0_AUTH_TOKEN" not in out
