"""Fidelity patches for moto's Step Functions interpreter and ECS (moto pinned at 5.2.5).

Every patch here works around one moto bug that hits a Layer0 flow. Each is a small named function with an
undo, and each has a test in ``tests/unit/test_moto_patches.py`` that proves moto is *still* buggy without it:
the day that test fails, moto fixed the bug upstream and the patch can be deleted.

Permanent patches (local mode and tests), applied by :func:`apply`, idempotently:

- :func:`patch_task_parameter_casing`   aws-sdk/ECS parameter and response casing (moto #10076)
- :func:`patch_definite_json_path`      ``$.a[0].b`` yields ``b``, not ``[b]``
- :func:`patch_sdk_service_names`       ``aws-sdk:elasticloadbalancingv2`` -> boto ``elbv2`` (and ``elb``)
- :func:`patch_json_native_timestamps`  ``datetime`` in SDK results -> ISO strings (else describe_execution 500s)
- :func:`quiet_parser_logger`           the interpreter logs every failed state at WARNING/ERROR
- :func:`patch_elb_unknown_load_balancer` classic ELB calls on an unknown name: LoadBalancerNotFound, not a 500

ECS patches, applied by :func:`apply_ecs` (with the ECS agent simulation, local/agent.py) and undone by
:func:`revert_ecs`:

- :func:`patch_ecs_total_resources`     RegisterContainerInstance honours ``totalResources``
- :func:`patch_ecs_task_status`         a task's ``lastStatus`` no longer walks to STOPPED by itself
- :func:`patch_ecs_task_start`          new tasks are PENDING, with all their containers
- :func:`patch_ecs_run_task`            RunTask: unplaced copies in ``failures``, AWS's no-instance error, clientToken
- :func:`patch_ecs_stop_task`           StopTask of a stopped task releases nothing twice
- :func:`patch_ecs_list_tasks_service_name` ListTasks(serviceName) filters on the service
- :func:`patch_ecs_service_deployments` services: real counts, deployments, deploymentConfiguration

Tests only: :func:`make_waits_instant` (Wait states and Retry backoff sleep in real time), undone by
:func:`restore_real_waits` or by using its return value as a context manager.
"""

from __future__ import annotations

import datetime as _dt
import functools
import logging
import threading
import time as _real_time
from collections.abc import Callable
from typing import Any

__all__ = [
    "apply",
    "revert",
    "applied",
    "unpatched",
    "patch_task_parameter_casing",
    "patch_definite_json_path",
    "patch_sdk_service_names",
    "patch_json_native_timestamps",
    "quiet_parser_logger",
    "patch_elb_unknown_load_balancer",
    "apply_ecs",
    "revert_ecs",
    "ECS_LOCK",
    "patch_ecs_total_resources",
    "patch_ecs_task_status",
    "patch_ecs_task_start",
    "patch_ecs_run_task",
    "patch_ecs_stop_task",
    "patch_ecs_list_tasks_service_name",
    "patch_ecs_service_deployments",
    "placement_failure",
    "run_task_placing",
    "finish_stopped_task",
    "start_deployment",
    "make_waits_instant",
    "restore_real_waits",
    "waits_are_instant",
    "InstantWaits",
]

_PARSER = "moto.stepfunctions.parser"
_TASK_SERVICE_MODULE = f"{_PARSER}.asl.component.state.exec.state_task.service.state_task_service"
_JSON_PATH_MODULE = f"{_PARSER}.asl.utils.json_path"
_WAIT_FUNCTION_MODULE = f"{_PARSER}.asl.component.state.wait.wait_function.wait_function"
_RETRIER_MODULE = f"{_PARSER}.asl.component.common.retry.retrier_decl"

_lock = threading.RLock()
# patch name -> undo callable, for the patches currently in force.
_undo: dict[str, Callable[[], None]] = {}


def _import(module: str) -> Any:
    import importlib

    return importlib.import_module(module)


# --------------------------------------------------------------------------------------------------------------
# a. Parameter and response casing of service integrations (moto #10076)
# --------------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _operation_model(boto_service_name: str, boto_action: str) -> Any:
    """The botocore OperationModel for ``(service, snake_case_action)``, or None when unknown."""
    import botocore.session
    from botocore import xform_name

    from moto.stepfunctions.parser.utils import camel_to_snake_case

    try:
        service_model = botocore.session.get_session().get_service_model(boto_service_name)
    except Exception:  # UnknownServiceError and friends: leave the parameters as they are
        return None
    for operation_name in service_model.operation_names:
        if boto_action in (xform_name(operation_name), camel_to_snake_case(operation_name)):
            return service_model.operation_model(operation_name)
    return None


