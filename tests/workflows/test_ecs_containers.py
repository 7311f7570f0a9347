"""local/ecs/containers.py through `Agent.sync_once()`: containers start in their dependsOn order, health checks
pass or fail (and a service replaces its unhealthy tasks), and a restart policy restarts an exited container in
place (docs/architecture.md#containers-in-local-mode). Deterministic: in-process moto, a fake clock."""

from __future__ import annotations

import pytest

from local.ecs.containers import task_health
from tests.conftest import setup_client
from tests.workflows import test_ecs_simulation
from tests.workflows.test_ecs_simulation import (
    CLUSTER,
    LOG_GROUP,
    create_service,
    deploy,
    describe_task,
    environment,
    log_messages,
    messages,
    run_task,
    service,
    sync,
)

# The simulation tests' fixtures: a fake clock, and an Agent on in-process moto.
clock = test_ecs_simulation.clock
agent = test_ecs_simulation.agent


def containers_of(task: dict) -> dict[str, dict]:
    return {c["name"]: c for c in task["containers"]}


def status(task_arn: str) -> tuple[str, dict[str, str]]:
    described = describe_task(task_arn)
    return described["lastStatus"], {c["name"]: c["lastStatus"] for c in described["containers"]}


def first_logged_at(container: str, task_arn: str) -> int:
    events = setup_client("logs").get_log_events(
        logGroupName=LOG_GROUP, logStreamName=f"l0/{container}/{task_arn.split('/')[-1]}", startFromHead=True
    )["events"]
    return events[0]["timestamp"]


def health_check(command: str, interval: int = 10, retries: int = 3, start_period: int | None = None) -> dict:
    check = {"command": ["CMD-SHELL", command], "interval": interval, "timeout": 2, "retries": retries}
    if start_period is not None:
        check["startPeriod"] = start_period
    return check


@pytest.fixture
def instance(agent):
    environment()
    sync(agent)


# --------------------------------------------------------------------------------------------------------------
# dependsOn
# --------------------------------------------------------------------------------------------------------------


def test_containers_start_in_their_dependency_order_and_the_task_runs_once_none_waits(agent, clock, instance):
    definition = deploy(
        containers=[
            {"name": "web", "image": "nginx", "memory": 64, "dependsOn": [
                {"containerName": "init", "condition": "SUCCESS"}, {"containerName": "db", "condition": "HEALTHY"}]},
            {"name": "log", "image": "fluent", "memory": 32, "essential": False,
             "dependsOn": [{"containerName": "web", "condition": "START"}]},
            {"name": "init", "image": "busybox", "memory": 32, "essential": False, "command": ["sleep", "5"]},
            {"name": "db", "image": "postgres", "memory": 64, "healthCheck": health_check("pg_isready")},
        ]
    )  # fmt: skip
    (task,) = run_task(definition)["tasks"]
    arn = task["taskArn"]
    started = clock.now

    sync(agent)
    assert status(arn) == ("PENDING", {"web": "PENDING", "log": "PENDING", "init": "RUNNING", "db": "RUNNING"})
    clock.advance(5)  # init exits 0; db is not healthy yet (its first check is 10 s after it started)
    sync(agent)
    assert status(arn) == ("PENDING", {"web": "PENDING", "log": "PENDING", "init": "STOPPED", "db": "RUNNING"})
    assert containers_of(describe_task(arn))["init"]["exitCode"] == 0
    assert "startedAt" not in describe_task(arn)

    clock.advance(5)
    sync(agent)

    running = describe_task(arn)
    assert status(arn) == ("RUNNING", {"web": "RUNNING", "log": "RUNNING", "init": "STOPPED", "db": "RUNNING"})
    assert running["startedAt"].timestamp() == pytest.approx(started + 10, abs=0.01)
    assert containers_of(running)["db"]["healthStatus"] == "HEALTHY"
    # The streams' first lines show the order: init and db (in the definition's order), then web, then log.
    order = sorted(["web", "log", "init", "db"], key=lambda name: first_logged_at(name, arn))
    assert order == ["init", "db", "web", "log"]
    assert first_logged_at("log", arn) - first_logged_at("web", arn) == 1
    web_lines = log_messages(f"l0/web/{arn.split('/')[-1]}")
    assert web_lines[0] == f"Starting container web of task {arn.split('/')[-1]}"
    assert web_lines[-1] == "Started after its dependencies: init SUCCESS, db HEALTHY"


