"""What managing load balancers may do in AWS (docs/compatibility.md#load-balancers; issue 5), beyond the environments
policy
(infra/environments.py). Two inline policies:

- the delete policy, on the API function (the rollback of a failed create) and on the step functions of the
  delete-load-balancer job and of the delete-environment job, which deletes an environment's load balancers
  through the same steps: an ALB's listeners and target groups, and the IAM role `l0-<prefix>-<id>-lb` with its
  inline policies that an adopted classic ELB may still have (Layer0 creates none: ECS uses its service-linked
  role, so no function may create a role or put a role policy);
- the manage policy, on the API function only: create, read and change classic ELBs and ALBs, their listeners and
  target groups; find certificates and subnets; ELB's service-linked role.

Scoped to what Layer0 names: load balancers `l0-<prefix>-<id>` (classic `loadbalancer/l0-<prefix>-*`, ALB
`loadbalancer/app/l0-<prefix>-*/*` and its listeners), target groups `l0-<prefix>-*`, legacy roles `l0-<prefix>-*-lb`.
Describe calls take no resource ARN and get `*`.

The environments policy, on both functions, already grants what else the load balancers need:
elasticloadbalancing:DescribeLoadBalancers and DeleteLoadBalancer (on the same load-balancer ARNs), and, for the
public load balancer's own security group `l0-<prefix>-<id>-lb` (Name-tagged like the environments' groups),
ec2:DescribeSecurityGroups, CreateSecurityGroup, CreateTags on create, Authorize/RevokeSecurityGroupIngress and
DeleteSecurityGroup.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import service_linked_roles
from infra.config import Config
from infra.nag import acknowledge_wildcards

ELB_SERVICE = "elasticloadbalancing.amazonaws.com"

# Calls that take no resource ARN.
# DescribeTags: an ALB's target groups whose names are hashed (a long prefix) are found by their tag.
DELETE_READ_ACTIONS = (
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTags",
    "ec2:DescribeSecurityGroups",
)
MANAGE_READ_ACTIONS = (
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "ec2:DescribeSubnets",
    "iam:ListServerCertificates",
)
TAGGED_CREATE_ACTIONS = ("CreateLoadBalancer", "CreateTargetGroup")
ROLE_DELETE_ACTIONS = ("iam:ListRolePolicies", "iam:DeleteRolePolicy", "iam:DeleteRole")
CLASSIC_ACTIONS = (
    "elasticloadbalancing:CreateLoadBalancer",
    "elasticloadbalancing:ConfigureHealthCheck",
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "elasticloadbalancing:CreateLoadBalancerListeners",
    "elasticloadbalancing:DeleteLoadBalancerListeners",
)
APPLICATION_ACTIONS = (
    "elasticloadbalancing:CreateLoadBalancer",
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "elasticloadbalancing:CreateListener",
)
LISTENER_ACTIONS = ("elasticloadbalancing:ModifyListener",)
TARGET_GROUP_ACTIONS = (
    "elasticloadbalancing:CreateTargetGroup",
    "elasticloadbalancing:ModifyTargetGroup",
    "elasticloadbalancing:ModifyTargetGroupAttributes",
)

REASONS = {
    "*": (
        "elasticloadbalancing:Describe* (listeners, target groups, attributes, tags), ec2:DescribeSubnets and "
        "iam:ListServerCertificates take no resource ARN (AWS documents Resource '*'); all of them only read."
    ),
    "load_balancers": (
        "Load balancers, their listeners and target groups are limited to the names Layer0 gives them, "
        "l0-<prefix>-<id>; the wildcards are the load balancer id and the ids AWS appends to ALB, listener and "
        "target group ARNs."
    ),
    "roles": (
        "A classic ELB of an adopted instance may have the legacy IAM role l0-<prefix>-<id>-lb "
        "(docs/compatibility.md#load-balancers), which its delete removes (list, delete policies, delete); the "
        "wildcard is the load balancer id, known at run time."
    ),
    "security_groups": (
        "EC2 security groups have generated ids in their ARNs: DeleteSecurityGroup is limited by the Name tag Layer0 "
        "sets on a public load balancer's group (l0-<prefix>-<id>-lb)."
    ),
    "certificates": (
        "HTTPS listeners take any ACM certificate of the account and region that the user names by ARN; "
        "acm:DescribeCertificate only checks that it exists."
    ),
}


class LoadBalancersPolicy(Construct):
    """`delete_policy` (attach to both functions) and `manage_policy` (the API function): see the module."""

    def __init__(self, scope: Construct, construct_id: str, *, config: Config):
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        names = config.resource_name("*")  # l0-<prefix>-*

        def arn(service: str, resource: str, name: str, *, region: bool = True) -> str:
            return stack.format_arn(
                service=service,
                resource=resource,
                resource_name=name,
                arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                **({} if region else {"region": ""}),
            )

        classic = arn("elasticloadbalancing", "loadbalancer", names)
        application = arn("elasticloadbalancing", "loadbalancer", f"app/{names}/*")
        listeners = arn("elasticloadbalancing", "listener", f"app/{names}/*/*")
        target_groups = arn("elasticloadbalancing", "targetgroup", f"{names}/*")
        roles = arn("iam", "role", f"{names}-lb", region=False)

        self.delete_policy = iam.Policy(
            self,
            "DeletePolicy",
            policy_name=config.resource_name("load-balancer-deletes"),
            statements=[
                iam.PolicyStatement(
                    sid="ReadListenersAndTargetGroups", actions=list(DELETE_READ_ACTIONS), resources=["*"]
                ),
                iam.PolicyStatement(
                    sid="DeleteLoadBalancers",
                    actions=["elasticloadbalancing:DeleteLoadBalancer"],
                    resources=[classic, application],
                ),
                # The public load balancer's own group, l0-<prefix>-<id>-lb, Name-tagged when Layer0 made it.
                iam.PolicyStatement(
                    sid="DeletePublicSecurityGroups",
                    actions=["ec2:DeleteSecurityGroup"],
                    resources=[arn("ec2", "security-group", "*")],
                    conditions={"StringLike": {"ec2:ResourceTag/Name": names}},
                ),
                iam.PolicyStatement(
                    sid="DeleteListeners", actions=["elasticloadbalancing:DeleteListener"], resources=[listeners]
                ),
                iam.PolicyStatement(
                    sid="DeleteTargetGroups",
                    actions=["elasticloadbalancing:DeleteTargetGroup"],
                    resources=[target_groups],
                ),
                iam.PolicyStatement(
                    sid="DeleteLegacyLoadBalancerRoles", actions=list(ROLE_DELETE_ACTIONS), resources=[roles]
                ),
            ],
        )
        self.manage_policy = iam.Policy(
            self,
            "ManagePolicy",
            policy_name=config.resource_name("load-balancers"),
            statements=[
                iam.PolicyStatement(
                    sid="ReadLoadBalancersAndInputs", actions=list(MANAGE_READ_ACTIONS), resources=["*"]
                ),
                iam.PolicyStatement(sid="ClassicLoadBalancers", actions=list(CLASSIC_ACTIONS), resources=[classic]),
                # CreateListener is authorized on the load balancer; ModifyListener on the listener.
                iam.PolicyStatement(
                    sid="ApplicationLoadBalancers", actions=list(APPLICATION_ACTIONS), resources=[application]
                ),
                iam.PolicyStatement(sid="Listeners", actions=list(LISTENER_ACTIONS), resources=[listeners]),
                iam.PolicyStatement(sid="TargetGroups", actions=list(TARGET_GROUP_ACTIONS), resources=[target_groups]),
                # An ALB and its target groups are tagged as they are created (ELB authorizes AddTags then),
                # never after.
                iam.PolicyStatement(
                    sid="TagOnCreate",
                    actions=["elasticloadbalancing:AddTags"],
                    resources=[application, target_groups],
                    conditions={"StringEquals": {"elasticloadbalancing:CreateAction": list(TAGGED_CREATE_ACTIONS)}},
                ),
                iam.PolicyStatement(
                    sid="DescribeAcmCertificates",
                    actions=["acm:DescribeCertificate"],
                    resources=[arn("acm", "certificate", "*")],
                ),
                # The account's first load balancer creates ELB's service-linked role.
                service_linked_roles.create_statement(
                    stack, "ElbServiceLinkedRole", {ELB_SERVICE: "AWSServiceRoleForElasticLoadBalancing"}
                ),
            ],
        )
        for policy in (self.delete_policy, self.manage_policy):
            acknowledge_wildcards(stack, policy, _reason_for)

    def attach_to(self, *, api: lambda_.IFunction, steps: list[lambda_.IFunction]) -> None:
        """`steps`: the step functions of the jobs that delete load balancers (delete-load-balancer and
        delete-environment)."""
        assert api.role is not None
        self.delete_policy.attach_to_role(api.role)
        self.manage_policy.attach_to_role(api.role)
        for function in steps:
            assert function.role is not None
            self.delete_policy.attach_to_role(function.role)


def _reason_for(text: str) -> str:
    """Why a wildcard of these policies is acknowledged (cdk-nag IAM5)."""
    if text == "*":
        return REASONS["*"]
    if ":acm:" in text:
        return REASONS["certificates"]
    if ":iam:" in text:
        return REASONS["roles"]
    if ":ec2:" in text:
        return REASONS["security_groups"]
    return REASONS["load_balancers"]
