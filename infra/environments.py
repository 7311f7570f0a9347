"""What managing environments may do in AWS (docs/compatibility.md#environments, docs/compatibility.md#scaler). Three
inline policies:
- `policy`, on the API function: create, get, list, update, link, scale now, and the rollback of a failed create;
- `delete_policy`, on the delete-environment job's step function: read, and delete what an environment has (no
  create, no launch, no PassRole);
- `scaler_policy`, on the scaler function: read the clusters and the Auto Scaling groups, set the desired capacity
  or terminate an instance, and raise a group's maximum when the desired capacity needs it (nothing else).

Scoped to `l0-<prefix>-*` names wherever AWS allows it:
- ECS clusters, services, tasks and container instances by ARN (`cluster/l0-<prefix>-*`, ...), and the
  environments' capacity providers (`capacity-provider/l0-<prefix>-*`, docs/architecture.md#capacity-providers);
- Auto Scaling groups by ARN (`autoScalingGroupName/l0-<prefix>-*`);
- EC2 security groups and launch templates have ids, not names, in their ARNs: by their `Name` tag, which
  Layer0 sets when it creates them (`aws:RequestTag/Name`, then `ec2:ResourceTag/Name`);
- iam:PassRole on the ECS instance role only, to EC2 only;
- the public SSM parameters of the ECS-optimised AMIs only.
Describe and List calls that AWS does not scope by resource get `*`.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import service_linked_roles
from infra.config import Config
from infra.nag import acknowledge_wildcards

READ_ONLY_ACTIONS = (
    "ecs:ListClusters",
    "ecs:DescribeTaskDefinition",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeLaunchTemplates",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:DescribeInstances",
    "ec2:DescribeInstanceTypes",
    "autoscaling:DescribeAutoScalingGroups",
    "elasticloadbalancing:DescribeLoadBalancers",
    "ec2:DescribeInstanceTypeOfferings",
)

# What the delete-environment steps read: the environment's group, template and instances, the load balancers in it.
DELETE_READ_ACTIONS = (
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeLaunchTemplates",
    "ec2:DescribeInstances",
    "elasticloadbalancing:DescribeLoadBalancers",
)
# What the scaler reads: its environments' instances' memory, the tasks' definitions, the groups' templates. Its
# hourly run lists the environments from the read model (the tag table), not ECS.
SCALER_READ_ACTIONS = (
    "ecs:DescribeTaskDefinition",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplateVersions",
    "autoscaling:DescribeAutoScalingGroups",
)

AMI_PARAMETERS = ("aws/service/ecs/optimized-ami/*", "aws/service/ami-windows-latest/*")

REASONS = {
    "*": (
        "Describe and List calls (ecs:ListClusters, ec2:Describe*, autoscaling:DescribeAutoScalingGroups, "
        "elasticloadbalancing:DescribeLoadBalancers, ecs:DescribeTaskDefinition) take no resource ARN, and "
        "ecs:ListServices/ListTasks are limited by the ecs:cluster condition to l0-<prefix>-* clusters."
    ),
    "names": (
        "ECS clusters, services, tasks, container instances, capacity providers, Auto Scaling groups and load "
        "balancers are limited to "
        "the names Layer0 gives them, l0-<prefix>-*; the wildcard is the environment id and the ECS-generated suffix."
    ),
    "ids": (
        "EC2 security groups, launch templates and the resources of RunInstances have generated ids in their ARNs; "
        "each statement on them is limited by the Name tag Layer0 sets (l0-<prefix>-*), the Layer0 VPC (ec2:Vpc), "
        "the launching template (ec2:LaunchTemplate), the image owner (amazon) or the creating action; key pairs are "
        "the operator's optional SSH key, chosen at deploy time (LAYER0_AWS_SSH_KEY_PAIR)."
    ),
    "parameters": (
        "The AMI ids come from AWS's public SSM parameters for the ECS-optimised images; the wildcard is the "
        "image variant under the two documented parameter paths."
    ),
}


class EnvironmentsPolicy(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: Config, vpc_id: str, instance_role: iam.IRole):
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        names = config.resource_name("*")  # l0-<prefix>-*

        def arn(service: str, resource: str, name: str, *, account: bool = True, sep=ArnFormat.SLASH_RESOURCE_NAME):
            return stack.format_arn(
                service=service,
                resource=resource,
                resource_name=name,
                arn_format=sep,
                **({} if account else {"account": ""}),
            )

        clusters = arn("ecs", "cluster", names)
        capacity_providers = arn("ecs", "capacity-provider", names)
        cluster_contents = [
            arn("ecs", "container-instance", f"{names}/*"),
            arn("ecs", "service", f"{names}/*"),
            arn("ecs", "task", f"{names}/*"),
        ]
        auto_scaling_groups = arn(
            "autoscaling", "autoScalingGroup", f"*:autoScalingGroupName/{names}", sep=ArnFormat.COLON_RESOURCE_NAME
        )
        list_cluster_contents = iam.PolicyStatement(
            sid="ListClusterContents",
            actions=["ecs:ListServices", "ecs:ListTasks"],
            resources=["*"],
            conditions={"ArnLike": {"ecs:cluster": clusters}},
        )
        security_groups = arn("ec2", "security-group", "*")
        launch_templates = arn("ec2", "launch-template", "*")
        name_tag = {"StringLike": {"aws:RequestTag/Name": names}}
        has_name_tag = {"StringLike": {"ec2:ResourceTag/Name": names}}
        statements = [
            iam.PolicyStatement(sid="DescribeEnvironments", actions=list(READ_ONLY_ACTIONS), resources=["*"]),
            list_cluster_contents,
            iam.PolicyStatement(
                sid="Clusters",
                actions=[
                    "ecs:CreateCluster",
                    "ecs:DeleteCluster",
                    "ecs:DescribeClusters",
                    "ecs:ListContainerInstances",
                    "ecs:PutClusterCapacityProviders",
                ],
                resources=[arn("ecs", "cluster", names)],
            ),
            # A managed environment's capacity provider (layer0.capacity); a failed create's rollback deletes it.
            iam.PolicyStatement(
                sid="CapacityProviders",
                actions=[
                    "ecs:CreateCapacityProvider",
                    "ecs:DescribeCapacityProviders",
                    "ecs:DeleteCapacityProvider",
                ],
                resources=[capacity_providers],
            ),
            iam.PolicyStatement(
                sid="ClusterContents",
                actions=[
                    "ecs:DescribeContainerInstances",
                    "ecs:DescribeServices",
                    "ecs:UpdateService",
                    "ecs:DeleteService",
                    "ecs:DescribeTasks",
                    "ecs:StopTask",
                ],
                resources=[
                    arn("ecs", "container-instance", f"{names}/*"),
                    arn("ecs", "service", f"{names}/*"),
                    arn("ecs", "task", f"{names}/*"),
                ],
            ),
            iam.PolicyStatement(
                sid="CreateSecurityGroupsInTheVpc",
                actions=["ec2:CreateSecurityGroup"],
                resources=[arn("ec2", "vpc", vpc_id)],
            ),
            iam.PolicyStatement(
                sid="CreateNamedSecurityGroupsAndLaunchTemplates",
                actions=["ec2:CreateSecurityGroup", "ec2:CreateLaunchTemplate"],
                resources=[security_groups, launch_templates],
                conditions=name_tag,
            ),
            iam.PolicyStatement(
                sid="TagOnCreate",
                actions=["ec2:CreateTags"],
                resources=[security_groups, launch_templates],
                conditions={"StringEquals": {"ec2:CreateAction": ["CreateSecurityGroup", "CreateLaunchTemplate"]}},
            ),
            iam.PolicyStatement(
                sid="ManageNamedSecurityGroupsAndLaunchTemplates",
                actions=[
                    "ec2:AuthorizeSecurityGroupIngress",
                    "ec2:RevokeSecurityGroupIngress",
                    "ec2:DeleteSecurityGroup",
                    "ec2:DeleteLaunchTemplate",
                ],
                resources=[security_groups, launch_templates],
                conditions=has_name_tag,
            ),
            # CreateAutoScalingGroup with a launch template checks that the caller may launch it: only Layer0's own
            # templates (Name l0-<prefix>-*), into the Layer0 VPC, from AWS's images.
            iam.PolicyStatement(
                sid="LaunchFromNamedTemplates",
                actions=["ec2:RunInstances"],
                resources=[launch_templates],
                conditions=has_name_tag,
            ),
            iam.PolicyStatement(
                sid="LaunchIntoTheLayer0Vpc",
                actions=["ec2:RunInstances"],
                resources=[arn("ec2", "subnet", "*"), arn("ec2", "network-interface", "*"), security_groups],
                conditions={"ArnEquals": {"ec2:Vpc": arn("ec2", "vpc", vpc_id)}},
            ),
            iam.PolicyStatement(
                sid="LaunchInstancesFromATemplate",
                actions=["ec2:RunInstances"],
                resources=[arn("ec2", "instance", "*"), arn("ec2", "volume", "*")],
                conditions={"ArnLike": {"ec2:LaunchTemplate": launch_templates}},
            ),
            iam.PolicyStatement(
                sid="LaunchAwsImages",
                actions=["ec2:RunInstances"],
                resources=[arn("ec2", "image", "*", account=False)],
                conditions={"StringEquals": {"ec2:Owner": "amazon"}},
            ),
            iam.PolicyStatement(
                sid="LaunchWithTheKeyPair", actions=["ec2:RunInstances"], resources=[arn("ec2", "key-pair", "*")]
            ),
            iam.PolicyStatement(
                sid="TagLaunchedResources",
                actions=["ec2:CreateTags"],
                resources=[
                    arn("ec2", "instance", "*"),
                    arn("ec2", "volume", "*"),
                    arn("ec2", "network-interface", "*"),
                ],
                conditions={"StringEquals": {"ec2:CreateAction": "RunInstances"}},
            ),
            iam.PolicyStatement(
                sid="AutoScalingGroups",
                actions=[
                    "autoscaling:CreateAutoScalingGroup",
                    "autoscaling:UpdateAutoScalingGroup",
                    "autoscaling:DeleteAutoScalingGroup",
                    "autoscaling:SetDesiredCapacity",
                    "autoscaling:TerminateInstanceInAutoScalingGroup",
                    "autoscaling:CreateOrUpdateTags",
                ],
                resources=[
                    arn(
                        "autoscaling",
                        "autoScalingGroup",
                        f"*:autoScalingGroupName/{names}",
                        sep=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            ),
            iam.PolicyStatement(
                sid="LoadBalancersOfEnvironments",
                actions=["elasticloadbalancing:DeleteLoadBalancer"],
                resources=[
                    arn("elasticloadbalancing", "loadbalancer", names),
                    arn("elasticloadbalancing", "loadbalancer", f"app/{names}/*"),
                ],
            ),
            iam.PolicyStatement(
                sid="PassTheInstanceRole",
                actions=["iam:PassRole"],
                resources=[instance_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
            ),
            iam.PolicyStatement(
                sid="AmiParameters",
                actions=["ssm:GetParameter"],
                resources=[arn("ssm", "parameter", path, account=False) for path in AMI_PARAMETERS],
            ),
            service_linked_roles.create_statement(
                stack,
                "ServiceLinkedRoles",
                {
                    "autoscaling.amazonaws.com": "AWSServiceRoleForAutoScaling",
                    "ecs.amazonaws.com": "AWSServiceRoleForECS",
                },
            ),
        ]
        # Inline (not managed), so that the functions' roles keep no ManagedPolicyArns.
        self.policy = iam.Policy(
            self, "Policy", policy_name=config.resource_name("environments"), statements=statements
        )
        # The delete-environment steps (layer0.workflows.delete_environment): read, unlink, and delete.
        self.delete_policy = iam.Policy(
            self,
            "DeletePolicy",
            policy_name=config.resource_name("environment-deletes"),
            statements=[
                iam.PolicyStatement(sid="DescribeEnvironments", actions=list(DELETE_READ_ACTIONS), resources=["*"]),
                list_cluster_contents,
                iam.PolicyStatement(
                    sid="DeleteClusters",
                    actions=["ecs:DeleteCluster", "ecs:PutClusterCapacityProviders"],
                    resources=[clusters],
                ),
                # The DeleteCapacityProvider step: detach (above), then delete.
                iam.PolicyStatement(
                    sid="DeleteCapacityProviders",
                    actions=["ecs:DescribeCapacityProviders", "ecs:DeleteCapacityProvider"],
                    resources=[capacity_providers],
                ),
                # The environment's services go with the delete-service steps (infra/services.py); its tasks here.
                iam.PolicyStatement(
                    sid="StopTasks", actions=["ecs:StopTask"], resources=[arn("ecs", "task", f"{names}/*")]
                ),
                iam.PolicyStatement(
                    sid="DeleteNamedSecurityGroupsAndLaunchTemplates",
                    actions=["ec2:RevokeSecurityGroupIngress", "ec2:DeleteSecurityGroup", "ec2:DeleteLaunchTemplate"],
                    resources=[security_groups, launch_templates],
                    conditions=has_name_tag,
                ),
                iam.PolicyStatement(
                    sid="DeleteAutoScalingGroups",
                    actions=["autoscaling:UpdateAutoScalingGroup", "autoscaling:DeleteAutoScalingGroup"],
                    resources=[auto_scaling_groups],
                ),
            ],
        )
        # The scaler (layer0.scaler.run; the handler's list of environments reads the read model).
        self.scaler_policy = iam.Policy(
            self,
            "ScalerPolicy",
            policy_name=config.resource_name("scaler"),
            statements=[
                iam.PolicyStatement(sid="ReadEnvironments", actions=list(SCALER_READ_ACTIONS), resources=["*"]),
                list_cluster_contents,
                iam.PolicyStatement(sid="ReadClusters", actions=["ecs:ListContainerInstances"], resources=[clusters]),
                iam.PolicyStatement(
                    sid="ReadClusterContents",
                    actions=["ecs:DescribeContainerInstances", "ecs:DescribeServices", "ecs:DescribeTasks"],
                    resources=cluster_contents,
                ),
                # UpdateAutoScalingGroup only raises MaxSize when the plan needs more instances than it allows.
                iam.PolicyStatement(
                    sid="ScaleAutoScalingGroups",
                    actions=[
                        "autoscaling:SetDesiredCapacity",
                        "autoscaling:TerminateInstanceInAutoScalingGroup",
                        "autoscaling:UpdateAutoScalingGroup",
                    ],
                    resources=[auto_scaling_groups],
                ),
            ],
        )
        for policy in (self.policy, self.delete_policy, self.scaler_policy):
            self._acknowledge(stack, policy)

    def _acknowledge(self, stack: Stack, policy: iam.Policy) -> None:
        """cdk-nag IAM5 flags each wildcard; acknowledge the finding ids this policy has, each with its reason."""

        def reason_for(text: str) -> str:
            if text == "*":
                return REASONS["*"]
            if ":ssm:" in text:
                return REASONS["parameters"]
            if ":ec2:" in text:
                return REASONS["ids"]
            return REASONS["names"]

        acknowledge_wildcards(stack, policy, reason_for)

    def attach_to(self, function: lambda_.IFunction) -> None:
        assert function.role is not None
        self.policy.attach_to_role(function.role)

    def attach_delete_to(self, function: lambda_.IFunction) -> None:
        assert function.role is not None
        self.delete_policy.attach_to_role(function.role)

    def attach_scaler_to(self, function: lambda_.IFunction) -> None:
        assert function.role is not None
        self.scaler_policy.attach_to_role(function.role)
