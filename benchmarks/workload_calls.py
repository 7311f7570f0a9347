"""The AWS calls of every deploy, service and task route (issue 4, "Measure"); printed by `python -m benchmarks.calls`.

Routes go through the API handler (`handlers.api.handler` with the local gateway's proxy events), so a row is what
one HTTP request costs. A route that starts a job has a second row for the job's steps, called directly in the
order its state machine runs them (layer0.workflows.registry.run); the machines themselves are stand-in Pass
machines, so only the steps' calls count. Environments are created with 1 instance, registered in its cluster by
the local ECS agent simulation (one pass, not counted), so that RunTask has room.

Then `GET /service`, `GET /task` and `GET /deploy` with 30 environments holding 50 services and 100 tasks, and 30
deploy families, beside 1 environment with 1 service, 1 task and 1 family: each is one Query of the read model
(docs/architecture.md#the-read-model), so their counts must be equal (the original's grew with environments and
families). The last line prints `service_calls_<E>`, `task_calls_<E>` and `deploy_list_calls_<F>`.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from benchmarks.common import (
    CallCounter,
    Original,
    Row,
    by_service,
    call_api,
    create_environment,
    dockerrun,
    names,
    register_instances,
    rows_table,
    run_create_task_job,
    stand_in_job_machines,
    table_head,
)

LIST_CASE_MIN = (1, 1, 1)  # environments, services, tasks
LIST_CASE_MAX = (30, 50, 100)

# The original's counts, from docs/compatibility.md#deploys, docs/compatibility.md#services,
# docs/compatibility.md#tasks, docs/compatibility.md#logs, docs/compatibility.md#jobs (tag store
# docs/compatibility.md#tables: an insert is a conditional PutItem,
# plus GetItem + UpdateItem when the item exists; deleteEntityTags is GetItem, then GetItem + UpdateItem/DeleteItem
# per key; "populate" reads the entity's tags and its environment's and deploys' tags, one GetItem each).
# CreateJob (docs/compatibility.md#jobs) = RegisterTaskDefinition + RunTask in environment `api`, and 16 DynamoDB calls.
ORIGINAL: dict[str, Original] = {
    "POST /deploy": (
        "1: ecs 1",
        4,
        "RegisterTaskDefinition. DynamoDB: tag name PutItem; tag version PutItem (fails) + GetItem + UpdateItem",
    ),
    "GET /deploy/{id}": ("1: ecs 1", 1, "DescribeTaskDefinition. DynamoDB: populate GetItem"),
    "GET /deploy": (
        "1 + F: ecs",
        "N",
        "ListTaskDefinitionFamilies; ListTaskDefinitions per family (F). DynamoDB: one GetItem per deploy (N)",
    ),
    "DELETE /deploy/{id}": ("1: ecs 1", 5, "DeregisterTaskDefinition. DynamoDB: deleteEntityTags, 2 keys"),
    "POST /service": (
        "1: ecs 1",
        8,
        "CreateService (no load balancer). DynamoDB: duplicate-name Query; tags name, "
        "environment_id (1 + 3); populate: service, environment, deploy GetItem",
    ),
    "GET /service/{id}": ("1: ecs 1", 4, "DescribeServices. DynamoDB: environment lookup GetItem; populate 3"),
    "PUT /service/{id}/scale": (
        "3: ecs 3",
        5,
        "DescribeServices; UpdateService(desiredCount); Get: DescribeServices. "
        "DynamoDB: environment lookup; Get: lookup + populate 3",
    ),
    "PUT /service/{id}/deploy": (
        "2: ecs 2",
        5,
        "UpdateService(taskDefinition); Get: DescribeServices. DynamoDB: environment lookup; Get: lookup + populate 3",
    ),
    "rollout job (type 6), one poll": ("— (new)", "—", "the original had no rollout job; the CLI polled GET /service"),
    "GET /service/{id}/logs": (
        "≥ 4: ecs 3, logs ≥ 2",
        4,
        "Get: DescribeServices; ListTasks RUNNING + STOPPED per "
        "deployment; DescribeLogStreams (per 50 streams); GetLogEvents per stream",
    ),
    "DELETE /service/{id}": ("2: ecs 2", 16, "CreateJob; no existence check"),
    "delete-service job (type 2)": (
        "≥ 5: ecs",
        14,
        "runner: job GetItem + UpdateItem; Get: DescribeServices (+4 "
        "DynamoDB); ListTasks x2 per deployment; StopTask per task (always failed); "
        "UpdateService(0); DeleteService; delete tags (7); UpdateItem status",
    ),
    "POST /task": ("2: ecs 2", 16, "CreateJob (validation happens in the runner)"),
    "create-task job (type 5)": (
        "1: ecs 1",
        14,
        "runner: job GetItem + UpdateItem; RunTask; tags name, "
        "environment_id, deploy_id, arn (1 + 3 x 3); meta UpdateItem; status UpdateItem",
    ),
    "GET /task/{id}": ("1: ecs 1", 3, "DescribeTasks. DynamoDB: task tags GetItem; populate environment, deploy"),
    "GET /task/{id}/logs": (
        "≥ 2: logs ≥ 2",
        1,
        "task tags GetItem; DescribeLogStreams (per 50 streams); GetLogEvents per stream",
    ),
    "DELETE /task/{id}": ("1: ecs 1", 10, "task tags GetItem; StopTask; deleteEntityTags, 4 keys"),
}
LIST_ORIGINAL: dict[str, Original] = {
    "GET /service": (
        "1 + E: ecs",
        "≥ 2",
        "ListClusters; ListServices per environment (E). DynamoDB: service and environment Query",
    ),
    "GET /task": (
        "1 + 2E: ecs",
        "≥ 2",
        "ListClusters; ListTasks RUNNING and STOPPED per environment (E). DynamoDB: task and environment Query",
    ),
    "GET /deploy": ORIGINAL["GET /deploy"],
}
# The summary line's name of each list's figure.
LIST_FIGURES = {"GET /service": "service_calls", "GET /task": "task_calls", "GET /deploy": "deploy_list_calls"}


def _create_task(environment_id: str, deploy_id: str, name: str) -> tuple[str, str]:
    """POST /task, then its job's steps: (job id, task id)."""
    request = {"task_name": name, "environment_id": environment_id, "deploy_id": deploy_id, "container_overrides": []}
    job_id = call_api("POST", "/task", request)["headers"]["X-JobID"]
    from layer0 import jobs

    return job_id, run_create_task_job(job_id, jobs.get(job_id).request)


