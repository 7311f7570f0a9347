"""Deploys (layer0.deploys, docs/compatibility.md#deploys): Dockerrun parsing (pure), the re-serialized dockerrun, and
the domain
functions against moto (tags, revisions, call counts)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from layer0 import deploys, settings
from layer0.errors import ErrorCode, Layer0Error
from layer0.models import CreateDeployRequest
from tests.conftest import setup_client

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"  # the original Layer0's smoke-test fixtures
AWSLOGS = {
    "logDriver": "awslogs",
    "options": {"awslogs-group": "l0-l0", "awslogs-region": "us-west-2", "awslogs-stream-prefix": "l0"},
}


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.Dockerrun.aws.json").read_bytes()


def document(value) -> bytes:
    return json.dumps(value).encode()


def parse_error(dockerrun: bytes, name: str = "web") -> Layer0Error:
    with pytest.raises(Layer0Error) as caught:
        deploys.parse(name, dockerrun)
    return caught.value


# --- parsing the three fixtures --------------------------------------------------------------------------------------


def test_service_fixture_guestbook_128_mib_port_80():
    parameters = deploys.parse("guestbook", fixture("Service"))
    assert parameters == {
        "family": "l0-l0-guestbook",
        "containerDefinitions": [
            {
                "name": "guestbook",
                "image": "quintilesims/guestbook:latest",
                "essential": True,
                "memory": 128,
                "portMappings": [{"hostPort": 80, "containerPort": 80}],
                "logConfiguration": AWSLOGS,
            }
        ],
    }


def test_task_fixture_entrypoint_command_and_environment():
    [container] = deploys.parse("alpine", fixture("Task"))["containerDefinitions"]
    # `entrypoint` in the file is ECS's `entryPoint`.
    assert container["entryPoint"] == ["/bin/sh", "-c"]
    assert container["command"] == ["$COMMAND"]
    assert container["environment"] == [{"name": "COMMAND", "value": "sleep 10"}]
    assert container["memory"] == 100
    assert "entrypoint" not in container


def test_long_running_fixture_and_the_elastic_beanstalk_version_key_is_ignored():
    parameters = deploys.parse("looper", fixture("LongRunning"))
    assert set(parameters) == {"family", "containerDefinitions"}
    [container] = parameters["containerDefinitions"]
    assert container["command"] == ["while true ; do echo LONG RUNNING SERVICE ; sleep 5 ; done"]
    assert container["entryPoint"] == ["/bin/sh", "-c"]


# --- case-insensitive keys at every level --------------------------------------------------------------------------


def test_keys_match_case_insensitively_at_every_level():
    parameters = deploys.parse(
        "web",
        document(
            {
                "CONTAINERDEFINITIONS": [
                    {
                        "Name": "web",
                        "IMAGE": "nginx",
                        "MemoryReservation": 64,
                        "PortMappings": [{"HOSTPORT": 8080, "containerport": 80, "Protocol": "tcp"}],
                        "DockerLabels": {"Team": "a"},  # map keys are data: kept as written
                        "Ulimits": [{"NAME": "nofile", "softLimit": 1024, "HardLimit": 2048}],
                        "MountPoints": [{"SourceVolume": "data", "containerPath": "/data", "ReadOnly": True}],
                        "LinuxParameters": {"Capabilities": {"ADD": ["NET_ADMIN"]}},
                    }
                ],
                "Volumes": [{"NAME": "data", "Host": {"SourcePath": "/var/data"}}],
                "NetworkMode": "bridge",
                "TaskRoleArn": "arn:aws:iam::123456789012:role/app",
                "PlacementConstraints": [{"Type": "memberOf", "EXPRESSION": "attribute:ecs.instance-type =~ t3.*"}],
                "Family": "l0-l0-web",
            }
        ),
    )
    assert parameters == {
        "family": "l0-l0-web",
        "containerDefinitions": [
            {
                "name": "web",
                "image": "nginx",
                "memoryReservation": 64,
                "portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}],
                "dockerLabels": {"Team": "a"},
                "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 2048}],
                "mountPoints": [{"sourceVolume": "data", "containerPath": "/data", "readOnly": True}],
                "linuxParameters": {"capabilities": {"add": ["NET_ADMIN"]}},
                "logConfiguration": AWSLOGS,
            }
        ],
        "volumes": [{"name": "data", "host": {"sourcePath": "/var/data"}}],
        "networkMode": "bridge",
        "taskRoleArn": "arn:aws:iam::123456789012:role/app",
        "placementConstraints": [{"type": "memberOf", "expression": "attribute:ecs.instance-type =~ t3.*"}],
    }


def test_the_task_level_cpu_and_memory_are_kept_for_fargate_sizes():
    """docs/compatibility.md#fargate-environments: a Fargate variant's size comes from them."""
    parameters = deploys.parse(
        "web", document({"CPU": "512", "memory": "1 GB", "containerDefinitions": [{"name": "web", "image": "nginx"}]})
    )
    assert (parameters["cpu"], parameters["memory"]) == ("512", "1 GB")


