"""What managing environments may do in AWS (docs/compatibility.md#environments, docs/compatibility.md#scaler): one
managed policy, attached to the API function
(create, get, list, update, link, the scaler, and the rollback of a failed create) and to the workflow-step
function (the delete-environment steps). One inline policy document, attached to both roles.

Scoped to `l0-<prefix>-*` names wherever AWS allows it:
- ECS clusters, services, tasks and container instances by ARN (`cluster/l0-<prefix>-*`, ...);
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
)

AMI_PARAMETERS = ("aws/service/ecs/optimized-ami/*", "aws/service/ami-windows-latest/*")

REASONS = {
    "*": (
        "Describe and List calls (ecs:ListClusters, ec2:Describe*, autoscaling:DescribeAutoScalingGroups, "
        "elasticloadbalancing:DescribeLoadBalancers, ecs:DescribeTaskDefinition) take no resource ARN, and "
        "ecs:ListServices/ListTasks are limited by the ecs:cluster condition to l0-<prefix>-* clusters."
    ),
    "names": (
        "ECS clusters, services, tasks, container instances, Auto Scaling groups and load balancers are limited to "
        "the names Layer0 gives them, l0-<prefix>-*; the wildcard is the environment id and the ECS-generated suffix."
    ),
    "ids": (
        "EC2 security groups, launch templates and the resources of RunInstances have generated ids in their ARNs; "
        "each statement on them is limited by the Name tag Layer0 sets (l0-<prefix>-*) or by the creating action."
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

        security_groups = arn("ec2", "security-group", "*")
        launch_templates = arn("ec2", "launch-template", "*")
        name_tag = {"StringLike": {"aws:RequestTag/Name": names}}
        has_name_tag = {"StringLike": {"ec2:ResourceTag/Name": names}}
        statements = [
            iam.PolicyStatement(sid="DescribeEnvironments", actions=list(READ_ONLY_ACTIONS), resources=["*"]),
            iam.PolicyStatement(
                sid="ListClusterContents",
                actions=["ecs:ListServices", "ecs:ListTasks"],
                resources=["*"],
                conditions={"ArnLike": {"ecs:cluster": arn("ecs", "cluster", names)}},
            ),
            iam.PolicyStatement(
                sid="Clusters",
                actions=[
                    "ecs:CreateCluster",
                    "ecs:DeleteCluster",
                    "ecs:DescribeClusters",
                    "ecs:ListContainerInstances",
                ],
                resources=[arn("ecs", "cluster", names)],
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
            # CreateAutoScalingGroup with a launch template checks that the caller may launch it.
            iam.PolicyStatement(
                sid="LaunchFromNamedTemplates",
                actions=["ec2:RunInstances"],
                resources=[launch_templates],
                conditions=has_name_tag,
            ),
            iam.PolicyStatement(
                sid="LaunchedResources",
                actions=["ec2:RunInstances", "ec2:CreateTags"],
                resources=[
                    arn("ec2", "instance", "*"),
                    arn("ec2", "volume", "*"),
                    arn("ec2", "network-interface", "*"),
                    arn("ec2", "subnet", "*"),
                    security_groups,
                    arn("ec2", "key-pair", "*"),
                    arn("ec2", "image", "*", account=False),
                ],
                conditions={"StringEqualsIfExists": {"ec2:CreateAction": "RunInstances"}},
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
            iam.PolicyStatement(
                sid="ServiceLinkedRoles",
                actions=["iam:CreateServiceLinkedRole"],
                resources=[
                    stack.format_arn(
                        service="iam",
                        region="",
                        resource="role",
                        resource_name=f"aws-service-role/{service}/{role}",
                        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                    )
                    for service, role in (
                        ("autoscaling.amazonaws.com", "AWSServiceRoleForAutoScaling"),
                        ("ecs.amazonaws.com", "AWSServiceRoleForECS"),
                    )
                ],
                conditions={"StringLike": {"iam:AWSServiceName": ["autoscaling.amazonaws.com", "ecs.amazonaws.com"]}},
            ),
        ]
        # Inline (not managed), so that the functions' roles keep no ManagedPolicyArns.
        self.policy = iam.Policy(
            self, "Policy", policy_name=config.resource_name("environments"), statements=statements
        )
        self._acknowledge(stack)

    def _acknowledge(self, stack: Stack) -> None:
        """cdk-nag IAM5 flags each wildcard; acknowledge the finding ids this policy has, each with its reason."""

        def reason_for(text: str) -> str:
            if text == "*":
                return REASONS["*"]
            if ":ssm:" in text:
                return REASONS["parameters"]
            if ":ec2:" in text:
                return REASONS["ids"]
            return REASONS["names"]

        acknowledge_wildcards(stack, self.policy, reason_for)

    def attach_to(self, function: lambda_.IFunction) -> None:
        assert function.role is not None
        self.policy.attach_to_role(function.role)
