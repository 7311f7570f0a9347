"""docs/compatibility.md#smoke-scenarios, the load_balancer smoke test, replayed over HTTP against local mode as a user
runs it: `python -m
local` in a subprocess, each request what the l0 CLI sends for the command named in the comment (names resolved
through `GET /tag`, `--wait` polling the job). It runs once as the original CLI sends it (no
`load_balancer_type`: classic ELBs) and once with `load_balancer_type: "application"` (ALBs).

What a user would check with the aws CLI against the embedded AWS (the moto endpoint local mode prints) is
checked here too: the listeners, the public group's open ports, the health check, and that nothing is left.
"""

from __future__ import annotations

import base64

import pytest

from tests.e2e.scenario import (
    FIXTURES,
    call,
    create_environment,
    embedded_aws,
    resolve,
    resolve_all,
    resolve_deploy,
    session,
    wait_for_job,
)

PREFIX = "l0-l0-"  # local mode's default prefix `l0`
API_CERTIFICATE = f"{PREFIX}api"  # the name l0-setup gives the API's self-signed certificate
APPLICATION = "application"

# `l0 loadbalancer create` without flags (docs/compatibility.md#how-the-cli-builds-its-requests): these are sent
# whatever the user gives.
CLI_HEALTH_CHECK = {"target": "TCP:80", "interval": 30, "timeout": 5, "healthy_threshold": 2, "unhealthy_threshold": 2}


@pytest.fixture(scope="module")
def l0():
    yield from session()


@pytest.fixture(scope="module")
def aws(l0):
    return embedded_aws(l0)


@pytest.fixture(scope="module")
def api_certificate(aws) -> str:
    """The ARN of the self-signed IAM server certificate `l0-<prefix>-api` local mode seeds, as l0-setup did."""
    [arn] = [
        meta["Arn"]
        for meta in aws("iam").list_server_certificates()["ServerCertificateMetadataList"]
        if meta["ServerCertificateName"] == API_CERTIFICATE
    ]
    return arn


def port(host: int, container: int, protocol: str, certificate_name: str = "") -> dict:
    return {
        "host_port": host,
        "container_port": container,
        "protocol": protocol,
        "certificate_name": certificate_name,
        "certificate_arn": "",
    }


def create_load_balancer(l0, kind: str | None, environment_id: str, name: str, **flags) -> dict:
    """`l0 loadbalancer create [flags] ENVIRONMENT NAME`: the CLI always sends every field."""
    body = {
        "load_balancer_name": name,
        "environment_id": environment_id,
        "is_public": True,
        "ports": [port(80, 80, "tcp")],
        "health_check": dict(CLI_HEALTH_CHECK),
        "idle_timeout": 60,
        "cross_zone": True,
        **flags,
    }
    if kind is not None:
        body["load_balancer_type"] = kind
    created = call(l0, "POST", "loadbalancer/", json=body).json()
    assert (created["load_balancer_name"], created["environment_id"]) == (name, environment_id)
    assert created["load_balancer_type"] == (kind or "classic")
    return created


def get_load_balancer(l0, name: str) -> dict:
    """`l0 loadbalancer get NAME`."""
    return call(l0, "GET", f"loadbalancer/{resolve(l0, 'load_balancer', name)}").json()


def delete_and_wait(l0, load_balancer_id: str) -> None:
    """`l0 loadbalancer delete --wait NAME`: job type 3, polled until it ends."""
    deleted = call(l0, "DELETE", f"loadbalancer/{load_balancer_id}", expected=202)
    job = wait_for_job(l0, deleted.headers["X-JobID"])
    assert (job["job_status"], job["job_type"]) == (3, 3), job
    assert call(l0, "GET", f"loadbalancer/{load_balancer_id}", expected=404).json()["error_code"] == 26


def listeners(aws, kind: str | None, load_balancer_id: str) -> list[tuple[int, str, int]]:
    """(load balancer port, protocol, instance or target port) of each listener, as AWS has them."""
    name = PREFIX + load_balancer_id
    if kind != APPLICATION:
        [description] = aws("elb").describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"]
        return sorted(
            (d["Listener"]["LoadBalancerPort"], d["Listener"]["Protocol"], d["Listener"]["InstancePort"])
            for d in description["ListenerDescriptions"]
        )
    elbv2 = aws("elbv2")
    [alb] = elbv2.describe_load_balancers(Names=[name])["LoadBalancers"]
    found = []
    for listener in elbv2.describe_listeners(LoadBalancerArn=alb["LoadBalancerArn"])["Listeners"]:
        [action] = listener["DefaultActions"]
        [group] = elbv2.describe_target_groups(TargetGroupArns=[action["TargetGroupArn"]])["TargetGroups"]
        found.append((listener["Port"], listener["Protocol"], group["Port"]))
    return sorted(found)


