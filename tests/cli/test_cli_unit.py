"""`l0` against a fake API: arguments and flags, the requests they make, the outputs, exit codes and errors."""

from __future__ import annotations

import base64
import json

import httpx

from tests.cli.conftest import FakeAPI, answer

ENV = {
    "environment_id": "test1abc",
    "environment_name": "test1",
    "cluster_count": 0,
    "instance_size": "m3.medium",
    "security_group_id": "sg-1",
    "operating_system": "linux",
    "ami_id": "ami-1",
    "links": ["e2", "e3"],
}
LB = {
    "load_balancer_id": "lb1id",
    "load_balancer_name": "lb1",
    "environment_id": "test1abc",
    "environment_name": "test1",
    "is_public": True,
    "cross_zone": True,
    "idle_timeout": 60,
    "url": "u",
    "health_check": {
        "target": "TCP:80",
        "interval": 30,
        "timeout": 5,
        "healthy_threshold": 2,
        "unhealthy_threshold": 2,
    },
    "ports": [
        {"host_port": 80, "container_port": 80, "protocol": "tcp"},
        {"host_port": 443, "container_port": 80, "protocol": "https", "certificate_name": "c"},
    ],
}


def deployment(name: str, version: str, running: int, desired: int, status: str = "PRIMARY") -> dict:
    return {
        "deploy_id": f"{name}.{version}",
        "deploy_name": name,
        "deploy_version": version,
        "status": status,
        "running_count": running,
        "desired_count": desired,
        "pending_count": desired - running,
    }


def service(running: int = 1, desired: int = 1, deployments: list | None = None) -> dict:
    return {
        "service_id": "svc1id",
        "service_name": "svc1",
        "environment_id": "test1abc",
        "environment_name": "test1",
        "load_balancer_id": "",
        "load_balancer_name": "",
        "running_count": running,
        "desired_count": desired,
        "pending_count": desired - running,
        "deployments": deployments if deployments is not None else [deployment("gb", "1", running, desired)],
    }


def job(job_id: str, job_type: int, status: int, **meta: str) -> dict:
    return {
        "job_id": job_id,
        "task_id": job_id,
        "job_type": job_type,
        "job_status": status,
        "request": "",
        "time_created": "2026-11-29T20:38:19.123Z",
        "time_to_exist": 0,
        "meta": meta,
    }


# --- outputs ---------------------------------------------------------------------------------------------------------


def test_environment_get_prints_the_original_table_with_links_on_continuation_rows(api: FakeAPI, l0):
    api.entity("environment", "test1abc", "test1")
    api.on("GET", "/environment/test1abc", (200, ENV))
    result = l0("environment", "get", "test1")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "ENVIRONMENT ID  ENVIRONMENT NAME  OS     CLUSTER COUNT  INSTANCE SIZE  LINKS",
        "test1abc        test1             linux  0              m3.medium      e2",
        "                                                                       e3",
    ]


def test_json_output_is_the_api_models_as_an_array(api: FakeAPI, l0):
    api.entity("environment", "test1abc", "test1")
    api.on("GET", "/environment/test1abc", (200, {**ENV, "architecture": "arm64"}))
    result = l0("-o", "json", "environment", "get", "test1")
    assert json.loads(result.stdout) == [{**ENV, "architecture": "arm64"}]  # fields the API adds pass through


def test_json_messages_and_errors_have_the_original_shape(api: FakeAPI, l0):
    api.on("POST", "/admin/sql", (204, None))
    assert json.loads(l0("-o", "json", "admin", "sql").stdout) == {"Message": "Successfully Configured SQL"}
    api.on("GET", "/job", (500, {"error_code": 21, "message": "boom"}))
    result = l0("-o", "json", "job", "list")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"Code": 1, "Message": "ServerError (code=21) boom"}


def test_job_list_names_every_job_type_including_rollout(api: FakeAPI, l0):
    api.on("GET", "/job", (200, [job("a", 6, 3), job("b", 1, 4), job("c", 5, 2), job("d", 9, 1)]))
    lines = l0("job", "list").stdout.splitlines()
    assert lines[0].split() == ["JOB", "ID", "TASK", "ID", "TYPE", "STATUS", "CREATED"]
    assert "Rollout" in lines[1] and "Completed" in lines[1] and "2026-11-29 20:38:19" in lines[1]
    assert "Delete Environment" in lines[2] and "Error" in lines[2]
    assert "Create Task" in lines[3] and "In Progress" in lines[3]
    assert "(Unknown JobType=9!)" in lines[4]


