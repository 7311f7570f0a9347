"""Services (docs/compatibility.md#services, with the changes of docs/compatibility.md#differences-on-purpose-and-why)
and their rollouts (job type 6).

A service `<id>` of environment `<env>` is the ECS service `l0-<prefix>-<id>` in the cluster `l0-<prefix>-<env>`,
placed binpack on memory, with the deployment circuit breaker and rollback on. Tags (entity type `service`):
`name`, `environment_id`, and `load_balancer_id` when it runs behind one. A name is unique in its environment:
it is claimed atomically (entity type `service_name`, id `<env>:<name>`) before anything is created, so
concurrent creates with one name make one service; a duplicate is 400 with code 13 (the original answered 500).

Create, scale and update answer 200 with the Service, as Layer0 does, and start a rollout job (type 6) that
follows the deployment they started until it is steady (job completed) or failed (job error, with the stopped
tasks' reasons; layer0.workflows.rollout). Deleting a service is job type 2 (layer0.workflows.delete_service): scale
to 0, stop its tasks (the original never managed to), delete it, and forget its tags and name.
"""

from __future__ import annotations

import json
import logging
import time
import uuid

from botocore.exceptions import ClientError

from layer0 import autoscaling, aws, capacity, environments, ids, jobs, scaler, settings
from layer0 import load_balancers as lbs
from layer0 import logs as log_store
from layer0.errors import ErrorCode, Layer0Error, aws_error_code, aws_error_message, missing_parameter
from layer0.models import (
    Autoscaling,
    AutoscalingRequest,
    CreateServiceRequest,
    Deployment,
    Job,
    LogFile,
    Service,
    ServiceSummary,
    Tag,
    rfc3339,
)
from layer0.stores import rows as row_store
from layer0.stores import tags as tag_store

logger = logging.getLogger(__name__)

ENTITY_TYPE = "service"
ROW_KIND = "service"  # its rows in the read model (layer0.stores.rows)
NAME_CLAIM_TYPE = "service_name"
# The tag `autoscaled` = "true": Layer0 autoscaled the service, so its Get asks Application Auto Scaling; every other
# service's Get makes no call there (docs/compatibility.md#service-autoscaling).
AUTOSCALED_TAG = "autoscaled"
STOP_REASON = "Service deleted by User"

# The circuit breaker stops a deployment whose tasks keep failing and rolls the service back to its last
# steady deployment; the rollout job reports the failure.
DEPLOYMENT_CONFIGURATION = {
    "deploymentCircuitBreaker": {"enable": True, "rollback": True},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}

# ECS's service-linked role, created with an account's first cluster, may not be usable yet (IAM propagation). The
# original retried 10 x 5 s for its load-balancer role; an API call must stay short, so a few quick attempts.
IAM_PROPAGATION_MESSAGE = "unable to assume role"
CREATE_ATTEMPTS = 3
CREATE_RETRY_SECONDS = 2.0


def _cluster(environment_id: str) -> str:
    return ids.aws_name(environment_id)


def not_found(service_id: str) -> Layer0Error:
    return Layer0Error(ErrorCode.ServiceDoesNotExist, f"Service with id '{service_id}' does not exist")


def _claim_id(environment_id: str, name: str) -> str:
    return f"{environment_id}:{name}"


def _tag_values(entity_type: str, entity_id: str) -> dict[str, str]:
    return {t.key: t.value for t in tag_store.select_by_type_and_id(entity_type, entity_id)}


def _grouped(entity_type: str) -> dict[str, dict[str, str]]:
    grouped: dict[str, dict[str, str]] = {}
    for tag in tag_store.select_by_type(entity_type):
        grouped.setdefault(tag.entity_id, {})[tag.key] = tag.value
    return grouped


# --- reading ECS ----------------------------------------------------------------------------------------------------


def _layer0_clusters() -> list[str]:
    prefix = settings.get().aws_name_prefix
    pages = aws.client("ecs").get_paginator("list_clusters").paginate()
    names = [arn.split("/", 1)[-1] for page in pages for arn in page["clusterArns"]]
    return [name for name in names if name.startswith(prefix)]


def _service_names(cluster: str) -> list[str]:
    """Names of the cluster's services with the Layer0 prefix; none if the cluster is gone."""
    ecs = aws.client("ecs")
    prefix = settings.get().aws_name_prefix
    try:
        arns = [
            arn for page in ecs.get_paginator("list_services").paginate(cluster=cluster) for arn in page["serviceArns"]
        ]
    except ecs.exceptions.ClusterNotFoundException:
        return []
    names = [arn.rsplit("/", 1)[-1] for arn in arns]
    return [name for name in names if name.startswith(prefix)]