def open_ports(aws, load_balancer_id: str) -> list[int]:
    """The ports the public load balancer's own group admits from anywhere."""
    [group] = aws("ec2").describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [f"{PREFIX}{load_balancer_id}-lb"]}]
    )["SecurityGroups"]
    return sorted(
        permission["FromPort"]
        for permission in group["IpPermissions"]
        if any(r["CidrIp"] == "0.0.0.0/0" for r in permission.get("IpRanges", []))
    )


def left_behind(aws) -> dict[str, int]:
    """Every load-balancer resource Layer0 makes that still exists."""
    ec2, iam, elbv2 = aws("ec2"), aws("iam"), aws("elbv2")
    groups = [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]]
    return {
        "classic": sum(
            lb["LoadBalancerName"].startswith(PREFIX)
            for lb in aws("elb").describe_load_balancers()["LoadBalancerDescriptions"]
        ),
        "application": sum(lb["LoadBalancerName"].startswith(PREFIX) for lb in elbv2.describe_load_balancers()["LoadBalancers"]),
        "target_groups": len(elbv2.describe_target_groups()["TargetGroups"]),
        "security_groups": sum(name.startswith(PREFIX) and name.endswith("-lb") for name in groups),
        "roles": sum(r["RoleName"].startswith(PREFIX) and r["RoleName"].endswith("-lb") for r in iam.list_roles()["Roles"]),
    }


NOTHING = {"classic": 0, "application": 0, "target_groups": 0, "security_groups": 0, "roles": 0}


