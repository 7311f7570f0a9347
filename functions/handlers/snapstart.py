"""SnapStart's runtime hooks for the API function and the authorizer (docs/architecture.md#cold-start).

On AWS both run from a snapshot taken after their init: `before_snapshot` does, once, the work every
container would otherwise pay on its first request (every router imported, the boto3 clients created with their
service models loaded); `after_restore` renews what a snapshot would otherwise share between containers or carry
stale from the snapshot's host: the `random` seed, the client layer's token buckets' clocks and the cached auth
secret. Both are plain functions, so tests call them.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Callable, Iterable

from layer0 import auth, aws

# Every AWS service the API's routes call through the client layer: the domain's, but for the auth secret's
# (Secrets Manager), which only the authorizer reads. tests/unit/test_cold_start.py checks the list against the domain.
API_SERVICES = (
    "acm",
    "application-autoscaling",
    "autoscaling",
    "dynamodb",
    "ec2",
    "ecs",
    "elb",
    "elbv2",
    "iam",
    "logs",
    "scheduler",
    "ssm",
    "stepfunctions",
    "sts",
)


def before_snapshot(warm_ups: Iterable[Callable[[], object]] = (), services: Iterable[str] = API_SERVICES) -> None:
    """Run `warm_ups` (what the function otherwise loads on a first request: modules it imports lazily) and create
    the clients of `services`. Creating a client makes no AWS call: the snapshot holds the loaded service models,
    and no connection or credential. Then collect what that left as garbage and freeze the rest, as the init's
    objects are (handlers/cold_start.py): a restored container's collections never walk the snapshot's objects."""
    for warm_up in warm_ups:
        warm_up()
    for service in services:
        aws.client(service)
    gc.collect()
    gc.freeze()


def after_restore() -> None:
    random.seed()  # from os.urandom: each restored container draws its own numbers
    aws.restart_limiters()
    auth.forget()


def register(*warm_ups: Callable[[], object], services: Iterable[str] = API_SERVICES) -> None:
    """Register the hooks with the Lambda runtime's `snapshot_restore_py`, the snapshot holding the clients of
    `services`. The runtime ships it; elsewhere nothing takes snapshots, and this does nothing."""
    try:
        from snapshot_restore_py import (  # type: ignore[import-not-found]
            register_after_restore,
            register_before_snapshot,
        )
    except ImportError:
        return
    register_before_snapshot(before_snapshot, warm_ups, services)
    register_after_restore(after_restore)
