"""The tasks policies (infra/tasks.py) and the create-task machine (job type 5) in the template."""

from __future__ import annotations

import json

from layer0 import contract
from layer0.workflows import asl, create_task, registry
from tests.infra.helpers import as_list, function, only, statements, step_function, step_role

NAMES = "l0-l0-*"
REGIONAL = "arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>"

# Every cdk-nag finding the tasks policies and the create-task machine's executions acknowledge (imported by
# test_infra_checks).
TASK_ACKNOWLEDGEMENTS = {
    f"AwsSolutions-IAM5[Resource::{REGIONAL.format(service='ecs')}:task-definition/{NAMES}:*]",
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/l0-l0-*]",
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/layer0/l0-l0/*]",
    f"AwsSolutions-IAM5[Resource::{REGIONAL.format(service='states')}:execution:l0-l0-job-create-task:*]",
}


def _policy(synth, name: str):
    policies = {
        k: v for k, v in synth.resources("AWS::IAM::Policy").items() if v["Properties"].get("PolicyName") == name
    }
    return only(policies, f"policy {name}")


def _role_of(synth, handler: str) -> str:
    _, props = function(synth.template_json, handler)
    return props["Role"]["Fn::GetAtt"][0]


def _granted_to_role(synth, role_id: str) -> set[str]:
    return {a for s in statements(synth.template_json, role_id) for a in as_list(s["Action"])}


def _granted(synth, handler: str) -> set[str]:
    return {a for s in statements(synth.template_json, _role_of(synth, handler)) for a in as_list(s["Action"])}


def test_the_api_function_reads_container_logs_of_the_layer0_log_group_only(synth):
    _, policy = _policy(synth, "l0-l0-tasks")
    assert policy["Properties"]["Roles"] == [{"Ref": _role_of(synth, contract.API_HANDLER)}]
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert sorted(as_list(statement["Action"])) == ["logs:DescribeLogStreams", "logs:GetLogEvents"]
    groups = {
        k: v
        for k, v in synth.resources("AWS::Logs::LogGroup").items()
        if v["Properties"].get("LogGroupName") == "l0-l0"
    }
    group_id, _ = only(groups, "l0-l0 log group")
    assert statement["Resource"] == {"Fn::GetAtt": [group_id, "Arn"]}
    # The API function may not start tasks itself: only the create-task job does.
    assert "ecs:RunTask" not in _granted(synth, contract.API_HANDLER)


def test_the_step_function_runs_only_layer0_task_definitions_in_layer0_clusters(synth):
    _, policy = _policy(synth, "l0-l0-task-steps")
    assert policy["Properties"]["Roles"] == [{"Ref": step_role(synth.template_json, "create-task")}]
    found = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    run = found["RunDeploysInLayer0Clusters"]
    assert run["Action"] == "ecs:RunTask"
    assert json.dumps(run["Resource"]).endswith(f':task-definition/{NAMES}:*"]]}}')
    [(operator, condition)] = run["Condition"].items()
    assert operator == "ArnLike"
    assert json.dumps(condition["ecs:cluster"]).endswith(f':cluster/{NAMES}"]]}}')
    passing = found["PassTaskRolesToEcsTasks"]
    assert passing["Action"] == "iam:PassRole"
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    assert [json.dumps(r).rsplit(":", 1)[-1] for r in passing["Resource"]] == [
        'role/l0-l0-*"]]}',
        'role/layer0/l0-l0/*"]]}',
    ]


def test_the_step_function_may_do_what_the_create_task_step_does(synth):
    granted = _granted_to_role(synth, step_role(synth.template_json, "create-task"))
    # layer0.tasks.run: the instance check, RunTask, the job and tag tables, and a scaler run when there is no room.
    assert {
        "ecs:ListContainerInstances", "ecs:DescribeClusters", "ecs:RunTask", "iam:PassRole", "ecs:DescribeTasks",
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "scheduler:CreateSchedule",
    } <= granted  # fmt: skip
    _, props = step_function(synth.template_json, "create-task")
    assert "LAYER0_SCALER_FUNCTION_ARN" in props["Environment"]["Variables"]
    # Only this job's steps (and the API) may run tasks or schedule scaler runs.
    for machine in registry.MACHINES.values():
        if machine.slug != "create-task":
            others = _granted_to_role(synth, step_role(synth.template_json, machine.slug))
            assert not others & {"ecs:RunTask", "iam:PassRole", "scheduler:CreateSchedule"}, machine.slug


def test_the_scaler_reads_the_job_table_for_waiting_create_task_jobs(synth):
    jobs_id, _ = only(
        {
            k: v
            for k, v in synth.resources("AWS::DynamoDB::Table").items()
            if v["Properties"]["TableName"] == "l0-l0-jobs"
        },
        "job table",
    )
    readable = [
        s
        for s in statements(synth.template_json, _role_of(synth, "handlers.scaler.handler"))
        if "dynamodb:Scan" in as_list(s["Action"]) and f'"{jobs_id}"' in json.dumps(s["Resource"])
    ]
    assert readable
    assert not any(
        a in ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
        for s in readable
        for a in as_list(s["Action"])
    )


def test_the_create_task_machine_is_deployed_with_its_capacity_retries(synth):
    machines = {
        m["Properties"]["StateMachineName"]: m for m in synth.resources("AWS::StepFunctions::StateMachine").values()
    }
    machine = machines["l0-l0-job-create-task"]["Properties"]
    assert machine["StateMachineType"] == "STANDARD"
    definition = json.loads(machine["DefinitionString"])
    assert definition == create_task.MACHINE.definition()
    run = definition["States"]["Body"]["Branches"][0]["States"]["RunTask"]
    assert run["Parameters"]["Payload"]["step"] == "task.run"
    [retryable] = [r for r in run["Retry"] if r["ErrorEquals"] == ["Retryable"]]
    assert retryable["IntervalSeconds"] == 10 and retryable["MaxDelaySeconds"] == 60
    assert definition["TimeoutSeconds"] > 24 * 3600
    # Then it waits for the task to run (docs/architecture.md#capacity-providers).
    assert run["Next"] == "StartTaskPolls"
    states = definition["States"]["Body"]["Branches"][0]["States"]
    assert states["CheckTask"]["Parameters"]["Payload"]["step"] == "task.task_state"
    check = states["TaskStarted"]["Choices"][0]
    assert (check["Variable"], check["StringEquals"], check["Next"]) == (
        "$.state.value.state",
        "running",
        "TaskRunning",
    )
    checks = states["CheckTask"]["Parameters"]["Payload"]["args"]
    assert checks == {"task_arn.$": "$.task.value.task_arn", "environment_id.$": "$.task.value.environment_id"}


def test_the_create_task_step_may_check_only_layer0_tasks(synth):
    _, policy = _policy(synth, "l0-l0-task-steps")
    found = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert found["CheckTasks"]["Action"] == "ecs:DescribeTasks"
    assert json.dumps(found["CheckTasks"]["Resource"]).endswith(f':task/{NAMES}/*"]]}}')
