"""What the users' containers and ECS instances use: the log group `l0-<prefix>` and the instance role/profile."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnElement, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import Config

CONTAINER_LOG_RETENTION = logs.RetentionDays.THREE_MONTHS
ECS_INSTANCE_POLICY = "service-role/AmazonEC2ContainerServiceforEC2Role"
# The user-data templates copy s3://<bucket>/bootstrap/dockercfg (docs/compatibility.md#user-data, default user data).
BOOTSTRAP_PREFIX = "bootstrap/"


def logical_id(construct: Construct) -> str:
    """The CloudFormation logical id of a construct's resource, as cdk-nag writes it in finding ids."""
    stack = Stack.of(construct)
    element = construct.node.default_child
    assert isinstance(element, CfnElement), construct.node.path
    return str(stack.resolve(stack.get_logical_id(element)))


class Containers(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: Config, registry_bucket: s3.Bucket) -> None:
        super().__init__(scope, construct_id)
        # Every deploy container without a logConfiguration logs here (awslogs, stream prefix `l0`).
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=config.name,
            retention=CONTAINER_LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )

        self.instance_role = iam.Role(
            self,
            "InstanceRole",
            role_name=config.resource_name("ecs-instance"),
            description=f"Layer0 {config.prefix}: ECS container instances of every environment",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(ECS_INSTANCE_POLICY)],
        )
        self.instance_role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadRegistryCredentials",
                actions=["s3:GetObject"],
                resources=[registry_bucket.arn_for_objects(f"{BOOTSTRAP_PREFIX}*")],
            )
        )
        self.instance_profile = iam.InstanceProfile(
            self,
            "InstanceProfile",
            instance_profile_name=config.resource_name("ecs-instance"),
            role=self.instance_role,
        )

        Validations.of(self.instance_role).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{ECS_INSTANCE_POLICY}]",
                reason=(
                    "AWS's managed ECS instance policy is the documented role for ECS container instances "
                    "(agent registration, image pulls, awslogs); AWS keeps it current as the agent gains "
                    "features, which a copied policy would not."
                ),
            )
        )
        Validations.of(self.instance_role).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions::AwsSolutions-IAM5[Resource::<{logical_id(registry_bucket)}.Arn>/{BOOTSTRAP_PREFIX}*]",
                reason=(
                    "Instances read only the objects under bootstrap/ (the dockercfg the user data copies); "
                    "the wildcard is the object key within that prefix."
                ),
            )
        )
