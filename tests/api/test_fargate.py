"""Fargate environments over HTTP (docs/compatibility.md#fargate-environments): creation and refusals, services and
tasks in awsvpc mode with the deploy's Fargate variant, task sizes, load balancers, links, and what stays EC2's."""

from __future__ import annotations

import base64
import json

import pytest

from layer0 import aws, environments, settings
from layer0.stores import tags as tag_store
from tests.api.test_environments import NOTHING, aws_counts, security_group, sources
from tests.api.test_services import machines  # noqa: F401 - a fixture
from tests.conftest import setup_client
from tests.workflows.helpers import execution_arn, wait_for_end
from tests.workflows.test_create_task import agent  # noqa: F401 - a fixture

CONTAINER = {"name": "web", "image": "nginx:latest", "essential": True, "memory": 128,
             "portMappings": [{"hostPort": 8080, "containerPort": 80}]}  # fmt: skip




@pytest.fixture
def sent():
    """(operation, parameters) of every ECS and ELBv2 call the API makes."""
    calls: list[tuple[str, dict]] = []

    def record(params, model, **_):
        calls.append((model.name, dict(params)))

    for service in ("ecs", "elbv2"):
        aws.client(service).meta.events.register(f"provide-client-params.{service}", record)
    yield calls
    for service in ("ecs", "elbv2"):
        aws.client(service).meta.events.unregister(f"provide-client-params.{service}", record)


def fargate(api, name: str, **fields) -> dict:
    response = api.post("/environment/", json={"environment_name": name, "environment_type": "fargate", **fields})
    assert response.status_code == 200, response.text
    return response.json()


def deploy(api, name: str, containers: list[dict] | None = None, **task) -> str:
    document = {"containerDefinitions": containers or [CONTAINER], **task}
    response = api.post(
        "/deploy/",
        json={"deploy_name": name, "dockerrun": base64.b64encode(json.dumps(document).encode()).decode()},
    )
    assert response.status_code == 200, response.text
    return response.json()["deploy_id"]


def task_definition(name: str) -> dict:
    return setup_client("ecs").describe_task_definition(taskDefinition=name)["taskDefinition"]


def error(response) -> tuple[int, int]:
    return response.status_code, response.json().get("error_code")


# --- creation ---------------------------------------------------------------------------------------------------------


def test_a_fargate_environment_is_a_cluster_with_the_fargate_providers_and_a_security_group(api):
    body = fargate(api, "fg")

    environment_id = body["environment_id"]
    assert (body["environment_type"], body["spot"], body["operating_system"]) == ("fargate", False, "linux")
    assert (body["instance_size"], body["ami_id"], body["cluster_count"]) == ("", "", 0)
    assert body["security_group_id"] == security_group(environment_id)["GroupId"]
    [cluster] = setup_client("ecs").describe_clusters(clusters=[f"l0-l0-{environment_id}"])["clusters"]
    assert sorted(cluster["capacityProviders"]) == ["FARGATE", "FARGATE_SPOT"]
    assert cluster["defaultCapacityProviderStrategy"] == [{"capacityProvider": "FARGATE", "weight": 1}]
    # No instance, no launch template, no Auto Scaling group.
    assert aws_counts() == {**NOTHING, "clusters": 1, "security_groups": 1}
    assert api.get(f"/environment/{environment_id}").json() == body
    # An EC2 environment says so.
    ec2 = api.post("/environment/", json={"environment_name": "e", "operating_system": "linux"}).json()
    assert (ec2["environment_type"], ec2["spot"]) == ("ec2", False)
    # The list says which is which.
    listed = {summary["environment_id"]: summary["environment_type"] for summary in api.get("/environment").json()}
    assert listed == {environment_id: "fargate", ec2["environment_id"]: "ec2"}
    # The hourly reconcile observes the same from AWS and the tags.
    assert {
        row.fields["environment_id"]: row.fields["environment_type"] for row in environments.observed_rows()
    } == listed


