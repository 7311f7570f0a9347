"""Rollouts (job type 6) end to end in moto: the ROLLOUT machine (functions/layer0/workflows/) running
layer0.workflows.rollout.rollout_state through the workflow-step function.

moto's ECS keeps one deployment per service and never moves it, so these tests move it themselves in moto's
backend, poll by poll, as ECS would (new deployments, counts, rolloutState, stopped tasks): a hook runs before
each poll of the rollout step. The local ECS simulation does this by itself in local mode.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from layer0 import environments, jobs, services
from layer0.contract import JobType
from layer0.workflows import registry, rollout
from layer0.models import CreateEnvironmentRequest, CreateServiceRequest
from layer0.stores import jobs as job_store
from local.resources import REGION
from tests.conftest import setup_client
from tests.workflows.helpers import ACCOUNT, execution_arn, job_machines, wait_for_end

FAILED_REASON = "ECS deployment circuit breaker: tasks failed to start."
PULL_ERROR = "CannotPullContainerError: pull access denied for quintilesims/fail, repository does not exist"


# --- helpers, shared with tests/workflows/test_services_delete.py and tests/api/test_services.py ---------------------


def create_environment(name: str, count: int = 0) -> str:
    request = CreateEnvironmentRequest(
        environment_name=name, operating_system="linux", instance_size="t3.small", min_cluster_count=count
    )
    return environments.create(request).environment_id


def register_deploy(name: str, image: str = "quintilesims/guestbook:latest", host_port: int = 80) -> str:
    """A deploy as POST /deploy registers it, from the fixture Service.Dockerrun.aws.json's container. Its id."""
    container = {
        "name": "guestbook",
        "image": image,
        "essential": True,
        "memory": 128,
        "portMappings": [{"hostPort": host_port, "containerPort": 80}],
    }
    revision = setup_client("ecs").register_task_definition(family=f"l0-l0-{name}", containerDefinitions=[container])
    return f"{name}.{revision['taskDefinition']['revision']}"


def register_instances(environment_id: str) -> int:
    """Register the environment's instances as container instances of its cluster, so that tasks can be placed.

    Done here rather than with the local ECS agent simulation, which would also run the services' tasks itself.
    """
    name = f"l0-l0-{environment_id}"
    [group] = setup_client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    for instance in group["Instances"]:
        document = json.dumps({"instanceId": instance["InstanceId"]})
        setup_client("ecs").register_container_instance(cluster=name, instanceIdentityDocument=document)
    return len(group["Instances"])


def moto_service(environment_id: str, service_id: str):
    """moto's own object for the ECS service (its backend, to move deployments as ECS would)."""
    from moto.ecs.models import ecs_backends

    return ecs_backends[ACCOUNT][REGION].services[f"l0-l0-{environment_id}:l0-l0-{service_id}"]


def deployment(service, deployment_id: str) -> dict:
    return next(d for d in service.deployments if d["id"] == deployment_id)


def settle(service, deployment_id: str) -> None:
    """ECS: the deployment's tasks all run, its rollout is COMPLETED, older deployments are drained."""
    tracked = deployment(service, deployment_id)
    tracked.update(runningCount=tracked["desiredCount"], pendingCount=0, rolloutState="COMPLETED")
    service.deployments = [tracked]
    service.running_count, service.pending_count = tracked["desiredCount"], 0


def new_deployment(service, deployment_id: str, task_definition: str, status: str = "PRIMARY") -> dict:
    """ECS on UpdateService: a new PRIMARY deployment; the others become ACTIVE."""
    for other in service.deployments:
        other["status"] = "ACTIVE"
    created = {
        **service.deployments[0],
        "id": deployment_id,
        "status": status,
        "taskDefinition": task_definition,
        "desiredCount": service.desired_count,
        "runningCount": 0,
        "pendingCount": 0,
        "rolloutState": "IN_PROGRESS",
    }
    service.deployments.insert(0, created)
    return created


class RolloutPolls:
    """Wraps the rollout step: before each poll of a job, runs the hook set for its tracked deployment with the
    job's poll number (no hook: ECS does not move). Counted per tracked deployment (one per job), so that only that
    job's polls count."""

    def __init__(self):
        self.hooks: dict[str, Callable[[int], None]] = {}
        self.results: dict[str, list[dict]] = {}
        self.real = registry.STEPS["service.rollout_state"]

    def __call__(self, **args):
        results = self.results.setdefault(args["deployment_id"], [])
        hook = self.hooks.get(args["deployment_id"])
        if hook is not None:
            hook(len(results) + 1)
        result = self.real(**args)
        results.append(result)
        return result


@pytest.fixture
def machines(stack, monkeypatch):
    with job_machines(monkeypatch) as (arns, _waits):
        yield arns


