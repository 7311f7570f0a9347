"""The VPC Layer0 environments and load balancers live in: created, or imported with `-c vpc_id=`."""

from __future__ import annotations

from aws_cdk import Fn, RemovalPolicy, Tags
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import Config

# Subnet group names. Layer0 finds subnets by the tag Tier=Public|Private (docs/operations.md#deploy); the lookup of
# an imported VPC groups its subnets by that tag (falling back to the routing-derived type name, which
# is also "Public" or "Private"), and a created VPC names its groups the same way.
PUBLIC = "Public"
PRIVATE = "Private"
TIER_TAG = "Tier"

FLOW_LOG_RETENTION = logs.RetentionDays.ONE_MONTH


class Network(Construct):
    """Exposes the VPC and the comma-separated subnet ids the functions need."""

    def __init__(self, scope: Construct, construct_id: str, *, config: Config) -> None:
        super().__init__(scope, construct_id)
        if config.vpc_id:
            self.vpc = ec2.Vpc.from_lookup(self, "Vpc", vpc_id=config.vpc_id, subnet_group_name_tag=TIER_TAG)
            self.created = False
        else:
            self.vpc = self._create_vpc(config)
            self.created = True
        self.public_subnets = self._select(PUBLIC)
        self.private_subnets = self._select(PRIVATE)

    @property
    def vpc_id(self) -> str:
        return self.vpc.vpc_id

    @property
    def public_subnet_ids_csv(self) -> str:
        return Fn.join(",", self.public_subnets.subnet_ids)

    @property
    def private_subnet_ids_csv(self) -> str:
        return Fn.join(",", self.private_subnets.subnet_ids)

    def _create_vpc(self, config: Config) -> ec2.Vpc:
        vpc = ec2.Vpc(
            self,
            "Vpc",
            vpc_name=config.name,
            max_azs=2,
            nat_gateways=1,
            subnet_configuration=[
                ec2.SubnetConfiguration(name=PUBLIC, subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=20),
                ec2.SubnetConfiguration(name=PRIVATE, subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=20),
            ],
        )
        for subnet in vpc.public_subnets:
            Tags.of(subnet).add(TIER_TAG, PUBLIC)
        for subnet in vpc.private_subnets:
            Tags.of(subnet).add(TIER_TAG, PRIVATE)
        # Rejected flows only: enough to see why traffic does not reach an instance, at a fraction of the cost.
        flow_log_group = logs.LogGroup(
            self, "FlowLogs", retention=FLOW_LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )
        return vpc

    def _select(self, group: str) -> ec2.SelectedSubnets:
        try:
            return self.vpc.select_subnets(subnet_group_name=group)
        except Exception as error:  # jsii raises a plain RuntimeError with CDK's message
            raise ValueError(
                f"VPC {self.vpc.vpc_id}: Layer0 needs subnets tagged {TIER_TAG}={group} "
                f"(or routed as {group.lower()} subnets): {error}"
            ) from error