def test_spot_prefers_fargate_spot_with_a_base_of_one_on_fargate(api):
    body = fargate(api, "spotty", spot=True)

    assert body["spot"] is True
    [cluster] = setup_client("ecs").describe_clusters(clusters=[f"l0-l0-{body['environment_id']}"])["clusters"]
    strategy = {
        s["capacityProvider"]: (s.get("base", 0), s["weight"]) for s in cluster["defaultCapacityProviderStrategy"]
    }
    assert strategy == {"FARGATE": (1, 0), "FARGATE_SPOT": (0, 1)}


@pytest.mark.parametrize(
    "fields",
    [
        {"instance_size": "t3.small"},
        {"min_cluster_count": 0},
        {"user_data_template": base64.b64encode(b"#!/bin/sh").decode()},
        {"ami_id": "ami-12345678"},
        {"operating_system": "windows"},
        {"environment_type": "lambda"},
        {"environment_type": "ec2", "operating_system": "linux", "spot": True},
    ],
)
def test_what_fargate_cannot_use_is_400_code_1_and_creates_nothing(api, fields):
    body = {"environment_name": "fg", "environment_type": "fargate", **fields}

    response = api.post("/environment/", json=body)

    assert error(response) == (400, 1), response.text
    assert aws_counts() == NOTHING
    assert api.get("/environment").json() == []
    # The name is still free.
    assert fargate(api, "fg")["environment_name"] == "fg"


def test_fargate_environments_have_no_instances_to_set_or_scale(api):
    environment_id = fargate(api, "fg")["environment_id"]

    assert error(api.request("PUT", f"/environment/{environment_id}", json={"min_cluster_count": 2})) == (400, 1)
    scaled = api.request("PUT", f"/admin/scale/{environment_id}")
    assert scaled.status_code == 200, scaled.text
    assert (scaled.json()["desired_scale_after_run"], scaled.json()["actual_scale_after_run"]) == (0, 0)


def test_links_between_fargate_and_ec2_environments_are_security_group_rules(api):
    one, two = fargate(api, "one")["environment_id"], fargate(api, "two")["environment_id"]
    ec2 = api.post("/environment/", json={"environment_name": "e", "operating_system": "linux"}).json()[
        "environment_id"
    ]

    for source, dest in ((one, two), (one, ec2)):
        assert api.post(f"/environment/{source}/link", json={"environment_id": dest}).status_code == 200

    groups = {env: security_group(env)["GroupId"] for env in (one, two, ec2)}
    assert sources(security_group(one)) == {groups[one], groups[two], groups[ec2]}
    assert sources(security_group(two)) == {groups[two], groups[one]}
    assert sources(security_group(ec2)) == {groups[ec2], groups[one]}
    assert sorted(api.get(f"/environment/{one}").json()["links"]) == sorted([two, ec2])


# --- services and tasks -----------------------------------------------------------------------------------------------


