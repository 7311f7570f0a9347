"""`/loadbalancer` over HTTP through the local gateway (docs/compatibility.md#load-balancers with
docs/compatibility.md#differences-on-purpose-and-why, issue 5), checked against what
lands in moto. Most scenarios run for both types: the classic ELB of the original Layer0 and the Application Load
Balancer (`load_balancer_type: "application"`).

The environment is made with POST /environment and the deploy with POST /deploy, as the l0 CLI does. Jobs (the
service's rollout, the delete) run in moto's Step Functions with the workflow-step function, as in test_services.py.
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from pathlib import Path

import pytest

from layer0 import settings
from layer0.stores import tags as tag_store
from local.certificates import self_signed
from local.resources import REGION
from tests.api.test_services import machines  # noqa: F401 - a fixture
from tests.conftest import setup_client
from tests.workflows.helpers import execution_arn, wait_for_end

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"  # the original Layer0's smoke-test fixtures
TYPES = ("classic", "application")
PREFIX = "l0-l0-"
# The smoke tests' certificate (docs/compatibility.md#smoke-scenarios: `--certificate l0-$LAYER0_PREFIX-api`).
CERTIFICATE_NAME = "l0-l0-api"


def check(target: str, interval: int, timeout: int, healthy: int, unhealthy: int) -> dict:
    """A HealthCheck as the API takes and shows it."""
    return {
        "target": target,
        "interval": interval,
        "timeout": timeout,
        "healthy_threshold": healthy,
        "unhealthy_threshold": unhealthy,
    }


DEFAULT_HEALTH_CHECK = check("TCP:80", 30, 5, 2, 2)


# --- helpers --------------------------------------------------------------------------------------------------------


def port(host: int, container: int, protocol: str, certificate_name: str = "", certificate_arn: str = "") -> dict:
    """A Port as GET shows it (and as the CLI sends it, with the certificate fields empty)."""
    return {
        "host_port": host,
        "container_port": container,
        "protocol": protocol,
        "certificate_name": certificate_name,
        "certificate_arn": certificate_arn,
    }


def body(environment_id: str, name: str, kind: str | None, **fields) -> dict:
    """A create request; `kind` None leaves `load_balancer_type` out, as the l0 CLI does."""
    request = {"load_balancer_name": name, "environment_id": environment_id, **fields}
    if kind is not None:
        request["load_balancer_type"] = kind
    return request


def create(api, environment_id: str, name: str, kind: str | None, **fields):
    return api.post("/loadbalancer/", json=body(environment_id, name, kind, **fields))


def created(api, environment_id: str, name: str, kind: str | None, **fields) -> dict:
    response = create(api, environment_id, name, kind, **fields)
    assert response.status_code == 200, response.text
    return response.json()


def put(api, path: str, payload: dict):
    return api.request("PUT", path, json=payload)


def error(response) -> tuple[int, int, str]:
    payload = response.json()
    return response.status_code, payload["error_code"], payload["message"]


def create_environment(api, name: str) -> str:
    response = api.post(
        "/environment/", json={"environment_name": name, "operating_system": "linux", "instance_size": "t3.small"}
    )
    assert response.status_code == 200, response.text
    return response.json()["environment_id"]


def group(name: str) -> dict | None:
    found = setup_client("ec2").describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])
    return found["SecurityGroups"][0] if found["SecurityGroups"] else None


def environment_group_id(environment_id: str) -> str:
    return group(f"{PREFIX}{environment_id}-env")["GroupId"]


def ingress_ports(load_balancer_id: str) -> list[tuple[str, int, int, list[str]]]:
    """The public `-lb` group's ingress: (protocol, from, to, CIDRs), sorted."""
    found = group(f"{PREFIX}{load_balancer_id}-lb")
    return sorted(
        (p["IpProtocol"], p["FromPort"], p["ToPort"], sorted(r["CidrIp"] for r in p.get("IpRanges", [])))
        for p in found["IpPermissions"]
    )


def classic_description(load_balancer_id: str) -> dict:
    [description] = setup_client("elb").describe_load_balancers(LoadBalancerNames=[PREFIX + load_balancer_id])[
        "LoadBalancerDescriptions"
    ]
    return description


def application_description(load_balancer_id: str) -> dict:
    [description] = setup_client("elbv2").describe_load_balancers(Names=[PREFIX + load_balancer_id])["LoadBalancers"]
    return description


def aws_security_groups(kind: str, load_balancer_id: str) -> list[str]:
    if kind == "classic":
        return classic_description(load_balancer_id)["SecurityGroups"]
    return application_description(load_balancer_id)["SecurityGroups"]


def aws_scheme(kind: str, load_balancer_id: str) -> str:
    if kind == "classic":
        return classic_description(load_balancer_id)["Scheme"]
    return application_description(load_balancer_id)["Scheme"]


def routes(load_balancer_id: str) -> dict[int, tuple[dict, dict]]:
    """An application load balancer's listeners by port, each with the target group it forwards to."""
    elbv2 = setup_client("elbv2")
    arn = application_description(load_balancer_id)["LoadBalancerArn"]
    found = {}
    for listener in elbv2.describe_listeners(LoadBalancerArn=arn)["Listeners"]:
        [action] = listener["DefaultActions"]
        assert action["Type"] == "forward"
        target_group_arn = action.get("TargetGroupArn") or action["ForwardConfig"]["TargetGroups"][0]["TargetGroupArn"]
        [target_group] = elbv2.describe_target_groups(TargetGroupArns=[target_group_arn])["TargetGroups"]
        found[listener["Port"]] = (listener, target_group)
    return found


