"""The moto patches (local/moto_patches.py, local/stepfunctions.py, local/ecs/patches.py) and the test-only
instant waits (local/testing.py): each patch makes a Layer0 flow behave as on AWS, and moto is still buggy
without it.

The "still buggy" tests run the same flow with the one patch undone. When one of them fails, moto fixed the
bug upstream: delete the patch it names (and the test).
"""

from __future__ import annotations

import json
import time
import uuid

import boto3
import pytest
from moto import mock_aws

from botocore.exceptions import ClientError

from local import moto_patches, testing
from tests.conftest import setup_client
from tests.workflows.helpers import output, run_definition

REGION = "us-west-2"
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
DEADLINE_SECONDS = 30


@pytest.fixture
def sfn():
    """moto in process, Step Functions executing, all patches, instant waits (credentials: the autouse fixture).

    Yields a Step Functions client.
    """
    moto_patches.apply()
    with testing.make_waits_instant(), mock_aws(config=MOTO_CONFIG):
        yield boto3.client("stepfunctions", region_name=REGION)


def client(service: str):
    return boto3.client(service, region_name=REGION)


def run(sfn, definition: dict, execution_input: dict | None = None) -> dict:
    """Create the state machine, run it, and return describe_execution once it is terminal."""
    return run_definition(definition, execution_input, role=f"arn:aws:iam::123456789012:role/sfn-{uuid.uuid4().hex[:8]}")


# ----------------------------------------------------------------------------------------------------------------
# apply() / revert()
# ----------------------------------------------------------------------------------------------------------------


def test_apply_is_idempotent_and_revert_gives_moto_back():
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )
    from moto.stepfunctions.parser.asl.utils import json_path

    moto_patches.apply()
    patched = (StateTaskService._normalise_parameters, json_path.extract_json, StateTaskService._eval_execution)
    moto_patches.apply()
    assert (StateTaskService._normalise_parameters, json_path.extract_json, StateTaskService._eval_execution) == (
        patched
    )
    assert StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES["elasticloadbalancingv2"] == "elbv2"
    try:
        moto_patches.revert()
        moto_patches.revert()
        assert "_normalise_parameters" in StateTaskService.__dict__
        assert StateTaskService._normalise_parameters is not patched[0]
        assert json_path.extract_json is patched[1].__wrapped__
        assert "elasticloadbalancingv2" not in StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES
        assert StateTaskService._eval_execution is patched[2].__wrapped__
        assert not moto_patches.applied() & {"task_parameter_casing", "definite_json_path"}
    finally:
        moto_patches.apply()
    assert json_path.extract_json is not patched[1].__wrapped__
    assert {"task_parameter_casing", "definite_json_path", "sdk_service_names", "json_native_timestamps"} <= (
        moto_patches.applied()
    )


# ----------------------------------------------------------------------------------------------------------------
# a. Parameter and response casing (moto #10076)
# ----------------------------------------------------------------------------------------------------------------

DESCRIBE_CLUSTER_UNTIL_ACTIVE = {
    "StartAt": "Describe",
    "States": {
        "Describe": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:ecs:describeClusters",
            "Parameters": {"Clusters.$": "$.clusters"},
            "ResultPath": "$.result",
            "Next": "Active?",
        },
        "Active?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.result.Clusters[0].Status", "StringEquals": "ACTIVE", "Next": "Done"}],
            "Default": "NotActive",
        },
        "Done": {"Type": "Succeed"},
        "NotActive": {"Type": "Fail", "Error": "NotActive"},
    },
}


def test_describe_clusters_takes_pascal_case_parameters_and_returns_pascal_case(sfn):
    client("ecs").create_cluster(clusterName="l0-env-1")

    result = output(run(sfn, DESCRIBE_CLUSTER_UNTIL_ACTIVE, {"clusters": ["l0-env-1"]}))["result"]

    assert result["Failures"] == []
    (cluster,) = result["Clusters"]
    assert cluster["ClusterName"] == "l0-env-1"
    assert cluster["Status"] == "ACTIVE"
    assert cluster["ClusterArn"].endswith(":cluster/l0-env-1")
    assert "clusterName" not in cluster and "status" not in cluster


def test_nested_parameters_reach_boto_in_its_casing(sfn):
    ecs = client("ecs")
    ecs.create_cluster(clusterName="l0-env-1")
    definition = {
        "StartAt": "Register",
        "States": {
            "Register": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:ecs:registerTaskDefinition",
                "Parameters": {
                    "Family": "l0-deploy-1",
                    "ContainerDefinitions": [{"Name": "web", "Image": "nginx", "Memory": 128, "Essential": True}],
                },
                "ResultSelector": {
                    "Arn.$": "$.TaskDefinition.TaskDefinitionArn",
                    "Status.$": "$.TaskDefinition.Status",
                },
                "End": True,
            }
        },
    }

    result = output(run(sfn, definition))

    assert result["Status"] == "ACTIVE"
    assert result["Arn"].endswith(":task-definition/l0-deploy-1:1")
    (container,) = ecs.describe_task_definition(taskDefinition="l0-deploy-1")["taskDefinition"]["containerDefinitions"]
    assert (container["name"], container["image"], container["memory"]) == ("web", "nginx", 128)


def test_services_already_in_pascal_case_still_work(sfn):
    dynamodb = client("dynamodb")
    dynamodb.create_table(
        TableName="jobs",
        KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "job_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    definition = {
        "StartAt": "MarkInProgress",
        "States": {
            "MarkInProgress": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:updateItem",
                "Parameters": {
                    "TableName": "jobs",
                    "Key": {"job_id": {"S.$": "$.job_id"}},
                    "UpdateExpression": "SET job_status = :s",
                    "ExpressionAttributeValues": {":s": {"S": "InProgress"}},
                },
                "ResultPath": None,
                "Next": "Read",
            },
            "Read": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:dynamodb:getItem",
                "Parameters": {"TableName": "jobs", "Key": {"job_id": {"S.$": "$.job_id"}}},
                "ResultPath": "$.row",
                "Next": "Vpcs",
            },
            "Vpcs": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:ec2:describeVpcs",
                "Parameters": {"Filters": [{"Name": "is-default", "Values": ["true"]}]},
                "ResultSelector": {"VpcId.$": "$.Vpcs[0].VpcId", "IsDefault.$": "$.Vpcs[0].IsDefault"},
                "ResultPath": "$.vpc",
                "End": True,
            },
        },
    }

    result = output(run(sfn, definition, {"job_id": "j-1"}))

    assert result["row"] == {"Item": {"job_id": {"S": "j-1"}, "job_status": {"S": "InProgress"}}}
    assert result["vpc"]["IsDefault"] is True
    assert result["vpc"]["VpcId"].startswith("vpc-")