def test_a_service_runs_the_deploys_fargate_variant_in_awsvpc_through_the_strategy(api, machines, sent):
    environment = fargate(api, "fg", spot=True)
    environment_id = environment["environment_id"]
    deploy_id = deploy(api, "web")

    response = api.post(
        "/service/", json={"environment_id": environment_id, "service_name": "web", "deploy_id": deploy_id}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    [(_, params)] = [call for call in sent if call[0] == "CreateService"]
    assert "placementStrategy" not in params and "launchType" not in params
    assert params["capacityProviderStrategy"] == [
        {"capacityProvider": "FARGATE", "base": 1, "weight": 0},
        {"capacityProvider": "FARGATE_SPOT", "weight": 1},
    ]
    assert params["networkConfiguration"] == {
        "awsvpcConfiguration": {
            "subnets": list(settings.get().private_subnets),
            "securityGroups": [environment["security_group_id"]],
            "assignPublicIp": "DISABLED",
        }
    }
    family, revision = params["taskDefinition"].split(":")
    assert family.startswith("l0-l0-web--fargate-1-") and revision == "1"
    variant = task_definition(params["taskDefinition"])
    assert (variant["requiresCompatibilities"], variant["networkMode"]) == (["FARGATE"], "awsvpc")
    assert (variant["cpu"], variant["memory"]) == ("256", "512")  # the smallest size that holds 128 MiB
    assert variant["executionRoleArn"].endswith(":role/l0-l0-task-execution")
    [container] = variant["containerDefinitions"]
    assert container["portMappings"][0]["hostPort"] == container["portMappings"][0]["containerPort"] == 80
    # The service still shows the deploy, not its variant.
    assert body["deployments"][0]["deploy_id"] == deploy_id
    assert api.get(f"/service/{body['service_id']}").json()["deployments"][0]["deploy_id"] == deploy_id
    # A second service of the deploy reuses the variant; the deploy list shows no variant.
    second = api.post(
        "/service/", json={"environment_id": environment_id, "service_name": "web2", "deploy_id": deploy_id}
    )
    assert second.status_code == 200, second.text
    assert [p["taskDefinition"] for op, p in sent if op == "CreateService"][1] == params["taskDefinition"]
    assert [d["deploy_id"] for d in api.get("/deploy").json()] == [deploy_id]
    assert error(api.get(f"/deploy/{family.removeprefix('l0-l0-')}.1")) == (404, 23)


def test_an_ec2_service_keeps_its_binpack_placement_and_the_deploy_itself(api, machines, sent):
    body = {"environment_name": "e", "operating_system": "linux", "scaling": "layer0"}
    environment_id = api.post("/environment/", json=body).json()["environment_id"]
    deploy_id = deploy(api, "web")

    response = api.post(
        "/service/", json={"environment_id": environment_id, "service_name": "web", "deploy_id": deploy_id}
    )

    assert response.status_code == 200, response.text
    [(_, params)] = [call for call in sent if call[0] == "CreateService"]
    assert params["placementStrategy"] == [{"type": "binpack", "field": "memory"}]
    assert "capacityProviderStrategy" not in params and "networkConfiguration" not in params
    assert params["taskDefinition"] == "l0-l0-web:1"


@pytest.mark.parametrize(
    ("containers", "task", "size"),
    [
        ([{**CONTAINER, "memory": 3000}], {}, ("512", "3072")),
        ([{**CONTAINER, "memory": 600, "cpu": 300}, {**CONTAINER, "name": "side", "memory": 600}], {}, ("512", "2048")),
        ([CONTAINER], {"cpu": "1024", "memory": "4096"}, ("1024", "4096")),
        ([CONTAINER], {"cpu": "1 vCPU", "memory": "2 GB"}, ("1024", "2048")),
        ([{**CONTAINER, "memory": None, "memoryReservation": 1500}], {"cpu": "256"}, ("256", "2048")),
    ],
)
def test_the_task_size_is_the_dockerruns_or_the_smallest_that_holds_the_containers(
    api, machines, sent, containers, task, size
):
    environment_id = fargate(api, "fg")["environment_id"]
    deploy_id = deploy(api, "web", containers, **task)

    response = api.post(
        "/service/", json={"environment_id": environment_id, "service_name": "s", "deploy_id": deploy_id}
    )

    assert response.status_code == 200, response.text
    [(_, params)] = [call for call in sent if call[0] == "CreateService"]
    variant = task_definition(params["taskDefinition"])
    assert (variant["cpu"], variant["memory"]) == size


@pytest.mark.parametrize(
    ("containers", "task"),
    [
        ([CONTAINER], {"cpu": "256", "memory": "4096"}),  # not a valid pair
        ([CONTAINER], {"cpu": "300"}),
        ([{**CONTAINER, "memory": 200000}], {}),  # more than the largest size
        ([{**CONTAINER, "memory": 4096}], {"memory": "2048"}),  # the task is smaller than its containers
    ],
)
def test_an_impossible_size_is_400_code_1_naming_the_valid_sizes_and_creates_nothing(api, machines, containers, task):
    environment_id = fargate(api, "fg")["environment_id"]
    deploy_id = deploy(api, "web", containers, **task)

    for path, body in (
        ("/service/", {"environment_id": environment_id, "service_name": "s", "deploy_id": deploy_id}),
        ("/task", {"environment_id": environment_id, "task_name": "t", "deploy_id": deploy_id}),
    ):
        response = api.post(path, json=body)
        assert error(response) == (400, 1), response.text
        assert "cpu 256: memory 512, 1024, 2048" in response.json()["message"]
    assert api.get("/service").json() == [] and api.get("/job").json() == []
    families = setup_client("ecs").list_task_definition_families(familyPrefix="l0-l0-web--")["families"]
    assert families == []


def test_a_deploy_fargate_cannot_run_is_400_code_1(api, machines):
    environment_id = fargate(api, "fg")["environment_id"]
    deploy_id = deploy(api, "web", [{**CONTAINER, "links": ["db"]}, {**CONTAINER, "name": "db", "portMappings": []}])

    response = api.post(
        "/service/", json={"environment_id": environment_id, "service_name": "s", "deploy_id": deploy_id}
    )

    assert error(response) == (400, 1)
    assert "links" in response.json()["message"]




def test_a_task_runs_the_fargate_variant_through_the_strategy(api, machines, sent, agent):
    environment = fargate(api, "fg")
    deploy_id = deploy(api, "job")

    response = api.post(
        "/task", json={"environment_id": environment["environment_id"], "task_name": "t", "deploy_id": deploy_id}
    )

    assert response.status_code == 202, response.text
    described = wait_for_end(execution_arn(machines[5], response.headers["X-JobID"]), agent)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    [(_, params)] = [call for call in sent if call[0] == "RunTask"]
    assert params["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE", "weight": 1}]
    assert params["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"] == [environment["security_group_id"]]
    assert params["taskDefinition"].startswith("l0-l0-job--fargate-1-") and "placementStrategy" not in params
    task_id = api.get(f"/job/{response.headers['X-JobID']}").json()["meta"]["task_id"]
    assert api.get(f"/task/{task_id}").json()["deploy_id"] == deploy_id


