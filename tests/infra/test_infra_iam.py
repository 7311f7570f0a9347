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
        functions = synthesized.resources("AWS::Lambda::Function").values()
        limits = {f["Properties"]["Environment"]["Variables"].get("LAYER0_IMDS_HOP_LIMIT") for f in functions}
        assert limits == {expected}
