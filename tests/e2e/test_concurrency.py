"""Concurrency (issue 6), with real parallelism: on AWS each concurrent request runs in a Lambda container of its
own, so here an embedded Layer0 (moto, the job machines, the ECS simulation: local/embedded.py) is served by
CONTAINERS processes, each the API function behind a local gateway, and requests are spread over them. (One local
gateway runs one request at a time, like one warm container: parallel requests to a single one never race.)

- 20 parallel creates of one environment name: one 200, nineteen 400 code 6, one environment in AWS and in tags;
- 50 parallel mixed requests (creates, gets, lists, updates, deletes across environments, deploys, load balancers,
  services and tasks): no 5xx, each answer the one its request calls for, and once every job has ended the state is
  what the requests add up to, in the lists, in `GET /tag` and in AWS.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable

import boto3
import pytest
import requests

from tests.e2e.scenario import call, create_environment, resolve, wait_for_job
from tests.e2e.test_load_balancer_scenarios import CLI_HEALTH_CHECK, port
from tests.e2e.test_local_mode import ROOT, free_port
from tests.e2e.test_workload_scenarios import create_deploy, dockerrun

PREFIX = "l0-l0-"
CONTAINERS = 5

# One API container: the handlers imported once, behind a local gateway on a free port (printed), as on AWS.
CONTAINER = f"""
import sys
sys.path[:0] = [{str(ROOT / "functions")!r}, {str(ROOT)!r}]
from handlers import api, authorizer
from layer0 import settings
from local.gateway import Gateway, http_server
server = http_server(Gateway(api.handler, authorizer.handler, settings.get().api_version), "127.0.0.1", 0)
server.RequestHandlerClass.log_message = lambda *args: None
print(server.server_address[1], flush=True)
server.serve_forever()
"""


class Layer0Cluster:
    """The embedded Layer0's AWS behind several API containers. `request` goes to the first (set-up and checks);
    `container(i)` is the base URL of the i-th, modulo their number."""

    def __init__(self, token: str, bases: list[str], aws: Callable[[str], object]):
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Basic {token}"
        self.token, self.bases, self.base, self.aws = token, bases, bases[0], aws

    def request(self, method: str, url: str, **kwargs) -> requests.Response:
        return self.session.request(method, url, **kwargs)

    def container(self, index: int) -> str:
        return self.bases[index % len(self.bases)]


@pytest.fixture(scope="module")
def l0():
    from layer0 import auth, aws, settings
    from local.embedded import Layer0

    auth.forget()  # like a cold start: no auth secret an earlier test left cached
    containers: list[subprocess.Popen] = []
    try:
        with Layer0(port=free_port()) as layer0:
            for _ in range(CONTAINERS):  # the environment carries every setting Layer0 gave its functions
                containers.append(
                    subprocess.Popen([sys.executable, "-c", CONTAINER], env=dict(os.environ), stdout=subprocess.PIPE, text=True)
                )
            bases = [f"http://127.0.0.1:{int(container.stdout.readline())}/" for container in containers]
            endpoint, region = os.environ["AWS_ENDPOINT_URL"], os.environ["AWS_REGION"]
            settings_of_layer0.update(
                {name: value for name, value in os.environ.items() if name.startswith(("AWS_", "LAYER0_"))}
            )
            yield Layer0Cluster(
                layer0.token,
                bases,
                lambda service: boto3.client(
                    service, endpoint_url=endpoint, region_name=region, aws_access_key_id="l", aws_secret_access_key="l"
                ),
            )
    finally:
        for container in containers:
            container.terminate()
            container.wait(timeout=20)
        # The client layer's clients point at the stopped server: later tests need fresh ones.
        aws.reset()
        settings.get.cache_clear()
        auth.forget()


settings_of_layer0: dict[str, str] = {}


@pytest.fixture(autouse=True)
def layer0_settings(l0, aws_environment, monkeypatch):
    """The job steps run in this process (local/lambda_runtime.py): give them back the settings the embedded Layer0
    set, which tests/conftest.py's per-test fixture clears."""
    from layer0 import aws, settings

    for name, value in settings_of_layer0.items():
        monkeypatch.setenv(name, value)
    settings.get.cache_clear()
    aws.reset()
    yield
    aws.reset()


