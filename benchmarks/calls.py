"""`python -m benchmarks.calls`: how many AWS calls each operation makes (issues 3 and 4, "Measure").

This module counts the environment operations; benchmarks.workload_calls counts every deploy, service and task
route on a fresh estate, and its report is printed after this one.

Runs against moto in process with the stack's resources (benchmarks.common.in_process_stack). Every client the
client layer creates (`layer0.aws._new_client`, lazily, on first use) gets a botocore `before-call` handler, which
fires once per API call (not per retry), so a call counts once however often botocore retries it
(benchmarks.common.CallCounter). Calls are counted as `service.Operation`; DynamoDB calls (the tag and job tables)
are shown apart from the calls on AWS resources.

The operations are driven through the domain functions (layer0.environments): create (linux, min count 0), get,
list, update min count (0 -> 1), link, unlink and delete. Delete is two rows: `DELETE /environment/{id}`
(layer0.environments.start_delete: it writes the job and starts its execution), and the job itself, whose steps
are called directly (layer0.workflows.registry.run, the workflow-step function's dispatch) in the order the
delete-environment machine runs them (functions/layer0/workflows/): job.set_status 2, unlink_all,
list_dependencies, delete_dependency per dependency (none here), delete_provider (the capacity provider of a
managed environment, the default), delete_autoscaling_group, delete_launch_template,
instances_gone (polled until true), delete_security_group, delete_cluster, delete_tags, job.set_status 3. The state
machine itself is not run: the state machine the API starts here is a stand-in Pass machine, so that only the
steps' calls are counted.

Each row is printed beside the original's count, derived from docs/compatibility.md#environments,
docs/compatibility.md#jobs (and docs/compatibility.md#tables for the tag store's
DynamoDB calls). Then `GET /environment` (the API handler) with 1, 10 and 30 environments, and the last line
`list_calls_1=<n> list_calls_10=<n> list_calls_30=<n>` (every call, DynamoDB included). The list must not grow
with the number of environments except by pages of 100 clusters.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from dataclasses import dataclass, field

from benchmarks import bootstrap
from benchmarks.common import (
    DYNAMODB,
    CallCounter,
    Original,
    Row,
    by_service,
    in_process_stack,
    job_machines,
    names,
    rows_table,
)

LIST_SIZES = (1, 10, 30)
INSTANCE_POLLS = 50


@dataclass
class Result:
    rows: list[Row] = field(default_factory=list)
    list_calls: dict[int, list[str]] = field(default_factory=dict)
    seconds: float = 0.0

    def row(self, operation: str) -> Row:
        return next(r for r in self.rows if r.operation == operation)


# The original's counts (docs/compatibility.md#environments, docs/compatibility.md#jobs; tag store
# docs/compatibility.md#tables: insert = conditional PutItem, and when the item exists
# GetItem + UpdateItem; delete = GetItem + UpdateItem/DeleteItem; SelectByType = Query; SelectByTypeAndID = GetItem).
# "populate" = one SelectByTypeAndID (GetItem) for name/os/links.
ORIGINAL: dict[str, Original] = {
    "create": (
        "8: ecs 1, ec2 3, autoscaling 4",
        6,
        "CreateCluster; CreateSecurityGroup, AuthorizeSecurityGroupIngress; CreateLaunchConfiguration, "
        "CreateAutoScalingGroup; model: DescribeAutoScalingGroups, DescribeLaunchConfigurations, "
        "DescribeSecurityGroups = 8. DynamoDB: CanCreateEnvironment Query; tag name PutItem; tag os PutItem (fails) "
        "+ GetItem + UpdateItem; populate GetItem = 6",
    ),
    "get": (
        "4: ecs 1, autoscaling 2, ec2 1",
        1,
        "DescribeClusters; DescribeAutoScalingGroups, DescribeLaunchConfigurations, DescribeSecurityGroups = 4. "
        "DynamoDB: populate GetItem = 1",
    ),
    "list": (
        "1: ecs 1",
        1,
        "ListClusters (1 page per 100 clusters) = 1. DynamoDB: SelectByType Query = 1",
    ),
    "update min count": (
        "7: ecs 1, autoscaling 5, ec2 1",
        1,
        "Get (DescribeClusters, DescribeAutoScalingGroups, DescribeLaunchConfigurations, DescribeSecurityGroups); "
        "DescribeAutoScalingGroups; MaxSize 0 < 1: UpdateAutoScalingGroup(Max, Desired); UpdateAutoScalingGroup(Min) "
        "= 7; returns the model read before. DynamoDB: Get's populate GetItem = 1",
    ),
    "link": (
        "4: ec2 4",
        6,
        "DescribeSecurityGroups x2; AuthorizeSecurityGroupIngress x2 = 4. DynamoDB: 2 link tag inserts on existing "
        "items, PutItem (fails) + GetItem + UpdateItem each = 6",
    ),
    "unlink": (
        "4: ec2 4",
        4,
        "DescribeSecurityGroups x2; RevokeSecurityGroupIngress x2 = 4. DynamoDB: 2 link tag deletes, GetItem + "
        "UpdateItem each = 4",
    ),
    "delete: DELETE /environment/{id}": (
        "≥ 2: ecs 2",
        "≥ 16",
        "no existence check; CreateJob: RegisterTaskDefinition (deploy `job`) + tags name, version (PutItem; PutItem "
        "fails + GetItem + UpdateItem) = 4; CreateTask: RunTask in env api + tags name, environment_id, deploy_id, arn "
        "(1 + 3 x 3) = 10; job PutItem 1; job tag PutItem 1. AWS = 2 (plus CreateTask's own reads, not in the "
        "original's figures)",
    ),
    "delete: the job": (
        "≥ 8: autoscaling 5, ec2 2, ecs 1 (+ dependency listing)",
        "≥ 9",
        "runner: job GetItem, UpdateItem status 2. Delete Dependencies: lists every LB, service and task of the "
        "environment through the normal list logic (not counted here). Delete Environment: links GetItem; "
        "UpdateAutoScalingGroup(Min 0), UpdateAutoScalingGroup(Max 0, Desired 0), DeleteAutoScalingGroup, "
        "DeleteLaunchConfiguration, DescribeAutoScalingGroups until not found (>= 1), DescribeSecurityGroups, "
        "DeleteSecurityGroup (>= 1), DeleteCluster = 8; delete env tags: GetItem + (GetItem + UpdateItem/DeleteItem) "
        "x 2 (name, os) = 5; UpdateItem status 3. DynamoDB = 2 + 1 + 5 + 1 = 9",
    ),
}


def _request(name: str, min_count: int = 0):
    from layer0.models import CreateEnvironmentRequest

    return CreateEnvironmentRequest(environment_name=name, operating_system="linux", min_cluster_count=min_count)


def _stand_in_job_machine():
    """A Pass machine where the API starts delete-environment jobs, so that `start_delete` runs as in the API
    while the job's steps are driven here; made uncounted."""
    return job_machines(("delete-environment",))