def describe_any(environment_id: str, service_id: str) -> dict | None:
    """The ECS service whatever its status (ACTIVE, DRAINING or INACTIVE), or None."""
    ecs = aws.client("ecs")
    try:
        found = ecs.describe_services(cluster=_cluster(environment_id), services=[ids.aws_name(service_id)])["services"]
    except ecs.exceptions.ClusterNotFoundException:
        return None
    return found[0] if found else None


def _describe(environment_id: str, service_id: str) -> dict | None:
    """The ECS service if it is ACTIVE: a deleted one stays describable for a while, DRAINING then INACTIVE."""
    service = describe_any(environment_id, service_id)
    return service if service and service.get("status") == "ACTIVE" else None


def _search_environment(service_id: str) -> str | None:
    """The environment whose cluster has the service (docs/compatibility.md#services: when the service has no
    environment tag)."""
    name = ids.aws_name(service_id)
    for cluster in _layer0_clusters():
        if name in _service_names(cluster):
            return ids.layer0_id(cluster)
    return None


def locate(service_id: str) -> tuple[str | None, dict[str, str]]:
    """(environment id or None, the service's tags)."""
    values = _tag_values(ENTITY_TYPE, service_id)
    return values.get("environment_id") or _search_environment(service_id), values


# --- the model ------------------------------------------------------------------------------------------------------


def _deploy_parts(deploy_id: str) -> tuple[str, str]:
    name, _, version = deploy_id.rpartition(".")
    return (name, version) if name else (deploy_id, "")


def _deployment(deployment: dict, deploy_tags: dict[str, str]) -> Deployment:
    deploy_id = ids.deploy_id(deployment.get("taskDefinition", ""))
    name, version = _deploy_parts(deploy_id)
    return Deployment(
        created=rfc3339(deployment.get("createdAt")),
        deploy_id=deploy_id,
        deploy_name=deploy_tags.get("name") or name,
        deploy_version=deploy_tags.get("version") or version,
        desired_count=deployment.get("desiredCount", 0),
        pending_count=deployment.get("pendingCount", 0),
        running_count=deployment.get("runningCount", 0),
        status=deployment.get("status", ""),
        updated=rfc3339(deployment.get("updatedAt")),
        deployment_id=deployment.get("id", ""),
        failed_tasks=deployment.get("failedTasks", 0),
    )


def _model(service: dict, environment_id: str, values: dict[str, str], scaling: Autoscaling | None = None) -> Service:
    """The Service from an ECS service description, names from tags (docs/compatibility.md#services, Get), and its
    autoscaling (docs/compatibility.md#service-autoscaling)."""
    load_balancer_id = values.get("load_balancer_id", "")
    if not load_balancer_id:
        attached = [lb["loadBalancerName"] for lb in service.get("loadBalancers", []) if lb.get("loadBalancerName")]
        load_balancer_id = ids.layer0_id(attached[0]) if attached else ""
    deployments = []
    for deployment in service.get("deployments", []):
        deploy_id = ids.deploy_id(deployment.get("taskDefinition", ""))
        deployments.append(_deployment(deployment, _tag_values("deploy", deploy_id)))
    return Service(
        deployments=deployments,
        desired_count=service.get("desiredCount", 0),
        environment_id=environment_id,
        environment_name=_tag_values("environment", environment_id).get("name", ""),
        load_balancer_id=load_balancer_id,
        load_balancer_name=_tag_values(lbs.ENTITY_TYPE, load_balancer_id).get("name", "") if load_balancer_id else "",
        pending_count=service.get("pendingCount", 0),
        running_count=service.get("runningCount", 0),
        service_id=ids.layer0_id(service["serviceName"]),
        service_name=values.get("name", ""),
        autoscaling=scaling,
    )


def _autoscaling(environment_id: str, service_id: str, values: dict[str, str]) -> Autoscaling | None:
    if values.get(AUTOSCALED_TAG) != "true":
        return None
    return autoscaling.current(environment_id, service_id)


def primary_deployment_id(service: dict) -> str:
    primary = [d for d in service.get("deployments", []) if d.get("status") == "PRIMARY"]
    return primary[0]["id"] if primary else ""


def _start_rollout(service_id: str, environment_id: str, service: dict) -> Job:
    request = {
        "service_id": service_id,
        "environment_id": environment_id,
        "deployment_id": primary_deployment_id(service),
    }
    return jobs.create(jobs.JobType.Rollout, json.dumps(request))


# --- routes ---------------------------------------------------------------------------------------------------------


