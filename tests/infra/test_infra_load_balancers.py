"""The load-balancer policies (infra/load_balancers.py) and the delete-load-balancer machine (type 3) in the template;
and, against moto, that every AWS call the load-balancer domain makes is an action its function is granted."""

from __future__ import annotations

import json

import pytest

from layer0 import contract
from layer0.workflows import asl, registry
from tests.infra.helpers import as_list, function, granted, only, statements, step_role

NAMES = "l0-l0-*"
REGIONAL = "arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>"
ELB = REGIONAL.format(service="elasticloadbalancing")

# Every cdk-nag finding the policies acknowledge, and the delete-load-balancer executions the API may stop and read
# (imported by test_infra_checks).
LOAD_BALANCER_ACKNOWLEDGEMENTS = {
    f"AwsSolutions-IAM5[Resource::{resource}]"
    for resource in (
        "*",
        f"{ELB}:loadbalancer/{NAMES}",
        f"{ELB}:loadbalancer/app/{NAMES}/*",
        f"{ELB}:listener/app/{NAMES}/*/*",
        f"{ELB}:targetgroup/{NAMES}/*",
        f"arn:<AWS::Partition>:iam::<AWS::AccountId>:role/{NAMES}-lb",
        f"{REGIONAL.format(service='acm')}:certificate/*",
        f"{REGIONAL.format(service='states')}:execution:l0-l0-job-delete-load-balancer:*",
    )
}

# The only actions with Resource "*" (imported by test_infra_template).
LOAD_BALANCER_STAR_ACTIONS = {
    "elasticloadbalancing:DescribeLoadBalancers", "ec2:DescribeSecurityGroups",
    "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTags", "elasticloadbalancing:DescribeLoadBalancerAttributes", "elasticloadbalancing:DescribeTargetGroupAttributes",
    "ec2:DescribeSubnets", "iam:ListServerCertificates",
}  # fmt: skip

# Every action of the two policies (imported by test_infra_template).
LOAD_BALANCER_ACTIONS = LOAD_BALANCER_STAR_ACTIONS | {
    "elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:ConfigureHealthCheck",
    "elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:CreateLoadBalancerListeners",
    "elasticloadbalancing:DeleteLoadBalancerListeners", "elasticloadbalancing:CreateListener",
    "elasticloadbalancing:ModifyListener", "elasticloadbalancing:DeleteListener",
    "elasticloadbalancing:CreateTargetGroup", "elasticloadbalancing:ModifyTargetGroup",
    "elasticloadbalancing:ModifyTargetGroupAttributes", "elasticloadbalancing:DeleteTargetGroup",
    "iam:ListRolePolicies", "iam:DeleteRolePolicy", "iam:DeleteRole",
    "iam:CreateServiceLinkedRole", "acm:DescribeCertificate", "elasticloadbalancing:AddTags",
    "elasticloadbalancing:DeleteLoadBalancer", "ec2:DeleteSecurityGroup",
}  # fmt: skip

# What the delete steps call (layer0.load_balancers.delete_*, both backends).
DELETE_STEP_ACTIONS = {
    "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTags", "elasticloadbalancing:DeleteListener",
    "elasticloadbalancing:DeleteTargetGroup", "elasticloadbalancing:DeleteLoadBalancer",
    "iam:ListRolePolicies", "iam:DeleteRolePolicy", "iam:DeleteRole",
    "ec2:DescribeSecurityGroups", "ec2:DeleteSecurityGroup",
}  # fmt: skip


def _policy(synth, name: str) -> dict:
    found = {k: v for k, v in synth.resources("AWS::IAM::Policy").items() if v["Properties"].get("PolicyName") == name}
    return only(found, name)[1]["Properties"]


def _statements(synth, name: str) -> dict[str, dict]:
    return {s["Sid"]: s for s in _policy(synth, name)["PolicyDocument"]["Statement"]}


def _role(synth, handler: str) -> dict:
    _, props = function(synth.template_json, handler)
    return {"Ref": props["Role"]["Fn::GetAtt"][0]}


