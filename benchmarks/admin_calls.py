"""The AWS calls of the routes the other calls modules leave out: /health, /admin/*, /tag, /job, the docs, /secret,
and a job's logs (issue 6, report section c). Printed by `python -m benchmarks` with the other calls tables.

As in benchmarks.workload_calls, each route goes through the API handler, so a row is one HTTP request. The job
rows use a job made by `DELETE /environment/{id}` whose state machine is a stand-in that only waits, so the job
is still running when it is read, its logs are read and it is deleted (which stops the execution).

`ROUTE_OF` maps every row name of the calls modules to its route in functions/layer0/contract.py ROUTES, so that
the report can show which routes have a row; `uncovered()` lists those that have none.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.common import (
    CallCounter,
    Original,
    Row,
    create_environment,
    handler_answer,
    job_machines,
    names,
    rows_table,
)

# The original's counts (docs/compatibility.md#routes, docs/compatibility.md#tables, docs/compatibility.md#admin,
# docs/compatibility.md#jobs, docs/compatibility.md#scaler; the tag store as in calls.py: an insert is a
# conditional PutItem, plus GetItem + UpdateItem when the item exists).
ORIGINAL: dict[str, Original] = {
    "GET /health": ("0", 0, "static answer"),
    "GET /admin/version": ("0", 0, "build-stamped version"),
    "GET /admin/config": ("0", 0, "APIConfig from the process's settings"),
    "POST /admin/sql": (
        "0 (store Init: not in the original's figures)",
        "15 (21 once the tags exist)",
        "re-init the stores, then seed the default tags (docs/compatibility.md#admin): 7 inserts on 3 items, "
        "the first of each "
        "item a PutItem, each later one PutItem (fails) + GetItem + UpdateItem = 3 x 1 + 4 x 3",
    ),
    "PUT /admin/scale/{id}": (
        "≥ 5: ecs ≥ 4, autoscaling ≥ 1",
        "≥ 1",
        "the scaler (docs/compatibility.md#scaler) on an environment with no services or tasks: "
        "ListContainerInstances (+ Describe if "
        "any); the environment's services (ListServices) and tasks (ListTasks RUNNING + STOPPED); "
        "CreateTask jobs (job Scan); ScaleTo: DescribeAutoScalingGroups (+ SetDesiredCapacity "
        "on a change); the instance type's memory from a built-in table",
    ),
    "POST /tag": (
        "0",
        "1 (3 when the entity has tags)",
        "insert: conditional PutItem; when the item exists PutItem (fails) + GetItem + UpdateItem",
    ),
    "GET /tag": ("0", 1, "SelectByType: Query (GetItem when `id` is given)"),
    "DELETE /tag": ("0", 2, "GetItem; UpdateItem (DeleteItem when the last key goes)"),
    "GET /openapi.json": ("0", 0, "the original's /apidocs.json: static"),
    "GET /swagger": ("0", 0, "the original's /apidocs/: static"),
    "GET /job": ("0", 1, "job table Scan"),
    "GET /job/{id}": ("0", 1, "job GetItem"),
    "GET /task/{id}/logs (a job's id)": (
        "≥ 2: logs ≥ 2",
        1,
        "the job's runner task's logs: task tags GetItem; DescribeLogStreams (per 50 streams); GetLogEvents per stream",
    ),
    "DELETE /job/{id}": (
        "1: ecs 1",
        15,
        "job GetItem; delete its runner task as DELETE /task/{id} (task tags GetItem; "
        "StopTask; deleteEntityTags, 4 keys = 9); job DeleteItem; job tags (GetItem; GetItem + "
        "DeleteItem) = 1 + 10 + 1 + 3",
    ),
    # Secrets (docs/compatibility.md#secrets): the original had none.
    "POST /secret": ("—", "—", "not in the original; ours: CreateSecret, DescribeSecret for the answer's ARN and date"),
    "POST /secret (existing)": (
        "—",
        "—",
        "not in the original; ours: CreateSecret (the name is taken), DescribeSecret, PutSecretValue, DescribeSecret",
    ),
    "GET /secret": ("—", "—", "not in the original; ours: ListSecrets per 100 secrets"),
    "DELETE /secret/{name}": ("—", "—", "not in the original; ours: DescribeSecret, DeleteSecret (7-day window)"),
}

# Row names of benchmarks.calls (environments) that are not route names.
_ENVIRONMENT_ROUTES = {
    "create": "POST /environment",
    "get": "GET /environment/{id}",
    "list": "GET /environment",
    "update min count": "PUT /environment/{id}",
    "link": "POST /environment/{id}/link",
    "unlink": "DELETE /environment/{id}/link/{dest_id}",
    "delete: DELETE /environment/{id}": "DELETE /environment/{id}",
}
_WAIT_SECONDS = 600


def route_of(row_name: str) -> str | None:
    """The `METHOD /path` a calls row measures, or None for a job's own row (its steps, not a route)."""
    if row_name in _ENVIRONMENT_ROUTES:
        return _ENVIRONMENT_ROUTES[row_name]
    name = row_name.split(" (", 1)[0]  # "POST /loadbalancer (classic)", "GET /task/{id}/logs (a job's id)"
    method = name.split(" ", 1)[0]
    return name if method in {"GET", "POST", "PUT", "DELETE"} else None