def test_unknown_keys_and_nulls_are_ignored_like_go_and_top_level_extras_never_reach_ecs():
    parameters = deploys.parse(
        "web",
        document(
            {
                "AWSEBDockerrunVersion": 2,
                "ipcMode": "host",  # a task-level field, not one of the Dockerrun keys Layer0 reads
                "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
                "volumes": None,
                "containerDefinitions": [{"name": "web", "image": "nginx", "memory": 32, "colour": "blue", "links": None}],
            }
        ),
    )
    assert parameters == {
        "family": "l0-l0-web",
        "containerDefinitions": [{"name": "web", "image": "nginx", "memory": 32, "logConfiguration": AWSLOGS}],
    }


# --- awslogs injection --------------------------------------------------------------------------------------------


def test_awslogs_is_injected_only_where_no_log_configuration_is_given(monkeypatch):
    monkeypatch.setenv("LAYER0_LOG_GROUP", "l0-team2")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    settings.get.cache_clear()
    own = {"LogDriver": "syslog", "Options": {"syslog-address": "udp://10.0.0.1:514"}}
    containers = deploys.parse(
        "web",
        document(
            {
                "containerDefinitions": [
                    {"name": "app", "image": "nginx", "memory": 32},
                    {"name": "sidecar", "image": "busybox", "memory": 16, "logConfiguration": own},
                ]
            }
        ),
    )["containerDefinitions"]
    assert containers[0]["logConfiguration"] == {
        "logDriver": "awslogs",
        "options": {"awslogs-group": "l0-team2", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "l0"},
    }
    assert containers[1]["logConfiguration"] == {"logDriver": "syslog", "options": {"syslog-address": "udp://10.0.0.1:514"}}


# --- the family rule and decode errors ------------------------------------------------------------------------------


def test_family_must_be_empty_or_the_layer0_family():
    containers = [{"name": "web", "image": "nginx", "memory": 32}]
    for family in ("", "l0-l0-web"):
        assert deploys.parse("web", document({"family": family, "containerDefinitions": containers}))["family"] == "l0-l0-web"
    error = parse_error(document({"family": "my-family", "containerDefinitions": containers}))
    assert (error.code, error.status) == (ErrorCode.InvalidJSON, 400)
    assert error.message == "Custom family names are currently unsupported in Layer0"
    # Another deploy's family is a custom family too.
    assert parse_error(document({"family": "l0-l0-other", "containerDefinitions": containers})).status == 400


@pytest.mark.parametrize(
    "dockerrun, fragment",
    [
        (b"", "Expecting value"),
        (b"{not json", "Expecting property name"),
        (b"\xff\xfe", "codec can't decode"),
        (b"[1, 2]", "must be a JSON object"),
        (document({"containerDefinitions": {"name": "web"}}), "containerDefinitions must be an array"),
        (document({"containerDefinitions": ["web"]}), "containerDefinitions[0] must be an object"),
        (document({"containerDefinitions": [{"name": "web", "portMappings": {"hostPort": 80}}]}), "portMappings must be an array"),
        (document({"containerDefinitions": [{"name": "web", "image": "nginx", "memory": "128"}]}), "memory"),
        (document({"containerDefinitions": [{"name": "web", "image": "nginx", "memory": 1, "command": "ls"}]}), "command"),
    ],
)
def test_undecodable_dockerruns_are_400_code_1(dockerrun, fragment):
    error = parse_error(dockerrun)
    assert (error.code, error.status) == (ErrorCode.InvalidJSON, 400)
    assert error.message.startswith("Failed to decode deploy: ")
    assert fragment in error.message