def test_moto_still_ignores_parameter_casing_without_the_patch(sfn):
    """When this fails, moto fixed issue #10076 (aws-sdk/ECS parameter casing): delete patch_task_parameter_casing."""
    client("ecs").create_cluster(clusterName="l0-env-1")

    with moto_patches.unpatched("task_parameter_casing"):
        described = run(sfn, DESCRIBE_CLUSTER_UNTIL_ACTIVE, {"clusters": ["l0-env-1"]})

    assert described["status"] == "FAILED"
    assert described["error"] == "States.Runtime"


# ----------------------------------------------------------------------------------------------------------------
# b. JSONPath on definite paths
# ----------------------------------------------------------------------------------------------------------------

CHOICE_ON_FIRST_CLUSTER = {
    "StartAt": "Active?",
    "States": {
        "Active?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.x.Clusters[0].Status", "StringEquals": "ACTIVE", "Next": "Pick"}],
            "Default": "NotActive",
        },
        "Pick": {
            "Type": "Pass",
            "Parameters": {"status.$": "$.x.Clusters[0].Status", "count.$": "$.x.Clusters[0].Tasks.Running"},
            "End": True,
        },
        "NotActive": {"Type": "Fail", "Error": "NotActive"},
    },
}
CLUSTERS_INPUT = {"x": {"Clusters": [{"Status": "ACTIVE", "Tasks": {"Running": 2}}, {"Status": "INACTIVE"}]}}


def test_choice_on_an_indexed_path_compares_the_scalar(sfn):
    assert output(run(sfn, CHOICE_ON_FIRST_CLUSTER, CLUSTERS_INPUT)) == {"status": "ACTIVE", "count": 2}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.a[0].b", "x"),  # the fix
        ("$.a[1].c[0].d", 3),
        ("$.a[0]", {"b": "x"}),
        ("$.a[-1].c[0]", {"d": 3}),
        ("$.a", [{"b": "x"}, {"c": [{"d": 3}]}]),
        ("$", {"a": [{"b": "x"}, {"c": [{"d": 3}]}], "one": [{"b": "y"}]}),
        ("$.one[*].b", ["y"]),  # moto #7825 stays fixed: a wildcard yields a list, even of one
        ("$.a[*].b", ["x"]),
        ("$.a[0:1]", [{"b": "x"}]),
        ("$..d", [3]),
    ],
)
def test_extract_json_yields_scalars_for_definite_paths_only(path, expected):
    from moto.stepfunctions.parser.asl.utils.json_path import extract_json

    moto_patches.apply()
    data = {"a": [{"b": "x"}, {"c": [{"d": 3}]}], "one": [{"b": "y"}]}
    assert extract_json(path, data) == expected


def test_extract_json_still_raises_for_a_missing_definite_path():
    from moto.stepfunctions.parser.asl.utils.json_path import NoSuchJsonPathError, extract_json

    moto_patches.apply()
    with pytest.raises(NoSuchJsonPathError):
        extract_json("$.a[5].b", {"a": [{"b": 1}]})


def test_moto_still_wraps_indexed_paths_in_a_list_without_the_patch(sfn):
    """When this fails, moto fixed `$.a[0].b` yielding `[b]`: delete patch_definite_json_path."""
    with moto_patches.unpatched("definite_json_path"):
        from moto.stepfunctions.parser.asl.utils.json_path import extract_json

        assert extract_json("$.x.Clusters[0].Status", CLUSTERS_INPUT) == ["ACTIVE"]
        described = run(sfn, CHOICE_ON_FIRST_CLUSTER, CLUSTERS_INPUT)

    assert described["status"] == "FAILED"
    assert described["error"] == "NotActive"


# ----------------------------------------------------------------------------------------------------------------
# c. Service names, and e. timestamps (both met by elbv2:describeLoadBalancers)
# ----------------------------------------------------------------------------------------------------------------


def _load_balancer() -> str:
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
        for i, az in enumerate("ab")
    ]
    return client("elbv2").create_load_balancer(Name="l0-lb-1", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]


DESCRIBE_LOAD_BALANCERS = {
    "StartAt": "V2",
    "States": {
        "V2": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:elasticloadbalancingv2:describeLoadBalancers",
            "Parameters": {"Names.$": "$.names"},
            "ResultPath": "$.v2",
            "Next": "Classic",
        },
        "Classic": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:elasticloadbalancing:describeLoadBalancers",
            "ResultPath": "$.classic",
            "End": True,
        },
    },
}


def test_load_balancer_apis_resolve_to_boto_elbv2_and_elb(sfn):
    arn = _load_balancer()

    result = output(run(sfn, DESCRIBE_LOAD_BALANCERS, {"names": ["l0-lb-1"]}))

    (load_balancer,) = result["v2"]["LoadBalancers"]
    assert load_balancer["LoadBalancerArn"] == arn
    assert load_balancer["LoadBalancerName"] == "l0-lb-1"
    assert result["classic"] == {"LoadBalancerDescriptions": []}


def test_moto_still_rejects_the_sdk_names_of_load_balancer_apis_without_the_patch(sfn):
    """When this fails, moto fixed "Unknown service: 'elasticloadbalancingv2'": delete patch_sdk_service_names."""
    _load_balancer()

    with moto_patches.unpatched("sdk_service_names"):
        described = run(sfn, DESCRIBE_LOAD_BALANCERS, {"names": ["l0-lb-1"]})

    assert described["status"] == "FAILED"
    assert "Unknown service: 'elasticloadbalancingv2'" in described["cause"]


def test_sdk_timestamps_become_iso_strings_as_on_aws(sfn):
    _load_balancer()

    result = output(run(sfn, DESCRIBE_LOAD_BALANCERS, {"names": ["l0-lb-1"]}))

    created = result["v2"]["LoadBalancers"][0]["CreatedTime"]
    assert isinstance(created, str)
    assert time.strptime(created, "%Y-%m-%dT%H:%M:%S.%fZ")
    assert len(created) == len("2013-08-23T01:02:15.422Z")


