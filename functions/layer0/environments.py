"""Environments (docs/compatibility.md#environments, with the changes of
docs/compatibility.md#differences-on-purpose-and-why).

An environment `<id>` is, in AWS, named `l0-<prefix>-<id>` (the "ECS id"):
- an ECS cluster `<ecs id>`;
- a security group `<ecs id>-env` in the Layer0 VPC that admits all traffic from itself;
- a launch template `<ecs id>` (AMI, instance type, instance profile, IMDSv2 required, gp3 root volume, user data);
- an Auto Scaling group `<ecs id>` on the private subnets, tag Name=`<ecs id>` propagated to its instances;
- with `"scaling": "managed"` (the default), a capacity provider `<ecs id>` for the group, the cluster's default
  strategy (layer0.capacity, docs/architecture.md#capacity-providers).
A Fargate environment (docs/compatibility.md#fargate-environments) has the cluster, with the FARGATE and
FARGATE_SPOT capacity providers, and the security group: no launch template, no Auto Scaling group.

Tags (the tag table, entity type `environment`): `name`, `os`, `scaling` and `architecture` (EC2 environments),
`environment_type` and `spot` (Fargate environments) — layer0.capacity reads them — and one key `link:<dest id>` =
`<dest id>` per link, so that an environment keeps several links in a store that holds one value per key. A name is
claimed atomically (entity type `environment_name`, id = the name) before anything is created, so concurrent creates
with one name make one environment.

The delete-environment workflow runs the step functions at the end of this module, one per state; each is
idempotent, so that a rerun after a failure part-way finishes the job.
"""

from __future__ import annotations

import base64
import logging

from botocore.exceptions import ClientError

from layer0 import aws, capacity, fargate, ids, jobs, security_groups, settings
from layer0 import user_data as templates
from layer0.errors import ErrorCode, Layer0Error, Retryable, aws_error_code, aws_error_message, missing_parameter
from layer0.models import (
    CreateEnvironmentRequest,
    Environment,
    EnvironmentSummary,
    Job,
    Tag,
)
from layer0.stores import rows as row_store
from layer0.stores import tags as tag_store

logger = logging.getLogger(__name__)

ENTITY_TYPE = "environment"
ROW_KIND = "environment"  # its rows in the read model (layer0.stores.rows)
NAME_CLAIM_TYPE = "environment_name"
LINK_PREFIX = "link:"
LEGACY_LINK_KEY = "link"  # the original's single link, in adopted data

# The CLI and Terraform send m3.medium (a previous-generation type); a request without a size gets this.
DEFAULT_INSTANCE_SIZE = "t3.medium"
ROOT_VOLUMES = {"linux": ("/dev/xvda", 30), "windows": ("/dev/sda1", 200)}
SECURITY_GROUP_DESCRIPTION = "Auto-generated Layer0 Environment Security Group"
# EC2 limits user data to 16 KB in raw form, before base64 encoding (docs/compatibility.md#user-data).
USER_DATA_LIMIT_BYTES = 16 * 1024


def _ecs_id(environment_id: str) -> str:
    return ids.aws_name(environment_id)


def _sg_name(environment_id: str) -> str:
    return capacity.security_group_name(environment_id)


def not_found(environment_id: str) -> Layer0Error:
    return Layer0Error(ErrorCode.EnvironmentDoesNotExist, f"Environment '{environment_id}' does not exist")


# --- reading AWS ----------------------------------------------------------------------------------------------------


def find_security_group(environment_id: str) -> dict | None:
    return security_groups.find(_sg_name(environment_id))


def _auto_scaling_group(environment_id: str) -> dict | None:
    groups = aws.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[_ecs_id(environment_id)])[
        "AutoScalingGroups"
    ]
    return groups[0] if groups else None


def _launch_template_data(environment_id: str) -> dict:
    ec2 = aws.client("ec2")
    try:
        versions = ec2.describe_launch_template_versions(
            LaunchTemplateName=_ecs_id(environment_id), Versions=["$Latest"]
        )["LaunchTemplateVersions"]
    except ClientError as error:
        if aws_error_code(error).startswith("InvalidLaunchTemplate"):
            return {}
        raise
    return versions[0]["LaunchTemplateData"] if versions else {}


