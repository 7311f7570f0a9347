"""local/ecs/simulation.py and local/schedules.py through `Agent.sync_once()`: tasks start, sleep, fail and log; the
service scheduler places tasks, rolls deployments out, and the circuit breaker rolls back; due schedules run the
scaler (docs/architecture.md#local-mode). Deterministic: in-process moto, one pass at a time, a fake clock."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local import lambda_runtime
from local.ecs import agent as agent_module
from local.ecs.agent import Agent
from local.ecs.containers import exit_of
from local.ecs.simulation import circuit_breaker_threshold, effective_command
from tests.conftest import MOTO_CONFIG, setup_client

PREFIX = "test"
CLUSTER = f"l0-{PREFIX}-env1"
LOG_GROUP = f"l0-{PREFIX}"
AMI = "ami-12345678"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"  # the original Layer0's smoke-test fixtures
LAYER0_SERVICE = {
    "placementStrategy": [{"type": "binpack", "field": "memory"}],
    "deploymentConfiguration": {
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
    },
}


class Clock:
    """Epoch seconds that move only when told."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def agent(clock):
    with mock_aws(config=MOTO_CONFIG):
        setup_client("logs").create_log_group(logGroupName=LOG_GROUP)
        try:
            yield Agent(setup_client, PREFIX, clock=clock)
        finally:
            agent_module.unpatch_moto_total_resources()


def sync(agent: Agent, passes: int = 1) -> None:
    for _ in range(passes):
        assert agent.sync_once().errors == []


def environment(instances: int = 1, instance_type: str = "t3.medium", name: str = CLUSTER) -> str:
    """What the environment workflow makes: a cluster, a launch template and an ASG of the same name."""
    ec2 = setup_client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone="us-west-2a")["Subnet"]["SubnetId"]
    setup_client("ecs").create_cluster(clusterName=name)
    ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={"ImageId": AMI, "InstanceType": instance_type})
    setup_client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": name, "Version": "$Latest"},
        MinSize=0,
        MaxSize=5,
        DesiredCapacity=instances,
        VPCZoneIdentifier=subnet,
    )
    return name


def deploy(fixture: str | None = None, family: str = "l0-test-app", containers: list[dict] | None = None) -> str:
    """A task definition as a Layer0 deploy registers it: the Dockerrun's containers, logging to the Layer0 group."""
    if containers is None:
        containers = json.loads((FIXTURES / fixture).read_text())["containerDefinitions"]
    definitions = []
    for container in copy.deepcopy(containers):
        if "entrypoint" in container:
            container["entryPoint"] = container.pop("entrypoint")
        container["logConfiguration"] = {
            "logDriver": "awslogs",
            "options": {"awslogs-group": LOG_GROUP, "awslogs-region": "us-west-2", "awslogs-stream-prefix": "l0"},
        }
        definitions.append(container)
    return setup_client("ecs").register_task_definition(family=family, containerDefinitions=definitions)[
        "taskDefinition"
    ]["taskDefinitionArn"]


def describe_task(arn: str) -> dict:
    (task,) = setup_client("ecs").describe_tasks(cluster=CLUSTER, tasks=[arn])["tasks"]
    return task


def container_instance() -> dict:
    ecs = setup_client("ecs")
    (arn,) = ecs.list_container_instances(cluster=CLUSTER)["containerInstanceArns"]
    (ci,) = ecs.describe_container_instances(cluster=CLUSTER, containerInstances=[arn])["containerInstances"]
    return ci


def remaining(name: str) -> int | list[str]:
    (resource,) = [r for r in container_instance()["remainingResources"] if r["name"] == name]
    return resource["integerValue"] if resource["type"] == "INTEGER" else sorted(resource["stringSetValue"])


def run_task(definition: str, **kwargs) -> dict:
    return setup_client("ecs").run_task(cluster=CLUSTER, taskDefinition=definition, **kwargs)


def log_messages(stream: str) -> list[str]:
    events = setup_client("logs").get_log_events(logGroupName=LOG_GROUP, logStreamName=stream, startFromHead=True)
    return [event["message"] for event in events["events"]]


def service(name: str = "web", cluster: str = CLUSTER) -> dict:
    (described,) = setup_client("ecs").describe_services(cluster=cluster, services=[name])["services"]
    return described


