"""The API's JSON models (docs/compatibility.md#json-fields), as the client reads them.

Fields the API adds later are kept (`extra="allow"`), so `-o json` shows them and an older client keeps working
against a newer API. Go `[]byte` fields (`dockerrun`, `user_data_template`) stay base64 strings.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from enum import IntEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Model(BaseModel):
    model_config = ConfigDict(extra="allow")

    def to_json(self) -> dict[str, Any]:
        """As the API sent it: fields it did not send (an older API's missing ones) stay out."""
        return self.model_dump(mode="json", exclude_unset=True)

    def body(self) -> dict[str, Any]:
        """As a request body: every field."""
        return self.model_dump(mode="json")


class JobType(IntEnum):
    """docs/compatibility.md#jobs: 1-5 are the original's, 6 (rollout) is new."""

    DeleteEnvironment = 1
    DeleteService = 2
    DeleteLoadBalancer = 3
    DeleteTask = 4
    CreateTask = 5
    Rollout = 6


JOB_TYPE_NAMES = {
    JobType.DeleteEnvironment: "delete environment",
    JobType.DeleteService: "delete service",
    JobType.DeleteLoadBalancer: "delete load balancer",
    JobType.DeleteTask: "delete task",
    JobType.CreateTask: "create task",
    JobType.Rollout: "rollout",
}


class JobStatus(IntEnum):
    Pending = 1
    InProgress = 2
    Completed = 3
    Error = 4


JOB_STATUS_NAMES = {
    JobStatus.Pending: "pending",
    JobStatus.InProgress: "in progress",
    JobStatus.Completed: "completed",
    JobStatus.Error: "error",
}


def parse_time(text: str) -> dt.datetime | None:
    """An RFC 3339 time as the API writes it (`2026-01-02T03:04:05.123Z`)."""
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


class Tag(Model):
    entity_id: str = ""
    entity_type: str = ""
    key: str = ""
    value: str = ""


class EntityWithTags(Model):
    entity_id: str
    entity_type: str
    tags: list[Tag] = Field(default_factory=list)

    def tag(self, key: str) -> str | None:
        return next((tag.value for tag in self.tags if tag.key == key), None)


class APIConfig(Model):
    prefix: str = ""
    vpc_id: str = ""
    public_subnets: list[str] = Field(default_factory=list)
    private_subnets: list[str] = Field(default_factory=list)


class Job(Model):
    job_id: str
    task_id: str = ""
    job_status: int
    job_type: int
    request: str = ""
    time_created: str = ""
    time_to_exist: int = 0
    meta: dict[str, str] = Field(default_factory=dict)

    @property
    def type_name(self) -> str:
        try:
            return JOB_TYPE_NAMES[JobType(self.job_type)]
        except ValueError:
            return f"(Unknown JobType={self.job_type}!)"

    @property
    def status_name(self) -> str:
        try:
            return JOB_STATUS_NAMES[JobStatus(self.job_status)]
        except ValueError:
            return f"(Unknown JobStatus={self.job_status}!)"

    @property
    def done(self) -> bool:
        return self.job_status in (JobStatus.Completed, JobStatus.Error)


class LogFile(Model):
    name: str
    lines: list[str] = Field(default_factory=list)


class Environment(Model):
    environment_id: str
    environment_name: str = ""
    cluster_count: int = 0
    instance_size: str = ""
    security_group_id: str = ""
    operating_system: str = ""
    ami_id: str = ""
    links: list[str] = Field(default_factory=list)
    # None from an API without Fargate, Graviton and managed scaling.
    environment_type: str | None = None
    architecture: str | None = None
    scaling: str | None = None


class EnvironmentSummary(Model):
    environment_id: str
    environment_name: str = ""
    operating_system: str = ""
    environment_type: str | None = None  # None from an API without Fargate


class ResourceConsumer(Model):
    id: str
    memory: str = ""
    ports: list[int] = Field(default_factory=list)


class ResourceProvider(Model):
    id: str
    in_use: bool = False
    used_ports: list[int] = Field(default_factory=list)
    available_memory: str = ""


class ScalerRunInfo(Model):
    environment_id: str
    scale_before_run: int = 0
    desired_scale_after_run: int = 0
    actual_scale_after_run: int = 0
    unused_resource_providers: int = 0
    pending_resources: list[ResourceConsumer] = Field(default_factory=list)
    resource_providers: list[ResourceProvider] = Field(default_factory=list)


class Deploy(Model):
    dockerrun: str = ""  # base64, as the API sends it
    deploy_id: str
    deploy_name: str = ""
    version: str = ""

    def dockerrun_document(self) -> dict[str, Any]:
        """The re-serialized Dockerrun, or {} when it is not JSON."""
        try:
            document = json.loads(base64.b64decode(self.dockerrun or b""))
        except ValueError:
            return {}
        return document if isinstance(document, dict) else {}


class DeploySummary(Model):
    deploy_id: str
    deploy_name: str = ""
    version: str = ""


class Port(Model):
    certificate_name: str = ""
    certificate_arn: str = ""
    container_port: int = 0
    host_port: int = 0
    protocol: str = ""


class HealthCheck(Model):
    target: str = ""
    interval: int = 0
    timeout: int = 0
    healthy_threshold: int = 0
    unhealthy_threshold: int = 0


class LoadBalancer(Model):
    cross_zone: bool = False
    environment_id: str = ""
    environment_name: str = ""
    health_check: HealthCheck = Field(default_factory=HealthCheck)
    idle_timeout: int = 0
    is_public: bool = False
    load_balancer_id: str
    load_balancer_name: str = ""
    ports: list[Port] = Field(default_factory=list)
    service_id: str = ""
    service_name: str = ""
    url: str = ""
    load_balancer_type: str = "classic"


class LoadBalancerSummary(Model):
    load_balancer_id: str
    load_balancer_name: str = ""
    environment_id: str = ""
    environment_name: str = ""
    load_balancer_type: str = "classic"


class Deployment(Model):
    created: str = ""
    deploy_id: str = ""
    deploy_name: str = ""
    deploy_version: str = ""
    desired_count: int = 0
    pending_count: int = 0
    running_count: int = 0
    status: str = ""
    updated: str = ""
    deployment_id: str = ""
    # ECS's failedTasks (docs/compatibility.md#services); None from an API older than the field.
    failed_tasks: int | None = None


class Autoscaling(Model):
    """The `PUT /service/{id}/autoscaling` body, and the `autoscaling` object of `GET /service/{id}`."""

    min_count: int
    max_count: int
    cpu_target: float | None = None
    memory_target: float | None = None
    requests_per_target: int | None = None
    scale_in_cooldown: int | None = None
    scale_out_cooldown: int | None = None


class Service(Model):
    deployments: list[Deployment] = Field(default_factory=list)
    desired_count: int = 0
    environment_id: str = ""
    environment_name: str = ""
    load_balancer_id: str = ""
    load_balancer_name: str = ""
    pending_count: int = 0
    running_count: int = 0
    service_id: str
    service_name: str = ""
    autoscaling: Autoscaling | None = None


class ServiceSummary(Model):
    service_id: str
    service_name: str = ""
    environment_id: str = ""
    environment_name: str = ""


class TaskDetail(Model):
    container_name: str = ""
    exit_code: int = 0
    last_status: str = ""
    reason: str = ""


class TaskCopy(Model):
    details: list[TaskDetail] = Field(default_factory=list)
    reason: str = ""
    task_copy_id: str = ""


class Task(Model):
    copies: list[TaskCopy] = Field(default_factory=list)
    deploy_id: str = ""
    deploy_name: str = ""
    deploy_version: str = ""
    environment_id: str = ""
    environment_name: str = ""
    pending_count: int = 0
    running_count: int = 0
    task_id: str
    task_name: str = ""

    @property
    def stopped(self) -> bool:
        """Every container of every copy has stopped (ECS's last status)."""
        details = [detail for copy in self.copies for detail in copy.details]
        return bool(details) and all(detail.last_status == "STOPPED" for detail in details)


class TaskSummary(Model):
    task_id: str
    task_name: str = ""
    environment_id: str = ""
    environment_name: str = ""


class Secret(Model):
    """The `POST /secret` answer and `GET /secret` items: never the value."""

    secret_name: str
    secret_arn: str = ""
    last_changed: str = ""
