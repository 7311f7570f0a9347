"""The scaler function (SPEC §3.8, DESIGN §2): hourly from EventBridge over every environment, or for one
environment when the event names it (`{"environment_id": "..."}`). Each environment's run stands alone: one
failure is logged and reported, and the others still run."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from layer0 import environments, scaler

logger = Logger(service="layer0-scaler")


def handler(event: dict, context) -> dict:
    environment_id = (event or {}).get("environment_id")
    targets = [environment_id] if environment_id else [s.environment_id for s in environments.list_all()]
    results: dict[str, dict] = {}
    for target in targets:
        try:
            info = scaler.run(target)
        except Exception as error:  # noqa: BLE001 - one environment's failure must not stop the others
            logger.exception("Scaling failed", extra={"environment_id": target})
            results[target] = {"error": str(error)}
            continue
        if info.errors:
            logger.warning("Scaled with errors", extra={"environment_id": target, "errors": info.errors})
        results[target] = info.model_dump()
    return results
