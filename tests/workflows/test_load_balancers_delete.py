"""Deleting a load balancer (job type 3) end to end in moto: the synthesized DELETE_LOAD_BALANCER machine running
layer0.load_balancers' delete steps through the workflow-step function, on load balancers made by
`layer0.load_balancers.create`, classic and application. Nothing is stubbed; the one simulated AWS behaviour is the
security group's DependencyViolation while the load balancer's network interfaces detach (moto never raises it)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from layer0 import aws, environments, jobs
from layer0 import load_balancers as lbs
from layer0.errors import Layer0Error
from layer0.models import CreateEnvironmentRequest, CreateLoadBalancerRequest, HealthCheck, Port
from layer0.stores import jobs as job_store
from layer0.stores import tags as tag_store
from local.certificates import self_signed
from tests.conftest import setup_client
from tests.workflows.helpers import execution_arn, job_machines, wait_for_end

TYPES = ("classic", "application")


def upload_certificate(name: str = "l0-l0-api") -> str:
    certificate, key = self_signed()
    return setup_client("iam").upload_server_certificate(
        ServerCertificateName=name, CertificateBody=certificate, PrivateKey=key
    )["ServerCertificateMetadata"]["Arn"]


def estate() -> dict[str, int]:
    """Everything a load balancer can leave behind, counted in moto and the tag table."""
    elb, elbv2, ec2, iam = (setup_client(s) for s in ("elb", "elbv2", "ec2", "iam"))
    albs = elbv2.describe_load_balancers()["LoadBalancers"]
    roles = [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].endswith("-lb")]
    return {
        "classic_load_balancers": len(elb.describe_load_balancers()["LoadBalancerDescriptions"]),
        "application_load_balancers": len(albs),
        "listeners": sum(len(elbv2.describe_listeners(LoadBalancerArn=a["LoadBalancerArn"])["Listeners"]) for a in albs),
        "target_groups": len(elbv2.describe_target_groups()["TargetGroups"]),
        "roles": len(roles),
        "role_policies": sum(len(iam.list_role_policies(RoleName=r)["PolicyNames"]) for r in roles),
        "lb_security_groups": sum(
            g["GroupName"].endswith("-lb") for g in ec2.describe_security_groups()["SecurityGroups"]
        ),
        "tags": len(tag_store.select_by_type(lbs.ENTITY_TYPE)),
        "name_claims": len(tag_store.select_by_type(lbs.NAME_CLAIM_TYPE)),
    }


NOTHING = dict.fromkeys(
    ("classic_load_balancers", "application_load_balancers", "listeners", "target_groups", "roles",
     "role_policies", "lb_security_groups", "tags", "name_claims"),
    0,
)  # fmt: skip


@pytest.fixture
def machines(stack, monkeypatch):
    with job_machines(monkeypatch) as (arns, _waits):
        yield arns


@pytest.fixture
def environment_id(machines) -> str:
    request = CreateEnvironmentRequest(environment_name="test", operating_system="linux", instance_size="t3.micro")
    return environments.create(request).environment_id


def create_public(environment_id: str, kind: str) -> str:
    """A public load balancer with HTTP and HTTPS listeners (the latter with a certificate): its id."""
    ports = [
        Port(host_port=80, container_port=80, protocol="http"),
        Port(host_port=443, container_port=80, protocol="https", certificate_name="l0-l0-api"),
    ]
    check = HealthCheck(target="HTTP:80/", interval=30, timeout=5, healthy_threshold=2, unhealthy_threshold=2)
    request = CreateLoadBalancerRequest(
        load_balancer_name="web", environment_id=environment_id, is_public=True, ports=ports, health_check=check,
        load_balancer_type=kind,
    )  # fmt: skip
    return lbs.create(request).load_balancer_id


def run(machines, job) -> dict:
    return wait_for_end(execution_arn(machines[3], job.job_id))


def completed(described: dict) -> bool:
    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    return True


@pytest.mark.parametrize("kind", TYPES)
def test_the_job_deletes_everything_the_load_balancer_had(machines, environment_id, kind):
    upload_certificate()
    load_balancer_id = create_public(environment_id, kind)
    before = estate()
    expected = {
        "classic": {"classic_load_balancers": 1},
        "application": {"application_load_balancers": 1, "listeners": 2, "target_groups": 1},
    }[kind]
    assert before == {**NOTHING, **expected, "lb_security_groups": 1, "tags": 3, "name_claims": 1}, before

    job = lbs.start_delete(load_balancer_id)
    described = run(machines, job)

    assert completed(described)
    stored = job_store.get(job.job_id)
    assert (stored.job_type, stored.job_status, stored.request) == (3, 3, load_balancer_id)
    assert estate() == NOTHING
    assert lbs.list_all() == []
    with pytest.raises(Layer0Error) as raised:
        lbs.get(load_balancer_id)
    assert int(raised.value.code) == 26
    # The environment's own group is not the load balancer's to delete.
    groups = setup_client("ec2").describe_security_groups()["SecurityGroups"]
    assert f"l0-l0-{environment_id}-env" in {g["GroupName"] for g in groups}
    # The name is free again.
    assert lbs.get(create_public(environment_id, kind)).load_balancer_name == "web"


def test_the_job_deletes_the_legacy_role_of_an_adopted_classic_elb(machines, environment_id):
    """Layer0 before issue 12 (and the original) made a role `l0-<prefix>-<id>-lb` per classic ELB: an adopted
    instance's delete still removes it and its inline policy."""
    upload_certificate()
    load_balancer_id = create_public(environment_id, "classic")
    role = f"l0-l0-{load_balancer_id}-lb"
    iam = setup_client("iam")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    registering = {"Effect": "Allow", "Action": "elasticloadbalancing:RegisterInstancesWithLoadBalancer", "Resource": "*"}
    policy = {"Version": "2012-10-17", "Statement": [registering]}
    iam.put_role_policy(RoleName=role, PolicyName=role, PolicyDocument=json.dumps(policy))
    assert (estate()["roles"], estate()["role_policies"]) == (1, 1)

    assert completed(run(machines, lbs.start_delete(load_balancer_id)))

    assert estate() == NOTHING


