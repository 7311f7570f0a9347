"""`python -m benchmarks.stress`: the original's stress scenario (docs/compatibility.md#stress-scenarios) through the
local gateway (issue 6, 1(d)).

For each case an estate is built over HTTP, then every Get and List route docs/compatibility.md#stress-scenarios names
(and GetTask) is timed:

- The API runs as in the tests of the routes (tests/api/conftest.py): moto in process, the local gateway
  (`local.gateway.http_server`) on a thread, the API handler and the authorizer behind it; every request here is a
  real HTTP request with the token.
- The estate is the Terraform module's of the original, plus, at the max case, Fargate environments (services and
  tasks round-robin over both kinds; the classic load balancers stay on EC2): environments (t2.micro, 1 instance,
  registered in its
  cluster by one pass of the local ECS agent simulation so that tasks have room), load balancers (classic,
  80:80/http, round-robin over the environments), deploys (Task.Dockerrun, round-robin over the families), services
  (scale 1, round-robin over environments and deploys) and tasks `tt<i>` (round-robin). Everything is created
  through the API over HTTP; `POST /task` starts a create-task job, whose machine here is a stand-in Pass machine
  and whose steps are run directly, as benchmarks.workload_calls does (stand-in job machines, no Step Functions
  interpreter in the way).
- The gateway's sockets run with TCP_NODELAY (see `_gateway`): without it each answer stalls ~40 ms on the
  client's delayed ACK, a cost of the local HTTP server only, which no deployed API Gateway has.
- Timing: each route gets one untimed warm-up request (the lazy clients), then N sequential requests; Get routes
  walk round-robin over the case's entities. An error is any non-2xx answer, or a List answer that misses one of
  the case's entities. p50 and p99 are nearest-rank percentiles of the wall time of one HTTP request; the CPU p50 is
  that of the CPU time the API's process spent on one request, and the token waits are the time the client layer's
  buckets made the route's requests sleep.
- Paired cases (`run_paired`, what the command line and the report run): every case is built at once, each in a
  process of its own (its own moto, gateway and client layer), then each route's requests alternate between the
  cases (min, max, max, min, ...). A ratio between two cases then compares requests of the same seconds: on a
  shared machine the load changes from one second to the next, and cases measured one after the other (`run`) met
  different loads. Nothing is dropped or smoothed: every timed request counts, as before.
- The client layer's rate limit (each service's own, sized from its AWS quota: docs/operations.md#pacing) is lifted
  for set-up AND measurement by default: the figures are then the cost of our code, botocore, moto and the gateway,
  not of the token bucket (the limiter's own accuracy is figure 1(e)). `--aws-rate default` measures with the
  default pacing, `--aws-rate 10` with 10 calls/s for every service; at the max case a List route then waits for
  the bucket (ECS calls grow with environments).

Cases (docs/compatibility.md#stress-scenarios): min, med and max; `python -m benchmarks.stress` runs min and max,
`--quick` fewer requests.
The report ends with `key=value` figures: errors, the List routes' token waits, and per List route the max/min ratio of
the wall-time p50 and of the CPU p50.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks import bootstrap
from benchmarks.common import (
    dockerrun,
    in_process_stack,
    pacing_restored,
    register_instances,
    run_create_task_job,
    stand_in_job_machines,
)

DEPLOY_FIXTURE = "Task.Dockerrun.aws.json"  # no host ports: any number of copies fits one instance
INSTANCE_SIZE = "t2.micro"  # the module's size; 1024 MiB holds the ~6 copies (100 MiB each) one environment gets
# The Graviton environments' size (docs/compatibility.md#graviton-arm64): t2.micro's 1024 MiB, arm64.
ARM64_INSTANCE_SIZE = "t4g.micro"
GET_REQUESTS = 50
LIST_REQUESTS = 20
LIFTED_RATE = 1e9


@dataclass(frozen=True)
class Case:
    environments: int
    load_balancers: int
    deploys: int
    deploy_families: int
    services: int
    tasks: int
    # Fargate environments besides the EC2 ones (docs/compatibility.md#fargate-environments): services and tasks
    # round-robin over both kinds; the classic load balancers go to the EC2 ones.
    fargate_environments: int = 0
    # Of the environments, how many are Graviton (arm64) ones: the first ones, of ARM64_INSTANCE_SIZE.
    arm64_environments: int = 0

    def __post_init__(self):
        # As the module: services and tasks force at least one environment and one deploy.
        if (self.services or self.tasks) and (self.environments < 1 or self.deploys < 1):
            raise ValueError("services and tasks need at least one environment and one deploy")
        if self.load_balancers and self.environments < 1:
            raise ValueError("load balancers need at least one environment")
        if self.deploys and self.deploy_families < 1:
            raise ValueError("deploys need at least one family")
        if not 0 <= self.arm64_environments <= self.environments:
            raise ValueError("arm64 environments are some of the environments")


# docs/compatibility.md#stress-scenarios: deploys 1/50/100 in families 1/15/30; environments 1/15/30; load balancers
# 1/25/50; services 1/25/50;
# tasks 1/50/100. The max case makes a third of its environments Graviton (arm64) ones, which its services and
# tasks, round-robin over the environments, run in too.
CASES = {
    "min": Case(environments=1, load_balancers=1, deploys=1, deploy_families=1, services=1, tasks=1),
    "med": Case(environments=15, load_balancers=25, deploys=50, deploy_families=15, services=25, tasks=50),
    "max": Case(
        environments=30,
        load_balancers=50,
        deploys=100,
        deploy_families=30,
        services=50,
        tasks=100,
        fargate_environments=10,
        arm64_environments=10,
    ),
}

# Route name (the original's benchmark names, plus GetTask) -> (path, or path template with {id}, entity kind).
GET_ROUTES = {
    "GetDeploy": ("/deploy/{id}", "deploys"),
    "GetEnvironment": ("/environment/{id}", "environments"),
    "GetLoadBalancer": ("/loadbalancer/{id}", "load_balancers"),
    "GetService": ("/service/{id}", "services"),
    "GetTask": ("/task/{id}", "tasks"),
}
LIST_ROUTES = {
    "ListDeploys": ("/deploy", "deploys", "deploy_id"),
    "ListEnvironments": ("/environment", "environments", "environment_id"),
    "ListLoadBalancers": ("/loadbalancer", "load_balancers", "load_balancer_id"),
    "ListServices": ("/service", "services", "service_id"),
    "ListTasks": ("/task", "tasks", "task_id"),
}
ROUTE_ORDER = ("GetDeploy", "ListDeploys", "GetEnvironment", "ListEnvironments", "GetLoadBalancer",
               "ListLoadBalancers", "GetService", "ListServices", "GetTask", "ListTasks")  # fmt: skip


def _percentile(samples: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass
class RouteTiming:
    route: str
    seconds: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    # The process's CPU time per request (the API, moto, the gateway and the HTTP client all run in this process):
    # less moved than the wall time by other processes on the machine.
    cpu_seconds: list[float] = field(default_factory=list)
    # Time the client layer's token buckets made this route's requests sleep, in all.
    token_wait: float = 0.0

    def percentile(self, share: float) -> float:
        """Nearest-rank percentile of the wall times, in seconds."""
        return _percentile(self.seconds, share)

    @property
    def p50(self) -> float:
        return self.percentile(0.50)

    @property
    def cpu_p50(self) -> float:
        return _percentile(self.cpu_seconds, 0.50)

    @property
    def p99(self) -> float:
        return self.percentile(0.99)

    def error(self, message: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 3:
            self.error_samples.append(message)


@dataclass
class StressResult:
    case: str
    sizes: Case
    routes: dict[str, RouteTiming]
    aws_rate: float | None
    setup_seconds: float
    measure_seconds: float

    @property
    def errors(self) -> int:
        return sum(timing.errors for timing in self.routes.values())


class _Client:
    """HTTP to the local gateway, with the token; `ok` raises on any non-2xx answer (set-up must not fail)."""

    def __init__(self, url: str, token: str):
        import requests

        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Basic {token}"

    def request(self, method: str, path: str, body: dict | None = None):
        return self.session.request(method, self.url + path.lstrip("/"), json=body, timeout=120)

    def ok(self, method: str, path: str, body: dict | None = None):
        response = self.request(method, path, body)
        if not 200 <= response.status_code < 300:
            raise RuntimeError(f"set-up: {method} {path} answered {response.status_code}: {response.text[:300]}")
        return response


@contextlib.contextmanager
def _gateway(token: str):
    """The local gateway on a free port, on a thread, as tests/api/conftest.py serves it; yields its client."""
    from handlers import api as api_function
    from handlers import authorizer
    from layer0 import settings
    from local.gateway import Gateway, http_server

    gateway = Gateway(api_function.handler, authorizer.handler, settings.get().api_version)
    # Its handler sends with TCP_NODELAY (local/gateway.py): no ~40 ms delayed-ACK stall under the figures here.
    server = http_server(gateway, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield _Client(f"http://127.0.0.1:{server.server_address[1]}/", token)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def _quiet_gateway():
    """The gateway prints one line per request (as the original API logged); a stress run would print thousands."""
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        yield


def _set_rate(rate: float) -> None:
    """Make the client layer pace at `rate` per service: its buckets are made once per process, so forget them."""
    from layer0 import aws, settings

    os.environ["LAYER0_AWS_RATE"] = repr(rate)
    settings.get.cache_clear()
    aws.reset()


def build(client: _Client, sizes: Case) -> dict[str, list[str]]:
    """The case's estate, over HTTP; returns the ids of each kind of entity."""
    from layer0 import jobs

    made: dict[str, list[str]] = {
        kind: [] for kind in ("environments", "load_balancers", "deploys", "services", "tasks")
    }
    for n in range(sizes.environments):
        size = ARM64_INSTANCE_SIZE if n < sizes.arm64_environments else INSTANCE_SIZE
        body = {"environment_name": f"stress{n}", "operating_system": "linux", "instance_size": size,
                "min_cluster_count": 1}  # fmt: skip
        made["environments"].append(client.ok("POST", "/environment", body).json()["environment_id"])
    register_instances()
    ec2_envs = list(made["environments"])
    for n in range(sizes.fargate_environments):
        body = {"environment_name": f"stressfg{n}", "environment_type": "fargate"}
        made["environments"].append(client.ok("POST", "/environment", body).json()["environment_id"])
    envs = made["environments"]
    for n in range(sizes.load_balancers):
        body = {"load_balancer_name": f"stresslb{n}", "environment_id": ec2_envs[n % len(ec2_envs)], "is_public": True,
                "ports": [{"host_port": 80, "container_port": 80, "protocol": "http"}],
                "load_balancer_type": "classic"}  # fmt: skip
        made["load_balancers"].append(client.ok("POST", "/loadbalancer", body).json()["load_balancer_id"])
    dockerrun_body = dockerrun(DEPLOY_FIXTURE)
    for n in range(sizes.deploys):
        body = {"deploy_name": f"stress{n % sizes.deploy_families}", "dockerrun": dockerrun_body}
        made["deploys"].append(client.ok("POST", "/deploy", body).json()["deploy_id"])
    deploys = made["deploys"]
    for n in range(sizes.services):
        body = {"service_name": f"stresssvc{n}", "environment_id": envs[n % len(envs)],
                "deploy_id": deploys[n % len(deploys)]}  # fmt: skip
        made["services"].append(client.ok("POST", "/service", body).json()["service_id"])
    for n in range(sizes.tasks):
        body = {"task_name": f"tt{n}", "environment_id": envs[n % len(envs)], "deploy_id": deploys[n % len(deploys)],
                "container_overrides": []}  # fmt: skip
        job_id = client.ok("POST", "/task", body).headers["X-JobID"]
        made["tasks"].append(run_create_task_job(job_id, jobs.get(job_id).request))
    return made


