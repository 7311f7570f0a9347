"""Service autoscaling (docs/compatibility.md#service-autoscaling): Application Auto Scaling on a service's desired
count.

A service `<id>` of environment `<env>` is autoscaled when the scalable target `service/l0-<prefix>-<env>/
l0-<prefix>-<id>` (namespace `ecs`, dimension `ecs:service:DesiredCount`) is registered. Its target-tracking
policies are named `l0-<prefix>-<id>-cpu`, `-memory` and `-requests`, one per target given. Application Auto Scaling
itself is the record: nothing about autoscaling is kept in Layer0's tables, so what `GET /service/{id}` shows is
what AWS does.

`apply` replaces the whole configuration and, if any call fails, puts back what was there before (nothing
half-applied); `remove` is idempotent, for the delete-service and delete-environment jobs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from botocore.exceptions import ClientError

from layer0 import aws, ids
from layer0.errors import ErrorCode, Layer0Error, aws_error_code
from layer0.models import Autoscaling, AutoscalingRequest

logger = logging.getLogger(__name__)

NAMESPACE = "ecs"
DIMENSION = "ecs:service:DesiredCount"
POLICY_TYPE = "TargetTrackingScaling"


def _not_found(error: ClientError) -> bool:
    """Application Auto Scaling's "nothing there" (moto answers a ValidationException with AWS's message)."""
    code = aws_error_code(error)
    message = str(error.response.get("Error", {}).get("Message", ""))
    return code == "ObjectNotFoundException" or (code == "ValidationException" and message.startswith("No scal"))


@dataclass(frozen=True)
class Target:
    """One kind of target: the request's field, the policy name's suffix and the predefined metric."""

    field: str
    suffix: str
    metric: str


TARGETS = (
    Target("cpu_target", "cpu", "ECSServiceAverageCPUUtilization"),
    Target("memory_target", "memory", "ECSServiceAverageMemoryUtilization"),
    # Needs the ALB and target group as the metric's ResourceLabel.
    Target("requests_per_target", "requests", "ALBRequestCountPerTarget"),
)
_BY_METRIC = {target.metric: target for target in TARGETS}


def resource_id(environment_id: str, service_id: str) -> str:
    return f"service/{ids.aws_name(environment_id)}/{ids.aws_name(service_id)}"


def policy_name(service_id: str, target: Target) -> str:
    return f"{ids.aws_name(service_id)}-{target.suffix}"


def _client():
    return aws.client("application-autoscaling")


def _scalable_target(rid: str) -> dict | None:
    found = _client().describe_scalable_targets(
        ServiceNamespace=NAMESPACE, ResourceIds=[rid], ScalableDimension=DIMENSION
    )["ScalableTargets"]
    return found[0] if found else None


def _policies(rid: str) -> list[dict]:
    pages = (
        _client()
        .get_paginator("describe_scaling_policies")
        .paginate(ServiceNamespace=NAMESPACE, ResourceId=rid, ScalableDimension=DIMENSION)
    )
    return [policy for page in pages for policy in page["ScalingPolicies"]]


def current(environment_id: str, service_id: str) -> Autoscaling | None:
    """The service's autoscaling as Application Auto Scaling has it, or None when it is not autoscaled."""
    rid = resource_id(environment_id, service_id)
    target = _scalable_target(rid)
    if target is None:
        return None
    values: dict = {"min_count": target["MinCapacity"], "max_count": target["MaxCapacity"]}
    for policy in _policies(rid):
        configuration = policy.get("TargetTrackingScalingPolicyConfiguration") or {}
        metric = (configuration.get("PredefinedMetricSpecification") or {}).get("PredefinedMetricType", "")
        kind = _BY_METRIC.get(metric)
        if kind is None or policy["PolicyName"] != policy_name(service_id, kind):
            continue  # a policy made outside Layer0: not ours to show
        value = configuration["TargetValue"]
        values[kind.field] = int(value) if kind.field == "requests_per_target" else value
        values.setdefault("scale_in_cooldown", configuration.get("ScaleInCooldown", 300))
        values.setdefault("scale_out_cooldown", configuration.get("ScaleOutCooldown", 300))
    return Autoscaling(**values)


def resource_label(service: dict) -> str | None:
    """`app/<alb>/<id>/targetgroup/<name>/<id>`: the ALBRequestCountPerTarget label of the service's application load
    balancer, from its ECS description; None when it runs behind none (no load balancer, or a classic one)."""
    for attachment in service.get("loadBalancers", []):
        group_arn = attachment.get("targetGroupArn")
        if not group_arn:
            continue
        groups = aws.client("elbv2").describe_target_groups(TargetGroupArns=[group_arn])["TargetGroups"]
        for balancer_arn in groups[0].get("LoadBalancerArns", []) if groups else []:
            balancer = balancer_arn.split(":loadbalancer/", 1)[-1]
            if balancer.startswith("app/"):
                return f"{balancer}/{group_arn.split(':', 5)[-1]}"
    return None


