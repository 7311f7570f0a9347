"""docs/compatibility.md#smoke-scenarios's scenarios at 20% AWS faults (issue 6), half of them after AWS did the work
(issue 12): `python -m local --fault-rate 0.2 --fault-after 0.5`, where Layer0's client layer fails a fifth of its
AWS calls (every service, DynamoDB included): half with a throttling error or an HTTP 500 instead of sending them,
half by sending them and losing the answer (an HTTP 500, a closed connection or a read timeout), so that
botocore's standard retries resend calls that already took effect, as on AWS.

What is checked, as a user would see it:
- every answer is a success or a clear Layer0 error. Allowed failures are what docs/compatibility.md#errors makes of an
  AWS fault that outlived every retry: 503 code 20 (throttling), 500 code 21 `AWS Error: ... (code 'InternalFailure'
  or 'InternalError')` naming the injected fault, or 503 code 21 `AWS Error: ...` naming the lost connection. Any
  other 5xx, any 500 code 21 with another message, and anything that is not JSON `{error_code, message}` is a bug
  of ours. A user retries an allowed failure; so does the session;
- a create retried after its answer was lost makes nothing twice: the lists and `GET /tag` hold exactly what the
  scenario made, and AWS holds no second copy of anything;
- every job ends (status 3 or 4): a job may fail on a fault that outlived the retries, never hang;
- nothing is lost from the tables: what a scenario created and did not delete is in the GET lists and in `GET /tag`;
- after the clean-up (deletes retried until they succeed) no AWS resource named `l0-<prefix>-` is left but local
  mode's own (instances and job executions included).

The scenarios are sized for the budget (one local mode for the module): the environment scenario; deploy, service
and task in one environment; a classic and an application load balancer, a service behind one, in another.
"""

from __future__ import annotations

import base64
import re
import time
from collections import Counter

import pytest
import requests

from tests.e2e.scenario import FIXTURES, embedded_aws, resolve, resolve_all, resolve_deploy, wait_for_job
from tests.e2e.scenario import call as expect
from tests.e2e.test_load_balancer_scenarios import CLI_HEALTH_CHECK, listeners, port
from tests.e2e.test_local_mode import LocalMode, free_port
from tests.e2e.test_workload_scenarios import dockerrun

FAULT_RATE = 0.2
FAULT_AFTER = 0.5  # the share of the faults that come after AWS did the work
FAULT_SEED = 20
PREFIX = "l0-l0-"  # local mode's default prefix `l0`
USER_RETRIES = 8  # how often the session retries an allowed failure, as a user would
JOB_RETRIES = 4  # how often a failed delete job is started again
INJECTED_FAULT = re.compile(r"^AWS Error: .*injected fault.*\(code '(InternalFailure|InternalError)'\)$", re.I | re.S)
# botocore's ConnectionClosedError and ReadTimeoutError, as errors.py's from_aws words a BotoCoreError.
LOST_CONNECTION = re.compile(r"^AWS Error: (Connection was closed before we received|Read timeout on endpoint URL)")


def verdict(response: requests.Response) -> str:
    """`ok` (any answer below 500), `aws` (an AWS fault that outlived the retries, as docs/compatibility.md#errors
    shapes it) or `bug`."""
    if response.status_code < 500:
        return "ok"
    try:
        body = response.json()
    except ValueError:
        return "bug"
    if not isinstance(body, dict) or set(body) != {"error_code", "message"}:
        return "bug"
    if response.status_code == 503 and body["error_code"] == 20:
        return "aws"
    if response.status_code == 500 and body["error_code"] == 21 and INJECTED_FAULT.match(body["message"]):
        return "aws"
    if response.status_code == 503 and body["error_code"] == 21 and LOST_CONNECTION.match(body["message"]):
        return "aws"
    return "bug"