@pytest.mark.parametrize("kind", TYPES)
def test_a_rerun_after_everything_is_gone_completes(machines, environment_id, kind):
    upload_certificate()
    load_balancer_id = create_public(environment_id, kind)
    assert completed(run(machines, lbs.start_delete(load_balancer_id)))

    # start_delete would say 404 now; a job started anyway (a retry of a job that failed late) still completes.
    job = jobs.create(jobs.JobType.DeleteLoadBalancer, load_balancer_id)
    assert completed(run(machines, job))
    assert job_store.get(job.job_id).job_status == 3
    assert estate() == NOTHING


class DependencyViolation:
    """EC2's answer to DeleteSecurityGroup while ENIs still use the group, for the first `times` calls: moto deletes
    a group whatever uses it. A botocore `before-call` hook whose answer replaces the call."""

    def __init__(self, times: int):
        self.left = times
        self.calls = 0

    def __call__(self, **_):
        self.calls += 1
        if self.left <= 0:
            return None
        self.left -= 1
        error = {"Error": {"Code": "DependencyViolation", "Message": "resource sg-1 has a dependent object"}}
        return SimpleNamespace(status_code=400, headers={}, text="", content=b""), error


def test_the_security_group_is_retried_until_its_network_interfaces_detach(machines, environment_id):
    upload_certificate()
    load_balancer_id = create_public(environment_id, "classic")
    ec2 = aws.client("ec2")
    violation = DependencyViolation(times=3)
    ec2.meta.events.register("before-call.ec2.DeleteSecurityGroup", violation)
    try:
        described = run(machines, lbs.start_delete(load_balancer_id))
    finally:
        ec2.meta.events.unregister("before-call.ec2.DeleteSecurityGroup", violation)

    assert completed(described)
    assert violation.calls == 4  # three refusals, then the delete
    assert estate() == NOTHING


def test_a_group_that_stays_in_use_ends_the_job_in_error_and_a_rerun_finishes(machines, environment_id, monkeypatch):
    from layer0.workflows import asl

    upload_certificate()
    load_balancer_id = create_public(environment_id, "classic")
    ec2 = aws.client("ec2")
    attempts = asl.SECURITY_GROUP_RETRY.max_attempts
    violation = DependencyViolation(times=attempts + 1)  # the first try and every retry
    ec2.meta.events.register("before-call.ec2.DeleteSecurityGroup", violation)
    try:
        job = lbs.start_delete(load_balancer_id)
        described = run(machines, job)
    finally:
        ec2.meta.events.unregister("before-call.ec2.DeleteSecurityGroup", violation)

    assert described["status"] == "FAILED"
    assert violation.calls == attempts + 1
    failed = job_store.get(job.job_id)
    assert failed.job_status == 4 and "Retryable" in failed.meta["error"]
    # The load balancer went; its group and tags wait for the rerun.
    left = estate()
    assert (left["classic_load_balancers"], left["lb_security_groups"], left["tags"]) == (0, 1, 3)

    assert completed(run(machines, lbs.start_delete(load_balancer_id)))
    assert estate() == NOTHING
