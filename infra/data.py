"""State: the DynamoDB tables of `contract.TABLES`, the auth secret, and the registry-credentials bucket."""

from __future__ import annotations

import json

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import Config
from layer0 import contract

# Layer0 state that an operator would hate to lose; the idempotency records expire within a day anyway.
RETAINED_TABLES = {contract.TAG_TABLE.name_suffix, contract.JOB_TABLE.name_suffix}
PASSWORD_LENGTH = 32


_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}


def _attribute(key: tuple[str, str]) -> dynamodb.Attribute:
    name, kind = key
    return dynamodb.Attribute(name=name, type=_ATTRIBUTE_TYPES[kind])


class Data(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: Config) -> None:
        super().__init__(scope, construct_id)
        # contract.Table -> the CDK table, in contract order.
        self.tables: dict[contract.Table, dynamodb.Table] = {
            spec: self._table(config, spec) for spec in contract.TABLES
        }
        self.auth_secret = self._auth_secret(config)
        self.registry_bucket = self._registry_bucket()

    @property
    def table_environment(self) -> dict[str, str]:
        """`LAYER0_AWS_DYNAMO_TAG_TABLE` etc. -> table name."""
        return {spec.setting: table.table_name for spec, table in self.tables.items()}

    def _table(self, config: Config, spec: contract.Table) -> dynamodb.Table:
        retained = spec.name_suffix in RETAINED_TABLES
        return dynamodb.Table(
            self,
            # Construct ids (and so logical ids) follow the contract's name: Tags, Jobs, Idempotency.
            spec.name_suffix.capitalize(),
            table_name=config.resource_name(spec.name_suffix),
            partition_key=_attribute(spec.partition_key),
            sort_key=_attribute(spec.sort_key) if spec.sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=spec.ttl_attribute,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=retained,
            removal_policy=RemovalPolicy.RETAIN if retained else RemovalPolicy.DESTROY,
        )

    def _auth_secret(self, config: Config) -> secretsmanager.Secret:
        secret = secretsmanager.Secret(
            self,
            "AuthSecret",
            secret_name=config.resource_name("auth"),
            description=(
                f"Layer0 {config.prefix}: API credentials. The token clients send is base64(username + ':' + password)."
            ),
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"username": contract.SECRET_USERNAME}),
                generate_string_key="password",
                exclude_punctuation=True,
                password_length=PASSWORD_LENGTH,
            ),
        )
        Validations.of(secret).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-SMG4",
                reason=(
                    "The secret is the Layer0 API token that every l0 CLI and Terraform configuration holds "
                    "(LAYER0_AUTH_TOKEN); rotating it automatically would lock out every client at once. "
                    "Operators rotate it deliberately (put-secret-value) and hand out the new token; the "
                    "authorizer cache picks it up within 300 s."
                ),
            )
        )
        return secret

    def _registry_bucket(self) -> s3.Bucket:
        access_logs = s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            # S3 server access logging only delivers to SSE-S3 buckets.
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(expiration=Duration.days(365), noncurrent_version_expiration=Duration.days(30))
            ],
        )
        Validations.of(access_logs).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-S1",
                reason=(
                    "This bucket is the server-access-log destination of the registry-credentials bucket; "
                    "logging it too would only log the log deliveries (into itself or into yet another bucket)."
                ),
            )
        )
        # Holds bootstrap/dockercfg, the registry auth the ECS agents read at boot (docs/operations.md#deploy,
        # docs/compatibility.md#user-data).
        return s3.Bucket(
            self,
            "RegistryCredentials",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="registry-credentials/",
        )
