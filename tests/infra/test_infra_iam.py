"""Least privilege across the whole template (issue 12): what no Layer0 role may do, whichever policy grants it."""

from __future__ import annotations

import json

from tests.infra.helpers import as_list


def _statements(template: dict) -> list[dict]:
    found = []
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy":
            found.extend(resource["Properties"]["PolicyDocument"]["Statement"])
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies", []):
                found.extend(policy["PolicyDocument"]["Statement"])
    return found


def _passing(template: dict) -> list[dict]:
    return [s for s in _statements(template) if "iam:PassRole" in as_list(s["Action"])]


def test_every_pass_role_names_its_roles_and_the_service_they_go_to(synth, imported):
    for synthesized, prefix in ((synth, "l0"), (imported, "team2")):
        passing = _passing(synthesized.template_json)
        assert passing
        for statement in passing:
            assert set(statement["Condition"]["StringEquals"]) == {"iam:PassedToService"}, statement
            for resource in as_list(statement["Resource"]):
                text = json.dumps(resource)
                # Never the account's every role: a stack role (Ref/GetAtt) or one of the instance's own names.
                assert not text.endswith(':role/*"]]}'), text
                if "Fn::Join" in resource and ":role/" in text:
                    tail = resource["Fn::Join"][1][-1].rsplit(":role/", 1)[-1]
                    assert tail.startswith((f"l0-{prefix}-", f"layer0/l0-{prefix}/")), tail


def test_task_roles_go_to_ecs_tasks_only_and_nothing_else_goes_to_ecs(synth):
    services = {s["Condition"]["StringEquals"]["iam:PassedToService"] for s in _passing(synth.template_json)}
    # The instance role to EC2, the scaler's schedule role to Scheduler, task roles to ECS tasks; no load-balancer
    # role to ECS (ECS uses its service-linked role).
    assert services == {"ec2.amazonaws.com", "scheduler.amazonaws.com", "ecs-tasks.amazonaws.com"}


def test_no_function_may_create_roles_or_change_their_policies(synth):
    forbidden = {
        "iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy",
        "iam:PutRolePermissionsBoundary", "iam:CreatePolicy", "iam:CreatePolicyVersion",
    }  # fmt: skip
    granted = {a for s in _statements(synth.template_json) for a in as_list(s["Action"])}
    assert not granted & forbidden, sorted(granted & forbidden)


def test_the_imds_hop_limit_reaches_every_function(synth, imported):
    for synthesized, expected in ((synth, "1"), (imported, "2")):
        functions = synthesized.layer0_functions().values()
        limits = {f["Properties"]["Environment"]["Variables"].get("LAYER0_IMDS_HOP_LIMIT") for f in functions}
        assert limits == {expected}


# --- the scaler: read the clusters and the groups, set the desired capacity or terminate an instance ---------------


def test_every_call_the_scaler_makes_is_granted_to_it_and_it_writes_only_the_groups(synth, stack, monkeypatch):
    from handlers import scaler as scaler_function
    from layer0 import aws, contract, environments, scaler
    from layer0.models import CreateEnvironmentRequest
    from local.ecs.agent import Agent, unpatch_moto_total_resources
    from tests.conftest import setup_client
    from tests.infra.helpers import function, granted

    def create(name: str, count: int) -> str:
        request = CreateEnvironmentRequest(
            environment_name=name,
            operating_system="linux",
            instance_size="t3.small",
            min_cluster_count=count,
            scaling="layer0",  # the environments the scaler sizes
        )
        return environments.create(request).environment_id

    made: set[str] = set()

    def record(model, **_):
        made.add(f"{model.service_model.endpoint_prefix}:{model.name}")

    agent = Agent(setup_client)
    try:
        # Grows: a service wants two copies of host port 80 and one instance has it; shrinks: three idle instances
        # above a minimum of 1.
        growing, shrinking = create("grow", 1), create("shrink", 3)
        environments.update_min_count(shrinking, 1)
        agent.sync_once()
        ecs = setup_client("ecs")
        ecs.register_task_definition(
            family="l0-l0-web",
            containerDefinitions=[{"name": "web", "image": "nginx", "memory": 1500,
                                   "portMappings": [{"containerPort": 80, "hostPort": 80}]}],
        )  # fmt: skip
        ecs.create_service(
            cluster=f"l0-l0-{growing}", serviceName="l0-l0-websvc", taskDefinition="l0-l0-web", desiredCount=2
        )
        # A task runs on one of the shrinking environment's instances, which therefore stays.
        ecs.register_task_definition(
            family="l0-l0-job", containerDefinitions=[{"name": "job", "image": "busybox", "memory": 64}]
        )
        ecs.run_task(cluster=f"l0-l0-{shrinking}", taskDefinition="l0-l0-job", startedBy="l0-l0-")
        scaler.instance_memory.cache_clear()  # asked of EC2 once per process
        clients = [aws.client(s) for s in ("ecs", "ec2", "autoscaling", "dynamodb", "elb", "elbv2", "iam", "scheduler")]
        for client in clients:
            client.meta.events.register("before-call", record)
        try:
            results = scaler_function.handler({}, None)  # hourly: every environment
            scaler_function.handler({"environment_id": growing}, None)  # a debounced run
        finally:
            for client in clients:
                client.meta.events.unregister("before-call", record)
    finally:
        unpatch_moto_total_resources()

    assert results[growing]["desired_scale_after_run"] == 2 and results[shrinking]["desired_scale_after_run"] == 1
    writes = {a for a in made if not a.split(":")[1].startswith(("Describe", "List", "Get", "Scan", "Query"))}
    assert writes == {
        "autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup",
        "autoscaling:UpdateAutoScalingGroup",
    }  # fmt: skip
    _, props = function(synth.template_json, contract.SCALER_HANDLER)
    allowed = granted(synth.template_json, props["Role"]["Fn::GetAtt"][0])
    missing = made - allowed
    assert not missing, sorted(missing)
    # ...and nothing is granted that it does not call (logs and X-Ray are every function's own; DynamoDB's read
    # actions come with CDK's table read grants).
    unused = {a for a in allowed - made if not a.startswith(("logs:", "xray:", "dynamodb:"))}
    assert unused == set(), sorted(unused)
    assert {a for a in allowed if a.startswith("dynamodb:")} <= {
        "dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable", "dynamodb:GetItem",
        "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:Query", "dynamodb:Scan",
    }  # fmt: skip