def cluster_active(environment_id: str) -> bool:
    """Whether the environment's cluster exists and is ACTIVE (a deleted one stays INACTIVE for a while)."""
    clusters = aws.client("ecs").describe_clusters(clusters=[_ecs_id(environment_id)])["clusters"]
    return any(c.get("status") == "ACTIVE" for c in clusters)


def linked_ids(tags: list[Tag]) -> list[str]:
    """The ids of the environments that an environment's tags link it to."""
    linked = {t.value for t in tags if t.key.startswith(LINK_PREFIX) or t.key == LEGACY_LINK_KEY}
    return sorted(v for v in linked if v)


def _model(environment_id: str, tags: list[Tag]) -> Environment:
    values = {t.key: t.value for t in tags}
    environment_type = values.get(capacity.TYPE_KEY) or capacity.EC2
    ec2 = environment_type == capacity.EC2  # a Fargate environment has no group and no template to read
    group = _auto_scaling_group(environment_id) if ec2 else None
    template = _launch_template_data(environment_id) if ec2 else {}
    security_group = find_security_group(environment_id)
    instance_size = template.get("InstanceType", "")
    return Environment(
        environment_id=environment_id,
        environment_name=values.get("name", ""),
        cluster_count=len(group["Instances"]) if group else 0,
        instance_size=instance_size,
        security_group_id=security_group["GroupId"] if security_group else "",
        operating_system=values.get("os", ""),
        ami_id=template.get("ImageId", ""),
        links=linked_ids(tags),
        environment_type=environment_type,
        spot=values.get(capacity.SPOT_KEY) == "true",
        # Fargate sizes and scales its own capacity, on x86_64 (layer0.fargate registers no runtimePlatform).
        scaling=(values.get(capacity.SCALING_KEY) or capacity.LAYER0) if ec2 else capacity.MANAGED,
        architecture=(capacity.instance_architecture(instance_size) or "") if instance_size else "x86_64",
    )


# --- routes ---------------------------------------------------------------------------------------------------------


def get(environment_id: str) -> Environment:
    if not cluster_active(environment_id):
        raise not_found(environment_id)
    return _model(environment_id, tag_store.select_by_type_and_id(ENTITY_TYPE, environment_id))


def start_delete(environment_id: str) -> Job:
    """Start the delete-environment job (type 1). A delete that failed part-way can be started again:
    the environment counts as present while its cluster is active or its tags remain."""
    if not (tag_store.select_by_type_and_id(ENTITY_TYPE, environment_id) or cluster_active(environment_id)):
        raise not_found(environment_id)
    return jobs.create(jobs.JobType.DeleteEnvironment, environment_id)


def list_all() -> list[EnvironmentSummary]:
    """The read model's environment rows: one Query (docs/architecture.md#the-read-model)."""
    return [EnvironmentSummary(**fields) for fields in row_store.listed(ROW_KIND)]


def write_row(environment_id: str, name: str, operating_system: str, environment_type: str) -> None:
    """The environment's row in the read model, as `GET /environment` lists it."""
    fields = {
        "environment_id": environment_id,
        "environment_name": name,
        "operating_system": operating_system,
        "environment_type": environment_type,
    }
    row_store.put(row_store.Row(ROW_KIND, environment_id, fields, version=row_store.now_ms()))


def observed_rows() -> list[row_store.Row]:
    """The rows as AWS has them (the hourly reconcile, docs/architecture.md#the-read-model): ListClusters,
    DescribeClusters (100 a call; deleted clusters stay listed, INACTIVE, for a while) and one tag query."""
    prefix = settings.get().aws_name_prefix
    ecs = aws.client("ecs")
    arns = [
        arn
        for page in ecs.get_paginator("list_clusters").paginate()
        for arn in page["clusterArns"]
        if arn.split("/", 1)[1].startswith(prefix)
    ]
    names = [
        cluster["clusterName"]
        for start in range(0, len(arns), 100)
        for cluster in ecs.describe_clusters(clusters=arns[start : start + 100])["clusters"]
        if cluster.get("status") == "ACTIVE" and cluster["clusterName"].startswith(prefix)
    ]
    tags: dict[str, dict[str, str]] = {}
    for tag in tag_store.select_by_type(ENTITY_TYPE):
        tags.setdefault(tag.entity_id, {})[tag.key] = tag.value
    version = row_store.now_ms()
    rows = []
    for name in names:
        environment_id = ids.layer0_id(name)
        values = tags.get(environment_id, {})
        fields = {
            "environment_id": environment_id,
            "environment_name": values.get("name", ""),
            "operating_system": values.get("os", ""),
            "environment_type": values.get(capacity.TYPE_KEY) or capacity.EC2,
        }
        rows.append(row_store.Row(ROW_KIND, environment_id, fields, version=version))
    return rows


