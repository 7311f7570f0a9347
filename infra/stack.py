"""The Layer0 stack `l0-<prefix>`: composes network, data, containers, functions and API."""

from __future__ import annotations

import os

from aws_cdk import App, CfnOutput, Environment, Stack, Validations
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from infra.api import Api
from infra.autoscaling import AutoscalingPolicy
from infra.config import Config
from infra.containers import Containers
from infra.data import Data
from infra.deploys import DeploysPolicy
from infra.environments import EnvironmentsPolicy
from infra.functions import Functions
from infra.load_balancers import LoadBalancersPolicy
from infra.network import Network
from infra.read_model import ReadModel
from infra.scaler import Scaler
from infra.secrets import Secrets
from infra.services import ServicesPolicy
from infra.tasks import TasksPolicy
from infra.workflows.construct import Workflows
from layer0 import contract
from layer0.contract import JobType

# Prints the token: base64("username:password") of the auth secret.
TOKEN_COMMAND = (
    "aws secretsmanager get-secret-value --secret-id {secret} --query SecretString --output text | "
    "python3 -c 'import json,sys,base64;s=json.load(sys.stdin);"
    'print(base64.b64encode((s["username"]+":"+s["password"]).encode()).decode())\''
)


# CDK feature flags, set in code so that `python app.py`, the CLI and the tests synthesize the same template
# (the CLI passes cdk.json's context, `python app.py` alone does not). Only flags this stack depends on.
FEATURE_FLAGS = {
    # Server access logs are delivered under a bucket policy, not the legacy LogDeliveryWrite ACL.
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
    # Merge IAM statements that differ only in actions or resources.
    "@aws-cdk/aws-iam:minimizePolicies": True,
}


