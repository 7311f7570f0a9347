"""The ECS moto patches the ECS simulation needs (moto pinned at 5.2.5), and the helpers it shares with them.

Every patch here works around one moto bug that hits a Layer0 flow. Each is a small named function with an
undo (local/patching.py), and each has a test in ``tests/unit/test_moto_patches.py`` that proves moto is *still*
buggy without it: the day that test fails, moto fixed the bug upstream and the patch can be deleted.

Applied together by :func:`apply` (an :class:`local.ecs.agent.Agent` does it when created, unless told not to;
``local.moto_patches.apply_ecs`` is the same function) and undone by :func:`revert`:

- :func:`patch_ecs_total_resources`     RegisterContainerInstance honours ``totalResources``
- :func:`patch_ecs_task_status`         a task's ``lastStatus`` no longer walks to STOPPED by itself
- :func:`patch_ecs_task_start`          new tasks are PENDING, with all their containers
- :func:`patch_ecs_run_task`            RunTask: unplaced copies in ``failures``, AWS's no-instance error, clientToken
- :func:`patch_ecs_stop_task`           StopTask of a stopped task releases nothing twice
- :func:`patch_ecs_list_tasks_service_name` ListTasks(serviceName) filters on the service
- :func:`patch_ecs_service_deployments` services: real counts, deployments, deploymentConfiguration, clientToken

Shared with the simulation (local/ecs/simulation.py, local/ecs/capacity.py): :data:`ECS_LOCK`,
:func:`placement_failure`, :func:`run_task_placing` (through a managed-scaling capacity provider, what does not fit
waits in PROVISIONING: :func:`managed_provider`, :func:`provision`), :func:`finish_stopped_task`,
:func:`start_deployment`.
"""

from __future__ import annotations

import datetime as _dt
import functools
import threading
from collections.abc import Callable
from typing import Any

from local import patching

RESPONSES = "moto.ecs.responses"  # moto's ECS request handlers, which most of these patches replace

__all__ = [
    "apply",
    "revert",
    "PATCHES",
    "ECS_LOCK",
    "patch_ecs_total_resources",
    "patch_ecs_task_status",
    "patch_ecs_task_start",
    "patch_ecs_run_task",
    "patch_ecs_stop_task",
    "patch_ecs_list_tasks_service_name",
    "patch_ecs_service_deployments",
    "placement_failure",
    "managed_provider",
    "provision",
    "run_task_placing",
    "finish_stopped_task",
    "start_deployment",
]


# --------------------------------------------------------------------------------------------------------------
# f. ECS (applied with the ECS agent simulation, by apply(); undone by revert())
# --------------------------------------------------------------------------------------------------------------

# The ECS simulation (local/ecs/simulation.py) and the patched ECS calls below change the same moto objects from
# different threads (the agent's, the moto server's): they take this lock, so that an UpdateService never lands in
# the middle of a scheduler pass. Never hold it across an HTTP call to moto.
ECS_LOCK = threading.RLock()

# What DescribeServices shows for a service created without a deploymentConfiguration.
DEFAULT_DEPLOYMENT_CONFIGURATION: dict[str, Any] = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}
NO_CONTAINER_INSTANCES = "No Container Instances were found in your cluster."
# The attribute of a moto service that keeps the clientToken of the CreateService that made it.
CLIENT_TOKEN = "_l0_client_token"
_TASK_MODEL = "ecs::task"


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def _register_with_total_resources(self: Any) -> Any:
    """moto's EC2ContainerServiceResponse.register_container_instance, honouring ``totalResources``."""
    import copy
    import json

    from moto.core.responses import ActionResult

    cluster_str = self._get_param("cluster", "default")
    document = json.loads(self._get_param("instanceIdentityDocument"))
    container_instance = self.ecs_backend.register_container_instance(cluster_str, document["instanceId"])
    given = self._get_param("totalResources")
    if given:
        by_name = {entry["name"]: _resource(entry) for entry in given}
        defaults = container_instance.registered_resources
        registered = [by_name.pop(d["name"], copy.deepcopy(d)) for d in defaults] + list(by_name.values())
        container_instance.registered_resources = registered
        container_instance.remaining_resources = copy.deepcopy(registered)  # moto mutates this one on placement
    return ActionResult({"containerInstance": container_instance})


