"""Shared fixtures: the project loaded once, and a runner for the CLI."""

from __future__ import annotations

import contextlib
import io
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
    from autokg.app import create_app

    return create_app({"TESTING": True, "TIMEOUT": 5.0, "MAX_ROWS": 2000, "MAX_CONTENT_LENGTH": 1024 * 1024})


@pytest.fixture
def client(app):
    """A Flask test client."""
    return app.test_client()


def gone(pid: int) -> bool:
    """Whether a process has ended (a zombie that no one reaped has ended too)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def wait_until(condition, within: float, every: float = 0.05) -> bool:
    """Whether `condition()` came true within `within` seconds, asked every `every` seconds."""
    import time

    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(every)
    return True


def still_running(pids: list[int], within: float = 5.0) -> list[int]:
    """The processes among `pids` that have not ended after waiting up to `within` seconds for them all."""
    wait_until(lambda: all(map(gone, pids)), within)
    return [pid for pid in pids if not gone(pid)]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving(*options: str, log_name: str = "live-server.log"):
    """`autokg serve OPTIONS` in a subprocess on 127.0.0.1 and a free port; yields its base URL, then stops it with SIGTERM."""
    import os
    import subprocess
    import sys
    import time
    import urllib.request

    port = free_port()
    log = open(TESTS / ".." / "dist" / log_name, "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "autokg.cli", "serve", "--port", str(port), *options],
        stdout=log, stderr=subprocess.STDOUT, env={k: v for k, v in os.environ.items() if k != "AUTOKG_SERVICE_ALLOW_LIST"},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(base + "/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError(f"the server did not start; see dist/{log_name}")
    try:
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture(scope="session")
def live_server():
    """`autokg serve` on the embedded store, with short limits; yields its base URL."""
    with serving("--workers", "3", "--timeout", "3", "--max-body", str(1024 * 1024)) as base:
        yield base


def oxigraph_server(data: Path | None, location: Path, *options: str, command: str = "serve-read-only"):
    """Load `data` (if any) into an Oxigraph server (from the test extra) on 127.0.0.1; returns (query URL, process)."""
    import shutil
    import subprocess
    import sys
    import time
    import urllib.request

    binary = shutil.which("oxigraph", path=str(Path(sys.executable).parent)) or shutil.which("oxigraph")
    assert binary, "the oxigraph server is part of the test extra: pip install -e '.[test]'"
    if data is not None:
        subprocess.run([binary, "load", "--location", str(location), "--file", str(data)], check=True, capture_output=True)
    port = free_port()
    process = subprocess.Popen([binary, command, "--location", str(location), "--bind", f"127.0.0.1:{port}", *options],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/query"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url + "?query=ASK%7B%7D", timeout=2):
                break
        except OSError:
            time.sleep(0.1)
    return url, process


@pytest.fixture(scope="session")
def wikidata_endpoint(tmp_path_factory):
    """Oxigraph's server loaded with the Wikidata-model fixture; yields its query URL."""
    url, process = oxigraph_server(TESTS / "fixtures" / "wikidata-fixture.ttl", tmp_path_factory.mktemp("wikidata-store"))
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def autokg_on_oxigraph(tmp_path_factory, files):
    """Oxigraph's server holding the built dataset, its default graph the union; yields its query URL."""
    from autokg.build import build

    build(files)
    url, process = oxigraph_server(files.root / "dist" / "autokg.nq", tmp_path_factory.mktemp("autokg-store"), "--union-default-graph")
    yield url
    process.terminate()
    process.wait(timeout=10)


def canned_answers(embedded_app, backend_app, name: str, accept: str):
    """The embedded app's and the backend app's answers to one canned query, both checked to be 200."""
    ours = embedded_app.test_client().get(f"/queries/{name}", headers={"Accept": accept})
    theirs = backend_app.test_client().get(f"/queries/{name}", headers={"Accept": accept})
    assert theirs.status_code == ours.status_code == 200, theirs.data[:300]
    return ours, theirs


def assert_same_page(embedded_app, backend_app, path: str) -> None:
    """A page renders byte for byte the same from a backend as from the embedded store, but for the version."""
    ours = embedded_app.test_client().get(path)
    theirs = backend_app.test_client().get(path)
    # the version names the inputs of a local build; a backend's is only known to be remote
    versions = embedded_app.extensions["autokg"].version.encode(), backend_app.extensions["autokg"].version.encode()
    assert (theirs.status_code, theirs.data) == (ours.status_code, ours.data.replace(*versions))


def require_virtuoso() -> None:
    """Skip the calling test without Virtuoso, or fail it when AUTOKG_REQUIRE_VIRTUOSO=1 (as in CI)."""
    import os
    import sys

    sys.path.insert(0, str(TESTS.parent / "bench"))
    import engines

    if engines.virtuoso_binary() is None:
        if os.environ.get("AUTOKG_REQUIRE_VIRTUOSO") == "1":
            pytest.fail("Virtuoso is required here: apt-get install virtuoso-opensource-7")
        pytest.skip("Virtuoso is not installed (apt-get install virtuoso-opensource-7)")