def in_parallel(l0, requests_: list[tuple[str, str, dict | None]]) -> list[requests.Response]:
    """Send every request at once, the i-th to the i-th container; the answers in order."""
    answers: list = [None] * len(requests_)
    barrier = threading.Barrier(len(requests_))
    headers = {"Authorization": f"Basic {l0.token}"}

    def send(index: int) -> None:
        method, path, body = requests_[index]
        barrier.wait()
        try:
            answers[index] = requests.request(method, l0.container(index) + path, json=body, headers=headers, timeout=120)
        except requests.RequestException as error:
            answers[index] = error

    threads = [threading.Thread(target=send, args=(index,)) for index in range(len(requests_))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = [f"{requests_[i][0]} {requests_[i][1]}: {a!r}" for i, a in enumerate(answers) if isinstance(a, Exception)]
    assert failed == []
    return answers


def environment_body(name: str) -> dict:
    return {"environment_name": name, "instance_size": "m3.medium", "min_cluster_count": 0, "operating_system": "linux"}


def load_balancer_body(environment_id: str, name: str) -> dict:
    return {
        "load_balancer_name": name, "environment_id": environment_id, "is_public": True, "ports": [port(80, 80, "http")],
        "health_check": dict(CLI_HEALTH_CHECK), "idle_timeout": 60, "cross_zone": True,
    }  # fmt: skip


def service_body(environment_id: str, name: str, deploy_id: str) -> dict:
    return {"environment_id": environment_id, "service_name": name, "deploy_id": deploy_id}


def names(l0, path: str, field: str) -> list[str]:
    return sorted(entity[field] for entity in call(l0, "GET", path).json())


def tag_names(l0, entity_type: str) -> list[str]:
    return sorted(
        t["value"] for e in call(l0, "GET", f"tag/?type={entity_type}").json() for t in e["tags"] if t["key"] == "name"
    )


def active_clusters(l0) -> list[str]:
    ecs = l0.aws("ecs")
    arns = ecs.list_clusters()["clusterArns"]
    clusters = ecs.describe_clusters(clusters=arns)["clusters"] if arns else []
    return sorted(c["clusterName"] for c in clusters if c["status"] == "ACTIVE" and c["clusterName"].startswith(PREFIX))


def test_twenty_parallel_creates_of_one_environment_name(l0):
    answers = in_parallel(l0, [("POST", "environment/", environment_body("race"))] * 20)
    assert sorted(a.status_code for a in answers) == [200] + [400] * 19, [a.text for a in answers]
    [winner] = [a.json() for a in answers if a.status_code == 200]
    assert {(a.json()["error_code"], a.json()["message"]) for a in answers if a.status_code == 400} == {
        (6, "Environment with name 'race' already exists")
    }
    race = winner["environment_id"]
    assert active_clusters(l0) == [PREFIX + race]
    groups = l0.aws("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    assert [g["AutoScalingGroupName"] for g in groups if g["AutoScalingGroupName"].startswith(PREFIX)] == [PREFIX + race]
    templates = l0.aws("ec2").describe_launch_templates()["LaunchTemplates"]
    assert [t["LaunchTemplateName"] for t in templates if t["LaunchTemplateName"].startswith(PREFIX)] == [PREFIX + race]
    assert [e["environment_id"] for e in call(l0, "GET", "environment/").json()] == [race]
    assert tag_names(l0, "environment") == ["race"]
    assert [claim["entity_id"] for claim in call(l0, "GET", "tag/?type=environment_name").json()] == ["race"]


def test_fifty_parallel_mixed_requests(l0):
    # Before: environments alpha (kept) and beta (deleted in the burst), deploys, a load balancer and services.
    alpha = create_environment(l0, "alpha", min_cluster_count=1)["environment_id"]  # room for the tasks at once
    beta = create_environment(l0, "beta")["environment_id"]
    guestbook = create_deploy(l0, "guestbook", "Service.Dockerrun.aws.json")["deploy_id"]
    alpine = create_deploy(l0, "alpine", "Task.Dockerrun.aws.json")["deploy_id"]
    retired = create_deploy(l0, "retired", "Task.Dockerrun.aws.json")["deploy_id"]
    lb1 = call(l0, "POST", "loadbalancer/", json=load_balancer_body(alpha, "lb1")).json()["load_balancer_id"]
    doomed_lb = call(l0, "POST", "loadbalancer/", json=load_balancer_body(alpha, "doomed")).json()["load_balancer_id"]
    web = call(l0, "POST", "service/", json=service_body(alpha, "web", guestbook)).json()["service_id"]
    doomed_service = call(l0, "POST", "service/", json=service_body(alpha, "old", guestbook)).json()["service_id"]
    task = {"environment_id": alpha, "deploy_id": alpine, "container_overrides": []}
    guestbook_document = {"deploy_name": "guestbook", "dockerrun": dockerrun("Service.Dockerrun.aws.json")}

    # (method, path, body, the statuses it may answer with): 50 requests.
    requests_ = [
        *[("POST", "environment/", environment_body(f"c{n}"), {200}) for n in range(5)],
        *[("POST", "environment/", environment_body("alpha"), {400})] * 2,
        *[("GET", f"environment/{alpha}", None, {200})] * 4,
        *[("GET", "environment/", None, {200})] * 2,
        *[("PUT", f"environment/{alpha}", {"min_cluster_count": 1}, {200})] * 2,
        ("DELETE", f"environment/{beta}", None, {202}),
        ("GET", f"environment/{beta}", None, {200, 404}),
        *[("POST", "deploy/", guestbook_document, {200})] * 4,
        ("GET", "deploy/", None, {200}),
        ("GET", f"deploy/{guestbook}", None, {200}),
        ("DELETE", f"deploy/{retired}", None, {200}),
        *[("POST", "loadbalancer/", load_balancer_body(alpha, f"lb{n}"), {200}) for n in (2, 3, 4)],
        ("POST", "loadbalancer/", load_balancer_body(alpha, "lb1"), {400}),
        ("GET", "loadbalancer/", None, {200}),
        ("GET", f"loadbalancer/{lb1}", None, {200}),
        ("PUT", f"loadbalancer/{lb1}/healthcheck", {"health_check": {**CLI_HEALTH_CHECK, "interval": 45}}, {200}),
        ("PUT", f"loadbalancer/{lb1}/crosszone", {"cross_zone": False}, {200}),
        ("DELETE", f"loadbalancer/{doomed_lb}", None, {202}),
        *[("POST", "service/", service_body(alpha, f"s{n}", guestbook), {200}) for n in (1, 2, 3)],
        ("POST", "service/", service_body(alpha, "web", guestbook), {400}),
        ("GET", "service/", None, {200}),
        ("GET", f"service/{web}", None, {200}),
        ("PUT", f"service/{web}/scale", {"desired_count": 2}, {200}),
        ("DELETE", f"service/{doomed_service}", None, {202}),
        *[("POST", "task/", {**task, "task_name": f"t{n}"}, {202}) for n in (1, 2, 3)],
        ("GET", "task/", None, {200}),
        ("GET", "job/", None, {200}),
        *[("GET", f"tag/?type={kind}", None, {200}) for kind in ("environment", "service", "deploy", "load_balancer")],
    ]
    assert len(requests_) == 50
    answers = in_parallel(l0, [(method, path, body) for method, path, body, _ in requests_])

    unexpected = [
        f"{method} {path}: {answer.status_code} {answer.text}"
        for (method, path, _, allowed), answer in zip(requests_, answers)
        if answer.status_code not in allowed
    ]
    assert unexpected == []
    assert [answer.status_code for answer in answers if answer.status_code >= 500] == []
    duplicates = [answer.json()["error_code"] for (_, _, _, allowed), answer in zip(requests_, answers) if allowed == {400}]
    assert sorted(duplicates) == [6, 6, 11, 13]  # the environment, load balancer and service names taken

    # Every job the burst started ends, and succeeds.
    job_ids = [answer.headers["X-JobID"] for answer in answers if "X-JobID" in answer.headers]
    assert len(job_ids) >= 9  # 3 deletes, 3 tasks, 3 service rollouts (+ the scale's)
    for job_id in job_ids:
        job = wait_for_job(l0, job_id)
        assert job["job_status"] == 3, job

    # The final state is the sum of the requests.
    environments = ["alpha", "c0", "c1", "c2", "c3", "c4", "race"]  # race: the test before
    assert names(l0, "environment/", "environment_name") == environments == tag_names(l0, "environment")
    assert call(l0, "GET", f"environment/{alpha}").json()["cluster_count"] >= 1
    versions = sorted(int(d["version"]) for d in call(l0, "GET", "deploy/").json() if d["deploy_name"] == "guestbook")
    assert versions == [1, 2, 3, 4, 5]  # four parallel creates, four distinct revisions
    assert sorted(d["deploy_name"] for d in call(l0, "GET", "deploy/").json() if d["deploy_name"] != "guestbook") == [
        "alpine"
    ]
    assert names(l0, "loadbalancer/", "load_balancer_name") == ["lb1", "lb2", "lb3", "lb4"]
    assert tag_names(l0, "load_balancer") == ["lb1", "lb2", "lb3", "lb4"]
    got = call(l0, "GET", f"loadbalancer/{lb1}").json()
    assert (got["health_check"]["interval"], got["cross_zone"]) == (45, False)
    assert names(l0, "service/", "service_name") == ["s1", "s2", "s3", "web"] == tag_names(l0, "service")
    assert call(l0, "GET", f"service/{web}").json()["desired_count"] == 2
    assert names(l0, "task/", "task_name") == ["t1", "t2", "t3"]
    for name in ("t1", "t2", "t3"):
        resolve(l0, "task", name, environment_id=alpha)

    # And in AWS: one cluster per environment, one ELB per load balancer, one ECS service per service.
    aws = l0.aws
    listed = sorted(PREFIX + e["environment_id"] for e in call(l0, "GET", "environment/").json())
    assert active_clusters(l0) == listed
    elbs = aws("elb").describe_load_balancers()["LoadBalancerDescriptions"]
    assert sorted(lb["LoadBalancerName"] for lb in elbs) == sorted(
        PREFIX + lb["load_balancer_id"] for lb in call(l0, "GET", "loadbalancer/").json()
    )
    ecs_services = aws("ecs").describe_services(
        cluster=PREFIX + alpha, services=aws("ecs").list_services(cluster=PREFIX + alpha)["serviceArns"]
    )["services"]
    assert sorted(s["serviceName"] for s in ecs_services if s["status"] == "ACTIVE") == sorted(
        PREFIX + s["service_id"] for s in call(l0, "GET", "service/").json()
    )
