"""What every moto patch module shares: one lock and one table of undos, so that each patch is idempotent and
can be undone by name.

A patch installs itself under ``lock``, and records how to undo it in ``undos`` under its name; its presence
there is what "applied" means. The patch modules (local/stepfunctions.py, local/moto_patches.py,
local/ecs/patches.py, local/testing.py) use this; :mod:`local.moto_patches` is the entry point that applies them.
Imports nothing from local/.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["lock", "undos", "import_module", "replace_method", "install", "revert", "applied"]

lock = threading.RLock()
# patch name -> undo callable, for the patches currently in force.
undos: dict[str, Callable[[], None]] = {}


def import_module(module: str) -> Any:
    import importlib

    return importlib.import_module(module)


def replace_method(name: str, cls: Any, attribute: str, replacement: Callable) -> None:
    """Install ``replacement`` as ``cls.attribute`` under patch ``name``, with its undo. Call under ``lock``."""
    original = cls.__dict__[attribute]
    setattr(cls, attribute, replacement(original))

    def undo() -> None:
        setattr(cls, attribute, original)

    undos[name] = undo


def install(name: str, module: str, class_name: str, attribute: str, replacement: Callable) -> None:
    """The usual patch: ``module.class_name.attribute`` replaced by ``replacement(original)`` under ``name``, once
    (a second call while it is in force does nothing)."""
    with lock:
        if name in undos:
            return
        replace_method(name, getattr(import_module(module), class_name), attribute, replacement)


def revert(names: Iterable[str]) -> None:
    """Undo the named patches that are in force. Idempotent."""
    with lock:
        for name in names:
            undo = undos.pop(name, None)
            if undo is not None:
                undo()


def applied() -> frozenset[str]:
    """The names of the patches currently in force (including ``instant_waits``)."""
    with lock:
        return frozenset(undos)