class _TokenWaits:
    """The time the client layer's token buckets make callers sleep, summed while `counting` (the buckets return
    it from `acquire`): whether a route waited for the pacing, or for the machine."""

    def __init__(self) -> None:
        self.total = 0.0

    @contextlib.contextmanager
    def counting(self):
        from layer0 import aws

        acquire = aws.TokenBucket.acquire

        def counted(bucket: aws.TokenBucket) -> float:
            waited = acquire(bucket)
            self.total += waited
            return waited

        aws.TokenBucket.acquire = counted  # type: ignore[method-assign,assignment]
        try:
            yield self
        finally:
            aws.TokenBucket.acquire = acquire  # type: ignore[method-assign]


_token_waits = _TokenWaits()


def _local_stats() -> tuple[float, float]:
    """(token waits so far, CPU time) of this process, where the API serves the requests."""
    return _token_waits.total, time.process_time()


def _timed(
    client: _Client,
    path: str,
    timing: RouteTiming,
    wanted: set[str] | None = None,
    key: str = "",
    stats: Callable[[], tuple[float, float]] = _local_stats,
) -> None:
    """One timed request. `stats` reads (token waits so far, CPU time) of the process that serves the API, before
    and after the request, outside the timed span."""
    waited, cpu = stats()
    started = time.perf_counter()
    ended = math.nan

    def record() -> None:
        timing.seconds.append(ended - started)
        waited_after, cpu_after = stats()
        timing.cpu_seconds.append(cpu_after - cpu)
        timing.token_wait += waited_after - waited

    try:
        response = client.request("GET", path)
    except Exception as error:  # a dropped connection is an error of the route, not of the benchmark
        ended = time.perf_counter()
        record()
        timing.error(f"GET {path}: {type(error).__name__}: {error}")
        return
    ended = time.perf_counter()
    record()
    if not 200 <= response.status_code < 300:
        timing.error(f"GET {path}: {response.status_code} {response.text[:200]}")
    elif wanted:
        missing = wanted - {item.get(key) for item in response.json()}
        if missing:
            timing.error(f"GET {path}: {len(missing)} of the case's {len(wanted)} missing, e.g. {sorted(missing)[0]}")


