"""How a service attaches to a load balancer (layer0.load_balancers.service_attachment), against moto's classic ELB."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from layer0 import load_balancers, settings
from layer0.load_balancers.backend import NO_MATCHING_CONTAINER
from layer0.errors import Layer0Error
from layer0.models import Tag
from layer0.stores import tags as tag_store
from tests.conftest import setup_client

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"  # the original Layer0's smoke-test fixtures


def classic_elb(load_balancer_id: str, instance_ports: list[int]) -> str:
    name = f"{settings.get().aws_name_prefix}{load_balancer_id}"
    setup_client("elb").create_load_balancer(
        LoadBalancerName=name,
        Listeners=[
            {"Protocol": "HTTP", "LoadBalancerPort": 8000 + port, "InstanceProtocol": "HTTP", "InstancePort": port}
            for port in instance_ports
        ],
        Subnets=list(settings.get().private_subnets),
        Scheme="internal",
    )
    return name


def task_definition(*containers: dict) -> dict:
    """An ECS taskDefinition as DescribeTaskDefinition returns it (only what the attachment reads)."""
    return {"family": "l0-l0-web", "revision": 1, "containerDefinitions": list(containers)}


def guestbook() -> dict:
    """The fixture deploy's container: guestbook, hostPort 80 -> containerPort 80."""
    [container] = json.loads((FIXTURES / "Service.Dockerrun.aws.json").read_text())["containerDefinitions"]
    return container


def test_the_first_container_listening_on_a_listener_instance_port(stack):
    name = classic_elb("weblb1234567", [80])

    attachment = load_balancers.service_attachment("weblb1234567", task_definition(guestbook()))

    # No role: ECS uses its service-linked role.
    assert attachment == [{"containerName": "guestbook", "containerPort": 80, "loadBalancerName": name}]


def test_host_port_matches_the_instance_port_and_the_container_port_is_taken_from_the_mapping(stack):
    name = classic_elb("weblb1234567", [8080, 9090])
    sidecar = {"name": "sidecar", "portMappings": [{"containerPort": 22, "hostPort": 2222}]}
    web = {"name": "web", "portMappings": [{"containerPort": 80, "hostPort": 9090}, {"containerPort": 81, "hostPort": 8080}]}
    other = {"name": "other", "portMappings": [{"containerPort": 80, "hostPort": 8080}]}

    loads = load_balancers.service_attachment("weblb1234567", task_definition(sidecar, web, other))

    # The first container with a match, and its first matching mapping.
    assert loads == [{"containerName": "web", "containerPort": 80, "loadBalancerName": name}]


def test_mappings_without_host_port_do_not_crash_and_do_not_match(stack):
    classic_elb("weblb1234567", [80])
    dynamic = {"name": "dynamic", "portMappings": [{"containerPort": 80}, {"containerPort": 80, "hostPort": 0}]}
    none = {"name": "none"}

    with pytest.raises(Layer0Error) as raised:
        load_balancers.service_attachment("weblb1234567", task_definition(dynamic, none))

    assert raised.value.status == 400
    assert raised.value.message == "No containers defined that listen on a port that is mapped by the load balancer"


def test_no_container_on_a_listener_port_is_400(stack):
    classic_elb("weblb1234567", [443])

    with pytest.raises(Layer0Error) as raised:
        load_balancers.service_attachment("weblb1234567", task_definition(guestbook()))

    assert (raised.value.status, raised.value.message) == (400, NO_MATCHING_CONTAINER)


def test_an_unknown_load_balancer_is_404_code_26(stack):
    with pytest.raises(Layer0Error) as raised:
        load_balancers.service_attachment("nosuchlb1234", task_definition(guestbook()))

    assert (raised.value.status, int(raised.value.code)) == (404, 26)
    assert "nosuchlb1234" in raised.value.message


def test_the_type_tag_chooses_the_backend(stack):
    classic_elb("weblb1234567", [80])
    tag_store.insert(Tag(entity_type="load_balancer", entity_id="weblb1234567", key="load_balancer_type", value="Classic"))
    [entry] = load_balancers.service_attachment("weblb1234567", task_definition(guestbook()))
    assert entry["loadBalancerName"] == "l0-l0-weblb1234567"

    # Tagged as an application load balancer, the classic ELB of that name is not what the service attaches to.
    tag_store.insert(Tag(entity_type="load_balancer", entity_id="weblb1234567", key="load_balancer_type", value="application"))
    with pytest.raises(Layer0Error) as raised:
        load_balancers.service_attachment("weblb1234567", task_definition(guestbook()))
    assert (raised.value.status, raised.value.code) == (404, 26)
