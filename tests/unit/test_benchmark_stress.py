"""benchmarks.stress (issue 6, 1(d)): a tiny case of the docs/compatibility.md#stress-scenarios scenario over HTTP
through the local gateway."""

from __future__ import annotations

from benchmarks import stress
from layer0 import aws

TINY = stress.Case(
    environments=2,
    load_balancers=2,
    deploys=3,
    deploy_families=2,
    services=2,
    tasks=3,
    fargate_environments=1,
    arm64_environments=1,
)


def test_the_max_case_includes_graviton_and_fargate_environments():
    assert 0 < stress.CASES["max"].arm64_environments < stress.CASES["max"].environments
    assert stress.CASES["max"].fargate_environments > 0


def test_a_tiny_case_builds_its_estate_and_every_route_answers_without_error(stack, monkeypatch):
    # Recorded by monkeypatch, so the rate the benchmark sets is undone after the test; the buckets are per process.
    monkeypatch.setenv("LAYER0_AWS_RATE", "10")
    try:
        result = stress.run_in_stack(stack, "tiny", TINY, get_requests=3, list_requests=3)
    finally:
        aws.reset()

    assert list(result.routes) == list(stress.ROUTE_ORDER)
    for route, timing in result.routes.items():
        assert timing.errors == 0, (route, timing.error_samples)
        assert len(timing.seconds) == 3, route
        assert 0 < timing.p50 <= timing.p99, route
        assert len(timing.cpu_seconds) == 3 and timing.cpu_p50 > 0, route
        assert timing.token_wait == 0, route  # measured at the lifted rate: no bucket makes anyone wait
    assert result.errors == 0
    _assert_estate()
    _assert_report(result)


def _assert_estate():
    from tests.conftest import setup_client

    ecs = setup_client("ecs")
    clusters = [arn for arn in ecs.list_clusters()["clusterArns"] if "/l0-l0-" in arn]
    services = [arn for cluster in clusters for arn in ecs.list_services(cluster=cluster)["serviceArns"]]
    tasks = [arn for cluster in clusters for arn in ecs.list_tasks(cluster=cluster)["taskArns"]]
    assert len(services) == TINY.services
    # The first environment is a Graviton one (docs/compatibility.md#graviton-arm64); services and tasks run in both.
    types = {
        group["AutoScalingGroupName"]: group["Instances"][0]["InstanceType"]
        for group in setup_client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    }
    assert sorted(types.values()) == sorted([stress.ARM64_INSTANCE_SIZE, stress.INSTANCE_SIZE])
    assert len(tasks) >= TINY.tasks  # a service's own task may be placed too
    families = setup_client("ecs").list_task_definition_families(status="ACTIVE")["families"]
    assert len([f for f in families if f.startswith("l0-l0-stress") and "--fargate-" not in f]) == TINY.deploy_families
    # Services and tasks went round-robin into the Fargate environment too: its deploys' Fargate variants.
    assert [f for f in families if "--fargate-" in f]
    balancers = setup_client("elb").describe_load_balancers()["LoadBalancerDescriptions"]
    assert len(balancers) == TINY.load_balancers
    assert {(listener["Listener"]["LoadBalancerPort"], listener["Listener"]["Protocol"])
            for lb in balancers for listener in lb["ListenerDescriptions"]} == {(80, "HTTP")}  # fmt: skip


def _assert_report(result):
    text = stress.report([result, result])
    figures = dict(item.split("=") for item in text.splitlines()[-1].split())
    assert figures["errors"] == "0"
    for route in stress.ROUTE_ORDER:
        assert f"| {route} | 3 | 0 |" in text
    for key in ("list_deploys", "list_environments", "list_load_balancers", "list_services", "list_tasks"):
        assert figures[f"{key}_ratio"] == "1.00"  # the same result twice
        assert figures[f"{key}_cpu_ratio"] == "1.00"
    assert figures["list_token_wait_ms"] == "0.0"


def test_paired_cases_are_served_by_processes_of_their_own_and_measured_in_turn():
    """Two cases, each built in a child process with its own moto; their requests alternate. Each List answers
    its own case's entities (a miss counts as an error), so the two estates stayed apart."""
    one = stress.Case(environments=1, load_balancers=1, deploys=1, deploy_families=1, services=1, tasks=1)
    two = stress.Case(environments=1, load_balancers=2, deploys=2, deploy_families=1, services=2, tasks=2)
    results = stress.run_paired([one, two], requests_per_route=2)

    assert [result.sizes for result in results] == [one, two]
    for result in results:
        assert result.errors == 0, {route: timing.error_samples for route, timing in result.routes.items()}
        assert list(result.routes) == list(stress.ROUTE_ORDER)
        for route, timing in result.routes.items():
            assert len(timing.seconds) == len(timing.cpu_seconds) == 2, route
            assert timing.cpu_p50 > 0 and timing.token_wait == 0, route
    figures = dict(item.split("=") for item in stress.report(results).splitlines()[-1].split())
    assert figures["errors"] == "0" and figures["list_token_wait_ms"] == "0.0"
    assert {
        f"list_{kind}_cpu_ratio" for kind in ("deploys", "environments", "load_balancers", "services", "tasks")
    } <= set(figures)


def test_the_time_token_buckets_make_callers_sleep_is_counted_while_counting():
    from layer0.aws import TokenBucket

    bucket = TokenBucket(rate=200, burst=1)
    waits = stress._TokenWaits()
    with waits.counting():
        slept = [bucket.acquire() for _ in range(3)]  # the first takes the burst, the others wait for the refill
    assert slept[0] == 0 and waits.total == sum(slept) > 0
    counted = waits.total
    bucket.acquire()
    assert waits.total == counted  # no longer counting: TokenBucket.acquire is its own again


def test_the_pacing_section_measures_at_the_default_rate_and_leaves_no_history_listed(stack):
    from tests.conftest import setup_client

    try:
        result = stress.pacing_in_stack(stack, history=3, gets=5, lists=2)
    finally:
        aws.reset()

    assert result.errors == 0
    assert len(result.sequential_before.seconds) == len(result.sequential_after.seconds) == 5
    assert {route: len(timing.seconds) for route, timing in result.lists_after.items()} == {
        "ListServices": 2,
        "ListDeploys": 2,
    }
    # The history was made and deleted: 3 clusters INACTIVE (describable, as on AWS), none listed.
    ecs = setup_client("ecs")
    listed = [arn for arn in ecs.list_clusters()["clusterArns"] if "/l0-l0-" in arn]
    assert len(listed) == CASES_MIN_ENVIRONMENTS
    assert not [f for f in ecs.list_task_definition_families(status="ACTIVE")["families"] if "gone" in f]
    figures = dict(item.split("=") for item in stress.pacing_report(result).splitlines()[-1].split())
    assert figures["pacing_errors"] == "0"
    assert {"sequential_get_p50_ms", "sequential_get_p99_ms", "history_list_ratio"} <= set(figures)


CASES_MIN_ENVIRONMENTS = stress.CASES["min"].environments