def test_load_balancer_ports_are_upper_cased_on_continuation_rows(api: FakeAPI, l0):
    api.entity("load_balancer", "lb1id", "lb1")
    api.on("GET", "/loadbalancer/lb1id", (200, LB))
    lines = l0("loadbalancer", "get", "lb1").stdout.splitlines()
    assert lines[1].split() == ["lb1id", "lb1", "test1", "80:80/TCP", "true", "u", "60"]
    assert lines[2].split() == ["443:80/HTTPS"]


def test_service_table_marks_deployments_short_of_their_count(api: FakeAPI, l0):
    api.entity("service", "svc1id", "svc1")
    two = [deployment("gb", "2", 1, 2), deployment("gb", "1", 1, 1, "ACTIVE")]
    api.on("GET", "/service/svc1id", (200, service(running=2, desired=3, deployments=two)))
    lines = l0("service", "get", "svc1").stdout.splitlines()
    assert lines[1].split() == ["svc1id", "svc1", "test1", "gb:2*", "2/3", "(1)"]
    assert lines[2].split() == ["gb:1"]


def test_logs_print_each_file_with_an_underlined_name(api: FakeAPI, l0):
    api.entity("task", "t1id", "t1")
    api.on("GET", "/task/t1id/logs", (200, [{"name": "alpine", "lines": ["a", "b"]}]))
    result = l0("task", "logs", "--tail", "2", "--start", "2001-01-01 01:01", "t1")
    assert result.stdout == "alpine\n------\na\nb\n\n"
    assert dict(api.sent("GET", "/task/t1id/logs")[0].url.params) == {"tail": "2", "start": "2001-01-01 01:01"}


# --- errors and exit codes -------------------------------------------------------------------------------------------


def test_server_errors_go_to_stderr_with_exit_1(api: FakeAPI, l0):
    api.entity("environment", "test1abc", "test1")
    api.on("GET", "/environment/test1abc", (404, {"error_code": 24, "message": "Environment does not exist"}))
    result = l0("environment", "get", "test1")
    assert result.exit_code == 1
    assert result.stderr.strip() == "ServerError (code=24) Environment does not exist"
    assert result.stdout == ""


def test_lookups_need_an_exact_match_unless_a_trailing_wildcard(api: FakeAPI, l0):
    api.entity("environment", "test1abc", "test1")
    api.entity("environment", "test2abc", "test2")
    none = l0("environment", "delete", "test")
    assert none.exit_code == 1
    assert "Environment lookup using 'test' yielded no matches. Did you forget to add a wildcard" in none.stderr
    several = l0("environment", "delete", "t*")
    assert several.exit_code == 1 and "yielded multiple matches" in several.stderr and "test2abc" in several.stderr
    middle = l0("environment", "get", "t*1")
    assert middle.exit_code == 1
    assert "Incorrect Usage: Wildcard matching ('*') can only be done at the end of a target." in middle.stderr


def test_usage_errors_exit_1_with_the_command_help(api: FakeAPI, l0):
    result = l0("environment", "setmincount", "test1")
    assert result.exit_code == 1
    assert result.stderr.startswith("Incorrect Usage: Missing argument 'COUNT'.")
    assert "Usage: l0 environment setmincount [OPTIONS] NAME COUNT" in result.stderr
    assert "Incorrect Usage: 'x' is not a valid integer" in l0("environment", "setmincount", "a", "x").stderr
    assert "Unrecognized output format" in l0("-o", "yaml", "job", "list").stderr
    assert l0("-t", "soon", "job", "list").exit_code == 1
    assert api.requests == []


def test_the_version_header_must_match_unless_skipped(api: FakeAPI, l0):
    api.on("GET", "/admin/version", lambda request: httpx.Response(200, json="v1", headers={"Version": "v1"}))
    refused = l0("admin", "version")
    assert refused.exit_code == 1 and "API and CLI version mismatch" in refused.stderr
    assert "LAYER0_SKIP_VERSION_VERIFY" in refused.stderr
    accepted = l0("admin", "version", env={"LAYER0_SKIP_VERSION_VERIFY": "1"})
    assert accepted.exit_code == 0 and accepted.stdout == "v1\n"