def measure(
    client: _Client, made: dict[str, list[str]], get_requests: int, list_requests: int
) -> dict[str, RouteTiming]:
    routes: dict[str, RouteTiming] = {}
    for route in ROUTE_ORDER:
        timing = routes[route] = RouteTiming(route)
        if route in GET_ROUTES:
            template, kind = GET_ROUTES[route]
            ids = made[kind]
            if not ids:
                continue
            client.request("GET", template.format(id=ids[0]))  # warm-up, untimed
            for n in range(get_requests):
                _timed(client, template.format(id=ids[n % len(ids)]), timing)
        else:
            path, kind, key = LIST_ROUTES[route]
            client.request("GET", path)  # warm-up, untimed
            for _ in range(list_requests):
                _timed(client, path, timing, set(made[kind]), key)
    return routes


def run_in_stack(
    token: str, case: str, sizes: Case, get_requests: int, list_requests: int, aws_rate: float | None = LIFTED_RATE
) -> StressResult:
    """One case against the stack that is up (moto active, settings set): build over HTTP, then time the routes."""
    with _estate(token, sizes, aws_rate) as (client, made, setup_seconds):
        started = time.monotonic()
        with _token_waits.counting():
            routes = measure(client, made, get_requests, list_requests)
        measure_seconds = time.monotonic() - started
    return StressResult(case, sizes, routes, aws_rate, setup_seconds, measure_seconds)