class FaultySession(requests.Session):
    """The l0 CLI's session against a faulty AWS: judges and counts every answer, retries allowed failures.

    `response.retried` says a failure came before the answer: a create that failed after its work was done
    (a fault in its final read) answers a retry with "already exists".
    """

    def __init__(self):
        super().__init__()
        self.verdicts: Counter[str] = Counter()
        self.bugs: list[str] = []
        self.aws_failures: list[str] = []  # the allowed failures seen (then retried)
        self.failed_jobs: list[dict] = []

    def request(self, method, url, *args, **kwargs):
        for attempt in range(USER_RETRIES):
            response = super().request(method, url, *args, **kwargs)
            judged = verdict(response)
            self.verdicts[judged] += 1
            response.retried = attempt > 0
            if judged != "ok":
                (self.bugs if judged == "bug" else self.aws_failures).append(
                    f"{method} {url}: {response.status_code} {response.text}"
                )
            if judged != "aws":
                return response
            time.sleep(0.5)
        return response


@pytest.fixture(scope="module")
def l0():
    local = LocalMode(
        free_port(), "--fault-rate", str(FAULT_RATE), "--fault-after", str(FAULT_AFTER), "--fault-seed", str(FAULT_SEED)
    )
    session = FaultySession()
    session.headers["Authorization"] = f"Basic {local.token}"
    session.base = local.endpoint
    session.local = local
    try:
        yield session
    finally:
        local.stop()
    # The faults were injected (the setting reached the client layer), of both kinds. And the figures for the
    # issue's report: what local mode injected, what the session saw.
    injected = re.search(
        r"^Injected faults: (\d+) throttling, (\d+) HTTP 500, in (\d+) AWS calls .*after AWS did the work: (\d+) HTTP "
        r"500, (\d+) dropped connections.*$",
        local.output,
        re.M,
    )
    assert injected, local.output[-2000:]
    print(f"\n{injected.group(0)}")
    print(f"HTTP answers: {dict(session.verdicts)}; allowed failures, retried: {session.aws_failures}")
    print(f"Jobs that failed (and were started again if deletes): {[job['meta'] for job in session.failed_jobs]}")
    assert all(int(injected.group(kind)) > 0 for kind in (1, 2, 4, 5))


@pytest.fixture(scope="module")
def aws(l0):
    return embedded_aws(l0)


@pytest.fixture(scope="module")
def local_resources(aws):
    """What local mode itself made with the prefix (its roles, tables...): not Layer0's to delete."""
    return prefixed_resources(aws)


@pytest.fixture(autouse=True)
def no_bugs(l0):
    """Every test: no answer of ours that is a bug (checked also when the scenario's own asserts passed)."""
    before = len(l0.bugs)
    yield
    assert l0.bugs[before:] == []


# The ids of the environments the scenarios made: their capacity providers are looked up by name (moto's
# DescribeCapacityProviders lists none without names).
ENVIRONMENTS_MADE: set[str] = set()