def _operation_of(self: Any, boto_service_name: str | None, service_action_name: str | None) -> Any:
    """The botocore operation model of the task this service integration runs."""
    return _operation_model(
        self._get_boto_service_name(boto_service_name=boto_service_name),
        self._get_boto_service_action(service_action_name=service_action_name),
    )


def _normalise_parameters(
    self: Any,
    parameters: dict,
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    """ASL parameters (``Cluster``, ``Clusters``) -> the botocore request members (``cluster``, ``clusters``)."""
    operation = _operation_of(self, boto_service_name, service_action_name)
    if operation is not None and operation.input_shape is not None:
        self._to_boto_request(parameters, operation.input_shape)


def _normalise_response(
    self: Any,
    response: Any,
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    """botocore response members (``clusters[].status``) -> Step Functions casing (``Clusters[].Status``)."""
    operation = _operation_of(self, boto_service_name, service_action_name)
    if operation is not None and operation.output_shape is not None:
        self._from_boto_response(response, operation.output_shape)


def patch_task_parameter_casing() -> None:
    """Restore request/response normalisation of Task service integrations (moto issue #10076, open).

    ASL writes the parameters of ``aws-sdk:*`` and ``ecs:*`` tasks in PascalCase (``"Cluster"``) and real Step
    Functions returns responses in PascalCase (``Clusters[0].Status``). moto 5.2.5 reduced
    ``StateTaskService._normalise_parameters`` and ``_normalise_response`` to ``pass``, so the PascalCase names
    reach boto (``KeyError``/``States.Runtime``, or a request boto silently ignores) and responses come back
    camelCase (moto's own ``ecs:runTask`` then fails on ``response["Tasks"]``). The class still has LocalStack's
    ``_to_boto_request(parameters, shape)`` and ``_from_boto_response(response, shape)``; this calls them with
    the botocore operation model's input and output shapes, which is what LocalStack does.
    """
    name = "task_parameter_casing"
    with _lock:
        if name in _undo:
            return
        cls = _import(_TASK_SERVICE_MODULE).StateTaskService
        original_parameters = cls.__dict__["_normalise_parameters"]
        original_response = cls.__dict__["_normalise_response"]
        cls._normalise_parameters = _normalise_parameters
        cls._normalise_response = _normalise_response

        def undo() -> None:
            cls._normalise_parameters = original_parameters
            cls._normalise_response = original_response

        _undo[name] = undo


# --------------------------------------------------------------------------------------------------------------
# b. JSONPath on definite paths
# --------------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=2048)
def _parsed_definite_path(path: str) -> Any:
    """The parsed JSONPath when ``path`` is definite (names and single indexes only), else None."""
    from jsonpath_ng.ext import parse
    from jsonpath_ng.jsonpath import Child, Fields, Index, Root, This

    try:
        expr = parse(path)
    except Exception:
        return None

    def definite(node: Any) -> bool:
        if isinstance(node, (Root, This)):
            return True
        if isinstance(node, Child):
            return definite(node.left) and definite(node.right)
        if type(node) is Fields:
            return len(node.fields) == 1 and node.fields[0] != "*"
        if type(node) is Index:
            return len(node.indices) == 1
        return False  # Wildcard, Slice, Descendants, Filter, Union, ...

    return expr if definite(expr) else None


def _make_extract_json(original: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    def extract_json(path: str, data: Any) -> Any:
        """moto's ``extract_json``, except that a definite path with a match yields the matched value itself."""
        expr = _parsed_definite_path(path)
        if expr is not None:
            matches = expr.find(data)
            if len(matches) == 1:
                return matches[0].value
        return original(path, data)

    extract_json.__wrapped__ = original  # type: ignore[attr-defined]
    return extract_json


def patch_definite_json_path() -> None:
    """Make ``$.a[0].b`` yield the scalar ``b``, as real Step Functions does, not ``[b]``.

    moto's ``extract_json`` (``moto/stepfunctions/parser/asl/utils/json_path.py``) wraps the result in a list
    whenever the parent of the match is an array index: that fixes ``$.a[*].b`` on a one-item array (moto
    #7825) but breaks every *definite* path through an index. A Choice on ``$.x.Clusters[0].Status`` then
    compares ``["ACTIVE"]`` with ``"ACTIVE"`` and never matches, so a Wait/describe/Choice loop spins forever.
    The fix: a path made only of names and single indexes yields its one match as is; any other path
    (wildcards, slices, filters, ``..``) keeps moto's behaviour. ``extract_json`` is imported by name in
    several modules, so every module-level reference to the original is replaced.
    """
    name = "definite_json_path"
    with _lock:
        if name in _undo:
            return
        json_path = _import(_JSON_PATH_MODULE)
        original = json_path.extract_json
        patched = _make_extract_json(original)
        json_path.extract_json = patched
        _replace_references(original, patched, "extract_json")

        def undo() -> None:
            json_path.extract_json = original
            _replace_references(patched, original, "extract_json")  # modules imported meanwhile included

        _undo[name] = undo


def _replace_references(original: Any, patched: Any, attribute: str) -> None:
    """Rebind ``module.<attribute>`` from ``original`` to ``patched`` in every loaded moto parser module.

    The parser's modules are imported first so that the result does not depend on import order; modules
    imported later pick the patched function from ``json_path`` itself.
    """
    import sys

    _import(f"{_PARSER}.asl.parse.asl_parser")  # pulls in every component module
    for module_name, module in list(sys.modules.items()):
        if module is None or not module_name.startswith(_PARSER):
            continue
        if getattr(module, attribute, None) is original:
            setattr(module, attribute, patched)


# --------------------------------------------------------------------------------------------------------------
# c. Service names of aws-sdk integrations
# --------------------------------------------------------------------------------------------------------------

_SERVICE_NAME_OVERRIDES = {
    "elasticloadbalancingv2": "elbv2",
    "elasticloadbalancing": "elb",
}


def patch_sdk_service_names() -> None:
    """Map the Step Functions SDK service names of the load balancer APIs to boto's.

    ``arn:aws:states:::aws-sdk:elasticloadbalancingv2:describeLoadBalancers`` fails with "Unknown service:
    'elasticloadbalancingv2'" in moto 5.2.5 (no issue filed), because the name goes to ``boto3.client``
    unchanged. Real Step Functions names the APIs after their SDK ids; boto calls them ``elbv2`` and ``elb``.
    Adds both to ``StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES``.
    """
    name = "sdk_service_names"
    with _lock:
        if name in _undo:
            return
        overrides = _import(_TASK_SERVICE_MODULE).StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES
        added = {k: v for k, v in _SERVICE_NAME_OVERRIDES.items() if k not in overrides}
        overrides.update(added)

        def undo() -> None:
            for key in added:
                overrides.pop(key, None)

        _undo[name] = undo


# --------------------------------------------------------------------------------------------------------------
# e. Timestamps in service integration results
# --------------------------------------------------------------------------------------------------------------


def _iso_timestamp(value: _dt.date) -> str:
    """A timestamp as real Step Functions renders it in SDK results: ``2013-08-23T01:02:15.422Z``."""
    if not isinstance(value, _dt.datetime):
        return value.isoformat()
    if value.tzinfo is not None:
        value = value.astimezone(_dt.timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _json_native(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _json_native(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_native(item) for item in value]
    if isinstance(value, _dt.date):
        return _iso_timestamp(value)
    return value


def patch_json_native_timestamps() -> None:
    """Turn ``datetime`` values in service integration results into ISO-8601 strings (no moto issue filed).

    moto hands the boto response of an ``aws-sdk:*``/``ecs:*`` task to the state machine as is, ``datetime``
    objects included (``elbv2:describeLoadBalancers`` ``CreatedTime``, ECS ``createdAt``...). When one reaches
    the execution's output, ``describe_execution`` raises ``TypeError: Object of type datetime is not JSON
    serializable`` (moto/stepfunctions/responses.py does a plain ``json.dumps``): the caller gets a 500 and the
    execution can no longer be described. Real Step Functions works on JSON only and renders SDK timestamps as
    strings like ``"2013-08-23T01:02:15.422Z"``; this converts the task's result the same way, right after
    ``StateTaskService._eval_execution``, before ResultSelector/ResultPath see it.
    """
    name = "json_native_timestamps"
    with _lock:
        if name in _undo:
            return
        cls = _import(_TASK_SERVICE_MODULE).StateTaskService
        original = cls.__dict__["_eval_execution"]

        @functools.wraps(original)
        def _eval_execution(self: Any, env: Any) -> None:
            original(self, env)
            if env.stack:
                env.stack[-1] = _json_native(env.stack[-1])

        cls._eval_execution = _eval_execution

        def undo() -> None:
            cls._eval_execution = original

        _undo[name] = undo


# --------------------------------------------------------------------------------------------------------------
# The parser's logger
# --------------------------------------------------------------------------------------------------------------


def quiet_parser_logger(level: int = logging.CRITICAL) -> None:
    """Silence ``moto.stepfunctions.parser``, which logs every failed or caught state, at every level of nesting.

    Not a bug fix: a Catch-handled error is normal flow for Layer0's workflows, and the execution history
    (``get_execution_history``) already holds every error and cause.
    """
    name = "quiet_parser_logger"
    with _lock:
        if name in _undo:
            return
        logger = logging.getLogger(_PARSER)
        previous = logger.level
        logger.setLevel(level)

        def undo() -> None:
            logger.setLevel(previous)

        _undo[name] = undo


# --------------------------------------------------------------------------------------------------------------
# e2. Classic ELB
# --------------------------------------------------------------------------------------------------------------


def _get_load_balancer_or_raise(original: Callable) -> Callable:
    def get_load_balancer(self: Any, load_balancer_name: str) -> Any:
        found = original(self, load_balancer_name)
        if found is None:
            from moto.elb.exceptions import LoadBalancerNotFoundError

            raise LoadBalancerNotFoundError(load_balancer_name)
        return found

    return get_load_balancer


def patch_elb_unknown_load_balancer() -> None:
    """ModifyLoadBalancerAttributes, ConfigureHealthCheck, DeleteLoadBalancerListeners and
    DescribeLoadBalancerAttributes on a name moto does not know dereference None (a 500), and
    CreateLoadBalancerListeners silently succeeds; AWS answers LoadBalancerNotFound to each."""
    with _lock:
        if "elb_unknown_load_balancer" in _undo:
            return
        backend = _import("moto.elb.models").ELBBackend
        _replace_method("elb_unknown_load_balancer", backend, "get_load_balancer", _get_load_balancer_or_raise)


# --------------------------------------------------------------------------------------------------------------
# f. ECS (applied with the ECS agent simulation, by apply_ecs(); undone by revert_ecs())
# --------------------------------------------------------------------------------------------------------------

# The ECS simulation (local/ecs_simulation.py) and the patched ECS calls below change the same moto objects from
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
_TASK_MODEL = "ecs::task"


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


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


def _replace_method(name: str, cls: Any, attribute: str, replacement: Callable) -> None:
    """Install ``replacement`` as ``cls.attribute`` under patch ``name``, with its undo. Call under ``_lock``."""
    original = cls.__dict__[attribute]
    setattr(cls, attribute, replacement(original))

    def undo() -> None:
        setattr(cls, attribute, original)

    _undo[name] = undo


def patch_ecs_total_resources() -> None:
    """Make RegisterContainerInstance use the request's ``totalResources`` (no moto issue filed).

    moto 5.2.5 reads only ``instanceId`` and gives every container instance 4096 CPU units and 7482 MiB, whatever
    its instance type; placement (``run_task``) then uses those, so a t3.medium holds twice what it does on AWS.
    Without ``totalResources`` this behaves as moto does.
    """
    from moto.ecs.responses import EC2ContainerServiceResponse

    with _lock:
        if "ecs_total_resources" not in _undo:
            _replace_method(
                "ecs_total_resources",
                EC2ContainerServiceResponse,
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

    with _lock:
        if "ecs_task_status" in _undo:
            return
        state_manager.set_transition(_TASK_MODEL, {"progression": "manual", "times": 2**62})
        _undo["ecs_task_status"] = lambda: state_manager.unset_transition(_TASK_MODEL)


def _container(task: Any, definition: dict) -> dict:
    """A task's container as DescribeTasks shows it on AWS, before it starts."""
    import uuid

    task_arn = task.task_arn
    container = {
        "containerArn": task_arn.replace(":task/", ":container/", 1).rsplit("/", 1)[0]
        + f"/{task.id}/{uuid.uuid4()}",
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
    from moto.ecs.models import Task

    with _lock:
        if "ecs_task_start" not in _undo:
            _replace_method("ecs_task_start", Task, "__init__", _task_init)


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
    try:
        tasks = backend.run_task(cluster_name, task_definition, count, **arguments)
    except Exception as error:
        if str(error).startswith("No instances found in cluster"):
            raise InvalidParameterException(NO_CONTAINER_INSTANCES) from None
        raise
    failures = []
    if len(tasks) < count:
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
    from moto.ecs.responses import EC2ContainerServiceResponse

    with _lock:
        if "ecs_run_task" not in _undo:
            _replace_method("ecs_run_task", EC2ContainerServiceResponse, "run_task", _run_task)


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
    from moto.ecs.responses import EC2ContainerServiceResponse

    with _lock:
        if "ecs_stop_task" not in _undo:
            _replace_method("ecs_stop_task", EC2ContainerServiceResponse, "stop_task", _stop_task)


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
    from moto.ecs.responses import EC2ContainerServiceResponse

    with _lock:
        if "ecs_list_tasks_service_name" not in _undo:
            _replace_method("ecs_list_tasks_service_name", EC2ContainerServiceResponse, "list_tasks", _list_tasks)


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
        with ECS_LOCK:
            cluster = self.ecs_backend._get_cluster(self._get_param("cluster", "default"))
            counts = (cluster.running_tasks_count, cluster.pending_tasks_count)
            result = original(self)
            service = result.result["service"]
            cluster.running_tasks_count, cluster.pending_tasks_count = counts  # no task runs yet
            service.running_count = service.pending_count = 0
            service.created_at = _utcnow()
            service.deployment_configuration = _merged_deployment_configuration(
                None, self._get_param("deploymentConfiguration")
            )
            service.placement_strategy = self._get_param("placementStrategy") or []
            service.placement_constraints = self._get_param("placementConstraints") or []
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
    CreateService drops ``deploymentConfiguration`` and ``placementStrategy``.

    With this patch: counts start at 0 and only change with real tasks (local/ecs_simulation.py runs them); a new
    task definition or ``forceNewDeployment`` starts a new PRIMARY deployment (IN_PROGRESS) and demotes the
    previous one to ACTIVE, within the call; a new desired count goes to the PRIMARY deployment; the
    deployment configuration (circuit breaker included) and placement strategy are kept and described.
    """
    from moto.ecs.responses import EC2ContainerServiceResponse

    with _lock:
        if "ecs_service_deployments" in _undo:
            return
        _replace_method("ecs_create_service", EC2ContainerServiceResponse, "create_service", _create_service)
        _replace_method("ecs_update_service", EC2ContainerServiceResponse, "update_service", _update_service)
        _replace_method("ecs_delete_service", EC2ContainerServiceResponse, "delete_service", _delete_service)
        undos = [_undo.pop(name) for name in ("ecs_create_service", "ecs_update_service", "ecs_delete_service")]

        def undo() -> None:
            for step in undos:
                step()

        _undo["ecs_service_deployments"] = undo


_ECS: dict[str, Callable[[], None]] = {
    "ecs_total_resources": patch_ecs_total_resources,
    "ecs_task_status": patch_ecs_task_status,
    "ecs_task_start": patch_ecs_task_start,
    "ecs_run_task": patch_ecs_run_task,
    "ecs_stop_task": patch_ecs_stop_task,
    "ecs_list_tasks_service_name": patch_ecs_list_tasks_service_name,
    "ecs_service_deployments": patch_ecs_service_deployments,
}


def apply_ecs() -> None:
    """Apply every ECS patch (what the ECS simulation needs). Idempotent.

    Kept apart from :func:`apply`: they change what ECS calls return (tasks start PENDING, RunTask reports
    failures), so they are in force where the simulation runs — local mode, and the tests that create an
    :class:`local.agent.Agent` and undo them with :func:`revert_ecs`.
    """
    for patch in _ECS.values():
        patch()


def revert_ecs() -> None:
    """Undo every ECS patch. Idempotent."""
    revert(*_ECS)


# --------------------------------------------------------------------------------------------------------------
# apply / revert
# --------------------------------------------------------------------------------------------------------------

_PERMANENT: dict[str, Callable[[], None]] = {
    "task_parameter_casing": patch_task_parameter_casing,
    "definite_json_path": patch_definite_json_path,
    "sdk_service_names": patch_sdk_service_names,
    "json_native_timestamps": patch_json_native_timestamps,
    "quiet_parser_logger": quiet_parser_logger,
    "elb_unknown_load_balancer": patch_elb_unknown_load_balancer,
}


def apply() -> None:
    """Apply every permanent patch. Idempotent; call it before the first execution starts.

    The patches act on classes and module functions, not on state machines, so state machines created before
    ``apply()`` are patched too; only an execution already running keeps what it started with.
    """
    for patch in _PERMANENT.values():
        patch()


def revert(*names: str) -> None:
    """Undo the named patches (all permanent ones when none is named). For tests; idempotent."""
    with _lock:
        for name in names or tuple(_PERMANENT):
            undo = _undo.pop(name, None)
            if undo is not None:
                undo()


def applied() -> frozenset[str]:
    """The names of the patches currently in force (including ``instant_waits``)."""
    with _lock:
        return frozenset(_undo)


class unpatched:
    """Context manager that undoes one permanent patch and re-applies it on exit, if it was applied.

    Used by the tests that prove moto is still buggy without the patch.
    """

    def __init__(self, name: str):
        if name not in _PERMANENT and name not in _ECS:
            raise KeyError(f"unknown patch {name!r}; known: {sorted(_PERMANENT) + sorted(_ECS)}")
        self.name = name
        self._was_applied = False

    def __enter__(self) -> unpatched:
        self._was_applied = self.name in applied()
        revert(self.name)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._was_applied:
            (_PERMANENT.get(self.name) or _ECS[self.name])()


# --------------------------------------------------------------------------------------------------------------
# d. Tests only: Wait states and Retry backoff without real time
# --------------------------------------------------------------------------------------------------------------


class InstantWaits:
    """Returned by :func:`make_waits_instant`. A context manager whose exit restores real waits.

    ``requested`` records what was skipped, as ``("wait", seconds)`` and ``("retry", seconds)`` tuples, so a
    test can check that a Wait or a backoff happened without measuring time.
    """

    def __init__(self) -> None:
        self.requested: list[tuple[str, float]] = []
        self._lock = threading.Lock()

    def record(self, kind: str, seconds: float) -> None:
        with self._lock:
            self.requested.append((kind, seconds))

    def __enter__(self) -> InstantWaits:
        return self

    def __exit__(self, *exc: object) -> None:
        restore_real_waits()


class _TimeWithoutSleep:
    """Stands in for the ``time`` module inside ``retrier_decl``: everything real, except ``sleep``."""

    def __init__(self, waits: InstantWaits):
        self._waits = waits

    def sleep(self, seconds: float) -> None:
        self._waits.record("retry", seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(_real_time, name)


_instant: InstantWaits | None = None


def make_waits_instant() -> InstantWaits:
    """Tests only: make Wait states and Retry backoff return at once instead of sleeping in real time.

    moto runs ``Wait`` (``WaitFunction._wait_interval``, which blocks on an event for the full duration) and
    the Retry backoff (``time.sleep(interval)`` in ``retrier_decl.py``) in real time, so a workflow that waits
    an hour takes an hour. Not a moto bug: real Step Functions does the same. Never use this in local mode.

    Idempotent: a second call returns the object already in force. Undo with :func:`restore_real_waits`, or
    ``with make_waits_instant(): ...``.
    """
    global _instant
    with _lock:
        if _instant is not None:
            return _instant
        waits = InstantWaits()
        wait_function_cls = _import(_WAIT_FUNCTION_MODULE).WaitFunction
        retrier = _import(_RETRIER_MODULE)
        original_wait_interval = wait_function_cls.__dict__["_wait_interval"]
        original_time = retrier.time

        def _wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
            waits.record("wait", wait_seconds)

        wait_function_cls._wait_interval = _wait_interval
        retrier.time = _TimeWithoutSleep(waits)

        def undo() -> None:
            wait_function_cls._wait_interval = original_wait_interval
            retrier.time = original_time

        _undo["instant_waits"] = undo
        _instant = waits
        return waits


def restore_real_waits() -> None:
    """Undo :func:`make_waits_instant`. Idempotent."""
    global _instant
    with _lock:
        undo = _undo.pop("instant_waits", None)
        if undo is not None:
            undo()
        _instant = None


def waits_are_instant() -> bool:
    """Whether :func:`make_waits_instant` is in force."""
    return _instant is not None