def _ami(operating_system: str, architecture: str = "x86_64") -> str:
    current = settings.get()
    parameter = current.linux_ami_parameter if operating_system == "linux" else current.windows_ami_parameter
    if operating_system == "linux" and architecture == "arm64":
        parameter = current.linux_arm64_ami_parameter
    ssm = aws.client("ssm")
    try:
        return ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        raise Layer0Error(
            ErrorCode.UnexpectedError,
            f"The default {operating_system} {architecture} AMI parameter '{parameter}' does not exist",
        ) from None


def _scaling(request: CreateEnvironmentRequest) -> str:
    scaling_mode = (request.scaling or capacity.MANAGED).lower()
    if scaling_mode not in capacity.SCALING_MODES:
        raise Layer0Error(
            ErrorCode.InvalidJSON, f"Scaling '{request.scaling}' is not recognized: use 'managed' or 'layer0'"
        )
    return scaling_mode


def _architecture(instance_size: str, operating_system: str) -> str:
    """The instance type's architecture, or a 400: a type EC2 does not have or offer here, Windows on arm64."""
    architecture = capacity.instance_architecture(instance_size)
    if architecture is None or not capacity.offered_in_region(instance_size):
        raise Layer0Error(
            ErrorCode.InvalidJSON, f"Instance size '{instance_size}' is not an EC2 instance type in this region"
        )
    if architecture == "arm64" and operating_system == "windows":
        raise Layer0Error(
            ErrorCode.InvalidJSON,
            f"Instance size '{instance_size}' is an arm64 (Graviton) type: Windows environments need an x86_64 type",
        )
    return architecture


def _validate(request: CreateEnvironmentRequest) -> tuple[str, str, str]:
    """(name, lower-cased OS, instance size), or a 400. Touches nothing in AWS."""
    if not request.environment_name:
        raise missing_parameter("environment_name")
    if not request.operating_system:
        raise missing_parameter("operating_system")
    operating_system = request.operating_system.lower()
    if operating_system not in templates.DEFAULTS:
        raise Layer0Error(
            ErrorCode.InvalidJSON,
            f"Operating system '{request.operating_system}' is not recognized: use 'linux' or 'windows'",
        )
    # The instance type itself is checked with its architecture (_architecture): one DescribeInstanceTypes.
    return request.environment_name, operating_system, request.instance_size or DEFAULT_INSTANCE_SIZE


def _user_data(request: CreateEnvironmentRequest, operating_system: str, ecs_id: str) -> str:
    try:
        template = (
            request.user_data_template.decode() if request.user_data_template else templates.DEFAULTS[operating_system]
        )
    except UnicodeDecodeError:
        raise Layer0Error(ErrorCode.InvalidJSON, "user_data_template is not UTF-8 text") from None
    try:
        rendered = templates.render(template, {"ECSEnvironmentID": ecs_id, "S3Bucket": settings.get().s3_bucket})
    except templates.TemplateError as error:
        raise Layer0Error(ErrorCode.InvalidJSON, f"Invalid user_data_template: {error}") from None
    raw = rendered.encode()
    if len(raw) > USER_DATA_LIMIT_BYTES:
        # EC2 would refuse the launch template only after the cluster and the security group exist.
        raise Layer0Error(
            ErrorCode.InvalidJSON,
            f"user_data_template renders to {len(raw)} bytes: EC2 allows at most {USER_DATA_LIMIT_BYTES} bytes of "
            "user data (16 KB, before base64 encoding)",
        )
    return base64.b64encode(raw).decode()


