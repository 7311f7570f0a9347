"""Routes `/loadbalancer` (docs/compatibility.md#routes, docs/compatibility.md#load-balancers;
docs/compatibility.md#differences-on-purpose-and-why: `load_balancer_type`). DELETE starts the
delete-load-balancer job (type 3); every other route answers 200 with the LoadBalancer."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from handlers.api.docs import Tags
from handlers.api.errors import documented, ok_or
from handlers.api.jobs import JOB_ACCEPTED_RESPONSES, job_accepted
from layer0 import load_balancers
from layer0.models import (
    CreateLoadBalancerRequest,
    LoadBalancer,
    LoadBalancerSummary,
    UpdateLoadBalancerCrossZoneRequest,
    UpdateLoadBalancerHealthCheckRequest,
    UpdateLoadBalancerIdleTimeoutRequest,
    UpdateLoadBalancerPortsRequest,
)

router = Router()


@router.get("/loadbalancer", tags=[Tags.LOAD_BALANCER], summary="Every load balancer", responses=ok_or(500))
def list_load_balancers() -> list[LoadBalancerSummary]:
    return load_balancers.list_all()


@router.post(
    "/loadbalancer",
    tags=[Tags.LOAD_BALANCER],
    summary="Create a classic ELB or, with load_balancer_type 'application', an Application Load Balancer",
    responses=ok_or(400, 404),
)
def create_load_balancer(request: CreateLoadBalancerRequest) -> LoadBalancer:
    return load_balancers.create(request)


@router.get(
    "/loadbalancer/<id>",
    tags=[Tags.LOAD_BALANCER],
    summary="One load balancer, with the service behind it",
    responses=ok_or(404),
)
def get_load_balancer(id: str) -> LoadBalancer:  # noqa: A002 - the contract's path parameter
    return load_balancers.get(id)


@router.delete(
    "/loadbalancer/<id>",
    tags=[Tags.LOAD_BALANCER],
    summary="Delete a load balancer, its listeners, role or target groups and its security group (job type 3)",
    responses={**JOB_ACCEPTED_RESPONSES, **documented(404)},
)
def delete_load_balancer(id: str):  # noqa: A002
    return job_accepted(load_balancers.start_delete(id))


@router.put(
    "/loadbalancer/<id>/ports",
    tags=[Tags.LOAD_BALANCER],
    summary="Replace the listener set (and a public load balancer's open ports)",
    responses=ok_or(400, 404),
)
def update_ports(id: str, request: UpdateLoadBalancerPortsRequest) -> LoadBalancer:  # noqa: A002
    return load_balancers.update_ports(id, request.ports)


@router.put(
    "/loadbalancer/<id>/healthcheck",
    tags=[Tags.LOAD_BALANCER],
    summary="Set the health check",
    responses=ok_or(400, 404),
)
def update_health_check(id: str, request: UpdateLoadBalancerHealthCheckRequest) -> LoadBalancer:  # noqa: A002
    return load_balancers.update_health_check(id, request.health_check)


@router.put(
    "/loadbalancer/<id>/idletimeout",
    tags=[Tags.LOAD_BALANCER],
    summary="Set the idle timeout in seconds (body key `health_check`, as the l0 CLI sends it, or `idle_timeout`)",
    responses=ok_or(400, 404),
)
def update_idle_timeout(id: str, request: UpdateLoadBalancerIdleTimeoutRequest) -> LoadBalancer:  # noqa: A002
    return load_balancers.update_idle_timeout(id, request.seconds)


@router.put(
    "/loadbalancer/<id>/crosszone",
    tags=[Tags.LOAD_BALANCER],
    summary="Turn cross-zone load balancing on or off",
    responses=ok_or(400, 404),
)
def update_cross_zone(id: str, request: UpdateLoadBalancerCrossZoneRequest) -> LoadBalancer:  # noqa: A002
    return load_balancers.update_cross_zone(id, request.cross_zone)
