"""The services policy (infra/services.py) and the service job machines (types 2 and 6) in the template."""

from __future__ import annotations

import json

from layer0 import contract
from layer0.workflows import asl, registry
from tests.infra.helpers import as_list, function, only, statements
from tests.infra.test_infra_environments import ENVIRONMENT_ACTIONS

NAMES = "l0-l0-*"
REGIONAL = "arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>"

# Every cdk-nag finding the policy acknowledges (imported by test_infra_checks), and the rollout and
# delete-service executions the API may stop and read.
SERVICE_ACKNOWLEDGEMENTS = {
    f"AwsSolutions-IAM5[Resource::{REGIONAL.format(service='ecs')}:service/{NAMES}/*]",
    f"AwsSolutions-IAM5[Resource::{REGIONAL.format(service='ecs')}:task/{NAMES}/*]",
    *(
        f"AwsSolutions-IAM5[Resource::{REGIONAL.format(service='states')}:execution:l0-l0-job-{slug}:*]"
        for slug in ("delete-service", "rollout")
    ),
}

# Every action of the policy (imported by test_infra_template).
SERVICE_ACTIONS = {"ecs:CreateService", "logs:DescribeLogStreams", "logs:GetLogEvents"}

# What the delete-service steps call (layer0.workflows.delete_service, layer0.services).
STEP_ACTIONS = {
    "ecs:ListClusters", "ecs:ListServices", "ecs:DescribeServices", "ecs:UpdateService", "ecs:DeleteService",
    "ecs:ListTasks", "ecs:StopTask",
}  # fmt: skip


def _policy(synth):
    policies = {
        k: v
        for k, v in synth.resources("AWS::IAM::Policy").items()
        if v["Properties"].get("PolicyName") == "l0-l0-services"
    }
    return only(policies, "services policy")


def _statements(synth) -> dict[str, dict]:
    _, policy = _policy(synth)
    return {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}


def test_the_api_function_has_the_services_policy(synth):
    _, props = function(synth.template_json, contract.API_HANDLER)
    _, policy = _policy(synth)
    assert policy["Properties"]["Roles"] == [{"Ref": props["Role"]["Fn::GetAtt"][0]}]
    actions = {a for s in policy["Properties"]["PolicyDocument"]["Statement"] for a in as_list(s["Action"])}
    assert actions == SERVICE_ACTIONS
    # Nothing the environments policy already grants.
    assert not (actions - {"iam:PassRole"}) & ENVIRONMENT_ACTIONS


def test_services_are_created_only_in_layer0_clusters(synth):
    statement = _statements(synth)["CreateServices"]
    assert statement["Action"] == "ecs:CreateService"
    assert f":service/{NAMES}/*" in json.dumps(statement["Resource"])


def test_no_role_is_passed_to_ecs_for_services_behind_load_balancers(synth):
    # ECS uses its service-linked role when CreateService names no `role`.
    _, policy = _policy(synth)
    actions = {a for s in policy["Properties"]["PolicyDocument"]["Statement"] for a in as_list(s["Action"])}
    assert "iam:PassRole" not in actions
    assert "PassLoadBalancerRolesToEcs" not in _statements(synth)


def test_logs_are_read_from_the_layer0_log_group_only(synth):
    statement = _statements(synth)["ReadContainerLogs"]
    groups = {
        k: v
        for k, v in synth.resources("AWS::Logs::LogGroup").items()
        if v["Properties"].get("LogGroupName") == "l0-l0"
    }
    group_id, _group = only(groups, "l0-l0 log group")
    assert statement["Resource"] == {"Fn::GetAtt": [group_id, "Arn"]}


def test_the_delete_service_steps_may_run_the_service_steps_and_nothing_else(synth):
    from tests.infra.helpers import granted, step_role

    for slug in ("delete-service", "delete-environment"):
        assert STEP_ACTIONS <= granted(synth.template_json, step_role(synth.template_json, slug)), slug
    actions = granted(synth.template_json, step_role(synth.template_json, "delete-service"))
    from tests.infra.test_infra_autoscaling import AUTOSCALING_REMOVE_ACTIONS

    others = {
        a
        for a in actions - STEP_ACTIONS - AUTOSCALING_REMOVE_ACTIONS
        if not a.startswith(("dynamodb:", "logs:", "xray:"))
    }
    assert others == set(), others


def test_the_rollout_step_may_only_read_the_service_and_its_tasks(synth):
    from tests.infra.helpers import granted, step_role

    actions = granted(synth.template_json, step_role(synth.template_json, "rollout"))
    assert {a for a in actions if a.startswith("ecs:")} == {
        "ecs:ListTasks",
        "ecs:DescribeServices",
        "ecs:DescribeTasks",
    }
    assert {a.split(":")[0] for a in actions} == {"ecs", "dynamodb", "logs", "xray"}


def test_the_delete_service_and_rollout_machines_are_deployed(synth):
    machines = {
        m["Properties"]["StateMachineName"]: m for m in synth.resources("AWS::StepFunctions::StateMachine").values()
    }
    for slug in ("delete-service", "rollout"):
        assert f"l0-l0-job-{slug}" in machines
        assert machines[f"l0-l0-job-{slug}"]["Properties"]["StateMachineType"] == "STANDARD"
