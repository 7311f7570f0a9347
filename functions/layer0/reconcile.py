"""The hourly reconcile (docs/architecture.md#the-read-model): the read model's rows made true again from AWS, for
changes made outside Layer0 (a service deleted in the console) and events that never came. O(estate) AWS calls,
once an hour instead of on every list."""

from __future__ import annotations

import logging

from layer0 import deploys, environments, services, tasks
from layer0 import load_balancers as lbs
from layer0.stores import rows as row_store

logger = logging.getLogger(__name__)

# Each resource module with its `ROW_KIND` and `observed_rows()`.
RESOURCES = (environments, deploys, services, lbs)


def run() -> dict:
    """Write every observed row; delete the rows AWS no longer has, unless written since this run began."""
    started = row_store.now_ms()
    report: dict = {}
    for resource in RESOURCES:
        observed = resource.observed_rows()
        kept = {row.entity_id for row in observed}
        written = sum(row_store.put(row) for row in observed)
        removed = [
            row.entity_id
            for row in row_store.select(resource.ROW_KIND)
            if row.entity_id not in kept and row_store.delete_if_older(resource.ROW_KIND, row.entity_id, started)
        ]
        report[resource.ROW_KIND] = {"written": written, "removed": removed}
    report[tasks.ROW_KIND] = tasks.reconcile_rows()
    logger.info("Reconciled the read model: %s", report)
    return report