@pytest.mark.parametrize("kind", [None, APPLICATION], ids=["classic", "application"])
def test_load_balancer_scenario(l0, aws, api_certificate, kind):
    default_port = port(80, 80, "tcp" if kind is None else "http")
    # environment create test
    test = create_environment(l0, "test")["environment_id"]
    if kind == APPLICATION:
        # An ALB speaks HTTP and HTTPS only: the CLI's default 80:80/tcp is a 400 that creates nothing.
        refused = call(l0, "POST", "loadbalancer/", expected=400, json={
            "load_balancer_name": "loadbalancer1", "environment_id": test, "is_public": True, "ports": [port(80, 80, "tcp")],
            "health_check": CLI_HEALTH_CHECK, "idle_timeout": 60, "cross_zone": True, "load_balancer_type": kind,
        }).json()  # fmt: skip
        assert "TCP" in refused["message"] or "tcp" in refused["message"], refused
        assert left_behind(aws) == NOTHING

    # loadbalancer create test loadbalancer1 (the default port)
    lb1 = create_load_balancer(l0, kind, test, "loadbalancer1", ports=[default_port])
    assert listeners(aws, kind, lb1["load_balancer_id"]) == [(80, default_port["protocol"].upper(), 80)]
    assert open_ports(aws, lb1["load_balancer_id"]) == [80]
    # loadbalancer list; loadbalancer get loadbalancer1
    listed = call(l0, "GET", "loadbalancer/").json()
    assert [(s["load_balancer_name"], s["environment_name"], s["load_balancer_type"]) for s in listed] == [
        ("loadbalancer1", "test", kind or "classic")
    ]
    got = get_load_balancer(l0, "loadbalancer1")
    assert (got["load_balancer_id"], got["is_public"], got["url"] != "") == (lb1["load_balancer_id"], True, True)
    assert [(p["host_port"], p["container_port"], p["protocol"]) for p in got["ports"]] == [
        (80, 80, default_port["protocol"])
    ]
    # loadbalancer addport loadbalancer1 8000:8000/http (GET, append, PUT the ports)
    added = call(l0, "PUT", f"loadbalancer/{got['load_balancer_id']}/ports", json={
        "ports": got["ports"] + [port(8000, 8000, "http")]
    }).json()  # fmt: skip
    assert sorted(p["host_port"] for p in added["ports"]) == [80, 8000]
    assert listeners(aws, kind, lb1["load_balancer_id"]) == [(80, default_port["protocol"].upper(), 80), (8000, "HTTP", 8000)]
    assert open_ports(aws, lb1["load_balancer_id"]) == [80, 8000]
    # loadbalancer dropport loadbalancer1 8000 (GET, remove, PUT the ports)
    current = get_load_balancer(l0, "loadbalancer1")
    dropped = call(l0, "PUT", f"loadbalancer/{current['load_balancer_id']}/ports", json={
        "ports": [p for p in current["ports"] if p["host_port"] != 8000]
    }).json()  # fmt: skip
    assert [p["host_port"] for p in dropped["ports"]] == [80]
    assert listeners(aws, kind, lb1["load_balancer_id"]) == [(80, default_port["protocol"].upper(), 80)]
    assert open_ports(aws, lb1["load_balancer_id"]) == [80]
    # loadbalancer delete --wait loadbalancer1
    delete_and_wait(l0, lb1["load_balancer_id"])
    assert left_behind(aws) == NOTHING

    # loadbalancer create --port 80:80/http --port 443:443/https --private --certificate l0-<prefix>-api test loadbalancer2
    lb2 = create_load_balancer(l0, kind, test, "loadbalancer2", is_public=False, ports=[
        port(80, 80, "http"), port(443, 443, "https", certificate_name=API_CERTIFICATE)
    ])  # fmt: skip
    assert listeners(aws, kind, lb2["load_balancer_id"]) == [(80, "HTTP", 80), (443, "HTTPS", 443)]
    assert left_behind(aws)["security_groups"] == 0  # a private load balancer has only the environment's group
    # loadbalancer list; get loadbalancer2; get l*
    assert [s["load_balancer_name"] for s in call(l0, "GET", "loadbalancer/").json()] == ["loadbalancer2"]
    got = get_load_balancer(l0, "loadbalancer2")
    assert got["is_public"] is False
    [https] = [p for p in got["ports"] if p["host_port"] == 443]
    assert (https["protocol"], https["certificate_arn"], https["certificate_name"]) == (
        "https", api_certificate, API_CERTIFICATE
    )
    assert resolve_all(l0, "load_balancer", "l*") == [lb2["load_balancer_id"]]
    # loadbalancer delete --wait loadbalancer2
    delete_and_wait(l0, lb2["load_balancer_id"])
    assert left_behind(aws) == NOTHING

    # loadbalancer create --healthcheck-target TCP:80 --healthcheck-interval 30 ... test loadbalancer3
    lb3 = create_load_balancer(l0, kind, test, "loadbalancer3", ports=[default_port], health_check=dict(CLI_HEALTH_CHECK))
    # loadbalancer healthcheck loadbalancer3
    assert get_load_balancer(l0, "loadbalancer3")["health_check"] == CLI_HEALTH_CHECK
    # loadbalancer healthcheck --set-target TCP:88 --set-interval 45 --set-timeout 10 --set-healthy-threshold 5
    # --set-unhealthy-threshold 3: the CLI merges each value into the current check and PUTs the whole check.
    expected = dict(CLI_HEALTH_CHECK)
    for field, value in (
        ("target", "TCP:88"), ("interval", 45), ("timeout", 10), ("healthy_threshold", 5), ("unhealthy_threshold", 3)
    ):  # fmt: skip
        current = get_load_balancer(l0, "loadbalancer3")["health_check"]
        updated = call(l0, "PUT", f"loadbalancer/{lb3['load_balancer_id']}/healthcheck", json={
            "health_check": {**current, field: value}
        }).json()  # fmt: skip
        expected[field] = value
        assert updated["health_check"] == expected, field
        assert get_load_balancer(l0, "loadbalancer3")["health_check"] == expected, field
    assert aws_health_check(aws, kind, lb3["load_balancer_id"]) == (88, 45, 10, 5, 3)
    # loadbalancer delete --wait loadbalancer3
    delete_and_wait(l0, lb3["load_balancer_id"])
    assert left_behind(aws) == NOTHING

    # loadbalancer create --port 80:80/http test loadbalancer4; deploy create ... guestbook
    lb4 = create_load_balancer(l0, kind, test, "loadbalancer4", ports=[port(80, 80, "http")])
    dockerrun = base64.b64encode((FIXTURES / "Service.Dockerrun.aws.json").read_bytes()).decode()
    call(l0, "POST", "deploy/", json={"deploy_name": "guestbook", "dockerrun": dockerrun})
    # service create --loadbalancer loadbalancer4 test service1 guestbook:latest
    service1 = call(l0, "POST", "service/", json={
        "environment_id": test, "service_name": "service1", "deploy_id": resolve_deploy(l0, "guestbook:latest"),
        "load_balancer_id": resolve(l0, "load_balancer", "loadbalancer4", environment_id=test),
    }).json()  # fmt: skip
    assert (service1["load_balancer_id"], service1["load_balancer_name"]) == (lb4["load_balancer_id"], "loadbalancer4")
    # service list; loadbalancer get loadbalancer4 (shows the service)
    assert [s["service_name"] for s in call(l0, "GET", "service/").json()] == ["service1"]
    got = get_load_balancer(l0, "loadbalancer4")
    assert (got["service_id"], got["service_name"]) == (service1["service_id"], "service1")
    assert service_behind(aws, kind, test, service1["service_id"]) == lb4["load_balancer_id"]
    # deploy delete guestbook:latest
    call(l0, "DELETE", f"deploy/{resolve_deploy(l0, 'guestbook:latest')}")

    # loadbalancer create --disable-cross-zone test loadbalancer5; cross-zone loadbalancer5
    create_load_balancer(l0, kind, test, "loadbalancer5", ports=[default_port], cross_zone=False)
    lb5 = get_load_balancer(l0, "loadbalancer5")
    assert lb5["cross_zone"] is False
    # loadbalancer cross-zone --disable loadbalancer5; --enable
    for enabled in (False, True):
        changed = call(l0, "PUT", f"loadbalancer/{lb5['load_balancer_id']}/crosszone", json={"cross_zone": enabled}).json()
        assert changed["cross_zone"] is enabled
        assert get_load_balancer(l0, "loadbalancer5")["cross_zone"] is enabled
        assert aws_cross_zone(aws, kind, lb5["load_balancer_id"]) is enabled

    # environment delete --wait test: the load balancers (and the service) go with it
    assert left_behind(aws) != NOTHING
    job = wait_for_job(l0, call(l0, "DELETE", f"environment/{test}", expected=202).headers["X-JobID"])
    assert (job["job_status"], job["job_type"]) == (3, 1), job
    assert left_behind(aws) == NOTHING
    assert call(l0, "GET", "loadbalancer/").json() == []
    assert call(l0, "GET", "tag/?type=load_balancer").json() == []
    assert call(l0, "GET", "service/").json() == []


