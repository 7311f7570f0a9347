"""`/service` over HTTP through the local gateway, with moto behind it and the job machines running in moto.

The rollout step is stubbed here to answer "steady" at once (moto's ECS never moves a deployment); the rollout
and delete machines themselves are tested in tests/workflows/test_services_*.py.
"""

from __future__ import annotations

import json
import threading
import time

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from layer0 import aws, reconcile, services, settings
from layer0.workflows import registry
from layer0.models import Tag
from layer0.stores import tags as tag_store
from local.resources import REGION
from tests.conftest import setup_client
from tests.workflows.helpers import execution_arn, job_machines, wait_for_end
from tests.workflows.test_services_rollout import create_environment, register_deploy, register_instances


@pytest.fixture
def machines(stack, monkeypatch):
    monkeypatch.setitem(registry.STEPS, "service.rollout_state", lambda **args: {"state": "steady"})
    with job_machines(monkeypatch) as (arns, _waits):
        yield arns
        # Let every execution end while the mock is still active.
        sfn = boto3.client("stepfunctions", region_name=REGION)
        for arn in arns.values():
            for execution in sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]:
                wait_for_end(execution["executionArn"])


@pytest.fixture
def web(machines, api):
    """An environment and a deploy: (environment id, deploy id)."""
    return create_environment("web"), register_deploy("guestbook")


def create(api, environment_id: str, name: str, deploy_id: str, **more):
    return api.post(
        "/service/", json={"environment_id": environment_id, "service_name": name, "deploy_id": deploy_id, **more}
    )


def ecs_services(environment_id: str) -> list[dict]:
    ecs = setup_client("ecs")
    arns = ecs.list_services(cluster=f"l0-l0-{environment_id}")["serviceArns"]
    found = ecs.describe_services(cluster=f"l0-l0-{environment_id}", services=arns)["services"] if arns else []
    return [s for s in found if s["status"] == "ACTIVE"]


def ended(machines, job_type: int, job_id: str) -> dict:
    return wait_for_end(execution_arn(machines[job_type], job_id))


@pytest.fixture
def sent():
    """The parameters of every ECS CreateService/UpdateService call the API makes."""
    calls: list[tuple[str, dict]] = []

    def record(params, model, **_):
        calls.append((model.name, dict(params)))

    events = aws.client("ecs").meta.events
    events.register("provide-client-params.ecs", record)
    yield calls
    events.unregister("provide-client-params.ecs", record)


# --- create ---------------------------------------------------------------------------------------------------------


def test_create_answers_200_with_the_service_and_starts_a_rollout_job(web, api, machines, sent):
    environment_id, deploy_id = web

    response = create(api, environment_id, "guestbook", deploy_id)

    assert response.status_code == 200, response.text
    body = response.json()
    job_id = response.headers["X-JobID"]
    assert response.headers["Location"] == f"/job/{job_id}"
    assert body["service_name"] == "guestbook" and body["service_id"].startswith("guestbo")
    assert len(body["service_id"]) == 12
    assert (body["environment_id"], body["environment_name"], body["desired_count"]) == (environment_id, "web", 1)
    assert (body["load_balancer_id"], body["load_balancer_name"]) == ("", "")
    [deployment] = body["deployments"]
    assert (deployment["deploy_id"], deployment["deploy_name"], deployment["deploy_version"]) == (
        deploy_id, "guestbook", "1"
    )  # fmt: skip
    assert deployment["status"] == "PRIMARY" and deployment["deployment_id"].startswith("ecs-svc/")
    assert deployment["created"].endswith("Z") and "T" in deployment["created"]
    # The ECS service, as docs/compatibility.md#services creates it, with the circuit breaker on.
    [ecs_service] = ecs_services(environment_id)
    assert ecs_service["serviceName"] == f"l0-l0-{body['service_id']}"
    assert ecs_service["taskDefinition"].endswith(":task-definition/l0-l0-guestbook:1")
    [(operation, params)] = [c for c in sent if c[0] == "CreateService"]
    assert params["placementStrategy"] == [{"type": "binpack", "field": "memory"}]
    assert params["deploymentConfiguration"] == {
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
    }
    assert (params["desiredCount"], "loadBalancers" in params, "role" in params) == (1, False, False)
    # The rollout job follows the deployment the create started.
    job = api.get(f"/job/{job_id}").json()
    assert job["job_type"] == 6
    assert json.loads(job["request"]) == {
        "service_id": body["service_id"],
        "environment_id": environment_id,
        "deployment_id": deployment["deployment_id"],
    }
    assert ended(machines, 6, job_id)["status"] == "SUCCEEDED"
    assert api.get(f"/job/{job_id}").json()["job_status"] == 3
    # Tags, as the original wrote them.
    assert {t.key: t.value for t in tag_store.select_by_type_and_id("service", body["service_id"])} == {
        "name": "guestbook",
        "environment_id": environment_id,
    }


