"""docs/compatibility.md#smoke-scenarios, the environment and job smoke tests, replayed over HTTP against local mode as
a user runs it
(`python -m local` in a subprocess: moto server, the synthesized job machines, the agent simulation).

Each request is what the l0 CLI sends for the command named in the comment.
"""

from __future__ import annotations

import base64

import pytest

from tests.e2e.scenario import FIXTURES, call, create_environment, resolve, session, wait_for_job


@pytest.fixture(scope="module")
def l0():
    yield from session()


def test_environment_scenario(l0):
    # environment create test1; list; get test1; get t*
    test1 = create_environment(l0, "test1")
    assert test1["environment_name"] == "test1" and test1["operating_system"] == "linux"
    assert [e["environment_name"] for e in call(l0, "GET", "environment/").json()] == ["test1"]
    test1_id = resolve(l0, "environment", "test1")
    assert call(l0, "GET", f"environment/{test1_id}/").json()["environment_id"] == test1["environment_id"]
    # environment create --user-data common/user_data.sh test2
    template = (FIXTURES / "user_data.tmpl").read_bytes()
    create_environment(l0, "test2", user_data_template=base64.b64encode(template).decode())
    # environment create --min-count 2 test3; --os windows test4
    test3 = create_environment(l0, "test3", min_cluster_count=2)
    test4 = create_environment(l0, "test4", operating_system="windows")
    assert test4["operating_system"] == "windows"
    fuzzy = call(l0, "GET", "tag/?type=environment&fuzz=t").json()
    assert sorted(t["value"] for e in fuzzy for t in e["tags"] if t["key"] == "name") == [
        "test1", "test2", "test3", "test4"
    ]
    # environment link test3 test4; unlink test3 test4
    call(l0, "POST", f"environment/{test3['environment_id']}/link", json={"environment_id": test4["environment_id"]})
    assert call(l0, "GET", f"environment/{test3['environment_id']}").json()["links"] == [test4["environment_id"]]
    assert call(l0, "GET", f"environment/{test4['environment_id']}").json()["links"] == [test3["environment_id"]]
    call(l0, "DELETE", f"environment/{test3['environment_id']}/link/{test4['environment_id']}")
    assert call(l0, "GET", f"environment/{test3['environment_id']}").json()["links"] == []
    # environment setmincount test3 0; setmincount test3 3
    call(l0, "PUT", f"environment/{test3['environment_id']}", json={"min_cluster_count": 0})
    call(l0, "PUT", f"environment/{test3['environment_id']}", json={"min_cluster_count": 3})
    assert call(l0, "GET", f"environment/{test3['environment_id']}").json()["cluster_count"] == 3
    # environment delete test1..test4, then wait for the jobs
    job_ids = []
    for name in ("test1", "test2", "test3", "test4"):
        response = call(l0, "DELETE", f"environment/{resolve(l0, 'environment', name)}/", expected=202)
        assert response.json() == ""
        assert response.headers["Location"] == f"/job/{response.headers['X-JobID']}"
        job_ids.append(response.headers["X-JobID"])
    for job_id in job_ids:
        job = wait_for_job(l0, job_id)
        assert (job["job_status"], job["job_type"]) == (3, 1), job
    assert call(l0, "GET", "environment/").json() == []
    assert call(l0, "GET", "tag/?type=environment").json() == []
    missing = call(l0, "GET", f"environment/{test1['environment_id']}", expected=404).json()
    assert missing["error_code"] == 24


def test_job_scenario(l0):
    # environment create test; environment delete --wait test
    test = create_environment(l0, "test")
    job_id = call(l0, "DELETE", f"environment/{test['environment_id']}", expected=202).headers["X-JobID"]
    assert wait_for_job(l0, job_id)["job_status"] == 3
    # job list; job get <most recent>
    jobs = call(l0, "GET", "job/").json()
    newest = max(jobs, key=lambda job: job["time_created"])
    assert newest["job_id"] == job_id and newest["request"] == test["environment_id"]
    assert call(l0, "GET", f"job/{job_id}").json()["job_status"] == 3
    # job logs <id>; logs again; --tail; --start/--end in the past
    [log] = call(l0, "GET", f"task/{job_id}/logs").json()
    assert len(log["lines"]) > 3 and any("Succeeded" in line or "ExecutionSucceeded" in line for line in log["lines"])
    assert call(l0, "GET", f"task/{job_id}/logs").json() == [log]
    [tail] = call(l0, "GET", f"task/{job_id}/logs?tail=2").json()
    assert tail["lines"] == log["lines"][-2:]
    [old] = call(l0, "GET", f"task/{job_id}/logs?start=2001-01-01 01:01&end=2012-12-12 12:12").json()
    assert old["lines"] == []
    assert call(l0, "GET", f"task/{job_id}/logs?tail=x", expected=400).json()["error_code"] == 1
    # deleting an environment that does not exist is a clear 404
    assert call(l0, "DELETE", "environment/nosuchenv000", expected=404).json()["error_code"] == 24