def classic_attributes(load_balancer_id: str) -> dict:
    elb = setup_client("elb")
    return elb.describe_load_balancer_attributes(LoadBalancerName=PREFIX + load_balancer_id)["LoadBalancerAttributes"]


def application_attributes(load_balancer_id: str) -> dict[str, str]:
    arn = application_description(load_balancer_id)["LoadBalancerArn"]
    attributes = setup_client("elbv2").describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
    return {a["Key"]: a["Value"] for a in attributes}


def target_group_check_target(target_group: dict) -> tuple[str, str, str]:
    return target_group["HealthCheckProtocol"], target_group["HealthCheckPort"], target_group.get("HealthCheckPath", "")


def role_policy(role: str) -> dict:
    document = setup_client("iam").get_role_policy(RoleName=role, PolicyName=role)["PolicyDocument"]
    return json.loads(urllib.parse.unquote(document)) if isinstance(document, str) else document


def lb_roles() -> list[str]:
    return sorted(r["RoleName"] for r in setup_client("iam").list_roles()["Roles"] if r["RoleName"].endswith("-lb"))


def resources(api) -> dict[str, list]:
    """Everything a load balancer create makes, by name: to show that a refused create made nothing."""
    elb, elbv2, ec2 = setup_client("elb"), setup_client("elbv2"), setup_client("ec2")
    return {
        "classic": sorted(d["LoadBalancerName"] for d in elb.describe_load_balancers()["LoadBalancerDescriptions"]),
        "application": sorted(lb["LoadBalancerName"] for lb in elbv2.describe_load_balancers()["LoadBalancers"]),
        "target_groups": sorted(tg["TargetGroupName"] for tg in elbv2.describe_target_groups()["TargetGroups"]),
        "security_groups": sorted(
            g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"] if g["GroupName"].endswith("-lb")
        ),
        "roles": lb_roles(),
        "tags": sorted(json.dumps(e, sort_keys=True) for e in api.get("/tag?type=load_balancer").json()),
        "name_claims": sorted(t.entity_id for t in tag_store.select_by_type("load_balancer_name")),
    }


def api_certificate_arn() -> str:
    """The self-signed IAM server certificate the stack seeds, as the original API had (`l0-<prefix>-api`)."""
    return setup_client("iam").get_server_certificate(ServerCertificateName=CERTIFICATE_NAME)["ServerCertificate"][
        "ServerCertificateMetadata"
    ]["Arn"]


def import_acm_certificate() -> str:
    certificate, key = self_signed()  # RSA key generation is slow: one per process
    return setup_client("acm").import_certificate(Certificate=certificate.encode(), PrivateKey=key.encode())[
        "CertificateArn"
    ]


# --- fixtures -------------------------------------------------------------------------------------------------------


@pytest.fixture
def environment(api) -> str:
    """The smoke tests' environment `test`: its id."""
    return create_environment(api, "test")




def record_calls(*services: str):
    """A fixture: the parameters of every call the API makes to these AWS services, [(operation, params)]."""

    @pytest.fixture
    def recorded():
        from layer0 import aws

        calls: list[tuple[str, dict]] = []

        def record(params, model, **_):
            calls.append((model.name, dict(params)))

        for service in services:
            aws.client(service).meta.events.register(f"provide-client-params.{service}", record)
        yield calls
        for service in services:
            aws.client(service).meta.events.unregister(f"provide-client-params.{service}", record)

    return recorded


sent_to_ecs = record_calls("ecs")
# moto's classic ELB answers every listener's InstanceProtocol with its Protocol: what was sent is checked instead.
sent_to_elb = record_calls("elb")


