"""The code's shape: no import cycle in the Lambda asset, local mode or the benchmarks (imports inside functions
count), no module lookups by string in the Lambda asset, and no comment that cites a document outside the
repository."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Where each tree's top-level packages are importable from.
TREES = {"functions": ROOT / "functions", "local": ROOT, "benchmarks": ROOT}


def _modules(base: Path, top: Path) -> dict[str, Path]:
    """Module name -> file, for every .py file under `top` (a package directory below `base`)."""
    found = {}
    for path in top.rglob("*.py"):
        parts = path.relative_to(base).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The known modules `module` imports anywhere in its file. `from a import b` counts as a.b when a.b is a
    module, as a otherwise."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in known else base)
    return {name for name in found if name in known and name != module}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _graph(tree: str) -> dict[str, set[str]]:
    base = TREES[tree]
    tops = [base / name for name in ("layer0", "handlers")] if tree == "functions" else [base / tree]
    modules: dict[str, Path] = {}
    for top in tops:
        modules |= _modules(base, top)
    known = set(modules)
    # A package's __init__ is not a dependency of its submodules for this purpose: importing a.b runs a's
    # __init__ first, but a cycle through it shows as one between the modules themselves.
    return {name: _imports(name, path, known) for name, path in modules.items()}


@pytest.mark.parametrize("tree", sorted(TREES))
def test_no_import_cycle(tree):
    graph = _graph(tree)
    assert len(graph) > 3
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_lambda_asset_finds_no_module_by_string():
    for path in (ROOT / "functions").rglob("*.py"):
        assert "importlib" not in path.read_text(), path


OUTSIDE = re.compile(r"SPEC §|DESIGN §|\.\./shared|TOOLING\.md|SPEC\.md|DESIGN\.md")


def test_no_comment_cites_a_document_outside_the_repository():
    cited = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("functions", "infra", "local", "benchmarks", "client", "tests")
        for path in (ROOT / folder).rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if OUTSIDE.search(line) and path != Path(__file__)
    ]
    assert cited == []


def test_every_docs_link_in_the_code_names_a_heading_that_exists():
    anchors: dict[str, set[str]] = {}
    for doc in (ROOT / "docs").glob("*.md"):
        anchors[doc.name] = {
            re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            for line in doc.read_text().splitlines()
            if line.startswith("#")
        }
    broken = []
    for folder in ("functions", "infra", "local", "benchmarks", "client", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            for doc, anchor in re.findall(r"docs/([\w-]+\.md)#([\w-]+)", path.read_text()):
                if anchor not in anchors.get(doc, set()):
                    broken.append(f"{path.relative_to(ROOT)}: docs/{doc}#{anchor}")
    assert broken == []