@contextlib.contextmanager
def _estate(token: str, sizes: Case, aws_rate: float | None):
    """The case's estate, built over HTTP at the lifted rate behind the local gateway (stand-in job machines, local
    mode's moto patches); yields (the gateway's client, what was made, the set-up's seconds) with the client
    layer's rate set for measuring."""
    from local import moto_patches

    moto_patches.apply()  # local mode runs with them (RunTask placement, task states)
    try:
        with _quiet_gateway(), _gateway(token) as client, stand_in_job_machines():
            _set_rate(LIFTED_RATE)
            started = time.monotonic()
            made = build(client, sizes)
            setup_seconds = time.monotonic() - started
            _set_rate(aws_rate) if aws_rate is not None else _default_rate()
            yield client, made, setup_seconds
    finally:
        moto_patches.revert_ecs()


def run(case: str | Case, requests_per_route: int | None = None, aws_rate: float | None = LIFTED_RATE) -> StressResult:
    """Build the case's estate on a fresh in-process stack and time every Get and List route.

    `case` is "min", "med", "max" or a Case; `requests_per_route` None means 50 per Get and 20 per List route,
    a number means that many for every route. `aws_rate` is the client layer's rate while measuring, None for the
    default pacing (each service's own, docs/operations.md#pacing); set-up always runs with it lifted.
    """
    from layer0 import aws, settings

    sizes = CASES[case] if isinstance(case, str) else case
    name = case if isinstance(case, str) else "custom"
    get_requests = GET_REQUESTS if requests_per_route is None else requests_per_route
    list_requests = LIST_REQUESTS if requests_per_route is None else requests_per_route
    before = os.environ.get("LAYER0_AWS_RATE")
    try:
        with in_process_stack() as token:
            return run_in_stack(token, name, sizes, get_requests, list_requests, aws_rate)
    finally:
        if before is None:
            os.environ.pop("LAYER0_AWS_RATE", None)
        else:
            os.environ["LAYER0_AWS_RATE"] = before
        settings.get.cache_clear()
        aws.reset()