def _name_taken(name: str) -> bool:
    """An environment of an adopted Layer0 instance, created before name claims existed, with this name."""
    return any(t.key == "name" and t.value == name for t in tag_store.select_by_type(ENTITY_TYPE))


# What a Fargate environment has no use for: refused when the request has them
# (docs/compatibility.md#fargate-environments).
FARGATE_REFUSED_FIELDS = ("instance_size", "min_cluster_count", "user_data_template", "ami_id")


def _environment_type(request: CreateEnvironmentRequest) -> str:
    environment_type = (request.environment_type or capacity.EC2).lower()
    if environment_type not in capacity.ENVIRONMENT_TYPES:
        raise Layer0Error(
            ErrorCode.InvalidJSON,
            f"Environment type '{request.environment_type}' is not recognized: use "
            + " or ".join(f"'{kind}'" for kind in capacity.ENVIRONMENT_TYPES),
        )
    if request.spot and environment_type != capacity.FARGATE:
        raise Layer0Error(ErrorCode.InvalidJSON, "spot is for Fargate environments only")
    return environment_type


def _validate_fargate(request: CreateEnvironmentRequest) -> str:
    """The name of a Fargate environment to create, or a 400. Linux only; no instance fields."""
    if not request.environment_name:
        raise missing_parameter("environment_name")
    given = sorted(field for field in FARGATE_REFUSED_FIELDS if field in request.model_fields_set)
    if given:
        raise Layer0Error(ErrorCode.InvalidJSON, f"A Fargate environment has no instances: remove {', '.join(given)}")
    if (request.scaling or capacity.MANAGED).lower() != capacity.MANAGED:
        raise Layer0Error(
            ErrorCode.InvalidJSON, "A Fargate environment's capacity is managed by Fargate: remove scaling"
        )
    if (request.operating_system or "linux").lower() != "linux":
        raise Layer0Error(
            ErrorCode.InvalidJSON,
            f"Operating system '{request.operating_system}' is not available on Fargate: use 'linux'",
        )
    return request.environment_name


def _claim_name(name: str, environment_id: str) -> None:
    duplicate = Layer0Error(ErrorCode.InvalidEnvironmentID, f"Environment with name '{name}' already exists")
    if not tag_store.claim(NAME_CLAIM_TYPE, name, {"environment_id": environment_id}):
        raise duplicate
    if _name_taken(name):
        tag_store.release(NAME_CLAIM_TYPE, name, "environment_id", environment_id)
        raise duplicate


def _create_fargate(request: CreateEnvironmentRequest) -> Environment:
    name = _validate_fargate(request)
    environment_id = ids.hashed(name)
    _claim_name(name, environment_id)
    try:
        # The type tags first: a rollback, or a delete job, of a half-made environment knows what it is.
        tag_store.insert(
            Tag(entity_type=ENTITY_TYPE, entity_id=environment_id, key=capacity.TYPE_KEY, value=capacity.FARGATE)
        )
        tag_store.insert(
            Tag(
                entity_type=ENTITY_TYPE,
                entity_id=environment_id,
                key=capacity.SPOT_KEY,
                value="true" if request.spot else "false",
            )
        )
        aws.client("ecs").create_cluster(
            clusterName=_ecs_id(environment_id),
            capacityProviders=list(fargate.CAPACITY_PROVIDERS),
            defaultCapacityProviderStrategy=fargate.strategy(request.spot),
        )
        _create_security_group(environment_id)
        tag_store.insert(Tag(entity_type=ENTITY_TYPE, entity_id=environment_id, key="name", value=name))
        tag_store.insert(Tag(entity_type=ENTITY_TYPE, entity_id=environment_id, key="os", value="linux"))
        write_row(environment_id, name, "linux", capacity.FARGATE)
    except Exception:
        logger.exception("Creating environment %s failed: rolling back", environment_id)
        _roll_back(environment_id)
        raise
    return get(environment_id)