def test_a_duplicate_name_in_an_environment_is_400_code_13(web, api):
    environment_id, deploy_id = web
    assert create(api, environment_id, "guestbook", deploy_id).status_code == 200

    response = create(api, environment_id, "guestbook", deploy_id)

    assert response.status_code == 400
    assert response.json() == {
        "error_code": 13,
        "message": f"Service with name 'guestbook' already exists in environment '{environment_id}'",
    }
    assert len(ecs_services(environment_id)) == 1
    # The same name in another environment is another service.
    other = create_environment("other")
    assert create(api, other, "guestbook", deploy_id).status_code == 200


def test_twenty_parallel_creates_of_one_name_make_one_service(web, api):
    environment_id, deploy_id = web
    answers = []

    def post():
        response = create(api, environment_id, "guestbook", deploy_id)
        answers.append((response.status_code, response.json().get("error_code") if response.status_code != 200 else None))

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answers, key=str) == sorted([(200, None)] + [(400, 13)] * 19, key=str)
    assert len(ecs_services(environment_id)) == 1


def test_parallel_creates_in_the_domain_make_one_service(web):
    """The same race without the gateway (which serves one request at a time, like one Lambda container)."""
    from layer0.errors import Layer0Error
    from layer0.models import CreateServiceRequest

    environment_id, deploy_id = web
    request = CreateServiceRequest(environment_id=environment_id, service_name="racer", deploy_id=deploy_id)
    outcomes = []

    def run():
        try:
            services.create(request)
            outcomes.append("created")
        except Layer0Error as error:
            outcomes.append(int(error.code))

    threads = [threading.Thread(target=run) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes, key=str) == sorted(["created"] + [13] * 9, key=str)
    assert len(ecs_services(environment_id)) == 1


@pytest.mark.parametrize("missing", ["environment_id", "service_name", "deploy_id"])
def test_missing_fields_are_400_code_19(web, api, missing):
    environment_id, deploy_id = web
    body = {"environment_id": environment_id, "service_name": "guestbook", "deploy_id": deploy_id}
    body.pop(missing)

    response = api.post("/service", json=body)

    assert response.status_code == 400
    assert response.json() == {"error_code": 19, "message": f"Parameter '{missing}' is required"}
    assert ecs_services(environment_id) == []


def test_keys_match_case_insensitively(web, api):
    environment_id, deploy_id = web
    response = api.post("/service", json={"Environment_ID": environment_id, "SERVICE_NAME": "x", "Deploy_Id": deploy_id})
    assert response.status_code == 200, response.text


def test_an_unknown_environment_is_400_code_6_and_leaves_no_claim(web, api):
    _environment_id, deploy_id = web

    response = create(api, "nosuchenv123", "guestbook", deploy_id)

    assert response.status_code == 400
    assert response.json() == {"error_code": 6, "message": "Environment with id 'nosuchenv123' was not found"}
    assert tag_store.select_by_type("service_name") == []


def test_an_unknown_deploy_is_404_code_23(web, api):
    environment_id, deploy_id = web

    response = create(api, environment_id, "guestbook", "nosuch.1")

    assert response.status_code == 404
    assert response.json()["error_code"] == 23
    assert ecs_services(environment_id) == []
    assert tag_store.select_by_type("service_name") == []
    # A deleted deploy is missing too: ECS starts nothing new on an INACTIVE task definition.
    setup_client("ecs").deregister_task_definition(taskDefinition="l0-l0-guestbook:1")
    deleted = create(api, environment_id, "guestbook", deploy_id)
    assert (deleted.status_code, deleted.json()["error_code"]) == (404, 23)