def test_the_token_is_sent_and_debug_never_shows_it_or_a_secret_value(api: FakeAPI, l0):
    api.on("POST", "/secret", (200, {"secret_name": "db", "secret_arn": "arn:s", "last_changed": ""}))
    result = l0("-d", "secret", "set", "db", input="s3cret-value\n")
    assert result.exit_code == 0, result.output
    assert api.requests[0].headers["Authorization"] == "Basic dGVzdDp0ZXN0"
    assert "s3cret-value" not in result.stderr + result.stdout and "dGVzdDp0ZXN0" not in result.stderr
    assert "DEBUG request POST http://l0.test/secret" in result.stderr


# --- requests --------------------------------------------------------------------------------------------------------


def test_environment_create_sends_the_original_defaults(api: FakeAPI, l0, tmp_path):
    api.on("POST", "/environment", (200, ENV))
    template = tmp_path / "user_data.sh"
    template.write_bytes(b"#!/bin/sh {{ .ECSEnvironmentID }}")
    assert l0("environment", "create", "test1").exit_code == 0
    assert api.body("POST", "/environment") == {
        "environment_name": "test1",
        "operating_system": "linux",
        "instance_size": "m3.medium",
        "min_cluster_count": 0,
    }
    l0("environment", "create", "-min-count", "2", "--user-data", str(template), "--os", "windows", "test2")
    body = api.body("POST", "/environment")
    assert (body["min_cluster_count"], body["operating_system"]) == (2, "windows")
    assert base64.b64decode(body["user_data_template"]) == template.read_bytes()


def test_environment_create_fargate_sends_no_ec2_fields(api: FakeAPI, l0):
    api.on("POST", "/environment", (200, {**ENV, "environment_type": "fargate"}))
    result = l0("environment", "create", "--type", "fargate", "--spot", "f1")
    assert result.exit_code == 0, result.output
    assert api.body("POST", "/environment") == {
        "environment_name": "f1",
        "operating_system": "linux",
        "environment_type": "fargate",
        "spot": True,
    }
    assert "TYPE" in result.stdout.splitlines()[0]  # the type, architecture and scaling columns when the API has them
    l0("environment", "create", "--scaling", "layer0", "--size", "t4g.small", "e1")
    body = api.body("POST", "/environment")
    assert (body["scaling"], body["instance_size"]) == ("layer0", "t4g.small")


def test_single_dash_long_flags_work_as_in_the_go_cli(api: FakeAPI, l0):
    api.entity("environment", "test1abc", "test1")
    api.on("DELETE", "/environment/test1abc", (202, "", {"X-JobID": "j1"}))
    api.on("GET", "/job/j1", (200, job("j1", 1, 2)), (200, job("j1", 1, 3)))
    result = l0("environment", "delete", "-wait", "test1")
    assert result.exit_code == 0, result.output
    assert len(api.sent("GET", "/job/j1")) == 2


def test_delete_without_wait_prints_the_job_message(api: FakeAPI, l0):
    api.entity("service", "svc1id", "svc1")
    api.on("DELETE", "/service/svc1id", (202, "", {"X-JobID": "j9"}))
    result = l0("service", "delete", "svc1")
    assert result.stdout == "This operation is running as a job. Run `l0 job get j9` to see progress\n"


def test_a_failed_job_under_wait_exits_1_pointing_to_its_logs(api: FakeAPI, l0):
    api.entity("load_balancer", "lb1id", "lb1")
    api.on("DELETE", "/loadbalancer/lb1id", (202, "", {"X-JobID": "j1"}))
    api.on("GET", "/job/j1", (200, job("j1", 3, 4, error="it broke")))
    result = l0("loadbalancer", "delete", "--wait", "lb1")
    assert result.exit_code == 1
    assert "Use 'l0 job logs j1' for more information: it broke" in result.stderr