def prefixed_resources(aws) -> dict[str, set[str]]:
    """Every AWS resource named `l0-l0-...` (or in such a cluster) that is alive."""
    ecs, ec2, autoscaling = aws("ecs"), aws("ec2"), aws("autoscaling")
    providers = sorted(f"{PREFIX}{environment_id}" for environment_id in ENVIRONMENTS_MADE)
    clusters = [c for c in ecs.describe_clusters(clusters=ecs.list_clusters()["clusterArns"])["clusters"]] if ecs.list_clusters()["clusterArns"] else []
    active = [c["clusterName"] for c in clusters if c["status"] == "ACTIVE" and c["clusterName"].startswith(PREFIX)]
    services, tasks = set(), set()
    for cluster in active:
        arns = ecs.list_services(cluster=cluster)["serviceArns"]
        if arns:
            services |= {s["serviceName"] for s in ecs.describe_services(cluster=cluster, services=arns)["services"] if s["status"] == "ACTIVE"}
        tasks |= set(ecs.list_tasks(cluster=cluster, desiredStatus="RUNNING")["taskArns"])
    elbv2 = aws("elbv2")
    return {
        "clusters": set(active),
        "services": services,
        "running_tasks": tasks,
        # From the ACTIVE revisions: moto lists a family as ACTIVE after its last revision is deregistered.
        "task_definition_families": {
            arn.rsplit("/", 1)[1].rsplit(":", 1)[0]
            for arn in ecs.list_task_definitions(familyPrefix=PREFIX, status="ACTIVE")["taskDefinitionArns"]
        },
        # The managed-scaling environments' (docs/architecture.md#capacity-providers).
        "capacity_providers": {
            p["name"]
            for p in (ecs.describe_capacity_providers(capacityProviders=providers)["capacityProviders"] if providers else [])
            if p.get("status", "ACTIVE") == "ACTIVE"
        },
        "auto_scaling_groups": {
            g["AutoScalingGroupName"]
            for g in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
            if g["AutoScalingGroupName"].startswith(PREFIX)
        },
        "launch_templates": {
            t["LaunchTemplateName"]
            for t in ec2.describe_launch_templates()["LaunchTemplates"]
            if t["LaunchTemplateName"].startswith(PREFIX)
        },
        "security_groups": {
            g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"] if g["GroupName"].startswith(PREFIX)
        },
        "classic_load_balancers": {
            lb["LoadBalancerName"]
            for lb in aws("elb").describe_load_balancers()["LoadBalancerDescriptions"]
            if lb["LoadBalancerName"].startswith(PREFIX)
        },
        "application_load_balancers": {
            lb["LoadBalancerName"] for lb in elbv2.describe_load_balancers()["LoadBalancers"] if lb["LoadBalancerName"].startswith(PREFIX)
        },
        "target_groups": {g["TargetGroupName"] for g in elbv2.describe_target_groups()["TargetGroups"]},
        "roles": {r["RoleName"] for r in aws("iam").list_roles()["Roles"] if r["RoleName"].startswith(PREFIX)},
        "instances": {
            instance["InstanceId"]
            for reservation in ec2.describe_instances(
                Filters=[
                    {"Name": "tag:Name", "Values": [f"{PREFIX}*"]},
                    {"Name": "instance-state-name", "Values": ["pending", "running"]},
                ]
            )["Reservations"]
            for instance in reservation["Instances"]
        },
        "running_job_executions": {
            execution["executionArn"]
            for machine in aws("stepfunctions").list_state_machines()["stateMachines"]
            if machine["name"].startswith(PREFIX)
            for execution in aws("stepfunctions").list_executions(
                stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING"
            )["executions"]
        },
    }


def left_behind(aws, local_resources) -> dict[str, set[str]]:
    found = prefixed_resources(aws)
    return {kind: names - local_resources[kind] for kind, names in found.items() if names - local_resources[kind]}


def ended(l0, job_id: str) -> dict:
    """The job, once it has ended: 3 (completed) or 4 (error), never still running."""
    job = wait_for_job(l0, job_id)
    if job["job_status"] == 4:
        l0.failed_jobs.append(job)
    assert job["job_status"] in (3, 4), f"job {job_id} never ended: {job}"
    return job


def delete(l0, path: str, missing_code: int, job_type: int | None = None) -> None:
    """`l0 <entity> delete [--wait]`."""
    delete_all(l0, [path], missing_code, job_type)


def delete_all(l0, paths: list[str], missing_code: int, job_type: int | None = None) -> None:
    """`l0 <entity> delete` of each, then waiting for their jobs (they run side by side, as when a user deletes
    several), started again until they succeed: a delete job may fail on a fault that outlived the retries.
    Ends with every entity gone (404 `missing_code`)."""
    pending = list(paths)
    for attempt in range(JOB_RETRIES):
        jobs = {}
        for path in pending:
            response = l0.request("DELETE", l0.base + path, timeout=60)
            if response.status_code == 404 and (response.retried or attempt > 0):
                continue  # an earlier attempt deleted it, then failed on a fault
            assert response.status_code == (200 if job_type is None else 202), f"DELETE {path}: {response.text}"
            if job_type is not None:
                jobs[path] = response.headers["X-JobID"]
        pending = [path for path, job_id in jobs.items() if ended(l0, job_id)["job_status"] != 3]
        if not pending:
            break
    for path in paths:
        assert expect(l0, "GET", path, expected=404).json()["error_code"] == missing_code