# --- create ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", TYPES)
def test_create_with_the_cli_body_makes_a_public_load_balancer(api, environment, kind):
    health_check = check("HTTP:80/health", 30, 5, 2, 3)
    request = body(
        environment,
        "loadbalancer1",
        kind,
        is_public=True,
        ports=[
            {"host_port": 80, "container_port": 80, "protocol": "http", "certificate_name": ""},
            {"host_port": 8080, "container_port": 8000, "protocol": "HTTP", "certificate_name": ""},
        ],
        health_check=health_check,
        idle_timeout=120,
        cross_zone=False,
    )

    response = api.post("/loadbalancer", json=request)

    assert response.status_code == 200, response.text
    lb = response.json()
    load_balancer_id = lb.pop("load_balancer_id")
    assert len(load_balancer_id) == 12 and load_balancer_id.startswith("loadbal")
    assert lb.pop("url")  # docs/compatibility.md#differences-on-purpose-and-why: the create response carries the url
    assert lb == {
        "load_balancer_name": "loadbalancer1",
        "load_balancer_type": kind,
        "environment_id": environment,
        "environment_name": "test",
        "is_public": True,
        "ports": [port(80, 80, "http"), port(8080, 8000, "http")],
        "health_check": health_check,
        "idle_timeout": 120,
        "cross_zone": False,
        "service_id": "",
        "service_name": "",
    }
    # GET agrees with the create's answer.
    assert api.get(f"/loadbalancer/{load_balancer_id}").json() == response.json()
    # AWS: internet-facing, its own group open on exactly the listener ports, plus the environment's group.
    own_group = group(f"{PREFIX}{load_balancer_id}-lb")
    assert own_group["Description"] == "Auto-generated Layer0 Load Balancer Security Group"
    assert own_group["VpcId"] == settings.get().vpc_id
    assert ingress_ports(load_balancer_id) == [("tcp", 80, 80, ["0.0.0.0/0"]), ("tcp", 8080, 8080, ["0.0.0.0/0"])]
    assert sorted(aws_security_groups(kind, load_balancer_id)) == sorted(
        [own_group["GroupId"], environment_group_id(environment)]
    )
    assert aws_scheme(kind, load_balancer_id) == "internet-facing"
    if kind == "classic":
        description = classic_description(load_balancer_id)
        assert sorted(description["Subnets"]) == sorted(settings.get().public_subnets)
        assert sorted(
            (d["Listener"]["Protocol"], d["Listener"]["LoadBalancerPort"], d["Listener"]["InstancePort"])
            for d in description["ListenerDescriptions"]
        ) == [("HTTP", 80, 80), ("HTTP", 8080, 8000)]
        assert description["HealthCheck"] == {
            "Target": "HTTP:80/health", "Interval": 30, "Timeout": 5, "HealthyThreshold": 2, "UnhealthyThreshold": 3
        }  # fmt: skip
        attributes = classic_attributes(load_balancer_id)
        assert attributes["ConnectionSettings"] == {"IdleTimeout": 120}
        assert attributes["CrossZoneLoadBalancing"] == {"Enabled": False}
        # ECS registers the service's instances through its service-linked role: Layer0 creates no `-lb` role.
        assert lb_roles() == []
    else:
        description = application_description(load_balancer_id)
        assert description["Type"] == "application"
        assert sorted(zone["SubnetId"] for zone in description["AvailabilityZones"]) == sorted(
            settings.get().public_subnets
        )
        found = routes(load_balancer_id)
        assert sorted(found) == [80, 8080]
        for listener_port, container_port in ((80, 80), (8080, 8000)):
            listener, target_group = found[listener_port]
            assert listener["Protocol"] == "HTTP"
            assert (target_group["Port"], target_group["Protocol"], target_group["VpcId"]) == (
                container_port, "HTTP", settings.get().vpc_id
            )  # fmt: skip
            # HTTP:80/health maps onto the target group's health check.
            assert target_group_check_target(target_group) == ("HTTP", "80", "/health")
            assert (
                target_group["HealthCheckIntervalSeconds"],
                target_group["HealthCheckTimeoutSeconds"],
                target_group["HealthyThresholdCount"],
                target_group["UnhealthyThresholdCount"],
            ) == (30, 5, 2, 3)
        assert application_attributes(load_balancer_id)["idle_timeout.timeout_seconds"] == "120"
        # ECS uses its service-linked role for an ALB too: no `-lb` role.
        assert lb_roles() == []
    # Tags: name, environment and type.
    assert {t.key: t.value for t in tag_store.select_by_type_and_id("load_balancer", load_balancer_id)} == {
        "name": "loadbalancer1",
        "environment_id": environment,
        "load_balancer_type": kind,
    }


@pytest.mark.parametrize("kind", [None, "classic", "application"])
def test_a_body_with_only_name_and_environment_gets_the_cli_defaults(api, environment, kind):
    lb = created(api, environment, "defaults", kind)

    expected_type = kind or "classic"
    assert lb["load_balancer_type"] == expected_type
    assert lb["ports"] == [port(80, 80, "tcp" if expected_type == "classic" else "http")]
    assert lb["health_check"] == DEFAULT_HEALTH_CHECK
    assert (lb["idle_timeout"], lb["cross_zone"], lb["is_public"]) == (60, True, False)
    assert lb["url"]
    assert api.get(f"/loadbalancer/{lb['load_balancer_id']}").json() == lb


# --- get and list ---------------------------------------------------------------------------------------------------


def test_list_shows_both_types_with_names_and_environment_names(api, environment):
    other = create_environment(api, "other")
    # Request keys match case-insensitively.
    cased = api.post(
        "/loadbalancer",
        json={"Load_Balancer_Name": "lb-classic", "ENVIRONMENT_ID": environment,
              "Ports": [{"Host_Port": 81, "container_port": 81, "PROTOCOL": "http"}]},
    )  # fmt: skip
    assert cased.status_code == 200, cased.text
    classic = cased.json()
    assert classic["ports"] == [port(81, 81, "http")]
    application = created(api, other, "lb-application", "application")

    response = api.get("/loadbalancer/")

    assert response.status_code == 200
    assert sorted(response.json(), key=lambda s: s["load_balancer_name"]) == [
        {"load_balancer_id": application["load_balancer_id"], "load_balancer_name": "lb-application",
         "environment_id": other, "environment_name": "other", "load_balancer_type": "application"},
        {"load_balancer_id": classic["load_balancer_id"], "load_balancer_name": "lb-classic",
         "environment_id": environment, "environment_name": "test", "load_balancer_type": "classic"},
    ]  # fmt: skip
    assert api.get("/loadbalancer").json() == response.json()


