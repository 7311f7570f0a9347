"""`/deploy` over HTTP (docs/compatibility.md#routes, docs/compatibility.md#deploys), checked against what lands in
moto, and `NAME:latest` through `/tag`."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from layer0 import settings
from tests.conftest import setup_client

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"  # the original Layer0's smoke-test fixtures


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.Dockerrun.aws.json").read_bytes()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def create(api, name: str, dockerrun: bytes):
    return api.post("/deploy/", json={"deploy_name": name, "dockerrun": b64(dockerrun)})


def created(api, name: str, dockerrun: bytes) -> dict:
    response = create(api, name, dockerrun)
    assert response.status_code == 200, response.text
    return response.json()


def error(response) -> tuple[int, int, str]:
    body = response.json()
    return response.status_code, body["error_code"], body["message"]


def active_task_definitions() -> list[str]:
    return setup_client("ecs").list_task_definitions(status="ACTIVE")["taskDefinitionArns"]


def deploy_tags() -> dict[str, dict[str, str]]:
    items = setup_client("dynamodb").query(
        TableName=settings.get().tag_table,
        KeyConditionExpression="EntityType = :t",
        ExpressionAttributeValues={":t": {"S": "deploy"}},
    )["Items"]
    return {i["EntityID"]["S"]: {k: v["S"] for k, v in i["Tags"]["M"].items()} for i in items}


def test_create_get_list_and_delete(api):
    deploy = created(api, "guestbook", fixture("Service"))
    assert {k: deploy[k] for k in ("deploy_id", "deploy_name", "version")} == {
        "deploy_id": "guestbook.1",
        "deploy_name": "guestbook",
        "version": "1",
    }
    # dockerrun is base64 of the re-serialized task definition.
    dockerrun = json.loads(base64.b64decode(deploy["dockerrun"]))
    assert dockerrun["family"] == "l0-l0-guestbook"
    [container] = dockerrun["containerDefinitions"]
    assert (container["Name"], container["Memory"]) == ("guestbook", 128)
    assert [(p["HostPort"], p["ContainerPort"]) for p in container["PortMappings"]] == [(80, 80)]
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    assert container["LogConfiguration"]["Options"]["awslogs-group"] == settings.get().log_group

    assert [arn.rsplit("/", 1)[1] for arn in active_task_definitions()] == ["l0-l0-guestbook:1"]
    assert deploy_tags() == {"guestbook.1": {"name": "guestbook", "version": "1"}}

    got = api.get("/deploy/guestbook.1")
    assert got.status_code == 200
    assert got.json() == deploy
    assert api.get("/deploy").json() == [{"deploy_id": "guestbook.1", "deploy_name": "guestbook", "version": "1"}]

    deleted = api.delete("/deploy/guestbook.1")
    assert (deleted.status_code, deleted.text) == (200, '""')
    assert active_task_definitions() == []
    assert deploy_tags() == {}
    assert api.get("/deploy/").json() == []
    assert error(api.get("/deploy/guestbook.1"))[:2] == (404, 23)


def test_a_re_serialized_dockerrun_can_be_posted_back(api):
    first = created(api, "alpine", fixture("Task"))
    second = created(api, "alpine", base64.b64decode(first["dockerrun"]))
    assert second["deploy_id"] == "alpine.2"
    definitions = [
        setup_client("ecs").describe_task_definition(taskDefinition=f"l0-l0-alpine:{r}")["taskDefinition"]
        for r in (1, 2)
    ]
    assert definitions[0]["containerDefinitions"] == definitions[1]["containerDefinitions"]
    assert definitions[1]["containerDefinitions"][0]["entryPoint"] == ["/bin/sh", "-c"]


def test_revisions_of_one_name_and_latest_through_the_tag_query(api):
    for _ in range(2):
        created(api, "guestbook", fixture("Service"))
    created(api, "guestbookish", fixture("Service"))
    created(api, "alpine", fixture("Task"))
    listed = sorted((d["deploy_id"], d["deploy_name"], d["version"]) for d in api.get("/deploy").json())
    assert listed == [
        ("alpine.1", "alpine", "1"),
        ("guestbook.1", "guestbook", "1"),
        ("guestbook.2", "guestbook", "2"),
        ("guestbookish.1", "guestbookish", "1"),
    ]
    # `l0 deploy get guestbook:latest` asks exactly this (docs/compatibility.md#tags); the CLI then keeps exact name
    # matches.
    response = api.get("/tag?type=deploy&name=guestbook&version=latest")
    assert [e["entity_id"] for e in response.json()] == ["guestbook.2"]
    # The CLI's own query: fuzz is a prefix of names, and latest keeps the one highest version among the matches.
    fuzzy = api.get("/tag?type=deploy&fuzz=guestbook&version=latest").json()
    assert [(e["entity_id"], sorted((t["key"], t["value"]) for t in e["tags"])) for e in fuzzy] == [
        ("guestbook.2", [("name", "guestbook"), ("version", "2")])
    ]
    assert [e["entity_id"] for e in api.get("/tag?type=deploy&fuzz=alp&version=latest").json()] == ["alpine.1"]
    # Deleting the latest makes the previous revision the latest.
    assert api.delete("/deploy/guestbook.2").status_code == 200
    assert [e["entity_id"] for e in api.get("/tag?type=deploy&name=guestbook&version=latest").json()] == ["guestbook.1"]


def test_request_keys_match_case_insensitively(api):
    response = api.post("/deploy", json={"Deploy_Name": "web", "DOCKERRUN": b64(fixture("LongRunning"))})
    assert response.status_code == 200, response.text
    assert response.json()["deploy_id"] == "web.1"


SERVICE = fixture("Service")


@pytest.mark.parametrize(
    "body, status, code, message",
    [
        ({"deploy_name": "", "dockerrun": b64(SERVICE)}, 400, 19, "Parameter 'deploy_name' is required"),
        ({"dockerrun": b64(SERVICE)}, 400, 19, "Parameter 'deploy_name' is required"),
        ({"deploy_name": "guest.book", "dockerrun": b64(SERVICE)}, 400, 4, "Deploy names cannot contain '.'"),
        ({"deploy_name": "guest book", "dockerrun": b64(SERVICE)}, 400, 5, None),
        ({"deploy_name": "web", "dockerrun": "not base64!"}, 400, 1, None),
        ({"deploy_name": "web", "dockerrun": b64(b"{not json")}, 400, 1, None),
        ({"deploy_name": "web"}, 400, 1, None),  # no dockerrun: an empty document
        ({"deploy_name": "web", "dockerrun": b64(b'{"containerDefinitions": "web"}')}, 400, 1, None),
        (
            {"deploy_name": "web", "dockerrun": b64(b'{"containerDefinitions": []}')},
            400, 1, "Deploy must have at least one container definition",
        ),
        (
            {"deploy_name": "web", "dockerrun": b64(json.dumps({"family": "mine", **json.loads(SERVICE)}).encode())},
            400, 1, "Custom family names are currently unsupported in Layer0",
        ),
        # ECS refuses a container without memory (EC2 launch type): its message, as a 400.
        (
            {"deploy_name": "web", "dockerrun": b64(b'{"containerDefinitions": [{"name": "web", "image": "nginx"}]}')},
            400, 1, None,
        ),
    ],
)  # fmt: skip
def test_bad_creates_are_400_and_register_nothing(api, body, status, code, message):
    response = api.post("/deploy", json=body)
    assert error(response)[:2] == (status, code), response.text
    if message is not None:
        assert error(response)[2] == message
    if code == 1 and message is None:
        assert error(response)[2].startswith(("Failed to decode", "Invalid deploy: ", "Invalid value for 'dockerrun'"))
    assert active_task_definitions() == []
    assert deploy_tags() == {}


def test_ecs_refusal_carries_the_aws_message(api):
    response = create(api, "web", b'{"containerDefinitions": [{"name": "web", "image": "nginx"}]}')
    status, code, message = error(response)
    assert (status, code) == (400, 1)
    assert "At least one of 'memory' or 'memoryReservation' must be specified" in message


def test_unknown_deploys(api):
    for path in ("/deploy/nothing.1", "/deploy/nothing", "/deploy/bad:id.1"):
        assert error(api.get(path)) == (404, 23, f"Deploy with id '{path.rsplit('/', 1)[1]}' does not exist")
    assert error(api.delete("/deploy/nothing.1")) == (400, 4, "Deploy with id 'nothing.1' does not exist")
    created(api, "web", SERVICE)
    assert error(api.get("/deploy/web.2"))[:2] == (404, 23)
    assert error(api.delete("/deploy/web.2"))[:2] == (400, 4)
    assert api.delete("/deploy/web.1").status_code == 200
    assert error(api.delete("/deploy/web.1")) == (400, 4, "Deploy with id 'web.1' does not exist")


# --- task roles: only the instance's own (docs/compatibility.md#task-roles) ---------------------------------------

ACCOUNT = "123456789012"  # moto's


def with_fields(**top_level) -> bytes:
    return json.dumps({**json.loads(fixture("Task")), **top_level}).encode()


@pytest.mark.parametrize(
    "role",
    [
        f"arn:aws:iam::{ACCOUNT}:role/l0-l0-app",
        f"arn:aws:iam::{ACCOUNT}:role/layer0/l0-l0/app",
        f"arn:aws:iam::{ACCOUNT}:role/layer0/l0-l0/team/app",
        "l0-l0-app",  # ECS takes a bare name: a role at the root path
    ],
)
def test_a_task_role_of_the_instance_is_registered(api, role):
    created(api, "web", with_fields(taskRoleArn=role))

    [arn] = active_task_definitions()
    assert setup_client("ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"]["taskRoleArn"] == role


@pytest.mark.parametrize(
    "role",
    [
        f"arn:aws:iam::{ACCOUNT}:role/admin",  # any other role of the account
        f"arn:aws:iam::{ACCOUNT}:role/l0-other-app",  # another Layer0 instance's
        f"arn:aws:iam::{ACCOUNT}:role/layer0/l0-other/app",
        f"arn:aws:iam::{ACCOUNT}:role/layer0/app",
        f"arn:aws:iam::{ACCOUNT}:role/l0/l0-l0/app",  # the original's path is not this instance's
        f"arn:aws:iam::{ACCOUNT}:role/x/l0-l0-app",  # the prefix in the name, under another path
        "arn:aws:iam::210987654321:role/l0-l0-app",  # another account
        f"arn:aws-cn:iam::{ACCOUNT}:role/l0-l0-app",  # another partition
        f"arn:aws:iam::{ACCOUNT}:user/l0-l0-app",
        "admin",
        "layer0/l0-l0/app",
    ],
)
def test_a_task_role_outside_the_instance_is_400_code_1_and_registers_nothing(api, role):
    response = create(api, "web", with_fields(TaskRoleArn=role))

    assert error(response) == (
        400,
        1,
        f"taskRoleArn '{role}' is not a role this Layer0 instance may pass: use "
        "arn:aws:iam::<this account>:role/l0-l0-* or arn:aws:iam::<this account>:role/layer0/l0-l0/*",
    )
    assert active_task_definitions() == []
    assert deploy_tags() == {}


def test_an_execution_role_never_reaches_ecs(api):
    # Not one of the Dockerrun keys Layer0 reads: dropped, like the original's decoder dropped it.
    created(api, "web", with_fields(executionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/admin"))

    [arn] = active_task_definitions()
    assert "executionRoleArn" not in setup_client("ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"]


# --- the container policy (docs/compatibility.md#container-policy) -------------------------------------------------

HOST_ACCESS = [
    ({"networkMode": "host"}, "networkMode: host"),
    ({"volumes": [{"name": "root", "host": {"sourcePath": "/"}}]}, "volumes[0].host.sourcePath"),
    (
        {
            "volumes": [
                {
                    "name": "root",
                    "dockerVolumeConfiguration": {
                        "scope": "task",
                        "driver": "local",
                        "driverOpts": {"type": "none", "o": "bind", "device": "/"},
                    },
                }
            ]
        },
        "volumes[0].dockerVolumeConfiguration.driverOpts.device",
    ),
    ({"containerDefinitions": [{"privileged": True}]}, "containerDefinitions[0].privileged"),
    (
        {"containerDefinitions": [{"linuxParameters": {"capabilities": {"add": ["SYS_ADMIN"]}}}]},
        "containerDefinitions[0].linuxParameters.capabilities.add",
    ),
    (
        {"containerDefinitions": [{"linuxParameters": {"devices": [{"hostPath": "/dev/mem"}]}}]},
        "containerDefinitions[0].linuxParameters.devices",
    ),
]


def host_access_dockerrun(fields: dict) -> bytes:
    document = json.loads(fixture("Task"))
    for key, value in fields.items():
        if key == "containerDefinitions":
            document[key] = [{**document[key][0], **value[0]}]
        else:
            document[key] = value
    return json.dumps(document).encode()


@pytest.fixture
def strict(monkeypatch):
    monkeypatch.setenv("LAYER0_CONTAINER_POLICY", "strict")
    settings.get.cache_clear()


@pytest.mark.parametrize(("fields", "named"), HOST_ACCESS)
def test_strict_refuses_what_lets_a_container_reach_its_host_and_registers_nothing(api, strict, fields, named):
    response = create(api, "web", host_access_dockerrun(fields))

    assert error(response) == (
        400,
        1,
        f"This Layer0 instance's container policy is strict: a deploy may not reach its host ({named})",
    )
    assert active_task_definitions() == []
    assert deploy_tags() == {}


def test_strict_names_every_field_and_registers_a_harmless_dockerrun(api, strict):
    both = host_access_dockerrun({"networkMode": "host", "containerDefinitions": [{"Privileged": True}]})
    assert error(create(api, "web", both))[2].endswith("(networkMode: host, containerDefinitions[0].privileged)")
    # A named Docker volume (no sourcePath), bridge networking, dropped capabilities: nothing of the host.
    harmless = host_access_dockerrun(
        {
            "networkMode": "bridge",
            "volumes": [
                {"name": "scratch", "host": {}},
                {"name": "cache", "dockerVolumeConfiguration": {"scope": "task", "driver": "local"}},
            ],
            "containerDefinitions": [{"linuxParameters": {"capabilities": {"drop": ["ALL"]}}, "privileged": False}],
        }
    )
    created(api, "web", harmless)
    assert len(active_task_definitions()) == 1


@pytest.mark.parametrize(("fields", "named"), HOST_ACCESS)
def test_permissive_the_default_registers_them_as_the_original_did(api, fields, named):
    assert settings.get().container_policy == "permissive"

    created(api, "web", host_access_dockerrun(fields))

    assert len(active_task_definitions()) == 1


# --- the rest of the container definition (docs/compatibility.md#container-definitions) ----------------------------

# A container with every field of ECS's ContainerDefinition but `secrets` (docs/compatibility.md#container-definitions)
# and host access (the container policy's, above), with values ECS accepts.
EVERY_FIELD = {
    "name": "web",
    "image": "nginx",
    "repositoryCredentials": {"credentialsParameter": f"arn:aws:secretsmanager:us-west-2:{ACCOUNT}:secret:l0/l0/reg"},
    "cpu": 128,
    "memory": 256,
    "memoryReservation": 128,
    "links": ["init:init"],
    "portMappings": [{"containerPort": 80, "hostPort": 0, "protocol": "tcp", "name": "http", "appProtocol": "http"}],
    "essential": True,
    "restartPolicy": {"enabled": True, "ignoredExitCodes": [0, 2], "restartAttemptPeriod": 60},
    "entryPoint": ["/bin/sh", "-c"],
    "command": ["nginx -g 'daemon off;'"],
    "environment": [{"name": "A", "value": "1"}],
    "environmentFiles": [{"value": "arn:aws:s3:::bucket/app.env", "type": "s3"}],
    "mountPoints": [{"sourceVolume": "scratch", "containerPath": "/scratch", "readOnly": False}],
    "volumesFrom": [{"sourceContainer": "init", "readOnly": True}],
    "linuxParameters": {
        "capabilities": {"drop": ["NET_RAW"]},
        "initProcessEnabled": True,
        "sharedMemorySize": 64,
        "tmpfs": [{"containerPath": "/tmp", "size": 64, "mountOptions": ["noexec"]}],
        "maxSwap": 0,
        "swappiness": 10,
    },
    "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}],
    "startTimeout": 30,
    "stopTimeout": 20,
    "versionConsistency": "disabled",
    "hostname": "web",
    "user": "nobody",
    "workingDirectory": "/srv",
    "disableNetworking": False,
    "privileged": False,
    "readonlyRootFilesystem": True,
    "dnsServers": ["10.0.0.2"],
    "dnsSearchDomains": ["example.com"],
    "extraHosts": [{"hostname": "db", "ipAddress": "10.0.0.5"}],
    "dockerSecurityOptions": ["no-new-privileges"],
    "interactive": True,
    "pseudoTerminal": True,
    "dockerLabels": {"Team": "web", "lower.case": "x"},
    "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}],
    "logConfiguration": {"logDriver": "json-file", "options": {"max-size": "10m"}},
    "healthCheck": {
        "command": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"],
        "interval": 10,
        "timeout": 3,
        "retries": 2,
        "startPeriod": 5,
    },
    "systemControls": [{"namespace": "net.core.somaxconn", "value": "1024"}],
    "resourceRequirements": [{"type": "GPU", "value": "1"}],
    "firelensConfiguration": {"type": "fluentbit", "options": {"enable-ecs-log-metadata": "true"}},
    "credentialSpecs": ["credentialspecdomainless:arn:aws:s3:::bucket/spec.json"],
}
INIT = {"name": "init", "image": "busybox", "memory": 64, "essential": False, "command": ["true"]}


def every_field_dockerrun(web: dict | None = None, init: dict | None = None) -> bytes:
    containers = [web if web is not None else EVERY_FIELD, init if init is not None else INIT]
    return json.dumps({"containerDefinitions": containers, "volumes": [{"name": "scratch"}]}).encode()


def registered_containers() -> dict[str, dict]:
    [arn] = active_task_definitions()
    definition = setup_client("ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"]
    return {container["name"]: container for container in definition["containerDefinitions"]}


def test_every_field_of_the_container_definition_reaches_the_task_definition_unchanged(api):
    import botocore.session

    model = botocore.session.get_session().get_service_model("ecs")
    # Every field botocore's ECS model knows is in the test, so a field ECS adds shows up here.
    assert set(model.shape_for("ContainerDefinition").members) - set(EVERY_FIELD) == {"secrets"}

    created(api, "web", every_field_dockerrun())

    containers = registered_containers()
    assert {key: containers["web"].get(key) for key in EVERY_FIELD} == EVERY_FIELD
    # Layer0's awslogs default goes only where no logConfiguration is given.
    assert containers["init"]["logConfiguration"]["logDriver"] == "awslogs"


def test_the_re_serialized_dockerrun_of_every_field_posts_back_to_the_same_containers(api):
    first = created(api, "web", every_field_dockerrun())
    before = registered_containers()
    created(api, "web", base64.b64decode(first["dockerrun"]))

    definitions = [
        setup_client("ecs").describe_task_definition(taskDefinition=f"l0-l0-web:{revision}")["taskDefinition"]
        for revision in (1, 2)
    ]
    assert definitions[1]["containerDefinitions"] == definitions[0]["containerDefinitions"]
    assert definitions[1]["containerDefinitions"][0]["healthCheck"] == before["web"]["healthCheck"]


def test_the_new_fields_match_case_insensitively_at_every_depth_and_map_keys_keep_their_case(api):
    web = {
        "NAME": "web",
        "Image": "nginx",
        "Memory": 128,
        "HEALTHCHECK": {"Command": ["CMD", "true"], "StartPeriod": 5, "RETRIES": 2},
        "dependson": [{"CONTAINERNAME": "init", "Condition": "SUCCESS"}],
        "RestartPolicy": {"Enabled": True, "IgnoredExitCodes": [1], "restartattemptperiod": 120},
        "LinuxParameters": {"InitProcessEnabled": True, "Tmpfs": [{"ContainerPath": "/tmp", "Size": 8}]},
        "StopTimeout": 30,
        "DockerLabels": {"Team": "web"},
        "Ulimits": [{"Name": "nofile", "SoftLimit": 1, "HardLimit": 2}],
    }
    created(api, "web", every_field_dockerrun(web))

    registered = registered_containers()["web"]
    assert registered["healthCheck"] == {"command": ["CMD", "true"], "startPeriod": 5, "retries": 2}
    assert registered["dependsOn"] == [{"containerName": "init", "condition": "SUCCESS"}]
    assert registered["restartPolicy"] == {"enabled": True, "ignoredExitCodes": [1], "restartAttemptPeriod": 120}
    assert registered["linuxParameters"] == {
        "initProcessEnabled": True,
        "tmpfs": [{"containerPath": "/tmp", "size": 8}],
    }
    assert (registered["stopTimeout"], registered["dockerLabels"]) == (30, {"Team": "web"})
    assert registered["ulimits"] == [{"name": "nofile", "softLimit": 1, "hardLimit": 2}]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        # types, as botocore's model of ECS has them
        ({"stopTimeout": "abc"}, "containerDefinitions[0].stopTimeout"),
        ({"startTimeout": True}, "containerDefinitions[0].startTimeout must be a number, not a boolean"),
        (
            {"healthCheck": {"command": ["CMD", "true"], "interval": "x"}},
            "containerDefinitions[0].healthCheck.interval",
        ),
        ({"healthCheck": {"interval": 10}}, 'containerDefinitions[0].healthCheck: "command"'),
        ({"restartPolicy": {"enabled": "yes"}}, "containerDefinitions[0].restartPolicy.enabled"),
        ({"ulimits": {"nofile": 1}}, "containerDefinitions[0].ulimits must be an array, not an object"),
        ({"dockerLabels": {"team": 1}}, "containerDefinitions[0].dockerLabels.team"),
        ({"dependsOn": [{"containerName": "init", "condition": 1}]}, "containerDefinitions[0].dependsOn[0].condition"),
        ({"linuxParameters": {"tmpfs": [{"size": "big"}]}}, "containerDefinitions[0].linuxParameters.tmpfs[0]"),
        # what ECS refuses and moto takes
        ({"healthCheck": {"command": ["curl", "-f", "x"]}}, "healthCheck.command must start with CMD or CMD-SHELL"),
        (
            {"healthCheck": {"command": ["CMD", "true"], "interval": 1}},
            "healthCheck.interval must be between 5 and 300",
        ),
        ({"healthCheck": {"command": ["CMD", "true"], "retries": 11}}, "healthCheck.retries must be between 1 and 10"),
        ({"healthCheck": {"command": ["CMD", "true"], "timeout": 61}}, "healthCheck.timeout must be between 2 and 60"),
        (
            {"healthCheck": {"command": ["CMD", "true"], "startPeriod": 301}},
            "healthCheck.startPeriod must be between 0 and 300",
        ),
        (
            {"restartPolicy": {"enabled": True, "restartAttemptPeriod": 10}},
            "restartPolicy.restartAttemptPeriod must be between 60 and 1800",
        ),
        (
            {"restartPolicy": {"enabled": True, "ignoredExitCodes": list(range(51))}},
            "restartPolicy.ignoredExitCodes may list at most 50 codes",
        ),
        (
            {"dependsOn": [{"containerName": "db", "condition": "START"}]},
            "dependsOn[0].containerName must name another container of the deploy",
        ),
        (
            {"dependsOn": [{"containerName": "web", "condition": "START"}]},
            "dependsOn[0].containerName must name another container of the deploy",
        ),
        (
            {"dependsOn": [{"containerName": "init", "condition": "READY"}]},
            "dependsOn[0].condition must be one of START, COMPLETE, SUCCESS, HEALTHY",
        ),
        (
            {"dependsOn": [{"containerName": "init", "condition": "HEALTHY"}]},
            "dependsOn[0]: a HEALTHY dependency must be on a container with a healthCheck",
        ),
    ],
)
def test_a_bad_container_field_is_400_code_1_naming_it_and_registers_nothing(api, fields, named):
    web = {"name": "web", "image": "nginx", "memory": 128, **fields}

    status, code, message = error(create(api, "web", every_field_dockerrun(web)))

    assert (status, code) == (400, 1)
    assert named in message
    assert message.startswith(("Failed to decode deploy: ", "Invalid deploy: containerDefinitions"))
    assert active_task_definitions() == []
    assert deploy_tags() == {}


def test_a_completion_dependency_on_an_essential_container_and_a_dependency_cycle_are_400_code_1(api):
    web = {
        "name": "web",
        "image": "nginx",
        "memory": 128,
        "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}],
    }
    essential_init = {**INIT, "essential": True}
    assert error(create(api, "web", every_field_dockerrun(web, essential_init))) == (
        400,
        1,
        "Invalid deploy: containerDefinitions[0].dependsOn[0]: "
        "a SUCCESS dependency must be on a container that is not essential",
    )
    waiting_init = {**INIT, "dependsOn": [{"containerName": "web", "condition": "START"}]}
    web_starts_after_init = {**web, "dependsOn": [{"containerName": "init", "condition": "START"}]}
    assert error(create(api, "web", every_field_dockerrun(web_starts_after_init, waiting_init))) == (
        400,
        1,
        "Invalid deploy: containerDefinitions: the containers' dependsOn make a cycle (web -> init -> web)",
    )
    assert active_task_definitions() == []


def test_strict_registers_every_field_that_does_not_reach_the_host_and_still_refuses_what_does(api, strict):
    created(api, "web", every_field_dockerrun())
    assert len(active_task_definitions()) == 1

    privileged = {**EVERY_FIELD, "privileged": True}
    assert error(create(api, "web", every_field_dockerrun(privileged)))[2].endswith(
        "(containerDefinitions[0].privileged)"
    )
    assert len(active_task_definitions()) == 1