def create(l0, path: str, body: dict, entity_type: str, name: str, expected: int = 200, **scope) -> requests.Response:
    """A create; if an earlier attempt made the entity and then failed on a fault, the retry's "already exists"
    is that entity."""
    response = l0.request("POST", l0.base + path, json=body, timeout=60)
    if response.status_code == 400 and response.retried:
        found = resolve(l0, entity_type, name, **scope)
        assert found, response.text
        return response
    assert response.status_code == expected, f"POST {path}: {response.status_code} {response.text}"
    return response


def environment(l0, name: str, **fields) -> str:
    """`l0 environment create`: the new environment's id."""
    body = {"environment_name": name, "instance_size": "m3.medium", "min_cluster_count": 0, "operating_system": "linux"}
    create(l0, "environment/", {**body, **fields}, "environment", name)
    environment_id = resolve(l0, "environment", name)
    ENVIRONMENTS_MADE.add(environment_id)
    return environment_id


def deploy(l0, name: str, fixture: str) -> str:
    """`l0 deploy create`: the new revision's id. (A create retried after a fault in its final read makes one more
    revision: deploys are versioned, never duplicates.)"""
    body = {"deploy_name": name, "dockerrun": dockerrun(fixture)}
    return create(l0, "deploy/", body, "deploy", name).json()["deploy_id"]


def delete_deploys(l0, name: str) -> None:
    """`l0 deploy delete` of every revision of `name`."""
    delete_all(l0, [f"deploy/{deploy_id}" for deploy_id in resolve_all(l0, "deploy", name)], 23)


def tagged(l0, entity_type: str) -> dict[str, str]:
    """entity id -> name, from `GET /tag?type=...`."""
    return {
        e["entity_id"]: next((t["value"] for t in e["tags"] if t["key"] == "name"), "")
        for e in expect(l0, "GET", f"tag/?type={entity_type}").json()
    }


def test_environments_at_20_percent_faults(l0, aws, local_resources):
    # environment create test1; create --user-data test2; create --min-count 2 test3; create --os windows test4
    template = base64.b64encode((FIXTURES / "user_data.tmpl").read_bytes()).decode()
    ids = {
        "test1": environment(l0, "test1", scaling="managed"),
        "test2": environment(l0, "test2", user_data_template=template, scaling="layer0"),
        "test3": environment(l0, "test3", min_cluster_count=2),
        "test4": environment(l0, "test4", operating_system="windows"),
    }
    # list; get; tags: nothing lost
    assert sorted(e["environment_name"] for e in expect(l0, "GET", "environment/").json()) == sorted(ids)
    assert tagged(l0, "environment") == {environment_id: name for name, environment_id in ids.items()}
    assert expect(l0, "GET", f"environment/{ids['test4']}").json()["operating_system"] == "windows"
    # managed scaling (the default) and the Layer0 scaler side by side; each capacity provider made once
    scalings = {name: expect(l0, "GET", f"environment/{ids[name]}").json()["scaling"] for name in ids}
    assert scalings == {"test1": "managed", "test2": "layer0", "test3": "managed", "test4": "managed"}
    assert len(prefixed_resources(aws)["capacity_providers"] - local_resources["capacity_providers"]) == 3
    # link test3 test4; unlink; setmincount test3 0, then 3
    test3, test4 = ids["test3"], ids["test4"]
    expect(l0, "POST", f"environment/{test3}/link", json={"environment_id": test4})
    assert expect(l0, "GET", f"environment/{test4}").json()["links"] == [test3]
    expect(l0, "DELETE", f"environment/{test3}/link/{test4}")
    assert expect(l0, "GET", f"environment/{test3}").json()["links"] == []
    expect(l0, "PUT", f"environment/{test3}", json={"min_cluster_count": 0})
    expect(l0, "PUT", f"environment/{test3}", json={"min_cluster_count": 3})
    assert expect(l0, "GET", f"environment/{test3}").json()["cluster_count"] == 3
    # a duplicate name is still a clear 400 code 6
    duplicate = {"environment_name": "test1", "instance_size": "m3.medium", "min_cluster_count": 0, "operating_system": "linux"}
    assert expect(l0, "POST", "environment/", expected=400, json=duplicate).json()["error_code"] == 6
    # environment delete test1..test4
    delete_all(l0, [f"environment/{environment_id}" for environment_id in ids.values()], 24, job_type=1)
    assert expect(l0, "GET", "environment/").json() == []
    assert tagged(l0, "environment") == {}
    assert left_behind(aws, local_resources) == {}


