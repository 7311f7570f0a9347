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

ECS patches (local/ecs/patches.py), applied by :func:`apply_ecs` (with the ECS simulation: an
:class:`local.ecs.agent.Agent` applies them when created) and undone by :func:`revert_ecs`:
``patch_ecs_total_resources``, ``patch_ecs_task_status``, ``patch_ecs_task_start``, ``patch_ecs_run_task``,
``patch_ecs_stop_task``, ``patch_ecs_list_tasks_service_name``, ``patch_ecs_service_deployments``.

:func:`revert`, :func:`applied` and :class:`unpatched` work on all of them, by name.

Tests only, in local/testing.py: ``make_waits_instant`` (Wait states and Retry backoff sleep in real time),
undone by ``restore_real_waits`` or by using its return value as a context manager.
"""

from __future__ import annotations

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
    with patching.lock:
        if "elb_unknown_load_balancer" in patching.undos:
            return
        backend = patching.import_module("moto.elb.models").ELBBackend
        patching.replace_method("elb_unknown_load_balancer", backend, "get_load_balancer", _get_load_balancer_or_raise)


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
    with patching.lock:
        if "elb_dns_name_region" in patching.undos:
            return
        backend = patching.import_module("moto.elb.models").ELBBackend
        patching.replace_method("elb_dns_name_region", backend, "create_load_balancer", _create_load_balancer_in_region)


# --------------------------------------------------------------------------------------------------------------
# apply / revert
# --------------------------------------------------------------------------------------------------------------

_PERMANENT: dict[str, Callable[[], None]] = {
    **stepfunctions.PATCHES,
    "elb_unknown_load_balancer": patch_elb_unknown_load_balancer,
    "elb_dns_name_region": patch_elb_dns_name_region,
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