@pytest.mark.parametrize("value", [{}, {"containerDefinitions": []}, {"containerDefinitions": None}, {"AWSEBDockerrunVersion": 2}])
def test_a_deploy_without_containers_is_400(value):
    error = parse_error(document(value))
    assert (error.code, error.status) == (ErrorCode.InvalidJSON, 400)
    assert error.message == "Deploy must have at least one container definition"


# --- the re-serialized dockerrun ----------------------------------------------------------------------------------


def test_dockerrun_of_uses_go_field_names_with_nulls_and_omits_empty_top_level_keys():
    registered = {
        "taskDefinitionArn": "arn:aws:ecs:us-west-2:123456789012:task-definition/l0-l0-web:3",
        "family": "l0-l0-web",
        "revision": 3,
        "status": "ACTIVE",
        "containerDefinitions": [
            {"name": "web", "image": "nginx", "memory": 32, "portMappings": [{"hostPort": 80, "containerPort": 8080}]}
        ],
        "volumes": [],
        "placementConstraints": [],
        "networkMode": "bridge",
    }
    result = json.loads(deploys.dockerrun_of(registered))
    assert set(result) == {"containerDefinitions", "family", "networkMode"}
    assert result["family"] == "l0-l0-web" and result["networkMode"] == "bridge"
    [container] = result["containerDefinitions"]
    assert (container["Name"], container["Image"], container["Memory"]) == ("web", "nginx", 32)
    assert container["MemoryReservation"] is None and container["LogConfiguration"] is None
    [mapping] = container["PortMappings"]
    assert mapping["HostPort"] == 80 and mapping["ContainerPort"] == 8080 and mapping["Protocol"] is None
    assert all(key[0].isupper() for key in container)


def test_a_re_serialized_dockerrun_parses_back_to_the_same_definition():
    parameters = deploys.parse("alpine", fixture("Task"))
    registered = {"taskDefinitionArn": "arn:aws:ecs:r:1:task-definition/l0-l0-alpine:1", **parameters}
    assert deploys.parse("alpine", deploys.dockerrun_of(registered)) == parameters


# --- the domain against moto ----------------------------------------------------------------------------------------


def create(name: str, dockerrun: bytes):
    return deploys.create(CreateDeployRequest(deploy_name=name, dockerrun=base64.b64encode(dockerrun).decode()))


def test_create_registers_the_family_with_awslogs_and_tags_name_and_version(stack):
    deploy = create("guestbook", fixture("Service"))
    assert (deploy.deploy_id, deploy.deploy_name, deploy.version) == ("guestbook.1", "guestbook", "1")
    registered = setup_client("ecs").describe_task_definition(taskDefinition="l0-l0-guestbook:1")["taskDefinition"]
    [container] = registered["containerDefinitions"]
    assert container["memory"] == 128 and container["portMappings"][0]["hostPort"] == 80
    assert container["logConfiguration"] == AWSLOGS
    item = setup_client("dynamodb").get_item(
        TableName=settings.get().tag_table, Key={"EntityType": {"S": "deploy"}, "EntityID": {"S": "guestbook.1"}}
    )["Item"]
    assert item["Tags"]["M"] == {"name": {"S": "guestbook"}, "version": {"S": "1"}}
    assert "TimeToExist" not in item
    assert deploys.task_definition("guestbook.1")["family"] == "l0-l0-guestbook"
    # A deploy id without a revision means revision 1 (docs/compatibility.md#ids).
    assert deploys.task_definition("guestbook")["revision"] == 1


def test_task_definition_is_404_code_23_for_unknown_and_malformed_ids(stack):
    for deploy_id in ("nothing.1", "nothing", "a:b.1", "web.x", "", "../etc.1"):
        with pytest.raises(Layer0Error) as caught:
            deploys.task_definition(deploy_id)
        assert (caught.value.code, caught.value.status) == (ErrorCode.DeployDoesNotExist, 404), deploy_id


