"""The environment scaler (docs/compatibility.md#scaler, with the fixes of
docs/compatibility.md#differences-on-purpose-and-why).

`plan` is the pure part: providers (container instances), consumers (containers waiting for room),
the memory of a new instance and the ASG's minimum and desired capacity in; the desired capacity and
the instances to terminate out. `run(environment_id)` is the thin I/O layer around it: it gathers the
providers and consumers from ECS, applies the plan to the ASG, and returns a `ScalerRunInfo`.

`request_run(environment_id)` is the debounced trigger that service and task changes call: a one-time
EventBridge Scheduler schedule runs the scaler function 10 s later, so no timer lives in a Lambda.

Create-task jobs that have not started their task yet are consumers too (docs/compatibility.md#scaler consumer 3).
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
import time
from dataclasses import dataclass, field

from layer0 import aws, capacity, ids, jobs, settings
from layer0.errors import ErrorCode, Layer0Error, aws_error_code
from layer0.models import ResourceConsumer, ResourceProvider, ScalerRunInfo
from layer0.stores import jobs as job_store

logger = logging.getLogger(__name__)

# Debounced runs (docs/compatibility.md#scaler trigger b): at most one per environment per window, this long after the
# request.
DEBOUNCE_SECONDS = 10

# Ports an empty ECS instance already uses: ssh, docker and the ECS agent (docs/compatibility.md#scaler).
DEFAULT_USED_PORTS = (22, 2376, 2375, 51678, 51679)


@dataclass
class Provider:
    """A container instance: its EC2 instance id, free memory (MiB) and used host ports."""

    id: str
    available_memory: int
    used_ports: list[int] = field(default_factory=list)
    in_use: bool = False

    def fits(self, consumer: Consumer) -> bool:
        return consumer.memory <= self.available_memory and not set(consumer.ports) & set(self.used_ports)

    def take(self, consumer: Consumer) -> None:
        self.available_memory -= consumer.memory
        self.used_ports = self.used_ports + list(consumer.ports)
        self.in_use = True


@dataclass(frozen=True)
class Consumer:
    """One container copy that needs room: memory in MiB and non-zero host ports."""

    id: str
    memory: int
    ports: tuple[int, ...] = ()


@dataclass
class Plan:
    scale_before_run: int
    desired: int
    providers: list[Provider]
    unused: list[Provider]
    terminate: list[str]
    errors: list[str]


def _order(provider: Provider) -> tuple[bool, int]:
    # One stable sort: in-use providers first (pack them), then the fullest first (binpack on memory).
    return (not provider.in_use, provider.available_memory)


def plan(
    providers: list[Provider],
    consumers: list[Consumer],
    new_provider_memory: int | None,
    asg_min: int,
    asg_desired: int,
) -> Plan:
    """Place every consumer, adding providers of `new_provider_memory` MiB when none has room.

    A consumer that does not fit even an empty provider is reported in `errors` and skipped. The
    desired count is the number of providers in use, never below `asg_min`; when it is below
    `asg_desired`, unused instances are named for termination, up to the difference.
    """
    providers = [Provider(p.id, p.available_memory, list(p.used_ports), p.in_use) for p in providers]
    before = len(providers)
    errors: list[str] = []
    for consumer in consumers:
        providers.sort(key=_order)
        target = next((p for p in providers if p.fits(consumer)), None)
        if target is None:
            if new_provider_memory is None:
                errors.append(f"Resource '{consumer.id}' needs a new instance, but the instance size is unknown")
                continue
            target = Provider(
                f"<new instance {len(providers) - before + 1}>", new_provider_memory, list(DEFAULT_USED_PORTS)
            )
            if not target.fits(consumer):
                errors.append(
                    f"Resource '{consumer.id}' cannot fit into an empty provider! The instance size in your "
                    "environment is too small to run this resource. "
                    "Please increase the instance size for your environment"
                )
                continue
            providers.append(target)
        target.take(consumer)

    unused = [p for p in providers if not p.in_use]
    desired = max(len(providers) - len(unused), asg_min)
    terminate: list[str] = []
    if desired < asg_desired:
        terminate = [p.id for p in unused][: asg_desired - desired]
    return Plan(before, desired, providers, unused, terminate, errors)


# --- I/O --------------------------------------------------------------------------------------------------------


@functools.cache
def instance_memory(instance_type: str) -> int | None:
    """An instance type's memory in MiB, from EC2 (cached per process); None if EC2 does not know it."""
    ec2 = aws.client("ec2")
    try:
        found = ec2.describe_instance_types(InstanceTypes=[instance_type])["InstanceTypes"]
    except ec2.exceptions.ClientError as error:
        if aws_error_code(error) == "InvalidInstanceType":
            return None
        raise
    return found[0]["MemoryInfo"]["SizeInMiB"] if found else None