@pytest.fixture
def polls(machines, monkeypatch) -> RolloutPolls:
    wrapper = RolloutPolls()
    monkeypatch.setitem(registry.STEPS, "service.rollout_state", wrapper)
    return wrapper


def rollout_request(job_id: str) -> dict:
    return json.loads(job_store.get(job_id).request)


def finish(machines, job_id: str, job_type: int = 6) -> dict:
    return wait_for_end(execution_arn(machines[job_type], job_id))


def create_service(polls: RolloutPolls, environment_id: str, name: str, deploy_id: str, steady_at: int = 1):
    """services.create, its rollout becoming steady at poll `steady_at`."""
    request = CreateServiceRequest(environment_id=environment_id, service_name=name, deploy_id=deploy_id)
    service, job = services.create(request)
    deployment_id = rollout_request(job.job_id)["deployment_id"]
    backend = moto_service(environment_id, service.service_id)
    polls.hooks[deployment_id] = lambda n: settle(backend, deployment_id) if n >= steady_at else None
    return service, job


def start_rollout(environment_id: str, service_id: str, deployment_id: str):
    request = {"service_id": service_id, "environment_id": environment_id, "deployment_id": deployment_id}
    return jobs.create(jobs.JobType.Rollout, json.dumps(request))


# --- the machine ---------------------------------------------------------------------------------------------------


def test_the_machines_are_deployed_with_the_others():
    from layer0.workflows import delete_service

    assert registry.MACHINES[JobType.Rollout] is rollout.MACHINE and rollout.MACHINE.name("l0") == "l0-l0-job-rollout"
    assert registry.MACHINES[JobType.DeleteService] is delete_service.MACHINE
    assert delete_service.MACHINE.name("l0") == "l0-l0-job-delete-service"


def test_the_create_rollout_tracks_the_primary_deployment_and_completes_once_steady(polls, machines):
    environment_id = create_environment("web")
    service, job = create_service(polls, environment_id, "guestbook", register_deploy("guestbook"), steady_at=3)

    described = finish(machines, job.job_id)

    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    request = rollout_request(job.job_id)
    assert request == {
        "service_id": service.service_id,
        "environment_id": environment_id,
        "deployment_id": service.deployments[0].deployment_id,
    }
    assert service.deployments[0].status == "PRIMARY"
    assert job_store.get(job.job_id).job_status == 3
    # In progress (0 of 1 running) until the deployment settles at the third poll, then steady. (Once, in a full
    # run, ECS's counts took a few more polls to read as settled: the count of polls is not the point.)
    states = [r["state"] for r in polls.results[rollout_request(job.job_id)["deployment_id"]]]
    assert states[:2] == ["in_progress", "in_progress"]
    assert states[2:] == ["in_progress"] * (len(states) - 3) + ["steady"]