def _resource(entry: dict) -> dict:
    """A resource as moto stores it (every value member present), from a request's Resource."""
    resource = {
        "doubleValue": float(entry.get("doubleValue", 0.0)),
        "integerValue": int(entry.get("integerValue", 0)),
        "longValue": int(entry.get("longValue", 0)),
        "name": entry["name"],
        "type": entry.get("type", "INTEGER"),
    }
    if resource["type"] == "STRINGSET" or "stringSetValue" in entry:
        resource["stringSetValue"] = [str(value) for value in entry.get("stringSetValue", [])]
    return resource


def patch_ecs_total_resources() -> None:
    """Make RegisterContainerInstance use the request's ``totalResources`` (no moto issue filed).

    moto 5.2.5 reads only ``instanceId`` and gives every container instance 4096 CPU units and 7482 MiB, whatever
    its instance type; placement (``run_task``) then uses those, so a t3.medium holds twice what it does on AWS.
    Without ``totalResources`` this behaves as moto does.
    """
    patching.install(
        "ecs_total_resources",
        RESPONSES,
        "EC2ContainerServiceResponse",
        "register_container_instance",
        lambda original: _register_with_total_resources,
    )


def patch_ecs_task_status() -> None:
    """Leave a task's ``lastStatus`` to ECS, here the simulation (no moto issue filed).

    moto's Task is a ManagedState whose default transition is ``manual, times 1``: every DescribeTasks of a task
    moves it one step along RUNNING -> DEACTIVATING -> STOPPING -> DEPROVISIONING -> STOPPED, so a task "stops"
    after a few polls although nothing stopped it, and its container instance keeps its resources. On AWS only the
    agent and StopTask change it. This registers a transition that never fires.
    """
    from moto.moto_api import state_manager

    with patching.lock:
        if "ecs_task_status" in patching.undos:
            return
        state_manager.set_transition(_TASK_MODEL, {"progression": "manual", "times": 2**62})
        patching.undos["ecs_task_status"] = lambda: state_manager.unset_transition(_TASK_MODEL)


def _container(task: Any, definition: dict) -> dict:
    """A task's container as DescribeTasks shows it on AWS, before it starts."""
    import uuid

    task_arn = task.task_arn
    container = {
        "containerArn": task_arn.replace(":task/", ":container/", 1).rsplit("/", 1)[0] + f"/{task.id}/{uuid.uuid4()}",
        "taskArn": task_arn,
        "name": definition.get("name"),
        "image": definition.get("image"),
        "lastStatus": "PENDING",
        "networkBindings": [
            {
                "bindIP": "0.0.0.0",
                "containerPort": mapping.get("containerPort"),
                "hostPort": mapping["hostPort"],
                "protocol": mapping.get("protocol", "tcp"),
            }
            for mapping in definition.get("portMappings") or []
            if mapping.get("hostPort")
        ],
        "networkInterfaces": [],
        "healthStatus": "UNKNOWN",
        "cpu": str(definition.get("cpu", 0)),
    }
    if definition.get("memory"):
        container["memory"] = str(definition["memory"])
    if definition.get("memoryReservation"):
        container["memoryReservation"] = str(definition["memoryReservation"])
    return container


def _task_init(original: Callable) -> Callable:
    @functools.wraps(original)
    def __init__(self: Any, cluster: Any, task_definition: Any, *args: Any, **kwargs: Any) -> None:
        original(self, cluster, task_definition, *args, **kwargs)
        self.status = "PENDING"
        self.created_at = _utcnow()
        self.containers = [_container(self, definition) for definition in task_definition.container_definitions]

    return __init__


def patch_ecs_task_start() -> None:
    """New tasks start PENDING, with every container of their definition (no moto issue filed).

    moto 5.2.5 creates a task RUNNING at once, and with one container only, made from the first container
    definition, whose ``taskArn`` is the task definition's ARN. On AWS a task placed on an instance is PENDING
    until its agent has started its containers, and lists all of them.
    """
    patching.install("ecs_task_start", "moto.ecs.models", "Task", "__init__", _task_init)


def placement_failure(backend: Any, cluster: Any, requirements: dict) -> tuple[str, str]:
    """(ARN, reason) of why a task needing ``requirements`` does not fit, as in RunTask's ``failures``.

    The reason is the first active container instance's first shortfall: ``RESOURCE:CPU``, ``RESOURCE:MEMORY``
    or ``RESOURCE:PORTS``; with no active instance, the cluster and ``No Container Instances ...``.
    """
    for instance in backend.container_instances.get(cluster.name, {}).values():
        if instance.status != "ACTIVE":
            continue
        remaining = {resource["name"]: resource for resource in instance.remaining_resources}
        if requirements.get("CPU", 0) > remaining.get("CPU", {}).get("integerValue", 0):
            return instance.container_instance_arn, "RESOURCE:CPU"
        if requirements.get("MEMORY", 0) > remaining.get("MEMORY", {}).get("integerValue", 0):
            return instance.container_instance_arn, "RESOURCE:MEMORY"
        used = set(remaining.get("PORTS", {}).get("stringSetValue", []))
        if {str(port) for port in requirements.get("PORTS", [])} & used:
            return instance.container_instance_arn, "RESOURCE:PORTS"
    return cluster.arn, NO_CONTAINER_INSTANCES