# --- paired: the cases served side by side, their requests alternated -------------------------------------------


def _serve_case(sizes: Case, aws_rate: float | None, conn) -> None:
    """A child process's work: one case's estate on its own in-process stack, behind its own gateway; tells the
    parent where, then answers its requests for (token waits so far, CPU time) until told to stop."""
    import traceback

    bootstrap.paths()
    try:
        with in_process_stack() as token, _estate(token, sizes, aws_rate) as (client, made, setup_seconds):
            gc.collect()  # the set-up's garbage, not in a timed request
            with _token_waits.counting():
                conn.send(("ready", client.url, token, made, setup_seconds))
                while conn.recv() == "stats":
                    conn.send(_local_stats())
    except BaseException:
        conn.send(("failed", traceback.format_exc()))
        raise


class _CaseServer:
    """One case served by a child process (`_serve_case`), for `run_paired`."""

    def __init__(self, name: str, sizes: Case, aws_rate: float | None):
        import multiprocessing

        self.name, self.sizes = name, sizes
        # spawn: a fresh interpreter, with its own moto and its own client layer; the parent's path is passed on.
        context = multiprocessing.get_context("spawn")
        self.conn, child_conn = context.Pipe()
        self.process = context.Process(target=_serve_case, args=(sizes, aws_rate, child_conn), daemon=True)

    def __enter__(self) -> _CaseServer:
        self.process.start()
        answer = self.conn.recv()
        if answer[0] != "ready":
            raise RuntimeError(f"case {self.name}: the child failed to build its estate:\n{answer[1]}")
        _, url, token, self.made, self.setup_seconds = answer
        self.client = _Client(url, token)
        return self

    def stats(self) -> tuple[float, float]:
        self.conn.send("stats")
        return self.conn.recv()

    def __exit__(self, *_exc) -> None:
        with contextlib.suppress(OSError):
            self.conn.send("stop")
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.kill()


def measure_paired(servers: list[_CaseServer], get_requests: int, list_requests: int) -> list[dict[str, RouteTiming]]:
    """`measure` for several cases at once: each route's requests go to the cases in turn (case A, case B, case A,
    ...; the first case alternates), so every case meets the machine's load of the same seconds."""
    routes: list[dict[str, RouteTiming]] = [{} for _ in servers]
    for route in ROUTE_ORDER:
        timings = [per_case.setdefault(route, RouteTiming(route)) for per_case in routes]
        if route in GET_ROUTES:
            template, kind = GET_ROUTES[route]
            count, paths = get_requests, [[template.format(id=i) for i in server.made[kind]] for server in servers]
            wanted: list[set[str] | None] = [None] * len(servers)
            key = ""
        else:
            path, kind, key = LIST_ROUTES[route]
            count, paths = list_requests, [[path] for _ in servers]
            wanted = [set(server.made[kind]) for server in servers]
        for server, server_paths in zip(servers, paths, strict=True):
            if server_paths:
                server.client.request("GET", server_paths[0])  # warm-up, untimed
        for n in range(count):
            order = list(range(len(servers)))
            if n % 2:
                order.reverse()
            for index in order:
                server, server_paths = servers[index], paths[index]
                if server_paths:
                    _timed(server.client, server_paths[n % len(server_paths)], timings[index], wanted[index], key,
                           server.stats)  # fmt: skip
    return routes