def test_loadbalancer_create_sends_every_field_with_the_defaults(api: FakeAPI, l0):
    api.entity("environment", "test1abc", "test1")
    api.on("POST", "/loadbalancer", (200, LB))
    assert l0("loadbalancer", "create", "test1", "lb1").exit_code == 0
    assert api.body("POST", "/loadbalancer") == {
        "load_balancer_name": "lb1",
        "environment_id": "test1abc",
        "is_public": True,
        "ports": [
            {"certificate_name": "", "certificate_arn": "", "container_port": 80, "host_port": 80, "protocol": "tcp"}
        ],  # noqa: E501
        "health_check": {
            "target": "TCP:80",
            "interval": 30,
            "timeout": 5,
            "healthy_threshold": 2,
            "unhealthy_threshold": 2,
        },  # noqa: E501
        "idle_timeout": 60,
        "cross_zone": True,
    }
    args = ["--port", "80:80/http", "--port", "443:443/https", "--certificate", "arn:aws:iam::1:server-certificate/c"]
    l0("loadbalancer", "create", *args, "--private", "--disable-cross-zone", "--type", "application", "test1", "lb2")
    body = api.body("POST", "/loadbalancer")
    assert [p["certificate_arn"] for p in body["ports"]] == ["", "arn:aws:iam::1:server-certificate/c"]
    assert (body["is_public"], body["cross_zone"], body["load_balancer_type"]) == (False, False, "application")
    assert "Invalid port" in l0("loadbalancer", "create", "--port", "80", "test1", "lb3").stderr


def test_loadbalancer_port_health_check_idle_timeout_and_cross_zone_updates(api: FakeAPI, l0):
    api.entity("load_balancer", "lb1id", "lb1")
    api.on("GET", "/loadbalancer/lb1id", (200, LB))
    for path in ("ports", "healthcheck", "idletimeout", "crosszone"):
        api.on("PUT", f"/loadbalancer/lb1id/{path}", (200, LB))
    l0("loadbalancer", "addport", "lb1", "8000:8000/http")
    assert [p["host_port"] for p in api.body("PUT", "/loadbalancer/lb1id/ports")["ports"]] == [80, 443, 8000]
    l0("loadbalancer", "dropport", "lb1", "443")
    assert [p["host_port"] for p in api.body("PUT", "/loadbalancer/lb1id/ports")["ports"]] == [80]
    missing = l0("loadbalancer", "dropport", "lb1", "9")
    assert missing.exit_code == 1 and "Host port '9' doesn't exist on this Load Balancer" in missing.stderr
    shown = l0("loadbalancer", "healthcheck", "lb1")
    assert shown.stdout.splitlines()[1].split() == ["lb1id", "lb1", "TCP:80", "30", "5", "2", "2"]
    assert api.sent("PUT", "/loadbalancer/lb1id/healthcheck") == []
    l0("loadbalancer", "healthcheck", "--set-target", "TCP:88", "--set-interval", "45", "lb1")
    assert api.body("PUT", "/loadbalancer/lb1id/healthcheck")["health_check"] == {
        "target": "TCP:88",
        "interval": 45,
        "timeout": 5,
        "healthy_threshold": 2,
        "unhealthy_threshold": 2,
    }
    l0("loadbalancer", "idletimeout", "lb1", "120")
    assert api.body("PUT", "/loadbalancer/lb1id/idletimeout") == {"health_check": 120}
    l0("loadbalancer", "cross-zone", "--disable", "lb1")
    assert api.body("PUT", "/loadbalancer/lb1id/crosszone") == {"cross_zone": False}
    both = l0("loadbalancer", "cross-zone", "--enable", "--disable", "lb1")
    assert both.exit_code == 1 and "Incorrect Usage" in both.stderr


def test_service_create_resolves_deploy_latest_and_the_load_balancer_in_its_environment(api: FakeAPI, l0):
    api.entity("environment", "test1abc", "test1")
    api.entity("deploy", "gb.2", "gb", version="2")
    api.entity("load_balancer", "lb1id", "lb1", environment_id="test1abc")
    api.entity("load_balancer", "lb1other", "lb1", environment_id="other")
    api.on("POST", "/service", (200, service(), {"X-JobID": "r1"}))
    result = l0("service", "create", "--loadbalancer", "lb1", "test1", "svc1", "gb:latest")
    assert result.exit_code == 0, result.output
    assert api.body("POST", "/service") == {
        "service_name": "svc1",
        "environment_id": "test1abc",
        "deploy_id": "gb.2",
        "load_balancer_id": "lb1id",
    }
    deploy_lookup = [r for r in api.sent("GET", "/tag") if r.url.params["type"] == "deploy"][0]
    assert deploy_lookup.url.params["version"] == "latest" and deploy_lookup.url.params["fuzz"] == "gb"