def uncovered(row_names) -> list[str]:
    """The contract's routes (functions/layer0/contract.py ROUTES) that no row measures."""
    from layer0.contract import ROUTES

    covered = {route_of(name) for name in row_names}
    return [f"{r.method} {r.path}" for r in ROUTES if f"{r.method} {r.path}" not in covered]


def _request(method: str, path: str, body: dict | str | None = None, query: dict | None = None) -> dict:
    """One request through the API handler; any 2xx answer (the docs are HTML, /admin/sql is 204)."""
    return handler_answer(method, path, body, query)


def _waiting_job_machine():
    """A machine that only waits, under the delete-environment machine's name: the job stays running while its
    routes are counted; made uncounted."""
    definition = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": _WAIT_SECONDS, "End": True}}}
    return job_machines(("delete-environment",), definition)


def measure(counter: CallCounter) -> list[Row]:
    """Every route of ORIGINAL, in its order. The stack must be up."""
    from local import moto_patches

    rows: list[Row] = []

    def counted(operation: str, action: Callable[[], dict]) -> dict:
        with counter.measure() as calls:
            answer = action()
        original_aws, original_dynamodb, derivation = ORIGINAL[operation]
        rows.append(Row(operation, list(calls), original_aws, original_dynamodb, derivation))
        return answer

    moto_patches.apply()
    try:
        _request("GET", "/tag", query={"type": "environment"})  # warm: the handler's imports and first clients
        counted("GET /health", lambda: _request("GET", "/health"))
        counted("GET /admin/version", lambda: _request("GET", "/admin/version"))
        counted("GET /admin/config", lambda: _request("GET", "/admin/config"))
        counted("POST /admin/sql", lambda: _request("POST", "/admin/sql", {"version": ""}))
        environment_id = create_environment("bench-admin")
        counted("PUT /admin/scale/{id}", lambda: _request("PUT", f"/admin/scale/{environment_id}", ""))
        tag = {"entity_type": "environment", "entity_id": environment_id, "key": "bench", "value": "yes"}
        counted("POST /tag", lambda: _request("POST", "/tag", tag))
        counted("GET /tag", lambda: _request("GET", "/tag", query={"type": "environment", "bench": "yes"}))
        counted("DELETE /tag", lambda: _request("DELETE", "/tag", tag))
        counted("GET /openapi.json", lambda: _request("GET", "/openapi.json"))
        counted("GET /swagger", lambda: _request("GET", "/swagger"))
        with _waiting_job_machine():
            job_id = _request("DELETE", f"/environment/{create_environment('bench-admin-job')}")["headers"]["X-JobID"]
            counted("GET /job", lambda: _request("GET", "/job"))
            counted("GET /job/{id}", lambda: _request("GET", f"/job/{job_id}"))
            counted(
                "GET /task/{id}/logs (a job's id)",
                lambda: _request("GET", f"/task/{job_id}/logs", query={"tail": "10"}),
            )
            counted("DELETE /job/{id}", lambda: _request("DELETE", f"/job/{job_id}"))
        secret = {"secret_name": "bench", "value": "benchmark value"}
        counted("POST /secret", lambda: _request("POST", "/secret", secret))
        counted("POST /secret (existing)", lambda: _request("POST", "/secret", secret))
        counted("GET /secret", lambda: _request("GET", "/secret"))
        counted("DELETE /secret/{name}", lambda: _request("DELETE", "/secret/bench"))
    finally:
        moto_patches.revert_ecs()
    return rows


def report(rows: list[Row]) -> str:
    lines = [
        rows_table(
            rows,
            "docs/compatibility.md: tables, admin, routes, jobs, scaler",
        ),
        "",
        "Our calls, in order:",
        "",
    ]
    lines += [f"- {r.operation}: {names(r.calls) or 'none'}" for r in rows]
    total = sum(len(r.calls) for r in rows)
    return "\n".join(lines + ["", f"admin_routes={len(rows)} admin_calls_total={total}"])
