"""A service's deployments over HTTP (`GET /service/{id}`) as the local ECS simulation moves them: the failed tasks
of a deployment whose image cannot start (docs/compatibility.md#services)."""

from __future__ import annotations

import time

import pytest

from local.ecs import agent as agent_module
from local.ecs.agent import Agent
from tests.api.test_services import create, machines  # noqa: F401  (a fixture)
from tests.conftest import setup_client
from tests.workflows.test_services_rollout import create_environment, register_deploy

PASSES = 8  # enough for the circuit breaker to trip (3 failed tasks), as tests/workflows/test_ecs_simulation.py


@pytest.fixture
def agent(machines):
    """The ECS simulation of local mode for prefix l0, driven one pass at a time; the rollout step is stubbed
    (tests/api/test_services.py `machines`)."""
    started = time.time()
    try:
        yield Agent(setup_client, "l0", clock=lambda: started)  # a clock that stands still: nothing here sleeps
    finally:
        agent_module.unpatch_moto_total_resources()


def sync(agent: Agent, passes: int) -> None:
    for _ in range(passes):
        assert agent.sync_once().errors == []


def test_a_failing_image_counts_its_failed_tasks_on_the_deployment(agent, api):
    environment_id = create_environment("web", count=1)
    created = create(api, environment_id, "broken", register_deploy("broken", image="quintilesims/fail:1"))
    assert created.status_code == 200
    service_id = created.json()["service_id"]
    [fresh] = created.json()["deployments"]
    assert fresh["failed_tasks"] == 0

    sync(agent, PASSES)

    answer = api.get(f"/service/{service_id}")
    assert answer.status_code == 200
    [deployment] = answer.json()["deployments"]  # nothing to roll back to: the failed deployment stays
    assert deployment["status"] == "PRIMARY" and deployment["failed_tasks"] == 3
    assert (deployment["running_count"], deployment["pending_count"]) == (0, 0)


def test_a_running_image_has_no_failed_tasks(agent, api):
    environment_id = create_environment("web", count=1)
    created = create(api, environment_id, "web", register_deploy("guestbook")).json()

    sync(agent, 3)

    [deployment] = api.get(f"/service/{created['service_id']}").json()["deployments"]
    assert (deployment["running_count"], deployment["failed_tasks"]) == (1, 0)