def _granted(synth, handler: str) -> set[str]:
    role_id = _role(synth, handler)["Ref"]
    return {a for s in statements(synth.template_json, role_id) for a in as_list(s["Action"])}


def _resource_text(synth, statement: dict) -> list[str]:
    return [json.dumps(r) for r in as_list(statement["Resource"])]


# --- the policies ---------------------------------------------------------------------------------------------------


def test_the_delete_policy_is_on_the_api_and_the_deleting_jobs_steps_and_the_manage_policy_on_the_api_only(synth):
    api = _role(synth, contract.API_HANDLER)
    steps = [{"Ref": step_role(synth.template_json, slug)} for slug in ("delete-load-balancer", "delete-environment")]
    assert sorted(_policy(synth, "l0-l0-load-balancer-deletes")["Roles"], key=str) == sorted([api, *steps], key=str)
    assert _policy(synth, "l0-l0-load-balancers")["Roles"] == [api]
    actions = {
        a
        for name in ("l0-l0-load-balancer-deletes", "l0-l0-load-balancers")
        for s in _policy(synth, name)["PolicyDocument"]["Statement"]
        for a in as_list(s["Action"])
    }
    assert actions == LOAD_BALANCER_ACTIONS


def test_star_resources_only_for_calls_aws_does_not_scope(synth):
    for name in ("l0-l0-load-balancer-deletes", "l0-l0-load-balancers"):
        for statement in _policy(synth, name)["PolicyDocument"]["Statement"]:
            if "*" in as_list(statement["Resource"]):
                assert as_list(statement["Resource"]) == ["*"]
                assert set(as_list(statement["Action"])) <= LOAD_BALANCER_STAR_ACTIONS, statement


def test_load_balancers_listeners_and_target_groups_are_scoped_to_layer0_names(synth):
    policies = {
        "manage": _statements(synth, "l0-l0-load-balancers"),
        "deletes": _statements(synth, "l0-l0-load-balancer-deletes"),
    }
    expected = {
        ("manage", "ClassicLoadBalancers"): ':loadbalancer/l0-l0-*"',
        ("manage", "ApplicationLoadBalancers"): ':loadbalancer/app/l0-l0-*/*"',
        ("manage", "Listeners"): ':listener/app/l0-l0-*/*/*"',
        ("manage", "TargetGroups"): ':targetgroup/l0-l0-*/*"',
        ("deletes", "DeleteListeners"): ':listener/app/l0-l0-*/*/*"',
        ("deletes", "DeleteTargetGroups"): ':targetgroup/l0-l0-*/*"',
    }
    for (policy, sid), suffix in expected.items():
        statement = policies[policy][sid]
        [resource] = _resource_text(synth, statement)
        assert resource.endswith(suffix + "]]}"), (sid, resource)
        assert ":elasticloadbalancing:" in resource
        assert all(a.startswith("elasticloadbalancing:") for a in as_list(statement["Action"]))


def test_no_role_may_be_created_and_only_legacy_load_balancer_roles_deleted(synth):
    assert "CreateLoadBalancerRoles" not in _statements(synth, "l0-l0-load-balancers")
    statement = _statements(synth, "l0-l0-load-balancer-deletes")["DeleteLegacyLoadBalancerRoles"]
    [resource] = _resource_text(synth, statement)
    assert resource.endswith(':iam::", {"Ref": "AWS::AccountId"}, ":role/l0-l0-*-lb"]]}'), resource
    service_linked = _statements(synth, "l0-l0-load-balancers")["ElbServiceLinkedRole"]
    assert service_linked["Condition"] == {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}}
    assert _resource_text(synth, service_linked)[0].endswith(
        ':role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing"]]}'
    )


def test_acm_certificates_of_the_stacks_account_and_region_only(synth):
    statement = _statements(synth, "l0-l0-load-balancers")["DescribeAcmCertificates"]
    assert statement["Action"] == "acm:DescribeCertificate"
    [resource] = _resource_text(synth, statement)
    assert '{"Ref": "AWS::Region"}' in resource and '{"Ref": "AWS::AccountId"}' in resource
    assert resource.endswith(':certificate/*"]]}')