def _run_delete_service_job(job_id: str, service_id: str) -> None:
    from layer0.workflows import registry

    registry.run("job.set_status", {"job_id": job_id, "status": 2})
    located = registry.run("service.locate", {"service_id": service_id})
    args = {"service_id": service_id, "environment_id": located["environment_id"]}
    for step in (
        "service.remove_autoscaling",
        "service.scale_to_zero",
        "service.stop_tasks",
        "service.delete_ecs_service",
    ):
        registry.run(step, args)
    registry.run("service.delete_tags", {"service_id": service_id})
    registry.run("job.set_status", {"job_id": job_id, "status": 3})


def _rollout_poll(job_id: str) -> None:
    from layer0 import jobs
    from layer0.workflows import registry

    request = json.loads(jobs.get(job_id).request)
    registry.run("service.rollout_state", request)


def measure_routes(counter: CallCounter) -> list[Row]:
    rows: list[Row] = []

    def counted(operation: str, action: Callable[[], object]):
        with counter.measure() as calls:
            answer = action()
        original_aws, original_dynamodb, derivation = ORIGINAL[operation]
        rows.append(Row(operation, list(calls), original_aws, original_dynamodb, derivation))
        return answer

    environment_id = create_environment("bench-work")
    register_instances()
    deploy = counted(
        "POST /deploy",
        lambda: call_api(
            "POST", "/deploy", {"deploy_name": "guestbook", "dockerrun": dockerrun("Service.Dockerrun.aws.json")}
        ),
    )["body"]["deploy_id"]
    counted("GET /deploy/{id}", lambda: call_api("GET", f"/deploy/{deploy}"))
    counted("GET /deploy", lambda: call_api("GET", "/deploy"))

    service_id = call_api(
        "POST", "/service", {"service_name": "web", "environment_id": environment_id, "deploy_id": deploy}
    )["body"]["service_id"]
    # Counted on a second service, so that the first has warmed every code path.
    counted(
        "POST /service",
        lambda: call_api(
            "POST", "/service", {"service_name": "web2", "environment_id": environment_id, "deploy_id": deploy}
        ),
    )
    counted("GET /service/{id}", lambda: call_api("GET", f"/service/{service_id}"))
    counted("PUT /service/{id}/scale", lambda: call_api("PUT", f"/service/{service_id}/scale", {"desired_count": 2}))
    second = call_api(
        "POST", "/deploy", {"deploy_name": "guestbook", "dockerrun": dockerrun("Service.Dockerrun.aws.json")}
    )
    updated = counted(
        "PUT /service/{id}/deploy",
        lambda: call_api("PUT", f"/service/{service_id}/deploy", {"deploy_id": second["body"]["deploy_id"]}),
    )
    counted("rollout job (type 6), one poll", lambda: _rollout_poll(updated["headers"]["X-JobID"]))
    counted("GET /service/{id}/logs", lambda: call_api("GET", f"/service/{service_id}/logs", query={"tail": "10"}))
    job = counted("DELETE /service/{id}", lambda: call_api("DELETE", f"/service/{service_id}"))["headers"]["X-JobID"]
    counted("delete-service job (type 2)", lambda: _run_delete_service_job(job, service_id))

    alpine = call_api("POST", "/deploy", {"deploy_name": "alpine", "dockerrun": dockerrun("Task.Dockerrun.aws.json")})
    alpine_id = alpine["body"]["deploy_id"]
    request = {"task_name": "job1", "environment_id": environment_id, "deploy_id": alpine_id, "container_overrides": []}
    job = counted("POST /task", lambda: call_api("POST", "/task", request))["headers"]["X-JobID"]
    from layer0 import jobs

    task_id = counted("create-task job (type 5)", lambda: run_create_task_job(job, jobs.get(job).request))
    counted("GET /task/{id}", lambda: call_api("GET", f"/task/{task_id}"))
    counted("GET /task/{id}/logs", lambda: call_api("GET", f"/task/{task_id}/logs", query={"tail": "10"}))
    counted("DELETE /task/{id}", lambda: call_api("DELETE", f"/task/{task_id}"))
    counted("DELETE /deploy/{id}", lambda: call_api("DELETE", f"/deploy/{alpine_id}"))
    return rows