def get(service_id: str) -> Service:
    environment_id, values = locate(service_id)
    if not environment_id or (service := _describe(environment_id, service_id)) is None:
        raise not_found(service_id)
    return _model(service, environment_id, values, _autoscaling(environment_id, service_id, values))


def list_all() -> list[ServiceSummary]:
    """The read model's service rows: one Query, whatever the number of environments and services
    (docs/architecture.md#the-read-model)."""
    return [ServiceSummary(**fields) for fields in row_store.listed(ROW_KIND)]


def write_row(service_id: str, name: str, environment_id: str, version: int | None = None) -> bool:
    """The service's row in the read model, as `GET /service` lists it."""
    fields = {
        "service_id": service_id,
        "service_name": name,
        "environment_id": environment_id,
        "environment_name": _tag_values("environment", environment_id).get("name", ""),
    }
    return row_store.put(row_store.Row(ROW_KIND, service_id, fields, version=version or row_store.now_ms()))


def refresh_row(environment_id: str, service_id: str, version: int) -> str:
    """Make the service's row what ECS has now (an ECS service or deployment event about it, `version` the event's
    time in ms): written while the service is ACTIVE, deleted once it is not. A row written after the event (a
    newer version) stays as it is. Returns what was done."""
    service = describe_any(environment_id, service_id)
    if service is None or service.get("status") != "ACTIVE":
        return "deleted" if row_store.delete_if_older(ROW_KIND, service_id, version) else "kept"
    name = _tag_values(ENTITY_TYPE, service_id).get("name", "")
    return "written" if write_row(service_id, name, environment_id, version) else "kept"


def observed_rows() -> list[row_store.Row]:
    """The rows as ECS has them (the hourly reconcile, docs/architecture.md#the-read-model): ListClusters,
    ListServices per Layer0 cluster, DescribeServices (10 a call: moto, unlike ECS, keeps listing deleted services)
    and two tag queries. A service made outside Layer0 has no name."""
    service_tags = _grouped(ENTITY_TYPE)
    environment_names = {env: values.get("name", "") for env, values in _grouped("environment").items()}
    ecs = aws.client("ecs")
    version = row_store.now_ms()
    rows = []
    for cluster in _layer0_clusters():
        environment_id = ids.layer0_id(cluster)
        names = _service_names(cluster)
        for start in range(0, len(names), 10):
            try:
                described = ecs.describe_services(cluster=cluster, services=names[start : start + 10])["services"]
            except ecs.exceptions.ClusterNotFoundException:
                break
            for service in described:
                if service.get("status") != "ACTIVE":
                    continue
                service_id = ids.layer0_id(service["serviceName"])
                fields = {
                    "service_id": service_id,
                    "service_name": service_tags.get(service_id, {}).get("name", ""),
                    "environment_id": environment_id,
                    "environment_name": environment_names.get(environment_id, ""),
                }
                rows.append(row_store.Row(ROW_KIND, service_id, fields, version=version))
    return rows


def _validate(request: CreateServiceRequest) -> None:
    for field in ("environment_id", "service_name", "deploy_id"):
        if not getattr(request, field):
            raise missing_parameter(field)


def _environment_not_found(environment_id: str) -> Layer0Error:
    return Layer0Error(ErrorCode.InvalidEnvironmentID, f"Environment with id '{environment_id}' was not found")


def _name_taken(environment_id: str, name: str) -> bool:
    """A service of an adopted Layer0 instance, tagged before name claims existed, with this name here."""
    return any(
        values.get("name") == name and values.get("environment_id") == environment_id
        for values in _grouped(ENTITY_TYPE).values()
    )


def _create_ecs_service(params: dict, environment_id: str) -> dict:
    ecs = aws.client("ecs")
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        try:
            return ecs.create_service(**params)["service"]
        except ClientError as error:
            if aws_error_code(error) == "ClusterNotFoundException":
                raise _environment_not_found(environment_id) from None
            if "was not idempotent" in aws_error_message(error):
                raise Layer0Error(ErrorCode.InvalidServiceID, aws_error_message(error)) from None
            if IAM_PROPAGATION_MESSAGE in aws_error_message(error).lower() and attempt < CREATE_ATTEMPTS:
                logger.info("CreateService: ECS's role is not usable yet (attempt %d)", attempt)
                time.sleep(CREATE_RETRY_SECONDS)
                continue
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def _check_target_type(where: capacity.Placement, load_balancer_id: str) -> None:
    """A Fargate task registers by IP: only with an application load balancer of a Fargate environment (its target
    groups are `ip`), never with a classic ELB; an EC2 service needs `instance` targets
    (docs/compatibility.md#fargate-environments)."""
    wanted = where.target_type
    if lbs.target_type(load_balancer_id) != wanted:
        kind = "a Fargate environment" if wanted == "ip" else "an EC2 environment"
        raise Layer0Error(
            ErrorCode.InvalidJSON,
            f"Load balancer '{load_balancer_id}' cannot front a service in {kind}: "
            + (
                "Fargate tasks register by IP, with an application load balancer of a Fargate environment"
                if wanted == "ip"
                else "its targets are IP addresses of Fargate tasks"
            ),
        )


