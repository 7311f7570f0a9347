"""`pip install .` installs the client and the CLI only (pyproject.toml [project]): the wheel it builds holds
`layer0_client` and nothing of functions/, infra/ or local/, and declares the `l0` console script."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_holds_only_the_client_and_declares_l0(tmp_path):
    source = tmp_path / "source"  # a copy, so that setuptools' build/ stays out of the repository
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "client", source / "client", ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path / "dist"), "."],
        cwd=source,
        capture_output=True,
        text=True,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = (tmp_path / "dist").glob("layer0_cli-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith("dist-info/METADATA"))).decode()
        entry_points = archive.read(next(n for n in names if n.endswith("dist-info/entry_points.txt"))).decode()
    top_level = {name.split("/")[0] for name in names}
    assert {name for name in top_level if not name.endswith(".dist-info")} == {"layer0_client"}
    assert "layer0_client/cli/app.py" in names and "layer0_client/py.typed" in names
    assert "l0 = layer0_client.cli:main" in entry_points
    requires = [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert {r.split(">")[0].split("<")[0].split("=")[0] for r in requires} == {"httpx", "click", "rich", "pydantic"}
