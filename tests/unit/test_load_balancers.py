"""The load-balancer domain with the classic backend, against moto: inputs, create, updates, rollback, delete."""

from __future__ import annotations

import pytest

from layer0 import environments
from layer0 import load_balancers as lbs
from layer0.errors import ErrorCode, Layer0Error
from layer0.load_balancers import classic, inputs
from layer0.models import CreateEnvironmentRequest, CreateLoadBalancerRequest, HealthCheck, Port
from layer0.stores import tags as tag_store
from tests.conftest import setup_client


def estate() -> dict[str, int]:
    """What a load balancer leaves in AWS and the tables, counted."""
    elb, ec2, iam = setup_client("elb"), setup_client("ec2"), setup_client("iam")
    return {
        "load_balancers": len(elb.describe_load_balancers()["LoadBalancerDescriptions"]),
        "lb_security_groups": sum(
            g["GroupName"].endswith("-lb") for g in ec2.describe_security_groups()["SecurityGroups"]
        ),
        "lb_roles": sum(r["RoleName"].endswith("-lb") for r in iam.list_roles()["Roles"]),
        "tags": len(tag_store.select_by_type(lbs.ENTITY_TYPE)) + len(tag_store.select_by_type(lbs.NAME_CLAIM_TYPE)),
    }


@pytest.fixture
def environment_id(stack) -> str:
    request = CreateEnvironmentRequest(environment_name="test", operating_system="linux", instance_size="t3.micro")
    return environments.create(request).environment_id


def request(environment_id: str, **fields) -> CreateLoadBalancerRequest:
    return CreateLoadBalancerRequest(load_balancer_name="web", environment_id=environment_id, **fields)


def test_a_public_classic_elb_has_its_own_group_and_the_environment_group_and_no_role(environment_id):
    lb = lbs.create(request(environment_id, is_public=True, ports=[Port(host_port=443, container_port=80, protocol="tcp")]))

    name = f"l0-l0-{lb.load_balancer_id}"
    [description] = setup_client("elb").describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"]
    groups = {g["GroupId"]: g for g in setup_client("ec2").describe_security_groups()["SecurityGroups"]}
    assert sorted(groups[g]["GroupName"] for g in description["SecurityGroups"]) == [
        f"l0-l0-{environment_id}-env",
        f"{name}-lb",
    ]
    [public] = [g for g in groups.values() if g["GroupName"] == f"{name}-lb"]
    assert [(p["FromPort"], p["IpRanges"][0]["CidrIp"]) for p in public["IpPermissions"]] == [(443, "0.0.0.0/0")]
    # ECS registers instances through its service-linked role: Layer0 creates no role (no iam:CreateRole).
    assert estate()["lb_roles"] == 0
    # The CLI's defaults, applied by the API for a body without them.
    assert (lb.health_check.target, lb.idle_timeout, lb.cross_zone, lb.is_public) == ("TCP:80", 60, True, True)
    assert lb.url and lb.load_balancer_type == "classic"


def test_tls_terminates_at_the_elb_with_the_certificate_found_by_name(environment_id):
    # Local mode (and the stack fixture) seed the original API's self-signed certificate under this name.
    arn = setup_client("iam").get_server_certificate(ServerCertificateName="l0-l0-api")["ServerCertificate"][
        "ServerCertificateMetadata"
    ]["Arn"]
    # moto keeps no InstanceProtocol (it reports the listener's own), so the request is what shows it.
    sent = []
    elb = classic.aws.client("elb")
    capture = lambda params, **_: sent.append(params)  # noqa: E731
    elb.meta.events.register("provide-client-params.elastic-load-balancing.CreateLoadBalancer", capture)
    try:
        lb = lbs.create(request(environment_id, ports=[
            Port(host_port=80, container_port=80, protocol="http"),
            Port(host_port=443, container_port=80, protocol="https", certificate_name="l0-l0-api"),
        ]))  # fmt: skip
    finally:
        elb.meta.events.unregister("provide-client-params.elastic-load-balancing.CreateLoadBalancer", capture)

    [params] = sent
    assert [(l["Protocol"], l["InstanceProtocol"], l.get("SSLCertificateId")) for l in params["Listeners"]] == [
        ("HTTP", "HTTP", None),
        ("HTTPS", "HTTP", arn),
    ]
    [description] = setup_client("elb").describe_load_balancers()["LoadBalancerDescriptions"]
    assert description["Scheme"] == "internal"
    assert [(p.protocol, p.certificate_name, p.certificate_arn) for p in lb.ports] == [
        ("http", "", ""),
        ("https", "l0-l0-api", arn),
    ]