def test_a_failed_create_leaves_nothing_and_frees_the_name(web, api, monkeypatch):
    environment_id, deploy_id = web

    def broken(*_args, **_kwargs):
        raise RuntimeError("the job table is unavailable")

    with monkeypatch.context() as patch:
        patch.setattr(services.jobs, "create", broken)
        response = create(api, environment_id, "guestbook", deploy_id)
    assert response.status_code == 500
    assert ecs_services(environment_id) == []
    assert tag_store.select_by_type("service") == [] and tag_store.select_by_type("service_name") == []

    assert create(api, environment_id, "guestbook", deploy_id).status_code == 200


def test_behind_a_classic_load_balancer(web, api, sent):
    environment_id, deploy_id = web
    lb_name = "l0-l0-weblb1234567"
    setup_client("elb").create_load_balancer(
        LoadBalancerName=lb_name,
        Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstanceProtocol": "HTTP", "InstancePort": 80}],
        Subnets=list(settings.get().private_subnets),
        Scheme="internal",
    )
    tag_store.insert(Tag(entity_type="load_balancer", entity_id="weblb1234567", key="name", value="weblb"))

    response = create(api, environment_id, "guestbook", deploy_id, load_balancer_id="weblb1234567")

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["load_balancer_id"], body["load_balancer_name"]) == ("weblb1234567", "weblb")
    [(_, params)] = [c for c in sent if c[0] == "CreateService"]
    assert params["loadBalancers"] == [{"containerName": "guestbook", "containerPort": 80, "loadBalancerName": lb_name}]
    assert "role" not in params  # ECS's service-linked role, not a role of Layer0's
    [ecs_service] = ecs_services(environment_id)
    assert ecs_service["loadBalancers"] == params["loadBalancers"]
    assert api.get(f"/service/{body['service_id']}").json()["load_balancer_id"] == "weblb1234567"
    # An unknown load balancer: 404, code 26, nothing created.
    missing = create(api, environment_id, "other", deploy_id, load_balancer_id="nosuchlb1234")
    assert (missing.status_code, missing.json()["error_code"]) == (404, 26)


def test_the_iam_propagation_error_is_retried_a_few_times(web, monkeypatch):
    from layer0.models import CreateServiceRequest

    environment_id, deploy_id = web
    monkeypatch.setattr(services, "CREATE_RETRY_SECONDS", 0)
    failures = []

    def not_yet(**_):
        if len(failures) < services.CREATE_ATTEMPTS - 1:
            failures.append(1)
            message = "Unable to assume role and validate the listeners configured on your load balancer."
            return AWSResponse("https://ecs", 400, {}, None), {
                "Error": {"Code": "InvalidParameterException", "Message": message},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            }
        return None

    events = aws.client("ecs").meta.events
    events.register("before-call.ecs.CreateService", not_yet)
    try:
        service, _job = services.create(
            CreateServiceRequest(environment_id=environment_id, service_name="patient", deploy_id=deploy_id)
        )
    finally:
        events.unregister("before-call.ecs.CreateService", not_yet)
    assert len(failures) == services.CREATE_ATTEMPTS - 1
    assert [s["serviceName"] for s in ecs_services(environment_id)] == [f"l0-l0-{service.service_id}"]


# --- get, list, scale, update, delete, logs ----------------------------------------------------------------------------


def test_get_and_list(web, api):
    environment_id, deploy_id = web
    created = create(api, environment_id, "guestbook", deploy_id).json()
    other = create(api, environment_id, "other", deploy_id).json()

    fetched = api.get(f"/service/{created['service_id']}")

    assert fetched.status_code == 200
    assert fetched.json() == created
    listed = api.get("/service/")
    assert listed.status_code == 200
    assert sorted(listed.json(), key=lambda s: s["service_name"]) == [
        {"service_id": created["service_id"], "service_name": "guestbook", "environment_id": environment_id, "environment_name": "web"},
        {"service_id": other["service_id"], "service_name": "other", "environment_id": environment_id, "environment_name": "web"},
    ]  # fmt: skip


def test_a_service_without_its_environment_tag_is_found_by_searching_the_clusters(web, api):
    environment_id, deploy_id = web
    created = create(api, environment_id, "guestbook", deploy_id).json()
    tag_store.delete("service", created["service_id"], "environment_id")

    assert api.get(f"/service/{created['service_id']}").json()["environment_id"] == environment_id