def test_a_success_dependency_that_exits_non_zero_stops_the_task_before_it_runs(agent, clock, instance):
    definition = deploy(
        containers=[
            {"name": "web", "image": "nginx", "memory": 64,
             "dependsOn": [{"containerName": "migrate", "condition": "SUCCESS"}]},
            {"name": "migrate", "image": "app", "memory": 32, "essential": False, "entryPoint": ["/bin/sh", "-c"],
             "command": ["sleep 2; exit 1"]},
        ]
    )  # fmt: skip
    (task,) = run_task(definition)["tasks"]
    sync(agent)
    clock.advance(2)
    sync(agent)

    stopped = describe_task(task["taskArn"])
    assert (stopped["lastStatus"], stopped["stopCode"]) == ("STOPPED", "TaskFailedToStart")
    assert stopped["stoppedReason"] == "Essential container in task exited"
    web, migrate = containers_of(stopped)["web"], containers_of(stopped)["migrate"]
    assert web["reason"] == "DependencyConditionUnmet: migrate did not reach SUCCESS"
    assert "exitCode" not in web  # it never ran
    assert migrate["exitCode"] == 1
    assert log_messages(f"l0/migrate/{task['taskArn'].split('/')[-1]}")[-1] == "Slept 2 s; exiting with code 1"


def test_a_dependency_that_does_not_complete_within_its_start_timeout_stops_the_task(agent, clock, instance):
    definition = deploy(
        containers=[
            {"name": "web", "image": "nginx", "memory": 64,
             "dependsOn": [{"containerName": "init", "condition": "COMPLETE"}]},
            {"name": "init", "image": "busybox", "memory": 32, "essential": False, "startTimeout": 30},
        ]
    )  # fmt: skip
    (task,) = run_task(definition)["tasks"]
    sync(agent)
    clock.advance(29)
    sync(agent)
    assert status(task["taskArn"]) == ("PENDING", {"web": "PENDING", "init": "RUNNING"})

    clock.advance(1)
    sync(agent)

    stopped = describe_task(task["taskArn"])
    assert stopped["lastStatus"] == "STOPPED"
    assert containers_of(stopped)["web"]["reason"] == (
        "DependencyConditionUnmet: init did not reach COMPLETE within its startTimeout of 30 s"
    )


# --------------------------------------------------------------------------------------------------------------
# healthCheck
# --------------------------------------------------------------------------------------------------------------


def test_health_checks_pass_or_fail_and_a_standalone_task_keeps_running_unhealthy(agent, clock, instance):
    definition = deploy(
        containers=[
            {"name": "web", "image": "nginx", "memory": 64, "healthCheck": health_check("curl -f localhost/unhealthy",
                                                                                     retries=3, start_period=15)},
            {"name": "side", "image": "envoy", "memory": 64, "essential": False, "healthCheck": health_check("true")},
        ]
    )  # fmt: skip
    (task,) = run_task(definition)["tasks"]
    arn = task["taskArn"]
    sync(agent)
    assert describe_task(arn)["healthStatus"] == "UNKNOWN"

    clock.advance(10)  # the first checks: side passes; web's first failure is within its start period
    sync(agent)
    described = describe_task(arn)
    assert {n: c["healthStatus"] for n, c in containers_of(described).items()} == {"web": "UNKNOWN", "side": "HEALTHY"}
    assert described["healthStatus"] == "UNKNOWN"  # only the essential container's check counts

    clock.advance(29)  # failures at 20 and 30 s count; the third that counts is at 40 s
    sync(agent)
    assert describe_task(arn)["healthStatus"] == "UNKNOWN"
    clock.advance(1)
    sync(agent)

    unhealthy = describe_task(arn)
    assert containers_of(unhealthy)["web"]["healthStatus"] == "UNHEALTHY"
    assert (unhealthy["healthStatus"], unhealthy["lastStatus"]) == ("UNHEALTHY", "RUNNING")
    clock.advance(600)
    sync(agent)
    assert describe_task(arn)["lastStatus"] == "RUNNING"  # not part of a service: ECS leaves it running