@pytest.mark.parametrize(
    "fields, code, words",
    [
        ({"ports": [Port(host_port=80, container_port=80, protocol="udp")]}, 1, "Protocol 'udp' is not valid"),
        ({"ports": [Port(host_port=443, container_port=80, protocol="https")]}, 1, "needs a certificate"),
        ({"ports": [Port(host_port=443, container_port=80, protocol="ssl", certificate_name="nope")]}, 3, "'nope' does not exist"),
        ({"ports": [Port(host_port=443, container_port=80, protocol="https",
                         certificate_arn="arn:aws:iam::123456789012:server-certificate/nope")]}, 2, "does not exist"),
        ({"ports": []}, 1, "one port at least"),
        ({"health_check": HealthCheck()}, 1, "Health check target '' is not valid"),
        ({"health_check": HealthCheck(target="TCP:80")}, 1, "interval 0 is not valid"),
        ({"health_check": HealthCheck(target="HTTP:80", interval=30, timeout=5, healthy_threshold=2,
                                      unhealthy_threshold=2)}, 1, "needs a path"),
        ({"health_check": HealthCheck(target="TCP:80", interval=5, timeout=5, healthy_threshold=2,
                                      unhealthy_threshold=2)}, 1, "less than its interval"),
        ({"idle_timeout": 0}, 1, "Idle timeout 0"),
        ({"load_balancer_type": "network"}, 1, "type 'network' is not valid"),
        ({"environment_id": "nosuchenv"}, 6, "does not exist"),
    ],
)  # fmt: skip
def test_bad_input_is_a_400_and_creates_nothing(environment_id, fields, code, words):
    before = estate()
    body = {"environment_id": environment_id, **fields}
    with pytest.raises(Layer0Error) as raised:
        lbs.create(CreateLoadBalancerRequest(load_balancer_name="web", **body))
    assert (raised.value.status, int(raised.value.code)) == (400, code)
    assert words in raised.value.message
    assert estate() == before


def test_missing_name_or_environment_is_code_19(stack):
    for body in ({"environment_id": "e"}, {"load_balancer_name": "n"}):
        with pytest.raises(Layer0Error) as raised:
            lbs.create(CreateLoadBalancerRequest(**body))
        assert (raised.value.status, raised.value.code) == (400, ErrorCode.MissingParameter)


def test_a_duplicate_name_in_the_environment_is_code_11(environment_id):
    lbs.create(request(environment_id))
    with pytest.raises(Layer0Error) as raised:
        lbs.create(request(environment_id))
    assert (raised.value.status, raised.value.code) == (400, ErrorCode.InvalidLoadBalancerName)
    assert estate()["load_balancers"] == 1


def test_a_failure_after_the_first_write_rolls_everything_back(environment_id, monkeypatch):
    """AWS failing half-way (here: the attributes call) leaves no ELB, role, group, tag or name claim."""
    before = estate()

    def refuse(**_params):
        raise RuntimeError("AWS is down")

    elb = classic.aws.client("elb")
    monkeypatch.setattr(elb, "modify_load_balancer_attributes", refuse)
    with pytest.raises(RuntimeError):
        lbs.create(request(environment_id, is_public=True))
    monkeypatch.undo()

    assert estate() == before
    assert lbs.create(request(environment_id)).load_balancer_name == "web"  # the name is free again


def test_updates_change_aws_and_the_answer_agrees_with_a_later_get(environment_id):
    lb = lbs.create(request(environment_id, is_public=True))
    lb_id = lb.load_balancer_id

    added = lbs.update_ports(lb_id, lb.ports + [Port(host_port=8000, container_port=8000, protocol="http")])
    assert [(p.host_port, p.protocol) for p in added.ports] == [(80, "tcp"), (8000, "http")]
    [group] = [g for g in setup_client("ec2").describe_security_groups()["SecurityGroups"] if g["GroupName"].endswith("-lb")]
    assert sorted(p["FromPort"] for p in group["IpPermissions"]) == [80, 8000]

    dropped = lbs.update_ports(lb_id, lb.ports)
    assert [p.host_port for p in dropped.ports] == [80]
    check = HealthCheck(target="tcp:88", interval=45, timeout=10, healthy_threshold=5, unhealthy_threshold=3)
    assert lbs.update_health_check(lb_id, check).health_check.target == "TCP:88"
    assert lbs.update_idle_timeout(lb_id, 120).idle_timeout == 120
    assert lbs.update_cross_zone(lb_id, False).cross_zone is False
    again = lbs.get(lb_id)
    assert (again.health_check.interval, again.idle_timeout, again.cross_zone) == (45, 120, False)
    [group] = [g for g in setup_client("ec2").describe_security_groups()["SecurityGroups"] if g["GroupName"].endswith("-lb")]
    assert [p["FromPort"] for p in group["IpPermissions"]] == [80]


def test_an_unknown_load_balancer_is_404_code_26(stack):
    for call in (lambda: lbs.get("nosuchlb1234"), lambda: lbs.update_cross_zone("nosuchlb1234", True),
                 lambda: lbs.update_ports("nosuchlb1234", []), lambda: lbs.start_delete("nosuchlb1234")):  # fmt: skip
        with pytest.raises(Layer0Error) as raised:
            call()
        assert (raised.value.status, raised.value.code) == (404, ErrorCode.LoadBalancerDoesNotExist)


def test_delete_now_leaves_nothing_and_can_run_again(environment_id):
    before = estate()
    lb = lbs.create(request(environment_id, is_public=True))

    lbs.delete_now(lb.load_balancer_id)
    assert estate() == before
    lbs.delete_now(lb.load_balancer_id)  # a rerun of every step finds nothing to do
    assert estate() == before


def test_subnets_overlapping_in_one_zone_are_refused(environment_id, monkeypatch):
    from layer0 import settings

    ec2 = setup_client("ec2")
    [first, *_] = settings.get().public_subnets
    zone = ec2.describe_subnets(SubnetIds=[first])["Subnets"][0]["AvailabilityZone"]
    extra = ec2.create_subnet(VpcId=settings.get().vpc_id, CidrBlock="10.0.200.0/24", AvailabilityZone=zone)
    monkeypatch.setenv("LAYER0_AWS_PUBLIC_SUBNETS", f"{first},{extra['Subnet']['SubnetId']}")
    settings.get.cache_clear()

    with pytest.raises(Layer0Error) as raised:
        inputs.subnets("classic", is_public=True)
    assert raised.value.status == 400 and f"overlap in availability zone {zone}" in raised.value.message