def test_deploy_service_and_task_at_20_percent_faults(l0, aws, local_resources):
    """The deploy, service and task scenarios in one environment, their jobs running side by side."""
    # environment create test; deploy create guestbook (twice); deploy create alpine
    # A managed-scaling environment with 0 instances: ECS (the simulation) grows it for the services and the task.
    test = environment(l0, "workload", scaling="managed")
    assert expect(l0, "GET", f"environment/{test}").json()["scaling"] == "managed"
    first = deploy(l0, "guestbook", "Service.Dockerrun.aws.json")
    latest = deploy(l0, "guestbook", "Service.Dockerrun.aws.json")
    assert resolve_deploy(l0, "guestbook:latest") == latest != first
    alpine = deploy(l0, "alpine", "Task.Dockerrun.aws.json")
    # service create test service1 guestbook:<first>; service create test service2 guestbook:latest
    jobs = []
    for name, deploy_id in (("service1", first), ("service2", latest)):
        body = {"environment_id": test, "service_name": name, "deploy_id": deploy_id}
        jobs.append(create(l0, "service/", body, "service", name, environment_id=test).headers.get("X-JobID"))
    services = {name: resolve(l0, "service", name, environment_id=test) for name in ("service1", "service2")}
    # service scale service1 2; service update service2 guestbook:<first>
    scaled = expect(l0, "PUT", f"service/{services['service1']}/scale", json={"desired_count": 2})
    assert scaled.json()["desired_count"] == 2
    updated = expect(l0, "PUT", f"service/{services['service2']}/deploy", json={"deploy_id": first})
    # task create test task1 alpine
    body = {"environment_id": test, "deploy_id": alpine, "container_overrides": [], "task_name": "task1"}
    task_job = create(l0, "task/", body, "task", "task1", expected=202).headers["X-JobID"]
    # every job ends
    for job_id in filter(None, jobs + [scaled.headers["X-JobID"]]):
        ended(l0, job_id)
    if ended(l0, updated.headers["X-JobID"])["job_status"] == 3:
        deployments = expect(l0, "GET", f"service/{services['service2']}").json()["deployments"]
        assert first in [d["deploy_id"] for d in deployments]
    task = ended(l0, task_job)
    # nothing lost: services, deploys and the task in their lists and tags
    listed = {s["service_id"]: s["service_name"] for s in expect(l0, "GET", "service/").json()}
    assert listed == {service_id: name for name, service_id in services.items()}
    assert tagged(l0, "service") == listed
    assert {first, latest, alpine} <= {d["deploy_id"] for d in expect(l0, "GET", "deploy/").json()}
    assert {first, latest, alpine} <= set(tagged(l0, "deploy"))
    tasks = {t["task_id"] for t in expect(l0, "GET", "task/").json()}
    if task["job_status"] == 3:
        assert task["meta"]["task_id"] in tasks and task["meta"]["task_id"] in tagged(l0, "task")
    for task_id in tasks:
        assert expect(l0, "GET", f"task/{task_id}").json()["task_name"] == "task1"
    # task delete; service delete --wait service2; deploy delete (every revision); environment delete --wait test
    delete_all(l0, [f"task/{task_id}" for task_id in tasks], 29)
    delete(l0, f"service/{services['service2']}", 28, job_type=2)
    delete_deploys(l0, "guestbook")
    delete_deploys(l0, "alpine")
    delete(l0, f"environment/{test}", 24, job_type=1)
    assert expect(l0, "GET", "service/").json() == [] and expect(l0, "GET", "task/").json() == []
    assert tagged(l0, "service") == {} and tagged(l0, "deploy") == {} and tagged(l0, "task") == {}
    assert left_behind(aws, local_resources) == {}