def test_moto_still_cannot_describe_an_execution_whose_output_holds_a_timestamp_without_the_patch(sfn):
    """When this fails, moto fixed datetime in describe_execution's output: delete patch_json_native_timestamps.

    (Unless moto's fix renders timestamps differently from AWS's "2013-08-23T01:02:15.422Z": then keep the patch
    and change this test to assert on moto's rendering.)
    """
    _load_balancer()

    with moto_patches.unpatched("json_native_timestamps"), pytest.raises(TypeError, match="datetime"):
        run(sfn, DESCRIBE_LOAD_BALANCERS, {"names": ["l0-lb-1"]})


# ----------------------------------------------------------------------------------------------------------------
# d. Instant waits (tests only)
# ----------------------------------------------------------------------------------------------------------------

WAIT_AN_HOUR_THEN_RETRY = {
    "StartAt": "WaitAnHour",
    "States": {
        "WaitAnHour": {"Type": "Wait", "Seconds": 3600, "Next": "DescribeMissing"},
        "DescribeMissing": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:ecs:describeServices",
            "Parameters": {"Cluster": "no-such-cluster", "Services": ["web"]},
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 60, "MaxAttempts": 2, "BackoffRate": 2}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Gave up"}],
            "End": True,
        },
        "Gave up": {"Type": "Succeed"},
    },
}


def test_an_hour_of_wait_and_minutes_of_backoff_take_no_time(sfn):
    waits = testing.make_waits_instant()  # already in force: the same object comes back
    assert testing.waits_are_instant()

    result = output(run(sfn, WAIT_AN_HOUR_THEN_RETRY))  # bounded by the poll deadline, far below an hour

    assert "ClusterNotFound" in result["error"]["Error"]
    assert waits.requested == [("wait", 3600), ("retry", 60), ("retry", 120)]


def test_restore_real_waits_gives_moto_its_sleeps_back():
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    real_wait, real_time = WaitFunction._wait_interval, retrier_decl.time
    with testing.make_waits_instant() as waits:
        assert testing.make_waits_instant() is waits
        assert WaitFunction._wait_interval is not real_wait
        assert retrier_decl.time is not real_time
        assert retrier_decl.time.monotonic() > 0  # everything but sleep is the real module
    assert not testing.waits_are_instant()
    assert (WaitFunction._wait_interval, retrier_decl.time) == (real_wait, real_time)
    testing.restore_real_waits()  # idempotent