def test_task_create_copies_env_and_the_first_job_id(api: FakeAPI, l0):
    api.entity("environment", "test1abc", "test1")
    api.entity("deploy", "alpine.1", "alpine", version="1")
    jobs = iter(["j1", "j2", "j3"])
    api.routes[("POST", "/task")] = lambda request: answer(202, "", {"X-JobID": next(jobs)})
    result = l0("task", "create", "--env", "alpine:key=val", "--copies", "3", "test1", "task2", "alpine:latest")
    assert result.stdout == "This operation is running as a job. Run `l0 job get j1` to see progress\n"
    sent = api.sent("POST", "/task")
    assert len(sent) == 3 and len({r.headers["Idempotency-Key"] for r in sent}) == 3
    assert json.loads(sent[0].content)["container_overrides"] == [
        {"container_name": "alpine", "environment_overrides": {"key": "val"}}
    ]
    assert "CONTAINER:VARIABLE=VALUE" in l0("task", "create", "--env", "bad", "test1", "t", "alpine").stderr
    assert "at least 1" in l0("task", "create", "--copies", "0", "test1", "t", "alpine").stderr


def test_admin_scale_and_sql_bodies(api: FakeAPI, l0):
    api.entity("environment", "test1abc", "test1")
    api.on(
        "PUT",
        "/admin/scale/test1abc",
        (
            200,
            {
                "environment_id": "test1abc",
                "scale_before_run": 1,
                "desired_scale_after_run": 2,
                "actual_scale_after_run": 2,
            },
        ),
    )
    api.on("POST", "/admin/sql", (204, None))
    lines = l0("admin", "scale", "test1").stdout.splitlines()
    assert lines == ["ENVIRONMENT  CURRENT SCALE  DESIRED SCALE", "test1abc     1              2"]
    assert api.sent("PUT", "/admin/scale/test1abc")[0].content == b'""'
    l0("admin", "sql")
    assert api.body("POST", "/admin/sql") == {"version": "latest"}


def test_deploy_list_shows_the_newest_version_of_each_name_unless_all(api: FakeAPI, l0):
    api.on(
        "GET",
        "/deploy",
        (
            200,
            [
                {"deploy_id": "gb.1", "deploy_name": "gb", "version": "1"},
                {"deploy_id": "gb.10", "deploy_name": "gb", "version": "10"},
                {"deploy_id": "gb.2", "deploy_name": "gb", "version": "2"},
                {"deploy_id": "x.1", "deploy_name": "", "version": "1"},
            ],
        ),
    )
    assert [line.split()[0] for line in l0("deploy", "list").stdout.splitlines()[1:]] == ["gb.10"]
    assert len(l0("deploy", "list", "--all").stdout.splitlines()) == 5


def test_task_list_hides_unnamed_tasks_unless_all_and_get_only_fetches_listed_tasks(api: FakeAPI, l0):
    api.on("GET", "/task", (200, [{"task_id": "t1id", "task_name": "t1"}, {"task_id": "x", "task_name": ""}]))
    assert len(l0("task", "list").stdout.splitlines()) == 2
    assert len(l0("task", "list", "--all").stdout.splitlines()) == 3
    api.entity("task", "t1id", "t1")
    api.entity("task", "t1gone", "t1b")
    api.on("GET", "/task/t1id", (200, {"task_id": "t1id", "task_name": "t1", "running_count": 1}))
    assert l0("task", "get", "t1*").stdout.splitlines()[1].split() == ["t1id", "t1", "1/1"]
    assert api.sent("GET", "/task/t1gone") == []


# --- rollouts, following and exit codes ------------------------------------------------------------------------------


def test_service_scale_wait_shows_progress_and_succeeds_when_the_rollout_completes(api: FakeAPI, l0):
    api.entity("service", "svc1id", "svc1")
    api.on("PUT", "/service/svc1id/scale", (200, service(1, 2), {"X-JobID": "r1"}))
    api.on("GET", "/job/r1", (200, job("r1", 6, 2)), (200, job("r1", 6, 3)))
    api.on("GET", "/service/svc1id", (200, service(1, 2)), (200, service(2, 2)))
    result = l0("service", "scale", "--wait", "svc1", "2")
    assert result.exit_code == 0, result.output
    assert "Rollout of svc1: desired 2, running 1, pending 1" in result.stderr
    assert "Rollout of svc1: desired 2, running 2, pending 0" in result.stderr
    assert result.stdout.splitlines()[1].split()[-1] == "2/2"