def create(request: CreateServiceRequest) -> tuple[Service, Job]:
    _validate(request)
    environment_id, name, deploy_id = request.environment_id, request.service_name, request.deploy_id
    if not environments.cluster_active(environment_id):
        raise _environment_not_found(environment_id)
    where = capacity.placement(environment_id)
    # On Fargate, the deploy's Fargate variant, registered now (layer0.fargate).
    task_definition_name, task_definition = capacity.task_definition(where, deploy_id)
    load_balancers: list[dict] = []
    if request.load_balancer_id:
        # No `role`: ECS uses its service-linked role (docs/compatibility.md#services).
        load_balancers = lbs.service_attachment(request.load_balancer_id, task_definition)
        _check_target_type(where, request.load_balancer_id)

    service_id = ids.hashed(name)
    claim = _claim_id(environment_id, name)
    duplicate = Layer0Error(
        ErrorCode.InvalidServiceName, f"Service with name '{name}' already exists in environment '{environment_id}'"
    )
    if not tag_store.claim(NAME_CLAIM_TYPE, claim, {"service_id": service_id}):
        raise duplicate
    if _name_taken(environment_id, name):
        tag_store.release(NAME_CLAIM_TYPE, claim, "service_id", service_id)
        raise duplicate

    params = {
        "cluster": _cluster(environment_id),
        "serviceName": ids.aws_name(service_id),
        "taskDefinition": task_definition_name,
        "desiredCount": 1,
        "deploymentConfiguration": DEPLOYMENT_CONFIGURATION,
        # One token for every attempt: ECS answers a retry whose first answer was lost with the service it made.
        "clientToken": str(uuid.uuid4()),
        # Fargate's strategy and network, or EC2's binpack, capacity provider strategy and architecture constraint
        # (docs/architecture.md#capacity-providers).
        **capacity.launch_arguments(where),
    }
    if load_balancers:
        params["loadBalancers"] = load_balancers
    values = {"name": name, "environment_id": environment_id}
    if request.load_balancer_id:
        values["load_balancer_id"] = request.load_balancer_id
    created = None
    try:
        created = _create_ecs_service(params, environment_id)
        for key, value in values.items():
            tag_store.insert(Tag(entity_type=ENTITY_TYPE, entity_id=service_id, key=key, value=value))
        write_row(service_id, name, environment_id)
        job = _start_rollout(service_id, environment_id, created)
    except Exception as error:
        # Nothing half-created: the service, its tags and the name claim go again. A CreateService whose every
        # answer was lost may have made the service: it goes too (the name is claimed, so it is this one's).
        logger.exception("Creating service %s failed: rolling back", service_id)
        if created is not None or aws.may_have_taken_effect(error):
            try:
                delete_ecs_service(service_id, environment_id)
            except Exception:  # noqa: BLE001 - the original error is the answer
                logger.exception("Rollback of service %s failed", service_id)
        row_store.delete(ROW_KIND, service_id)
        tag_store.delete_entity(ENTITY_TYPE, service_id)
        tag_store.release(NAME_CLAIM_TYPE, claim, "service_id", service_id)
        raise
    scaler.request_run_soon(environment_id)
    return _model(created, environment_id, values), job


def _existing(service_id: str) -> tuple[str, dict, dict[str, str]]:
    """(environment id, ECS service, tags) of an active service, or 404 with code 28."""
    environment_id, values = locate(service_id)
    if not environment_id or (service := _describe(environment_id, service_id)) is None:
        raise not_found(service_id)
    return environment_id, service, values


def scale(service_id: str, desired_count: int) -> tuple[Service, Job]:
    if desired_count < 0:
        raise Layer0Error(ErrorCode.InvalidJSON, "desired_count must be 0 or more")
    environment_id, service, values = _existing(service_id)
    scaling = _autoscaling(environment_id, service_id, values)
    autoscaling.check_count(scaling, service_id, desired_count)
    if service.get("desiredCount") != desired_count:
        service = aws.client("ecs").update_service(
            cluster=_cluster(environment_id), service=ids.aws_name(service_id), desiredCount=desired_count
        )["service"]
    job = _start_rollout(service_id, environment_id, service)
    scaler.request_run_soon(environment_id)
    return _model(service, environment_id, values, scaling), job


