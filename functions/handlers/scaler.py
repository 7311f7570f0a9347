"""The scaler function (docs/compatibility.md#scaler, docs/architecture.md#shape-on-aws): hourly from EventBridge over
every environment, or for one
environment when the event names it (`{"environment_id": "..."}`). Each environment's run stands alone: one
failure is logged and reported, and the others still run."""

from __future__ import annotations

from handlers.cold_start import long_lived_init

# The init runs away from the garbage collector, and what it makes is frozen (handlers/cold_start.py).
with long_lived_init():
    from aws_lambda_powertools import Logger

    from handlers.observability import domain_logs_through, inject_lambda_context
    from layer0 import environments, scaler

    logger = Logger(service="layer0-scaler")
    domain_logs_through(logger)


@inject_lambda_context(logger)
def handler(event: dict, context) -> dict:
    environment_id = (event or {}).get("environment_id")
    targets = [environment_id] if environment_id else [s.environment_id for s in environments.list_all()]
    results: dict[str, dict] = {}
    for target in targets:
        logger.thread_safe_append_keys(environment_id=target)
        try:
            info = scaler.run(target)
        except Exception as error:  # noqa: BLE001 - one environment's failure must not stop the others
            logger.exception("Scaling failed")
            results[target] = {"error": str(error)}
            continue
        if info.errors:
            logger.warning("Scaled with errors", extra={"errors": info.errors})
        results[target] = info.model_dump()
    return results