def create(request: CreateEnvironmentRequest) -> Environment:
    if _environment_type(request) == capacity.FARGATE:
        return _create_fargate(request)
    name, operating_system, instance_size = _validate(request)
    scaling_mode = _scaling(request)
    architecture = _architecture(instance_size, operating_system)
    environment_id = ids.hashed(name)
    ecs_id = _ecs_id(environment_id)
    user_data = _user_data(request, operating_system, ecs_id)
    ami = request.ami_id or _ami(operating_system, architecture)
    _claim_name(name, environment_id)
    try:
        _create_resources(
            environment_id, operating_system, instance_size, ami, user_data, request.min_cluster_count, scaling_mode
        )
        if scaling_mode == capacity.MANAGED:
            _create_capacity_provider(environment_id)
        capacity.remember(environment_id, scaling_mode, architecture)
        tag_store.insert(Tag(entity_type=ENTITY_TYPE, entity_id=environment_id, key="name", value=name))
        tag_store.insert(
            Tag(entity_type=ENTITY_TYPE, entity_id=environment_id, key="os", value=request.operating_system)
        )
        write_row(environment_id, name, request.operating_system, capacity.EC2)
    except Exception:
        logger.exception("Creating environment %s failed: rolling back", environment_id)
        _roll_back(environment_id)
        raise
    return get(environment_id)


def _group_sizes(count: int, scaling_mode: str) -> dict:
    """A managed group may grow to MANAGED_MAX_SIZE (ECS sizes it, with new instances protected from scale-in
    until ECS finds them idle: managed termination protection); a Layer0-scaled one starts at min = max."""
    if scaling_mode == capacity.MANAGED:
        return {
            "MinSize": count,
            "MaxSize": max(count, capacity.MANAGED_MAX_SIZE),
            "DesiredCapacity": count,
            "NewInstancesProtectedFromScaleIn": True,
        }
    return {"MinSize": count, "MaxSize": count, "DesiredCapacity": count}


def _create_capacity_provider(environment_id: str) -> None:
    group = _auto_scaling_group(environment_id)
    if group is None:
        raise Layer0Error(ErrorCode.UnexpectedError, f"Auto Scaling group {_ecs_id(environment_id)} vanished")
    capacity.create_provider(environment_id, group["AutoScalingGroupARN"])


def _create_resources(
    environment_id: str,
    operating_system: str,
    instance_size: str,
    ami: str,
    user_data: str,
    count: int,
    scaling_mode: str = capacity.LAYER0,
) -> None:
    current = settings.get()
    ecs_id = _ecs_id(environment_id)
    ec2 = aws.client("ec2")
    # Every create here is safe to retry after a lost answer (docs/architecture.md#the-client-layer): CreateCluster
    # answers with the existing cluster, the rest find what the earlier attempt made (the name is claimed).
    aws.client("ecs").create_cluster(clusterName=ecs_id)
    group_id = _create_security_group(environment_id)
    device, size = ROOT_VOLUMES[operating_system]
    data = {
        "ImageId": ami,
        "InstanceType": instance_size,
        "IamInstanceProfile": {"Name": current.ecs_instance_profile},
        "SecurityGroupIds": [group_id],
        "UserData": user_data,
        # IMDSv2 only; hop limit 1 (the default): a container in bridge mode is one hop further and cannot get the
        # instance role's credentials (README.md#instance-metadata).
        "MetadataOptions": {
            "HttpTokens": "required",
            "HttpEndpoint": "enabled",
            "HttpPutResponseHopLimit": current.imds_hop_limit,
        },
        "BlockDeviceMappings": [
            {
                "DeviceName": device,
                "Ebs": {"VolumeSize": size, "VolumeType": "gp3", "DeleteOnTermination": True, "Encrypted": True},
            }
        ],
        "TagSpecifications": [
            {"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": ecs_id}]},
        ],
    }
    if current.ssh_key_pair:
        data["KeyName"] = current.ssh_key_pair
    # botocore gives CreateLaunchTemplate one ClientToken for all its attempts; moto ignores it.
    with aws.done_by_an_earlier_attempt("InvalidLaunchTemplateName.AlreadyExistsException"):
        ec2.create_launch_template(
            LaunchTemplateName=ecs_id,
            LaunchTemplateData=data,
            TagSpecifications=[{"ResourceType": "launch-template", "Tags": [{"Key": "Name", "Value": ecs_id}]}],
        )
    with aws.done_by_an_earlier_attempt("AlreadyExists"):  # moto replaces the group instead (local/moto_patches.py)
        aws.client("autoscaling").create_auto_scaling_group(
            AutoScalingGroupName=ecs_id,
            LaunchTemplate={"LaunchTemplateName": ecs_id, "Version": "$Latest"},
            **_group_sizes(count, scaling_mode),
            VPCZoneIdentifier=",".join(current.private_subnets),
            Tags=[
                {
                    "ResourceId": ecs_id,
                    "ResourceType": "auto-scaling-group",
                    "Key": "Name",
                    "Value": ecs_id,
                    "PropagateAtLaunch": True,
                }
            ],
        )