def update_deploy(service_id: str, deploy_id: str) -> tuple[Service, Job]:
    if not deploy_id:
        raise missing_parameter("deploy_id")
    environment_id, _service, values = _existing(service_id)
    task_definition_name, _definition = capacity.task_definition(capacity.placement(environment_id), deploy_id)
    ecs = aws.client("ecs")
    try:
        service = ecs.update_service(
            cluster=_cluster(environment_id),
            service=ids.aws_name(service_id),
            taskDefinition=task_definition_name,
            # Services made by the original Layer0 get the circuit breaker on their first update.
            deploymentConfiguration=DEPLOYMENT_CONFIGURATION,
        )["service"]
    except (ecs.exceptions.ServiceNotFoundException, ecs.exceptions.ServiceNotActiveException):
        raise not_found(service_id) from None
    job = _start_rollout(service_id, environment_id, service)
    scaler.request_run_soon(environment_id)
    return _model(service, environment_id, values, _autoscaling(environment_id, service_id, values)), job


def set_autoscaling(service_id: str, request: AutoscalingRequest) -> Service:
    """PUT /service/{id}/autoscaling (docs/compatibility.md#service-autoscaling): every rule is checked before
    Application Auto Scaling is called; `requests_per_target` needs an application load balancer (400, code 1)."""
    environment_id, service, values = _existing(service_id)
    label = None
    if request.requests_per_target is not None:
        label = autoscaling.resource_label(service)
        if label is None:
            raise Layer0Error(
                ErrorCode.InvalidJSON,
                f"requests_per_target needs an application load balancer: service '{service_id}' runs behind none",
            )
    # The marker first: one left by a failed apply only costs the Get a call that finds nothing.
    tag_store.insert(Tag(entity_type=ENTITY_TYPE, entity_id=service_id, key=AUTOSCALED_TAG, value="true"))
    scaling = autoscaling.apply(environment_id, service_id, request, label)
    # Application Auto Scaling moves a desired count outside the new range into it; the scaler follows.
    scaler.request_run_soon(environment_id)
    return _model(service, environment_id, values, scaling)


def remove_autoscaling(service_id: str) -> Service:
    """DELETE /service/{id}/autoscaling: the target and its policies go; the desired count stays where it is."""
    environment_id, service, values = _existing(service_id)
    autoscaling.remove(environment_id, service_id)
    tag_store.delete(ENTITY_TYPE, service_id, AUTOSCALED_TAG)
    values.pop(AUTOSCALED_TAG, None)
    return _model(service, environment_id, values)


def start_delete(service_id: str) -> Job:
    """Start the delete-service job (type 2). A delete that failed part-way can be started again: the service
    counts as present while it is active in ECS or its tags remain."""
    environment_id, values = locate(service_id)
    active = _describe(environment_id, service_id) if environment_id else None
    if not values and active is None:
        raise not_found(service_id)
    return jobs.create(jobs.JobType.DeleteService, service_id)


def task_arns(environment_id: str, service: dict, statuses: tuple[str, ...]) -> list[str]:
    """ARNs of the tasks every deployment of the service started (ECS sets startedBy to the deployment id)."""
    ecs = aws.client("ecs")
    arns: list[str] = []
    for deployment in service.get("deployments", []):
        for status in statuses:
            try:
                pages = ecs.get_paginator("list_tasks").paginate(
                    cluster=_cluster(environment_id), startedBy=deployment["id"], desiredStatus=status
                )
                arns.extend(arn for page in pages for arn in page["taskArns"])
            except ecs.exceptions.ClusterNotFoundException:
                return []
    return list(dict.fromkeys(arns))


def delete_ecs_service(service_id: str, environment_id: str | None) -> dict:
    """Delete the ECS service (the delete-service job's step, and a failed create's rollback)."""
    if not environment_id:
        return {"deleted": False}
    ecs = aws.client("ecs")
    try:
        ecs.delete_service(cluster=_cluster(environment_id), service=ids.aws_name(service_id), force=True)
    except (
        ecs.exceptions.ServiceNotFoundException,
        ecs.exceptions.ServiceNotActiveException,
        ecs.exceptions.ClusterNotFoundException,
    ):
        return {"deleted": False}
    return {"deleted": True}


def logs(service_id: str, tail: int = 0, start=None, end=None) -> list[LogFile]:
    environment_id, service, _values = _existing(service_id)
    return log_store.for_tasks(task_arns(environment_id, service, ("RUNNING", "STOPPED")), tail, start, end)