def test_an_unknown_load_balancer_is_404_code_26(api):
    for method, path, payload in (
        ("GET", "/loadbalancer/nosuchlb1234", None),
        ("DELETE", "/loadbalancer/nosuchlb1234", None),
        ("PUT", "/loadbalancer/nosuchlb1234/ports", {"ports": [port(80, 80, "http")]}),
        ("PUT", "/loadbalancer/nosuchlb1234/healthcheck", {"health_check": DEFAULT_HEALTH_CHECK}),
        ("PUT", "/loadbalancer/nosuchlb1234/idletimeout", {"health_check": 60}),
        ("PUT", "/loadbalancer/nosuchlb1234/crosszone", {"cross_zone": True}),
    ):
        response = api.request(method, path, json=payload)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json() == {"error_code": 26, "message": "Load balancer with id 'nosuchlb1234' does not exist"}


# --- updates --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", TYPES)
def test_add_and_drop_a_port_and_the_public_group_follows(api, environment, kind):
    lb = created(api, environment, "loadbalancer1", kind, is_public=True)
    load_balancer_id = lb["load_balancer_id"]
    default = lb["ports"]
    assert ingress_ports(load_balancer_id) == [("tcp", 80, 80, ["0.0.0.0/0"])]

    # `l0 loadbalancer addport loadbalancer1 8000:8000/http`: the current ports and the new one.
    added = put(api, f"/loadbalancer/{load_balancer_id}/ports", {"ports": default + [port(8000, 8000, "http")]})

    assert added.status_code == 200, added.text
    assert added.json()["ports"] == default + [port(8000, 8000, "http")]
    assert api.get(f"/loadbalancer/{load_balancer_id}").json() == added.json()
    assert ingress_ports(load_balancer_id) == [("tcp", 80, 80, ["0.0.0.0/0"]), ("tcp", 8000, 8000, ["0.0.0.0/0"])]
    if kind == "application":
        assert sorted(routes(load_balancer_id)) == [80, 8000]
        assert routes(load_balancer_id)[8000][1]["Port"] == 8000
    else:
        listeners = classic_description(load_balancer_id)["ListenerDescriptions"]
        assert sorted(d["Listener"]["LoadBalancerPort"] for d in listeners) == [80, 8000]

    # `l0 loadbalancer dropport loadbalancer1 8000`.
    dropped = put(api, f"/loadbalancer/{load_balancer_id}/ports", {"ports": default})

    assert dropped.status_code == 200, dropped.text
    assert dropped.json()["ports"] == default
    assert api.get(f"/loadbalancer/{load_balancer_id}").json() == dropped.json()
    assert ingress_ports(load_balancer_id) == [("tcp", 80, 80, ["0.0.0.0/0"])]
    if kind == "application":
        assert sorted(routes(load_balancer_id)) == [80]
        # The dropped port's target group went with its listener.
        assert len(setup_client("elbv2").describe_target_groups()["TargetGroups"]) == 1

    # A bad port set changes nothing.
    refused = put(api, f"/loadbalancer/{load_balancer_id}/ports", {"ports": default + [port(9000, 9000, "udp")]})
    assert (refused.status_code, refused.json()["error_code"]) == (400, 1)
    assert "Protocol 'udp' is not valid" in refused.json()["message"]
    assert api.get(f"/loadbalancer/{load_balancer_id}").json()["ports"] == default
    assert ingress_ports(load_balancer_id) == [("tcp", 80, 80, ["0.0.0.0/0"])]


@pytest.mark.parametrize("kind", TYPES)
def test_health_check_each_field_and_a_tcp_target_round_trip(api, environment, kind):
    lb = created(api, environment, "loadbalancer3", kind, health_check=DEFAULT_HEALTH_CHECK)
    path = f"/loadbalancer/{lb['load_balancer_id']}/healthcheck"
    assert lb["health_check"] == DEFAULT_HEALTH_CHECK

    # `l0 loadbalancer healthcheck --set-target TCP:88 --set-interval 45 ...`: the CLI sends the whole check with
    # one field changed; each change is answered with the updated load balancer.
    current = dict(DEFAULT_HEALTH_CHECK)
    edits = (("target", "TCP:88"), ("interval", 45), ("timeout", 10), ("healthy_threshold", 5), ("unhealthy_threshold", 3))
    for field, value in edits:
        current[field] = value
        response = put(api, path, {"health_check": current})
        assert response.status_code == 200, (field, response.text)
        assert response.json()["health_check"] == current, field
    assert api.get(f"/loadbalancer/{lb['load_balancer_id']}").json() == response.json()
    assert current == check("TCP:88", 45, 10, 5, 3)
    if kind == "application":
        # An ALB's target group has no TCP check: "the port answers at all" over HTTP, read back as TCP:88.
        [(_, target_group)] = routes(lb["load_balancer_id"]).values()
        assert target_group_check_target(target_group) == ("HTTP", "88", "/")

    # An HTTP target with a path.
    http = dict(current, target="HTTP:80/health")
    assert put(api, path, {"health_check": http}).json()["health_check"] == http
    if kind == "classic":
        assert classic_description(lb["load_balancer_id"])["HealthCheck"]["Target"] == "HTTP:80/health"
    else:
        [(_, target_group)] = routes(lb["load_balancer_id"]).values()
        assert target_group_check_target(target_group) == ("HTTP", "80", "/health")
        assert target_group["HealthCheckIntervalSeconds"] == 45

    # Bad checks are 400 and change nothing.
    for bad in (dict(http, interval=0), dict(http, target="FOO:80"), {}):
        refused = put(api, path, {"health_check": bad})
        assert refused.status_code == 400, bad
        assert refused.json()["error_code"] in (1, 19), bad
    assert api.get(f"/loadbalancer/{lb['load_balancer_id']}").json()["health_check"] == http