def test_without_instant_waits_a_wait_blocks_until_the_execution_is_stopped(sfn):
    """Real waits, as local mode runs them: the Wait holds the execution, and stop_execution ends it at once."""
    definition = {"StartAt": "WaitAnHour", "States": {"WaitAnHour": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    machine = sfn.create_state_machine(
        name="wait", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn"
    )["stateMachineArn"]
    testing.restore_real_waits()
    try:
        execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
        deadline = time.monotonic() + DEADLINE_SECONDS
        while "WaitStateEntered" not in {
            event["type"] for event in sfn.get_execution_history(executionArn=execution)["events"]
        }:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"

        sfn.stop_execution(executionArn=execution, error="Layer0.JobDeleted", cause="DELETE /job")

        while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        testing.make_waits_instant()
    assert described["status"] == "ABORTED"
    events = [e["type"] for e in sfn.get_execution_history(executionArn=execution)["events"]]
    assert "WaitStateExited" not in events


# ----------------------------------------------------------------------------------------------------------------
# f. ECS (apply_ecs / revert_ecs)
# ----------------------------------------------------------------------------------------------------------------

TOTAL_MEMORY = 4096


@pytest.fixture
def ecs():
    """moto in process with the ECS patches, a cluster "c" and one container instance of 4096 MiB.

    Yields (ECS client, container instance ARN). The patches are undone afterwards.
    """
    moto_patches.apply_ecs()
    try:
        with mock_aws(config=MOTO_CONFIG):
            instance = client("ec2").run_instances(
                ImageId="ami-12345678", InstanceType="t3.medium", MinCount=1, MaxCount=1
            )["Instances"][0]["InstanceId"]
            ecs_client = client("ecs")
            ecs_client.create_cluster(clusterName="c")
            registered = ecs_client.register_container_instance(
                cluster="c",
                instanceIdentityDocument=json.dumps({"instanceId": instance}),
                totalResources=[{"name": "MEMORY", "type": "INTEGER", "integerValue": TOTAL_MEMORY}],
            )["containerInstance"]
            yield ecs_client, registered["containerInstanceArn"]
    finally:
        moto_patches.revert_ecs()


def _definition(ecs_client, memory: int = 1500, containers: int = 1) -> str:
    definitions = [{"name": f"c{i}", "image": "nginx", "memory": memory} for i in range(containers)]
    return ecs_client.register_task_definition(family="app", containerDefinitions=definitions)["taskDefinition"][
        "taskDefinitionArn"
    ]


def _remaining_memory(ecs_client, arn: str) -> int:
    (instance,) = ecs_client.describe_container_instances(cluster="c", containerInstances=[arn])["containerInstances"]
    return next(r["integerValue"] for r in instance["remainingResources"] if r["name"] == "MEMORY")


def test_apply_ecs_and_revert_ecs_are_idempotent_and_apart_from_apply():
    from moto.ecs.responses import EC2ContainerServiceResponse

    plain = EC2ContainerServiceResponse.run_task
    moto_patches.apply_ecs()
    patched = EC2ContainerServiceResponse.run_task
    moto_patches.apply_ecs()
    try:
        assert EC2ContainerServiceResponse.run_task is patched is not plain
        assert {"ecs_total_resources", "ecs_service_deployments"} <= moto_patches.applied()
    finally:
        moto_patches.revert_ecs()
        moto_patches.revert_ecs()
    assert EC2ContainerServiceResponse.run_task is plain
    assert not {name for name in moto_patches.applied() if name.startswith("ecs_")}


def test_total_resources_are_honoured(ecs):
    ecs_client, arn = ecs
    assert _remaining_memory(ecs_client, arn) == TOTAL_MEMORY


def test_moto_still_ignores_total_resources_without_the_patch(ecs):
    """When this fails, moto honours totalResources upstream: delete patch_ecs_total_resources."""
    ecs_client, _ = ecs
    instance = client("ec2").run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]

    with moto_patches.unpatched("ecs_total_resources"):
        registered = ecs_client.register_container_instance(
            cluster="c",
            instanceIdentityDocument=json.dumps({"instanceId": instance}),
            totalResources=[{"name": "MEMORY", "type": "INTEGER", "integerValue": TOTAL_MEMORY}],
        )["containerInstance"]

    assert next(r["integerValue"] for r in registered["registeredResources"] if r["name"] == "MEMORY") == 7482


def test_tasks_start_pending_with_every_container_and_their_status_stays_put(ecs):
    from moto.ecs.models import ecs_backends

    ecs_client, _ = ecs
    (task,) = ecs_client.run_task(cluster="c", taskDefinition=_definition(ecs_client, 100, containers=2))["tasks"]

    assert task["lastStatus"] == "PENDING"
    assert [(c["name"], c["taskArn"], c["lastStatus"]) for c in task["containers"]] == [
        ("c0", task["taskArn"], "PENDING"),
        ("c1", task["taskArn"], "PENDING"),
    ]
    ecs_backends["123456789012"][REGION].tasks["c"][task["taskArn"]].status = "RUNNING"  # what the agent does
    for _ in range(5):
        (described,) = ecs_client.describe_tasks(cluster="c", tasks=[task["taskArn"]])["tasks"]
    assert described["lastStatus"] == "RUNNING"


def test_moto_still_starts_tasks_running_with_one_container_without_the_patch(ecs):
    """When this fails, moto starts tasks PENDING with all their containers: delete patch_ecs_task_start."""
    ecs_client, _ = ecs
    definition = _definition(ecs_client, 100, containers=2)

    with moto_patches.unpatched("ecs_task_start"):
        (task,) = ecs_client.run_task(cluster="c", taskDefinition=definition)["tasks"]

    assert task["lastStatus"] == "RUNNING"
    (container,) = task["containers"]
    assert container["taskArn"] == definition


def test_moto_still_stops_a_task_by_describing_it_without_the_patch(ecs):
    """When this fails, moto no longer moves lastStatus on DescribeTasks: delete patch_ecs_task_status."""
    ecs_client, _ = ecs
    definition = _definition(ecs_client, 100)

    with moto_patches.unpatched("ecs_task_start"), moto_patches.unpatched("ecs_task_status"):
        (task,) = ecs_client.run_task(cluster="c", taskDefinition=definition)["tasks"]
        statuses = [
            ecs_client.describe_tasks(cluster="c", tasks=[task["taskArn"]])["tasks"][0]["lastStatus"] for _ in range(5)
        ]

    assert statuses[-1] == "STOPPED"  # nobody stopped it
    assert ecs_client.describe_tasks(cluster="c", tasks=[task["taskArn"]])["tasks"][0]["desiredStatus"] == "RUNNING"


def test_run_task_reports_the_copies_it_could_not_place(ecs):
    ecs_client, arn = ecs

    placed = ecs_client.run_task(cluster="c", taskDefinition=_definition(ecs_client), count=3)

    assert len(placed["tasks"]) == 2
    assert placed["failures"] == [{"arn": arn, "reason": "RESOURCE:MEMORY"}]
    ecs_client.create_cluster(clusterName="empty")
    with pytest.raises(ecs_client.exceptions.InvalidParameterException, match="No Container Instances were found"):
        ecs_client.run_task(cluster="empty", taskDefinition="app")


def test_moto_still_hides_unplaced_copies_without_the_patch(ecs):
    """When this fails, moto reports RunTask failures: drop that part of patch_ecs_run_task (check the reasons)."""
    ecs_client, _ = ecs
    definition = _definition(ecs_client)

    with moto_patches.unpatched("ecs_run_task"):
        placed = ecs_client.run_task(cluster="c", taskDefinition=definition, count=3)

    assert len(placed["tasks"]) == 2
    assert placed["failures"] == []


def test_a_repeated_run_task_with_the_same_client_token_starts_nothing_more(ecs):
    ecs_client, arn = ecs
    definition = _definition(ecs_client)

    first = ecs_client.run_task(cluster="c", taskDefinition=definition, clientToken="job-1")["tasks"]
    again = ecs_client.run_task(cluster="c", taskDefinition=definition, clientToken="job-1")["tasks"]
    other = ecs_client.run_task(cluster="c", taskDefinition=definition, clientToken="job-2")["tasks"]

    assert [t["taskArn"] for t in again] == [t["taskArn"] for t in first]
    assert len(other) == 1 and other[0]["taskArn"] != first[0]["taskArn"]
    assert _remaining_memory(ecs_client, arn) == TOTAL_MEMORY - 2 * 1500


def test_moto_still_ignores_the_client_token_without_the_patch(ecs):
    """When this fails, moto honours RunTask's clientToken: drop that part of patch_ecs_run_task."""
    ecs_client, _ = ecs
    definition = _definition(ecs_client)

    with moto_patches.unpatched("ecs_run_task"):
        first = ecs_client.run_task(cluster="c", taskDefinition=definition, clientToken="job-1")["tasks"]
        again = ecs_client.run_task(cluster="c", taskDefinition=definition, clientToken="job-1")["tasks"]

    assert again[0]["taskArn"] != first[0]["taskArn"]


def test_stopping_a_stopped_task_changes_nothing(ecs):
    ecs_client, arn = ecs
    (task,) = ecs_client.run_task(cluster="c", taskDefinition=_definition(ecs_client))["tasks"]

    ecs_client.stop_task(cluster="c", task=task["taskArn"], reason="first")
    again = ecs_client.stop_task(cluster="c", task=task["taskArn"], reason="second")["task"]

    assert (again["stoppedReason"], again["stopCode"]) == ("first", "UserInitiated")
    assert "stoppedAt" in again
    assert _remaining_memory(ecs_client, arn) == TOTAL_MEMORY


def test_moto_still_gives_resources_back_twice_without_the_patch(ecs):
    """When this fails, moto's StopTask of a stopped task is a no-op: delete patch_ecs_stop_task."""
    ecs_client, arn = ecs
    (task,) = ecs_client.run_task(cluster="c", taskDefinition=_definition(ecs_client))["tasks"]

    with moto_patches.unpatched("ecs_stop_task"):
        ecs_client.stop_task(cluster="c", task=task["taskArn"], reason="first")
        ecs_client.stop_task(cluster="c", task=task["taskArn"], reason="second")

    assert _remaining_memory(ecs_client, arn) == TOTAL_MEMORY + 1500


def test_list_tasks_filters_on_the_service_name(ecs):
    ecs_client, _ = ecs
    definition = _definition(ecs_client, 100)
    (web,) = ecs_client.run_task(cluster="c", taskDefinition=definition, group="service:web")["tasks"]
    ecs_client.run_task(cluster="c", taskDefinition=definition)

    assert ecs_client.list_tasks(cluster="c", serviceName="web")["taskArns"] == [web["taskArn"]]
    assert ecs_client.list_tasks(cluster="c", serviceName="other")["taskArns"] == []
    assert len(ecs_client.list_tasks(cluster="c")["taskArns"]) == 2


def test_moto_still_ignores_the_service_name_filter_without_the_patch(ecs):
    """When this fails, moto filters ListTasks on serviceName: delete patch_ecs_list_tasks_service_name."""
    ecs_client, _ = ecs
    definition = _definition(ecs_client, 100)
    ecs_client.run_task(cluster="c", taskDefinition=definition, group="service:web")
    ecs_client.run_task(cluster="c", taskDefinition=definition)

    with moto_patches.unpatched("ecs_list_tasks_service_name"):
        listed = ecs_client.list_tasks(cluster="c", serviceName="other")["taskArns"]

    assert len(listed) == 2


CIRCUIT_BREAKER = {
    "deploymentCircuitBreaker": {"enable": True, "rollback": True},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}


def test_services_have_real_counts_deployments_and_their_configuration(ecs):
    ecs_client, _ = ecs
    first = _definition(ecs_client)
    second = _definition(ecs_client)

    created = ecs_client.create_service(
        cluster="c",
        serviceName="web",
        taskDefinition=first,
        desiredCount=2,
        deploymentConfiguration=CIRCUIT_BREAKER,
        placementStrategy=[{"type": "binpack", "field": "memory"}],
    )["service"]
    assert (created["runningCount"], created["pendingCount"]) == (0, 0)
    assert created["deploymentConfiguration"] == CIRCUIT_BREAKER
    assert created["placementStrategy"] == [{"type": "binpack", "field": "memory"}]
    (deployment,) = created["deployments"]
    assert (deployment["status"], deployment["rolloutState"], deployment["desiredCount"]) == ("PRIMARY", "IN_PROGRESS", 2)
    assert (deployment["runningCount"], deployment["pendingCount"], deployment["failedTasks"]) == (0, 0, 0)
    assert deployment["id"].startswith("ecs-svc/")

    scaled = ecs_client.update_service(cluster="c", service="web", desiredCount=3)["service"]
    assert (scaled["desiredCount"], scaled["runningCount"], scaled["pendingCount"]) == (3, 0, 0)
    assert [(d["id"], d["desiredCount"]) for d in scaled["deployments"]] == [(deployment["id"], 3)]

    updated = ecs_client.update_service(cluster="c", service="web", taskDefinition="app:2")["service"]
    assert updated["taskDefinition"] == second
    assert [(d["status"], d["taskDefinition"], d["rolloutState"]) for d in updated["deployments"]] == [
        ("PRIMARY", second, "IN_PROGRESS"),
        ("ACTIVE", first, "IN_PROGRESS"),
    ]
    assert updated["deployments"][1]["id"] == deployment["id"]
    cluster = ecs_client.describe_clusters(clusters=["c"])["clusters"][0]
    assert (cluster["runningTasksCount"], cluster["pendingTasksCount"]) == (0, 0)


def test_moto_still_fakes_service_counts_and_deployments_without_the_patch(ecs):
    """When this fails, moto runs services' counts and deployments itself: delete patch_ecs_service_deployments
    (after checking that the ECS simulation's scheduler agrees with it)."""
    ecs_client, _ = ecs
    first = _definition(ecs_client)
    _definition(ecs_client)

    with moto_patches.unpatched("ecs_service_deployments"):
        created = ecs_client.create_service(
            cluster="c", serviceName="web", taskDefinition=first, desiredCount=2, deploymentConfiguration=CIRCUIT_BREAKER
        )["service"]
        scaled = ecs_client.update_service(cluster="c", service="web", desiredCount=3)["service"]
        updated = ecs_client.update_service(cluster="c", service="web", taskDefinition="app:2")["service"]

    assert created["pendingCount"] == 2  # no task was started
    assert "deploymentConfiguration" not in created
    assert scaled["runningCount"] == 3
    assert updated["taskDefinition"] == "app:2"
    assert len(updated["deployments"]) == 1


def test_classic_elb_calls_on_an_unknown_name_are_load_balancer_not_found(stack):
    moto_patches.apply()
    elb = setup_client("elb")
    for call in (
        lambda: elb.describe_load_balancer_attributes(LoadBalancerName="nope"),
        lambda: elb.modify_load_balancer_attributes(
            LoadBalancerName="nope", LoadBalancerAttributes={"ConnectionSettings": {"IdleTimeout": 5}}
        ),
        lambda: elb.delete_load_balancer_listeners(LoadBalancerName="nope", LoadBalancerPorts=[80]),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        assert raised.value.response["Error"]["Code"] == "LoadBalancerNotFound"


def test_moto_still_dereferences_none_for_an_unknown_classic_elb_without_the_patch(stack):
    moto_patches.apply()
    with moto_patches.unpatched("elb_unknown_load_balancer"), pytest.raises(AttributeError):
        setup_client("elb").describe_load_balancer_attributes(LoadBalancerName="nope")


def test_classic_elb_dns_names_name_their_region(stack):
    moto_patches.apply()
    ec2 = setup_client("ec2")
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    elb = setup_client("elb")
    listener = [{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80}]
    assert elb.create_load_balancer(LoadBalancerName="l0-dns", Listeners=listener, Subnets=[subnet])["DNSName"] == (
        f"l0-dns.{REGION}.elb.amazonaws.com"
    )


def test_moto_still_names_us_east_1_for_every_classic_elb_without_the_patch(stack):
    moto_patches.apply()
    subnet = setup_client("ec2").describe_subnets()["Subnets"][0]["SubnetId"]
    listener = [{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80}]
    with moto_patches.unpatched("elb_dns_name_region"):
        created = setup_client("elb").create_load_balancer(
            LoadBalancerName="l0-dns", Listeners=listener, Subnets=[subnet]
        )
    assert created["DNSName"] == "l0-dns.us-east-1.elb.amazonaws.com" != f"l0-dns.{REGION}.elb.amazonaws.com"


def test_a_second_auto_scaling_group_of_a_name_is_already_exists(stack):
    moto_patches.apply()
    ec2, autoscaling = setup_client("ec2"), setup_client("autoscaling")
    ec2.create_launch_template(LaunchTemplateName="l0-asg", LaunchTemplateData={"ImageId": "ami-12345678"})
    group = {
        "AutoScalingGroupName": "l0-asg",
        "LaunchTemplate": {"LaunchTemplateName": "l0-asg"},
        "MinSize": 1,
        "MaxSize": 1,
        "AvailabilityZones": [f"{REGION}a"],
    }
    autoscaling.create_auto_scaling_group(**group)
    with pytest.raises(ClientError) as raised:
        autoscaling.create_auto_scaling_group(**group)
    assert raised.value.response["Error"]["Code"] == "AlreadyExists"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert len(autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]) == 1
    assert len(ec2.describe_instances(Filters=[{"Name": "instance-state-name", "Values": ["running"]}])["Reservations"]) == 1


def test_moto_still_replaces_an_auto_scaling_group_of_the_same_name_without_the_patch(stack):
    moto_patches.apply()
    ec2, autoscaling = setup_client("ec2"), setup_client("autoscaling")
    ec2.create_launch_template(LaunchTemplateName="l0-asg", LaunchTemplateData={"ImageId": "ami-12345678"})
    group = {
        "AutoScalingGroupName": "l0-asg",
        "LaunchTemplate": {"LaunchTemplateName": "l0-asg"},
        "MinSize": 1,
        "MaxSize": 1,
        "AvailabilityZones": [f"{REGION}a"],
    }
    with moto_patches.unpatched("autoscaling_already_exists"):
        autoscaling.create_auto_scaling_group(**group)
        autoscaling.create_auto_scaling_group(**group)  # no error
    running = ec2.describe_instances(Filters=[{"Name": "instance-state-name", "Values": ["running"]}])["Reservations"]
    assert len(running) == 2  # the first group's instance, in no group now


def _protected_group(ec2, autoscaling) -> None:
    ec2.create_launch_template(LaunchTemplateName="l0-asg", LaunchTemplateData={"ImageId": "ami-12345678"})
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="l0-asg",
        LaunchTemplate={"LaunchTemplateName": "l0-asg"},
        MinSize=1,
        MaxSize=2,
        AvailabilityZones=[f"{REGION}a"],
        NewInstancesProtectedFromScaleIn=True,
    )


