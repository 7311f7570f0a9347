"""Logging and tracing shared by the handlers and the domain."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Generator
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

DOMAIN_LOGGER = "layer0"
# Powertools' own switches for its Tracer: off when asked, and off outside Lambda (no X-Ray daemon there).
TRACE_DISABLED_ENV = "POWERTOOLS_TRACE_DISABLED"
LAMBDA_TASK_ROOT_ENV = "LAMBDA_TASK_ROOT"


def tracing_enabled() -> bool:
    """Whether X-Ray tracing is on: in Lambda, unless POWERTOOLS_TRACE_DISABLED is true (as Powertools decides)."""
    disabled = os.environ.get(TRACE_DISABLED_ENV, "false").strip().lower() in ("1", "true", "yes", "on", "y", "t")
    return bool(os.environ.get(LAMBDA_TASK_ROOT_ENV)) and not disabled


class _NoSubsegment:
    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        pass

    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None:
        pass


class NoTracing:
    """The Tracer's provider when tracing is off. Powertools' default provider is the X-Ray SDK's recorder, whose
    import (aws_xray_sdk.core) costs more than boto3's even when tracing is off (docs/architecture.md#cold-start)."""

    @contextlib.contextmanager
    def in_subsegment(self, name: str | None = None, **_kwargs: Any) -> Generator[_NoSubsegment, None, None]:
        yield _NoSubsegment()

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        pass


def make_tracer(service: str) -> Tracer:
    """A Powertools Tracer for `service`: X-Ray when tracing is on, else one that imports no X-Ray recorder."""
    if tracing_enabled():
        return Tracer(service=service)
    return Tracer(service=service, disabled=True, provider=NoTracing())  # type: ignore[arg-type]


def domain_logs_through(logger: Logger) -> None:
    """Make the domain's loggers (`logging.getLogger(__name__)` in layer0.*) write through `logger`'s handler, so
    their lines carry the same keys: the correlation id, and a job step's job id and step name."""
    logging.getLogger(DOMAIN_LOGGER)  # registered, so that Powertools finds it
    copy_config_to_registered_loggers(source_logger=logger, include={DOMAIN_LOGGER})