def _batches(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def providers_of(cluster: str) -> list[Provider]:
    ecs = aws.client("ecs")
    arns = [
        arn
        for page in ecs.get_paginator("list_container_instances").paginate(cluster=cluster)
        for arn in page["containerInstanceArns"]
    ]
    found = []
    for batch in _batches(arns, 100):
        for instance in ecs.describe_container_instances(cluster=cluster, containerInstances=batch)[
            "containerInstances"
        ]:
            if instance.get("status") != "ACTIVE":
                continue
            remaining = {r["name"]: r for r in instance.get("remainingResources", [])}
            memory = remaining.get("MEMORY", {}).get("integerValue", 0)
            ports = [int(p) for p in remaining.get("PORTS", {}).get("stringSetValue", [])]
            in_use = instance.get("runningTasksCount", 0) + instance.get("pendingTasksCount", 0) > 0
            found.append(Provider(instance["ec2InstanceId"], memory, ports, in_use))
    return found


def _containers(task_definition: str, cache: dict) -> list[tuple[str, int, tuple[int, ...]]]:
    """(name, memory, host ports) of each container: memory = hard limit, else reservation."""
    if task_definition not in cache:
        definition = aws.client("ecs").describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
        cache[task_definition] = [
            (
                container["name"],
                container.get("memory") or container.get("memoryReservation") or 0,
                tuple(m["hostPort"] for m in container.get("portMappings", []) if m.get("hostPort")),
            )
            for container in definition["containerDefinitions"]
        ]
    return cache[task_definition]


def consumers_of(cluster: str) -> list[Consumer]:
    """Missing copies of the cluster's services, then its pending tasks, then its waiting create-task jobs
    (docs/compatibility.md#scaler)."""
    ecs = aws.client("ecs")
    cache: dict = {}
    consumers: list[Consumer] = []
    service_arns = [
        arn for page in ecs.get_paginator("list_services").paginate(cluster=cluster) for arn in page["serviceArns"]
    ]
    for batch in _batches(service_arns, 10):
        for service in ecs.describe_services(cluster=cluster, services=batch)["services"]:
            for deployment in service.get("deployments", []):
                missing = (
                    deployment["desiredCount"] - deployment.get("runningCount", 0) - deployment.get("pendingCount", 0)
                )
                deploy = deployment["taskDefinition"].split("/")[-1]
                for copy in range(missing):
                    for name, memory, ports in _containers(deployment["taskDefinition"], cache):
                        consumers.append(
                            Consumer(
                                f"Service: {service['serviceName']}, Deploy: {deploy}, Container: {name}, Copy: {copy}",
                                memory,
                                ports,
                            )
                        )
    task_arns = [
        arn
        for page in ecs.get_paginator("list_tasks").paginate(cluster=cluster, desiredStatus="RUNNING")
        for arn in page["taskArns"]
    ]
    for batch in _batches(task_arns, 100):
        for task in ecs.describe_tasks(cluster=cluster, tasks=batch)["tasks"]:
            if task.get("lastStatus") != "PENDING":
                continue
            for name, memory, ports in _containers(task["taskDefinitionArn"], cache):
                consumers.append(Consumer(f"Task: {task['taskArn'].split('/')[-1]}, Container: {name}", memory, ports))
    consumers.extend(_create_task_consumers(cluster, cache))
    return consumers


_WAITING_JOB_STATUSES = (jobs.JobStatus.Pending, jobs.JobStatus.InProgress)


def _create_task_consumers(cluster: str, cache: dict) -> list[Consumer]:
    """One copy of each container of the deploy of every create-task job for this environment that has not
    started its task yet (a started one has `meta.task_id`, and its ECS task counts above while pending)."""
    environment_id = ids.layer0_id(cluster)
    consumers = []
    for job in job_store.list_all():
        if (
            job.job_type != jobs.JobType.CreateTask
            or job.job_status not in _WAITING_JOB_STATUSES
            or job.meta.get("task_id")
        ):
            continue
        try:
            request = json.loads(job.request)
        except ValueError:
            continue
        if not isinstance(request, dict) or request.get("environment_id") != environment_id:
            continue
        deploy_id = str(request.get("deploy_id") or "")
        try:
            containers = _containers(ids.task_definition(deploy_id), cache)
        except aws.client("ecs").exceptions.ClientException:
            continue  # the deploy is gone: the job fails by itself, nothing to make room for
        for name, memory, ports in containers:
            consumers.append(Consumer(f"Job: {job.job_id}, Deploy: {deploy_id}, Container: {name}", memory, ports))
    return consumers


def _asg(name: str) -> dict:
    groups = aws.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    if not groups:
        raise Layer0Error(ErrorCode.EnvironmentDoesNotExist, f"Environment '{ids.layer0_id(name)}' does not exist")
    return groups[0]


def _instance_type(group: dict) -> str | None:
    template = group.get("LaunchTemplate")
    if not template:
        return None
    versions = aws.client("ec2").describe_launch_template_versions(
        LaunchTemplateName=template["LaunchTemplateName"], Versions=["$Latest"]
    )["LaunchTemplateVersions"]
    return versions[0]["LaunchTemplateData"].get("InstanceType") if versions else None


def _mib(value: int) -> str:
    return f"{value}MiB"


def managed_report(environment_id: str, group: dict) -> ScalerRunInfo:
    """What `run` answers for an environment that ECS managed scaling sizes (docs/architecture.md#capacity-providers):
    the group's current and desired sizes, changing nothing."""
    return ScalerRunInfo(
        environment_id=environment_id,
        scale_before_run=len(group.get("Instances", [])),
        desired_scale_after_run=group["DesiredCapacity"],
        actual_scale_after_run=group["DesiredCapacity"],
        unused_resource_providers=0,
        pending_resources=[],
        resource_providers=[],
        errors=[],
    )


def run(environment_id: str) -> ScalerRunInfo:
    """Scale one environment now (PUT /admin/scale/{id}); an environment with managed scaling is only reported."""
    where = capacity.placement(environment_id)
    if where.fargate:
        # Fargate has no instances to scale (docs/compatibility.md#fargate-environments): nothing to do.
        return ScalerRunInfo(
            environment_id=environment_id,
            scale_before_run=0,
            desired_scale_after_run=0,
            actual_scale_after_run=0,
            unused_resource_providers=0,
        )
    name = ids.aws_name(environment_id)
    group = _asg(name)
    if where.scaling == capacity.MANAGED:
        return managed_report(environment_id, group)
    providers = providers_of(name)
    consumers = consumers_of(name)
    instance_type = _instance_type(group)
    memory = instance_memory(instance_type) if instance_type else None
    result = plan(providers, consumers, memory, group["MinSize"], group["DesiredCapacity"])

    autoscaling = aws.client("autoscaling")
    current = group["DesiredCapacity"]
    actual = current
    if result.desired > current:
        if result.desired > group["MaxSize"]:
            autoscaling.update_auto_scaling_group(AutoScalingGroupName=name, MaxSize=result.desired)
        autoscaling.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=result.desired)
        actual = result.desired
    elif result.desired < current:
        # Terminate the chosen unused instances first, each lowering the desired count by one, so that
        # the ASG never picks an in-use instance itself; then set whatever is left of the difference.
        for instance_id in result.terminate:
            autoscaling.terminate_instance_in_auto_scaling_group(
                InstanceId=instance_id, ShouldDecrementDesiredCapacity=True
            )
        if current - len(result.terminate) != result.desired:
            autoscaling.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=result.desired)
        actual = result.desired

    info = ScalerRunInfo(
        environment_id=environment_id,
        scale_before_run=result.scale_before_run,
        desired_scale_after_run=result.desired,
        actual_scale_after_run=actual,
        unused_resource_providers=len(result.unused),
        pending_resources=[ResourceConsumer(id=c.id, memory=_mib(c.memory), ports=list(c.ports)) for c in consumers],
        resource_providers=[
            ResourceProvider(
                id=p.id, in_use=p.in_use, used_ports=list(p.used_ports), available_memory=_mib(p.available_memory)
            )
            for p in result.providers
        ],
        errors=result.errors,
    )
    return info