def _running(ec2) -> int:
    reservations = ec2.describe_instances(Filters=[{"Name": "instance-state-name", "Values": ["running"]}])
    return sum(len(r["Instances"]) for r in reservations["Reservations"])


def test_a_forced_delete_of_an_auto_scaling_group_terminates_its_protected_instances(stack):
    moto_patches.apply()
    ec2, autoscaling = setup_client("ec2"), setup_client("autoscaling")
    _protected_group(ec2, autoscaling)
    assert _running(ec2) == 1

    autoscaling.delete_auto_scaling_group(AutoScalingGroupName="l0-asg", ForceDelete=True)

    assert _running(ec2) == 0


def test_moto_still_leaves_protected_instances_running_after_a_forced_delete_without_the_patch(stack):
    moto_patches.apply()
    ec2, autoscaling = setup_client("ec2"), setup_client("autoscaling")
    _protected_group(ec2, autoscaling)
    with moto_patches.unpatched("autoscaling_force_delete"):
        autoscaling.delete_auto_scaling_group(AutoScalingGroupName="l0-asg", ForceDelete=True)
    assert _running(ec2) == 1


def test_create_service_repeated_with_its_client_token_answers_with_the_service(ecs):
    ecs_client, _ = ecs
    definition = _definition(ecs_client)
    params = {"cluster": "c", "serviceName": "web", "taskDefinition": definition, "desiredCount": 1}
    first = ecs_client.create_service(**params, clientToken="token-1")["service"]
    ecs_client.update_service(cluster="c", service="web", desiredCount=2)
    repeat = ecs_client.create_service(**params, clientToken="token-1")["service"]
    assert repeat["serviceArn"] == first["serviceArn"] and repeat["desiredCount"] == 2  # the same service, untouched
    assert [d["id"] for d in repeat["deployments"]] == [d["id"] for d in first["deployments"]]
    for other in ({"clientToken": "token-2"}, {}):
        with pytest.raises(ClientError) as raised:
            ecs_client.create_service(**params, **other)
        assert raised.value.response["Error"]["Code"] == "InvalidParameterException"
        assert "not idempotent" in raised.value.response["Error"]["Message"]
    assert len(ecs_client.list_services(cluster="c")["serviceArns"]) == 1