def test_deploy_names_of_the_variant_form_and_the_execution_role_as_task_role_are_refused(api):
    assert error(api.post("/deploy/", json={"deploy_name": "web--fargate-1-0123abcd", "dockerrun": ""}))[0] == 400
    document = {"containerDefinitions": [CONTAINER], "taskRoleArn": "l0-l0-task-execution"}
    response = api.post(
        "/deploy/", json={"deploy_name": "web", "dockerrun": base64.b64encode(json.dumps(document).encode()).decode()}
    )
    assert error(response) == (400, 1)


# --- load balancers ---------------------------------------------------------------------------------------------------


def load_balancer(api, environment_id: str, kind: str):
    return api.post(
        "/loadbalancer/",
        json={
            "load_balancer_name": f"lb{kind}",
            "environment_id": environment_id,
            "load_balancer_type": kind,
            "ports": [{"host_port": 80, "container_port": 80, "protocol": "http"}],
            "health_check": {"target": "HTTP:80/", "interval": 30, "timeout": 5, "healthy_threshold": 2,
                             "unhealthy_threshold": 2},
        },
    )  # fmt: skip


def test_a_classic_load_balancer_is_refused_in_a_fargate_environment(api):
    environment_id = fargate(api, "fg")["environment_id"]

    response = load_balancer(api, environment_id, "classic")

    assert error(response) == (400, 1)
    assert "Fargate" in response.json()["message"]
    assert api.get("/loadbalancer").json() == []
    assert setup_client("elb").describe_load_balancers()["LoadBalancerDescriptions"] == []


