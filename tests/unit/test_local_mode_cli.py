"""`python -m local`'s edges (docs/architecture.md#local-mode): what it binds, and its port probe."""

from __future__ import annotations

import socket

import pytest

from local import __main__ as local_main
from local import embedded


class Started(Exception):
    """Raised by a stand-in for local mode's Layer0: the command got past its checks."""


@pytest.fixture
def no_layer0(monkeypatch):
    """`python -m local` up to the point where it would start Layer0."""

    def refuse(**_kwargs):
        raise Started

    monkeypatch.setattr(local_main.embedded, "Layer0", refuse)
    monkeypatch.setattr(local_main, "_port_is_free", lambda *_: True)


def time_wait_port() -> int:
    """A port with a TIME_WAIT socket on the server side: the server closed first, then its listener went away,
    as when `make run` stops while a client (the CLI, a browser) is connected."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()  # the server side closes first: it is the side left in TIME_WAIT
        client.recv(1)
        client.close()
    return port


def test_a_port_in_time_wait_is_free():
    port = time_wait_port()
    # The TIME_WAIT socket is there: a bind without SO_REUSEADDR trips over it...
    with socket.socket() as plain, pytest.raises(OSError):
        plain.bind(("127.0.0.1", port))
    # ...and the gateway (http.server sets SO_REUSEADDR) would bind, so the probe says free.
    assert local_main._port_is_free("127.0.0.1", port)


def test_a_port_someone_listens_on_is_in_use():
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert not local_main._port_is_free("127.0.0.1", listener.getsockname()[1])


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "my-laptop.example"])
def test_a_host_beyond_loopback_needs_expose(no_layer0, capsys, host):
    with pytest.raises(SystemExit) as exited:
        local_main.main(["--host", host])
    assert exited.value.code == 2
    assert "--expose" in capsys.readouterr().err


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_loopback_needs_no_flag_and_gets_no_warning(no_layer0, capsys, host):
    with pytest.raises(Started):
        local_main.main(["--host", host])
    assert "warning" not in capsys.readouterr().err


def test_expose_warns_what_it_exposes(no_layer0, capsys):
    with pytest.raises(Started):
        local_main.main(["--host", "0.0.0.0", "--expose"])
    warning = capsys.readouterr().err
    assert "every interface" in warning and "token" in warning and "API" in warning
    assert "embedded AWS stays on 127.0.0.1" in warning


def test_the_embedded_aws_binds_loopback_whatever_the_gateway_host():
    layer0 = embedded.Layer0(host="0.0.0.0", port=0)
    try:
        endpoint = layer0._start_moto()
        assert layer0._moto is not None
        assert layer0._moto.get_host_and_port()[0] == "127.0.0.1"
        assert endpoint.startswith("http://127.0.0.1:")
    finally:
        layer0.__exit__(None, None, None)