def test_load_balancers_at_20_percent_faults(l0, aws, local_resources):
    """The load_balancer scenario, a classic ELB and an ALB side by side, a service behind the ALB."""
    test = environment(l0, "balanced")
    http = port(80, 80, "http")
    load_balancers = {}
    for name, kind in (("loadbalancer1", None), ("loadbalancer2", "application")):
        # loadbalancer create test NAME; addport 8000:8000/http; healthcheck --set-interval 45
        body = {
            "load_balancer_name": name, "environment_id": test, "is_public": True, "ports": [http],
            "health_check": dict(CLI_HEALTH_CHECK), "idle_timeout": 60, "cross_zone": True,
        }  # fmt: skip
        if kind:
            body["load_balancer_type"] = kind
        create(l0, "loadbalancer/", body, "load_balancer", name, environment_id=test)
        lb = load_balancers[name] = resolve(l0, "load_balancer", name, environment_id=test)
        ports = [http, port(8000, 8000, "http")]
        assert sorted(p["host_port"] for p in expect(l0, "PUT", f"loadbalancer/{lb}/ports", json={"ports": ports}).json()["ports"]) == [80, 8000]
        assert listeners(aws, kind, lb) == [(80, "HTTP", 80), (8000, "HTTP", 8000)]
        check = {**CLI_HEALTH_CHECK, "interval": 45}
        changed = expect(l0, "PUT", f"loadbalancer/{lb}/healthcheck", json={"health_check": check}).json()
        assert changed["health_check"] == check
    # deploy create guestbook; service create --loadbalancer loadbalancer2 test service1 guestbook:latest
    guestbook = deploy(l0, "lbguestbook", "Service.Dockerrun.aws.json")
    body = {
        "environment_id": test, "service_name": "service1", "deploy_id": guestbook,
        "load_balancer_id": load_balancers["loadbalancer2"],
    }  # fmt: skip
    create(l0, "service/", body, "service", "service1", environment_id=test)
    service1 = resolve(l0, "service", "service1", environment_id=test)
    # nothing lost: the load balancers and the service in lists and tags
    got = expect(l0, "GET", f"loadbalancer/{load_balancers['loadbalancer2']}").json()
    assert (got["service_id"], got["load_balancer_type"]) == (service1, "application")
    listed = {s["load_balancer_id"]: s["load_balancer_name"] for s in expect(l0, "GET", "loadbalancer/").json()}
    assert listed == tagged(l0, "load_balancer") == {lb: name for name, lb in load_balancers.items()}
    assert tagged(l0, "service") == {service1: "service1"}
    # deploy delete; environment delete --wait test (its load balancers and service go with it)
    delete_deploys(l0, "lbguestbook")
    delete(l0, f"environment/{test}", 24, job_type=1)
    assert expect(l0, "GET", "loadbalancer/").json() == []
    assert tagged(l0, "load_balancer") == {} and tagged(l0, "service") == {}
    assert left_behind(aws, local_resources) == {}
