"""Each job's steps get only what they call (issue 12): every AWS call a job's steps make, recorded while the job
machines run the workflow tests' scenarios in moto, is an action granted to that job's own step function
(`l0-<prefix>-job-<slug>-step`, infra/workflows/construct.py) in the synthesized template.

The calls are attributed to the step that makes them (the step handler dispatches through `registry.run`), and a
step's calls to every machine whose definition names the step. Calls made outside a step (the API's set-up) are not
counted.
"""

from __future__ import annotations

import threading

import pytest

from layer0 import aws
from layer0.workflows import registry
from tests.infra.helpers import granted, step_role
from tests.workflows.test_create_task import agent  # noqa: F401 - fixture
from tests.workflows.test_services_rollout import machines, polls  # noqa: F401 - fixtures

SERVICES = (
    "ecs", "ec2", "autoscaling", "elb", "elbv2", "iam", "scheduler", "dynamodb", "ssm", "sts", "acm",
    "application-autoscaling",
)  # fmt: skip
# Calls AWS authorizes without a policy.
UNAUTHORIZED_CALLS = {"sts:GetCallerIdentity"}
TAG_ON_CREATE = {
    "elasticloadbalancing": ("Tags", "elasticloadbalancing:AddTags"),
    "ec2": ("TagSpecifications", "ec2:CreateTags"),
}