def test_list_is_one_query_whatever_the_number_of_deploys_and_the_reconcile_observes_the_same(stack):
    from benchmarks.calls import CallCounter

    for name in ("a", "b", "c"):
        create(name, fixture("LongRunning"))
    create("a", fixture("LongRunning"))
    # A family of another Layer0 instance, and one outside Layer0: not listed.
    for family in ("l0-other-x", "unrelated"):
        setup_client("ecs").register_task_definition(
            family=family, containerDefinitions=[{"name": "x", "image": "x", "memory": 8}]
        )
    with CallCounter() as counter, counter.measure() as calls:
        summaries = deploys.list_all()
    assert sorted((s.deploy_id, s.deploy_name, s.version) for s in summaries) == [
        ("a.1", "a", "1"), ("a.2", "a", "2"), ("b.1", "b", "1"), ("c.1", "c", "1"),
    ]  # fmt: skip
    assert calls == ["dynamodb.Query"]
    observed = sorted((r.fields["deploy_id"], r.fields["deploy_name"], r.fields["version"]) for r in deploys.observed_rows())
    assert observed == sorted((s.deploy_id, s.deploy_name, s.version) for s in summaries)


def test_create_makes_one_ecs_call_one_tag_write_and_one_row_write(stack):
    from benchmarks.calls import CallCounter

    with CallCounter() as counter, counter.measure() as calls:
        create("web", fixture("Service"))
    assert calls == ["ecs.RegisterTaskDefinition", "dynamodb.PutItem", "dynamodb.PutItem"]
    assert [s.deploy_id for s in deploys.list_all()] == ["web.1"]


def test_a_failed_tag_write_deregisters_the_new_revision(stack, monkeypatch):
    from layer0.stores import tags as tag_store

    def broken(*_args, **_kwargs):
        raise RuntimeError("DynamoDB is down")

    monkeypatch.setattr(tag_store, "claim", broken)
    with pytest.raises(RuntimeError):
        create("web", fixture("Service"))
    assert setup_client("ecs").list_task_definitions(status="ACTIVE")["taskDefinitionArns"] == []


def test_delete_deregisters_and_forgets_the_tags_and_a_second_delete_is_400_code_4(stack):
    create("web", fixture("Service"))
    deploys.delete("web.1")
    assert setup_client("ecs").list_task_definitions(status="ACTIVE")["taskDefinitionArns"] == []
    assert deploys.list_all() == []
    assert "Item" not in setup_client("dynamodb").get_item(
        TableName=settings.get().tag_table, Key={"EntityType": {"S": "deploy"}, "EntityID": {"S": "web.1"}}
    )
    with pytest.raises(Layer0Error) as caught:
        deploys.delete("web.1")
    assert (caught.value.code, caught.value.status) == (ErrorCode.InvalidDeployID, 400)
    assert caught.value.message == "Deploy with id 'web.1' does not exist"
    # Deleted: not found, though services that still run it can read it.
    with pytest.raises(Layer0Error) as missing:
        deploys.get("web.1")
    assert missing.value.code == ErrorCode.DeployDoesNotExist
    assert deploys.task_definition("web.1")["status"] == "INACTIVE"


def test_get_and_delete_call_counts(stack):
    from benchmarks.calls import CallCounter

    create("web", fixture("Service"))
    with CallCounter() as counter:
        with counter.measure() as get_calls:
            deploys.get("web.1")
        with counter.measure() as delete_calls:
            deploys.delete("web.1")
    assert get_calls == ["ecs.DescribeTaskDefinition", "dynamodb.GetItem"]
    # Described first, so that a deploy deleted before is told apart (moto deregisters an INACTIVE one again
    # without an error).
    # Its Fargate variants (one list; none here), the row, then the tags.
    assert delete_calls == [
        "ecs.DescribeTaskDefinition", "ecs.DeregisterTaskDefinition", "ecs.ListTaskDefinitionFamilies",
        "dynamodb.DeleteItem", "dynamodb.DeleteItem",
    ]  # fmt: skip


# --- the container policy setting ------------------------------------------------------------------------------------


def test_the_container_policy_setting_is_permissive_unless_strict():
    from layer0.settings import from_environment

    assert from_environment({}).container_policy == "permissive"
    assert from_environment({"LAYER0_CONTAINER_POLICY": "strict"}).container_policy == "strict"
    with pytest.raises(ValueError, match="LAYER0_CONTAINER_POLICY must be one of permissive, strict"):
        from_environment({"LAYER0_CONTAINER_POLICY": "lax"})