@pytest.mark.parametrize("kind", TYPES)
def test_idle_timeout_and_cross_zone(api, environment, kind):
    # `l0 loadbalancer create --disable-cross-zone loadbalancer5`
    lb = created(api, environment, "loadbalancer5", kind, cross_zone=False)
    assert lb["cross_zone"] is False
    path = f"/loadbalancer/{lb['load_balancer_id']}/idletimeout"

    # The l0 CLI and the Terraform provider send the seconds under `health_check` (docs/compatibility.md#json-fields,
    # sic).
    legacy = put(api, path, {"health_check": 120})
    assert legacy.status_code == 200, legacy.text
    assert legacy.json()["idle_timeout"] == 120
    assert api.get(f"/loadbalancer/{lb['load_balancer_id']}").json() == legacy.json()

    named = put(api, path, {"idle_timeout": 300})
    assert named.status_code == 200, named.text
    assert named.json()["idle_timeout"] == 300
    assert api.get(f"/loadbalancer/{lb['load_balancer_id']}").json()["idle_timeout"] == 300
    if kind == "classic":
        assert classic_attributes(lb["load_balancer_id"])["ConnectionSettings"] == {"IdleTimeout": 300}
    else:
        assert application_attributes(lb["load_balancer_id"])["idle_timeout.timeout_seconds"] == "300"

    for bad in ({"health_check": 0}, {"idle_timeout": -5}, {"idle_timeout": 100000}):
        refused = put(api, path, bad)
        assert refused.status_code == 400, bad
        assert refused.json()["error_code"] in (1, 19), bad
    assert api.get(f"/loadbalancer/{lb['load_balancer_id']}").json()["idle_timeout"] == 300

    # `l0 loadbalancer cross-zone --enable`, then `--disable`.
    for enabled in (True, False):
        response = put(api, f"/loadbalancer/{lb['load_balancer_id']}/crosszone", {"cross_zone": enabled})
        assert response.status_code == 200, response.text
        assert response.json()["cross_zone"] is enabled
        assert response.json()["idle_timeout"] == 300
        if kind == "classic":
            assert classic_attributes(lb["load_balancer_id"])["CrossZoneLoadBalancing"] == {"Enabled": enabled}
    assert api.get(f"/loadbalancer/{lb['load_balancer_id']}").json() == response.json()


# --- certificates ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", TYPES)
def test_a_private_load_balancer_with_https_by_certificate_name_or_arn(api, environment, sent_to_elb, kind):
    iam_arn = api_certificate_arn()
    acm_arn = import_acm_certificate()

    # `l0 loadbalancer create --port 80:80/http --port 443:443/https --private --certificate l0-l0-api \
    #      test loadbalancer2`
    by_name = created(
        api, environment, "loadbalancer2", kind, is_public=False,
        ports=[{"host_port": 80, "container_port": 80, "protocol": "http", "certificate_name": ""},
               {"host_port": 443, "container_port": 443, "protocol": "https", "certificate_name": CERTIFICATE_NAME}],
    )  # fmt: skip
    by_arn = created(
        api, environment, "byarn", kind, is_public=False,
        ports=[{"host_port": 443, "container_port": 80, "protocol": "https", "certificate_arn": iam_arn},
               {"host_port": 8443, "container_port": 8080, "protocol": "HTTPS", "certificate_arn": acm_arn}],
    )  # fmt: skip

    assert by_name["ports"] == [
        port(80, 80, "http"),
        port(443, 443, "https", certificate_name=CERTIFICATE_NAME, certificate_arn=iam_arn),
    ]
    assert by_arn["ports"] == [
        port(443, 80, "https", certificate_name=CERTIFICATE_NAME, certificate_arn=iam_arn),
        port(8443, 8080, "https", certificate_name=acm_arn.rsplit("/", 1)[-1], certificate_arn=acm_arn),
    ]
    for lb in (by_name, by_arn):
        assert api.get(f"/loadbalancer/{lb['load_balancer_id']}").json() == lb
    # Private: internal, in the private subnets, with the environment's group only and no group of its own.
    load_balancer_id = by_name["load_balancer_id"]
    assert by_name["is_public"] is False
    assert aws_scheme(kind, load_balancer_id) == "internal"
    assert aws_security_groups(kind, load_balancer_id) == [environment_group_id(environment)]
    assert group(f"{PREFIX}{load_balancer_id}-lb") is None
    if kind == "classic":
        assert sorted(classic_description(load_balancer_id)["Subnets"]) == sorted(settings.get().private_subnets)
    else:
        zones = application_description(load_balancer_id)["AvailabilityZones"]
        assert sorted(zone["SubnetId"] for zone in zones) == sorted(settings.get().private_subnets)
    # TLS terminates at the load balancer: the instances speak HTTP.
    if kind == "classic":
        listeners = {
            d["Listener"]["LoadBalancerPort"]: d["Listener"]
            for d in classic_description(by_name["load_balancer_id"])["ListenerDescriptions"]
        }
        assert (listeners[443]["Protocol"], listeners[443]["SSLCertificateId"]) == ("HTTPS", iam_arn)
        [first, _second] = [params for operation, params in sent_to_elb if operation == "CreateLoadBalancer"]
        assert first["Listeners"] == [
            {"Protocol": "HTTP", "LoadBalancerPort": 80, "InstanceProtocol": "HTTP", "InstancePort": 80},
            {"Protocol": "HTTPS", "LoadBalancerPort": 443, "InstanceProtocol": "HTTP", "InstancePort": 443,
             "SSLCertificateId": iam_arn},
        ]  # fmt: skip
    else:
        listener, target_group = routes(by_name["load_balancer_id"])[443]
        assert listener["Protocol"] == "HTTPS"
        assert [c["CertificateArn"] for c in listener["Certificates"]] == [iam_arn]
        assert (target_group["Protocol"], target_group["Port"]) == ("HTTP", 443)
        listener, _ = routes(by_arn["load_balancer_id"])[8443]
        assert [c["CertificateArn"] for c in listener["Certificates"]] == [acm_arn]
    # A port change of a private load balancer opens no group either; the certificate stays.
    response = put(api, f"/loadbalancer/{load_balancer_id}/ports", {"ports": by_name["ports"] + [port(81, 81, "http")]})
    assert response.status_code == 200, response.text
    assert response.json()["ports"] == [by_name["ports"][0], port(81, 81, "http"), by_name["ports"][1]]  # by host port
    assert group(f"{PREFIX}{load_balancer_id}-lb") is None


