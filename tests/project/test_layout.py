"""The package's layout as docs/architecture.md draws it: imports run one way, and no module is too long to read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from support.paths import ROOT

PACKAGE = ROOT / "src" / "autokg"
#: each part of the package, lowest first: a part imports only from parts before it, or from itself
LAYERS = [
    ("autokg.errors",),
    ("autokg.resources",),
    ("autokg.settings",),
    ("autokg.config",),
    ("autokg.rdf",),
    ("autokg.validate", "autokg.stores"),
    ("autokg.query",),
    ("autokg.build", "autokg.engine", "autokg.wikidata"),
    ("autokg.web",),
    ("autokg.cli",),
]
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}
MAX_LINES = 400


def module_name(path: Path) -> str:
    """The dotted name of a module of the package."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(path: Path) -> set[str]:
    """The package's modules that a module imports, at any depth of its code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("autokg"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("autokg."))
    return {name for name in found if name in MODULES}


def part_of(module: str) -> str:
    """The layer a module belongs to: its folder, or the module itself at the top of the package."""
    return ".".join(module.split(".")[:2])


def test_every_part_has_a_layer():
    assert {part_of(m) for m in MODULES} - {"autokg"} == set(RANK)


@pytest.mark.parametrize("module", [m for m in MODULES if m != "autokg"])
def test_imports_run_one_way(module):
    rank = RANK[part_of(module)]
    upward = sorted(d for d in imported(MODULES[module]) if d != "autokg" and part_of(d) != part_of(module) and RANK[part_of(d)] >= rank)
    assert not upward, f"{module} imports {upward}, which stand at its level or above it in LAYERS"


def test_no_import_circle():
    graph = {m: imported(p) - {m, "autokg"} for m, p in MODULES.items()}
    state: dict[str, int] = {}
    circles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                circles.append(path[path.index(dep):] + [dep] if dep in path else [node, dep])
            elif dep not in state:
                visit(dep, path + [dep])
        state[node] = 2

    for module in graph:
        if module not in state:
            visit(module, [module])
    assert not circles, circles


def test_no_module_over_the_limit():
    lengths = {str(p.relative_to(PACKAGE)): len(p.read_text(encoding="utf-8").splitlines()) for p in PACKAGE.rglob("*.py")}
    over = {name for name, n in lengths.items() if n > MAX_LINES}
    assert not over, {name: lengths[name] for name in over}
