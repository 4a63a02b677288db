"""Shared fixtures: the project loaded once, and a runner for the CLI."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import pytest

from autokg.cli import main
from autokg.config import ProjectFiles, project_files
from autokg.rdf.loading import Project, load_project
from support.paths import TESTS
from support.servers import oxigraph_server, require_virtuoso, serving


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


@pytest.fixture(scope="session")
def built(files):
    """dist/ and the store built once for the session: a build validates the whole dataset, so modules share it."""
    from autokg.build.artefacts import build

    return build(files)


@pytest.fixture(scope="session")
def runner():
    """Run the `autokg` CLI in-process and return its status and output (text and bytes written alike)."""

    def run(*args: str) -> Run:
        out, err = (io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True) for _ in range(2))
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(list(args))
        return Run(status, out.buffer.getvalue().decode("utf-8"), err.buffer.getvalue().decode("utf-8"))

    return run


@pytest.fixture(scope="session")
def app():
    """The Flask app on the project's data, with short limits for tests."""
    from autokg.web.app import create_app

    return create_app({"TESTING": True, "TIMEOUT": 5.0, "MAX_ROWS": 2000, "MAX_CONTENT_LENGTH": 1024 * 1024})


@pytest.fixture
def client(app):
    """A Flask test client."""
    return app.test_client()


@pytest.fixture(scope="session")
def live_server():
    """`autokg serve` on the embedded store, with short limits; yields its base URL."""
    with serving("--workers", "3", "--timeout", "3", "--max-body", str(1024 * 1024)) as base:
        yield base


@pytest.fixture(scope="session")
def wikidata_endpoint(tmp_path_factory):
    """Oxigraph's server loaded with the Wikidata-model fixture; yields its query URL."""
    url, process = oxigraph_server(TESTS / "fixtures" / "wikidata-fixture.ttl", tmp_path_factory.mktemp("wikidata-store"))
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def virtuoso_server(tmp_path_factory):
    """One Virtuoso for the session (started by bench/engines.py on 127.0.0.1); each module clears it first."""
    require_virtuoso()
    import engines

    with engines.Virtuoso(tmp_path_factory.mktemp("virtuoso")) as server:
        yield server


@pytest.fixture(scope="session")
def autokg_on_oxigraph(tmp_path_factory, files, built):
    """Oxigraph's server holding the built dataset, its default graph the union; yields its query URL."""
    url, process = oxigraph_server(files.root / "dist" / "autokg.nq", tmp_path_factory.mktemp("autokg-store"), "--union-default-graph")
    yield url
    process.terminate()
    process.wait(timeout=10)