def test_every_call_of_a_managed_graviton_environment_is_granted(synth, stack):
    """Create (the API function) and the DeleteCapacityProvider step (the delete-environment step function) of an
    arm64 environment with a capacity provider (docs/architecture.md#capacity-providers)."""
    from layer0 import aws, capacity, contract, environments
    from layer0.models import CreateEnvironmentRequest
    from tests.infra.helpers import function, granted, step_role

    made: set[str] = set()

    def record(model, **_):
        made.add(f"{model.service_model.endpoint_prefix}:{model.name}")

    capacity.instance_architecture.cache_clear()
    capacity.offered_in_region.cache_clear()
    clients = [aws.client(s) for s in ("ecs", "ec2", "autoscaling", "ssm")]
    for client in clients:
        client.meta.events.register("before-call", record)
    try:
        request = CreateEnvironmentRequest(environment_name="arm", operating_system="linux", instance_size="m7g.large")
        environment_id = environments.create(request).environment_id
        created, made = made, set()
        assert capacity.delete_provider(environment_id) == {"deleted": True}
        deleted = made
    finally:
        for client in clients:
            client.meta.events.unregister("before-call", record)

    assert {
        "ecs:CreateCapacityProvider",
        "ecs:PutClusterCapacityProviders",
        "ec2:DescribeInstanceTypeOfferings",
    } <= created
    _, props = function(synth.template_json, contract.API_HANDLER)
    missing = created - granted(synth.template_json, props["Role"]["Fn::GetAtt"][0])
    assert not missing, sorted(missing)
    assert {"ecs:DeleteCapacityProvider", "ecs:PutClusterCapacityProviders"} <= deleted
    missing = deleted - granted(synth.template_json, step_role(synth.template_json, "delete-environment"))
    assert not missing, sorted(missing)


# --- ec2:RunInstances: Layer0's own launch templates, into the Layer0 VPC ------------------------------------------


def _run_instances(synthesized) -> list[tuple[str, dict]]:
    """(resource type, condition) of every resource the environments policy lets RunInstances use."""
    [policy] = [
        p["Properties"] for p in synthesized.resources("AWS::IAM::Policy").values()
        if p["Properties"]["PolicyName"].endswith("-environments")
    ]  # fmt: skip
    found = []
    for statement in policy["PolicyDocument"]["Statement"]:
        if "ec2:RunInstances" in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                kind = json.dumps(resource).rsplit(":", 1)[-1].split("/")[0]
                found.append((kind, statement.get("Condition", {})))
    return found


def test_run_instances_is_confined_to_the_layer0_vpc_and_its_launch_templates(synth, imported):
    for synthesized, prefix, vpc in ((synth, "l0", None), (imported, "team2", "vpc-12345678")):
        by_kind = {}
        for kind, condition in _run_instances(synthesized):
            assert kind not in by_kind, kind
            by_kind[kind] = condition
        assert set(by_kind) == {
            "launch-template", "subnet", "network-interface", "security-group",
            "instance", "volume", "image", "key-pair",
        }  # fmt: skip
        assert by_kind["launch-template"] == {"StringLike": {"ec2:ResourceTag/Name": f"l0-{prefix}-*"}}
        for kind in ("subnet", "network-interface", "security-group"):
            [(operator, values)] = by_kind[kind].items()
            assert operator == "ArnEquals" and list(values) == ["ec2:Vpc"], kind
            text = json.dumps(values["ec2:Vpc"])
            assert ":vpc/" in text
            if vpc:
                assert text.endswith(f':vpc/{vpc}"]]}}'), text
        for kind in ("instance", "volume"):
            [(operator, values)] = by_kind[kind].items()
            assert operator == "ArnLike" and ":launch-template/*" in json.dumps(values["ec2:LaunchTemplate"]), kind
        assert by_kind["image"] == {"StringEquals": {"ec2:Owner": "amazon"}}


def test_the_previous_token_is_accepted_for_exactly_one_authorizer_cache_period(synth):
    from infra.api import AUTHORIZER_CACHE_TTL
    from layer0 import auth

    [authorizer] = synth.resources("AWS::ApiGateway::Authorizer").values()
    assert authorizer["Properties"]["AuthorizerResultTtlInSeconds"] == AUTHORIZER_CACHE_TTL.to_seconds()
    assert AUTHORIZER_CACHE_TTL.to_seconds() == auth.ROTATION_GRACE_SECONDS
