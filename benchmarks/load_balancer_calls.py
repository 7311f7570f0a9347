"""The AWS calls of every load-balancer route (issue 5), for a classic ELB and an ALB; printed by
`python -m benchmarks.calls`.

As in benchmarks.workload_calls: routes go through the API handler, so a row is one HTTP request; the delete job's
row runs its steps in the order the machine does (layer0.workflows.registry.run). Each type is measured on a public load
balancer with ports 80/http and 443/https (an IAM server certificate by name), the shape that costs the most.
Then `GET /loadbalancer` with 1 and with 10 load balancers: it must not grow with them.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.common import (
    CallCounter,
    Original,
    Row,
    by_service,
    call_api,
    create_environment,
    names,
    rows_table,
    stand_in_job_machines,
    table_head,
)

TYPES = ("classic", "application")
LIST_SIZES = (1, 10)
CERTIFICATE_NAME = "l0-l0-bench"

# The original's counts, from docs/compatibility.md#load-balancers (tag store docs/compatibility.md#tables as in
# workload_calls: an insert is PutItem, or PutItem +
# GetItem + UpdateItem when the item exists; populate reads the LB's and its environment's tags). Classic only: the
# original had no ALB. Public LB, 2 subnets, ports 80 + 443 with a certificate name.
ORIGINAL: dict[str, Original] = {
    "POST /loadbalancer": (
        "≥ 14: iam 4, ec2 6, elb 4",
        7,
        "ListServerCertificates; CreateRole; GetUser; "
        "PutRolePolicy; public SG: DescribeSecurityGroups, CreateSecurityGroup, DescribeSecurityGroups "
        "(wait), AuthorizeSecurityGroupIngress; env SG DescribeSecurityGroups; DescribeSubnets per "
        "subnet (2); CreateLoadBalancer; ConfigureHealthCheck; ModifyLoadBalancerAttributes x2. "
        "DynamoDB: name Query; tags name, environment_id (1 + 3); populate 2",
    ),
    "GET /loadbalancer/{id}": (
        "2: elb 2",
        3,
        "DescribeLoadBalancers; DescribeLoadBalancerAttributes. DynamoDB: populate LB, environment; services Query",
    ),
    "PUT /loadbalancer/{id}/ports": (
        "≥ 6: elb 4, ec2 2",
        3,
        "Get (2); DeleteLoadBalancerListeners; "
        "CreateLoadBalancerListeners; public: DescribeSecurityGroups, Authorize/Revoke. "
        "DynamoDB: populate",
    ),
    "PUT /loadbalancer/{id}/healthcheck": ("3: elb 3", 3, "ConfigureHealthCheck; Get (2). DynamoDB: populate"),
    "PUT /loadbalancer/{id}/idletimeout": ("3: elb 3", 3, "ModifyLoadBalancerAttributes; Get (2). DynamoDB: populate"),
    "PUT /loadbalancer/{id}/crosszone": ("3: elb 3", 3, "ModifyLoadBalancerAttributes; Get (2). DynamoDB: populate"),
    "DELETE /loadbalancer/{id}": ("2: ecs 2", 16, "CreateJob; no existence check"),
    "delete-load-balancer job (type 3)": (
        "≥ 8: iam 5, elb 1, ec2 2",
        8,
        "ListRolePolicies; DeleteRolePolicy; "
        "ListRolePolicies (wait); DeleteRole; ListRolePolicies (wait); "
        "DeleteLoadBalancer; DescribeSecurityGroups; DeleteSecurityGroup (retried). "
        "DynamoDB: job GetItem + UpdateItem; delete tags (1 + 2 x 2); status",
    ),
    "GET /loadbalancer": ("1: elb 1", "N", "DescribeLoadBalancers (first page only). DynamoDB: populate per LB"),
}


def _upload_certificate() -> None:
    import boto3

    from layer0 import settings
    from local.certificates import self_signed

    certificate, key = self_signed()
    boto3.client("iam", region_name=settings.get().region).upload_server_certificate(
        ServerCertificateName=CERTIFICATE_NAME, CertificateBody=certificate, PrivateKey=key
    )


def _run_delete_job(job_id: str, load_balancer_id: str) -> None:
    from layer0.workflows import registry

    registry.run("job.set_status", {"job_id": job_id, "status": 2})
    for step in ("delete_routing", "delete_load_balancer", "delete_security_group", "delete_tags"):
        registry.run(f"load_balancer.{step}", {"load_balancer_id": load_balancer_id})
    registry.run("job.set_status", {"job_id": job_id, "status": 3})


def _body(environment_id: str, name: str, kind: str) -> dict:
    return {
        "load_balancer_name": name,
        "environment_id": environment_id,
        "is_public": True,
        "ports": [
            {"host_port": 80, "container_port": 80, "protocol": "http"},
            {"host_port": 443, "container_port": 80, "protocol": "https", "certificate_name": CERTIFICATE_NAME},
        ],
        "health_check": {
            "target": "HTTP:80/",
            "interval": 30,
            "timeout": 5,
            "healthy_threshold": 2,
            "unhealthy_threshold": 2,
        },  # fmt: skip
        "idle_timeout": 60,
        "cross_zone": True,
        "load_balancer_type": kind,
    }


def measure_routes(counter: CallCounter, kind: str, environment_id: str) -> list[Row]:
    rows: list[Row] = []

    def counted(operation: str, action: Callable[[], object]):
        with counter.measure() as calls:
            answer = action()
        original_aws, original_dynamodb, derivation = ORIGINAL[operation] if kind == "classic" else ("— (new)", "—", "")
        rows.append(Row(f"{operation} ({kind})", list(calls), original_aws, original_dynamodb, derivation))
        return answer

    call_api("POST", "/loadbalancer", _body(environment_id, f"warm-{kind}", kind))  # warms every code path
    created = counted(
        "POST /loadbalancer", lambda: call_api("POST", "/loadbalancer", _body(environment_id, f"web-{kind}", kind))
    )
    lb = created["body"]["load_balancer_id"]
    counted("GET /loadbalancer/{id}", lambda: call_api("GET", f"/loadbalancer/{lb}"))
    ports = created["body"]["ports"] + [{"host_port": 8000, "container_port": 8000, "protocol": "http"}]
    counted("PUT /loadbalancer/{id}/ports", lambda: call_api("PUT", f"/loadbalancer/{lb}/ports", {"ports": ports}))
    check = {
        "target": "HTTP:80/health",
        "interval": 45,
        "timeout": 10,
        "healthy_threshold": 5,
        "unhealthy_threshold": 3,
    }
    counted(
        "PUT /loadbalancer/{id}/healthcheck",
        lambda: call_api("PUT", f"/loadbalancer/{lb}/healthcheck", {"health_check": check}),
    )
    counted(
        "PUT /loadbalancer/{id}/idletimeout",
        lambda: call_api("PUT", f"/loadbalancer/{lb}/idletimeout", {"health_check": 120}),
    )
    counted(
        "PUT /loadbalancer/{id}/crosszone",
        lambda: call_api("PUT", f"/loadbalancer/{lb}/crosszone", {"cross_zone": False}),
    )
    job = counted("DELETE /loadbalancer/{id}", lambda: call_api("DELETE", f"/loadbalancer/{lb}"))["headers"]["X-JobID"]
    counted("delete-load-balancer job (type 3)", lambda: _run_delete_job(job, lb))
    return rows


def measure_list(
    counter: CallCounter, environment_id: str, sizes: tuple[int, ...] = LIST_SIZES
) -> dict[int, list[str]]:
    """`GET /loadbalancer` with `size` classic load balancers (after the routes' warm-up ones are gone)."""
    from layer0 import load_balancers

    for summary in load_balancers.list_all():
        load_balancers.delete_now(summary.load_balancer_id)
    found, made = {}, 0
    for size in sizes:
        while made < size:
            body = _body(environment_id, f"list{made}", "classic")
            body["ports"] = body["ports"][:1]
            call_api("POST", "/loadbalancer", body)
            made += 1
        with counter.measure() as calls:
            answer = call_api("GET", "/loadbalancer")["body"]
        if len(answer) != size:
            raise AssertionError(f"GET /loadbalancer listed {len(answer)}, wanted {size}")
        found[size] = list(calls)
    return found


def measure(counter: CallCounter, sizes: tuple[int, ...] = LIST_SIZES) -> tuple[list[Row], dict[int, list[str]]]:
    """Every route of both types, then the list sizes. The stack must be up."""
    _upload_certificate()
    with stand_in_job_machines():
        environment_id = create_environment("bench-lbs")
        rows = [row for kind in TYPES for row in measure_routes(counter, kind, environment_id)]
        return rows, measure_list(counter, environment_id, sizes)


def report(rows: list[Row], lists: dict[int, list[str]]) -> str:
    lines = [rows_table(rows, "docs/compatibility.md#load-balancers"), "", "Our calls, in order:", ""]
    lines += [f"- {r.operation}: {names(r.calls)}" for r in rows]
    original_aws, original_dynamodb, derivation = ORIGINAL["GET /loadbalancer"]
    lines.append("")
    lines += table_head(
        "route",
        "load balancers",
        "our AWS calls",
        "our DynamoDB calls",
        "original AWS",
        "original DynamoDB",
        "original, from docs/compatibility.md#load-balancers",
    )
    for size, calls in lists.items():
        row = Row("GET /loadbalancer", calls, original_aws, original_dynamodb, derivation)
        lines.append(
            f"| GET /loadbalancer | {size} | {sum(row.aws.values())}: {by_service(row.aws)} | {row.dynamodb} "
            f"| {original_aws} | {original_dynamodb} | {derivation} |"
        )
    lines += ["", " ".join(f"loadbalancer_list_calls_{size}={len(calls)}" for size, calls in lists.items())]
    return "\n".join(lines)