def _run_delete_job(job_id: str, environment_id: str) -> None:
    """The delete-environment machine's steps, in its order, through the workflow-step dispatch."""
    from layer0.workflows import registry

    args = {"environment_id": environment_id}
    registry.run("job.set_status", {"job_id": job_id, "status": 2})
    registry.run("environment.unlink_all", args)
    dependencies = registry.run("environment.list_dependencies", args)["dependencies"]
    for dependency in dependencies:
        registry.run("environment.delete_dependency", {**args, **dependency})
    registry.run("environment.delete_provider", args)
    registry.run("environment.delete_autoscaling_group", args)
    registry.run("environment.delete_launch_template", args)
    for _ in range(INSTANCE_POLLS):  # WaitForInstances / CheckInstances
        if registry.run("environment.instances_gone", args)["gone"]:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"the instances of {environment_id} are still there")
    registry.run("environment.delete_security_group", args)
    registry.run("environment.delete_cluster", args)
    registry.run("environment.delete_tags", args)
    registry.run("job.set_status", {"job_id": job_id, "status": 3})


def _list_calls(counter: CallCounter) -> list[str]:
    from handlers import api
    from local.gateway import LambdaContext, proxy_event

    with counter.measure() as calls:
        response = api.handler(proxy_event("GET", "/environment"), LambdaContext("l0-bench-api"))
    if response["statusCode"] != 200:
        raise AssertionError(f"GET /environment answered {response['statusCode']}: {response.get('body')}")
    return calls