def _steps_in(value) -> set[str]:
    """Every step name a machine definition's Task states send (Parallel branches and Map iterators included)."""
    if isinstance(value, dict):
        found = {value["step"]} if isinstance(value.get("step"), str) else set()
        return found.union(*(_steps_in(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_steps_in(v) for v in value))
    return set()


# Granted actions the scenarios do not reach, each with the code path that needs it. Logs and X-Ray are every
# function's own; DynamoDB's actions come with CDK's table grants (read/write of the job table, and of the tag table).
LEGACY_ROLE = {"iam:DeleteRole", "iam:DeleteRolePolicy"}  # an adopted classic ELB's -lb role
# An autoscaled service's policies (tests/workflows/test_services_autoscaling_delete.py); Application Auto Scaling
# deletes their alarms with the caller's permissions.
AUTOSCALING_POLICIES = {
    "application-autoscaling:DeleteScalingPolicy",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:DeleteAlarms",
}
NOT_REACHED: dict[str, set[str]] = {
    "delete-environment": {
        "ecs:ListClusters",  # the delete-service policy's search for an untagged service (not needed here)
        "ecs:StopTask",  # a running task of the environment
        "elasticloadbalancing:DescribeTags",  # target groups of a long prefix, found by tag
        *LEGACY_ROLE,
        *AUTOSCALING_POLICIES,
    },
    # ListClusters and ListServices: a service without its environment tag.
    "delete-service": {"ecs:ListClusters", "ecs:ListServices", *AUTOSCALING_POLICIES},
    "rollout": set(),
    "delete-load-balancer": {"elasticloadbalancing:DescribeTags"},  # target groups of a long prefix
    "create-task": {
        "iam:PassRole",  # a deploy with a taskRoleArn
        # A task in a Fargate environment: its deploy's Fargate variant and the environment's security group
        # (tests/api/test_fargate.py runs one).
        "ecs:DescribeTaskDefinition",
        "ecs:RegisterTaskDefinition",
        "ec2:DescribeSecurityGroups",
    },
}

MACHINE_STEPS = {machine.slug: _steps_in(machine.definition()) for machine in registry.MACHINES.values()}


class Recorder:
    """IAM actions of the AWS calls made while a step runs, by the slug of each machine that runs the step."""

    def __init__(self):
        self.current = threading.local()
        self.made: dict[str, set[str]] = {slug: set() for slug in MACHINE_STEPS}
        self.steps: set[str] = set()
        self.lock = threading.Lock()

    def run(self, original):
        def run(name: str, args: dict):
            self.current.step = name
            try:
                return original(name, args)
            finally:
                self.current.step = None

        return run

    def __call__(self, model, params, **_):
        step = getattr(self.current, "step", None)
        if step is None:
            return
        prefix = model.service_model.endpoint_prefix
        actions = {f"{prefix}:{model.name}"}
        key, action = TAG_ON_CREATE.get(prefix, (None, None))
        if key and model.name.startswith("Create") and params.get(key):
            actions.add(action)
        with self.lock:
            self.steps.add(step)
            for slug, steps in MACHINE_STEPS.items():
                if step in steps:
                    self.made[slug] |= actions


@pytest.fixture
def recorded(machines, monkeypatch):  # noqa: F811 - the workflow tests' fixture
    recorder = Recorder()
    monkeypatch.setattr(registry, "run", recorder.run(registry.run))
    clients = [aws.client(service) for service in SERVICES]
    for client in clients:
        client.meta.events.register("before-call", recorder)
    yield recorder
    for client in clients:
        client.meta.events.unregister("before-call", recorder)


def _assert_granted(synth, recorder: Recorder, slugs: tuple[str, ...]) -> None:
    for slug in slugs:
        assert recorder.made[slug], f"no call of the {slug} steps was recorded"
        allowed = granted(synth.template_json, step_role(synth.template_json, slug))
        missing = recorder.made[slug] - allowed
        assert not missing - UNAUTHORIZED_CALLS, (slug, sorted(missing))
        # ...and nothing is granted that the steps do not call, but what the scenarios do not reach (below).
        unused = {a for a in allowed - recorder.made[slug] if not a.startswith(("logs:", "xray:", "dynamodb:"))}
        assert unused <= NOT_REACHED[slug], (slug, sorted(unused - NOT_REACHED[slug]))


def test_the_delete_environment_steps(synth, recorded, machines):  # noqa: F811
    from tests.workflows import test_delete_environment

    test_delete_environment.test_deleting_an_environment_leaves_nothing_behind(machines)
    _assert_granted(synth, recorded, ("delete-environment",))
    # The fan-out deleted a service and load balancers of both types.
    assert {"ecs:DeleteService", "elasticloadbalancing:DeleteTargetGroup", "ec2:DeleteSecurityGroup"} <= recorded.made[
        "delete-environment"
    ]


def test_the_delete_service_steps(synth, recorded, polls, machines):  # noqa: F811
    from tests.workflows import test_services_delete

    test_services_delete.test_deleting_a_service_scales_it_to_zero_stops_its_tasks_and_forgets_it(polls, machines)
    _assert_granted(synth, recorded, ("delete-service",))


def test_the_rollout_steps(synth, recorded, polls, machines):  # noqa: F811
    from tests.workflows import test_services_rollout

    test_services_rollout.test_a_failed_rollout_ends_the_job_in_error_with_the_stopped_tasks_reasons(polls, machines)
    assert "ecs:DescribeServices" in recorded.made["rollout"]
    _assert_granted(synth, recorded, ("rollout",))


def test_the_delete_load_balancer_steps(synth, recorded, machines):  # noqa: F811
    from tests.workflows import test_load_balancers_delete
    from tests.workflows.test_create_task import create_environment

    # A classic ELB with a legacy role, then a public application load balancer, each deleted by the job.
    test_load_balancers_delete.test_the_job_deletes_the_legacy_role_of_an_adopted_classic_elb(
        machines, create_environment("legacy", count=0)
    )
    application = test_load_balancers_delete.create_public(create_environment("albs", count=0), "application")
    described = test_load_balancers_delete.run(machines, test_load_balancers_delete.lbs.start_delete(application))
    assert test_load_balancers_delete.completed(described)
    assert {"iam:DeleteRole", "elasticloadbalancing:DeleteTargetGroup"} <= recorded.made["delete-load-balancer"]
    _assert_granted(synth, recorded, ("delete-load-balancer",))


def test_the_create_task_steps(synth, recorded, machines, agent, monkeypatch):  # noqa: F811
    from layer0 import settings
    from layer0.errors import Retryable
    from layer0.models import CreateTaskRequest
    from tests.workflows import test_create_task

    test_create_task.test_the_job_starts_the_task_and_names_it_in_meta(machines, agent)
    assert "ecs:RunTask" in recorded.made["create-task"]
    # No room yet: the step asks for a scaler run (an EventBridge Scheduler one-time schedule) and tries again later.
    monkeypatch.setenv("LAYER0_SCALER_FUNCTION_ARN", "arn:aws:lambda:us-west-2:123456789012:function:l0-l0-scaler")
    monkeypatch.setenv("LAYER0_SCALER_SCHEDULE_ROLE_ARN", "arn:aws:iam::123456789012:role/l0-l0-scaler-schedule")
    settings.get.cache_clear()
    environment_id = test_create_task.create_environment("empty", count=0, scaling="layer0")
    request = CreateTaskRequest(
        task_name="waiting", environment_id=environment_id, deploy_id=test_create_task.register_deploy("alpine2")
    )
    with pytest.raises(Retryable):
        registry.run("task.run", {"job_id": "waitingjob01", "request": request.model_dump_json()})
    assert "scheduler:CreateSchedule" in recorded.made["create-task"]
    _assert_granted(synth, recorded, ("create-task",))