def test_a_failed_rollout_ends_the_job_in_error_with_the_stopped_tasks_reasons(polls, machines):
    environment_id = create_environment("web", count=1)
    assert register_instances(environment_id) == 1
    good = register_deploy("guestbook")
    service, created = create_service(polls, environment_id, "guestbook", good)
    assert finish(machines, created.job_id)["status"] == "SUCCEEDED"
    broken = register_deploy("broken", image="quintilesims/fail:latest", host_port=81)

    # ECS: the new deployment's tasks fail to start, the circuit breaker marks it FAILED and rolls back.
    backend = moto_service(environment_id, service.service_id)
    failed = new_deployment(backend, "ecs-svc/1111", f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/l0-l0-broken:1")
    ecs, cluster = setup_client("ecs"), f"l0-l0-{environment_id}"
    for _ in range(2):
        [task] = ecs.run_task(cluster=cluster, taskDefinition="l0-l0-broken:1", startedBy="ecs-svc/1111")["tasks"]
        ecs.stop_task(cluster=cluster, task=task["taskArn"], reason=PULL_ERROR)

    def trip(poll: int) -> None:
        if poll == 2:
            failed.update(rolloutState="FAILED", rolloutStateReason=FAILED_REASON)
            new_deployment(backend, "ecs-svc/2222", f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/l0-l0-guestbook:1")

    polls.hooks["ecs-svc/1111"] = trip
    job = start_rollout(environment_id, service.service_id, "ecs-svc/1111")

    described = finish(machines, job.job_id)

    assert described["status"] == "FAILED"
    stored = job_store.get(job.job_id)
    assert stored.job_status == 4
    assert stored.meta["error"] == (
        f"RolloutFailed: Service '{service.service_id}': {FAILED_REASON} Stopped tasks: {PULL_ERROR}"
    )
    assert broken == "broken.1"


def test_a_deployment_superseded_by_a_newer_update_completes_its_rollout(polls, machines):
    environment_id = create_environment("web")
    service, created = create_service(polls, environment_id, "guestbook", register_deploy("guestbook"))
    assert finish(machines, created.job_id)["status"] == "SUCCEEDED"
    backend = moto_service(environment_id, service.service_id)
    new_deployment(backend, "ecs-svc/1111", "l0-l0-guestbook:1")
    polls.hooks["ecs-svc/1111"] = lambda n: new_deployment(backend, "ecs-svc/2222", "l0-l0-guestbook:1") if n == 2 else None

    job = start_rollout(environment_id, service.service_id, "ecs-svc/1111")
    described = finish(machines, job.job_id)

    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    assert job_store.get(job.job_id).job_status == 3
    assert polls.results[rollout_request(job.job_id)["deployment_id"]][-1] == {
        "state": "steady",
        "superseded": True,
        "message": "Deployment ecs-svc/1111 was superseded by deployment ecs-svc/2222",
    }


def test_a_rollout_that_never_settles_fails_after_its_poll_limit(stack, monkeypatch):
    monkeypatch.setitem(registry.MACHINES, JobType.Rollout, rollout.machine(poll_limit=3))
    with job_machines(monkeypatch) as (machines, waits):
        environment_id = create_environment("web")
        service, job = services.create(
            CreateServiceRequest(environment_id=environment_id, service_name="slow", deploy_id=register_deploy("slow"))
        )

        described = finish(machines, job.job_id)

    assert described["status"] == "FAILED"
    assert job_store.get(job.job_id).meta["error"].startswith("Layer0.RolloutNotSteady: ")
    assert waits.requested.count(("wait", rollout.ROLLOUT_POLL_SECONDS)) == 3


# --- the step's rules, directly -------------------------------------------------------------------------------------


def test_rollout_state_rules(stack):
    environment_id = create_environment("web")
    register_deploy("svc")
    # The ECS service as services.create makes it (without the job machines, which this test does not need).
    ecs = setup_client("ecs")
    ecs.create_service(
        cluster=f"l0-l0-{environment_id}", serviceName="l0-l0-svc123456789", taskDefinition="l0-l0-svc:1", desiredCount=2
    )
    backend = moto_service(environment_id, "svc123456789")
    first = backend.deployments[0]["id"]

    def state(deployment_id: str) -> dict:
        return rollout.rollout_state("svc123456789", environment_id, deployment_id)

    assert state(first) == {"state": "in_progress", "deployments": 1, "running_count": 0, "desired_count": 2}
    deployment(backend, first).update(runningCount=2, rolloutState="IN_PROGRESS")
    assert state(first)["state"] == "in_progress"  # ECS has not called it done yet
    second = new_deployment(backend, "ecs-svc/2", "l0-l0-svc:1")
    deployment(backend, first)["rolloutState"] = "COMPLETED"
    assert state(first)["superseded"] is True
    second.update(runningCount=2)
    assert state("ecs-svc/2")["state"] == "in_progress"  # two deployments: the old one still drains
    settle(backend, "ecs-svc/2")
    assert state("ecs-svc/2") == {"state": "steady", "superseded": False, "running_count": 2, "desired_count": 2}
    # Gone without failed tasks: replaced. A deleted service: over.
    assert state(first)["message"] == f"Deployment {first} is gone: a newer deployment replaced it"
    ecs.delete_service(cluster=f"l0-l0-{environment_id}", service="l0-l0-svc123456789", force=True)
    assert state("ecs-svc/2")["message"] == "Service 'svc123456789' no longer exists"


def test_a_deployment_gone_after_its_tasks_failed_to_start_is_a_failed_rollout(stack):
    """ECS drops a failed deployment once its rollback is steady; a poll that comes later still sees the failure in
    the deployment's stopped tasks (stop code TaskFailedToStart)."""
    from moto.ecs.models import ecs_backends

    environment_id = create_environment("web", count=1)
    register_instances(environment_id)
    register_deploy("svc")
    ecs, cluster = setup_client("ecs"), f"l0-l0-{environment_id}"
    ecs.create_service(cluster=cluster, serviceName="l0-l0-svc123456789", taskDefinition="l0-l0-svc:1", desiredCount=1)
    [task] = ecs.run_task(cluster=cluster, taskDefinition="l0-l0-svc:1", startedBy="ecs-svc/gone")["tasks"]
    ecs.stop_task(cluster=cluster, task=task["taskArn"], reason=PULL_ERROR)
    assert rollout.rollout_state("svc123456789", environment_id, "ecs-svc/gone")["superseded"] is True

    [stopped] = [t for t in ecs_backends[ACCOUNT][REGION].tasks[cluster].values() if t.started_by == "ecs-svc/gone"]
    stopped.stop_code = "TaskFailedToStart"

    with pytest.raises(rollout.RolloutFailed) as raised:
        rollout.rollout_state("svc123456789", environment_id, "ecs-svc/gone")
    assert str(raised.value) == (
        f"Service 'svc123456789': Deployment ecs-svc/gone failed. Stopped tasks: {PULL_ERROR}"
    )