def _create_security_group(environment_id: str) -> str:
    """The environment's group, admitting all traffic from itself; its id."""
    group_id = security_groups.create(_sg_name(environment_id), SECURITY_GROUP_DESCRIPTION)
    with aws.done_by_an_earlier_attempt("InvalidPermission.Duplicate"):
        aws.client("ec2").authorize_security_group_ingress(
            GroupId=group_id, IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": group_id}]}]
        )
    return group_id


def _roll_back(environment_id: str) -> None:
    """Undo a failed create, best effort: each step is the delete workflow's own."""
    for step in (
        capacity.delete_provider,
        delete_autoscaling_group,
        delete_launch_template,
        delete_security_group,
        delete_cluster,
        delete_tags,
    ):
        try:
            step(environment_id)
        except Exception:  # noqa: BLE001 - keep undoing; the original error is the answer
            logger.exception("Rollback step %s of environment %s failed", step.__name__, environment_id)


def update_min_count(environment_id: str, min_count: int) -> Environment:
    if not cluster_active(environment_id):
        raise not_found(environment_id)
    if capacity.is_fargate(environment_id):
        raise Layer0Error(ErrorCode.InvalidJSON, f"Environment '{environment_id}' runs on Fargate: it has no instances")
    group = _auto_scaling_group(environment_id)
    if group is None:
        raise not_found(environment_id)
    autoscaling = aws.client("autoscaling")
    name = _ecs_id(environment_id)
    if group["MaxSize"] < min_count:
        autoscaling.update_auto_scaling_group(AutoScalingGroupName=name, MaxSize=min_count, DesiredCapacity=min_count)
    changes: dict = {"MinSize": min_count}
    if group["DesiredCapacity"] < min_count:
        changes["DesiredCapacity"] = min_count
    autoscaling.update_auto_scaling_group(AutoScalingGroupName=name, **changes)
    return get(environment_id)


# --- links ----------------------------------------------------------------------------------------------------------


def _link_key(environment_id: str) -> str:
    return f"{LINK_PREFIX}{environment_id}"


def _allow(ec2, group_id: str, source_group_id: str) -> None:
    try:
        ec2.authorize_security_group_ingress(
            GroupId=group_id, IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": source_group_id}]}]
        )
    except ClientError as error:
        if aws_error_code(error) != "InvalidPermission.Duplicate":
            raise


def link(source_id: str, dest_id: str) -> None:
    if not dest_id:
        raise missing_parameter("environment_id")
    if source_id == dest_id:
        raise Layer0Error(ErrorCode.InvalidEnvironmentID, f"Environment '{source_id}' cannot be linked to itself")
    groups = {}
    for environment_id in (source_id, dest_id):
        group = find_security_group(environment_id)
        if group is None:
            raise Layer0Error(
                ErrorCode.EnvironmentDoesNotExist, f"Security group for environment '{environment_id}' does not exist"
            )
        groups[environment_id] = group["GroupId"]
    ec2 = aws.client("ec2")
    _allow(ec2, groups[source_id], groups[dest_id])
    _allow(ec2, groups[dest_id], groups[source_id])
    tag_store.insert(Tag(entity_type=ENTITY_TYPE, entity_id=source_id, key=_link_key(dest_id), value=dest_id))
    tag_store.insert(Tag(entity_type=ENTITY_TYPE, entity_id=dest_id, key=_link_key(source_id), value=source_id))