def test_a_failed_rollout_exits_1_with_the_circuit_breakers_reason(api: FakeAPI, l0):
    api.entity("service", "svc1id", "svc1")
    api.entity("deploy", "bad.1", "bad", version="1")
    api.on("PUT", "/service/svc1id/deploy", (200, service(), {"X-JobID": "r2"}))
    reason = "ECS deployment circuit breaker: tasks failed to start (CannotPullContainerError)"
    api.on("GET", "/job/r2", (200, job("r2", 6, 4, error=reason)))
    api.on("GET", "/service/svc1id", (200, service()))
    result = l0("service", "update", "--wait", "svc1", "bad:latest")
    assert result.exit_code == 1
    assert f"Rollout job r2 failed: {reason}" in result.stderr


def test_the_rollout_line_shows_the_failed_tasks_of_the_deployment_it_follows(api: FakeAPI, l0):
    """The update made d2 PRIMARY; its tasks fail, the circuit breaker rolls back to a new PRIMARY d3: the line
    keeps counting d2's failed tasks while ECS lists it, and stays after the spinner on a failure."""
    api.entity("service", "svc1id", "svc1")
    api.entity("deploy", "bad.1", "bad", version="1")
    old = {**deployment("gb", "1", 1, 1, "ACTIVE"), "deployment_id": "d1", "failed_tasks": 0}
    new = {**deployment("bad", "1", 0, 1), "deployment_id": "d2", "failed_tasks": 0}
    failing = {**new, "failed_tasks": 2, "pending_count": 0}
    failed = {**failing, "failed_tasks": 3, "status": "ACTIVE"}
    rollback = {**deployment("gb", "1", 0, 1), "deployment_id": "d3", "failed_tasks": 0}
    api.on("PUT", "/service/svc1id/deploy", (200, service(deployments=[new, old]), {"X-JobID": "r3"}))
    api.on("GET", "/job/r3", (200, job("r3", 6, 2)), (200, job("r3", 6, 2)), (200, job("r3", 6, 4, error="breaker")))
    api.on(
        "GET",
        "/service/svc1id",
        (200, service(deployments=[failing, old])),
        (200, service(deployments=[rollback, failed, old])),
        (200, service(deployments=[rollback])),
    )
    result = l0("service", "update", "--wait", "svc1", "bad:latest")
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("Rollout of")]
    assert lines == [
        "Rollout of svc1: desired 1, running 0, pending 0, failed 2 (2 deployments)",
        "Rollout of svc1: desired 1, running 0, pending 0, failed 3 (3 deployments)",
        "Rollout of svc1: desired 1, running 0, pending 1, failed 0",  # d2 is gone: the PRIMARY (the rollback)
    ]
    assert "Rollout job r3 failed: breaker" in result.stderr


def test_the_rollout_line_of_an_api_without_failed_tasks_leaves_them_out(api: FakeAPI, l0):
    api.entity("service", "svc1id", "svc1")
    api.on("PUT", "/service/svc1id/scale", (200, service(1, 1), {"X-JobID": "r4"}))
    api.on("GET", "/job/r4", (200, job("r4", 6, 3)))
    api.on("GET", "/service/svc1id", (200, service(1, 1)))
    result = l0("service", "scale", "--wait", "svc1", "1")
    assert result.exit_code == 0
    assert "Rollout of svc1: desired 1, running 1, pending 0\n" in result.stderr


def test_service_get_json_keeps_the_failed_tasks_the_api_sent(api: FakeAPI, l0):
    api.entity("service", "svc1id", "svc1")
    sent = service(deployments=[{**deployment("gb", "1", 0, 1), "deployment_id": "d1", "failed_tasks": 3}])
    api.on("GET", "/service/svc1id", (200, sent))
    [shown] = json.loads(l0("-o", "json", "service", "get", "svc1").stdout)
    assert shown == sent  # the Go CLI's shape, with the field added


def test_service_wait_without_a_rollout_job_uses_the_original_three_checks(api: FakeAPI, l0):
    api.entity("service", "svc1id", "svc1")
    api.on("PUT", "/service/svc1id/scale", (200, service(0, 1)))
    api.on("GET", "/service/svc1id", (200, service(0, 1)), (200, service(1, 1)))
    assert l0("service", "scale", "--wait", "svc1", "1").exit_code == 0
    assert len(api.sent("GET", "/service/svc1id")) == 4  # one short, then three steady