def test_moto_still_replaces_a_service_created_again_without_the_patch(ecs):
    ecs_client, _ = ecs
    definition = _definition(ecs_client)
    params = {"cluster": "c", "serviceName": "web", "taskDefinition": definition, "desiredCount": 1}
    with moto_patches.unpatched("ecs_service_deployments"):
        ecs_client.create_service(**params, clientToken="token-1")
        ecs_client.update_service(cluster="c", service="web", desiredCount=2)
        repeat = ecs_client.create_service(**params, clientToken="token-1")["service"]
    assert repeat["desiredCount"] == 1  # a new service in the place of the first


def test_deleting_an_unknown_launch_template_is_not_found(stack):
    moto_patches.apply()
    with pytest.raises(ClientError) as raised:
        setup_client("ec2").delete_launch_template(LaunchTemplateName="l0-gone")
    assert raised.value.response["Error"]["Code"] == "InvalidLaunchTemplateName.NotFoundException"


def test_moto_still_answers_missing_parameter_for_an_unknown_launch_template_without_the_patch(stack):
    moto_patches.apply()
    with moto_patches.unpatched("ec2_delete_unknown_launch_template"), pytest.raises(ClientError) as raised:
        setup_client("ec2").delete_launch_template(LaunchTemplateName="l0-gone")
    assert raised.value.response["Error"]["Code"] == "MissingParameter"