def test_a_container_whose_command_says_unhealthy_never_becomes_healthy(agent, clock, instance):
    definition = deploy(
        containers=[{"name": "web", "image": "nginx", "memory": 64, "command": ["serve", "--unhealthy"],
                     "healthCheck": health_check("curl -f localhost/", interval=5, retries=1)}]
    )  # fmt: skip
    (task,) = run_task(definition)["tasks"]
    sync(agent)
    clock.advance(5)
    sync(agent)
    assert describe_task(task["taskArn"])["healthStatus"] == "UNHEALTHY"


@pytest.mark.parametrize(
    ("containers", "health"),
    [
        ([], "UNKNOWN"),
        ([(True, False, "UNKNOWN")], "UNKNOWN"),  # no health check at all
        ([(True, True, "HEALTHY"), (True, False, "UNKNOWN")], "HEALTHY"),  # only those with a check count
        ([(True, True, "HEALTHY"), (True, True, "UNKNOWN")], "UNKNOWN"),
        ([(True, True, "HEALTHY"), (False, True, "UNHEALTHY")], "HEALTHY"),  # a non-essential one does not count...
        ([(True, False, "UNKNOWN"), (False, True, "UNHEALTHY")], "UNHEALTHY"),  # ...unless no essential one has a check
        ([(True, True, "UNHEALTHY"), (True, True, "HEALTHY")], "UNHEALTHY"),
    ],
)
def test_a_task_s_health_is_that_of_its_essential_containers_with_a_check(containers, health):
    assert task_health(containers) == health


def test_a_health_check_ecs_would_refuse_registered_straight_into_moto_gets_ecs_defaults(agent, clock, instance):
    check = {"command": ["CMD", "true"], "interval": 0, "retries": -1}
    (task,) = run_task(deploy(containers=[{"name": "web", "image": "nginx", "memory": 64, "healthCheck": check}]))[
        "tasks"
    ]
    sync(agent)
    clock.advance(29)
    sync(agent)
    assert describe_task(task["taskArn"])["healthStatus"] == "UNKNOWN"
    clock.advance(1)  # ECS's default interval: 30 s
    sync(agent)
    assert describe_task(task["taskArn"])["healthStatus"] == "HEALTHY"


