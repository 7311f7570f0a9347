"""Deleting a Fargate environment (job type 1, layer0.workflows.delete_environment) through its state machine in
moto (docs/compatibility.md#fargate-environments): the same machine, the Auto Scaling group and launch template
steps find nothing to do, and the services, application load balancer, tasks, security group, cluster and tags go."""

from __future__ import annotations

import json

from layer0 import environments, jobs, load_balancers, services
from layer0.models import CreateEnvironmentRequest, CreateLoadBalancerRequest, CreateServiceRequest, Port
from layer0.stores import jobs as job_store
from layer0.stores import tags as tag_store
from layer0.workflows import registry
from tests.conftest import setup_client
from tests.unit.test_environments_delete import NOTHING, left
from tests.workflows.helpers import execution_arn, job_machines, wait_for_end


def test_the_delete_machine_deletes_a_fargate_environment_and_skips_the_instance_steps(stack, monkeypatch):
    monkeypatch.setitem(registry.STEPS, "service.rollout_state", lambda **args: {"state": "steady"})
    environment_id = environments.create(
        CreateEnvironmentRequest(environment_name="fg", environment_type="fargate", spot=True)
    ).environment_id
    setup_client("ecs").register_task_definition(
        family="l0-l0-web", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 64,
                                                   "portMappings": [{"containerPort": 80, "hostPort": 80}]}]
    )  # fmt: skip
    with job_machines(monkeypatch) as (machines, _waits):
        balancer = load_balancers.create(
            CreateLoadBalancerRequest(
                load_balancer_name="web",
                environment_id=environment_id,
                load_balancer_type="application",
                ports=[Port(host_port=80, container_port=80, protocol="http")],
            )
        )
        services.create(
            CreateServiceRequest(
                environment_id=environment_id,
                service_name="web",
                deploy_id="web.1",
                load_balancer_id=balancer.load_balancer_id,
            )
        )
        assert left(environment_id) == {**NOTHING, "clusters": 1, "security_groups": 1, "load_balancers": 1,
                                        "target_groups": 1, "load_balancer_tags": 4, "services": 1}  # fmt: skip

        job = jobs.create(jobs.JobType.DeleteEnvironment, environment_id)
        described = wait_for_end(execution_arn(machines[1], job.job_id))

    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    assert job_store.get(job.job_id).job_status == 3
    assert left(environment_id) == NOTHING
    assert tag_store.select_by_type_and_id("environment", environment_id) == []
    history = setup_client("stepfunctions").get_execution_history(executionArn=execution_arn(machines[1], job.job_id))
    # The two instance steps answered that a Fargate environment has none (their results, in the history).
    results = [
        json.loads(details["output"])
        for event in history["events"]
        for key, details in event.items()
        if key.endswith("SucceededEventDetails") and isinstance(details, dict) and details.get("output")
    ]
    assert sum({"deleted": False, "fargate": True} in _values(result) for result in results) == 2, results


def _values(output) -> list:
    """Every dict inside a state's output (steps' results sit under `value` keys)."""
    found = []
    stack = [output]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found