def test_task_create_wait_follow_streams_logs_and_exits_with_the_essential_containers_code(api: FakeAPI, l0):
    api.entity("environment", "test1abc", "test1")
    api.entity("deploy", "app.1", "app", version="1")
    api.on("POST", "/task", (202, "", {"X-JobID": "j1"}))
    api.on("GET", "/job/j1", (200, job("j1", 5, 2)), (200, job("j1", 5, 3, task_id="t1id")))
    running = {
        "task_id": "t1id",
        "deploy_id": "app.1",
        "copies": [
            {
                "task_copy_id": "arn",
                "details": [
                    {"container_name": "app", "last_status": "RUNNING"},
                    {"container_name": "side", "last_status": "RUNNING"},
                ],
            }
        ],
    }
    stopped = {
        "task_id": "t1id",
        "deploy_id": "app.1",
        "copies": [
            {
                "task_copy_id": "arn",
                "details": [
                    {"container_name": "app", "last_status": "STOPPED", "exit_code": 3},
                    {"container_name": "side", "last_status": "STOPPED", "exit_code": 137},
                ],
            }
        ],
    }
    api.on("GET", "/task/t1id", (200, running), (200, stopped))
    api.on(
        "GET",
        "/task/t1id/logs",
        (200, [{"name": "app", "lines": ["one"]}]),
        (200, [{"name": "app", "lines": ["one", "two"]}]),
    )
    dockerrun = {"containerDefinitions": [{"name": "side", "essential": False}, {"name": "app"}]}
    api.on(
        "GET",
        "/deploy/app.1",
        (200, {"deploy_id": "app.1", "dockerrun": base64.b64encode(json.dumps(dockerrun).encode()).decode()}),
    )  # noqa: E501
    result = l0("task", "create", "--wait", "--follow", "test1", "t1", "app:latest")
    assert result.stdout == "app | one\napp | two\n"
    assert result.exit_code == 3
    assert "--follow needs --wait" in l0("task", "create", "--follow", "test1", "t1", "app:latest").stderr


def test_service_logs_follow_prints_only_new_lines_until_ctrl_c(api: FakeAPI, l0):
    api.entity("service", "svc1id", "svc1")

    def interrupted(request: httpx.Request) -> httpx.Response:
        raise KeyboardInterrupt

    api.on(
        "GET",
        "/service/svc1id/logs",
        (200, [{"name": "web", "lines": ["a", "b", "c"]}]),
        (200, [{"name": "web", "lines": ["a", "b", "c", "d"]}, {"name": "web", "lines": ["x"]}]),
        interrupted,
    )
    result = l0("service", "logs", "--follow", "--tail", "1", "svc1")
    assert result.exit_code == 0
    assert result.stdout == "web | c\nweb | d\nweb | x\n"


def test_timeout_bounds_a_wait(api: FakeAPI, l0):
    api.entity("service", "svc1id", "svc1")
    api.on("DELETE", "/service/svc1id", (202, "", {"X-JobID": "j1"}))
    api.on("GET", "/job/j1", (200, job("j1", 2, 2)))
    result = l0("-t", "0s", "service", "delete", "--wait", "svc1")
    assert result.exit_code == 1 and "Timeout after 0s" in result.stderr


# --- the new commands ------------------------------------------------------------------------------------------------


def test_secret_set_reads_the_value_from_stdin_never_an_argument(api: FakeAPI, l0):
    api.on(
        "POST", "/secret", (200, {"secret_name": "db", "secret_arn": "arn:s", "last_changed": "2026-11-29T01:02:03Z"})
    )  # noqa: E501
    result = l0("secret", "set", "db", input="pa ss\n")
    assert result.exit_code == 0, result.output
    assert api.body("POST", "/secret") == {"secret_name": "db", "value": "pa ss"}
    assert "pa ss" not in result.stdout
    assert result.stdout.splitlines()[1].split() == ["db", "arn:s", "2026-11-29", "01:02:03"]
    refused = l0("secret", "set", "db", "value-as-argument")
    assert refused.exit_code == 1 and "Incorrect Usage" in refused.stderr
    assert "value is empty" in l0("secret", "set", "db", input="").stderr
    assert len(api.sent("POST", "/secret")) == 1


