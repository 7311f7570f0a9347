"""Where an environment's tasks and services run (docs/architecture.md#capacity-providers).

An EC2 environment scales in one of two ways, kept in its `scaling` tag:
- `managed` (the default for new environments): an Auto Scaling group capacity provider `l0-<prefix>-<id>`, with
  ECS managed scaling (target capacity 100%), managed termination protection and managed draining, is the
  cluster's default strategy. ECS grows the group from what PROVISIONING tasks need and shrinks it without
  stopping a busy instance; the Layer0 scaler leaves such an environment alone.
- `layer0`: the Layer0 scaler sizes the group (layer0.scaler), and a create-task job retries while there is no room.
An environment made before this existed has no tag and scales the `layer0` way.

Its `architecture` tag (`x86_64` or `arm64`, from DescribeInstanceTypes) places every task and service on
instances of that architecture only (`launch_arguments`), whatever the image: images should be multi-arch
(docs/compatibility.md#graviton-arm64).
"""

from __future__ import annotations

import functools

from botocore.exceptions import ClientError

from layer0 import aws, ids
from layer0.errors import Retryable, aws_error_code, aws_error_message
from layer0.models import Tag
from layer0.stores import tags as tag_store

ENVIRONMENT_ENTITY = "environment"  # the tag table's entity type of environments (layer0.environments.ENTITY_TYPE)
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


def provider_name(environment_id: str) -> str:
    """The capacity provider's name: the environment's ECS id (`l0-<prefix>-<id>`, never starting with the
    reserved `aws`, `ecs` or `fargate`)."""
    return ids.aws_name(environment_id)


def _values(environment_id: str) -> dict[str, str]:
    return {t.key: t.value for t in tag_store.select_by_type_and_id(ENVIRONMENT_ENTITY, environment_id)}


def scaling(environment_id: str) -> str:
    """`managed` or `layer0` (an environment without the tag predates capacity providers)."""
    return _values(environment_id).get(SCALING_KEY) or LAYER0


def remember(environment_id: str, scaling_mode: str, architecture: str) -> None:
    """The environment's tags that `launch_arguments` reads."""
    for key, value in ((SCALING_KEY, scaling_mode), (ARCHITECTURE_KEY, architecture)):
        tag_store.insert(Tag(entity_type=ENVIRONMENT_ENTITY, entity_id=environment_id, key=key, value=value))


def placement_constraint(architecture: str) -> dict:
    return {"type": "memberOf", "expression": f"attribute:ecs.cpu-architecture == {architecture}"}


def launch_arguments(environment_id: str) -> dict:
    """The keyword arguments of ecs.create_service and ecs.run_task that place a task of this environment: the
    capacity provider strategy of a managed environment, and a constraint to the environment's architecture."""
    values = _values(environment_id)
    arguments: dict = {}
    if values.get(SCALING_KEY) == MANAGED:
        arguments["capacityProviderStrategy"] = [
            {"capacityProvider": provider_name(environment_id), "weight": 1, "base": 0}
        ]
    architecture = values.get(ARCHITECTURE_KEY)
    if architecture in ARCHITECTURES:
        arguments["placementConstraints"] = [placement_constraint(architecture)]
    return arguments


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
