"""Where an environment's services and tasks run: the one place that turns an environment into the placement
arguments of CreateService, UpdateService and RunTask, and chooses the task definition they run
(docs/architecture.md#capacity-providers, docs/compatibility.md#fargate-environments).

An environment's type is its tag `environment_type` (`ec2` when absent: environments made before Fargate).
- Fargate: the deploy's Fargate variant (layer0.fargate), through the environment's capacity provider strategy
  (its `spot` tag says whether it prefers FARGATE_SPOT), in awsvpc mode in the private subnets with the
  environment's security group.
- EC2: the deploy's task definition, placed binpack on memory. An EC2 environment scales in one of two ways, kept in
  its `scaling` tag:
  - `managed` (the default for new environments): an Auto Scaling group capacity provider `l0-<prefix>-<id>`, with
    ECS managed scaling (target capacity 100%), managed termination protection and managed draining, is the
    cluster's default strategy. ECS grows the group from what PROVISIONING tasks need and shrinks it without
    stopping a busy instance; the Layer0 scaler leaves such an environment alone.
  - `layer0`: the Layer0 scaler sizes the group (layer0.scaler), and a create-task job retries while there is no
    room. An environment made before capacity providers has no tag and scales this way.
  Its `architecture` tag (`x86_64` or `arm64`, from DescribeInstanceTypes) places every task and service on
  instances of that architecture only, whatever the image: images should be multi-arch
  (docs/compatibility.md#graviton-arm64).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from botocore.exceptions import ClientError

from layer0 import aws, deploys, fargate, ids, security_groups
from layer0.errors import ErrorCode, Layer0Error, Retryable, aws_error_code, aws_error_message
from layer0.models import Tag
from layer0.stores import tags as tag_store

ENTITY_TYPE = "environment"  # the environments' tags (layer0.environments.ENTITY_TYPE)
TYPE_KEY = "environment_type"
SPOT_KEY = "spot"
EC2 = "ec2"
FARGATE = "fargate"
ENVIRONMENT_TYPES = (EC2, FARGATE)
SCALING_KEY = "scaling"
ARCHITECTURE_KEY = "architecture"
MANAGED = "managed"
LAYER0 = "layer0"
SCALING_MODES = (MANAGED, LAYER0)
ARCHITECTURES = ("x86_64", "arm64")
# ECS managed scaling keeps the group at the size its tasks need: 100% means no spare instance.
TARGET_CAPACITY = 100
# A managed group's maximum (ECS never grows a group past it); its minimum is the environment's min_cluster_count.
MANAGED_MAX_SIZE = 100

PLACEMENT_STRATEGY = [{"type": "binpack", "field": "memory"}]


def security_group_name(environment_id: str) -> str:
    """`l0-<prefix>-<id>-env`: the environment's security group."""
    return f"{ids.aws_name(environment_id)}-env"


def provider_name(environment_id: str) -> str:
    """The capacity provider's name: the environment's ECS id (`l0-<prefix>-<id>`, never starting with the
    reserved `aws`, `ecs` or `fargate`)."""
    return ids.aws_name(environment_id)


@dataclass(frozen=True)
class Placement:
    """What an environment's tags say about where its tasks run, read once (`placement`) for every question a
    request or a step asks about it."""

    environment_id: str
    environment_type: str  # EC2 or FARGATE
    scaling: str  # MANAGED or LAYER0
    architecture: str  # one of ARCHITECTURES, or "" when not recorded
    spot: bool

    @property
    def fargate(self) -> bool:
        return self.environment_type == FARGATE

    @property
    def target_type(self) -> str:
        """The target type of an application load balancer's target groups: Fargate tasks register by IP."""
        return "ip" if self.fargate else "instance"


def placement(environment_id: str) -> Placement:
    """The environment's placement, from one read of its tags (none for an empty id: an EC2 environment)."""
    values = (
        {t.key: t.value for t in tag_store.select_by_type_and_id(ENTITY_TYPE, environment_id)} if environment_id else {}
    )
    return Placement(
        environment_id=environment_id,
        environment_type=values.get(TYPE_KEY) or EC2,
        # An environment without the tag predates capacity providers.
        scaling=values.get(SCALING_KEY) or LAYER0,
        architecture=values.get(ARCHITECTURE_KEY, ""),
        spot=values.get(SPOT_KEY) == "true",
    )


def is_fargate(environment_id: str) -> bool:
    return placement(environment_id).fargate


def remember(environment_id: str, scaling_mode: str, architecture: str) -> None:
    """The environment's tags that `placement` reads."""
    for key, value in ((SCALING_KEY, scaling_mode), (ARCHITECTURE_KEY, architecture)):
        tag_store.insert(Tag(entity_type=ENTITY_TYPE, entity_id=environment_id, key=key, value=value))


def placement_constraint(architecture: str) -> dict:
    return {"type": "memberOf", "expression": f"attribute:ecs.cpu-architecture == {architecture}"}