def test_the_names_follow_the_prefix(imported):
    text = json.dumps(_policy(imported, "l0-team2-load-balancers")) + json.dumps(
        _policy(imported, "l0-team2-load-balancer-deletes")
    )
    assert "l0-team2-*" in text and "l0-l0-" not in text


def test_the_delete_load_balancer_steps_may_run_every_delete_step_and_nothing_else(synth):
    actions = granted(synth.template_json, step_role(synth.template_json, "delete-load-balancer"))
    assert DELETE_STEP_ACTIONS <= actions
    # ...and create nothing: only the job and tag tables, its logs and traces besides.
    others = {a for a in actions - DELETE_STEP_ACTIONS if not a.startswith(("dynamodb:", "logs:", "xray:"))}
    assert others == set(), others


# --- the delete-load-balancer machine -------------------------------------------------------------------------------


def test_the_delete_load_balancer_machine_runs_the_four_steps_in_order(synth):
    machines = {
        m["Properties"]["StateMachineName"]: m["Properties"]
        for m in synth.resources("AWS::StepFunctions::StateMachine").values()
    }
    props = machines["l0-l0-job-delete-load-balancer"]
    assert props["StateMachineType"] == "STANDARD"
    definition = json.loads(props["DefinitionString"])
    [body] = definition["States"]["Body"]["Branches"]
    order, state = [], body["StartAt"]
    while state:
        order.append((state, body["States"][state]["Parameters"]["Payload"]["step"]))
        assert body["States"][state]["Parameters"]["Payload"]["args"] == {"load_balancer_id.$": "$.request"}
        state = body["States"][state].get("Next")
    assert order == [
        ("DeleteRouting", "load_balancer.delete_routing"),
        ("DeleteLoadBalancer", "load_balancer.delete_load_balancer"),
        ("DeleteSecurityGroup", "load_balancer.delete_security_group"),
        ("DeleteTags", "load_balancer.delete_tags"),
    ]
    # The security group waits for the ENIs to detach as the original did: 50 attempts, 10 s apart.
    [retryable] = [r for r in body["States"]["DeleteSecurityGroup"]["Retry"] if r["ErrorEquals"] == ["Retryable"]]
    assert (retryable["IntervalSeconds"], retryable["MaxAttempts"], retryable["BackoffRate"]) == (10, 50, 1.0)
    from layer0.contract import JobType
    from layer0.workflows import delete_load_balancer

    assert registry.MACHINES[JobType.DeleteLoadBalancer] is delete_load_balancer.MACHINE


def test_the_api_may_start_delete_load_balancer_jobs(synth):
    machine_id = only(
        {
            k: v
            for k, v in synth.resources("AWS::StepFunctions::StateMachine").items()
            if v["Properties"]["StateMachineName"] == "l0-l0-job-delete-load-balancer"
        },
        "delete-load-balancer machine",
    )[0]
    role_id = _role(synth, contract.API_HANDLER)["Ref"]
    [start] = [s for s in statements(synth.template_json, role_id) if s.get("Sid") == "StartJobs"]
    assert {"Ref": machine_id} in as_list(start["Resource"])


# --- every call the domain makes is granted -------------------------------------------------------------------------

# Calls AWS authorizes without a policy.
UNAUTHORIZED_CALLS = {"sts:GetCallerIdentity"}
SERVICES = ("elb", "elbv2", "ec2", "iam", "acm", "sts")
# Tagging in a create call is authorized as a second action as well.
TAG_ON_CREATE = {
    "elasticloadbalancing": ("Tags", "elasticloadbalancing:AddTags"),
    "ec2": ("TagSpecifications", "ec2:CreateTags"),
}
# Long enough that target group names `l0-<prefix>-<id>-<port>` pass 32 characters and are hashed (found by tag).
LONG_PREFIX = "averylongprefix"


