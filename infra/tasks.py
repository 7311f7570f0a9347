"""What tasks may do in AWS (docs/compatibility.md#tasks, docs/compatibility.md#logs, docs/compatibility.md#scaler),
beyond the environments policy (infra/environments.py).

The environments policy, on the API function, already grants what listing, getting
and deleting tasks need on `l0-<prefix>-*` clusters (ecs:ListTasks, DescribeTasks, StopTask, DescribeClusters,
ListContainerInstances) and ecs:DescribeTaskDefinition. This adds:
- to the create-task job's step function (its run step): ecs:RunTask of the `l0-<prefix>-*` task
  definitions, only into `l0-<prefix>-*` clusters (`ecs:cluster`); iam:PassRole of the instance's own task roles
  (infra/task_roles.py) to the ECS tasks service only, because RunTask passes the task role a deploy's Dockerrun
  names;
  and debounced scaler runs (infra/scaler.py), requested when the environment has no room for the task; in a
  Fargate environment, the deploy's Fargate variant (DescribeTaskDefinition, RegisterTaskDefinition, which passes the
  task execution role `l0-<prefix>-task-execution`) and the environment's security group;
- to the API function: reading the container logs of the Layer0 log group (`GET /task/{id}/logs`);
- to the scaler function: reading the job table, where it finds create-task jobs still waiting for room.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, ArnFormat, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import task_roles
from infra.config import Config
from infra.nag import nag_text
from infra.scaler import Scaler

LOG_ACTIONS = ("logs:DescribeLogStreams", "logs:GetLogEvents")
# What the create-task step calls in a Fargate environment; none takes a resource ARN.
FARGATE_STEP_ACTIONS = ("ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition", "ec2:DescribeSecurityGroups")

REASONS = {
    "clusters": (
        "The create-task step checks the environment's cluster, one of those Layer0 names l0-<prefix>-*; the "
        "wildcard is the environment id, known at run time."
    ),
    "task_definitions": (
        "Tasks run the deploys' task definitions, families l0-<prefix>-<deploy name> with any revision; the "
        "wildcards are the deploy name and revision, chosen at run time, and ecs:cluster limits the target clusters "
        "to l0-<prefix>-*."
    ),
    "roles": task_roles.REASON,
    "*": (
        "ecs:DescribeTaskDefinition, ecs:RegisterTaskDefinition and ec2:DescribeSecurityGroups support no "
        "resource-level permissions: IAM only accepts '*' for them (the Fargate variant of a deploy, and its "
        "environment's security group)."
    ),
    "tasks": (
        "The create-task job's CheckTask step describes the task it started, in an l0-<prefix>-* cluster; the "
        "wildcards are the environment id and the ECS task id, known at run time."
    ),
}


class TasksPolicy(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: Config, log_group: logs.ILogGroup):
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        names = config.resource_name("*")  # l0-<prefix>-*
        task_definitions = stack.format_arn(
            service="ecs",
            resource="task-definition",
            resource_name=f"{names}:*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        clusters = stack.format_arn(
            service="ecs", resource="cluster", resource_name=names, arn_format=ArnFormat.SLASH_RESOURCE_NAME
        )
        roles = task_roles.task_role_arns(stack, config)
        tasks = stack.format_arn(
            service="ecs", resource="task", resource_name=f"{names}/*", arn_format=ArnFormat.SLASH_RESOURCE_NAME
        )
        # Inline (not managed), like the environments policy, so that the functions' roles keep no ManagedPolicyArns.
        self.step_policy = iam.Policy(
            self,
            "StepPolicy",
            policy_name=config.resource_name("task-steps"),
            statements=[
                # Whether the environment has an instance yet (layer0.workflows.create_task).
                iam.PolicyStatement(
                    sid="CheckClusters",
                    actions=["ecs:DescribeClusters", "ecs:ListContainerInstances"],
                    resources=[clusters],
                ),
                # The CheckTask step: whether the started task runs (layer0.workflows.create_task.task_state).
                iam.PolicyStatement(
                    sid="CheckTasks",
                    actions=["ecs:DescribeTasks"],
                    resources=[tasks],
                ),
                iam.PolicyStatement(
                    sid="RunDeploysInLayer0Clusters",
                    actions=["ecs:RunTask"],
                    resources=[task_definitions],
                    conditions={"ArnLike": {"ecs:cluster": clusters}},
                ),
                iam.PolicyStatement(
                    sid="PassTaskRolesToEcsTasks",
                    actions=["iam:PassRole"],
                    resources=roles,
                    conditions={"StringEquals": {"iam:PassedToService": task_roles.TASK_SERVICE}},
                ),
                # In a Fargate environment: the deploy's Fargate variant, made again if it was deregistered since
                # POST /task (layer0.fargate), and the environment's security group (layer0.capacity).
                iam.PolicyStatement(
                    sid="FargateVariantsAndNetwork",
                    actions=list(FARGATE_STEP_ACTIONS),
                    resources=["*"],
                ),
            ],
        )
        for resource, reason in (
            ("*", REASONS["*"]),
            (nag_text(stack.resolve(task_definitions)), REASONS["task_definitions"]),
            *((nag_text(stack.resolve(role)), REASONS["roles"]) for role in roles),
            (nag_text(stack.resolve(clusters)), REASONS["clusters"]),
            (nag_text(stack.resolve(tasks)), REASONS["tasks"]),
        ):
            Validations.of(self.step_policy).acknowledge(
                Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{resource}]", reason=reason)
            )
        self.api_policy = iam.Policy(
            self,
            "ApiPolicy",
            policy_name=config.resource_name("tasks"),
            statements=[
                # The log group's ARN ends with `:*`, which covers its streams.
                iam.PolicyStatement(
                    sid="ReadContainerLogs", actions=list(LOG_ACTIONS), resources=[log_group.log_group_arn]
                ),
            ],
        )

    def grant(
        self, *, api: lambda_.IFunction, steps: lambda_.Function, scaler: Scaler, job_table: dynamodb.ITable
    ) -> None:
        """`steps`: the create-task job's step function."""
        assert api.role is not None and steps.role is not None
        self.api_policy.attach_to_role(api.role)
        self.step_policy.attach_to_role(steps.role)
        scaler.grant_request_run(steps)
        job_table.grant_read_data(scaler.function)
