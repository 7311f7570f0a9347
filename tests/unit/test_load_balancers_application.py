"""The Application Load Balancer backend (layer0.load_balancers.application) against moto, called directly with
a Spec, and through the package (layer0.load_balancers) with `load_balancer_type: "application"`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from layer0 import aws, environments, settings
from layer0 import load_balancers as lbs
from layer0.errors import ErrorCode, Layer0Error
from layer0.load_balancers import application, inputs
from layer0.load_balancers.backend import NO_MATCHING_CONTAINER, Spec
from layer0.models import CreateEnvironmentRequest, CreateLoadBalancerRequest, HealthCheck, Port
from layer0.stores import tags as tag_store
from local.certificates import self_signed
from tests.conftest import setup_client

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LB_ID = "weblb1234567"


@pytest.fixture(autouse=True)
def unpaced_aws(monkeypatch):
    """Lift the client layer's pacing (10 calls/s per service) for these tests: its buckets are made per process,
    so forget them before (to take the high rate) and after (so later tests get the default again)."""
    monkeypatch.setenv("LAYER0_AWS_RATE", "1e9")
    settings.get.cache_clear()
    aws.reset()
    try:
        yield
    finally:
        aws.reset()


def estate() -> dict[str, int]:
    """What an application load balancer leaves in AWS and the tables, counted."""
    elbv2, ec2 = setup_client("elbv2"), setup_client("ec2")
    load_balancers = elbv2.describe_load_balancers()["LoadBalancers"]
    return {
        "load_balancers": len(load_balancers),
        "listeners": sum(
            len(elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]) for lb in load_balancers
        ),
        "target_groups": len(elbv2.describe_target_groups()["TargetGroups"]),
        "lb_security_groups": sum(
            g["GroupName"].endswith("-lb") for g in ec2.describe_security_groups()["SecurityGroups"]
        ),
        "tags": len(tag_store.select_by_type(lbs.ENTITY_TYPE)) + len(tag_store.select_by_type(lbs.NAME_CLAIM_TYPE)),
    }


CERTIFICATE, PRIVATE_KEY = self_signed()


def certificate(name: str = "l0-l0-api") -> str:
    return setup_client("iam").upload_server_certificate(
        ServerCertificateName=name, CertificateBody=CERTIFICATE, PrivateKey=PRIVATE_KEY
    )["ServerCertificateMetadata"]["Arn"]


def spec(*listeners: inputs.Listener, load_balancer_id: str = LB_ID, **fields) -> Spec:
    """A checked request, as the package hands it to the backend."""
    config = settings.get()
    group = setup_client("ec2").create_security_group(
        GroupName=f"{config.aws_name_prefix}{load_balancer_id}-env", Description="test", VpcId=config.vpc_id
    )["GroupId"]
    values = {
        "load_balancer_id": load_balancer_id,
        "name": f"{config.aws_name_prefix}{load_balancer_id}",
        "is_public": True,
        "subnets": list(config.public_subnets),
        "security_groups": [group],
        "listeners": list(listeners) or [inputs.Listener("HTTP", 80, 80)],
        "health_check": inputs.DEFAULT_HEALTH_CHECK,
        "idle_timeout": inputs.DEFAULT_IDLE_TIMEOUT,
        "cross_zone": True,
    }
    values.update(fields)
    return Spec(**values)


def the_load_balancer(load_balancer_id: str = LB_ID) -> dict:
    [load_balancer] = setup_client("elbv2").describe_load_balancers(
        Names=[f"{settings.get().aws_name_prefix}{load_balancer_id}"]
    )["LoadBalancers"]
    return load_balancer


def listeners_in_aws(load_balancer_id: str = LB_ID) -> list[tuple]:
    """(port, protocol, certificate ARNs, target group port) of each listener, by port."""
    elbv2 = setup_client("elbv2")
    found = []
    for listener in elbv2.describe_listeners(LoadBalancerArn=the_load_balancer(load_balancer_id)["LoadBalancerArn"])[
        "Listeners"
    ]:
        [action] = listener["DefaultActions"]
        [group] = elbv2.describe_target_groups(TargetGroupArns=[action["TargetGroupArn"]])["TargetGroups"]
        certificates = [c["CertificateArn"] for c in listener.get("Certificates", [])]
        found.append((listener["Port"], listener["Protocol"], certificates, group["Port"]))
    return sorted(found)


def target_groups() -> dict[int, dict]:
    """Every target group in moto, by port (the tests make one load balancer at a time)."""
    groups = setup_client("elbv2").describe_target_groups()["TargetGroups"]
    by_port = {group["Port"]: group for group in groups}
    assert len(by_port) == len(groups)
    return by_port


def cross_zone_values() -> list[str]:
    elbv2 = setup_client("elbv2")
    return [
        {a["Key"]: a["Value"] for a in elbv2.describe_target_group_attributes(TargetGroupArn=g["TargetGroupArn"])[
            "Attributes"
        ]}[application.CROSS_ZONE_KEY]
        for g in target_groups().values()
    ]  # fmt: skip


# --- create and describe -------------------------------------------------------------------------------------------


def test_each_listener_forwards_to_a_target_group_for_its_container_port(stack):
    arn = certificate()
    application.create(spec(
        inputs.Listener("HTTP", 80, 80),
        inputs.Listener("HTTPS", 443, 80, arn),
        inputs.Listener("HTTP", 8000, 8080),
    ))  # fmt: skip

    load_balancer = the_load_balancer()
    assert (load_balancer["Type"], load_balancer["Scheme"]) == ("application", "internet-facing")
    assert sorted(z["SubnetId"] for z in load_balancer["AvailabilityZones"]) == sorted(settings.get().public_subnets)
    assert listeners_in_aws() == [(80, "HTTP", [], 80), (443, "HTTPS", [arn], 80), (8000, "HTTP", [], 8080)]
    groups = target_groups()
    assert sorted(groups) == [80, 8080]  # 80 and 443 share the group of container port 80
    for port, group in groups.items():
        assert group["TargetGroupName"] == f"l0-l0-{LB_ID}-{port}"
        assert (group["Protocol"], group["TargetType"], group["VpcId"]) == ("HTTP", "instance", settings.get().vpc_id)
    tags = setup_client("elbv2").describe_tags(ResourceArns=[g["TargetGroupArn"] for g in groups.values()])
    assert [{t["Key"]: t["Value"] for t in d["Tags"]} for d in tags["TagDescriptions"]] == [
        {application.ID_TAG: LB_ID}
    ] * 2

    observed = application.describe(LB_ID)
    assert observed.listeners == [
        inputs.Listener("HTTP", 80, 80),
        inputs.Listener("HTTPS", 443, 80, arn),
        inputs.Listener("HTTP", 8000, 8080),
    ]
    assert (observed.is_public, observed.url) == (True, load_balancer["DNSName"])
    assert observed.security_groups == load_balancer["SecurityGroups"]
    assert (observed.health_check, observed.idle_timeout, observed.cross_zone) == (
        inputs.DEFAULT_HEALTH_CHECK, 60, True
    )  # fmt: skip


def test_a_private_load_balancer_is_internal(stack):
    application.create(spec(is_public=False, subnets=list(settings.get().private_subnets)))

    assert the_load_balancer()["Scheme"] == "internal"
    assert application.describe(LB_ID).is_public is False


def test_an_unknown_load_balancer_is_none_or_404_and_deleting_it_is_fine(stack):
    assert application.describe("nosuchlb1234") is None
    for call in (
        lambda: application.set_health_check("nosuchlb1234", inputs.DEFAULT_HEALTH_CHECK),
        lambda: application.set_idle_timeout("nosuchlb1234", 30),
        lambda: application.set_cross_zone("nosuchlb1234", True),
        lambda: application.change_listeners("nosuchlb1234", [], [], inputs.DEFAULT_HEALTH_CHECK, True),
        lambda: application.attachment("nosuchlb1234", {"containerDefinitions": []}),
    ):
        with pytest.raises(Layer0Error) as raised:
            call()
        assert (raised.value.status, raised.value.code) == (404, ErrorCode.LoadBalancerDoesNotExist)
    assert application.delete_routing("nosuchlb1234") == {"deleted_listeners": [], "deleted_target_groups": []}
    assert application.delete_load_balancer("nosuchlb1234") == {"deleted_application_load_balancer": False}


def test_names_are_the_prefixed_application_load_balancers_only(stack):
    application.create(spec())
    config = settings.get()
    setup_client("elbv2").create_load_balancer(
        Name="someone-else", Subnets=list(config.public_subnets), Type="application"
    )
    setup_client("elb").create_load_balancer(
        LoadBalancerName="l0-l0-classic12345",
        Listeners=[{"Protocol": "TCP", "LoadBalancerPort": 80, "InstanceProtocol": "TCP", "InstancePort": 80}],
        Subnets=list(config.public_subnets),
    )

    assert application.names() == [f"l0-l0-{LB_ID}"]


# --- health check, idle timeout, cross-zone ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "protocol", "port", "path", "codes"),
    [
        ("TCP:88", "HTTP", "88", "/", "200-499"),
        ("SSL:443", "HTTPS", "443", "/", "200-499"),
        ("HTTP:80/health", "HTTP", "80", "/health", "200"),
        ("HTTPS:443/x", "HTTPS", "443", "/x", "200"),
        ("HTTP:80/", "HTTP", "80", "/", "200"),
    ],
)
def test_the_health_check_is_every_target_groups_and_reads_back_as_set(stack, target, protocol, port, path, codes):
    application.create(spec(inputs.Listener("HTTP", 80, 80), inputs.Listener("HTTP", 8000, 8080)))
    check = inputs.health_check(
        "application",
        HealthCheck(target=target, interval=45, timeout=10, healthy_threshold=5, unhealthy_threshold=3),
    )

    application.set_health_check(LB_ID, check)

    for group in target_groups().values():
        assert (group["HealthCheckProtocol"], group["HealthCheckPort"], group["HealthCheckPath"]) == (
            protocol, port, path
        )  # fmt: skip
        assert group["Matcher"] == {"HttpCode": codes}
        assert (group["HealthCheckIntervalSeconds"], group["HealthCheckTimeoutSeconds"]) == (45, 10)
        assert (group["HealthyThresholdCount"], group["UnhealthyThresholdCount"]) == (5, 3)
    assert application.describe(LB_ID).health_check == check


def test_create_applies_the_health_check_idle_timeout_and_cross_zone(stack):
    check = HealthCheck(target="HTTP:8080/ping", interval=20, timeout=4, healthy_threshold=3, unhealthy_threshold=4)
    application.create(spec(inputs.Listener("HTTP", 80, 8080), health_check=check, idle_timeout=120, cross_zone=False))

    [group] = target_groups().values()
    assert (group["HealthCheckPath"], group["HealthCheckIntervalSeconds"]) == ("/ping", 20)
    attributes = setup_client("elbv2").describe_load_balancer_attributes(
        LoadBalancerArn=the_load_balancer()["LoadBalancerArn"]
    )["Attributes"]
    assert {a["Key"]: a["Value"] for a in attributes}["idle_timeout.timeout_seconds"] == "120"
    assert cross_zone_values() == ["false"]
    observed = application.describe(LB_ID)
    assert (observed.health_check, observed.idle_timeout, observed.cross_zone) == (check, 120, False)


def test_idle_timeout_and_cross_zone_updates(stack):
    application.create(spec(inputs.Listener("HTTP", 80, 80), inputs.Listener("HTTP", 8000, 8080)))

    application.set_idle_timeout(LB_ID, 300)
    application.set_cross_zone(LB_ID, False)
    assert cross_zone_values() == ["false", "false"]
    assert (application.describe(LB_ID).idle_timeout, application.describe(LB_ID).cross_zone) == (300, False)

    application.set_cross_zone(LB_ID, True)
    assert cross_zone_values() == ["true", "true"]
    assert application.describe(LB_ID).cross_zone is True


# --- listeners -----------------------------------------------------------------------------------------------------


def test_change_listeners_adds_and_drops_and_deletes_target_groups_no_longer_used(stack):
    arn = certificate()
    application.create(spec(inputs.Listener("HTTP", 80, 80), inputs.Listener("HTTP", 8000, 8080), cross_zone=False))
    check = inputs.health_check("application", HealthCheck(
        target="HTTP:80/up", interval=30, timeout=5, healthy_threshold=2, unhealthy_threshold=2
    ))  # fmt: skip
    application.set_health_check(LB_ID, check)

    # Drop 8000 (its group goes), add 443 on the existing group of 80 and 9000 on a new group.
    application.change_listeners(
        LB_ID,
        remove=[inputs.Listener("HTTP", 8000, 8080)],
        add=[inputs.Listener("HTTPS", 443, 80, arn), inputs.Listener("HTTP", 9000, 9000)],
        health_check=check,
        cross_zone=False,
    )

    assert listeners_in_aws() == [(80, "HTTP", [], 80), (443, "HTTPS", [arn], 80), (9000, "HTTP", [], 9000)]
    groups = target_groups()
    assert sorted(groups) == [80, 9000]
    assert (groups[9000]["HealthCheckPath"], groups[9000]["Matcher"]) == ("/up", {"HttpCode": "200"})
    assert cross_zone_values() == ["false", "false"]

    # The same host port to another container port: the listener is replaced, the old group goes.
    application.change_listeners(
        LB_ID, remove=[inputs.Listener("HTTP", 9000, 9000)], add=[inputs.Listener("HTTP", 9000, 9001)],
        health_check=check, cross_zone=False,
    )  # fmt: skip
    assert listeners_in_aws()[-1] == (9000, "HTTP", [], 9001)
    assert sorted(target_groups()) == [80, 9001]
    assert application.describe(LB_ID).listeners[-1] == inputs.Listener("HTTP", 9000, 9001)


def test_a_target_group_left_by_a_failed_change_is_reused_with_the_current_settings_or_deleted(stack, monkeypatch):
    application.create(spec())
    elbv2 = application.aws.client("elbv2")

    def refuse(**_params):
        raise RuntimeError("AWS is down")

    with monkeypatch.context() as patch, pytest.raises(RuntimeError):
        patch.setattr(elbv2, "create_listener", refuse)
        application.change_listeners(
            LB_ID, [], [inputs.Listener("HTTP", 8000, 8080)], inputs.DEFAULT_HEALTH_CHECK, True
        )
    orphan = target_groups()[8080]["TargetGroupArn"]
    assert listeners_in_aws() == [(80, "HTTP", [], 80)]

    check = inputs.health_check("application", HealthCheck(
        target="HTTP:8080/up", interval=30, timeout=5, healthy_threshold=2, unhealthy_threshold=2
    ))  # fmt: skip
    application.change_listeners(LB_ID, [], [inputs.Listener("HTTP", 8000, 8080)], check, False)

    groups = target_groups()
    assert sorted(groups) == [80, 8080] and groups[8080]["TargetGroupArn"] == orphan
    assert (groups[8080]["HealthCheckPath"], groups[8080]["HealthCheckPort"]) == ("/up", "8080")
    assert listeners_in_aws() == [(80, "HTTP", [], 80), (8000, "HTTP", [], 8080)]
    assert sorted(cross_zone_values()) == ["false", "true"]  # only the reused group was given the setting

    # Left again, and not wanted by the next change: deleted.
    with monkeypatch.context() as patch, pytest.raises(RuntimeError):
        patch.setattr(elbv2, "create_listener", refuse)
        application.change_listeners(LB_ID, [], [inputs.Listener("HTTP", 9000, 9000)], check, True)
    assert sorted(target_groups()) == [80, 8080, 9000]
    application.change_listeners(LB_ID, [inputs.Listener("HTTP", 8000, 8080)], [], check, True)
    assert sorted(target_groups()) == [80]


# --- services ------------------------------------------------------------------------------------------------------


def test_attachment_is_the_target_group_of_the_first_container_on_a_target_port(stack):
    application.create(spec(inputs.Listener("HTTP", 80, 8080), inputs.Listener("HTTP", 8000, 9090)))
    groups = target_groups()
    sidecar = {"name": "sidecar", "portMappings": [{"containerPort": 22, "hostPort": 2222}]}
    web = {"name": "web", "portMappings": [{"containerPort": 80, "hostPort": 9090},
                                           {"containerPort": 81, "hostPort": 8080}]}  # fmt: skip
    other = {"name": "other", "portMappings": [{"containerPort": 80, "hostPort": 8080}]}

    attachment = application.attachment(LB_ID, {"containerDefinitions": [sidecar, web, other]})

    assert attachment == [{"targetGroupArn": groups[9090]["TargetGroupArn"], "containerName": "web",
                           "containerPort": 80}]  # fmt: skip


def test_attachment_of_the_fixture_service_and_of_a_container_on_no_target_port(stack):
    application.create(spec())
    [guestbook] = json.loads((FIXTURES / "Service.Dockerrun.aws.json").read_text())["containerDefinitions"]

    [entry] = application.attachment(LB_ID, {"containerDefinitions": [guestbook]})
    assert (entry["containerName"], entry["containerPort"]) == ("guestbook", 80)
    assert entry["targetGroupArn"] == target_groups()[80]["TargetGroupArn"]

    dynamic = {"name": "dynamic", "portMappings": [{"containerPort": 80}]}
    with pytest.raises(Layer0Error) as raised:
        application.attachment(LB_ID, {"containerDefinitions": [dynamic]})
    assert (raised.value.status, raised.value.code, raised.value.message) == (
        400, ErrorCode.InvalidLoadBalancerID, NO_MATCHING_CONTAINER
    )  # fmt: skip


# --- delete --------------------------------------------------------------------------------------------------------


def test_delete_removes_listeners_target_groups_and_the_load_balancer_and_can_run_again(stack):
    before = estate()
    application.create(spec(inputs.Listener("HTTP", 80, 80), inputs.Listener("HTTP", 8000, 8080)))
    assert estate()["target_groups"] == before["target_groups"] + 2

    routing = application.delete_routing(LB_ID)
    assert routing == {"deleted_listeners": [80, 8000],
                       "deleted_target_groups": sorted([f"l0-l0-{LB_ID}-80", f"l0-l0-{LB_ID}-8080"])}  # fmt: skip
    assert application.delete_load_balancer(LB_ID) == {"deleted_application_load_balancer": True}
    assert estate() == before
    assert application.delete_routing(LB_ID) == {"deleted_listeners": [], "deleted_target_groups": []}
    assert application.delete_load_balancer(LB_ID) == {"deleted_application_load_balancer": False}


@pytest.mark.parametrize("prefix", ["l0", "longprefix12"])  # the second makes hashed target-group names
def test_delete_after_a_partial_create_leaves_nothing(stack, monkeypatch, prefix):
    """The second listener fails: a target group no listener uses is left, found by its name or tag."""
    monkeypatch.setenv("LAYER0_PREFIX", prefix)
    settings.get.cache_clear()
    before = estate()
    elbv2 = application.aws.client("elbv2")
    real = elbv2.create_listener
    calls = []

    def second_fails(**params):
        calls.append(params["Port"])
        if len(calls) == 2:
            raise RuntimeError("AWS is down")
        return real(**params)

    with monkeypatch.context() as patch, pytest.raises(RuntimeError):
        patch.setattr(elbv2, "create_listener", second_fails)
        application.create(spec(inputs.Listener("HTTP", 80, 80), inputs.Listener("HTTP", 8000, 8080)))
    half = estate()
    assert (half["listeners"], half["target_groups"]) == (before["listeners"] + 1, before["target_groups"] + 2)
    names = [g["TargetGroupName"] for g in setup_client("elbv2").describe_target_groups()["TargetGroups"]]
    assert all(name.startswith(f"l0-{prefix}-") and len(name) <= 32 for name in names)

    application.delete_routing(LB_ID)
    application.delete_load_balancer(LB_ID)
    assert estate() == before


def test_target_group_names_fit_and_keep_the_prefix():
    assert application.target_group_name(LB_ID, 8080) == f"l0-l0-{LB_ID}-8080"


def test_long_target_group_names_are_hashed_stably_under_the_prefix(monkeypatch):
    monkeypatch.setenv("LAYER0_PREFIX", "longprefix12")
    settings.get.cache_clear()
    name = application.target_group_name(LB_ID, 65535)
    assert name.startswith("l0-longprefix12-") and len(name) == 32
    assert name == application.target_group_name(LB_ID, 65535) != application.target_group_name(LB_ID, 65534)


# --- through the package -------------------------------------------------------------------------------------------


@pytest.fixture
def environment_id(stack) -> str:
    request = CreateEnvironmentRequest(environment_name="test", operating_system="linux", instance_size="t3.micro")
    return environments.create(request).environment_id


def request(environment_id: str, **fields) -> CreateLoadBalancerRequest:
    return CreateLoadBalancerRequest(
        load_balancer_name="web", environment_id=environment_id, load_balancer_type="application", **fields
    )


def test_the_package_creates_an_application_load_balancer_with_the_cli_defaults(environment_id):
    lb = lbs.create(request(environment_id, is_public=True))

    assert lb.load_balancer_type == "application"
    assert [(p.host_port, p.container_port, p.protocol) for p in lb.ports] == [(80, 80, "http")]
    assert (lb.health_check, lb.idle_timeout, lb.cross_zone, lb.is_public) == (
        inputs.DEFAULT_HEALTH_CHECK, 60, True, True
    )  # fmt: skip
    assert lb.url == the_load_balancer(lb.load_balancer_id)["DNSName"]
    groups = {g["GroupId"]: g["GroupName"] for g in setup_client("ec2").describe_security_groups()["SecurityGroups"]}
    assert sorted(groups[g] for g in the_load_balancer(lb.load_balancer_id)["SecurityGroups"]) == [
        f"l0-l0-{environment_id}-env",
        f"l0-l0-{lb.load_balancer_id}-lb",
    ]
    assert [(s.load_balancer_id, s.load_balancer_type) for s in lbs.list_all()] == [
        (lb.load_balancer_id, "application")
    ]


def test_the_package_updates_an_application_load_balancer(environment_id):
    arn = certificate()
    lb = lbs.create(request(environment_id, ports=[
        Port(host_port=80, container_port=80, protocol="http"),
        Port(host_port=443, container_port=80, protocol="https", certificate_name="l0-l0-api"),
    ]))  # fmt: skip
    lb_id = lb.load_balancer_id
    assert [(p.host_port, p.certificate_arn, p.certificate_name) for p in lb.ports] == [
        (80, "", ""), (443, arn, "l0-l0-api")
    ]  # fmt: skip

    ports = lbs.update_ports(lb_id, [Port(host_port=80, container_port=80, protocol="http"),
                                     Port(host_port=8000, container_port=8000, protocol="http")]).ports  # fmt: skip
    assert [(p.host_port, p.protocol) for p in ports] == [(80, "http"), (8000, "http")]
    assert sorted(target_groups()) == [80, 8000]
    check = HealthCheck(target="tcp:88", interval=45, timeout=10, healthy_threshold=5, unhealthy_threshold=3)
    assert lbs.update_health_check(lb_id, check).health_check.target == "TCP:88"
    assert lbs.update_idle_timeout(lb_id, 120).idle_timeout == 120
    assert lbs.update_cross_zone(lb_id, False).cross_zone is False
    again = lbs.get(lb_id)
    assert (again.health_check.interval, again.idle_timeout, again.cross_zone) == (45, 120, False)
    assert cross_zone_values() == ["false", "false"]


def test_a_failing_create_through_the_package_leaves_nothing(environment_id, monkeypatch):
    before = estate()
    elbv2 = application.aws.client("elbv2")

    half_made = []

    def refuse(**_params):
        half_made.append(estate())
        raise RuntimeError("AWS is down")

    with monkeypatch.context() as patch, pytest.raises(RuntimeError):
        patch.setattr(elbv2, "modify_load_balancer_attributes", refuse)
        lbs.create(request(environment_id, is_public=True, ports=[
            Port(host_port=80, container_port=80, protocol="http"),
            Port(host_port=8000, container_port=8080, protocol="http"),
        ]))  # fmt: skip

    [made] = half_made  # the idle timeout comes last: everything else was there to roll back
    assert {key: made[key] - before[key] for key in made} == {
        "load_balancers": 1, "listeners": 2, "target_groups": 2, "lb_security_groups": 1, "tags": 4
    }  # fmt: skip
    assert estate() == before
    assert lbs.create(request(environment_id)).load_balancer_name == "web"  # the name is free again


def test_a_tcp_port_is_a_400_for_an_application_load_balancer(environment_id):
    before = estate()
    with pytest.raises(Layer0Error) as raised:
        lbs.create(request(environment_id, ports=[Port(host_port=80, container_port=80, protocol="tcp")]))
    assert raised.value.status == 400 and "not valid for an application load balancer" in raised.value.message
    assert estate() == before


def test_delete_now_of_an_application_load_balancer_leaves_nothing(environment_id):
    before = estate()
    lb = lbs.create(request(environment_id, is_public=True, ports=[
        Port(host_port=80, container_port=80, protocol="http"),
        Port(host_port=8000, container_port=8080, protocol="http"),
    ]))  # fmt: skip
    assert estate()["target_groups"] == 2

    lbs.delete_now(lb.load_balancer_id)
    assert estate() == before
    lbs.delete_now(lb.load_balancer_id)
    assert estate() == before
