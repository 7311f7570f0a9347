"""Logging and tracing shared by the handlers and the domain."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import os
from collections.abc import Callable, Generator
from typing import Any

from aws_lambda_powertools import Logger, Tracer

DOMAIN_LOGGER = "layer0"
# Powertools' own switches for its Tracer: off when asked, and off outside Lambda (no X-Ray daemon there).
TRACE_DISABLED_ENV = "POWERTOOLS_TRACE_DISABLED"
LAMBDA_TASK_ROOT_ENV = "LAMBDA_TASK_ROOT"

Handler = Callable[[Any, Any], Any]


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


# The function logger whose invocation runs in this context (a thread, or an invocation's copy of one).
_invocation_logger: contextvars.ContextVar[Logger | None] = contextvars.ContextVar("invocation_logger", default=None)
# The function loggers made in this process, the newest last: the domain writes through the newest outside an
# invocation. On Lambda there is one; local mode and the tests have several in one process.
_function_loggers: list[Logger] = []


class _ToTheInvocationsLogger(logging.Handler):
    """The domain logger's one handler: each record goes to the handlers of the function logger whose invocation
    runs in this context, so that it carries that function's keys (its service, its correlation id, a step's job
    id) and no other function's, even when several functions run at once in one process (local mode)."""

    def emit(self, record: logging.LogRecord) -> None:
        target = _invocation_logger.get() or (_function_loggers[-1] if _function_loggers else None)
        if target is None or record.levelno < target.log_level:
            return
        for handler in target.handlers:
            if record.levelno >= handler.level:
                handler.handle(record)


_TO_THE_INVOCATIONS_LOGGER = _ToTheInvocationsLogger()


def domain_logs_through(logger: Logger) -> None:
    """Make the domain's loggers (`logging.getLogger(__name__)` in layer0.*) write through the handler of the
    function logger of the invocation running (`logger` outside any), so their lines carry the same keys: the
    correlation id, and a job step's job id and step name. Called once per function logger, at its cold start."""
    if logger not in _function_loggers:
        _function_loggers.append(logger)
    domain = logging.getLogger(DOMAIN_LOGGER)
    domain.handlers = [_TO_THE_INVOCATIONS_LOGGER]
    domain.propagate = False
    # The lowest of the functions' levels: each function's own level is applied by the handler above.
    domain.setLevel(min(function_logger.log_level for function_logger in _function_loggers))
    logger.append_keys(name="%(name)s")  # the domain module a line comes from


def inject_lambda_context(logger: Logger, **options: Any) -> Callable[[Handler], Handler]:
    """Powertools' `inject_lambda_context` (with `options`) for a function's handler, each invocation starting from
    a clean state: the keys an earlier invocation appended are gone (`clear_state`), the keys it appends with
    `thread_safe_append_keys` live in a context of its own, and the domain's lines go through `logger` while it
    runs. The invocation's own keys are to be appended with `logger.thread_safe_append_keys`: another function's
    invocation in the same process (local mode) never sees them."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def named(event: Any, context: Any) -> Any:
            logger.append_keys(name="%(name)s")  # cleared with the rest of the state
            return handler(event, context)

        injected = logger.inject_lambda_context(named, clear_state=True, **options)

        def cleared(event: Any, context: Any) -> Any:
            # Lambda always passes a context; a direct call (tests) may pass None, which Powertools cannot read.
            logger.clear_state()
            return named(event, context)

        @functools.wraps(handler)
        def invocation(event: Any, context: Any) -> Any:
            run = injected if context is not None else cleared
            return contextvars.copy_context().run(_invoke, logger, run, event, context)

        return invocation

    return decorate


def _invoke(logger: Logger, handler: Handler, event: Any, context: Any) -> Any:
    _invocation_logger.set(logger)
    return handler(event, context)
