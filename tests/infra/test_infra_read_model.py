"""The read model's events function, its role, its ECS events rule and its hourly reconcile (infra/read_model.py)."""

from __future__ import annotations

from layer0 import contract
from tests.infra.helpers import as_list, function, only, statements

NAMES = "l0-l0-*"
REGIONAL = "arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>"
CLUSTERS = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":ecs:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":cluster/l0-l0-*"]]}  # fmt: skip

# Every cdk-nag finding the events function's policy acknowledges (imported by test_infra_checks).
READ_MODEL_ACKNOWLEDGEMENTS = {
    "AwsSolutions-IAM5[Resource::*]",
    f"AwsSolutions-IAM5[Resource::{REGIONAL}:cluster/{NAMES}]",
    f"AwsSolutions-IAM5[Resource::{REGIONAL}:service/{NAMES}/*]",
    f"AwsSolutions-IAM5[Resource::{REGIONAL}:task/{NAMES}/*]",
}


def _events_function(synth):
    return function(synth.template_json, contract.EVENTS_HANDLER)


def _rules_targeting(synth, function_id: str) -> dict:
    return {
        k: v["Properties"]
        for k, v in synth.resources("AWS::Events::Rule").items()
        if any(t["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]} for t in v["Properties"].get("Targets", []))
    }


def test_the_events_function_is_its_own_with_the_retention_setting(synth):
    function_id, props = _events_function(synth)
    assert props["FunctionName"] == "l0-l0-events"
    assert props["Environment"]["Variables"]["LAYER0_TASK_RETENTION_HOURS"] == "24"
    api_id, api = function(synth.template_json, contract.API_HANDLER)
    assert props["Role"] != api["Role"]


def test_ecs_events_of_the_instances_clusters_and_an_hourly_schedule_invoke_it(synth):
    function_id, _ = _events_function(synth)
    rules = _rules_targeting(synth, function_id)
    patterns = [r["EventPattern"] for r in rules.values() if "EventPattern" in r]
    schedules = [r["ScheduleExpression"] for r in rules.values() if "ScheduleExpression" in r]
    assert patterns == [
        {
            "source": ["aws.ecs"],
            "detail-type": ["ECS Task State Change", "ECS Service Action", "ECS Deployment State Change"],
            "detail": {"clusterArn": [{"wildcard": CLUSTERS}]},
        }
    ]
    assert schedules == ["rate(1 hour)"]
    permissions = [
        p["Properties"]
        for p in synth.resources("AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]}
    ]
    assert sorted(p["Principal"] for p in permissions) == ["events.amazonaws.com", "events.amazonaws.com"]


def test_its_role_reads_the_estate_and_writes_the_tag_table_only(synth):
    _, props = _events_function(synth)
    granted = statements(synth.template_json, props["Role"]["Fn::GetAtt"][0])
    actions = {a for s in granted for a in as_list(s["Action"])}
    writes = {a for a in actions if not a.startswith(("ecs:Describe", "ecs:List", "elasticloadbalancing:Describe"))}
    # scheduler:CreateSchedule and iam:PassRole: debounced scaler runs (tests/infra/test_infra_autoscaling.py).
    scaler_runs = {"scheduler:CreateSchedule", "iam:PassRole"}
    assert writes - scaler_runs - {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"} == {
        "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem",
        "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
        "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:UpdateItem",
    }  # fmt: skip
    tables = {
        str(r)
        for s in granted
        if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))
        for r in as_list(s["Resource"])
    }
    assert tables and all("Tags" in r for r in tables), tables
    ecs = [s for s in granted if any(a.startswith("ecs:Describe") for a in as_list(s["Action"]))]
    assert ecs and all(r != "*" for s in ecs for r in as_list(s["Resource"]))
    listed = only({s["Sid"]: s for s in granted if s.get("Sid") == "ListServices"}, "ListServices statement")[1]
    assert listed["Condition"] == {"ArnLike": {"ecs:cluster": CLUSTERS}}


def test_task_retention_hours_comes_from_the_context(imported):
    _, props = function(imported.template_json, contract.EVENTS_HANDLER)
    assert props["Environment"]["Variables"]["LAYER0_TASK_RETENTION_HOURS"] == "6"
    # Every function reads the same settings: the create-task step's rows expire alike.
    functions = imported.layer0_functions().values()
    assert len(functions) > 3
    assert {f["Properties"]["Environment"]["Variables"]["LAYER0_TASK_RETENTION_HOURS"] for f in functions} == {"6"}


def test_each_deploy_that_changes_the_events_function_runs_the_reconcile_once(synth):
    """After an upgrade the rows are rebuilt at once, not at the next hourly run (infra/read_model.py)."""
    function_id, props = _events_function(synth)
    [trigger] = synth.resources("Custom::Trigger").values()
    properties = trigger["Properties"]
    # The function's published version: a new version, i.e. new code or settings, runs the trigger again.
    [version_id] = [
        k
        for k, v in synth.resources("AWS::Lambda::Version").items()
        if v["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    assert properties["HandlerArn"] == {"Ref": version_id}
    # Without waiting for it: a failed reconcile must not roll the deploy back.
    assert properties["InvocationType"] == "Event"


def test_the_events_functions_reserved_concurrency_is_counted_in_every_functions_aws_containers(synth, imported):
    for synthesized, events_concurrency, containers in ((synth, 2, "14"), (imported, 3, "9")):
        _, props = _events_function(synthesized)
        assert props["ReservedConcurrentExecutions"] == events_concurrency
        functions = synthesized.layer0_functions().values()
        assert {f["Properties"]["Environment"]["Variables"]["LAYER0_AWS_CONTAINERS"] for f in functions} == {containers}