def test_an_application_load_balancer_in_a_fargate_environment_has_ip_targets(api, machines, sent):
    environment_id = fargate(api, "fg")["environment_id"]
    deploy_id = deploy(api, "web")
    created = load_balancer(api, environment_id, "application")
    assert created.status_code == 200, created.text
    load_balancer_id = created.json()["load_balancer_id"]

    [group] = setup_client("elbv2").describe_target_groups()["TargetGroups"]
    assert (group["TargetType"], group["Port"]) == ("ip", 80)
    response = api.post(
        "/service/",
        json={"environment_id": environment_id, "service_name": "s", "deploy_id": deploy_id,
              "load_balancer_id": load_balancer_id},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    [(_, params)] = [call for call in sent if call[0] == "CreateService"]
    assert params["loadBalancers"] == [
        {"targetGroupArn": group["TargetGroupArn"], "containerName": "web", "containerPort": 80}
    ]
    # An EC2 environment's load balancers (instance targets) cannot front a Fargate service, nor the reverse.
    ec2 = api.post("/environment/", json={"environment_name": "e", "operating_system": "linux"}).json()[
        "environment_id"
    ]
    classic = load_balancer(api, ec2, "classic").json()["load_balancer_id"]
    refused = api.post(
        "/service/",
        json={"environment_id": environment_id, "service_name": "s2", "deploy_id": deploy_id,
              "load_balancer_id": classic},
    )  # fmt: skip
    assert error(refused) == (400, 1)
    same_ports = deploy(api, "web80", [{**CONTAINER, "portMappings": [{"hostPort": 80, "containerPort": 80}]}])
    refused = api.post(
        "/service/",
        json={
            "environment_id": ec2,
            "service_name": "s3",
            "deploy_id": same_ports,
            "load_balancer_id": load_balancer_id,
        },
    )
    assert error(refused) == (400, 1)
    assert sorted(s["service_name"] for s in api.get("/service").json()) == ["s"]
    assert tag_store.select_by_type_and_id("service_name", f"{environment_id}:s2") == []


def test_deleting_a_deploy_deregisters_its_fargate_variants(api, machines, sent):
    environment_id = fargate(api, "fg")["environment_id"]
    deploy_id, other = deploy(api, "web"), deploy(api, "web")  # web.1, web.2
    for name, chosen in (("a", deploy_id), ("b", other)):
        body = {"environment_id": environment_id, "service_name": name, "deploy_id": chosen}
        assert api.post("/service/", json=body).status_code == 200
    families = setup_client("ecs").list_task_definition_families(familyPrefix="l0-l0-web--", status="ACTIVE")
    assert len(families["families"]) == 2

    assert api.delete(f"/deploy/{deploy_id}").status_code == 200

    left = setup_client("ecs").list_task_definition_families(familyPrefix="l0-l0-web--", status="ACTIVE")["families"]
    assert [family.split("--fargate-")[1].split("-")[0] for family in left] == ["2"]  # web.2's variant stays


def test_twenty_parallel_creates_of_one_fargate_name_make_one_environment(api):
    import threading

    results: list[int] = []
    barrier = threading.Barrier(20)

    def attempt():
        barrier.wait()
        response = api.post("/environment/", json={"environment_name": "race", "environment_type": "fargate"})
        results.append(response.status_code)

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [200] + [400] * 19
    assert aws_counts() == {**NOTHING, "clusters": 1, "security_groups": 1}


def test_updating_a_fargate_services_deploy_runs_the_new_deploys_variant(api, machines, sent):
    environment_id = fargate(api, "fg")["environment_id"]
    first, second = deploy(api, "web"), deploy(api, "api", [{**CONTAINER, "name": "api", "memory": 1500}])
    service_id = api.post(
        "/service/", json={"environment_id": environment_id, "service_name": "web", "deploy_id": first}
    ).json()["service_id"]

    response = api.request("PUT", f"/service/{service_id}/deploy", json={"deploy_id": second})

    assert response.status_code == 200, response.text
    [(_, params)] = [call for call in sent if call[0] == "UpdateService"]
    assert params["taskDefinition"].startswith("l0-l0-api--fargate-1-")
    assert (task_definition(params["taskDefinition"])["cpu"], task_definition(params["taskDefinition"])["memory"]) == (
        "256", "2048"
    )  # fmt: skip
    # (Plain moto here, without the ECS simulation's patches, starts no new deployment: the service's definition.)
    [service] = setup_client("ecs").describe_services(
        cluster=f"l0-l0-{environment_id}", services=[f"l0-l0-{service_id}"]
    )["services"]
    assert service["taskDefinition"].split("/")[-1] == params["taskDefinition"]
