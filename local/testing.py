"""For tests only, never for local mode: Wait states and Retry backoff of moto's Step Functions interpreter
without real time.

- :func:`make_waits_instant`  Wait states and Retry backoff return at once (they sleep in real time in moto)
- :func:`restore_real_waits`  undoes it (so does leaving ``with make_waits_instant(): ...``)
- :func:`waits_are_instant`   whether it is in force

Not a moto bug fix (real Step Functions waits as long), so not among the fidelity patches of
local/moto_patches.py; it shares their undo table (local/patching.py), so ``moto_patches.applied()`` lists
``instant_waits`` while it is in force.
"""

from __future__ import annotations

import threading
import time as _real_time
from typing import Any

from local import patching

__all__ = [
    "make_waits_instant",
    "restore_real_waits",
    "waits_are_instant",
    "InstantWaits",
]

_WAIT_FUNCTION_MODULE = "moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function"
_RETRIER_MODULE = "moto.stepfunctions.parser.asl.component.common.retry.retrier_decl"


# --------------------------------------------------------------------------------------------------------------
# d. Tests only: Wait states and Retry backoff without real time
# --------------------------------------------------------------------------------------------------------------


class InstantWaits:
    """Returned by :func:`make_waits_instant`. A context manager whose exit restores real waits.

    ``requested`` records what was skipped, as ``("wait", seconds)`` and ``("retry", seconds)`` tuples, so a
    test can check that a Wait or a backoff happened without measuring time.
    """

    def __init__(self) -> None:
        self.requested: list[tuple[str, float]] = []
        self._lock = threading.Lock()

    def record(self, kind: str, seconds: float) -> None:
        with self._lock:
            self.requested.append((kind, seconds))

    def __enter__(self) -> InstantWaits:
        return self

    def __exit__(self, *exc: object) -> None:
        restore_real_waits()


class _TimeWithoutSleep:
    """Stands in for the ``time`` module inside ``retrier_decl``: everything real, except ``sleep``."""

    def __init__(self, waits: InstantWaits):
        self._waits = waits

    def sleep(self, seconds: float) -> None:
        self._waits.record("retry", seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(_real_time, name)


_instant: InstantWaits | None = None


def make_waits_instant() -> InstantWaits:
    """Tests only: make Wait states and Retry backoff return at once instead of sleeping in real time.

    moto runs ``Wait`` (``WaitFunction._wait_interval``, which blocks on an event for the full duration) and
    the Retry backoff (``time.sleep(interval)`` in ``retrier_decl.py``) in real time, so a workflow that waits
    an hour takes an hour. Not a moto bug: real Step Functions does the same. Never use this in local mode.

    Idempotent: a second call returns the object already in force. Undo with :func:`restore_real_waits`, or
    ``with make_waits_instant(): ...``.
    """
    global _instant
    with patching.lock:
        if _instant is not None:
            return _instant
        waits = InstantWaits()
        wait_function_cls = patching.import_module(_WAIT_FUNCTION_MODULE).WaitFunction
        retrier = patching.import_module(_RETRIER_MODULE)
        original_wait_interval = wait_function_cls.__dict__["_wait_interval"]
        original_time = retrier.time

        def _wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
            waits.record("wait", wait_seconds)

        wait_function_cls._wait_interval = _wait_interval
        retrier.time = _TimeWithoutSleep(waits)

        def undo() -> None:
            wait_function_cls._wait_interval = original_wait_interval
            retrier.time = original_time

        patching.undos["instant_waits"] = undo
        _instant = waits
        return waits


def restore_real_waits() -> None:
    """Undo :func:`make_waits_instant`. Idempotent."""
    global _instant
    with patching.lock:
        undo = patching.undos.pop("instant_waits", None)
        if undo is not None:
            undo()
        _instant = None


def waits_are_instant() -> bool:
    """Whether :func:`make_waits_instant` is in force."""
    return _instant is not None
