"""Shared fixtures: the project loaded once, and a runner for the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from autokg.cli import main
from autokg.config import ProjectFiles, project_files
from autokg.loading import Project, load_project

TESTS = Path(__file__).parent


@pytest.fixture(scope="session")
def files() -> ProjectFiles:
    """The project's files."""
    return project_files()


@pytest.fixture(scope="session")
def project(files: ProjectFiles) -> Project:
    """The project's graphs, loaded once per session."""
    return load_project(files)


@dataclass
class Run:
    status: int
    out: str
    err: str


@pytest.fixture
def runner(capsys: pytest.CaptureFixture[str]):
    """Run the `autokg` CLI in-process and return its status and output."""

    def run(*args: str) -> Run:
        status = main(list(args))
        captured = capsys.readouterr()
        return Run(status, captured.out, captured.err)

    return run
