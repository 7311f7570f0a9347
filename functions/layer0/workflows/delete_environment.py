"""Job type 1, delete environment: the environment, and everything in it (docs/compatibility.md#environments).

UnlinkAll -> ListDependencies -> DeleteDependencies (a Map over its services, load balancers and tasks, a few at a
time) -> DeleteCapacityProvider (detached from the cluster, then deleted; an environment the Layer0 scaler sizes has
none) -> DeleteAutoScalingGroup -> DeleteLaunchTemplate -> the instance poll (WaitForInstances, CheckInstances,
InstancesGone; up to 15 minutes) -> DeleteSecurityGroup -> DeleteCluster -> DeleteTags (the environment's tags and
the records of all its tasks).

The dependencies are deleted by the other resources' own delete steps: this module is where the fan-out across
resources lives, so the resource modules never import each other to delete. Every step is idempotent, so a
rerun after a failure part-way finishes the job. The resource deletes at the end are environments' own
operations (a failed create rolls back with them), registered here by reference.
"""

from __future__ import annotations

from layer0 import aws, capacity, environments, ids, load_balancers, settings, tasks
from layer0.contract import JobType
from layer0.stores import tags as tag_store
from layer0.workflows import asl, delete_service
from layer0.workflows.frame import JobMachine

WORKFLOW = asl.Workflow("environment")


@WORKFLOW.step
def unlink_all(environment_id: str) -> dict:
    linked = environments.linked_ids(tag_store.select_by_type_and_id(environments.ENTITY_TYPE, environment_id))
    for other in linked:
        environments.unlink(environment_id, other)
    return {"unlinked": linked}


def _services(cluster: str) -> list[str]:
    """The cluster's ACTIVE services (a deleted one stays listed while it drains)."""
    ecs = aws.client("ecs")
    try:
        arns = [
            arn for page in ecs.get_paginator("list_services").paginate(cluster=cluster) for arn in page["serviceArns"]
        ]
        return [
            service["serviceArn"]
            for start in range(0, len(arns), 10)
            for service in ecs.describe_services(cluster=cluster, services=arns[start : start + 10])["services"]
            if service.get("status") == "ACTIVE"
        ]
    except ecs.exceptions.ClusterNotFoundException:
        return []


def _tasks(cluster: str) -> list[str]:
    ecs = aws.client("ecs")
    try:
        return [
            arn
            for page in ecs.get_paginator("list_tasks").paginate(cluster=cluster, desiredStatus="RUNNING")
            for arn in page["taskArns"]
        ]
    except ecs.exceptions.ClusterNotFoundException:
        return []


def _load_balancers(environment_id: str) -> list[str]:
    """Layer0 ids of the environment's load balancers: those whose tags put them in this environment (even if
    AWS no longer knows them, so that their tags go too), and any `l0-<prefix>-` classic ELB or ALB in its
    security group (one whose tags were lost). Load balancers not named by Layer0 are not Layer0's to delete."""
    found = {
        t.entity_id
        for t in tag_store.select_by_type(load_balancers.ENTITY_TYPE)
        if t.key == "environment_id" and t.value == environment_id
    }
    group = environments.find_security_group(environment_id)
    if group is not None:
        prefix = settings.get().aws_name_prefix
        for page in aws.client("elb").get_paginator("describe_load_balancers").paginate():
            for lb in page["LoadBalancerDescriptions"]:
                if lb["LoadBalancerName"].startswith(prefix) and group["GroupId"] in lb.get("SecurityGroups", []):
                    found.add(ids.layer0_id(lb["LoadBalancerName"]))
        for page in aws.client("elbv2").get_paginator("describe_load_balancers").paginate():
            for lb in page["LoadBalancers"]:
                if lb["LoadBalancerName"].startswith(prefix) and group["GroupId"] in lb.get("SecurityGroups", []):
                    found.add(ids.layer0_id(lb["LoadBalancerName"]))
    return sorted(found)


@WORKFLOW.step
def list_dependencies(environment_id: str) -> dict:
    cluster = ids.aws_name(environment_id)
    dependencies = (
        [{"kind": "service", "id": arn} for arn in _services(cluster)]
        + [{"kind": "load_balancer", "id": lb} for lb in _load_balancers(environment_id)]
        + [{"kind": "task", "id": arn} for arn in _tasks(cluster)]
    )
    return {"dependencies": dependencies}


@WORKFLOW.step
def delete_dependency(environment_id: str, kind: str, id: str) -> dict:  # noqa: A002 - the Map item's field name
    if kind == "service":
        # The delete-service job's steps: stop autoscaling it, scale to 0, stop its tasks, delete it, forget its tags
        # and name.
        delete_service.delete_in_environment(environment_id, ids.layer0_id(id.rsplit("/", 1)[-1]))
    elif kind == "task":
        tasks.stop(environment_id, id, "Layer0: environment deleted")
        # The Layer0 task whose `arn` tag names this ECS task goes with it.
        tasks.forget_arn(id)
    elif kind == "load_balancer":
        # The delete-load-balancer job's steps; Retryable while its public group's ENIs detach (the Map retries).
        load_balancers.delete_now(id)
    else:
        raise ValueError(f"Unknown dependency kind '{kind}'")
    return {"deleted": {"kind": kind, "id": id}}


