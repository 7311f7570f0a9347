"""Fargate environments end to end in local mode (docs/compatibility.md#fargate-environments): `python -m local` in a
subprocess, whose ECS simulation runs Fargate tasks without instances (local/ecs/fargate.py).

A service behind an application load balancer reaches its count, with its tasks' IPs registered in the `ip` target
group; a task runs `sleep`, logs and stops; deleting the environment leaves no cluster, security group, network
interface, load balancer or target group. What a user would check with the aws CLI against the embedded AWS is
checked with boto3 on the endpoint local mode prints.
"""

from __future__ import annotations

import base64
import json

import pytest

from tests.e2e import scenario
from tests.e2e.scenario import call, embedded_aws, session, wait_for_job
from tests.e2e.test_workload_scenarios import wait_for_deployment

PREFIX = "l0-l0-"
DEADLINE_SECONDS = 120
WEB = {"name": "web", "image": "nginx:latest", "essential": True, "memory": 256,
       "portMappings": [{"hostPort": 80, "containerPort": 80}]}  # fmt: skip
SLEEPER = {"name": "sleeper", "image": "alpine", "essential": True, "memory": 64,
           "entryPoint": ["/bin/sh", "-c"], "command": ["sleep 1"]}  # fmt: skip


@pytest.fixture(scope="module")
def l0():
    yield from session()


@pytest.fixture(scope="module")
def aws(l0):
    return embedded_aws(l0)


def deploy(l0, name: str, container: dict) -> str:
    document = base64.b64encode(json.dumps({"containerDefinitions": [container]}).encode()).decode()
    return call(l0, "POST", "deploy/", json={"deploy_name": name, "dockerrun": document}).json()["deploy_id"]


def eventually(check, what: str):
    """Poll `check()` until it is truthy (the agent simulation works in passes, about one a second)."""
    return scenario.eventually(check, what, seconds=DEADLINE_SECONDS, interval=0.5)


def task_interfaces(aws, group_id: str) -> list[dict]:
    return aws("ec2").describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [group_id]}])[
        "NetworkInterfaces"
    ]


def test_fargate_scenario(l0, aws):
    # environment create --type fargate fg
    environment = call(
        l0, "POST", "environment/", json={"environment_name": "fg", "environment_type": "fargate"}
    ).json()
    environment_id, group_id = environment["environment_id"], environment["security_group_id"]
    assert environment["environment_type"] == "fargate"
    web, sleeper = deploy(l0, "web", WEB), deploy(l0, "sleeper", SLEEPER)
    # loadbalancer create --type application fg weblb (a Fargate environment has ip target groups)
    created = call(
        l0,
        "POST",
        "loadbalancer/",
        json={"load_balancer_name": "weblb", "environment_id": environment_id, "load_balancer_type": "application",
              "ports": [{"host_port": 80, "container_port": 80, "protocol": "http"}]},
    ).json()  # fmt: skip
    [target_group] = aws("elbv2").describe_target_groups()["TargetGroups"]
    assert target_group["TargetType"] == "ip"

    # service create --wait --loadbalancer weblb fg web web:latest; service scale --wait web 2
    service = call(
        l0,
        "POST",
        "service/",
        json={"environment_id": environment_id, "service_name": "web", "deploy_id": web,
              "load_balancer_id": created["load_balancer_id"]},
    ).json()  # fmt: skip
    wait_for_deployment(l0, service["service_id"])
    call(l0, "PUT", f"service/{service['service_id']}/scale", json={"desired_count": 2})
    steady = wait_for_deployment(l0, service["service_id"])
    assert (steady["running_count"], steady["desired_count"]) == (2, 2)
    # Each running task has an interface in a private subnet with the environment's group, and its IP is a target.
    interfaces = eventually(lambda: len(found := task_interfaces(aws, group_id)) == 2 and found, "two interfaces")
    config = call(l0, "GET", "admin/config").json()
    assert {i["SubnetId"] for i in interfaces} <= set(config["private_subnets"])
    targets = eventually(
        lambda: (
            len(
                found := aws("elbv2").describe_target_health(TargetGroupArn=target_group["TargetGroupArn"])[
                    "TargetHealthDescriptions"
                ]
            )
            == 2
            and found
        ),
        "two targets",
    )
    assert {t["Target"]["Id"] for t in targets} == {i["PrivateIpAddress"] for i in interfaces}
    assert {t["Target"]["Port"] for t in targets} == {80}

    # task create --wait fg nap sleeper:latest: it runs `sleep 1`, logs, and stops
    job = wait_for_job(
        l0,
        call(
            l0, "POST", "task/", json={"environment_id": environment_id, "task_name": "nap", "deploy_id": sleeper},
            expected=202,
        ).headers["X-JobID"],
    )  # fmt: skip
    assert (job["job_status"], job["job_type"]) == (3, 5), job
    task_id = job["meta"]["task_id"]
    stopped = eventually(
        lambda: (
            (t := call(l0, "GET", f"task/{task_id}").json())["copies"][0]["details"][0]["last_status"] == "STOPPED"
            and t
        ),
        "the task stopped",
    )
    assert stopped["copies"][0]["details"][0]["exit_code"] == 0
    [log] = call(l0, "GET", f"task/{task_id}/logs").json()
    assert log["name"] == "sleeper" and any("Slept 1 s" in line for line in log["lines"]), log

    # environment delete --wait fg: nothing is left
    job = wait_for_job(l0, call(l0, "DELETE", f"environment/{environment_id}", expected=202).headers["X-JobID"])
    assert (job["job_status"], job["job_type"]) == (3, 1), job
    assert call(l0, "GET", f"environment/{environment_id}", expected=404).json()["error_code"] == 24
    [cluster] = aws("ecs").describe_clusters(clusters=[PREFIX + environment_id])["clusters"] or [{"status": "gone"}]
    assert cluster["status"] != "ACTIVE"
    groups = aws("ec2").describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [f"{PREFIX}{environment_id}-env"]}]
    )
    assert groups["SecurityGroups"] == []
    assert task_interfaces(aws, group_id) == []
    assert aws("elbv2").describe_load_balancers()["LoadBalancers"] == []
    assert aws("elbv2").describe_target_groups()["TargetGroups"] == []