def _fill(environments: int, services: int, tasks: int, made: dict) -> None:
    """Grow the Layer0 estate to these counts (round-robin over the environments)."""
    while len(made["environments"]) < environments:
        made["environments"].append(create_environment(f"bench-list-{len(made['environments'])}"))
    register_instances()
    if "deploy" not in made:
        made["deploy"] = call_api(
            "POST", "/deploy", {"deploy_name": "lister", "dockerrun": dockerrun("Task.Dockerrun.aws.json")}
        )["body"]["deploy_id"]
        made["families"] = 1
    # As many deploy families as environments.
    while made["families"] < environments:
        call_api(
            "POST",
            "/deploy",
            {"deploy_name": f"f{made['families']}", "dockerrun": dockerrun("Task.Dockerrun.aws.json")},
        )
        made["families"] += 1
    envs = made["environments"]
    while made["services"] < services:
        n = made["services"]
        call_api(
            "POST",
            "/service",
            {"service_name": f"s{n}", "environment_id": envs[n % len(envs)], "deploy_id": made["deploy"]},
        )
        made["services"] += 1
    while made["tasks"] < tasks:
        n = made["tasks"]
        _create_task(envs[n % len(envs)], made["deploy"], f"tt{n}")
        made["tasks"] += 1


def measure_lists(
    counter: CallCounter, cases: tuple[tuple[int, int, int], ...] = (LIST_CASE_MIN, LIST_CASE_MAX)
) -> dict[str, dict[tuple[int, int, int], list[str]]]:
    """`GET /service` and `GET /task` at each (environments, services, tasks) case, by default
    docs/compatibility.md#stress-scenarios's min and
    max; the cases grow one estate, so each must be at least the one before."""
    found: dict[str, dict[tuple[int, int, int], list[str]]] = {"GET /service": {}, "GET /task": {}, "GET /deploy": {}}
    made: dict = {"environments": [], "services": 0, "tasks": 0}
    for case in cases:
        _fill(*case, made)
        for route, path in (("GET /service", "/service"), ("GET /task", "/task"), ("GET /deploy", "/deploy")):
            with counter.measure() as calls:
                answer = call_api("GET", path)["body"]
            wanted = {"GET /service": case[1], "GET /task": case[2], "GET /deploy": case[0]}[route]
            if len(answer) != wanted:
                raise AssertionError(f"{route} listed {len(answer)}, wanted {wanted}")
            found[route][case] = list(calls)
    return found


def measure(
    counter: CallCounter, cases: tuple[tuple[int, int, int], ...] = (LIST_CASE_MIN, LIST_CASE_MAX)
) -> tuple[list[Row], dict]:
    """Every route's row, then the list cases. The stack must be up, and every environment made here is new."""
    from local import moto_patches

    moto_patches.apply()
    try:
        with stand_in_job_machines():
            lists = measure_lists(counter, cases)  # first: the list cases hold exactly what they make
            return measure_routes(counter), lists
    finally:
        moto_patches.revert_ecs()


def report(rows: list[Row], lists: dict) -> str:
    lines = [
        rows_table(
            rows,
            "docs/compatibility.md: deploys, services, tasks, logs, jobs",
        ),
        "",
        "Our calls, in order:",
        "",
    ]
    lines += [f"- {r.operation}: {names(r.calls)}" for r in rows]
    lines.append("")
    lines += table_head(
        "route",
        "environments, services, tasks",
        "our AWS calls",
        "our DynamoDB calls",
        "original AWS",
        "original DynamoDB",
        "original, from docs/compatibility.md#services, docs/compatibility.md#tasks",
    )
    for route, cases in lists.items():
        original_aws, original_dynamodb, derivation = LIST_ORIGINAL[route]
        for case, calls in cases.items():
            row = Row(route, calls, original_aws, original_dynamodb, derivation)
            lines.append(
                f"| {route} | {', '.join(map(str, case))} | {sum(row.aws.values())}: {by_service(row.aws)} "
                f"| {row.dynamodb} | {original_aws} | {original_dynamodb} | {derivation} |"
            )
    summary = " ".join(
        f"{LIST_FIGURES[route]}_{case[0]}={len(calls)}"
        for route, cases in lists.items()
        for case, calls in cases.items()
    )
    return "\n".join(lines + ["", summary])