# --- bad input: 400, nothing created ----------------------------------------------------------------------------------

HTTPS_NO_CERTIFICATE = [port(443, 443, "https")]
UNKNOWN_ACM_ARN = f"arn:aws:acm:{REGION}:123456789012:certificate/0f0e0d0c-0000-4000-8000-000000000000"
BAD_CREATES = {
    "invalid protocol": ({"ports": [port(80, 80, "udp")]}, 1, "Protocol 'udp' is not valid"),
    "unknown certificate name": (
        {"ports": [port(443, 443, "https", certificate_name="nosuchcert")]}, 3,
        "Certificate with name 'nosuchcert' does not exist",
    ),
    "unknown IAM certificate ARN": (
        {"ports": [port(443, 443, "https", certificate_arn="arn:aws:iam::123456789012:server-certificate/nosuch")]}, 2,
        "Certificate with ARN 'arn:aws:iam::123456789012:server-certificate/nosuch' does not exist",
    ),
    "unknown ACM certificate ARN": (
        {"ports": [port(443, 443, "https", certificate_arn=UNKNOWN_ACM_ARN)]}, 2,
        f"Certificate with ARN '{UNKNOWN_ACM_ARN}' does not exist",
    ),
    "HTTPS without a certificate": ({"ports": HTTPS_NO_CERTIFICATE}, 1, "needs a certificate"),
    "no ports": ({"ports": []}, 1, "one port at least"),
    "port 0": ({"ports": [port(0, 80, "http")]}, 1, "host_port 0 is not valid"),
    "interval 0": ({"health_check": dict(DEFAULT_HEALTH_CHECK, interval=0)}, 1, "interval 0 is not valid"),
    "timeout 0": ({"health_check": dict(DEFAULT_HEALTH_CHECK, timeout=0)}, 1, "timeout 0 is not valid"),
    "healthy threshold 0": (
        {"health_check": dict(DEFAULT_HEALTH_CHECK, healthy_threshold=0)}, 1, "healthy_threshold 0 is not valid"
    ),
    "unhealthy threshold 0": (
        {"health_check": dict(DEFAULT_HEALTH_CHECK, unhealthy_threshold=0)}, 1, "unhealthy_threshold 0 is not valid"
    ),
    "all-zero health check": ({"health_check": check("TCP:80", 0, 0, 0, 0)}, 1, "is not valid"),
    "bad health check target": (
        {"health_check": dict(DEFAULT_HEALTH_CHECK, target="FOO:80")}, 1, "Health check target 'FOO:80' is not valid"
    ),
    "HTTP target without a path": (
        {"health_check": dict(DEFAULT_HEALTH_CHECK, target="HTTP:80")}, 1, "Health check target 'HTTP:80'"
    ),
    "idle timeout 0": ({"idle_timeout": 0}, 1, "Idle timeout 0 is not valid"),
    "unknown type": ({"load_balancer_type": "network"}, 1, "Load balancer type 'network' is not valid"),
    "unknown environment": ({"environment_id": "nosuchenv123"}, 6, "nosuchenv123"),
    "missing name": ({"load_balancer_name": ""}, 19, "Parameter 'load_balancer_name' is required"),
    "missing environment": ({"environment_id": ""}, 19, "Parameter 'environment_id' is required"),
    "a string for a port": ({"ports": [{"host_port": "eighty", "container_port": 80, "protocol": "http"}]}, 1, ""),
}


