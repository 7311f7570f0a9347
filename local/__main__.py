"""`python -m local`: Layer0 on http://127.0.0.1:9090/ with embedded AWS (moto), no account needed.

State lives as long as the process. Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import os
import signal
import socket
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]

from local import embedded  # noqa: E402  (needs the paths above)


def _port_is_free(host: str, port: int) -> bool:
    """Whether the gateway can listen on (host, port), probed the way it binds: `http.server` sets SO_REUSEADDR, so
    the TIME_WAIT sockets of a run stopped a minute ago do not count as the port being in use."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def _report_faults() -> None:
    from layer0 import aws

    injector = aws.fault_injector()
    if injector is not None:
        done = injector.injected
        dropped = done[aws.CONNECTION_CLOSED] + done[aws.READ_TIMEOUT]
        print(
            f"Injected faults: {done[aws.THROTTLING]} throttling, {done[aws.SERVER_ERROR]} "
            f"HTTP 500, in {injector.calls} AWS calls (rate {injector.rate}); after AWS did the work: "
            f"{done[aws.LOST_SERVER_ERROR]} HTTP 500, {dropped} dropped connections (share {injector.after})",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    parser.add_argument(
        "--host", default="127.0.0.1", help="the gateway's address (the embedded AWS is always 127.0.0.1)"
    )
    parser.add_argument(
        "--expose",
        action="store_true",
        help="allow a --host that is not loopback: the API, and its token, on that interface (every one for 0.0.0.0)",
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("LAYER0_LOCAL_PORT", "9090")))
    parser.add_argument("--prefix", default=os.environ.get("LAYER0_PREFIX", "l0"))
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=None,
        help="answer this share (0..1) of Layer0's AWS calls with throttling or an HTTP 500 (LAYER0_FAULT_RATE)",
    )
    parser.add_argument("--fault-seed", type=int, default=None, help="seed of the fault choices (LAYER0_FAULT_SEED)")
    parser.add_argument(
        "--fault-after",
        type=float,
        default=None,
        help="the share (0..1) of those faults that come after AWS did the work: the call is performed and its "
        "answer lost, an HTTP 500 or a dropped connection (LAYER0_FAULT_AFTER)",
    )
    parser.add_argument(
        "--scale-in-after",
        type=float,
        default=None,
        help="seconds an instance of a managed-scaling environment stays idle before the simulated capacity "
        "provider scales it in (default 60; docs/architecture.md#local-mode)",
    )
    args = parser.parse_args(argv)
    if not _is_loopback(args.host) and not args.expose:
        parser.error(f"--host {args.host} would serve the API beyond this machine; add --expose to do so on purpose")
    if args.fault_rate is not None:
        if not 0 <= args.fault_rate <= 1:
            parser.error("--fault-rate must be between 0 and 1")
        # A setting like any other: the client layer reads it when it makes its clients (layer0/aws.py).
        os.environ["LAYER0_FAULT_RATE"] = str(args.fault_rate)
    if args.fault_after is not None:
        if not 0 <= args.fault_after <= 1:
            parser.error("--fault-after must be between 0 and 1")
        os.environ["LAYER0_FAULT_AFTER"] = str(args.fault_after)
    if args.fault_seed is not None:
        os.environ["LAYER0_FAULT_SEED"] = str(args.fault_seed)
    if args.scale_in_after is not None:
        if args.scale_in_after < 0:
            parser.error("--scale-in-after must be 0 or more")
        os.environ["LAYER0_LOCAL_SCALE_IN_SECONDS"] = str(args.scale_in_after)

    if not _port_is_free(args.host, args.port):
        print(
            f"error: port {args.port} on {args.host} is already in use. Stop what listens there "
            f"(`lsof -i :{args.port}`) or pick another port: `make run PORT=9091` / `python -m local --port 9091`.",
            file=sys.stderr,
        )
        return 2

    if not _is_loopback(args.host):
        print(
            f"warning: --expose: the Layer0 API, with full control of this local mode, listens on {args.host}:"
            f"{args.port} ({'every interface' if args.host in ('0.0.0.0', '::') else 'that interface'}) over plain "
            "HTTP; anyone who can reach it and sees the token printed below (it travels in every request's "
            "Authorization header) can use it. The embedded AWS stays on 127.0.0.1.",
            file=sys.stderr,
            flush=True,
        )

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("Starting embedded AWS (moto) and creating the stack's resources...", flush=True)
    with embedded.Layer0(host=args.host, port=args.port, prefix=args.prefix) as layer0:
        print(f"Layer0 {layer0.api_version} is serving on {layer0.endpoint}", flush=True)
        print("Point the l0 CLI at it:", flush=True)
        print(f"export LAYER0_API_ENDPOINT={layer0.endpoint}", flush=True)
        print(f"export LAYER0_AUTH_TOKEN={layer0.token}", flush=True)
        print("export LAYER0_SKIP_VERSION_VERIFY=1", flush=True)
        print(f"Swagger UI: {layer0.endpoint}swagger (user {layer0.username}, password {layer0.password})", flush=True)
        # For looking at what Layer0 made: `aws --endpoint-url <it> ...` (any credentials).
        print(f"Embedded AWS (moto): {os.environ['AWS_ENDPOINT_URL']} region {os.environ['AWS_REGION']}", flush=True)
        print("Press Ctrl-C to stop; all state is lost when it stops.", flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        print("Stopping...", flush=True)
        _report_faults()
    print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
