"""What a handler module does once per container, around its imports (docs/architecture.md#cold-start)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def long_lived_init() -> Iterator[None]:
    """Run a handler module's init (its imports, its app) away from Python's cyclic garbage collector.

    What an init makes (modules, classes, functions, routes) lives as long as the process, so no collection can free
    it. With the collector on, the import's own allocations trigger about a hundred collections; after it, the
    first request's allocations walk the init's objects three times more (the young generation, the middle one and
    the first full collection: 70-100 ms of a cold start, freeing a few hundred objects). So the collector is paused
    during the init, and at its end `gc.freeze()` moves everything alive to the permanent generation, which no
    collection walks. The garbage the init left (a few hundred objects) is kept: a failed init is not frozen.
    """
    gc.disable()
    try:
        yield
        gc.freeze()
    finally:
        gc.enable()