# An application load balancer speaks HTTP and HTTPS only.
BAD_APPLICATION_CREATES = {
    "TCP": ({"ports": [port(80, 80, "tcp")]}, 1, "Protocol 'tcp' is not valid"),
    "SSL": ({"ports": [port(443, 443, "ssl", certificate_name=CERTIFICATE_NAME)]}, 1, "Protocol 'ssl' is not valid"),
}


@pytest.mark.parametrize("kind", TYPES)
def test_bad_creates_are_400_and_create_nothing(api, environment, kind):
    """Every case in one test (a stack per case is slow); each case has its own name, so that anything left
    behind names its case."""
    cases = {**BAD_CREATES, **(BAD_APPLICATION_CREATES if kind == "application" else {})}
    before = resources(api)
    assert before["security_groups"] == [] and before["tags"] == []

    for index, (case, (fields, code, message)) in enumerate(cases.items()):
        request = {**body(environment, f"bad{index}", kind, is_public=True), **fields}

        response = api.post("/loadbalancer", json=request)

        assert response.status_code == 400, (case, response.text)
        assert response.json()["error_code"] == code, (case, response.text)
        assert message in response.json()["message"], (case, response.text)
    assert resources(api) == before
    assert api.get("/loadbalancer").json() == []


@pytest.mark.parametrize("kind", TYPES)
def test_a_duplicate_name_in_an_environment_is_400_code_11(api, environment, kind):
    first = created(api, environment, "loadbalancer1", kind, is_public=True)
    before = resources(api)

    # The same name is taken whatever the type asked for.
    for again_kind in TYPES:
        response = create(api, environment, "loadbalancer1", again_kind, is_public=True)
        assert error(response) == (
            400, 11, f"Load balancer with name 'loadbalancer1' already exists in environment '{environment}'"
        )  # fmt: skip
    assert resources(api) == before
    assert api.get(f"/loadbalancer/{first['load_balancer_id']}").json() == first
    # The same name in another environment is another load balancer.
    other = create_environment(api, "other")
    second = created(api, other, "loadbalancer1", kind, is_public=True)
    assert second["load_balancer_id"] != first["load_balancer_id"]
    assert sorted(s["environment_name"] for s in api.get("/loadbalancer").json()) == ["other", "test"]


@pytest.fixture
def overlapping_public_subnets(stack, monkeypatch):
    """The public subnets: the first configured one and another subnet in the same availability zone."""
    ec2 = setup_client("ec2")
    first = settings.get().public_subnets[0]
    [subnet] = ec2.describe_subnets(SubnetIds=[first])["Subnets"]
    extra = ec2.create_subnet(
        VpcId=subnet["VpcId"], CidrBlock="10.0.100.0/24", AvailabilityZone=subnet["AvailabilityZone"]
    )
    monkeypatch.setenv("LAYER0_AWS_PUBLIC_SUBNETS", f"{first},{extra['Subnet']['SubnetId']}")
    settings.get.cache_clear()
    return subnet["AvailabilityZone"]


@pytest.mark.parametrize("kind", TYPES)
def test_public_subnets_overlapping_in_one_zone_are_400(api, environment, overlapping_public_subnets, kind):
    before = resources(api)

    response = create(api, environment, "overlap", kind, is_public=True)

    status, code, message = error(response)
    assert (status, code) == (400, 1)
    assert f"overlap in availability zone {overlapping_public_subnets}" in message
    assert resources(api) == before
    # The private subnets are fine.
    assert create(api, environment, "overlap", kind, is_public=False).status_code == 200


def test_an_application_load_balancer_in_one_subnet_is_400(api, environment, monkeypatch):
    monkeypatch.setenv("LAYER0_AWS_PUBLIC_SUBNETS", settings.get().public_subnets[0])
    settings.get.cache_clear()
    before = resources(api)

    response = create(api, environment, "lonely", "application", is_public=True)

    status, code, message = error(response)
    assert (status, code) == (400, 1)
    assert "two availability zones" in message
    assert resources(api) == before
    # A classic ELB may sit in one zone.
    assert create(api, environment, "lonely", "classic", is_public=True).status_code == 200


def test_ten_parallel_creates_of_one_name_make_one_load_balancer(api, environment):
    """Over HTTP with a classic ELB; the application type races in the domain below."""
    answers = []

    def post():
        response = create(api, environment, "racer", "classic", is_public=True)
        answers.append((response.status_code, None if response.status_code == 200 else response.json()["error_code"]))

    threads = [threading.Thread(target=post) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answers, key=str) == sorted([(200, None)] + [(400, 11)] * 9, key=str)
    found = resources(api)
    assert [len(found[key]) for key in ("classic", "security_groups", "roles", "name_claims")] == [1, 1, 0, 1]