def aws_health_check(aws, kind: str | None, load_balancer_id: str) -> tuple[int, int, int, int, int]:
    """(target port, interval, timeout, healthy, unhealthy) as AWS has the health check."""
    name = PREFIX + load_balancer_id
    if kind != APPLICATION:
        [description] = aws("elb").describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"]
        check = description["HealthCheck"]
        return (
            int(check["Target"].split(":")[1].split("/")[0]), check["Interval"], check["Timeout"],
            check["HealthyThreshold"], check["UnhealthyThreshold"],
        )  # fmt: skip
    elbv2 = aws("elbv2")
    [alb] = elbv2.describe_load_balancers(Names=[name])["LoadBalancers"]
    groups = elbv2.describe_target_groups(LoadBalancerArn=alb["LoadBalancerArn"])["TargetGroups"]
    checks = {
        (int(g["HealthCheckPort"]), g["HealthCheckIntervalSeconds"], g["HealthCheckTimeoutSeconds"],
         g["HealthyThresholdCount"], g["UnhealthyThresholdCount"])
        for g in groups
    }  # fmt: skip
    [check] = checks
    return check


def service_behind(aws, kind: str | None, environment_id: str, service_id: str) -> str:
    """The Layer0 id of the load balancer the ECS service is registered with: by ELB name, or by the ALB that
    forwards to its target group."""
    [service] = aws("ecs").describe_services(cluster=PREFIX + environment_id, services=[PREFIX + service_id])["services"]
    [attached] = service["loadBalancers"]
    if kind != APPLICATION:
        return attached["loadBalancerName"].removeprefix(PREFIX)
    [group] = aws("elbv2").describe_target_groups(TargetGroupArns=[attached["targetGroupArn"]])["TargetGroups"]
    [alb] = aws("elbv2").describe_load_balancers(LoadBalancerArns=group["LoadBalancerArns"])["LoadBalancers"]
    return alb["LoadBalancerName"].removeprefix(PREFIX)


def aws_cross_zone(aws, kind: str | None, load_balancer_id: str) -> bool:
    """Cross-zone as AWS has it: the ELB's attribute, or every target group's of the ALB."""
    name = PREFIX + load_balancer_id
    if kind != APPLICATION:
        attributes = aws("elb").describe_load_balancer_attributes(LoadBalancerName=name)["LoadBalancerAttributes"]
        return attributes["CrossZoneLoadBalancing"]["Enabled"]
    elbv2 = aws("elbv2")
    [alb] = elbv2.describe_load_balancers(Names=[name])["LoadBalancers"]
    values = {
        attribute["Value"]
        for group in elbv2.describe_target_groups(LoadBalancerArn=alb["LoadBalancerArn"])["TargetGroups"]
        for attribute in elbv2.describe_target_group_attributes(TargetGroupArn=group["TargetGroupArn"])["Attributes"]
        if attribute["Key"] == "load_balancing.cross_zone.enabled"
    }
    [value] = values
    return value == "true"
