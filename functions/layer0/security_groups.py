"""Security groups that Layer0 names: an environment's `<ecs id>-env` and a public load balancer's `<ecs id>-lb`."""

from __future__ import annotations

from botocore.exceptions import ClientError

from layer0 import aws, settings
from layer0.errors import Retryable, aws_error_code, aws_error_message


def find(name: str) -> dict | None:
    """The group named `name` in the Layer0 VPC, or None."""
    filters = [{"Name": "group-name", "Values": [name]}]
    vpc_id = settings.get().vpc_id
    if vpc_id:
        filters.append({"Name": "vpc-id", "Values": [vpc_id]})
    groups = aws.client("ec2").describe_security_groups(Filters=filters)["SecurityGroups"]
    return groups[0] if groups else None


def create(name: str, description: str) -> str:
    """Create the group named `name` in the Layer0 VPC, tagged with its name (what the functions' IAM policy scopes
    security-group writes by, infra/environments.py); returns its id. A retry that finds the name taken gets the
    group its earlier attempt made (layer0/aws.py, `retried`)."""
    params: dict = {
        "GroupName": name,
        "Description": description,
        "TagSpecifications": [{"ResourceType": "security-group", "Tags": [{"Key": "Name", "Value": name}]}],
    }
    if settings.get().vpc_id:
        params["VpcId"] = settings.get().vpc_id
    try:
        return aws.client("ec2").create_security_group(**params)["GroupId"]
    except ClientError as error:
        if aws_error_code(error) == "InvalidGroup.Duplicate" and aws.retried(error) and (group := find(name)):
            return group["GroupId"]
        raise


def delete(name: str) -> bool:
    """Delete the group named `name`: False when there is none. A group still in use (network interfaces not
    yet detached) raises Retryable, for the job's retry."""
    group = find(name)
    if group is None:
        return False
    try:
        aws.client("ec2").delete_security_group(GroupId=group["GroupId"])
    except ClientError as error:
        if aws_error_code(error) == "InvalidGroup.NotFound":
            return False
        if aws_error_code(error) == "DependencyViolation":
            raise Retryable(f"Security group {group['GroupId']} is still in use: {aws_error_message(error)}") from error
        raise
    return True
