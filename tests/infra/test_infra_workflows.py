"""The job state machines and the workflow-step function in the synthesized template
(docs/architecture.md#the-job-path)."""

from __future__ import annotations

import json

from layer0 import contract
from layer0.workflows import asl, registry
from tests.infra.helpers import as_list, function, statements, step_function, step_role


def _machines(synth) -> dict[str, dict]:
    """State machine name -> properties."""
    return {
        m["Properties"]["StateMachineName"]: m["Properties"]
        for m in synth.resources("AWS::StepFunctions::StateMachine").values()
    }


def test_one_standard_machine_per_built_job_type(synth):
    assert set(_machines(synth)) == {machine.name("l0") for machine in registry.MACHINES.values()}
    assert "l0-l0-job-delete-environment" in _machines(synth)
    for props in _machines(synth).values():
        assert props["StateMachineType"] == "STANDARD"
        assert props["TracingConfiguration"] == {"Enabled": True}
        logging = props["LoggingConfiguration"]
        assert logging["Level"] == "ALL" and logging["IncludeExecutionData"] is True
        assert len(logging["Destinations"]) == 1


def test_definition_string_is_the_builders_output_with_its_own_step_function_substituted(synth):
    fake_arn = "arn:aws:lambda:us-west-2:123456789012:function:l0-l0-job-step"
    machines = _machines(synth)
    for machine in registry.MACHINES.values():
        step_id, _ = step_function(synth.template_json, machine.slug)
        props = machines[machine.name("l0")]
        assert props["DefinitionString"] == machine.definition_string()
        assert props["DefinitionSubstitutions"] == {asl.STEP_FUNCTION_ARN_KEY: {"Fn::GetAtt": [step_id, "Arn"]}}
        # CloudFormation substitutes ${StepFunctionArn}, as JobMachine.render does for local mode and the tests.
        substituted = props["DefinitionString"].replace("${%s}" % asl.STEP_FUNCTION_ARN_KEY, fake_arn)
        assert substituted == machine.render(fake_arn)
        assert json.loads(substituted) == json.loads(machine.render(fake_arn))
        assert "${" not in substituted


def test_machines_may_only_invoke_the_step_functions_and_log(synth):
    step_ids = [step_function(synth.template_json, machine.slug)[0] for machine in registry.MACHINES.values()]
    roles = {props["RoleArn"]["Fn::GetAtt"][0] for props in _machines(synth).values()}
    for role_id in roles:
        found = statements(synth.template_json, role_id)
        invoke = [s for s in found if "lambda:InvokeFunction" in as_list(s["Action"])]
        assert invoke == [
            {
                "Action": "lambda:InvokeFunction",
                "Effect": "Allow",
                "Resource": [{"Fn::GetAtt": [step_id, "Arn"]} for step_id in step_ids],
                "Sid": "InvokeJobSteps",
            }
        ]
        for statement in found:
            if statement not in invoke:
                assert all(a.startswith(("logs:", "xray:")) for a in as_list(statement["Action"])), statement
        role = synth.template_json["Resources"][role_id]["Properties"]
        assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "states.amazonaws.com"}


def test_one_step_function_per_job_type_with_its_own_role_and_the_shared_asset(synth):
    steps = {
        k: v["Properties"]
        for k, v in synth.resources("AWS::Lambda::Function").items()
        if v["Properties"]["Handler"] == contract.STEP_HANDLER
    }
    assert sorted(p["FunctionName"] for p in steps.values()) == sorted(
        f"l0-l0-job-{machine.slug}-step" for machine in registry.MACHINES.values()
    )
    assert len({json.dumps(p["Role"]) for p in steps.values()}) == len(steps)
    assert len({json.dumps(p["Code"]) for p in steps.values()}) == 1
    for props in steps.values():
        assert props["Timeout"] == asl.STEP_FUNCTION_TIMEOUT_SECONDS


def test_step_functions_read_and_write_only_the_job_table_and_the_tag_table_where_their_steps_tag(synth):
    tables = {t["Properties"]["TableName"]: k for k, t in synth.resources("AWS::DynamoDB::Table").items()}
    for machine in registry.MACHINES.values():
        role_id = step_role(synth.template_json, machine.slug)
        dynamo = [s for s in statements(synth.template_json, role_id) if "dynamodb:" in json.dumps(s["Action"])]
        used = {r["Fn::GetAtt"][0] for s in dynamo for r in as_list(s["Resource"]) if "Fn::GetAtt" in r}
        # Every job sets its status (the frame); the rollout job reads and writes no tag.
        expected = {tables["l0-l0-jobs"]} if machine.slug == "rollout" else {tables["l0-l0-jobs"], tables["l0-l0-tags"]}
        assert used == expected, machine.slug
    # Every task's TimeoutSeconds outlasts the function's own timeout.
    assert asl.TASK_TIMEOUT_SECONDS > asl.STEP_FUNCTION_TIMEOUT_SECONDS


def test_api_function_may_start_stop_and_read_only_the_job_executions(synth):
    _, props = function(synth.template_json, contract.API_HANDLER)
    role_id = props["Role"]["Fn::GetAtt"][0]
    machine_ids = set(synth.resources("AWS::StepFunctions::StateMachine"))
    found = {s.get("Sid"): s for s in statements(synth.template_json, role_id)}
    assert found["StartJobs"]["Action"] == "states:StartExecution"
    assert {r["Ref"] for r in as_list(found["StartJobs"]["Resource"])} == machine_ids
    manage = found["ManageJobExecutions"]
    assert set(manage["Action"]) == {"states:StopExecution", "states:DescribeExecution", "states:GetExecutionHistory"}
    resources = [json.dumps(r) for r in as_list(manage["Resource"])]
    assert len(resources) == len(registry.MACHINES)
    for machine in registry.MACHINES.values():
        assert any(f":execution:{machine.name('l0')}:*" in r for r in resources)
    prefix = props["Environment"]["Variables"]["LAYER0_JOB_STATE_MACHINE_PREFIX"]
    assert prefix["Fn::Join"][1][-1] == ":stateMachine:l0-l0-job-"