@WORKFLOW.step
def instances_gone(environment_id: str) -> dict:
    """Whether no instance of the environment is left that is not terminated (its ENIs hold the group)."""
    name = ids.aws_name(environment_id)
    ec2 = aws.client("ec2")
    left = set()
    for key in ("tag:aws:autoscaling:groupName", "tag:Name"):
        for page in ec2.get_paginator("describe_instances").paginate(
            Filters=[
                {"Name": key, "Values": [name]},
                {
                    "Name": "instance-state-name",
                    "Values": ["pending", "running", "shutting-down", "stopping", "stopped"],
                },
            ]
        ):
            left |= {i["InstanceId"] for r in page["Reservations"] for i in r["Instances"]}
    return {"gone": not left, "instances": sorted(left)}


# The environment's own resources go with its own delete operations.
for _operation in (
    capacity.delete_provider,
    environments.delete_autoscaling_group,
    environments.delete_launch_template,
    environments.delete_security_group,
    environments.delete_cluster,
):
    WORKFLOW.step(_operation)


@WORKFLOW.step
def delete_tags(environment_id: str) -> dict:
    """Last, once the cluster is gone: the records of every task the environment ever ran (a finished task's record
    would otherwise outlive the environment in `GET /task`), then the environment's tags and its name claim."""
    forgotten = tasks.forget_environment(environment_id)
    return {**environments.delete_tags(environment_id), "tasks": forgotten}


# --- the state machine ---------------------------------------------------------------------------------------------

# The environment id is the job's request.
_ENV = {"environment_id.$": "$.request"}
DEPENDENCY_CONCURRENCY = 5
INSTANCE_POLL_SECONDS = 10
INSTANCE_POLL_LIMIT = 90  # 15 minutes of polls


def _body() -> dict:
    task = WORKFLOW.task
    states = {
        "UnlinkAll": task(unlink_all, args=_ENV, next_state="ListDependencies"),
        "ListDependencies": task(
            list_dependencies, args=_ENV, result_path="$.dependencies", next_state="DeleteDependencies"
        ),
        "DeleteDependencies": {
            "Type": "Map",
            "Comment": "services, load balancers and tasks of the environment, a few at a time",
            "ItemsPath": "$.dependencies.value.dependencies",
            "MaxConcurrency": DEPENDENCY_CONCURRENCY,
            "Parameters": {
                "job_id.$": "$.job_id",
                "request.$": "$.request",
                "kind.$": "$$.Map.Item.Value.kind",
                "id.$": "$$.Map.Item.Value.id",
            },
            "Iterator": {
                "StartAt": "DeleteDependency",
                "States": {
                    "DeleteDependency": task(
                        delete_dependency,
                        args={**_ENV, "kind.$": "$.kind", "id.$": "$.id"},
                        # A load balancer's public group is in use until its ENIs detach.
                        retryable=asl.SECURITY_GROUP_RETRY,
                    )
                },
            },
            "ResultPath": None,
            "Next": "DeleteCapacityProvider",
        },
        # Retryable while a draining service still uses it.
        "DeleteCapacityProvider": task(capacity.delete_provider, args=_ENV, next_state="DeleteAutoScalingGroup"),
        "DeleteAutoScalingGroup": task(
            environments.delete_autoscaling_group, args=_ENV, next_state="DeleteLaunchTemplate"
        ),
        "DeleteLaunchTemplate": task(environments.delete_launch_template, args=_ENV, next_state="StartInstancePolls"),
        "StartInstancePolls": {
            "Type": "Pass",
            "Result": {"count": 0},
            "ResultPath": "$.polls",
            "Next": "WaitForInstances",
        },
        "WaitForInstances": {"Type": "Wait", "Seconds": INSTANCE_POLL_SECONDS, "Next": "CheckInstances"},
        "CheckInstances": task(instances_gone, args=_ENV, result_path="$.instances", next_state="CountInstancePoll"),
        "CountInstancePoll": {
            "Type": "Pass",
            "Parameters": {"count.$": "States.MathAdd($.polls.count, 1)"},
            "ResultPath": "$.polls",
            "Next": "InstancesGone",
        },
        "InstancesGone": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.instances.value.gone", "BooleanEquals": True, "Next": "DeleteSecurityGroup"},
                {
                    "Variable": "$.polls.count",
                    "NumericGreaterThanEquals": INSTANCE_POLL_LIMIT,
                    "Next": "InstancesStillThere",
                },
            ],
            "Default": "WaitForInstances",
        },
        "InstancesStillThere": {
            "Type": "Fail",
            "Error": "Layer0.InstancesNotGone",
            "Cause": f"The environment's instances were still there after {INSTANCE_POLL_LIMIT} checks, "
            f"{INSTANCE_POLL_SECONDS} seconds apart",
        },
        "DeleteSecurityGroup": task(
            environments.delete_security_group,
            args=_ENV,
            retryable=asl.SECURITY_GROUP_RETRY,
            next_state="DeleteCluster",
        ),
        "DeleteCluster": task(environments.delete_cluster, args=_ENV, next_state="DeleteTags"),
        "DeleteTags": task(delete_tags, args=_ENV),
    }
    return {"StartAt": "UnlinkAll", "States": states}


MACHINE = JobMachine(
    job_type=JobType.DeleteEnvironment,
    body=_body(),
    timeout_seconds=2 * 3600,
    description="Layer0 job type 1: delete an environment and everything in it",
)
