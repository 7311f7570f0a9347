"""The benchmarks' one import-path bootstrap, called explicitly by every entry point (never on import).

The benchmarks import the Lambda asset's packages (`layer0`, `handlers`, in `functions/`) and the repository's own
(`local`, and `tests/fixtures` as files). Under pytest, pyproject.toml's `pythonpath = ["functions", "."]` puts both
on the path; once the project is installed in the venv they are importable anyway. `python -m benchmarks` and
`python -m benchmarks.<module>`, run from the repository root, call `paths()` first thing under
`if __name__ == "__main__":`, which adds whichever of the two directories is not on the path yet.

This module imports no other benchmarks module.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions"  # the Lambda asset; also the cold start's children's whole PYTHONPATH


def _resolved(entry: str) -> str:
    try:
        return str(Path(entry or os.curdir).resolve())
    except (OSError, RuntimeError):
        return entry


def paths() -> None:
    """Put `functions/` and the repository root at the front of `sys.path` (in that order), those that are not on
    it already. Idempotent."""
    present = {_resolved(entry) for entry in sys.path}
    sys.path[:0] = [str(path) for path in (FUNCTIONS, ROOT) if str(path) not in present]