def run_paired(
    cases: list[str | Case], requests_per_route: int | None = None, aws_rate: float | None = LIFTED_RATE
) -> list[StressResult]:
    """Every case built at once, each in a process of its own (its own moto, gateway and client layer, as `run`
    builds one), then `measure_paired`: the cases' requests alternate, so a ratio between two cases compares
    requests made in the same seconds, whatever else the machine runs meanwhile."""
    get_requests = GET_REQUESTS if requests_per_route is None else requests_per_route
    list_requests = LIST_REQUESTS if requests_per_route is None else requests_per_route
    named = [(case, CASES[case]) if isinstance(case, str) else ("custom", case) for case in cases]
    servers = [_CaseServer(name, sizes, aws_rate) for name, sizes in named]
    with contextlib.ExitStack() as stack:
        # Started last case first: of two processes serving the same case, the one started first answered 5-10%
        # slower (benchmarks/README.md, (d)); so the bias can only raise a ratio of a later case over an earlier one.
        for server in reversed(servers):
            stack.enter_context(server)
        started = time.monotonic()
        routes = measure_paired(servers, get_requests, list_requests)
        measure_seconds = time.monotonic() - started
    return [
        StressResult(server.name, server.sizes, timings, aws_rate, server.setup_seconds, measure_seconds)
        for server, timings in zip(servers, routes, strict=True)
    ]


# --- pacing: what one user feels at the default rate, and local mode after a long history (issue 13) --------------

PACING_GETS = 50  # back-to-back GET /service/{id}
PACING_LISTS = 10  # GET /service and GET /deploy each, per phase: within a fresh ECS bucket at the default rate
HISTORY = 200  # environments (and deploys) created and deleted between the two phases


@dataclass
class PacingResult:
    sequential_before: RouteTiming
    sequential_after: RouteTiming
    lists_before: dict[str, RouteTiming]
    lists_after: dict[str, RouteTiming]
    history: int
    history_seconds: float

    @property
    def errors(self) -> int:
        timings = [self.sequential_before, self.sequential_after, *self.lists_before.values()]
        return sum(timing.errors for timing in [*timings, *self.lists_after.values()])


def _default_rate() -> None:
    """The client layer at its default pacing (each service's own, from its AWS quota), with full buckets, as a
    container that has just served its first request; the clients stay (they are warm)."""
    from layer0 import aws, settings

    os.environ.pop("LAYER0_AWS_RATE", None)
    os.environ.pop("LAYER0_AWS_BURST", None)
    settings.get.cache_clear()
    aws.reset_limiters()


def _pacing_phase(client: _Client, made: dict[str, list[str]], gets: int, lists: int):
    """Warm-up (lifted), then at the default rate from full buckets: `gets` GET /service/{id} back to back; then,
    from full buckets again, `lists` GET /service and GET /deploy."""
    service = made["services"][0]
    _set_rate(LIFTED_RATE)
    for path in (f"/service/{service}", "/service", "/deploy"):
        client.ok("GET", path)  # warm-up, untimed: the lazy clients
    _default_rate()
    gc.collect()  # the set-up's garbage: a full collection otherwise lands in one timed request (~1 s here)
    sequential = RouteTiming("GetService")
    for _ in range(gets):
        _timed(client, f"/service/{service}", sequential)
    listed = {}
    for route in ("ListServices", "ListDeploys"):
        _default_rate()
        path, kind, key = LIST_ROUTES[route]
        timing = listed[route] = RouteTiming(route)
        for _ in range(lists):
            _timed(client, path, timing, set(made[kind]), key)
    return sequential, listed


