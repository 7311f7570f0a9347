"""Where an environment's services and tasks run (docs/compatibility.md#fargate-environments): the one place that
turns an environment into the placement arguments of CreateService, UpdateService and RunTask, and chooses the task
definition they run.

An environment's type is its tag `environment_type` (`ec2` when absent: environments made before Fargate), and a
Fargate environment's `spot` tag says whether it prefers FARGATE_SPOT.
- EC2: the deploy's task definition, placed binpack on memory on the environment's instances.
- Fargate: the deploy's Fargate variant (layer0.fargate), through the environment's capacity provider strategy,
  in awsvpc mode in the private subnets with the environment's security group.
"""

from __future__ import annotations

from layer0 import deploys, fargate, ids, security_groups
from layer0.errors import ErrorCode, Layer0Error
from layer0.stores import tags as tag_store

ENTITY_TYPE = "environment"  # the environments' tags (layer0.environments.ENTITY_TYPE)
TYPE_KEY = "environment_type"
SPOT_KEY = "spot"
EC2 = "ec2"
FARGATE = "fargate"
ENVIRONMENT_TYPES = (EC2, FARGATE)

PLACEMENT_STRATEGY = [{"type": "binpack", "field": "memory"}]


def security_group_name(environment_id: str) -> str:
    """`l0-<prefix>-<id>-env`: the environment's security group."""
    return f"{ids.aws_name(environment_id)}-env"


def _values(environment_id: str) -> dict[str, str]:
    if not environment_id:
        return {}
    return {t.key: t.value for t in tag_store.select_by_type_and_id(ENTITY_TYPE, environment_id)}


def environment_type(environment_id: str) -> str:
    return _values(environment_id).get(TYPE_KEY) or EC2


def is_fargate(environment_id: str) -> bool:
    return environment_type(environment_id) == FARGATE


def launch_arguments(environment_id: str) -> dict:
    """The placement arguments for ecs.create_service / run_task in this environment."""
    values = _values(environment_id)
    if (values.get(TYPE_KEY) or EC2) != FARGATE:
        return {"placementStrategy": PLACEMENT_STRATEGY}
    group = security_groups.find(security_group_name(environment_id))
    if group is None:
        raise Layer0Error(
            ErrorCode.EnvironmentDoesNotExist, f"Security group for environment '{environment_id}' does not exist"
        )
    return {
        "capacityProviderStrategy": fargate.strategy(values.get(SPOT_KEY) == "true"),
        "networkConfiguration": fargate.network_configuration(group["GroupId"]),
    }


def task_definition(environment_id: str, deploy_id: str) -> tuple[str, dict]:
    """The task definition a service or task of this deploy runs in this environment, and what it holds (its
    containers, for a load balancer's attachment): the deploy's own, or on Fargate its Fargate variant (registered
    on first use). 404 with code 23 when the deploy does not exist or was deleted."""
    if is_fargate(environment_id):
        return fargate.variant(deploy_id)
    return ids.task_definition(deploy_id), deploys.active_task_definition(deploy_id)


def target_type(environment_id: str) -> str:
    """The target type of an application load balancer's target groups: Fargate tasks register by IP."""
    return "ip" if is_fargate(environment_id) else "instance"