# ----------------------------------------------------------------------------------------------------------------
# ECS history: what was deleted stops costing list calls
# ----------------------------------------------------------------------------------------------------------------


@pytest.fixture
def ecs_history():
    """moto in process with the permanent patches; two clusters, one deleted, each with a service, one deleted;
    two task definition families, one deregistered. Yields the ECS client."""
    moto_patches.apply()
    with mock_aws():
        ecs = client("ecs")
        container = [{"name": "web", "image": "nginx", "memory": 128}]
        ecs.register_task_definition(family="l0-t-live", containerDefinitions=container)
        ecs.register_task_definition(family="l0-t-gone", containerDefinitions=container)
        ecs.deregister_task_definition(taskDefinition="l0-t-gone:1")
        for cluster in ("l0-t-kept", "l0-t-deleted"):
            ecs.create_cluster(clusterName=cluster)
            for service in ("live", "gone"):
                ecs.create_service(cluster=cluster, serviceName=service, taskDefinition="l0-t-live", desiredCount=0)
            ecs.delete_service(cluster=cluster, service="gone", force=True)
        ecs.delete_cluster(cluster="l0-t-deleted")
        yield ecs


def _names(arns: list[str]) -> list[str]:
    return sorted(arn.rsplit("/", 1)[-1] for arn in arns)


def test_deleted_clusters_leave_list_clusters_and_still_describe_inactive(ecs_history):
    assert _names(ecs_history.list_clusters()["clusterArns"]) == ["l0-t-kept"]
    [deleted] = ecs_history.describe_clusters(clusters=["l0-t-deleted"])["clusters"]
    assert deleted["status"] == "INACTIVE"


def test_moto_still_lists_deleted_clusters_without_the_patch(ecs_history):
    with moto_patches.unpatched("list_clusters_active"):
        assert _names(ecs_history.list_clusters()["clusterArns"]) == ["l0-t-deleted", "l0-t-kept"]


def test_deleted_services_leave_list_services(ecs_history):
    assert _names(ecs_history.list_services(cluster="l0-t-kept")["serviceArns"]) == ["live"]
    [gone] = ecs_history.describe_services(cluster="l0-t-kept", services=["gone"])["services"]
    assert gone["status"] == "INACTIVE"


def test_moto_still_lists_deleted_services_without_the_patch(ecs_history):
    with moto_patches.unpatched("list_services_live"):
        assert _names(ecs_history.list_services(cluster="l0-t-kept")["serviceArns"]) == ["gone", "live"]


def test_list_task_definition_families_honours_the_status(ecs_history):
    def families(**status: str) -> list[str]:
        return sorted(ecs_history.list_task_definition_families(familyPrefix="l0-t-", **status)["families"])

    assert families(status="ACTIVE") == ["l0-t-live"]
    assert families(status="INACTIVE") == ["l0-t-gone"]
    assert families(status="ALL") == families() == ["l0-t-gone", "l0-t-live"]


def test_moto_still_lists_every_family_whatever_the_status_without_the_patch(ecs_history):
    with moto_patches.unpatched("list_task_definition_families_status"):
        families = ecs_history.list_task_definition_families(familyPrefix="l0-t-", status="ACTIVE")["families"]
        assert sorted(families) == ["l0-t-gone", "l0-t-live"]


@pytest.fixture
def big_table():
    """A table with a key of two parts: one small partition beside a large one."""
    with mock_aws():
        dynamodb = setup_client("dynamodb")
        dynamodb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "p", "KeyType": "HASH"}, {"AttributeName": "s", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "p", "AttributeType": "S"}, {"AttributeName": "s", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )  # fmt: skip
        for partition, count in (("small", 2), ("large", 300)):
            for i in range(count):
                dynamodb.put_item(TableName="t", Item={"p": {"S": partition}, "s": {"S": f"{i:04}"}})
        yield dynamodb


def _items_a_query_reads(dynamodb, monkeypatch, partition: str) -> tuple[list[str], int]:
    """The sort keys a Query on `partition` answers, and how many items moto looked at to find them."""
    from moto.dynamodb.models.table import Table

    looked_at = []
    all_items = Table.all_items

    def counting(self):
        items = all_items(self)
        looked_at.append(len(items))
        return items

    with monkeypatch.context() as patch:  # undone before the moto patch may be re-applied
        patch.setattr(Table, "all_items", counting)
        answer = dynamodb.query(
            TableName="t", KeyConditionExpression="p = :p", ExpressionAttributeValues={":p": {"S": partition}}
        )
    return [item["s"]["S"] for item in answer["Items"]], sum(looked_at)


def test_a_query_reads_only_its_partition(big_table, monkeypatch):
    moto_patches.apply()
    keys, looked_at = _items_a_query_reads(big_table, monkeypatch, "small")
    assert keys == ["0000", "0001"]
    assert looked_at == 2
    assert _items_a_query_reads(big_table, monkeypatch, "none")[0] == []
    # A scan still reads the whole table.
    assert len(big_table.scan(TableName="t")["Items"]) == 302


def test_moto_still_reads_every_item_of_the_table_for_a_query_without_the_patch(big_table, monkeypatch):
    moto_patches.apply()
    with moto_patches.unpatched("dynamodb_query_one_partition"):
        keys, looked_at = _items_a_query_reads(big_table, monkeypatch, "small")
    assert keys == ["0000", "0001"]
    assert looked_at == 302


# An item with every kind of DynamoDB value.
EVERY_KIND = {
    "p": {"S": "small"},
    "s": {"S": "9999"},
    "n": {"N": "-12.5"},
    "b": {"B": b"\x00\xffbinary"},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2"]},
    "bs": {"BS": [b"x", b"y"]},
    "m": {"M": {"inner": {"L": [{"S": "x"}, {"N": "3"}, {"NULL": True}, {"BOOL": False}]}}},
}