class Layer0Stack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: Config,
        env: Environment | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id, env=env, description=description)
        self.config = config
        self.network = Network(self, "Network", config=config)
        self.data = Data(self, "Data", config=config)
        self.containers = Containers(self, "Containers", config=config, registry_bucket=self.data.registry_bucket)
        self.functions = Functions(self, "Functions", config=config, environment=self.function_environment())
        self.workflows = Workflows(self, "Workflows", config=config, functions=self.functions)
        self.functions.api.add_environment("LAYER0_JOB_STATE_MACHINE_PREFIX", self.workflows.state_machine_prefix)
        self.api = Api(
            self,
            "Api",
            config=config,
            handler=self.functions.api_alias,
            authorizer_handler=self.functions.authorizer_alias,
        )
        self._grant()
        self._outputs()

    def function_environment(self) -> dict[str, str]:
        """What `layer0.settings.from_environment` reads, for every function."""
        return {
            "LAYER0_PREFIX": self.config.prefix,
            "LAYER0_API_VERSION": self.config.api_version,
            **self.data.table_environment,
            "LAYER0_AUTH_SECRET_ID": self.data.auth_secret.secret_arn,
            "LAYER0_AWS_VPC_ID": self.network.vpc_id,
            "LAYER0_AWS_PUBLIC_SUBNETS": self.network.public_subnet_ids_csv,
            "LAYER0_AWS_PRIVATE_SUBNETS": self.network.private_subnet_ids_csv,
            "LAYER0_AWS_S3_BUCKET": self.data.registry_bucket.bucket_name,
            "LAYER0_AWS_ECS_INSTANCE_PROFILE": self.containers.instance_profile.instance_profile_name,
            "LAYER0_LOG_GROUP": self.containers.log_group.log_group_name,
            **self.config.throughput.environment(),
            "LAYER0_CONTAINER_POLICY": self.config.container_policy,
            "LAYER0_IMDS_HOP_LIMIT": str(self.config.imds_hop_limit),
            "LAYER0_TASK_RETENTION_HOURS": f"{self.config.task_retention_hours:g}",
        }

    def _grant(self) -> None:
        api = self.functions.api
        steps = self.workflows.step_functions
        tables = list(self.data.tables.values())
        for table in tables:
            table.grant_read_write_data(api)
        # POST /admin/sql checks that the tables exist.
        api.add_to_role_policy(
            iam.PolicyStatement(
                sid="DescribeLayer0Tables",
                actions=["dynamodb:DescribeTable"],
                resources=[table.table_arn for table in tables],
            )
        )
        # Environments: clusters, security groups, launch templates, ASGs, named l0-<prefix>-* (infra/environments.py).
        self.environments_policy = EnvironmentsPolicy(
            self,
            "Environments",
            config=self.config,
            vpc_id=self.network.vpc_id,
            instance_role=self.containers.instance_role,
        )
        self.environments_policy.attach_to(api)
        # Services: CreateService, container logs; the delete-service and rollout steps (infra/services.py).
        services = ServicesPolicy(self, "Services", config=self.config, log_group=self.containers.log_group)
        services.attach_to(api)
        # Service autoscaling: Application Auto Scaling targets and policies of ECS services (infra/autoscaling.py).
        autoscaling = AutoscalingPolicy(self, "Autoscaling", config=self.config)
        autoscaling.attach_to(api)
        # Load balancers: ELBs, ALBs, listeners, target groups; deletes in the API and the delete jobs' steps
        # (infra/load_balancers.py).
        load_balancers = LoadBalancersPolicy(self, "LoadBalancers", config=self.config)
        # Deploys: register, read, list and deregister task definitions; pass the instance's task roles
        # (infra/deploys.py).
        DeploysPolicy(self, "Deploys", config=self.config).attach_to(api)
        # Secrets: the key, the task execution role, and the API's secrets policy (infra/secrets.py).
        self.secrets = Secrets(self, "Secrets", config=self.config, log_group=self.containers.log_group)
        self.secrets.attach_to(api)
        self.scaler = Scaler(
            self,
            "Scaler",
            config=self.config,
            functions=self.functions,
            policy=self.environments_policy,
            tag_table=self.data.tables[contract.TAG_TABLE],
        )
        self.scaler.grant_request_run(api)
        # The read model's events function: ECS events and the hourly reconcile (infra/read_model.py).
        self.read_model = ReadModel(
            self,
            "ReadModel",
            config=self.config,
            functions=self.functions,
            tag_table=self.data.tables[contract.TAG_TABLE],
        )
        # Autoscaling changed a desired count, or a task found no room: the events function requests a scaler run.
        self.scaler.grant_request_run(self.read_model.function)
        # Tasks: RunTask from the create-task step, task logs, scaler runs from the step, waiting jobs (infra/tasks.py).
        TasksPolicy(self, "Tasks", config=self.config, log_group=self.containers.log_group).grant(
            api=api, steps=steps[JobType.CreateTask], scaler=self.scaler, job_table=self.data.tables[contract.JOB_TABLE]
        )
        # Jobs: the API starts, stops and reads executions of the job machines (infra/workflows/construct.py).
        self.workflows.grant_jobs(api)
        # Each job's step function gets what its steps call, and nothing else (docs/architecture.md#the-job-path).
        # Every one sets its job's status and meta (the frame's steps): the job table.
        for function in steps.values():
            self.data.tables[contract.JOB_TABLE].grant_read_write_data(function)
        # The tag table: the delete jobs forget tags and names; create-task tags its task and counts its attempts.
        tagging = (JobType.DeleteEnvironment, JobType.DeleteService, JobType.DeleteLoadBalancer, JobType.CreateTask)
        for job_type in tagging:
            self.data.tables[contract.TAG_TABLE].grant_read_write_data(steps[job_type])
        # Delete environment: its own resources, its services, tasks and load balancers.
        self.environments_policy.attach_delete_to(steps[JobType.DeleteEnvironment])
        for job_type in (JobType.DeleteEnvironment, JobType.DeleteService):
            services.attach_delete_steps_to(steps[job_type])
            autoscaling.attach_remove_to(steps[job_type])
        load_balancers.attach_to(api=api, steps=[steps[JobType.DeleteLoadBalancer], steps[JobType.DeleteEnvironment]])
        # Rollout: reads the service and its stopped tasks.
        services.attach_rollout_steps_to(steps[JobType.Rollout])
        # The authorizer reads the token's secret, nothing else.
        self.functions.authorizer.add_to_role_policy(
            iam.PolicyStatement(
                sid="ReadAuthSecret",
                actions=["secretsmanager:GetSecretValue"],
                resources=[self.data.auth_secret.secret_arn],
            )
        )

    def _outputs(self) -> None:
        secret = self.data.auth_secret.secret_arn
        CfnOutput(self, "Endpoint", value=self.api.url, description="LAYER0_API_ENDPOINT (keep the trailing slash)")
        CfnOutput(self, "AuthSecretArn", value=secret, description="Secrets Manager secret holding the API credentials")
        CfnOutput(
            self,
            "Export",
            description="Run these to point the l0 CLI and the Terraform provider at this instance",
            value=f"export LAYER0_API_ENDPOINT={self.api.url}; export LAYER0_AUTH_TOKEN=$("
            + TOKEN_COMMAND.format(secret=secret)
            + ")",
        )


def stack_name(config: Config) -> str:
    return config.name


def build(app: App, *, env: Environment | None = None) -> Layer0Stack:
    """Add cdk-nag and the Layer0 stack to `app`, configured from its context.

    An imported VPC (`-c vpc_id=...`) is looked up, which needs a concrete account and region: `env`,
    or the CLI's CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION.
    """
    for flag, value in FEATURE_FLAGS.items():
        if app.node.try_get_context(flag) is None:
            app.node.set_context(flag, value)
    config = Config.from_context(app.node.try_get_context)
    if env is None and config.vpc_id:
        account, region = os.environ.get("CDK_DEFAULT_ACCOUNT"), os.environ.get("CDK_DEFAULT_REGION")
        if not (account and region):
            raise ValueError(
                "-c vpc_id=... looks the VPC up, which needs an account and region: run through "
                "`npx cdk` with AWS credentials, or set CDK_DEFAULT_ACCOUNT and CDK_DEFAULT_REGION"
            )
        env = Environment(account=account, region=region)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return Layer0Stack(
        app,
        stack_name(config),
        config=config,
        env=env,
        description=f"Layer0 {config.prefix} ({config.api_version}): serverless Layer0 API",
    )