PROVISIONING = "PROVISIONING"


def _provider(backend: Any, name: str) -> Any | None:
    provider = backend.capacity_providers.get(name)
    if provider is None:
        return None
    scaling = (provider.auto_scaling_group_provider or {}).get("managedScaling") or {}
    return provider if scaling.get("status") == "ENABLED" else None


def managed_provider(backend: Any, cluster: Any, strategy: list | None, launch_type: str | None) -> str | None:
    """The managed-scaling capacity provider a RunTask goes through: its strategy's first, or with neither a
    strategy nor a launch type, the cluster's default strategy's first; None when that is not one."""
    if not strategy and not launch_type:
        strategy = cluster.default_capacity_provider_strategy
    if not strategy:
        return None
    name = strategy[0].get("capacityProvider", "")
    return name if _provider(backend, name) is not None else None


def provision(backend: Any, cluster: Any, task_definition: str, count: int, provider: str, arguments: dict) -> list:
    """``count`` tasks in PROVISIONING, on no instance, as ECS starts what does not fit through a capacity provider.
    ``arguments`` are moto's run_task ones (overrides, started_by, tags, group, ...)."""
    from moto.ecs.models import Task

    definition = backend.describe_task_definition(task_definition)
    group = arguments.get("group") or f"family:{definition.family}"
    tasks = []
    for _ in range(count):
        task = Task(
            cluster=cluster,
            task_definition=definition,
            container_instance_arn=None,
            resource_requirements=backend._calculate_task_resource_requirements(definition),
            backend=backend,
            group=group,
            overrides=arguments.get("overrides") or {},
            started_by=arguments.get("started_by") or "",
            tags=arguments.get("tags") or [],
            launch_type="EC2",
            networking_configuration=arguments.get("networking_configuration"),
            capacity_provider_name=provider,
        )
        task.last_status = PROVISIONING
        backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
        tasks.append(task)
    return tasks


def run_task_placing(backend: Any, cluster_name: str, task_definition: str, count: int, **options: Any) -> tuple:
    """moto's ``run_task`` with AWS's outcome: (tasks placed, failures), one failure per copy not placed.

    ``options`` are moto's: overrides, started_by, tags, launch_type, networking_configuration, group, ...
    Raises InvalidParameterException where AWS does (no container instance at all in the cluster).
    """
    from moto.ecs.exceptions import InvalidParameterException

    arguments = {
        "overrides": None,
        "started_by": None,
        "tags": None,
        "launch_type": None,
        **options,
    }
    cluster = backend._get_cluster(cluster_name)
    provider = managed_provider(
        backend, cluster, arguments.get("capacity_provider_strategy"), arguments.get("launch_type")
    )
    try:
        tasks = backend.run_task(cluster_name, task_definition, count, **arguments)
    except Exception as error:
        if not str(error).startswith("No instances found in cluster"):
            raise
        if provider is None:
            raise InvalidParameterException(NO_CONTAINER_INSTANCES) from None
        tasks = []
    failures = []
    if len(tasks) < count and provider is not None:
        # Through a managed-scaling capacity provider, what does not fit waits (local/ecs/capacity.py places it).
        tasks = tasks + provision(backend, cluster, task_definition, count - len(tasks), provider, arguments)
    elif len(tasks) < count:
        cluster = backend._get_cluster(cluster_name)
        definition = backend.describe_task_definition(task_definition)
        arn, reason = placement_failure(backend, cluster, backend._calculate_task_resource_requirements(definition))
        failures = [{"arn": arn, "reason": reason} for _ in range(count - len(tasks))]
    return tasks, failures


