"""The moto fidelity patches (moto pinned at 5.2.5): the entry point that applies them, and the ones that belong
to no other module.

Every patch works around one moto bug that hits a Layer0 flow. Each is a small named function with an undo
(local/patching.py), and each has a test in ``tests/unit/test_moto_patches.py`` that proves moto is *still*
buggy without it: the day that test fails, moto fixed the bug upstream and the patch can be deleted.

Permanent patches (local mode and tests), applied by :func:`apply`, idempotently:

- local/stepfunctions.py, moto's Step Functions interpreter:

  - ``patch_task_parameter_casing``   aws-sdk/ECS parameter and response casing (moto #10076)
  - ``patch_definite_json_path``      ``$.a[0].b`` yields ``b``, not ``[b]``
  - ``patch_sdk_service_names``       ``aws-sdk:elasticloadbalancingv2`` -> boto ``elbv2`` (and ``elb``)
  - ``patch_json_native_timestamps``  ``datetime`` in SDK results -> ISO strings (else describe_execution 500s)
  - ``quiet_parser_logger``           the interpreter logs every failed state at WARNING/ERROR

- here, the other services:

  - :func:`patch_elb_unknown_load_balancer` classic ELB calls on an unknown name: LoadBalancerNotFound, not a 500
  - :func:`patch_elb_dns_name_region`       classic ELB DNS names name the backend's region, not ``us-east-1``
  - :func:`patch_autoscaling_already_exists` CreateAutoScalingGroup on a taken name: AlreadyExists, not a new group
  - :func:`patch_autoscaling_force_delete` DeleteAutoScalingGroup terminates instances protected from scale-in too
  - :func:`patch_elbv2_idempotent_creates`  ALB, target group, listener creates repeated: the one made, as on AWS
  - :func:`patch_ec2_delete_unknown_launch_template` DeleteLaunchTemplate of an unknown name: NotFound
  - :func:`patch_list_clusters_active`   ListClusters leaves deleted (INACTIVE) clusters out
  - :func:`patch_list_services_live`     ListServices leaves deleted (INACTIVE) services out
  - :func:`patch_list_task_definition_families_status` ListTaskDefinitionFamilies honours ``status``
  - :func:`patch_dynamodb_query_one_partition` a Query reads its partition, not every item of the table
  - :func:`patch_dynamodb_top_level_projection` a projection of top-level names picks them, without a round trip

ECS patches (local/ecs/patches.py), applied by :func:`apply_ecs` (with the ECS simulation: an
:class:`local.ecs.agent.Agent` applies them when created) and undone by :func:`revert_ecs`:
``patch_ecs_total_resources``, ``patch_ecs_task_status``, ``patch_ecs_task_start``, ``patch_ecs_run_task``,
``patch_ecs_stop_task``, ``patch_ecs_list_tasks_service_name``, ``patch_ecs_service_deployments``.

:func:`revert`, :func:`applied` and :class:`unpatched` work on all of them, by name.

Tests only, in local/testing.py: ``make_waits_instant`` (Wait states and Retry backoff sleep in real time),
undone by ``restore_real_waits`` or by using its return value as a context manager.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

from local import patching, stepfunctions
from local.ecs import patches as ecs_patches
from local.ecs.patches import apply as apply_ecs
from local.ecs.patches import revert as revert_ecs
from local.patching import applied

__all__ = [
    "apply",
    "revert",
    "applied",
    "unpatched",
    "apply_ecs",
    "revert_ecs",
    "patch_elb_unknown_load_balancer",
    "patch_elb_dns_name_region",
    "patch_autoscaling_already_exists",
    "patch_autoscaling_force_delete",
    "patch_elbv2_idempotent_creates",
    "patch_ec2_delete_unknown_launch_template",
    "patch_list_clusters_active",
    "patch_list_services_live",
    "patch_list_task_definition_families_status",
    "patch_dynamodb_query_one_partition",
    "patch_dynamodb_top_level_projection",
]


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
    patching.install(
        "elb_unknown_load_balancer", "moto.elb.models", "ELBBackend", "get_load_balancer", _get_load_balancer_or_raise
    )


def _create_load_balancer_in_region(original: Callable) -> Callable:
    def create_load_balancer(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        balancer = original(self, name, *args, **kwargs)
        balancer.dns_name = f"{name}.{self.region_name}.elb.amazonaws.com"
        return balancer

    return create_load_balancer


def patch_elb_dns_name_region() -> None:
    """A classic load balancer's DNS name is ``<name>.us-east-1.elb.amazonaws.com`` in moto whatever the region
    (``FakeLoadBalancer`` hard-codes it); AWS names the load balancer's region (``...<region>.elb.amazonaws.com``),
    and Layer0 shows the name to users (``GET /loadbalancer``'s ``url``)."""
    patching.install(
        "elb_dns_name_region", "moto.elb.models", "ELBBackend", "create_load_balancer", _create_load_balancer_in_region
    )


def _create_load_balancer_once(original: Callable) -> Callable:
    def create_load_balancer(self: Any, **kwargs: Any) -> Any:
        for balancer in self.load_balancers.values():
            if balancer.name == kwargs["name"]:
                same = (balancer.scheme, balancer.type) == (
                    kwargs.get("scheme") or "internet-facing",
                    kwargs.get("loadbalancer_type") or "application",
                )
                if not same:
                    from moto.elbv2.exceptions import DuplicateLoadBalancerName

                    raise DuplicateLoadBalancerName()
                return balancer
        return original(self, **kwargs)

    return create_load_balancer


def _create_listener_once(original: Callable) -> Callable:
    def create_listener(self: Any, **kwargs: Any) -> Any:
        balancer = self.load_balancers.get(kwargs["load_balancer_arn"])
        for listener in balancer.listeners.values() if balancer is not None else ():
            if int(listener.port) == int(kwargs["port"]):
                if listener.protocol != kwargs["protocol"]:
                    from moto.elbv2.exceptions import DuplicateListenerError

                    raise DuplicateListenerError()
                return listener
        return original(self, **kwargs)

    return create_listener


def _create_target_group_once(original: Callable) -> Callable:
    def create_target_group(self: Any, name: str, **kwargs: Any) -> Any:
        for group in self.target_groups.values():
            if group.name == name:
                wanted = (kwargs.get("protocol"), str(kwargs.get("port")), kwargs.get("vpc_id"))
                if (group.protocol, str(group.port), group.vpc_id) == wanted:
                    return group
                break  # moto's own DuplicateTargetGroupName
        return original(self, name, **kwargs)

    return create_target_group


def patch_elbv2_idempotent_creates() -> None:
    """CreateLoadBalancer, CreateTargetGroup and CreateListener are idempotent on AWS: a repeat with the same
    settings answers with what the first call made, different settings get DuplicateLoadBalancerName /
    DuplicateTargetGroupName / DuplicateListener. moto 5.2.5 makes a second load balancer of the same name (its
    duplicate check compares ARNs, which carry a random id) and a second listener on the same port (it looks the
    port up among listener ARNs), and answers any repeated target group name with DuplicateTargetGroupName. A
    retried create (its first answer lost) then made two, or failed."""
    with patching.lock:
        if "elbv2_idempotent_creates" in patching.undos:
            return
        backend = patching.import_module("moto.elbv2.models").ELBv2Backend
        patching.replace_method(
            "elbv2_create_load_balancer", backend, "create_load_balancer", _create_load_balancer_once
        )
        patching.replace_method("elbv2_create_listener", backend, "create_listener", _create_listener_once)
        patching.replace_method("elbv2_create_target_group", backend, "create_target_group", _create_target_group_once)
        names = ("elbv2_create_load_balancer", "elbv2_create_listener", "elbv2_create_target_group")
        undos = [patching.undos.pop(name) for name in names]

        def undo() -> None:
            for step in undos:
                step()

        patching.undos["elbv2_idempotent_creates"] = undo


# --------------------------------------------------------------------------------------------------------------
# e3. Auto Scaling
# --------------------------------------------------------------------------------------------------------------


def _create_auto_scaling_group_once(original: Callable) -> Callable:
    def create_auto_scaling_group(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        if name in self.autoscaling_groups:
            from moto.autoscaling.exceptions import AutoscalingClientError

            message = f"AutoScalingGroup by this name already exists - A group with the name {name} already exists"
            raise AutoscalingClientError("AlreadyExists", message)
        return original(self, name, *args, **kwargs)

    return create_auto_scaling_group


def patch_autoscaling_already_exists() -> None:
    """CreateAutoScalingGroup on the name of an existing group replaces the group in moto (its instances left
    running, in no group); AWS answers AlreadyExists. A retried create (its first answer lost) must see what AWS
    says, so that Layer0 takes the group as made, and make no second one."""
    patching.install(
        "autoscaling_already_exists",
        "moto.autoscaling.models",
        "AutoScalingBackend",
        "create_auto_scaling_group",
        _create_auto_scaling_group_once,
    )


def _delete_auto_scaling_group_forced(original: Callable) -> Callable:
    def delete_auto_scaling_group(self: Any, group_name: str) -> None:
        group = self.autoscaling_groups.get(group_name)
        for state in getattr(group, "instance_states", []):
            state.protected_from_scale_in = False  # ForceDelete terminates them all, protected or not
        return original(self, group_name)

    return delete_auto_scaling_group


def patch_autoscaling_force_delete() -> None:
    """DeleteAutoScalingGroup (Layer0 always passes ForceDelete) terminates every instance of the group, as AWS
    does. moto ignores ForceDelete and scales the group to 0 first, which leaves the instances protected from
    scale-in running, in no group: a managed-scaling environment (its busy instances are protected) would never
    lose them, and the delete-environment job would wait for them in vain."""
    patching.install(
        "autoscaling_force_delete",
        "moto.autoscaling.models",
        "AutoScalingBackend",
        "delete_auto_scaling_group",
        _delete_auto_scaling_group_forced,
    )


# --------------------------------------------------------------------------------------------------------------
# e4. EC2 launch templates
# --------------------------------------------------------------------------------------------------------------


def _delete_launch_template_or_not_found(original: Callable) -> Callable:
    def delete_launch_template(self: Any, name: str, tid: str | None) -> Any:
        if name and not tid and name not in self.launch_template_name_to_ids:
            from moto.ec2.exceptions import InvalidLaunchTemplateNameNotFoundError

            raise InvalidLaunchTemplateNameNotFoundError()
        return original(self, name, tid)

    return delete_launch_template


def patch_ec2_delete_unknown_launch_template() -> None:
    """DeleteLaunchTemplate of a name that does not exist answers MissingParameter ("must contain the parameter
    launch template ID or launch template name") in moto; AWS answers InvalidLaunchTemplateName.NotFoundException,
    which the environment delete step takes as done. A delete retried after its answer was lost hits this."""
    patching.install(
        "ec2_delete_unknown_launch_template",
        "moto.ec2.models.launch_templates",
        "LaunchTemplateBackend",
        "delete_launch_template",
        _delete_launch_template_or_not_found,
    )


# --------------------------------------------------------------------------------------------------------------
# e6. ECS history: what was deleted stops costing list calls (docs/architecture.md#local-mode)
# --------------------------------------------------------------------------------------------------------------


def _list_active_clusters(original: Callable) -> Callable:
    def list_clusters(self: Any) -> list[str]:
        return [cluster.arn for cluster in self.clusters.values() if cluster.status != "INACTIVE"]

    return list_clusters


def patch_list_clusters_active() -> None:
    """ListClusters leaves deleted (INACTIVE) clusters out. moto lists every cluster ever made, so each deleted
    environment costs the List routes calls for good; on AWS an INACTIVE cluster drops out of ListClusters after a
    while (here at once). DescribeClusters still answers INACTIVE for it, as on AWS."""
    patching.install(
        "list_clusters_active", "moto.ecs.models", "EC2ContainerServiceBackend", "list_clusters", _list_active_clusters
    )


def _list_live_services(original: Callable) -> Callable:
    def list_services(self: Any, *args: Any, **kwargs: Any) -> list[str]:
        deleted = {service.arn for service in self.services.values() if service.status == "INACTIVE"}
        return [arn for arn in original(self, *args, **kwargs) if arn not in deleted]

    return list_services


def patch_list_services_live() -> None:
    """ListServices leaves deleted (INACTIVE) services out, as ECS does; moto lists them, so each deleted service
    costs `GET /service` a DescribeServices to tell it apart."""
    patching.install(
        "list_services_live", "moto.ecs.models", "EC2ContainerServiceBackend", "list_services", _list_live_services
    )


def _list_task_definition_families_by_status(original: Callable) -> Callable:
    def list_task_definition_families(self: Any) -> Any:
        from moto.core.responses import ActionResult

        result = original(self)
        status = (self._get_param("status") or "ALL").upper()
        if status == "ALL":
            return result
        definitions = self.ecs_backend.task_definitions

        def active(family: str) -> bool:
            return any(definition.status == "ACTIVE" for definition in definitions.get(family, {}).values())

        families = [family for family in result.result["families"] if active(family) == (status == "ACTIVE")]
        return ActionResult({"families": families})

    return list_task_definition_families


def patch_list_task_definition_families_status() -> None:
    """ListTaskDefinitionFamilies honours `status`: ACTIVE lists the families with an ACTIVE revision, INACTIVE
    those with none, as on AWS. moto ignores it and lists every family ever registered, so each deleted deploy
    costs `GET /deploy` a ListTaskDefinitions for good."""
    from moto.ecs.responses import EC2ContainerServiceResponse

    with patching.lock:
        if "list_task_definition_families_status" in patching.undos:
            return
        patching.replace_method(
            "list_task_definition_families_status",
            EC2ContainerServiceResponse,
            "list_task_definition_families",
            _list_task_definition_families_by_status,
        )


# --------------------------------------------------------------------------------------------------------------
# e7. DynamoDB: a Query reads its partition, not the table (docs/architecture.md#local-mode)
# --------------------------------------------------------------------------------------------------------------

# The table and partition key of the Query this thread is running, if any (moto's server runs a thread per request).
_query_partition = threading.local()


def _query_within_partition(original: Callable) -> Callable:
    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name or hash_key is None:
            return original(self, hash_key, *args, **kwargs)
        _query_partition.scope = (self, hash_key)
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            _query_partition.scope = None

    return query


def _all_items_of_the_queried_partition(original: Callable) -> Callable:
    def all_items(self: Any) -> list[Any]:
        scope: tuple[Any, Any] | None = getattr(_query_partition, "scope", None)
        if scope is None or scope[0] is not self:
            return original(self)
        hash_key = scope[1]
        partition = self.items.get(hash_key)  # .get: `items` is a defaultdict, a lookup must not add a partition
        if partition is None:
            return []
        if not self.range_key_attr:
            return [partition]
        # In range-key order, as DynamoDB keeps a partition: the Query's own sort (by `DynamoType`s, which convert
        # their value at every comparison) then finds them in order. The order is moto's: its keys' `cast_value`.
        return sorted(partition.values(), key=lambda item: item.range_key.cast_value)

    return all_items


def patch_dynamodb_query_one_partition() -> None:
    """A Query on a table's key reads only the queried partition, as DynamoDB does. moto's Query walks every item of
    the table (`Table.all_items`), so in local mode a List route's one Query slowed down with the size of the
    whole tag table, not with what it returns."""
    from moto.dynamodb.models.table import Table

    with patching.lock:
        if "dynamodb_query_one_partition" in patching.undos:
            return
        originals = {name: Table.__dict__[name] for name in ("query", "all_items")}
        Table.query = _query_within_partition(originals["query"])  # type: ignore[method-assign]
        Table.all_items = _all_items_of_the_queried_partition(originals["all_items"])  # type: ignore[method-assign]

        def undo() -> None:
            for name, method in originals.items():
                setattr(Table, name, method)

        patching.undos["dynamodb_query_one_partition"] = undo


def _top_level_projection(original: Callable) -> Callable:
    def project(self: Any, projection_expressions: list[list[str]]) -> Any:
        if any(len(path) != 1 or "[" in path[0] for path in projection_expressions):
            return original(self, projection_expressions)  # nested paths and list elements: moto's own walk
        from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict

        projected: Any = Item.__new__(Item)
        projected.hash_key, projected.range_key = self.hash_key, self.range_key  # as moto's: shared
        # A part of an item that passed the size check on write: moto's own copy skips the check the same way.
        projected.attrs = LimitedSizeDict.__new__(LimitedSizeDict)
        for (name,) in projection_expressions:
            if name in self.attrs:  # GetItem projects the stored item itself: its values are copied
                dict.__setitem__(projected.attrs, name, copy.deepcopy(self.attrs[name]))
        return projected

    return project


def patch_dynamodb_top_level_projection() -> None:
    """A ProjectionExpression of top-level attribute names (`#row, TimeToExist`) picks those attributes of each
    item, as DynamoDB does. moto converts every attribute of every item to plain Python and back
    (`Item.project`) whatever the expression names: a projection that makes DynamoDB's answer smaller made moto's
    slower than the whole items. The values are the stored ones (a set's members in the order written, where
    moto's round trip gives Python's set order; DynamoDB's sets have none). Nested paths (`a.b`, `a[0]`) still take
    moto's way."""
    patching.install(
        "dynamodb_top_level_projection",
        "moto.dynamodb.models.dynamo_type",
        "Item",
        "project",
        _top_level_projection,
    )


# DynamoDB's answers that are items: their JSON on the wire is the items' own DynamoDB JSON.
_ITEM_ANSWERS = frozenset({"Query", "Scan", "GetItem"})


def patch_dynamodb_item_answers_as_json() -> None:
    """moto answers Query, Scan and GetItem through its generic serializer, which walks every attribute of every item
    against the service model (about 0.4 ms per listed row here): in local mode a List route slowed down with its
    answer, though it is one Query. Those answers are written with `json.dumps` instead, as moto wrote them before
    that serializer (`dynamo_json_dump`): the same JSON, binary values in base64. Every other DynamoDB answer goes
    through moto's serializer as before."""
    from moto.core.responses import ActionContext, ActionResult
    from moto.dynamodb import responses
    from moto.dynamodb.models.utilities import dynamo_json_dump, dynamo_to_dict

    class DynamoResult(responses.DynamoResult):
        def __init__(self, result: object) -> None:
            ActionResult.__init__(self, result)  # moto's conversion, only when its serializer writes the answer

        def execute_result(self, context: ActionContext) -> Any:
            if context.operation_model.name in _ITEM_ANSWERS:
                return 200, {"Content-Type": "application/x-amz-json-1.0"}, dynamo_json_dump(self.result)
            return ActionResult(dynamo_to_dict(self.result)).execute_result(context)

    with patching.lock:
        if "dynamodb_item_answers_as_json" in patching.undos:
            return
        original = responses.DynamoResult
        responses.DynamoResult = DynamoResult  # type: ignore[misc]

        def undo() -> None:
            responses.DynamoResult = original  # type: ignore[misc]

        patching.undos["dynamodb_item_answers_as_json"] = undo


# --------------------------------------------------------------------------------------------------------------
# apply / revert
# --------------------------------------------------------------------------------------------------------------

_PERMANENT: dict[str, Callable[[], None]] = {
    **stepfunctions.PATCHES,
    "elb_unknown_load_balancer": patch_elb_unknown_load_balancer,
    "elb_dns_name_region": patch_elb_dns_name_region,
    "autoscaling_already_exists": patch_autoscaling_already_exists,
    "autoscaling_force_delete": patch_autoscaling_force_delete,
    "elbv2_idempotent_creates": patch_elbv2_idempotent_creates,
    "ec2_delete_unknown_launch_template": patch_ec2_delete_unknown_launch_template,
    "list_clusters_active": patch_list_clusters_active,
    "list_services_live": patch_list_services_live,
    "list_task_definition_families_status": patch_list_task_definition_families_status,
    "dynamodb_query_one_partition": patch_dynamodb_query_one_partition,
    "dynamodb_item_answers_as_json": patch_dynamodb_item_answers_as_json,
    "dynamodb_top_level_projection": patch_dynamodb_top_level_projection,
}
_ECS: dict[str, Callable[[], None]] = ecs_patches.PATCHES


def apply() -> None:
    """Apply every permanent patch. Idempotent; call it before the first execution starts.

    The patches act on classes and module functions, not on state machines, so state machines created before
    ``apply()`` are patched too; only an execution already running keeps what it started with.
    """
    for patch in _PERMANENT.values():
        patch()


def revert(*names: str) -> None:
    """Undo the named patches (all permanent ones when none is named). For tests; idempotent."""
    patching.revert(names or tuple(_PERMANENT))


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