def launch_arguments(where: Placement) -> dict:
    """The keyword arguments of ecs.create_service and ecs.run_task that place a task of this environment: on
    Fargate its strategy and network; on EC2 binpack, the capacity provider strategy of a managed environment, and a
    constraint to the environment's architecture."""
    if where.fargate:
        group = security_groups.find(security_group_name(where.environment_id))
        if group is None:
            raise Layer0Error(
                ErrorCode.EnvironmentDoesNotExist,
                f"Security group for environment '{where.environment_id}' does not exist",
            )
        return {
            "capacityProviderStrategy": fargate.strategy(where.spot),
            "networkConfiguration": fargate.network_configuration(group["GroupId"]),
        }
    arguments: dict = {"placementStrategy": PLACEMENT_STRATEGY}
    if where.scaling == MANAGED:
        arguments["capacityProviderStrategy"] = [
            {"capacityProvider": provider_name(where.environment_id), "weight": 1, "base": 0}
        ]
    if where.architecture in ARCHITECTURES:
        arguments["placementConstraints"] = [placement_constraint(where.architecture)]
    return arguments


def task_definition(where: Placement, deploy_id: str) -> tuple[str, dict]:
    """The task definition a service or task of this deploy runs in this environment, and what it holds (its
    containers, for a load balancer's attachment): the deploy's own, or on Fargate its Fargate variant (registered
    on first use). 404 with code 23 when the deploy does not exist or was deleted."""
    if where.fargate:
        return fargate.variant(deploy_id)
    return ids.task_definition(deploy_id), deploys.active_task_definition(deploy_id)


# --- instance types -------------------------------------------------------------------------------------------------


@functools.cache
def instance_architecture(instance_type: str) -> str | None:
    """`arm64` or `x86_64` (an x86 type lists `i386` too), from DescribeInstanceTypes; None for an unknown type."""
    ec2 = aws.client("ec2")
    try:
        found = ec2.describe_instance_types(InstanceTypes=[instance_type])["InstanceTypes"]
    except ClientError as error:
        if aws_error_code(error) == "InvalidInstanceType":
            return None
        raise
    if not found:
        return None
    supported = found[0].get("ProcessorInfo", {}).get("SupportedArchitectures", [])
    return "arm64" if "arm64" in supported else "x86_64"


@functools.cache
def offered_in_region(instance_type: str) -> bool:
    """Whether EC2 offers the type in this region (DescribeInstanceTypeOfferings)."""
    offerings = aws.client("ec2").describe_instance_type_offerings(
        LocationType="region", Filters=[{"Name": "instance-type", "Values": [instance_type]}]
    )["InstanceTypeOfferings"]
    return any(o.get("InstanceType") == instance_type for o in offerings)


# --- the capacity provider ------------------------------------------------------------------------------------------


def create_provider(environment_id: str, group_arn: str) -> None:
    """The group's capacity provider, attached to the cluster as its default strategy. Safe to run again."""
    ecs = aws.client("ecs")
    name = provider_name(environment_id)
    if _describe(name) is None:
        try:
            ecs.create_capacity_provider(
                name=name,
                autoScalingGroupProvider={
                    "autoScalingGroupArn": group_arn,
                    "managedScaling": {"status": "ENABLED", "targetCapacity": TARGET_CAPACITY},
                    "managedTerminationProtection": "ENABLED",
                    "managedDraining": "ENABLED",
                },
            )
        except ClientError as error:
            # A lost answer: the earlier attempt made it (the environment's name is claimed, so it is this one's).
            if "already exists" not in aws_error_message(error) or not aws.retried(error):
                raise
    ecs.put_cluster_capacity_providers(
        cluster=ids.aws_name(environment_id),
        capacityProviders=[name],
        defaultCapacityProviderStrategy=[{"capacityProvider": name, "weight": 1, "base": 0}],
    )


def _describe(name: str) -> dict | None:
    """The capacity provider, unless it is gone (AWS keeps a deleted one INACTIVE for a while)."""
    found = aws.client("ecs").describe_capacity_providers(capacityProviders=[name]).get("capacityProviders", [])
    live = [p for p in found if p.get("name") == name and p.get("status", "ACTIVE") == "ACTIVE"]
    return live[0] if live else None


def delete_provider(environment_id: str) -> dict:
    """Detach the capacity provider from the cluster, then delete it (the delete-environment job's step, and a
    failed create's rollback). Retryable while a draining service still uses it."""
    ecs = aws.client("ecs")
    name = provider_name(environment_id)
    if _describe(name) is None:
        return {"deleted": False}
    try:
        ecs.put_cluster_capacity_providers(
            cluster=ids.aws_name(environment_id), capacityProviders=[], defaultCapacityProviderStrategy=[]
        )
    except ecs.exceptions.ClusterNotFoundException:
        pass
    except ecs.exceptions.ResourceInUseException as error:
        raise Retryable(f"Capacity provider {name} is still in use: {aws_error_message(error)}") from error
    try:
        ecs.delete_capacity_provider(capacityProvider=name)
    except ClientError as error:
        if "in use" in aws_error_message(error).lower():
            raise Retryable(f"Capacity provider {name} is still in use: {aws_error_message(error)}") from error
        raise
    return {"deleted": True}