def _run_task(original: Callable) -> Callable:
    def run_task(self: Any) -> Any:
        from moto.core.responses import ActionResult

        backend = self.ecs_backend
        with ECS_LOCK:
            token = self._get_param("clientToken")
            cluster = backend._get_cluster(self._get_param("cluster", "default"))
            tokens = backend.__dict__.setdefault("_l0_client_tokens", {})  # (cluster, token) -> the first answer
            if token and (cluster.name, token) in tokens:
                arns, failures = tokens[(cluster.name, token)]
                known = backend.tasks.get(cluster.name, {})
                return ActionResult({"tasks": [known[arn] for arn in arns if arn in known], "failures": failures})
            tasks, failures = run_task_placing(
                self.ecs_backend,
                self._get_param("cluster", "default"),
                self._get_param("taskDefinition"),
                self._get_int_param("count", 1),
                overrides=self._get_param("overrides"),
                started_by=self._get_param("startedBy"),
                tags=self._get_param("tags"),
                launch_type=self._get_param("launchType"),
                networking_configuration=self._get_param("networkConfiguration"),
                group=self._get_param("group"),
                platform_version=self._get_param("platformVersion"),
                capacity_provider_strategy=self._get_param("capacityProviderStrategy"),
            )
            if token:
                tokens[(cluster.name, token)] = ([task.task_arn for task in tasks], failures)
        return ActionResult({"tasks": tasks, "failures": failures})

    return run_task


def patch_ecs_run_task() -> None:
    """RunTask answers as AWS does: failures, no-instance error, client token (moto: "TODO: return event about
    unable to place a task").

    moto 5.2.5 places what fits and silently returns fewer tasks, with ``failures: []``; AWS returns one failure
    per copy not placed, ``{"arn": <container instance>, "reason": "RESOURCE:MEMORY"}`` (or ``RESOURCE:CPU``,
    ``RESOURCE:PORTS``). In a cluster without any container instance moto raises a plain Exception (a 500 from
    the server), where AWS answers InvalidParameterException "No Container Instances were found in your
    cluster.". And moto ignores ``clientToken``: a retried RunTask (a workflow step run again) starts the tasks
    again, where AWS answers a repeat with the first call's tasks.
    """
    patching.install("ecs_run_task", RESPONSES, "EC2ContainerServiceResponse", "run_task", _run_task)


def _stop_task(original: Callable) -> Callable:
    def stop_task(self: Any) -> Any:
        from moto.core.responses import ActionResult

        with ECS_LOCK:
            cluster = self.ecs_backend._get_cluster(self._get_param("cluster", "default"))
            task_id = self._get_param("task", "").split("/")[-1]
            for arn, task in self.ecs_backend.tasks.get(cluster.name, {}).items():
                if arn.endswith(f"/{task_id}") and task.last_status == "STOPPED":
                    return ActionResult({"task": task})  # AWS: a no-op
            result = original(self)
            task = result.result["task"]
            finish_stopped_task(task, "UserInitiated")
        return result

    return stop_task


def finish_stopped_task(task: Any, stop_code: str, now: _dt.datetime | None = None) -> None:
    """What AWS shows of a task once stopped: its times, its stop code and stopped containers."""
    now = now or _utcnow()
    for attribute in ("stopping_at", "execution_stopped_at", "stopped_at"):
        if getattr(task, attribute, None) is None:
            setattr(task, attribute, now)
    if getattr(task, "stop_code", None) is None:
        task.stop_code = stop_code
    for container in task.containers:
        if isinstance(container, dict):
            container["lastStatus"] = "STOPPED"


def patch_ecs_stop_task() -> None:
    """StopTask of a stopped task changes nothing, as on AWS (no moto issue filed).

    moto 5.2.5 releases the task's resources on its container instance again on every StopTask: a second stop
    gives the instance more memory than it has (and fails, 500, for a task with host ports, once the port is no
    longer listed). Also records what AWS shows of a stopped task: ``stoppedAt``, ``stopCode`` and the
    containers STOPPED.
    """
    patching.install("ecs_stop_task", RESPONSES, "EC2ContainerServiceResponse", "stop_task", _stop_task)


def _list_tasks(original: Callable) -> Callable:
    def list_tasks(self: Any) -> Any:
        from moto.core.responses import ActionResult

        service_name = self._get_param("serviceName")
        result = original(self)
        if not service_name:
            return result
        cluster = self.ecs_backend._get_cluster(self._get_param("cluster", "default"))
        tasks = self.ecs_backend.tasks.get(cluster.name, {})
        group = f"service:{service_name.split('/')[-1]}"
        arns = [arn for arn in result.result["taskArns"] if arn in tasks and tasks[arn].group == group]
        return ActionResult({"taskArns": arns})

    return list_tasks