def test_a_service_replaces_unhealthy_tasks_and_the_circuit_breaker_rolls_an_unhealthy_rollout_back(
    agent, clock, instance
):
    good = deploy(containers=[{"name": "web", "image": "nginx", "memory": 64,
                               "healthCheck": health_check("curl -f localhost/", interval=5, retries=1)}])  # fmt: skip
    create_service(good)
    sync(agent)  # placed
    sync(agent)  # running, health UNKNOWN: the rollout waits for the health check
    assert service()["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    clock.advance(5)
    sync(agent)
    assert service()["deployments"][0]["rolloutState"] == "COMPLETED"
    (healthy,) = service_task_arns()

    unhealthy = health_check("curl -f localhost/unhealthy", interval=5, retries=1)
    bad = deploy(containers=[{"name": "web", "image": "nginx", "memory": 64, "healthCheck": unhealthy}])
    setup_client("ecs").update_service(cluster=CLUSTER, service="web", taskDefinition=bad)
    replaced = []
    for _ in range(12):
        sync(agent)
        clock.advance(5)
        stopped = [t for t in stopped_tasks() if t["stoppedReason"] == "Task failed container health checks"]
        replaced = [t["taskArn"] for t in stopped]
        if service()["taskDefinition"] == good:
            break

    rolled_back = service()
    assert rolled_back["taskDefinition"] == good
    failed = next(d for d in rolled_back["deployments"] if d["taskDefinition"] == bad)
    assert (failed["rolloutState"], failed["failedTasks"]) == ("FAILED", 3)
    assert len(replaced) == 3
    assert {t["stopCode"] for t in stopped_tasks() if t["taskArn"] in replaced} == {"ServiceSchedulerInitiated"}
    assert any(m.endswith("failed container health checks.") for m in messages())
    assert describe_task(healthy)["lastStatus"] == "RUNNING"  # the old task ran all along


def service_task_arns() -> list[str]:
    return setup_client("ecs").list_tasks(cluster=CLUSTER, serviceName="web", desiredStatus="RUNNING")["taskArns"]


def stopped_tasks() -> list[dict]:
    ecs = setup_client("ecs")
    arns = ecs.list_tasks(cluster=CLUSTER, desiredStatus="STOPPED")["taskArns"]
    return ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"] if arns else []


# --------------------------------------------------------------------------------------------------------------
# restartPolicy
# --------------------------------------------------------------------------------------------------------------


def restarting(command: str, **policy) -> str:
    return deploy(
        containers=[{"name": "worker", "image": "app", "memory": 64, "entryPoint": ["/bin/sh", "-c"],
                     "command": [command], "restartPolicy": {"enabled": True, **policy}}]
    )  # fmt: skip


def test_an_essential_container_that_exits_is_restarted_in_place_and_the_task_keeps_running(agent, clock, instance):
    (task,) = run_task(restarting("sleep 60; exit 1", restartAttemptPeriod=60))["tasks"]
    arn = task["taskArn"]
    sync(agent)

    clock.advance(185)  # exits at 60, 120 and 180 s: each restarted at its exit time
    sync(agent)

    described = describe_task(arn)
    assert (described["lastStatus"], containers_of(described)["worker"]["lastStatus"]) == ("RUNNING", "RUNNING")
    lines = log_messages(f"l0/worker/{arn.split('/')[-1]}")
    assert lines[3:] == [
        "Slept 60 s; exiting with code 1", "Restarting in place (restart policy; restart 1)",
        "Slept 60 s; exiting with code 1", "Restarting in place (restart policy; restart 2)",
        "Slept 60 s; exiting with code 1", "Restarting in place (restart policy; restart 3)",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("command", "policy", "exit_code"),
    [
        ("sleep 60", {"ignoredExitCodes": [0], "restartAttemptPeriod": 60}, 0),  # an ignored code
        ("sleep 30; exit 2", {"restartAttemptPeriod": 60}, 2),  # exited before restartAttemptPeriod
        ("sleep 200; exit 2", {}, 2),  # the default period is 300 s
        ("sleep 60; exit 2", {"enabled": False, "restartAttemptPeriod": 60}, 2),
    ],
)
def test_an_exit_the_policy_does_not_restart_stops_the_task(agent, clock, instance, command, policy, exit_code):
    (task,) = run_task(restarting(command, **policy))["tasks"]
    sync(agent)
    clock.advance(300)
    sync(agent)

    stopped = describe_task(task["taskArn"])
    assert (stopped["lastStatus"], stopped["stoppedReason"]) == ("STOPPED", "Essential container in task exited")
    assert stopped["stopCode"] == "EssentialContainerExited"
    assert containers_of(stopped)["worker"]["exitCode"] == exit_code
    assert not any("Restarting" in line for line in log_messages(f"l0/worker/{task['taskArn'].split('/')[-1]}"))


def test_an_essential_container_that_exits_at_once_ran_and_its_task_has_started(agent, clock, instance):
    """`exit 0` starts, then exits in the same pass: the task ran (startedAt), as on ECS; the create-task job
    completes for it rather than reporting a task that did not start."""
    definition = deploy(
        containers=[{"name": "once", "image": "alpine", "memory": 32, "entryPoint": ["/bin/sh", "-c"],
                     "command": ["exit 0"]}]
    )  # fmt: skip
    (task,) = run_task(definition)["tasks"]
    sync(agent)

    stopped = describe_task(task["taskArn"])
    assert (stopped["lastStatus"], stopped["stopCode"]) == ("STOPPED", "EssentialContainerExited")
    assert "startedAt" in stopped
    assert containers_of(stopped)["once"]["exitCode"] == 0
