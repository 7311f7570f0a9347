"""The stack's resources, created in moto from the definitions CDK uses (functions/layer0/contract.py).

`create_stack_resources` makes what `cdk deploy` makes for the API to work: the tables, the auth
secret, a VPC with public and private subnets, the ECS instance role and profile, the log group,
the bucket and, as the original had, a self-signed IAM server certificate `l0-<prefix>-api`.
It returns the environment variables CDK would give the functions.
"""

from __future__ import annotations

import json
import secrets

from layer0 import contract

REGION = "us-west-2"
AZS = ("us-west-2a", "us-west-2b")


def table_name(prefix: str, table: contract.Table) -> str:
    return f"l0-{prefix}-{table.name_suffix}"


def create_tables(dynamodb, prefix: str) -> dict[str, str]:
    """Create every contract table; returns {setting: table name}."""
    names = {}
    for table in contract.TABLES:
        keys = [table.partition_key] + ([table.sort_key] if table.sort_key else [])
        name = table_name(prefix, table)
        dynamodb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": kind} for key, kind in keys],
            KeySchema=[
                {"AttributeName": key, "KeyType": role} for (key, _), role in zip(keys, ("HASH", "RANGE"), strict=False)
            ],
        )
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute}
        )
        names[table.setting] = name
    return names


def create_secret(secretsmanager, prefix: str, password: str | None = None) -> tuple[str, str]:
    """The auth secret, as CDK generates it. Returns (ARN, password)."""
    password = password or secrets.token_urlsafe(24)
    arn = secretsmanager.create_secret(
        Name=f"l0-{prefix}-auth",
        SecretString=json.dumps({"username": contract.SECRET_USERNAME, "password": password}),
    )["ARN"]
    return arn, password


def _create_network(ec2) -> dict[str, str]:
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    # As CDK's Vpc (infra/network.py): DNS hostnames on, so that a task's network interface has its private DNS name.
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    subnets: dict[str, list[str]] = {"Public": [], "Private": []}
    for index, (tier, az) in enumerate((tier, az) for tier in subnets for az in AZS):
        subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.0.{index}.0/24", AvailabilityZone=az)["Subnet"][
            "SubnetId"
        ]
        ec2.create_tags(Resources=[subnet_id], Tags=[{"Key": "Tier", "Value": tier}])
        subnets[tier].append(subnet_id)
    return {
        "LAYER0_AWS_VPC_ID": vpc_id,
        "LAYER0_AWS_PUBLIC_SUBNETS": ",".join(subnets["Public"]),
        "LAYER0_AWS_PRIVATE_SUBNETS": ",".join(subnets["Private"]),
    }


def _create_instance_profile(iam, prefix: str) -> str:
    name = f"l0-{prefix}-ecs-instance"
    iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    return name


# AWS's public parameter of the current Windows ECS-optimised AMI (docs/compatibility.md#environments,
# docs/compatibility.md#differences-on-purpose-and-why). moto ships the Linux
# ECS parameters, not this one, and refuses PutParameter under /aws/; the value is a made-up AMI id.
WINDOWS_AMI_PARAMETER = "/aws/service/ami-windows-latest/Windows_Server-2022-English-Full-ECS_Optimized/image_id"
WINDOWS_AMI_ID = "ami-0f2b1e5c0c3d1a4e6"


def seed_public_parameters(region: str = REGION) -> None:
    """Write AWS-owned SSM parameters into moto's backend. moto runs in this process, both under `mock_aws`
    and as the local ThreadedMotoServer, so its backend is reachable directly."""
    import datetime

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ssm.models import Parameter, ssm_backends

    parameters = ssm_backends[DEFAULT_ACCOUNT_ID][region]._parameters
    if parameters.get(WINDOWS_AMI_PARAMETER):
        return
    parameters[WINDOWS_AMI_PARAMETER].append(
        Parameter(  # type: ignore[abstract]  # moto's SSM backend makes its Parameters this way too
            account_id=DEFAULT_ACCOUNT_ID,
            name=WINDOWS_AMI_PARAMETER,
            value=WINDOWS_AMI_ID,
            parameter_type="String",
            description=None,
            allowed_pattern=None,
            keyid=None,
            last_modified_date=datetime.datetime.now(datetime.UTC),
            version=1,
            data_type="aws:ec2:image",
        )
    )


def api_certificate_name(prefix: str) -> str:
    return f"l0-{prefix}-api"


def _upload_api_certificate(iam, prefix: str) -> str:
    """The original API's own self-signed IAM server certificate, which docs/compatibility.md#smoke-scenarios's smoke
    tests use for HTTPS
    listeners (`--certificate l0-$LAYER0_PREFIX-api`). On AWS there is none: users bring theirs."""
    from local.certificates import self_signed

    body, key = self_signed(f"{prefix}.layer0.local")
    return iam.upload_server_certificate(
        ServerCertificateName=api_certificate_name(prefix), CertificateBody=body, PrivateKey=key
    )["ServerCertificateMetadata"]["Arn"]


def _create_secrets_resources(clients, prefix: str) -> None:
    """What infra/secrets.py makes for secrets (docs/compatibility.md#secrets): the KMS key the API encrypts them
    with, under its alias, and the task execution role deploys with secrets run as."""
    kms = clients("kms")
    key_id = kms.create_key(Description=f"Layer0 {prefix}: secrets")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=contract.secrets_key_alias(prefix), TargetKeyId=key_id)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    clients("iam").create_role(
        RoleName=contract.task_execution_role_name(prefix), AssumeRolePolicyDocument=json.dumps(trust)
    )


def create_stack_resources(clients, prefix: str = "l0", password: str | None = None) -> tuple[dict[str, str], str]:
    """Create everything; `clients(service)` gives a boto3 client. Returns (function environment, token)."""
    from layer0.auth import token_from_secret

    secret_arn, password = create_secret(clients("secretsmanager"), prefix, password)
    bucket = f"l0-{prefix}-bucket"
    clients("s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    log_group = f"l0-{prefix}"
    clients("logs").create_log_group(logGroupName=log_group)
    environment = {
        "LAYER0_PREFIX": prefix,
        "LAYER0_AUTH_SECRET_ID": secret_arn,
        "LAYER0_AWS_S3_BUCKET": bucket,
        "LAYER0_LOG_GROUP": log_group,
        "LAYER0_AWS_ECS_INSTANCE_PROFILE": _create_instance_profile(clients("iam"), prefix),
        **create_tables(clients("dynamodb"), prefix),
        **_create_network(clients("ec2")),
    }
    _upload_api_certificate(clients("iam"), prefix)
    _create_secrets_resources(clients, prefix)
    seed_public_parameters()
    token = token_from_secret(json.dumps({"username": contract.SECRET_USERNAME, "password": password}))
    return environment, token