def patch_ecs_list_tasks_service_name() -> None:
    """ListTasks(serviceName) lists that service's tasks only (moto: "TODO: We can't filter on `service_name`").

    moto 5.2.5 ignores the filter and lists every task of the cluster. A service's tasks are those in its group
    ``service:<name>``, which is where the ECS simulation's scheduler starts them, as ECS does.
    """
    patching.install("ecs_list_tasks_service_name", RESPONSES, "EC2ContainerServiceResponse", "list_tasks", _list_tasks)


def start_deployment(service: Any, task_definition: str, reason: str | None = None) -> dict:
    """Give ``service`` a new PRIMARY deployment of ``task_definition``, the previous PRIMARY becoming ACTIVE.

    As ECS does on CreateService, on UpdateService with a new task definition or ``forceNewDeployment``, and on a
    circuit breaker rollback. Returns the new deployment (first in ``service.deployments``).
    """
    import random

    now = _utcnow()
    deployment_id = f"ecs-svc/{random.randrange(10**18, 10**19)}"
    for deployment in service.deployments:
        if deployment["status"] == "PRIMARY":
            deployment["status"] = "ACTIVE"
            deployment["updatedAt"] = now
    deployment = {
        "id": deployment_id,
        "status": "PRIMARY",
        "taskDefinition": task_definition,
        "desiredCount": service.desired_count,
        "pendingCount": 0,
        "runningCount": 0,
        "failedTasks": 0,
        "createdAt": now,
        "updatedAt": now,
        "launchType": service.launch_type,
        "rolloutState": "IN_PROGRESS",
        "rolloutStateReason": reason or f"ECS deployment {deployment_id} in progress.",
    }
    service.deployments.insert(0, deployment)
    return deployment


