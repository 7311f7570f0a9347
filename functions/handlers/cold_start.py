"""What a handler module does once per container, around its imports (docs/architecture.md#cold-start)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a handler module imports what it needs and builds its app.

    Imports make objects that live as long as the process (modules, classes, functions), so the collections their
    allocations trigger find nothing to free; they were about a sixth of the API function's import. The collector
    is on again afterwards. (Freezing the init's objects as well, `gc.freeze()`, saved nothing more here and made
    the warm function's RSS grow by 4 MB over 10,000 invocations: benchmarks/leak.py.)
    """
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