def test_an_unknown_service_is_404_code_28(machines, api):
    for method, path, body in (
        ("GET", "/service/nosuchsvc123", None),
        ("DELETE", "/service/nosuchsvc123", None),
        ("PUT", "/service/nosuchsvc123/scale", {"desired_count": 2}),
        ("PUT", "/service/nosuchsvc123/deploy", {"deploy_id": "x.1"}),
        ("GET", "/service/nosuchsvc123/logs", None),
    ):
        response = api.request(method, path, json=body)
        assert response.status_code == 404, (method, path)
        assert response.json() == {"error_code": 28, "message": "Service with id 'nosuchsvc123' does not exist"}


def test_scale(web, api, machines):
    environment_id, deploy_id = web
    service_id = create(api, environment_id, "guestbook", deploy_id).json()["service_id"]

    response = api.request("PUT", f"/service/{service_id}/scale", json={"desired_count": 3})

    assert response.status_code == 200, response.text
    assert response.json()["desired_count"] == 3
    assert ecs_services(environment_id)[0]["desiredCount"] == 3
    job = api.get(f"/job/{response.headers['X-JobID']}").json()
    assert job["job_type"] == 6
    assert json.loads(job["request"])["deployment_id"] == response.json()["deployments"][0]["deployment_id"]
    assert ended(machines, 6, job["job_id"])["status"] == "SUCCEEDED"
    # Bad counts are 400s.
    for bad in ({"desired_count": -1}, {"desired_count": "two"}, {}):
        answer = api.request("PUT", f"/service/{service_id}/scale", json=bad)
        assert answer.status_code == 400, bad
        assert answer.json()["error_code"] in (1, 19)


def test_an_absurd_desired_count_is_a_400_and_changes_nothing(web, api):
    # Found by tests/fuzz: a billion reached ECS, and the scaler's billion pending copies ran local mode out of memory.
    environment_id, deploy_id = web
    service_id = create(api, environment_id, "guestbook", deploy_id).json()["service_id"]
    before = ecs_services(environment_id)[0]["desiredCount"]

    response = api.request("PUT", f"/service/{service_id}/scale", json={"desired_count": 1_000_000_000})

    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == 1
    assert "desired_count" in response.json()["message"]
    assert ecs_services(environment_id)[0]["desiredCount"] == before


