"""layer0/fargate.py and the variant families of layer0/ids.py, without AWS (docs/compatibility.md#fargate-environments)."""

from __future__ import annotations

import pytest

from layer0 import fargate, ids
from layer0.errors import Layer0Error


def definition(*containers: dict, **task) -> dict:
    return {"containerDefinitions": list(containers), **task}


@pytest.mark.parametrize(
    ("task", "size"),
    [
        (definition({"memory": 128}), (256, 512)),
        (definition({"memory": 512}), (256, 512)),
        (definition({"memory": 513}), (256, 1024)),
        (definition({"memory": 2049}), (512, 3072)),  # cheaper than 1024 CPU units with 3 GiB
        (definition({"cpu": 1024, "memory": 128}), (1024, 2048)),
        (definition({"cpu": 300, "memoryReservation": 100}), (512, 1024)),
        (definition({"memory": 100}, {"memory": 100}, {"cpu": 600, "memory": 100}), (1024, 2048)),
        (definition({"memory": 128}, cpu="2048", memory="8192"), (2048, 8192)),
        (definition({"memory": 128}, cpu="0.5 vCPU", memory="1 GB"), (512, 1024)),
        (definition({"memory": 128}, memory="16384"), (2048, 16384)),
        (definition({"memory": 61440}), (8192, 61440)),
        (definition({"memory": 122880}), (16384, 122880)),
    ],
)
def test_the_size_is_the_tasks_own_or_the_cheapest_that_holds_the_containers(task, size):
    assert fargate.task_size(task) == size


@pytest.mark.parametrize(
    "task",
    [
        definition({"memory": 122881}),
        definition({"cpu": 16385}),
        definition({"memory": 128}, cpu="256", memory="4096"),
        definition({"memory": 128}, cpu="3 vCPU"),
        definition({"memory": 128}, memory="lots"),
        definition({"memory": 4096}, memory="2048"),
        definition({"cpu": 512}, cpu="256"),
    ],
)
def test_an_impossible_size_is_400_code_1_naming_every_valid_combination(task):
    with pytest.raises(Layer0Error) as raised:
        fargate.task_size(task)
    assert (raised.value.status, int(raised.value.code)) == (400, 1)
    for cpu in fargate.SIZES:
        assert f"cpu {cpu}: memory" in raised.value.message


def test_strategies():
    assert fargate.strategy(False) == [{"capacityProvider": "FARGATE", "weight": 1}]
    assert fargate.strategy(True) == [
        {"capacityProvider": "FARGATE", "base": 1, "weight": 0},
        {"capacityProvider": "FARGATE_SPOT", "weight": 1},
    ]


def test_a_variant_family_names_its_deploy_and_is_no_deploy_family():
    family = ids.fargate_family("web-app.7", "0123abcd")

    assert family == "l0-l0-web-app--fargate-7-0123abcd"
    assert ids.is_fargate_family(family) and not ids.is_fargate_family("l0-l0-web-app")
    assert ids.deploy_id(f"{family}:3") == "web-app.7"
    assert ids.deploy_id(f"arn:aws:ecs:us-west-2:123456789012:task-definition/{family}:1") == "web-app.7"
    assert ids.deploy_id("l0-l0-web-app:7") == "web-app.7"


def test_a_deploy_fargate_cannot_run_is_400_naming_what(monkeypatch):
    task = definition(
        {"name": "a", "links": ["b"], "privileged": True},
        volumes=[{"name": "v", "host": {"sourcePath": "/var/run"}}],
    )
    with pytest.raises(Layer0Error) as raised:
        fargate.variant_parameters("web.1", task)
    assert (raised.value.status, int(raised.value.code)) == (400, 1)
    for what in ("links", "privileged", "host.sourcePath"):
        assert what in raised.value.message


def test_a_variant_maps_host_ports_to_container_ports_and_is_stable(monkeypatch):
    monkeypatch.setattr(fargate, "execution_role_arn", lambda: "arn:aws:iam::123456789012:role/l0-l0-task-execution")
    task = definition(
        {"name": "a", "memory": 128, "portMappings": [{"hostPort": 8080, "containerPort": 80}, {"containerPort": 81}]},
        taskRoleArn="l0-l0-app",
    )

    parameters = fargate.variant_parameters("web.1", task)

    assert parameters["containerDefinitions"][0]["portMappings"] == [
        {"containerPort": 80, "hostPort": 80},
        {"containerPort": 81, "hostPort": 81},
    ]
    assert (parameters["networkMode"], parameters["requiresCompatibilities"]) == ("awsvpc", ["FARGATE"])
    assert (parameters["cpu"], parameters["memory"], parameters["taskRoleArn"]) == ("256", "512", "l0-l0-app")
    assert parameters["family"] == fargate.variant_parameters("web.1", task)["family"]
    assert parameters["family"] != fargate.variant_parameters("web.1", {**task, "cpu": "512"})["family"]