def test_secret_list_and_delete(api: FakeAPI, l0):
    api.on("GET", "/secret", (200, [{"secret_name": "db", "secret_arn": "arn:s", "last_changed": ""}]))
    api.on("DELETE", "/secret/db", (204, None))
    assert json.loads(l0("-o", "json", "secret", "list").stdout) == [
        {"secret_name": "db", "secret_arn": "arn:s", "last_changed": ""}
    ]
    assert l0("secret", "delete", "db").exit_code == 0 and api.sent("DELETE", "/secret/db")


def test_service_autoscaling_set_and_clear(api: FakeAPI, l0):
    api.entity("service", "svc1id", "svc1")
    scaled = {**service(), "autoscaling": {"min_count": 1, "max_count": 10, "cpu_target": 60.0}}
    api.on("PUT", "/service/svc1id/autoscaling", (200, scaled))
    api.on("DELETE", "/service/svc1id/autoscaling", (200, {**service(), "autoscaling": None}))
    result = l0(
        "service",
        "autoscaling",
        "set",
        "--min",
        "1",
        "--max",
        "10",
        "--cpu",
        "60",
        "--scale-in-cooldown",
        "300",
        "svc1",
    )  # noqa: E501
    assert result.exit_code == 0, result.output
    body = api.body("PUT", "/service/svc1id/autoscaling")
    assert (body["min_count"], body["max_count"], body["cpu_target"], body["scale_in_cooldown"]) == (1, 10, 60.0, 300)
    assert result.stdout.splitlines()[0].endswith("AUTOSCALING") and result.stdout.splitlines()[1].endswith("1-10")
    assert "at least one target" in l0("service", "autoscaling", "set", "--min", "1", "--max", "2", "svc1").stderr
    assert (
        "--min must be" in l0("service", "autoscaling", "set", "--min", "3", "--max", "2", "--cpu", "5", "svc1").stderr
    )
    assert l0("service", "autoscaling", "clear", "svc1").exit_code == 0
    assert len(api.sent("PUT", "/service/svc1id/autoscaling")) == 1


# --- settings, profiles, help, completion ----------------------------------------------------------------------------


def test_profiles_from_config_toml(api: FakeAPI, l0, tmp_path):
    (tmp_path / ".config" / "layer0").mkdir(parents=True)
    (tmp_path / ".config" / "layer0" / "config.toml").write_text(
        '[prod]\nendpoint = "https://prod.example/api/"\ntoken = "cHJvZA=="\nskip_version_verify = true\n'
        '[default]\nendpoint = "https://default.example/"\n'
    )
    api.on("GET", "/api/job", (200, []))
    api.on("GET", "/job", (200, []))
    assert l0("--profile", "prod", "job", "list").exit_code == 0
    request = api.requests[-1]
    assert (request.url.host, request.url.path, request.headers["Authorization"]) == (
        "prod.example",
        "/api/job",
        "Basic cHJvZA==",
    )  # noqa: E501
    l0("job", "list")  # LAYER0_API_ENDPOINT is set: it wins over [default]
    assert api.requests[-1].url.host == "l0.test"
    l0("job", "list", env={"LAYER0_API_ENDPOINT": ""})
    assert api.requests[-1].url.host == "default.example"
    missing = l0("--profile", "nope", "job", "list")
    assert missing.exit_code == 1 and "Profile 'nope' not found" in missing.stderr


def test_help_and_version(l0):
    group = l0("environment")
    assert group.exit_code == 0 and "setmincount" in group.stdout and group.stderr == ""
    assert "Usage: l0 service scale [OPTIONS] NAME COUNT" in l0("help", "service", "scale").stdout
    assert l0("--version").stdout.startswith("l0 version v0.10.9-serverless")
    assert "No help topic for 'nope'" in l0("help", "nope").stderr


def test_shell_completion_of_names_from_the_api(api: FakeAPI, l0):
    api.entity("environment", "test1abc", "test1")
    api.entity("environment", "test2abc", "test2")
    api.entity("environment", "prod1abc", "prod")
    result = l0(env={"_L0_COMPLETE": "bash_complete", "COMP_WORDS": "l0 environment get te", "COMP_CWORD": "3"})
    assert result.stdout.split() == ["plain,test1", "plain,test2"]
    for shell, marker in (("bash", "complete -o nosort -F"), ("zsh", "compdef"), ("fish", "complete --no-files")):
        assert marker in l0(env={"_L0_COMPLETE": f"{shell}_source"}).stdout, shell