def _revoke(ec2, group: dict, source_group_id: str) -> None:
    permissions = [
        {**{k: v for k, v in permission.items() if k in ("IpProtocol", "FromPort", "ToPort")},
         "UserIdGroupPairs": [{"GroupId": source_group_id}]}
        for permission in group.get("IpPermissions", [])
        if any(pair.get("GroupId") == source_group_id for pair in permission.get("UserIdGroupPairs", []))
    ]  # fmt: skip
    if permissions:
        try:
            ec2.revoke_security_group_ingress(GroupId=group["GroupId"], IpPermissions=permissions)
        except ClientError as error:
            if aws_error_code(error) not in ("InvalidPermission.NotFound", "InvalidGroup.NotFound"):
                raise


def unlink(source_id: str, dest_id: str) -> None:
    """Revoke the rules both ways and forget the link; a side whose group is gone is skipped."""
    source, dest = find_security_group(source_id), find_security_group(dest_id)
    if source and dest:
        ec2 = aws.client("ec2")
        _revoke(ec2, source, dest["GroupId"])
        _revoke(ec2, dest, source["GroupId"])
    else:
        logger.warning("Unlinking %s and %s: a security group is missing", source_id, dest_id)
    for here, there in ((source_id, dest_id), (dest_id, source_id)):
        tag_store.delete(ENTITY_TYPE, here, _link_key(there))
        legacy = [t for t in tag_store.select_by_type_and_id(ENTITY_TYPE, here) if t.key == LEGACY_LINK_KEY]
        if legacy and legacy[0].value == there:
            tag_store.delete(ENTITY_TYPE, here, LEGACY_LINK_KEY)


# --- deleting: the delete-environment job's steps (layer0.workflows.delete_environment), and a failed create's
# rollback. Each takes the environment id, returns a JSON-serializable dict, and may be run again after any failure.


_ASG_GONE = ("not found", "is pending delete")


def delete_autoscaling_group(environment_id: str) -> dict:
    if capacity.is_fargate(environment_id):
        return {"deleted": False, "fargate": True}  # it never had one
    autoscaling = aws.client("autoscaling")
    name = _ecs_id(environment_id)
    try:
        autoscaling.update_auto_scaling_group(AutoScalingGroupName=name, MinSize=0, MaxSize=0, DesiredCapacity=0)
        autoscaling.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
    except ClientError as error:
        if not any(text in aws_error_message(error) for text in _ASG_GONE):
            raise
        return {"deleted": False}
    return {"deleted": True}


def delete_launch_template(environment_id: str) -> dict:
    if capacity.is_fargate(environment_id):
        return {"deleted": False, "fargate": True}  # it never had one
    ec2 = aws.client("ec2")
    name = _ecs_id(environment_id)
    try:
        ec2.describe_launch_templates(LaunchTemplateNames=[name])
        ec2.delete_launch_template(LaunchTemplateName=name)
    except ClientError as error:
        if not aws_error_code(error).startswith("InvalidLaunchTemplate"):
            raise
        return {"deleted": False}
    return {"deleted": True}


def delete_security_group(environment_id: str) -> dict:
    return {"deleted": security_groups.delete(_sg_name(environment_id))}


def delete_cluster(environment_id: str) -> dict:
    ecs = aws.client("ecs")
    try:
        ecs.delete_cluster(cluster=_ecs_id(environment_id))
    except ecs.exceptions.ClusterNotFoundException:
        return {"deleted": False}
    except (ecs.exceptions.ClusterContainsContainerInstancesException, ecs.exceptions.ClusterContainsServicesException,
            ecs.exceptions.ClusterContainsTasksException) as error:  # fmt: skip
        raise Retryable(f"Cluster {_ecs_id(environment_id)} is not empty yet: {error}") from error
    return {"deleted": True}


def delete_tags(environment_id: str) -> dict:
    """The environment's row, its tags and its name claim."""
    row_store.delete(ROW_KIND, environment_id)
    return {"released": tag_store.delete_with_claims(ENTITY_TYPE, environment_id, NAME_CLAIM_TYPE, "environment_id")}
