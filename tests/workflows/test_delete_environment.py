"""Job type 1 end to end in moto: the delete-environment machine (functions/layer0/workflows/) running the real
environment steps (layer0.environments) through the workflow-step function. Nothing is stubbed."""

from __future__ import annotations

import pytest

from layer0 import environments, jobs
from layer0.workflows import registry
from layer0.stores import jobs as job_store
from layer0.stores import tags as tag_store
from tests.unit.test_environments_delete import NOTHING, add_dependencies, create, left
from tests.workflows.helpers import execution_arn, job_machines, wait_for_end


@pytest.fixture
def machines(stack, monkeypatch):
    with job_machines(monkeypatch) as (arns, _waits):
        yield arns


def delete(machines, environment_id: str) -> tuple[str, dict]:
    job = jobs.create(jobs.JobType.DeleteEnvironment, environment_id)
    return job.job_id, wait_for_end(execution_arn(machines[1], job.job_id))


def test_deleting_an_environment_leaves_nothing_behind(machines):
    other = create("other")
    environment_id = create("doomed", min_cluster_count=2)
    environments.link(environment_id, other)
    add_dependencies(environment_id)
    assert left(environment_id) != NOTHING

    job_id, described = delete(machines, environment_id)

    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    assert job_store.get(job_id).job_status == 3
    assert left(environment_id) == NOTHING
    assert tag_store.select_by_type_and_id("environment", environment_id) == []
    assert environments.get(other).links == []


def test_rerunning_a_delete_that_failed_part_way_finishes_it(machines, monkeypatch):
    environment_id = create("partial", min_cluster_count=1)

    def broken(environment_id):
        raise RuntimeError("the cluster API is down")

    with monkeypatch.context() as patch:
        patch.setitem(registry.STEPS, "environment.delete_cluster", broken)
        failed_id, failed = delete(machines, environment_id)
    assert failed["status"] == "FAILED"
    assert job_store.get(failed_id).meta["error"] == "RuntimeError: the cluster API is down"
    assert left(environment_id)["clusters"] == 1
    assert left(environment_id)["auto_scaling_groups"] == 0

    job_id, described = delete(machines, environment_id)

    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    assert job_store.get(job_id).job_status == 3
    assert left(environment_id) == NOTHING
