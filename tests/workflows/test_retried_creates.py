"""A create whose answer AWS lost, after doing the work, is retried by botocore and makes nothing twice
(docs/architecture.md#the-client-layer).

Local mode in this process, faults after the work switched on (`LAYER0_FAULT_AFTER`, rate ~0 so that only the
calls a test picks lose their answers), the API over HTTP. Each test loses the first answer of one AWS operation,
sends the request a user sends, and checks that the answer is a success and that AWS has one of each thing.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import pytest
import requests

from layer0 import aws
from local import embedded
from local.resources import REGION
from tests.e2e.test_local_mode import free_port

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PREFIX = "l0-l0-"
JOB_DEADLINE_SECONDS = 60


@pytest.fixture(autouse=True)
def aws_environment():
    """Instead of tests/conftest.py's, which empties the AWS settings for every test: local mode set its own, once
    for the module."""
    yield


@pytest.fixture(scope="module")
def layer0() -> Iterator[embedded.Layer0]:
    saved = {name: os.environ.get(name) for name in ("LAYER0_FAULT_RATE", "LAYER0_FAULT_AFTER", "LAYER0_FAULT_SEED")}
    # A fault injector that is there (the wire loses what a test marks) and, at this rate and seed, injects nothing.
    os.environ.update(LAYER0_FAULT_RATE="1e-12", LAYER0_FAULT_AFTER="1", LAYER0_FAULT_SEED="1")
    try:
        with embedded.Layer0(port=free_port(), agent_interval=0.2) as running:
            yield running
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        aws.reset()


@pytest.fixture(scope="module")
def api(layer0) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Basic {layer0.token}"
    session.base = layer0.endpoint  # type: ignore[attr-defined]
    return session


@pytest.fixture(scope="module")
def plain(layer0):
    """Fault-free clients on the embedded AWS, to count what it holds."""
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    return lambda service: boto3.client(service, endpoint_url=endpoint, region_name=REGION)


@contextmanager
def answers_lost(
    service: str, *operations: str, kind: str = aws.CONNECTION_CLOSED, times: int = 1
) -> Iterator[list[str]]:
    """The first `times` calls of each operation reach AWS and their answers are lost (botocore retries each, up to
    its 5 attempts). Yields the operations whose answer was lost, once per answer, to check the test did what it
    says."""
    client = aws.client(service)
    service_id = client.meta.service_model.service_id.hyphenize()
    lost: list[str] = []

    def lose_first(request, event_name: str, **_kwargs) -> None:
        operation = event_name.rsplit(".", 1)[1]
        if lost.count(operation) < times:
            lost.append(operation)
            setattr(request, aws.LOSE_ANSWER, kind)

    events = [f"before-send.{service_id}.{operation}" for operation in operations]
    for event in events:
        client.meta.events.register_last(event, lose_first)
    try:
        yield lost
    finally:
        for event in events:
            client.meta.events.unregister(event, lose_first)


def post(api, path: str, body: dict, expected: tuple[int, ...] = (200, 202)) -> requests.Response:
    response = api.post(api.base + path, json=body, timeout=60)
    assert response.status_code in expected, response.text
    return response


def job_ends(api, job_id: str) -> dict:
    deadline = time.monotonic() + JOB_DEADLINE_SECONDS
    while True:
        job = api.get(f"{api.base}job/{job_id}", timeout=30).json()
        if job["job_status"] in (3, 4):
            return job
        assert time.monotonic() < deadline, f"job {job_id} never ended: {job}"
        time.sleep(0.2)


def environment_body(name: str) -> dict:
    return {"environment_name": name, "instance_size": "m3.medium", "min_cluster_count": 1, "operating_system": "linux"}


def dockerrun(fixture: str) -> str:
    return base64.b64encode((FIXTURES / fixture).read_bytes()).decode()


def named(names, ecs_id: str) -> list[str]:
    return [name for name in names if name.startswith(ecs_id)]


ENVIRONMENT_CALLS = [
    ("dynamodb", "PutItem"),  # the name claim, then the tags
    ("ecs", "CreateCluster"),
    ("ec2", "CreateSecurityGroup"),
    ("ec2", "AuthorizeSecurityGroupIngress"),
    ("ec2", "CreateLaunchTemplate"),
    ("autoscaling", "CreateAutoScalingGroup"),
]


@pytest.mark.parametrize("service,operation", ENVIRONMENT_CALLS, ids=[call[1] for call in ENVIRONMENT_CALLS])
def test_an_environment_create_retried_after_the_work_makes_one_of_each(api, plain, service, operation):
    name = f"env{operation.lower()[:10]}"
    with answers_lost(service, operation) as lost:
        environment_id = post(api, "environment/", environment_body(name)).json()["environment_id"]
    assert lost == [operation]
    ecs_id = f"{PREFIX}{environment_id}"
    ec2, autoscaling, ecs = plain("ec2"), plain("autoscaling"), plain("ecs")
    assert named([arn.rsplit("/", 1)[1] for arn in ecs.list_clusters()["clusterArns"]], ecs_id) == [ecs_id]
    groups = [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]]
    assert named(groups, ecs_id) == [f"{ecs_id}-env"]
    templates = [t["LaunchTemplateName"] for t in ec2.describe_launch_templates()["LaunchTemplates"]]
    assert named(templates, ecs_id) == [ecs_id]
    asgs = autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
    assert named([g["AutoScalingGroupName"] for g in asgs], ecs_id) == [ecs_id]
    instances = [i for g in asgs if g["AutoScalingGroupName"] == ecs_id for i in g["Instances"]]
    running = ec2.describe_instances(
        Filters=[{"Name": "tag:Name", "Values": [ecs_id]}, {"Name": "instance-state-name", "Values": ["running"]}]
    )["Reservations"]
    assert len(instances) == sum(len(r["Instances"]) for r in running) == 1
    listed = [e for e in api.get(api.base + "environment/").json() if e["environment_name"] == name]
    assert [e["environment_id"] for e in listed] == [environment_id]


def test_a_deploy_create_retried_after_the_work_registers_one_revision(api, plain):
    with answers_lost("ecs", "RegisterTaskDefinition") as lost:
        deploy = post(api, "deploy/", {"deploy_name": "retried", "dockerrun": dockerrun("Task.Dockerrun.aws.json")})
    assert lost == ["RegisterTaskDefinition"]
    active = plain("ecs").list_task_definitions(familyPrefix=f"{PREFIX}retried", status="ACTIVE")["taskDefinitionArns"]
    assert [arn.rsplit("/", 1)[1] for arn in active] == [f"{PREFIX}retried.{deploy.json()['version']}".replace(".", ":")]


@pytest.fixture(scope="module")
def workload(api) -> tuple[str, str]:
    """(environment id, deploy id) for services and tasks."""
    environment_id = post(api, "environment/", environment_body("workload")).json()["environment_id"]
    body = {"deploy_name": "workload", "dockerrun": dockerrun("Service.Dockerrun.aws.json")}
    return environment_id, post(api, "deploy/", body).json()["deploy_id"]


SERVICE_CALLS = [("ecs", "CreateService"), ("stepfunctions", "StartExecution"), ("dynamodb", "PutItem")]


@pytest.mark.parametrize("service,operation", SERVICE_CALLS, ids=[call[1] for call in SERVICE_CALLS])
def test_a_service_create_retried_after_the_work_makes_one_service_and_one_job(
    api, plain, workload, service, operation
):
    environment_id, deploy_id = workload
    name = f"svc{operation.lower()[:10]}"
    body = {"environment_id": environment_id, "service_name": name, "deploy_id": deploy_id}
    sfn = plain("stepfunctions")
    machines = [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]]
    before = {e["executionArn"] for m in machines for e in sfn.list_executions(stateMachineArn=m)["executions"]}
    with answers_lost(service, operation) as lost:
        response = post(api, "service/", body)
    assert lost == [operation]
    service_id = response.json()["service_id"]
    ecs = plain("ecs")
    arns = ecs.list_services(cluster=f"{PREFIX}{environment_id}")["serviceArns"]
    services = ecs.describe_services(cluster=f"{PREFIX}{environment_id}", services=arns)["services"]
    assert [s["serviceName"] for s in services if s["status"] == "ACTIVE" and service_id in s["serviceName"]] == [
        f"{PREFIX}{service_id}"
    ]
    after = {e["executionArn"] for m in machines for e in sfn.list_executions(stateMachineArn=m)["executions"]}
    assert len(after - before) == 1
    assert job_ends(api, response.headers["X-JobID"])["job_status"] in (3, 4)


TASK_CALLS = [("stepfunctions", "StartExecution"), ("dynamodb", "PutItem"), ("ecs", "RunTask")]


@pytest.mark.parametrize("service,operation", TASK_CALLS, ids=[call[1] for call in TASK_CALLS])
def test_a_task_create_retried_after_the_work_runs_one_task(api, plain, workload, service, operation):
    environment_id, _ = workload
    body = {"deploy_name": "retriedtask", "dockerrun": dockerrun("Task.Dockerrun.aws.json")}
    deploy_id = post(api, "deploy/", body).json()["deploy_id"]
    name = f"task{operation.lower()[:10]}"
    body = {"environment_id": environment_id, "deploy_id": deploy_id, "task_name": name, "container_overrides": []}
    with answers_lost(service, operation) as lost:
        response = post(api, "task/", body, expected=(202,))
        job = job_ends(api, response.headers["X-JobID"])
    assert lost == [operation]
    assert job["job_status"] == 3, job
    tasks = [t for t in api.get(api.base + "task/").json() if t["task_name"] == name]
    assert len(tasks) == 1
    ecs = plain("ecs")
    started = ecs.list_tasks(cluster=f"{PREFIX}{environment_id}", startedBy=PREFIX)["taskArns"]
    described = ecs.describe_tasks(cluster=f"{PREFIX}{environment_id}", tasks=started)["tasks"] if started else []
    ours = [t for t in described if t["taskDefinitionArn"].endswith(deploy_id.replace(".", ":"))]
    assert len(ours) == 1


LOAD_BALANCER_CALLS = [
    (None, "ec2", "CreateSecurityGroup"),
    (None, "ec2", "AuthorizeSecurityGroupIngress"),
    (None, "elb", "CreateLoadBalancer"),
    ("application", "elbv2", "CreateLoadBalancer"),
    ("application", "elbv2", "CreateTargetGroup"),
    ("application", "elbv2", "CreateListener"),
]


@pytest.mark.parametrize(
    "kind,service,operation", LOAD_BALANCER_CALLS, ids=[f"{call[1]}.{call[2]}" for call in LOAD_BALANCER_CALLS]
)
def test_a_load_balancer_create_retried_after_the_work_makes_one_of_each(api, plain, workload, kind, service, operation):
    environment_id, _ = workload
    name = f"lb{service}{operation.lower()[:8]}"
    body = {
        "load_balancer_name": name,
        "environment_id": environment_id,
        "is_public": True,
        "ports": [{"host_port": 80, "container_port": 80, "protocol": "http", "certificate_name": ""}],
    }
    if kind:
        body["load_balancer_type"] = kind
    with answers_lost(service, operation) as lost:
        load_balancer_id = post(api, "loadbalancer/", body).json()["load_balancer_id"]
    assert lost == [operation]
    aws_name = f"{PREFIX}{load_balancer_id}"
    groups = [g for g in plain("ec2").describe_security_groups()["SecurityGroups"] if g["GroupName"].startswith(aws_name)]
    assert [g["GroupName"] for g in groups] == [f"{aws_name}-lb"]
    assert [(p["FromPort"], p["IpRanges"][0]["CidrIp"]) for p in groups[0]["IpPermissions"]] == [(80, "0.0.0.0/0")]
    if kind is None:
        found = plain("elb").describe_load_balancers()["LoadBalancerDescriptions"]
        assert [lb["LoadBalancerName"] for lb in found if lb["LoadBalancerName"] == aws_name] == [aws_name]
        return
    elbv2 = plain("elbv2")
    found = [lb for lb in elbv2.describe_load_balancers()["LoadBalancers"] if lb["LoadBalancerName"] == aws_name]
    assert len(found) == 1
    listeners = elbv2.describe_listeners(LoadBalancerArn=found[0]["LoadBalancerArn"])["Listeners"]
    assert [listener["Port"] for listener in listeners] == [80]
    target_groups = [g for g in elbv2.describe_target_groups()["TargetGroups"] if load_balancer_id in g["TargetGroupName"]]
    assert len(target_groups) == 1
    assert json.loads(json.dumps(target_groups[0]["LoadBalancerArns"])) == [found[0]["LoadBalancerArn"]]


# --- every attempt's answer lost: the create fails, and leaves nothing behind ------------------------------------------

ATTEMPTS = 5  # LAYER0_AWS_MAX_ATTEMPTS's default


def test_a_name_claim_whose_every_answer_was_lost_is_taken_back(api):
    with answers_lost("dynamodb", "PutItem", times=ATTEMPTS) as lost:
        failed = api.post(api.base + "environment/", json=environment_body("lostclaim"), timeout=60)
    assert lost == ["PutItem"] * ATTEMPTS
    assert (failed.status_code, failed.json()["error_code"]) == (503, 21)
    # The name is free again: the user's retry creates the environment.
    assert post(api, "environment/", environment_body("lostclaim")).json()["environment_name"] == "lostclaim"


def test_a_service_whose_every_create_answer_was_lost_leaves_no_service(api, plain, workload):
    environment_id, deploy_id = workload
    body = {"environment_id": environment_id, "service_name": "lostservice", "deploy_id": deploy_id}
    with answers_lost("ecs", "CreateService", times=ATTEMPTS) as lost:
        failed = api.post(api.base + "service/", json=body, timeout=60)
    assert lost == ["CreateService"] * ATTEMPTS
    assert (failed.status_code, failed.json()["error_code"]) == (503, 21)
    ecs = plain("ecs")
    cluster = f"{PREFIX}{environment_id}"
    arns = ecs.list_services(cluster=cluster)["serviceArns"]
    described = ecs.describe_services(cluster=cluster, services=arns)["services"] if arns else []
    # Service ids are the name's first 7 alphanumerics and a random hash (layer0/ids.py).
    assert [s["serviceName"] for s in described if s["status"] == "ACTIVE" and "lostser" in s["serviceName"]] == []
    # The name is free again.
    assert post(api, "service/", body).json()["service_name"] == "lostservice"


def test_a_job_whose_every_start_answer_was_lost_is_the_started_job(api, plain, workload):
    environment_id, _ = workload
    body = {"deploy_name": "losttask", "dockerrun": dockerrun("Task.Dockerrun.aws.json")}
    deploy_id = post(api, "deploy/", body).json()["deploy_id"]
    body = {"environment_id": environment_id, "deploy_id": deploy_id, "task_name": "losttask", "container_overrides": []}
    with answers_lost("stepfunctions", "StartExecution", times=ATTEMPTS) as lost:
        response = post(api, "task/", body, expected=(202,))
    assert lost == ["StartExecution"] * ATTEMPTS  # the first attempt started the job's execution
    job = job_ends(api, response.headers["X-JobID"])
    assert job["job_status"] == 3, job
    assert [t["task_name"] for t in api.get(api.base + "task/").json()].count("losttask") == 1


def test_a_deploy_whose_every_register_answer_was_lost_leaves_no_revision(api, plain):
    body = {"deploy_name": "lostdeploy", "dockerrun": dockerrun("Task.Dockerrun.aws.json")}
    with answers_lost("ecs", "RegisterTaskDefinition", times=ATTEMPTS) as lost:
        failed = api.post(api.base + "deploy/", json=body, timeout=60)
    assert lost == ["RegisterTaskDefinition"] * ATTEMPTS
    assert (failed.status_code, failed.json()["error_code"]) == (503, 21)
    ecs = plain("ecs")
    assert ecs.list_task_definitions(familyPrefix=f"{PREFIX}lostdeploy", status="ACTIVE")["taskDefinitionArns"] == []
    version = post(api, "deploy/", body).json()["version"]
    active = ecs.list_task_definitions(familyPrefix=f"{PREFIX}lostdeploy", status="ACTIVE")["taskDefinitionArns"]
    assert [arn.rsplit(":", 1)[1] for arn in active] == [version]


# --- deletes retried after the work: every job ends, and ends well ----------------------------------------------------

DELETE_ENVIRONMENT_CALLS = [
    ("autoscaling", "DeleteAutoScalingGroup"),
    ("ec2", "DeleteLaunchTemplate"),
    ("ec2", "DeleteSecurityGroup"),
]


@pytest.mark.parametrize("service,operation", DELETE_ENVIRONMENT_CALLS, ids=[c[1] for c in DELETE_ENVIRONMENT_CALLS])
def test_an_environment_delete_retried_after_the_work_completes(api, plain, service, operation):
    name = f"del{operation.lower()[6:14]}"
    body = {**environment_body(name), "min_cluster_count": 0}
    environment_id = post(api, "environment/", body).json()["environment_id"]
    with answers_lost(service, operation) as lost:
        response = api.delete(f"{api.base}environment/{environment_id}", timeout=60)
        assert response.status_code == 202, response.text
        job = job_ends(api, response.headers["X-JobID"])
    assert lost == [operation]
    assert job["job_status"] == 3, job
    assert api.get(f"{api.base}environment/{environment_id}", timeout=30).status_code == 404
    ecs_id = f"{PREFIX}{environment_id}"
    templates = [t["LaunchTemplateName"] for t in plain("ec2").describe_launch_templates()["LaunchTemplates"]]
    assert named(templates, ecs_id) == []


def delete_ends_well(api, path: str) -> None:
    """`l0 ... delete [--wait]`: 200, or 202 and a job that completes; then the entity is gone."""
    response = api.delete(api.base + path, timeout=60)
    assert response.status_code in (200, 202), response.text
    if response.status_code == 202:
        job = job_ends(api, response.headers["X-JobID"])
        assert job["job_status"] == 3, job
    assert api.get(api.base + path, timeout=30).status_code == 404


@pytest.mark.parametrize("operation", ["DeleteService", "UpdateService"])
def test_a_service_delete_retried_after_the_work_completes(api, workload, operation):
    environment_id, deploy_id = workload
    name = f"ds{operation.lower()[:6]}"
    body = {"environment_id": environment_id, "service_name": name, "deploy_id": deploy_id}
    service_id = post(api, "service/", body).json()["service_id"]
    with answers_lost("ecs", operation) as lost:
        delete_ends_well(api, f"service/{service_id}")
    assert lost == [operation]


@pytest.mark.parametrize(
    "kind,service,operation",
    [
        (None, "elb", "DeleteLoadBalancer"),
        ("application", "elbv2", "DeleteLoadBalancer"),
        ("application", "elbv2", "DeleteListener"),
        ("application", "elbv2", "DeleteTargetGroup"),
        (None, "ec2", "DeleteSecurityGroup"),
    ],
    ids=["elb", "elbv2", "listener", "target-group", "security-group"],
)
def test_a_load_balancer_delete_retried_after_the_work_completes(api, workload, kind, service, operation):
    environment_id, _ = workload
    name = f"dl{service}{operation.lower()[6:10]}"
    body = {
        "load_balancer_name": name,
        "environment_id": environment_id,
        "is_public": True,
        "ports": [{"host_port": 80, "container_port": 80, "protocol": "http", "certificate_name": ""}],
    }
    if kind:
        body["load_balancer_type"] = kind
    load_balancer_id = post(api, "loadbalancer/", body).json()["load_balancer_id"]
    with answers_lost(service, operation) as lost:
        delete_ends_well(api, f"loadbalancer/{load_balancer_id}")
    assert lost == [operation]


def test_a_deploy_delete_retried_after_the_work_completes(api):
    body = {"deploy_name": "deldeploy", "dockerrun": dockerrun("Task.Dockerrun.aws.json")}
    deploy_id = post(api, "deploy/", body).json()["deploy_id"]
    with answers_lost("ecs", "DeregisterTaskDefinition") as lost:
        delete_ends_well(api, f"deploy/{deploy_id}")
    assert lost == ["DeregisterTaskDefinition"]


def test_a_task_delete_retried_after_the_work_completes(api, workload):
    environment_id, _ = workload
    body = {"deploy_name": "deltask", "dockerrun": dockerrun("LongRunning.Dockerrun.aws.json")}
    deploy_id = post(api, "deploy/", body).json()["deploy_id"]
    body = {"environment_id": environment_id, "deploy_id": deploy_id, "task_name": "deltask", "container_overrides": []}
    job = job_ends(api, post(api, "task/", body, expected=(202,)).headers["X-JobID"])
    assert job["job_status"] == 3, job
    with answers_lost("ecs", "StopTask") as lost:
        delete_ends_well(api, f"task/{job['meta']['task_id']}")
    assert lost == ["StopTask"]


# Secrets (docs/compatibility.md#secrets): a put or delete whose answer was lost, retried, succeeds once.
SECRET_CALLS = ["CreateSecret", "PutSecretValue", "DeleteSecret"]


@pytest.mark.parametrize("operation", SECRET_CALLS)
def test_a_secret_put_or_delete_retried_after_the_work_succeeds_once(api, plain, operation):
    name = f"retried-{operation.lower()}"
    if operation != "CreateSecret":
        post(api, "secret/", {"secret_name": name, "value": "first"})
    with answers_lost("secretsmanager", operation) as lost:
        if operation == "DeleteSecret":
            response = api.delete(f"{api.base}secret/{name}", timeout=60)
            assert (response.status_code, response.text) == (204, ""), response.text
        else:
            post(api, "secret/", {"secret_name": name, "value": "second"})
    assert lost == [operation]
    secretsmanager = plain("secretsmanager")
    listed = secretsmanager.list_secrets(IncludePlannedDeletion=True)["SecretList"]
    [secret] = [s for s in listed if s["Name"] == f"l0/l0/{name}"]
    if operation == "DeleteSecret":
        assert "DeletedDate" in secret
    else:
        assert secretsmanager.get_secret_value(SecretId=secret["ARN"])["SecretString"] == "second"
        versions = secretsmanager.list_secret_version_ids(SecretId=secret["ARN"])["Versions"]
        assert len(versions) == (1 if operation == "CreateSecret" else 2)