def check_count(settings: Autoscaling | None, service_id: str, desired_count: int) -> None:
    """A manual count of an autoscaled service stays within its range: 400, code 1, naming the range."""
    if settings is not None and not settings.min_count <= desired_count <= settings.max_count:
        raise Layer0Error(
            ErrorCode.InvalidJSON,
            f"desired_count {desired_count} is outside the autoscaling range {settings.min_count}-"
            f"{settings.max_count} of service '{service_id}': change the range with "
            f"PUT /service/{service_id}/autoscaling",
        )


def _policy_parameters(rid: str, name: str, configuration: dict) -> dict:
    return {
        "PolicyName": name,
        "ServiceNamespace": NAMESPACE,
        "ResourceId": rid,
        "ScalableDimension": DIMENSION,
        "PolicyType": POLICY_TYPE,
        "TargetTrackingScalingPolicyConfiguration": configuration,
    }


def _configuration(request: AutoscalingRequest, target: Target, label: str | None) -> dict:
    metric: dict = {"PredefinedMetricType": target.metric}
    if target.field == "requests_per_target":
        metric["ResourceLabel"] = label
    return {
        "TargetValue": float(getattr(request, target.field)),
        "PredefinedMetricSpecification": metric,
        "ScaleInCooldown": request.scale_in_cooldown,
        "ScaleOutCooldown": request.scale_out_cooldown,
    }


def _delete_policy(rid: str, name: str) -> bool:
    try:
        _client().delete_scaling_policy(
            PolicyName=name, ServiceNamespace=NAMESPACE, ResourceId=rid, ScalableDimension=DIMENSION
        )
    except ClientError as error:
        if not _not_found(error):
            raise
        return False
    return True


def _register(rid: str, min_count: int, max_count: int) -> None:
    _client().register_scalable_target(
        ServiceNamespace=NAMESPACE,
        ResourceId=rid,
        ScalableDimension=DIMENSION,
        MinCapacity=min_count,
        MaxCapacity=max_count,
    )


def apply(environment_id: str, service_id: str, request: AutoscalingRequest, label: str | None) -> Autoscaling:
    """Register the scalable target with the request's range, put one policy per target given and delete Layer0's
    other policies. A failure puts back the target and policies there were before, then raises."""
    rid = resource_id(environment_id, service_id)
    before_target = _scalable_target(rid)
    ours = {policy_name(service_id, target) for target in TARGETS}
    before_policies = {p["PolicyName"]: p for p in _policies(rid) if p["PolicyName"] in ours} if before_target else {}
    try:
        _register(rid, request.min_count, request.max_count)
        for target in TARGETS:
            name = policy_name(service_id, target)
            if getattr(request, target.field) is None:
                if name in before_policies:
                    _delete_policy(rid, name)
            else:
                configuration = _configuration(request, target, label)
                _client().put_scaling_policy(**_policy_parameters(rid, name, configuration))
    except Exception:
        logger.exception("Autoscaling of service %s failed: putting back what was there", service_id)
        try:
            _restore(rid, service_id, before_target, before_policies)
        except Exception:  # noqa: BLE001 - the original error is the answer
            logger.exception("Putting back the autoscaling of service %s failed", service_id)
        raise
    return request.settings()


def _restore(rid: str, service_id: str, target: dict | None, policies: dict[str, dict]) -> None:
    if target is None:
        _remove(rid, service_id)
        return
    _register(rid, target["MinCapacity"], target["MaxCapacity"])
    for kind in TARGETS:
        name = policy_name(service_id, kind)
        if name in policies:
            configuration = policies[name]["TargetTrackingScalingPolicyConfiguration"]
            _client().put_scaling_policy(**_policy_parameters(rid, name, configuration))
        else:
            _delete_policy(rid, name)  # made by the failed call, or not there


def _remove(rid: str, service_id: str) -> dict:
    # The policies first: Application Auto Scaling deletes them with the target, but moto leaves them behind
    # (docs/compatibility.md#service-autoscaling), and a retried removal must find nothing left.
    ours = {policy_name(service_id, target) for target in TARGETS}
    present = sorted(p["PolicyName"] for p in _policies(rid) if p["PolicyName"] in ours)
    deleted = [name for name in present if _delete_policy(rid, name)]
    try:
        _client().deregister_scalable_target(ServiceNamespace=NAMESPACE, ResourceId=rid, ScalableDimension=DIMENSION)
    except ClientError as error:
        if not _not_found(error):
            raise
        return {"autoscaling_removed": False, "policies_deleted": deleted}
    return {"autoscaling_removed": True, "policies_deleted": deleted}


def remove(environment_id: str | None, service_id: str) -> dict:
    """Deregister the service's scalable target and delete its policies; nothing there is not an error."""
    if not environment_id:
        return {"autoscaling_removed": False, "policies_deleted": []}
    return _remove(resource_id(environment_id, service_id), service_id)