class Calls:
    """Every AWS call the domain's clients make, as IAM actions, by phase ("manage": the API; "delete": the steps)."""

    def __init__(self):
        self.phase = "manage"
        self.made: dict[str, set[str]] = {"manage": set(), "delete": set()}

    def __call__(self, model, params, **_):
        prefix = model.service_model.endpoint_prefix
        self.made[self.phase].add(f"{prefix}:{model.name}")
        key, action = TAG_ON_CREATE.get(prefix, (None, None))
        if key and model.name.startswith("Create") and params.get(key):
            self.made[self.phase].add(action)


@pytest.fixture
def calls(stack):
    from layer0 import aws

    recorder = Calls()
    clients = [aws.client(service) for service in SERVICES]
    for client in clients:
        client.meta.events.register("before-call", recorder)
    yield recorder
    for client in clients:
        client.meta.events.unregister("before-call", recorder)


def _exercise(load_balancer_type: str, calls: Calls) -> None:
    """Create (public, two ports, one with a certificate), read, change everything and attach a service as the API
    does; then delete as the steps do."""
    from layer0 import environments
    from layer0 import load_balancers as lbs
    from layer0.models import CreateEnvironmentRequest, CreateLoadBalancerRequest, HealthCheck, Port
    from tests.workflows.test_load_balancers_delete import upload_certificate

    environment_id = environments.create(
        CreateEnvironmentRequest(environment_name="web", operating_system="linux", instance_size="t3.micro")
    ).environment_id
    certificate = upload_certificate("l0-cert")
    http = Port(host_port=80, container_port=80, protocol="http")
    https = Port(host_port=443, container_port=80, protocol="https", certificate_name="l0-cert")
    lb = lbs.create(
        CreateLoadBalancerRequest(
            load_balancer_name="web", environment_id=environment_id, is_public=True, ports=[http, https],
            load_balancer_type=load_balancer_type,
        )
    )  # fmt: skip
    lbs.get(lb.load_balancer_id)
    lbs.list_all()
    lbs.update_ports(
        lb.load_balancer_id,
        [http, Port(host_port=8443, container_port=81, protocol="https", certificate_arn=certificate)],
    )
    lbs.update_health_check(
        lb.load_balancer_id,
        HealthCheck(target="HTTP:80/health", interval=30, timeout=5, healthy_threshold=2, unhealthy_threshold=3),
    )
    lbs.update_idle_timeout(lb.load_balancer_id, 120)
    lbs.update_cross_zone(lb.load_balancer_id, False)
    task_definition = {
        "containerDefinitions": [{"name": "web", "portMappings": [{"hostPort": 80, "containerPort": 80}]}]
    }
    assert lbs.service_attachment(lb.load_balancer_id, task_definition)[0]
    calls.phase = "delete"
    for step in ("delete_routing", "delete_load_balancer", "delete_security_group", "delete_tags"):
        getattr(lbs, step)(lb.load_balancer_id)


@pytest.mark.parametrize(
    "load_balancer_type, prefix", [("classic", "l0"), ("application", "l0"), ("application", LONG_PREFIX)]
)
def test_every_call_the_domain_makes_is_granted_to_the_function_that_makes_it(
    synth, calls, monkeypatch, load_balancer_type, prefix
):
    from layer0 import settings

    monkeypatch.setenv("LAYER0_PREFIX", prefix)
    settings.get.cache_clear()
    _exercise(load_balancer_type, calls)

    assert calls.made["manage"] and calls.made["delete"], "no AWS call was recorded"
    if prefix == LONG_PREFIX:
        assert "elasticloadbalancing:DescribeTags" in calls.made["delete"]
    # The environment's own calls are recorded too: the environments policy grants them.
    missing = calls.made["manage"] - _granted(synth, contract.API_HANDLER) - UNAUTHORIZED_CALLS
    assert not missing, sorted(missing)
    for slug in ("delete-load-balancer", "delete-environment"):
        missing = (
            calls.made["delete"]
            - granted(synth.template_json, step_role(synth.template_json, slug))
            - UNAUTHORIZED_CALLS
        )
        assert not missing, (slug, sorted(missing))