def make_history(client: _Client, count: int) -> None:
    """`count` environments and `count` deploys created and deleted, at the lifted rate. Creates go through the API
    over HTTP (POST /environment, POST /deploy); a deploy is deleted through the API (DELETE /deploy/{id}); an
    environment through the delete-environment machine's own steps, in its order, called directly (as
    `run_create_task_job` does for tasks): no instances (min_cluster_count 0), so no instance polls to wait for."""
    from layer0 import capacity, environments
    from layer0.workflows import delete_environment

    dockerrun_body = dockerrun(DEPLOY_FIXTURE)
    for n in range(count):
        body = {"environment_name": f"gone{n}", "operating_system": "linux", "instance_size": INSTANCE_SIZE,
                "min_cluster_count": 0}  # fmt: skip
        environment_id = client.ok("POST", "/environment", body).json()["environment_id"]
        delete_environment.unlink_all(environment_id)
        for dependency in delete_environment.list_dependencies(environment_id)["dependencies"]:
            delete_environment.delete_dependency(environment_id, dependency["kind"], dependency["id"])
        capacity.delete_provider(environment_id)
        environments.delete_autoscaling_group(environment_id)
        environments.delete_launch_template(environment_id)
        environments.delete_security_group(environment_id)
        environments.delete_cluster(environment_id)
        delete_environment.delete_tags(environment_id)
        deploy_id = client.ok("POST", "/deploy", {"deploy_name": f"gone{n}", "dockerrun": dockerrun_body}).json()
        client.ok("DELETE", f"/deploy/{deploy_id['deploy_id']}")


def pacing_in_stack(token: str, history: int = HISTORY, gets: int = PACING_GETS, lists: int = PACING_LISTS):
    """The min case's estate, the pacing phase, `history` creates and deletes, the pacing phase again."""
    from local import moto_patches

    moto_patches.apply()
    try:
        with _quiet_gateway(), _gateway(token) as client, stand_in_job_machines():
            _set_rate(LIFTED_RATE)
            made = build(client, CASES["min"])
            sequential_before, lists_before = _pacing_phase(client, made, gets, lists)
            _set_rate(LIFTED_RATE)
            started = time.monotonic()
            make_history(client, history)
            history_seconds = time.monotonic() - started
            sequential_after, lists_after = _pacing_phase(client, made, gets, lists)
    finally:
        moto_patches.revert_ecs()
    return PacingResult(sequential_before, sequential_after, lists_before, lists_after, history, history_seconds)


def pacing(history: int = HISTORY, gets: int = PACING_GETS, lists: int = PACING_LISTS) -> PacingResult:
    """`pacing_in_stack` on a fresh in-process stack; the settings are restored after."""
    with pacing_restored(), in_process_stack() as token:
        return pacing_in_stack(token, history, gets, lists)


def _ratio(high: float, low: float) -> float:
    return high / low if low and not math.isnan(low) and not math.isnan(high) else math.nan


def pacing_report(result: PacingResult) -> str:
    """Markdown: the back-to-back Gets and the Lists before and after the history, then `key=value` figures."""
    before, after = result.sequential_before, result.sequential_after
    lines = [
        f"At the default pacing (each AWS service's rate and burst from its quota, docs/operations.md#pacing), full "
        f"buckets: {len(before.seconds)} back-to-back `GET /service/{{id}}` (one ECS call each), then "
        f"{len(result.lists_before['ListServices'].seconds)} each of `GET /service` and `GET /deploy` on the min "
        f"case's estate; again after {result.history} environments and {result.history} deploys were created and "
        f"deleted ({result.history_seconds:.1f} s, at the lifted rate).",
        "",
        "| measure | before the history: p50 ms | p99 ms | after: p50 ms | p99 ms | after / before (p50) |",
        "|---|---|---|---|---|---|",
        f"| GET /service/{{id}}, back to back | {_ms(before.p50)} | {_ms(before.p99)} | {_ms(after.p50)} | "
        f"{_ms(after.p99)} | {_ratio(after.p50, before.p50):.2f} |",
    ]
    for route in ("ListServices", "ListDeploys"):
        low, high = result.lists_before[route], result.lists_after[route]
        lines.append(
            f"| {route} | {_ms(low.p50)} | {_ms(low.p99)} | {_ms(high.p50)} | {_ms(high.p99)} | "
            f"{_ratio(high.p50, low.p50):.2f} |"
        )
    for timing in [before, after, *result.lists_before.values(), *result.lists_after.values()]:
        lines += [f"- {timing.route} error: {sample}" for sample in timing.error_samples]
    services = _ratio(result.lists_after["ListServices"].p50, result.lists_before["ListServices"].p50)
    deploys = _ratio(result.lists_after["ListDeploys"].p50, result.lists_before["ListDeploys"].p50)
    lines += [
        "",
        f"pacing_errors={result.errors} sequential_get_p50_ms={_ms(before.p50)} "
        f"sequential_get_p99_ms={_ms(before.p99)} "
        f"sequential_get_p99_over_p50={_ratio(before.p99, before.p50):.2f} history_list_ratio={services:.2f} "
        f"history_deploy_list_ratio={deploys:.2f}",
    ]
    return "\n".join(lines)