def test_update_deploy(web, api, sent):
    environment_id, deploy_id = web
    service_id = create(api, environment_id, "guestbook", deploy_id).json()["service_id"]
    second = register_deploy("guestbook")

    response = api.request("PUT", f"/service/{service_id}/deploy", json={"deploy_id": second})

    assert response.status_code == 200, response.text
    assert response.headers["X-JobID"]
    assert ecs_services(environment_id)[0]["taskDefinition"].endswith("l0-l0-guestbook:2")
    [(_, params)] = [c for c in sent if c[0] == "UpdateService"]
    assert params["taskDefinition"] == "l0-l0-guestbook:2"
    assert params["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    unknown = api.request("PUT", f"/service/{service_id}/deploy", json={"deploy_id": "nosuch.1"})
    assert (unknown.status_code, unknown.json()["error_code"]) == (404, 23)
    missing = api.request("PUT", f"/service/{service_id}/deploy", json={})
    assert (missing.status_code, missing.json()["error_code"]) == (400, 19)


def test_delete_starts_job_type_2(web, api, machines):
    environment_id, deploy_id = web
    service_id = create(api, environment_id, "guestbook", deploy_id).json()["service_id"]

    response = api.delete(f"/service/{service_id}")

    assert response.status_code == 202
    assert response.json() == ""
    job_id = response.headers["X-JobID"]
    assert response.headers["Location"] == f"/job/{job_id}"
    assert ended(machines, 2, job_id)["status"] == "SUCCEEDED"
    job = api.get(f"/job/{job_id}").json()
    assert (job["job_type"], job["job_status"], job["request"]) == (2, 3, service_id)
    assert api.get(f"/service/{service_id}").status_code == 404
    assert api.get("/service").json() == []
    assert ecs_services(environment_id) == []


def test_logs(machines, api):
    environment_id, deploy_id = create_environment("logs", count=1), register_deploy("guestbook")
    created = create(api, environment_id, "guestbook", deploy_id).json()
    deployment_id = created["deployments"][0]["deployment_id"]
    # A task the deployment started (ECS sets startedBy to the deployment id) on an instance, and its log stream.
    register_instances(environment_id)
    ecs = setup_client("ecs")
    [task] = ecs.run_task(cluster=f"l0-l0-{environment_id}", taskDefinition="l0-l0-guestbook:1", startedBy=deployment_id)[
        "tasks"
    ]
    stream = f"l0/guestbook/{task['taskArn'].rsplit('/', 1)[-1]}"
    logs = setup_client("logs")
    logs.create_log_stream(logGroupName="l0-l0", logStreamName=stream)
    logs.put_log_events(
        logGroupName="l0-l0",
        logStreamName=stream,
        logEvents=[{"timestamp": int(time.time() * 1000) + i, "message": f"line {i}"} for i in range(3)],
    )

    response = api.get(f"/service/{created['service_id']}/logs")

    assert response.status_code == 200
    assert response.json() == [{"name": "guestbook", "lines": ["line 0", "line 1", "line 2"]}]
    assert api.get(f"/service/{created['service_id']}/logs?tail=1").json() == [{"name": "guestbook", "lines": ["line 2"]}]
    old = api.get(f"/service/{created['service_id']}/logs", params={"start": "2001-01-01 01:01", "end": "2012-12-12 12:12"})
    assert old.json() == [{"name": "guestbook", "lines": []}]
    for bad in ("tail=x", "start=yesterday", "end=2020-13-01 00:00"):
        answer = api.get(f"/service/{created['service_id']}/logs?{bad}")
        assert answer.status_code == 400, bad
        assert answer.json()["error_code"] == 1


def test_create_scale_and_update_request_a_debounced_scaler_run(web, api, monkeypatch):
    environment_id, deploy_id = web
    requested = []
    monkeypatch.setattr(services.scaler, "request_run", lambda environment_id: requested.append(environment_id))

    service_id = create(api, environment_id, "guestbook", deploy_id).json()["service_id"]
    api.request("PUT", f"/service/{service_id}/scale", json={"desired_count": 2})
    api.request("PUT", f"/service/{service_id}/deploy", json={"deploy_id": register_deploy("guestbook")})
    api.delete(f"/service/{service_id}")

    assert requested == [environment_id] * 3  # not for delete (docs/compatibility.md#services)


def test_a_scaler_run_that_cannot_be_scheduled_does_not_fail_the_create(web, api, monkeypatch):
    environment_id, deploy_id = web

    def unavailable(environment_id):
        raise RuntimeError("EventBridge Scheduler is down")

    monkeypatch.setattr(services.scaler, "request_run", unavailable)

    assert create(api, environment_id, "guestbook", deploy_id).status_code == 200


def test_the_hourly_reconcile_lists_a_service_made_outside_layer0_and_drops_one_deleted_in_the_console(web, api):
    environment_id, deploy_id = web
    assert create(api, environment_id, "gone", deploy_id).status_code == 200
    gone_id = api.get("/service").json()[0]["service_id"]
    ecs = setup_client("ecs")
    cluster = f"l0-l0-{environment_id}"
    ecs.create_service(cluster=cluster, serviceName="l0-l0-adopted12345", taskDefinition="l0-l0-guestbook:1", desiredCount=0)
    ecs.create_service(cluster=cluster, serviceName="l0-l0-deleted12345", taskDefinition="l0-l0-guestbook:1", desiredCount=0)
    ecs.delete_service(cluster=cluster, service="l0-l0-deleted12345")
    ecs.create_service(cluster=cluster, serviceName="not-layer0", taskDefinition="l0-l0-guestbook:1", desiredCount=0)
    # Deleted in the console: no job, no event that says so.
    ecs.update_service(cluster=cluster, service=f"l0-l0-{gone_id}", desiredCount=0)
    ecs.delete_service(cluster=cluster, service=f"l0-l0-{gone_id}")
    assert [s["service_id"] for s in api.get("/service").json()] == [gone_id]

    reconcile.run()

    assert api.get("/service").json() == [
        {"service_id": "adopted12345", "service_name": "", "environment_id": environment_id, "environment_name": "web"}
    ]