def create_service(definition: str, desired: int = 1, name: str = "web", cluster: str = CLUSTER) -> dict:
    return setup_client("ecs").create_service(
        cluster=cluster, serviceName=name, taskDefinition=definition, desiredCount=desired, **LAYER0_SERVICE
    )["service"]


def service_tasks(name: str = "web", status: str = "RUNNING") -> list[dict]:
    ecs = setup_client("ecs")
    arns = ecs.list_tasks(cluster=CLUSTER, desiredStatus=status)["taskArns"]
    if not arns:
        return []
    return [t for t in ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"] if t["group"] == f"service:{name}"]


def messages(name: str = "web") -> list[str]:
    return [event["message"] for event in service(name)["events"]]


# --------------------------------------------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------------------------------------------


def test_the_effective_command_expands_the_environment_and_the_overrides():
    (container,) = json.loads((FIXTURES / "Task.Dockerrun.aws.json").read_text())["containerDefinitions"]
    container["entryPoint"] = container.pop("entrypoint")

    assert effective_command(container) == ["/bin/sh", "-c", "sleep 10"]
    overrides = {"containerOverrides": [{"name": "alpine", "environment": [{"name": "COMMAND", "value": "sleep 3"}]}]}
    assert effective_command(container, overrides) == ["/bin/sh", "-c", "sleep 3"]
    assert effective_command({"name": "x", "command": ["echo", "${GREETING}-$NAME"], "environment": [
        {"name": "GREETING", "value": "hi"}]}) == ["echo", "hi-"]


@pytest.mark.parametrize(
    ("argv", "ends"),
    [
        (["/bin/sh", "-c", "sleep 10"], (10, 0)),
        (["sleep", "2.5"], (2.5, 0)),
        (["bash", "-c", "exec sleep 4"], (4, 0)),
        (["/bin/sh", "-c", "sleep 5; exit 3"], (5, 3)),
        (["/bin/sh", "-c", "sleep 5 && exit"], (5, 0)),
        (["/bin/sh", "-c", "exit 2"], (0, 2)),
        (["true"], (0, 0)),
        (["false"], (0, 1)),
        (["/bin/sh", "-c", "while true ; do echo LONG RUNNING SERVICE ; sleep 5 ; done"], None),
        (["/bin/sh", "-c", "exit 1; sleep 5"], (0, 1)),  # the shell ends at `exit`
        (["/bin/sh", "-c", "false; sleep 5"], None),
        ([], None),
        (["nginx", "-g", "daemon off;"], None),
    ],
)
def test_the_commands_that_end_by_themselves(argv, ends):
    assert exit_of(argv) == ends


def test_the_circuit_breaker_threshold_is_half_the_desired_count_within_3_and_200():
    assert [circuit_breaker_threshold(n) for n in (0, 1, 5, 6, 7, 100, 1000)] == [3, 3, 3, 3, 4, 50, 200]


# --------------------------------------------------------------------------------------------------------------
# tasks
# --------------------------------------------------------------------------------------------------------------


def test_placement_respects_ports_and_memory_and_reports_what_did_not_fit(agent):
    environment()
    sync(agent)
    ci_arn = container_instance()["containerInstanceArn"]

    web = run_task(deploy("Service.Dockerrun.aws.json", family="web"), count=2)  # both need host port 80
    assert len(web["tasks"]) == 1
    assert web["failures"] == [{"arn": ci_arn, "reason": "RESOURCE:PORTS"}]

    big = deploy(containers=[{"name": "big", "image": "nginx", "memory": 1500}], family="big")
    placed = run_task(big, count=3)  # 4096 MiB - 128 for the web task: room for two of 1500
    assert len(placed["tasks"]) == 2
    assert placed["failures"] == [{"arn": ci_arn, "reason": "RESOURCE:MEMORY"}]
    assert remaining("MEMORY") == 4096 - 128 - 2 * 1500


def test_a_task_starts_pending_and_runs_on_the_next_pass(agent, clock):
    environment()
    sync(agent)
    definition = deploy(
        containers=[
            {"name": "web", "image": "nginx", "memory": 128},
            {"name": "sidecar", "image": "busybox", "memory": 64, "essential": False},
        ]
    )

    (task,) = run_task(definition, startedBy="l0-test-")["tasks"]

    assert (task["lastStatus"], task["desiredStatus"]) == ("PENDING", "RUNNING")
    assert [(c["name"], c["lastStatus"], c["taskArn"]) for c in task["containers"]] == [
        ("web", "PENDING", task["taskArn"]),
        ("sidecar", "PENDING", task["taskArn"]),
    ]
    assert "startedAt" not in describe_task(task["taskArn"])
    assert describe_task(task["taskArn"])["lastStatus"] == "PENDING"  # describing does not move it

    clock.advance(1)
    sync(agent)

    running = describe_task(task["taskArn"])
    assert running["lastStatus"] == "RUNNING"
    assert running["startedAt"].timestamp() == pytest.approx(clock.now, abs=0.01)
    assert {c["lastStatus"] for c in running["containers"]} == {"RUNNING"}
    clock.advance(3600)
    sync(agent, 3)
    assert describe_task(task["taskArn"])["lastStatus"] == "RUNNING"  # no sleep: it runs until stopped


def test_a_sleep_task_stops_when_its_sleep_ends_and_gives_its_memory_back(agent, clock):
    environment()
    sync(agent)
    definition = deploy("Task.Dockerrun.aws.json")

    (task,) = run_task(definition, startedBy="l0-test-")["tasks"]
    assert remaining("MEMORY") == 4096 - 100
    sync(agent)
    clock.advance(9.9)
    sync(agent)
    assert describe_task(task["taskArn"])["lastStatus"] == "RUNNING"

    clock.advance(0.1)
    sync(agent)

    stopped = describe_task(task["taskArn"])
    assert (stopped["lastStatus"], stopped["desiredStatus"]) == ("STOPPED", "STOPPED")
    assert stopped["stoppedReason"] == "Essential container in task exited"
    assert stopped["stopCode"] == "EssentialContainerExited"
    assert [(c["lastStatus"], c["exitCode"]) for c in stopped["containers"]] == [("STOPPED", 0)]
    assert (stopped["stoppedAt"] - stopped["startedAt"]).total_seconds() == pytest.approx(10, abs=0.01)
    assert remaining("MEMORY") == 4096


def test_a_non_essential_container_that_exits_leaves_its_task_running(agent, clock):
    environment()
    sync(agent)
    definition = deploy(
        containers=[
            {"name": "web", "image": "nginx", "memory": 128},
            {"name": "init", "image": "busybox", "memory": 64, "essential": False, "command": ["sleep", "2"]},
        ]
    )
    (task,) = run_task(definition)["tasks"]
    sync(agent)

    clock.advance(2)
    sync(agent)

    described = describe_task(task["taskArn"])
    assert described["lastStatus"] == "RUNNING"
    assert [(c["name"], c["lastStatus"], c.get("exitCode")) for c in described["containers"]] == [
        ("web", "RUNNING", None),
        ("init", "STOPPED", 0),
    ]
    assert log_messages(f"l0/init/{task['taskArn'].split('/')[-1]}")[-1] == "Slept 2 s; exiting with code 0"


def test_the_run_task_overrides_change_the_sleep(agent, clock):
    environment()
    sync(agent)
    overrides = {"containerOverrides": [{"name": "alpine", "environment": [{"name": "COMMAND", "value": "sleep 3"}]}]}

    (task,) = run_task(deploy("Task.Dockerrun.aws.json"), overrides=overrides)["tasks"]
    sync(agent)
    clock.advance(3)
    sync(agent)

    assert describe_task(task["taskArn"])["lastStatus"] == "STOPPED"


def test_a_failing_image_stops_the_task_at_once_with_the_pull_error(agent):
    environment()
    sync(agent)
    definition = deploy(containers=[{"name": "app", "image": "quintilesims/fail:latest", "memory": 256,
                                     "portMappings": [{"hostPort": 80, "containerPort": 80}]}])

    (task,) = run_task(definition)["tasks"]
    sync(agent)

    stopped = describe_task(task["taskArn"])
    assert stopped["lastStatus"] == "STOPPED"
    assert stopped["stoppedReason"].startswith("CannotPullContainerError: ")
    assert "failed to resolve ref quintilesims/fail:latest: not found" in stopped["stoppedReason"]
    assert stopped["stopCode"] == "TaskFailedToStart"
    (container,) = stopped["containers"]
    assert container["reason"] == stopped["stoppedReason"]
    assert "startedAt" not in stopped
    assert remaining("MEMORY") == 4096 and "80" not in remaining("PORTS")


def test_containers_log_to_their_awslogs_stream(agent, clock):
    environment()
    sync(agent)

    (task,) = run_task(deploy("Task.Dockerrun.aws.json"))["tasks"]
    task_id = task["taskArn"].split("/")[-1]
    sync(agent)
    clock.advance(10)
    sync(agent)

    lines = log_messages(f"l0/alpine/{task_id}")
    assert len(lines) == 4
    assert "alpine" in lines[1]
    assert "sleep 10" in lines[2]
    assert "exit" in lines[3]


def test_without_its_log_group_a_container_still_runs_and_logs_once_the_group_is_back(agent):
    environment()
    sync(agent)
    definition = deploy("LongRunning.Dockerrun.aws.json")
    setup_client("logs").delete_log_group(logGroupName=LOG_GROUP)
    (lost,) = run_task(definition)["tasks"]

    sync(agent)
    assert describe_task(lost["taskArn"])["lastStatus"] == "RUNNING"

    setup_client("logs").create_log_group(logGroupName=LOG_GROUP)
    (logged,) = run_task(definition)["tasks"]
    sync(agent)
    assert len(log_messages(f"l0/alpine/{logged['taskArn'].split('/')[-1]}")) == 3


def test_stop_task_stops_it_and_a_second_stop_changes_nothing(agent):
    environment()
    sync(agent)
    (task,) = run_task(deploy("Service.Dockerrun.aws.json"))["tasks"]
    sync(agent)
    ecs = setup_client("ecs")

    ecs.stop_task(cluster=CLUSTER, task=task["taskArn"], reason="Layer0: deleted")
    again = ecs.stop_task(cluster=CLUSTER, task=task["taskArn"], reason="again")["task"]

    assert again["stoppedReason"] == "Layer0: deleted"
    assert again["stopCode"] == "UserInitiated"
    assert {c["lastStatus"] for c in again["containers"]} == {"STOPPED"}
    assert remaining("MEMORY") == 4096 and "80" not in remaining("PORTS")


# --------------------------------------------------------------------------------------------------------------
# services
# --------------------------------------------------------------------------------------------------------------


def test_a_service_reaches_its_desired_count_and_completes_its_rollout(agent):
    environment(instances=2)
    sync(agent)
    definition = deploy("Service.Dockerrun.aws.json")

    created = create_service(definition, desired=2)

    assert (created["runningCount"], created["pendingCount"]) == (0, 0)
    (deployment,) = created["deployments"]
    assert (deployment["status"], deployment["rolloutState"], deployment["desiredCount"]) == ("PRIMARY", "IN_PROGRESS", 2)
    assert created["deploymentConfiguration"] == LAYER0_SERVICE["deploymentConfiguration"]
    assert created["placementStrategy"] == LAYER0_SERVICE["placementStrategy"]

    sync(agent)
    placed = service()
    assert (placed["runningCount"], placed["pendingCount"]) == (0, 2)
    assert placed["deployments"][0]["pendingCount"] == 2
    tasks = service_tasks()
    assert {t["startedBy"] for t in tasks} == {deployment["id"]}
    assert len({t["containerInstanceArn"] for t in tasks}) == 2  # port 80 twice: one per instance

    sync(agent)
    steady = service()
    assert (steady["runningCount"], steady["pendingCount"], steady["desiredCount"]) == (2, 0, 2)
    (deployment,) = steady["deployments"]
    assert (deployment["runningCount"], deployment["rolloutState"]) == (2, "COMPLETED")
    assert deployment["rolloutStateReason"] == f"ECS deployment {deployment['id']} completed."
    assert messages()[0] == "(service web) has reached a steady state."
    assert any(m.startswith("(service web) has started 2 tasks: (task ") for m in messages())
    cluster = setup_client("ecs").describe_clusters(clusters=[CLUSTER])["clusters"][0]
    assert (cluster["runningTasksCount"], cluster["pendingTasksCount"]) == (2, 0)

    sync(agent, 2)
    assert messages().count("(service web) has reached a steady state.") == 1


def test_list_tasks_by_service_name_lists_that_service_s_tasks(agent):
    environment(instances=1)
    sync(agent)
    definition = deploy("LongRunning.Dockerrun.aws.json")
    create_service(definition, desired=2, name="web")
    create_service(definition, desired=1, name="worker")
    (loose,) = run_task(definition)["tasks"]
    sync(agent, 2)
    ecs = setup_client("ecs")

    web = ecs.list_tasks(cluster=CLUSTER, serviceName="web")["taskArns"]
    worker = ecs.list_tasks(cluster=CLUSTER, serviceName="worker")["taskArns"]

    assert sorted(web) == sorted(t["taskArn"] for t in service_tasks("web")) and len(web) == 2
    assert worker == [t["taskArn"] for t in service_tasks("worker")] and len(worker) == 1
    assert loose["taskArn"] not in web + worker
    assert len(ecs.list_tasks(cluster=CLUSTER)["taskArns"]) == 4


def test_copies_that_do_not_fit_are_missing_with_an_event(agent):
    environment(instances=1)
    sync(agent)

    create_service(deploy("Service.Dockerrun.aws.json"), desired=3)
    sync(agent, 3)

    described = service()
    assert (described["desiredCount"], described["runningCount"], described["pendingCount"]) == (3, 1, 0)
    assert described["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    unable = [m for m in messages() if "was unable to place a task" in m]
    assert len(unable) == 1 and "is already using a port required by your task" in unable[0]

    setup_client("autoscaling").set_desired_capacity(AutoScalingGroupName=CLUSTER, DesiredCapacity=3)
    sync(agent, 3)
    assert service()["runningCount"] == 3
    assert service()["deployments"][0]["rolloutState"] == "COMPLETED"


def test_a_service_in_a_cluster_without_instances_places_nothing(agent):
    environment(instances=0)
    sync(agent)

    create_service(deploy("Service.Dockerrun.aws.json"))
    sync(agent, 2)

    assert (service()["runningCount"], service()["pendingCount"]) == (0, 0)
    assert any("No Container Instances were found in your cluster" in m for m in messages())


def test_scaling_the_desired_count_down_and_deleting_the_service_stop_tasks(agent):
    environment(instances=1)
    sync(agent)
    long_running = deploy("LongRunning.Dockerrun.aws.json")
    create_service(long_running, desired=3)
    sync(agent, 2)
    assert service()["runningCount"] == 3
    ecs = setup_client("ecs")

    updated = ecs.update_service(cluster=CLUSTER, service="web", desiredCount=1)["service"]
    assert (updated["desiredCount"], updated["runningCount"]) == (1, 3)  # counts are the tasks', not made up
    assert updated["deployments"][0]["desiredCount"] == 1
    sync(agent)
    assert (service()["runningCount"], len(service_tasks())) == (1, 1)
    assert messages()[0].startswith("(service web) has stopped 2 running tasks: (task ")
    assert remaining("MEMORY") == 4096 - 100

    ecs.delete_service(cluster=CLUSTER, service="web", force=True)
    sync(agent)
    assert service_tasks() == []
    assert remaining("MEMORY") == 4096


def test_a_sleeping_service_task_that_exits_is_replaced(agent, clock):
    environment(instances=1)
    sync(agent)
    create_service(deploy("Task.Dockerrun.aws.json"))
    sync(agent, 2)
    (first,) = service_tasks()

    clock.advance(10)
    sync(agent)  # the task exits; the scheduler starts another
    sync(agent)

    (second,) = service_tasks()
    assert second["taskArn"] != first["taskArn"]
    assert describe_task(first["taskArn"])["lastStatus"] == "STOPPED"
    assert service()["runningCount"] == 1


def test_a_new_task_definition_starts_a_deployment_that_replaces_the_old_one(agent):
    environment(instances=2)
    sync(agent)
    first = deploy("Service.Dockerrun.aws.json")
    create_service(first)
    sync(agent, 2)
    (old_task,) = service_tasks()
    old_id = service()["deployments"][0]["id"]
    second = deploy("Service.Dockerrun.aws.json")  # revision 2

    updated = setup_client("ecs").update_service(
        cluster=CLUSTER, service="web", taskDefinition="l0-test-app:2"
    )["service"]

    assert updated["taskDefinition"] == second
    assert [(d["status"], d["taskDefinition"]) for d in updated["deployments"]] == [
        ("PRIMARY", second),
        ("ACTIVE", first),
    ]
    new = updated["deployments"][0]
    assert (new["rolloutState"], new["runningCount"], new["pendingCount"]) == ("IN_PROGRESS", 0, 0)
    assert updated["deployments"][1]["id"] == old_id

    sync(agent)  # the new task is placed on the other instance (port 80)
    assert [d["pendingCount"] for d in service()["deployments"]] == [1, 0]
    assert service()["runningCount"] == 1
    sync(agent)  # it runs: the old deployment drains

    done = service()
    (deployment,) = done["deployments"]
    assert (deployment["id"], deployment["rolloutState"], deployment["taskDefinition"]) == (new["id"], "COMPLETED", second)
    assert describe_task(old_task["taskArn"])["lastStatus"] == "STOPPED"
    assert [t["taskDefinitionArn"] for t in service_tasks()] == [second]
    assert done["runningCount"] == 1


def test_force_new_deployment_starts_a_deployment_of_the_same_definition(agent):
    environment(instances=1)
    sync(agent)
    definition = deploy("LongRunning.Dockerrun.aws.json")
    create_service(definition)
    sync(agent, 2)

    updated = setup_client("ecs").update_service(cluster=CLUSTER, service="web", forceNewDeployment=True)["service"]

    assert [(d["status"], d["taskDefinition"]) for d in updated["deployments"]] == [
        ("PRIMARY", definition),
        ("ACTIVE", definition),
    ]
    sync(agent, 2)
    assert len(service()["deployments"]) == 1 and service()["runningCount"] == 1


def test_a_failing_rollout_trips_the_circuit_breaker_and_rolls_back(agent):
    environment(instances=1)
    sync(agent)
    good = deploy("LongRunning.Dockerrun.aws.json")
    create_service(good)
    sync(agent, 2)
    good_deployment = service()["deployments"][0]["id"]
    bad = deploy(containers=[{"name": "alpine", "image": "alpine-fail", "memory": 100}])
    ecs = setup_client("ecs")

    ecs.update_service(cluster=CLUSTER, service="web", taskDefinition=bad)
    for _ in range(8):
        sync(agent)
        if service()["taskDefinition"] == good:
            break

    rolled_back = service()
    assert rolled_back["taskDefinition"] == good
    primary, failed, previous = rolled_back["deployments"]
    assert (failed["taskDefinition"], failed["rolloutState"]) == (bad, "FAILED")
    assert failed["rolloutStateReason"] == "ECS deployment circuit breaker: tasks failed to start."
    assert failed["failedTasks"] == 3 and failed["status"] == "ACTIVE"
    assert (primary["status"], primary["taskDefinition"], primary["rolloutState"]) == ("PRIMARY", good, "IN_PROGRESS")
    assert primary["rolloutStateReason"] == f"ECS deployment circuit breaker: rolling back to deploymentId {good_deployment}."
    assert previous["id"] == good_deployment
    assert rolled_back["runningCount"] == 1  # the old task kept running all along

    sync(agent, 2)
    steady = service()
    (deployment,) = steady["deployments"]
    assert (deployment["id"], deployment["rolloutState"], deployment["taskDefinition"]) == (primary["id"], "COMPLETED", good)
    assert (steady["runningCount"], steady["taskDefinition"]) == (1, good)
    assert messages()[0] == "(service web) has reached a steady state."


def test_a_failing_first_deployment_has_nothing_to_roll_back_to_and_stays_failed(agent):
    environment(instances=1)
    sync(agent)
    create_service(deploy(containers=[{"name": "app", "image": "fail", "memory": 100}]))

    sync(agent, 8)

    described = service()
    (deployment,) = described["deployments"]
    assert (deployment["rolloutState"], deployment["failedTasks"]) == ("FAILED", 3)
    assert (described["runningCount"], described["pendingCount"]) == (0, 0)
    assert len(setup_client("ecs").list_tasks(cluster=CLUSTER, desiredStatus="STOPPED")["taskArns"]) == 3


def test_without_the_circuit_breaker_failing_tasks_are_retried(agent):
    environment(instances=1)
    sync(agent)
    setup_client("ecs").create_service(
        cluster=CLUSTER,
        serviceName="web",
        taskDefinition=deploy(containers=[{"name": "app", "image": "fail", "memory": 100}]),
        desiredCount=1,
    )

    sync(agent, 10)

    (deployment,) = service()["deployments"]
    assert deployment["rolloutState"] == "IN_PROGRESS" and deployment["failedTasks"] >= 4
    assert service()["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": False, "rollback": False}


def test_services_of_other_stacks_are_left_alone(agent):
    environment(instances=1, name="l0-other-env1")
    sync(agent)
    definition = deploy("LongRunning.Dockerrun.aws.json")
    setup_client("ecs").create_service(cluster="l0-other-env1", serviceName="web", taskDefinition=definition, desiredCount=1)

    sync(agent, 2)

    (described,) = setup_client("ecs").describe_services(cluster="l0-other-env1", services=["web"])["services"]
    assert described["runningCount"] == 0


# --------------------------------------------------------------------------------------------------------------
# EventBridge Scheduler
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture
def function(agent):
    """A function served by local.lambda_runtime that records its events; yields (ARN, events, role ARN)."""
    events: list[dict] = []
    lambda_runtime.install()
    lambda_runtime.register("recorder", lambda event, context: events.append(event) or {"ok": True})
    role = setup_client("iam").create_role(
        RoleName="scheduler", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )["Role"]["Arn"]
    try:
        yield lambda_runtime.create_function(setup_client("lambda"), "recorder", role), events, role
    finally:
        lambda_runtime.unregister("recorder")


def at(seconds: float) -> str:
    return "at(" + time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + ")"


def test_a_due_schedule_invokes_its_function_with_its_input_and_is_deleted(agent, clock, function):
    arn, events, role = function
    scheduler = setup_client("scheduler")
    for name, when in (("now", clock.now - 1), ("later", clock.now + 60)):
        scheduler.create_schedule(
            Name=name,
            ScheduleExpression=at(when),
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Target={"Arn": arn, "RoleArn": role, "Input": json.dumps({"which": name})},
        )

    sync(agent)
    assert events == [{"which": "now"}]
    assert [s["Name"] for s in scheduler.list_schedules()["Schedules"]] == ["later"]

    clock.advance(61)
    sync(agent, 2)
    assert events == [{"which": "now"}, {"which": "later"}]
    assert scheduler.list_schedules()["Schedules"] == []


def test_a_schedule_that_is_not_deleted_after_completion_fires_once(agent, clock, function):
    arn, events, role = function
    setup_client("scheduler").create_schedule(
        Name="keep",
        ScheduleExpression=at(clock.now),
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": arn, "RoleArn": role, "Input": "{}"},
    )

    sync(agent, 3)

    assert events == [{}]
    assert [s["Name"] for s in setup_client("scheduler").list_schedules()["Schedules"]] == ["keep"]


@pytest.fixture
def stack_agent(stack, clock):
    """The stack's resources (tables, log group l0-l0, ...) in moto, and an Agent for its prefix."""
    try:
        yield Agent(setup_client, "l0", clock=clock)
    finally:
        agent_module.unpatch_moto_total_resources()


def test_a_scaler_schedule_scales_a_service_into_an_empty_environment(stack_agent, clock, monkeypatch):
    """request_run's schedule fires, the scaler adds an instance, the agent registers it, the task is placed."""
    from handlers import scaler as scaler_handler
    from layer0 import aws, scaler, settings

    cluster = environment(instances=0, name="l0-l0-env1")
    lambda_runtime.install()
    lambda_runtime.register("l0-l0-scaler", scaler_handler.handler)
    role = setup_client("iam").create_role(RoleName="l0-l0-scaler", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    try:
        monkeypatch.setenv("LAYER0_SCALER_FUNCTION_ARN", lambda_runtime.create_function(setup_client("lambda"), "l0-l0-scaler", role))
        monkeypatch.setenv("LAYER0_SCALER_SCHEDULE_ROLE_ARN", role)
        settings.get.cache_clear()
        aws.reset()
        create_service(deploy("Service.Dockerrun.aws.json"), cluster=cluster)
        sync(stack_agent)
        assert service(cluster=cluster)["runningCount"] == 0

        assert scaler.request_run("env1", now=clock) is True
        sync(stack_agent)
        assert asg(cluster)["DesiredCapacity"] == 0  # not due yet

        clock.advance(scaler.DEBOUNCE_SECONDS + 1)
        sync(stack_agent, 3)  # the scaler runs; the instance registers and the task is placed; it runs
    finally:
        lambda_runtime.unregister("l0-l0-scaler")

    assert setup_client("scheduler").list_schedules()["Schedules"] == []
    assert asg(cluster)["DesiredCapacity"] == 1
    described = service(cluster=cluster)
    assert (described["runningCount"], described["deployments"][0]["rolloutState"]) == (1, "COMPLETED")


def asg(name: str) -> dict:
    (group,) = setup_client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    return group


def test_a_pass_reports_a_failing_step_and_runs_the_next_ones(agent, monkeypatch):
    environment()

    def broken(snapshot, result):
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "DescribeX")

    monkeypatch.setattr(agent.simulation, "sync_tasks", broken)
    agent.steps[1] = agent._guarded(agent.simulation.sync_tasks)
    result = agent.sync_once()

    assert len(result.errors) == 1 and "down" in result.errors[0]
    assert len(setup_client("ecs").list_container_instances(cluster=CLUSTER)["containerInstanceArns"]) == 1


# --------------------------------------------------------------------------------------------------------------
# local mode
# --------------------------------------------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_in_local_mode_a_service_in_an_empty_environment_gets_an_instance_and_runs(monkeypatch):
    """local.embedded.Layer0 end to end (boto3 on its moto server, no HTTP): the scaler schedule fires on time."""
    import os

    import boto3

    from layer0 import auth, aws, scaler, settings
    from local.embedded import Layer0

    auth.forget()
    monkeypatch.setattr(scaler, "DEBOUNCE_SECONDS", 1)  # the schedule is due a second later, not ten
    try:
        with Layer0(port=_free_port(), agent_interval=0.05) as layer0:
            client = lambda service: boto3.client(service, region_name="us-west-2")  # noqa: E731 - AWS_ENDPOINT_URL
            name = "l0-l0-envlocal"
            client("ecs").create_cluster(clusterName=name)
            client("ec2").create_launch_template(
                LaunchTemplateName=name, LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.small"}
            )
            client("autoscaling").create_auto_scaling_group(
                AutoScalingGroupName=name,
                LaunchTemplate={"LaunchTemplateName": name, "Version": "$Latest"},
                MinSize=0,
                MaxSize=2,
                DesiredCapacity=0,
                VPCZoneIdentifier=os.environ["LAYER0_AWS_PRIVATE_SUBNETS"].split(",")[0],
            )
            (container,) = json.loads((FIXTURES / "Service.Dockerrun.aws.json").read_text())["containerDefinitions"]
            definition = client("ecs").register_task_definition(family="l0-l0-web", containerDefinitions=[container])
            client("ecs").create_service(
                cluster=name,
                serviceName="web",
                taskDefinition=definition["taskDefinition"]["taskDefinitionArn"],
                desiredCount=1,
                **LAYER0_SERVICE,
            )

            assert scaler.request_run("envlocal") is True
            deadline = time.monotonic() + 60
            while (described := client("ecs").describe_services(cluster=name, services=["web"])["services"][0])[
                "runningCount"
            ] < 1:
                assert time.monotonic() < deadline, described["events"]
                time.sleep(0.05)

            assert layer0.agent is not None
            (fired,) = layer0.agent.schedules.fired
            assert fired.startswith("l0-l0-scale-envlocal-")
            (group,) = client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
            assert group["DesiredCapacity"] == 1
            assert client("scheduler").list_schedules()["Schedules"] == []
    finally:
        aws.reset()
        settings.get.cache_clear()
