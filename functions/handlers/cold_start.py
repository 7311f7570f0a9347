"""What a handler module does once per container, around its imports (docs/architecture.md#cold-start)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a handler module imports what it needs, then freeze what the
    imports made.

    Imports make objects that live as long as the process (modules, classes, functions), so the collections their
    allocations trigger find nothing to free; they were about a sixth of the API function's import. `gc.freeze()`
    then moves those objects to the permanent generation, which later collections skip: a warm invocation's full
    collection no longer walks every module's objects. Garbage made before the freeze is never freed: an import
    makes next to none.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()
