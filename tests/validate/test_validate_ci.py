"""The pre-commit hooks and the README's CI recipe run as written."""

from __future__ import annotations

import re
import shlex

import pytest

from autokg.config import project_files

ROOT = project_files().root
HOOKS_FILE = ROOT / ".pre-commit-hooks.yaml"


def hooks() -> list[dict[str, str]]:
    """The hooks of .pre-commit-hooks.yaml: a list of flat mappings (read without a YAML library)."""
    found: list[dict[str, str]] = []
    for line in HOOKS_FILE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^(- |  )(\w+): (.*)$", line)
        if match:
            if match.group(1) == "- ":
                found.append({})
            found[-1][match.group(2)] = match.group(3)
    return found


def test_hooks_are_declared():
    assert {h["id"] for h in hooks()} == {"autokg-validate", "autokg-validate-project", "autokg-fmt"}
    assert all({"name", "entry", "language", "files"} <= set(h) for h in hooks())


@pytest.mark.parametrize("hook", hooks(), ids=lambda h: h["id"])
def test_hook_runs_on_the_files_it_selects(hook, runner, monkeypatch):
    monkeypatch.chdir(ROOT)
    selected = [p for p in ("data/articles/001.ttl", "ontology/autokg.ttl", "shapes/autokg.ttl", "README.md")
                if re.search(hook["files"], p)]
    assert selected and "README.md" not in selected
    arguments = shlex.split(hook["entry"])[1:]
    if hook.get("pass_filenames") != "false":
        arguments += [p for p in selected if p.startswith("data/")] or selected
    run = runner(*arguments)
    assert run.status == 0, run.out + run.err


def test_readme_recipe_commands_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for fmt in ("github", "junit"):
        assert f"validate --format {fmt}" in readme
    assert ".pre-commit-hooks.yaml" in readme