def test_parallel_creates_in_the_domain_make_one_load_balancer(api, environment):
    """The same race without the gateway, which serves one request at a time (like one Lambda container)."""
    from layer0 import load_balancers
    from layer0.errors import Layer0Error
    from layer0.models import CreateLoadBalancerRequest

    request = CreateLoadBalancerRequest(
        load_balancer_name="racer", environment_id=environment, is_public=True, load_balancer_type="application"
    )
    outcomes = []

    def run():
        try:
            load_balancers.create(request)
            outcomes.append("created")
        except Layer0Error as failure:
            outcomes.append(int(failure.code))

    threads = [threading.Thread(target=run) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes, key=str) == sorted(["created"] + [11] * 9, key=str)
    found = resources(api)
    assert (len(found["application"]), len(found["security_groups"]), len(found["name_claims"])) == (1, 1, 1)


# --- a service behind each type -------------------------------------------------------------------------------------


def create_deploy(api, name: str = "guestbook") -> str:
    dockerrun = (FIXTURES / "Service.Dockerrun.aws.json").read_bytes()
    response = api.post("/deploy/", json={"deploy_name": name, "dockerrun": base64.b64encode(dockerrun).decode()})
    assert response.status_code == 200, response.text
    return response.json()["deploy_id"]


def ecs_service(environment_id: str, service_id: str) -> dict:
    cluster = f"{PREFIX}{environment_id}"
    [found] = setup_client("ecs").describe_services(cluster=cluster, services=[PREFIX + service_id])["services"]
    return found


@pytest.mark.parametrize("kind", TYPES)
def test_a_service_behind_the_load_balancer(api, machines, environment, sent_to_ecs, kind):
    lb = created(api, environment, "loadbalancer4", kind, ports=[port(80, 80, "http")])
    elsewhere = created(api, environment, "elsewhere", kind, ports=[port(80, 8080, "http")])
    deploy_id = create_deploy(api)
    # No container of the deploy listens on host port 8080: 400, code 10, no ECS service.
    refused = api.post(
        "/service",
        json={"environment_id": environment, "service_name": "service1", "deploy_id": deploy_id,
              "load_balancer_id": elsewhere["load_balancer_id"]},
    )  # fmt: skip
    assert error(refused) == (
        400, 10, "No containers defined that listen on a port that is mapped by the load balancer"
    )  # fmt: skip
    assert setup_client("ecs").list_services(cluster=f"{PREFIX}{environment}")["serviceArns"] == []

    response = api.post(
        "/service",
        json={"environment_id": environment, "service_name": "service1", "deploy_id": deploy_id,
              "load_balancer_id": lb["load_balancer_id"]},
    )  # fmt: skip

    assert response.status_code == 200, response.text
    service = response.json()
    assert (service["load_balancer_id"], service["load_balancer_name"]) == (lb["load_balancer_id"], "loadbalancer4")
    [(_, params)] = [call for call in sent_to_ecs if call[0] == "CreateService"]
    attached = ecs_service(environment, service["service_id"])["loadBalancers"]
    if kind == "classic":
        assert attached == [
            {"containerName": "guestbook", "containerPort": 80, "loadBalancerName": PREFIX + lb["load_balancer_id"]}
        ]
    else:
        [(_, target_group)] = routes(lb["load_balancer_id"]).values()
        assert target_group["Port"] == 80
        assert attached == [
            {"containerName": "guestbook", "containerPort": 80, "targetGroupArn": target_group["TargetGroupArn"]}
        ]
    # No `role`: ECS uses its service-linked role (AWSServiceRoleForECS), for a classic ELB as for an ALB.
    assert "role" not in params
    # `l0 loadbalancer get loadbalancer4` shows the service.
    shown = api.get(f"/loadbalancer/{lb['load_balancer_id']}").json()
    assert (shown["service_id"], shown["service_name"]) == (service["service_id"], "service1")


# --- delete (job type 3) --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", TYPES)
def test_delete_is_job_type_3_and_leaves_nothing(api, machines, environment, kind):
    before = resources(api)
    ports = [port(80, 80, "http"), port(8000, 8000, "http")]
    lb = created(api, environment, "loadbalancer1", kind, is_public=True, ports=ports)
    assert resources(api) != before

    response = api.delete(f"/loadbalancer/{lb['load_balancer_id']}")

    assert response.status_code == 202, response.text
    assert response.json() == ""
    job_id = response.headers["X-JobID"]
    assert response.headers["Location"] == f"/job/{job_id}"
    assert wait_for_end(execution_arn(machines[3], job_id))["status"] == "SUCCEEDED"
    job = api.get(f"/job/{job_id}").json()
    assert (job["job_type"], job["job_status"], job["request"]) == (3, 3, lb["load_balancer_id"])
    assert error(api.get(f"/loadbalancer/{lb['load_balancer_id']}"))[:2] == (404, 26)
    assert api.get("/loadbalancer").json() == []
    assert resources(api) == before
    # The name is free again.
    assert create(api, environment, "loadbalancer1", kind, is_public=True).status_code == 200


# --- local mode's region (local/moto_patches.py, patch_elb_dns_name_region) ------------------------------------------


@pytest.mark.parametrize("kind", TYPES)
def test_the_url_names_the_region_layer0_runs_in(api, environment, kind):
    load_balancer_id = created(api, environment, "regional", kind)["load_balancer_id"]
    url = api.get(f"/loadbalancer/{load_balancer_id}").json()["url"]
    assert url.endswith(f".{REGION}.elb.amazonaws.com") and REGION != "us-east-1", url