def _ms(seconds: float) -> str:
    return "—" if math.isnan(seconds) else f"{seconds * 1000:.1f}"


def _rate(rate: float | None) -> str:
    if rate is None:
        return "default (each service's own, docs/operations.md#pacing)"
    return "lifted" if rate >= LIFTED_RATE else f"{rate:g}/s"


def _key(route: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in route).lstrip("_")


def report(results: list[StressResult]) -> str:
    """Markdown: one table per case, the List ratios from the smallest to the largest case, then `key=value` figures."""
    lines: list[str] = []
    for result in results:
        s = result.sizes
        lines += [
            f"Case {result.case}: {s.environments} environments (and {s.fargate_environments} on Fargate), "
            f"{s.load_balancers} load balancers, "
            f"{s.deploys} deploys in {s.deploy_families} families, {s.services} services, {s.tasks} tasks; "
            "AWS rate while measuring: "
            f"{_rate(result.aws_rate)}; set-up {result.setup_seconds:.1f} s, measuring {result.measure_seconds:.1f} s.",
            "",
            "| route | requests | errors | p50 ms | p99 ms | CPU p50 ms | token waits ms |",
            "|---|---|---|---|---|---|---|",
        ]
        for route, timing in result.routes.items():
            lines.append(
                f"| {route} | {len(timing.seconds)} | {timing.errors} | {_ms(timing.p50)} | {_ms(timing.p99)} | "
                f"{_ms(timing.cpu_p50)} | {timing.token_wait * 1000:.1f} |"
            )
        for timing in result.routes.values():
            lines += [f"- {timing.route} error: {sample}" for sample in timing.error_samples]
        lines.append("")
    figures = [f"errors={sum(r.errors for r in results)}"]
    figures += [f"{r.case}_{_key(route)}_p50_ms={_ms(t.p50)}" for r in results for route, t in r.routes.items()]
    list_waits = sum(r.routes[route].token_wait for r in results for route in LIST_ROUTES)
    figures.append(f"list_token_wait_ms={list_waits * 1000:.1f}")
    if len(results) >= 2:
        first, last = results[0], results[-1]
        lines += [
            f"How much each List route slows from case {first.case} to case {last.case} (p50 / p50; the CPU ratio "
            "is the same for the process's CPU time per request, which other processes on the machine move less):",
            "",
            f"| route | {first.case} p50 ms | {last.case} p50 ms | ratio | CPU ratio |",
            "|---|---|---|---|---|",
        ]
        for route in LIST_ROUTES:
            low, high = first.routes[route], last.routes[route]
            ratio, cpu_ratio = _ratio(high.p50, low.p50), _ratio(high.cpu_p50, low.cpu_p50)
            lines.append(f"| {route} | {_ms(low.p50)} | {_ms(high.p50)} | {ratio:.2f} | {cpu_ratio:.2f} |")
            figures.append(f"{_key(route)}_ratio={ratio:.2f}")
            figures.append(f"{_key(route)}_cpu_ratio={cpu_ratio:.2f}")
        lines.append("")
    lines.append(" ".join(figures))
    return "\n".join(lines)


def _rate_argument(value: str) -> float | None:
    return None if value == "default" else float(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stress", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="10 requests per route instead of 50 per Get, 20 per List")
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=["min", "max"])
    parser.add_argument("--aws-rate", type=_rate_argument, default=LIFTED_RATE,
                        help="the client layer's calls/s per service while measuring, or `default` for each "
                             "service's own (default: lifted)")  # fmt: skip
    args = parser.parse_args(argv)
    started = time.monotonic()
    results = run_paired(args.cases, 10 if args.quick else None, args.aws_rate)
    print(report(results))
    print(f"\nstress wall time {time.monotonic() - started:.1f} s")
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    bootstrap.paths()
    raise SystemExit(main())