def request_run(environment_id: str, now=time.time) -> bool:
    """Run the scaler for one environment in DEBOUNCE_SECONDS, once per environment and 10-second window.

    The schedule is named after the environment and the window's number: a second request in the same
    window finds the name taken (ConflictException) and adds nothing; a request in the next window gets
    its own run, so no change goes unscaled. Schedules delete themselves once they have run.
    Returns whether this call scheduled a run.
    """
    current = settings.get()
    if not (current.scaler_function_arn and current.scaler_schedule_role_arn):
        return False
    if capacity.placement(environment_id).scaling == capacity.MANAGED:
        return False  # ECS sizes it: a run would change nothing
    moment = now()
    window = int(moment // DEBOUNCE_SECONDS)
    at = datetime.datetime.fromtimestamp(int(moment) + DEBOUNCE_SECONDS, tz=datetime.UTC)
    scheduler = aws.client("scheduler")
    try:
        scheduler.create_schedule(
            Name=f"{current.aws_name_prefix}scale-{environment_id}-{window}",
            Description=f"Layer0: scale environment {environment_id}",
            ScheduleExpression=f"at({at:%Y-%m-%dT%H:%M:%S})",
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Target={
                "Arn": current.scaler_function_arn,
                "RoleArn": current.scaler_schedule_role_arn,
                "Input": json.dumps({"environment_id": environment_id}),
                "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 300},
            },
        )
    except scheduler.exceptions.ConflictException:
        return False
    return True


def request_run_soon(environment_id: str) -> None:
    """`request_run`, best effort: the scaler also runs hourly, so a failure to schedule an early run delays a
    change's capacity, it does not fail the change."""
    try:
        request_run(environment_id)
    except Exception:  # noqa: BLE001 - the caller's change itself succeeded
        logger.exception("Could not schedule a scaler run for environment %s", environment_id)