def _merged_deployment_configuration(current: dict | None, given: dict | None) -> dict:
    import copy

    merged = copy.deepcopy(current or DEFAULT_DEPLOYMENT_CONFIGURATION)
    for key, value in (given or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _create_service(original: Callable) -> Callable:
    def create_service(self: Any) -> Any:
        from moto.core.responses import ActionResult
        from moto.ecs.exceptions import InvalidParameterException

        with ECS_LOCK:
            cluster = self.ecs_backend._get_cluster(self._get_param("cluster", "default"))
            token = self._get_param("clientToken") or ""
            existing = self.ecs_backend.services.get(f"{cluster.name}:{self._get_param('serviceName')}")
            if existing is not None and existing.status == "ACTIVE":
                if token and getattr(existing, CLIENT_TOKEN, "") == token:
                    return ActionResult({"service": existing})  # a repeat: the service it made
                raise InvalidParameterException("Creation of service was not idempotent.")
            counts = (cluster.running_tasks_count, cluster.pending_tasks_count)
            result = original(self)
            service = result.result["service"]
            setattr(service, CLIENT_TOKEN, token)
            cluster.running_tasks_count, cluster.pending_tasks_count = counts  # no task runs yet
            service.running_count = service.pending_count = 0
            service.created_at = _utcnow()
            service.deployment_configuration = _merged_deployment_configuration(
                None, self._get_param("deploymentConfiguration")
            )
            service.placement_strategy = self._get_param("placementStrategy") or []
            service.placement_constraints = self._get_param("placementConstraints") or []
            # A capacity provider strategy, given or the cluster's default one (as ECS takes it when neither a
            # strategy nor a launch type is given): the service scheduler places through it (local/ecs/capacity.py).
            strategy = self._get_param("capacityProviderStrategy")
            if not strategy and not self._get_param("launchType"):
                strategy = cluster.default_capacity_provider_strategy or None
            if strategy:
                service.capacity_provider_strategy = strategy
                service.launch_type = ""
            service.deployments = []
            if service.task_definition and service.deployment_controller.get("type", "ECS") == "ECS":
                start_deployment(service, service.task_definition)
        return result

    return create_service


def _update_service(original: Callable) -> Callable:
    def update_service(self: Any) -> Any:
        import copy

        backend = self.ecs_backend
        with ECS_LOCK:
            cluster_str = self._get_param("cluster", "default")
            cluster = backend._get_cluster(cluster_str)
            service = backend._get_service(cluster_str, self._get_param("service", "").split("/")[-1])
            before = (
                service.running_count,
                service.pending_count,
                copy.deepcopy(service.deployments),
                service.task_definition,
                service.desired_count,
                copy.deepcopy(getattr(service, "deployment_configuration", None)),
            )
            counts = (cluster.running_tasks_count, cluster.pending_tasks_count)
            result = original(self)
            service.running_count, service.pending_count, service.deployments = before[:3]
            cluster.running_tasks_count, cluster.pending_tasks_count = counts
            given = self._get_param("deploymentConfiguration")
            if given is not None:
                service.deployment_configuration = _merged_deployment_configuration(before[5], given)
            if self._get_param("taskDefinition"):
                service.task_definition = backend.describe_task_definition(self._get_param("taskDefinition")).arn
            primary = next((d for d in service.deployments if d["status"] == "PRIMARY"), None)
            new_definition = service.task_definition != before[3]
            if service.task_definition and (new_definition or self._get_param("forceNewDeployment") or not primary):
                start_deployment(service, service.task_definition)
            elif primary is not None and service.desired_count != before[4]:
                primary["desiredCount"] = service.desired_count
                primary["updatedAt"] = _utcnow()
        return result

    return update_service


def _delete_service(original: Callable) -> Callable:
    def delete_service(self: Any) -> Any:
        with ECS_LOCK:
            cluster = self.ecs_backend._get_cluster(self._get_param("cluster", "default"))
            counts = (cluster.running_tasks_count, cluster.pending_tasks_count)
            result = original(self)
            cluster.running_tasks_count, cluster.pending_tasks_count = counts  # its tasks stop later
        return result

    return delete_service


def patch_ecs_service_deployments() -> None:
    """Services whose counts and deployments are ECS's, not made up (no moto issue filed).

    moto 5.2.5 starts no task for a service and fakes its counts instead: CreateService reports
    ``pendingCount = desiredCount``, UpdateService(desiredCount) ``runningCount = desiredCount``, and the cluster's
    counts follow. UpdateService(taskDefinition) only changes ``taskDefinition`` (as given: a family:revision
    stays one, not an ARN), with no new deployment, and ``forceNewDeployment`` renames the current one.
    CreateService drops ``deploymentConfiguration`` and ``placementStrategy``, and on the name of an active service
    replaces it (its tasks left running, uncounted) whatever its ``clientToken``.

    With this patch: counts start at 0 and only change with real tasks (local/ecs/simulation.py runs them); a new
    task definition or ``forceNewDeployment`` starts a new PRIMARY deployment (IN_PROGRESS) and demotes the
    previous one to ACTIVE, within the call; a new desired count goes to the PRIMARY deployment; the
    deployment configuration (circuit breaker included), placement strategy and capacity provider strategy (the
    cluster's default one when neither a strategy nor a launch type is given, as ECS does) are kept and described; a
    CreateService on the name of an active service answers with that service when its ``clientToken`` is the one
    that created it (a retry whose answer was lost), and InvalidParameterException "Creation of service was not
    idempotent." otherwise. (AWS also answers a repeat with the very same parameters and no token with the service.)
    """
    from moto.ecs.responses import EC2ContainerServiceResponse

    with patching.lock:
        if "ecs_service_deployments" in patching.undos:
            return
        patching.replace_method("ecs_create_service", EC2ContainerServiceResponse, "create_service", _create_service)
        patching.replace_method("ecs_update_service", EC2ContainerServiceResponse, "update_service", _update_service)
        patching.replace_method("ecs_delete_service", EC2ContainerServiceResponse, "delete_service", _delete_service)
        names = ("ecs_create_service", "ecs_update_service", "ecs_delete_service")
        undos = [patching.undos.pop(name) for name in names]

        def undo() -> None:
            for step in undos:
                step()

        patching.undos["ecs_service_deployments"] = undo


PATCHES: dict[str, Callable[[], None]] = {
    "ecs_total_resources": patch_ecs_total_resources,
    "ecs_task_status": patch_ecs_task_status,
    "ecs_task_start": patch_ecs_task_start,
    "ecs_run_task": patch_ecs_run_task,
    "ecs_stop_task": patch_ecs_stop_task,
    "ecs_list_tasks_service_name": patch_ecs_list_tasks_service_name,
    "ecs_service_deployments": patch_ecs_service_deployments,
}


def apply() -> None:
    """Apply every ECS patch (what the ECS simulation needs). Idempotent.

    Kept apart from :func:`local.moto_patches.apply`: they change what ECS calls return (tasks start PENDING,
    RunTask reports failures), so they are in force where the simulation runs — local mode, and the tests that
    create an :class:`local.ecs.agent.Agent` and undo them with :func:`revert`.
    """
    for patch in PATCHES.values():
        patch()


def revert() -> None:
    """Undo every ECS patch. Idempotent."""
    patching.revert(PATCHES)
