"""House rules that a reader can check by eye, checked for every module: docstrings and hints, no printing."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from support.paths import ROOT

PACKAGE = ROOT / "src" / "autokg"
MODULES = sorted(PACKAGE.rglob("*.py"))
#: methods that only restate a base class's signature (rdflib's Graph and Store API), documented there
OVERRIDES = {"triples", "add", "addN", "remove", "write", "flush", "value"}


def public_functions(tree: ast.Module) -> list[ast.FunctionDef]:
    """A module's public functions and its public classes' public methods."""
    found = [node for node in tree.body if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")]
    for cls in (node for node in tree.body if isinstance(node, ast.ClassDef) and not node.name.startswith("_")):
        found += [m for m in cls.body if isinstance(m, ast.FunctionDef) and not m.name.startswith("_") and m.name not in OVERRIDES]
    return found


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_public_functions_have_hints_and_a_docstring(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert ast.get_docstring(tree), f"{path.name} has no module docstring"
    missing = []
    for function in public_functions(tree):
        arguments = [a for a in function.args.args + function.args.kwonlyargs if a.arg not in ("self", "cls")]
        if not ast.get_docstring(function):
            missing.append(f"{function.name} (line {function.lineno}): no docstring")
        if function.returns is None or any(a.annotation is None for a in arguments):
            missing.append(f"{function.name} (line {function.lineno}): type hints missing")
    assert not missing, missing


@pytest.mark.parametrize("path", [p for p in MODULES if p.name != "cli.py"], ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_cli_prints_or_exits(path):
    calls = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else f"{getattr(node.func.value, 'id', '')}.{node.func.attr}" if isinstance(node.func, ast.Attribute) else ""
            # os._exit ends a forked query child, which must not run the parent's clean-up
            if name in ("print", "exit", "quit", "sys.exit"):
                calls.append(f"{name} at line {node.lineno}")
    assert not calls, calls


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_no_star_imports(path):
    stars = [n.lineno for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names)]
    assert not stars, stars


def test_imports_are_sorted():
    """isort (configured in pyproject.toml) would change nothing: three groups, one import per line."""
    checked = subprocess.run([sys.executable, "-m", "isort", "--check-only", "--diff", "src", "tests", "bench", "setup.py"],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-1000:]