def _active_environments() -> int:
    from layer0 import environments

    return len(environments.list_all())


def measure(list_sizes: tuple[int, ...] = LIST_SIZES) -> Result:
    """Count the calls of every operation; the stack must be up (moto active, settings set)."""
    from layer0 import environments

    started = time.monotonic()
    result = Result()

    def row(operation: str, calls: list[str]) -> None:
        original_aws, original_dynamodb, derivation = ORIGINAL[operation]
        result.rows.append(Row(operation, list(calls), original_aws, original_dynamodb, derivation))

    with CallCounter() as counter:
        # Warm: the lazy clients (and the API handler's imports) exist before anything is counted; the counter
        # watches clients created later too, this only keeps first-use work out of the figures.
        environments.list_all()

        with counter.measure() as calls:
            first = environments.create(_request("bench-a")).environment_id
        row("create", calls)

        with counter.measure() as calls:
            environments.get(first)
        row("get", calls)

        row("list", _list_calls(counter))

        with counter.measure() as calls:
            environments.update_min_count(first, 1)
        row("update min count", calls)

        second = environments.create(_request("bench-b")).environment_id
        with counter.measure() as calls:
            environments.link(first, second)
        row("link", calls)

        with counter.measure() as calls:
            environments.unlink(first, second)
        row("unlink", calls)

        with _stand_in_job_machine():
            with counter.measure() as calls:
                job = environments.start_delete(first)
            row("delete: DELETE /environment/{id}", calls)

            with counter.measure() as calls:
                _run_delete_job(job.job_id, first)
            row("delete: the job", calls)

        made = 0
        for size in sorted(list_sizes):
            while _active_environments() < size:
                environments.create(_request(f"bench-list-{made}"))
                made += 1
            if _active_environments() != size:
                raise AssertionError(f"{_active_environments()} environments, wanted {size}")
            result.list_calls[size] = _list_calls(counter)
    result.seconds = time.monotonic() - started
    return result


def report(result: Result) -> str:
    lines = [rows_table(result.rows, "docs/compatibility.md#environments, docs/compatibility.md#jobs")]
    lines += ["", "Our calls, in order:", ""]
    for r in result.rows:
        lines.append(f"- {r.operation}: {names(r.calls)}")
    lines += [
        "",
        "| GET /environment with | our AWS calls | our DynamoDB calls | calls |",
        "|---|---|---|---|",
    ]
    for size, calls in sorted(result.list_calls.items()):
        aws_calls = Counter(c.split(".", 1)[0] for c in calls if not c.startswith(DYNAMODB + "."))
        dynamodb = sum(c.startswith(DYNAMODB + ".") for c in calls)
        aws_cell = f"{sum(aws_calls.values())}: {by_service(aws_calls)}"
        lines.append(f"| {size} environments | {aws_cell} | {dynamodb} | {names(calls)} |")
    lines.append("")
    lines.append(f"measured in {result.seconds:.1f} s")
    lines.append(" ".join(f"list_calls_{size}={len(calls)}" for size, calls in sorted(result.list_calls.items())))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.calls", description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(LIST_SIZES), help="environment counts to list")
    args = parser.parse_args(argv)

    from benchmarks import load_balancer_calls, workload_calls

    with in_process_stack():
        result = measure(tuple(args.sizes))
    # A fresh estate, so that the list cases hold exactly the environments they make.
    with in_process_stack(), CallCounter() as counter:
        rows, lists = workload_calls.measure(counter)
    with in_process_stack(), CallCounter() as counter:
        lb_rows, lb_lists = load_balancer_calls.measure(counter)
    print(report(result))
    print()
    print(workload_calls.report(rows, lists))
    print()
    print(load_balancer_calls.report(lb_rows, lb_lists))
    return 0


if __name__ == "__main__":
    bootstrap.paths()
    raise SystemExit(main())