def _item_answers(dynamodb) -> list[dict]:
    by_key = {"p": {"S": "small"}, "s": {"S": "9999"}}
    small = {":p": {"S": "small"}}
    answers = [
        dynamodb.get_item(TableName="t", Key=by_key),
        dynamodb.get_item(TableName="t", Key={"p": {"S": "none"}, "s": {"S": "0"}}),
        dynamodb.query(TableName="t", KeyConditionExpression="p = :p", ExpressionAttributeValues=small),
        dynamodb.query(TableName="t", KeyConditionExpression="p = :p", ExpressionAttributeValues=small, Limit=1),
        dynamodb.scan(TableName="t", Limit=5),
        dynamodb.describe_table(TableName="t")["Table"]["ItemCount"],
    ]
    for answer in answers:
        if isinstance(answer, dict):
            answer.pop("ResponseMetadata")
    return answers


def test_item_answers_written_as_json_are_those_of_motos_serializer(big_table):
    from moto.dynamodb import responses

    big_table.put_item(TableName="t", Item=EVERY_KIND)
    moto_patches.apply()
    assert responses.DynamoResult.__module__ == "local.moto_patches"
    patched = _item_answers(big_table)
    with moto_patches.unpatched("dynamodb_item_answers_as_json"):
        assert _item_answers(big_table) == patched
    assert patched[0]["Item"] == EVERY_KIND
    assert patched[3]["LastEvaluatedKey"] == {"p": {"S": "small"}, "s": {"S": "0000"}}


def _sets_sorted(value):
    """DynamoDB's sets have no order (moto's own projection answers them in Python's set order): sorted here."""
    if isinstance(value, dict):
        return {key: sorted(v) if key in ("SS", "NS", "BS") else _sets_sorted(v) for key, v in value.items()}
    if isinstance(value, list):
        return [_sets_sorted(v) for v in value]
    return value


def _projected_answers(dynamodb) -> list[dict]:
    """Query, GetItem and Scan answers projected on top-level names, one of them missing from some items."""
    names = {"#n": "n", "#m": "m", "#gone": "gone"}
    small = {":p": {"S": "small"}}
    answers = [
        dynamodb.query(TableName="t", KeyConditionExpression="p = :p", ExpressionAttributeValues=small,
                       ProjectionExpression="s, #n, #m, #gone", ExpressionAttributeNames=names),
        dynamodb.get_item(TableName="t", Key={"p": {"S": "small"}, "s": {"S": "9999"}},
                          ProjectionExpression="bs, ss, #m", ExpressionAttributeNames={"#m": "m"}),
        dynamodb.scan(TableName="t", Limit=3, ProjectionExpression="p, s"),
        # A nested path takes moto's own way: the patch must not change it either.
        dynamodb.get_item(TableName="t", Key={"p": {"S": "small"}, "s": {"S": "9999"}},
                          ProjectionExpression="#m.inner", ExpressionAttributeNames={"#m": "m"}),
    ]  # fmt: skip
    for answer in answers:
        answer.pop("ResponseMetadata")
    return _sets_sorted(answers)


def test_a_projection_of_top_level_names_answers_as_motos_own(big_table):
    big_table.put_item(TableName="t", Item=EVERY_KIND)
    moto_patches.apply()
    patched = _projected_answers(big_table)
    with moto_patches.unpatched("dynamodb_top_level_projection"):
        assert _projected_answers(big_table) == patched
    assert patched[0]["Items"][-1] == {key: EVERY_KIND[key] for key in ("s", "n", "m")}
    assert patched[0]["Items"][0] == {"s": {"S": "0000"}}
    assert patched[1]["Item"] == {key: EVERY_KIND[key] for key in ("bs", "ss", "m")}
    assert patched[3]["Item"] == {"m": {"M": {"inner": EVERY_KIND["m"]["M"]["inner"]}}}


def _plain_python_conversions(dynamodb, monkeypatch) -> int:
    """How many items moto turned into plain Python for one projected Query of two items."""
    from moto.dynamodb.models.dynamo_type import Item

    converted = []
    to_regular_json = Item.to_regular_json

    def counting(self):
        converted.append(self)
        return to_regular_json(self)

    with monkeypatch.context() as patch:
        patch.setattr(Item, "to_regular_json", counting)
        answer = dynamodb.query(TableName="t", KeyConditionExpression="p = :p", ProjectionExpression="s",
                                ExpressionAttributeValues={":p": {"S": "small"}})  # fmt: skip
    assert answer["Items"] == [{"s": {"S": "0000"}}, {"s": {"S": "0001"}}]
    return len(converted)


def test_a_projection_of_top_level_names_picks_them_without_converting_the_items(big_table, monkeypatch):
    moto_patches.apply()
    assert _plain_python_conversions(big_table, monkeypatch) == 0


def test_moto_still_converts_every_item_for_a_projection_without_the_patch(big_table, monkeypatch):
    moto_patches.apply()
    with moto_patches.unpatched("dynamodb_top_level_projection"):
        assert _plain_python_conversions(big_table, monkeypatch) == 2


@pytest.mark.parametrize("forward", [True, False])
def test_a_query_answers_its_partition_in_range_key_order_as_moto_does(forward):
    """Number range keys written out of order: the patched Query (its partition pre-sorted) answers in DynamoDB's
    order, numeric, as moto's own walk of the table does."""
    with mock_aws():
        dynamodb = setup_client("dynamodb")
        dynamodb.create_table(
            TableName="n",
            KeySchema=[{"AttributeName": "p", "KeyType": "HASH"}, {"AttributeName": "r", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "p", "AttributeType": "S"},
                {"AttributeName": "r", "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )  # fmt: skip
        for number in ("10", "-2.5", "9", "100", "0"):
            dynamodb.put_item(TableName="n", Item={"p": {"S": "a"}, "r": {"N": number}})
            dynamodb.put_item(TableName="n", Item={"p": {"S": "b"}, "r": {"N": number}})

        def keys() -> list[str]:
            answer = dynamodb.query(TableName="n", KeyConditionExpression="p = :p", ScanIndexForward=forward,
                                    ExpressionAttributeValues={":p": {"S": "a"}})  # fmt: skip
            return [item["r"]["N"] for item in answer["Items"]]

        moto_patches.apply()
        patched = keys()
        with moto_patches.unpatched("dynamodb_query_one_partition"):
            assert keys() == patched
    assert patched == (["-2.5", "0", "9", "10", "100"] if forward else ["100", "10", "9", "0", "-2.5"])
