"""A command that cannot reach a remote endpoint says so in one line and exits 2, with no traceback.

Every remote endpoint here is a closed port on 127.0.0.1: nothing leaves the machine. The federated
competency queries call the Wikidata Query Service with SERVICE; they are run with that IRI pointed at
the closed port, as a query file.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from autokg.config import project_files
from autokg.query.catalog import load_catalog
from support.servers import free_port

CATALOG = load_catalog(project_files().queries)
FEDERATED = sorted(name for name, query in CATALOG.items() if query.federated)


@pytest.fixture(scope="module")
def closed() -> str:
    """The base URL of a port on 127.0.0.1 that refuses connections."""
    port = free_port()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    return f"http://127.0.0.1:{port}"


COMMANDS = {
    "query --endpoint": lambda url: ["query", "joint-ventures", "--endpoint", url + "/sparql"],
    "query --endpoint (ASK)": lambda url: ["query", "are-tied", "--endpoint", url + "/sparql", "--format", "csv"],
    "diff-wikidata": lambda url: ["diff-wikidata", "--endpoint", url + "/sparql", "--timeout", "2"],
    "export quickstatements": lambda url: ["export", "quickstatements", "--endpoint", url + "/sparql", "--timeout", "2"],
    "links --endpoint": lambda url: ["links", "--endpoint", url + "/sparql", "--timeout", "2"],
    "push": lambda url: ["push", "--to", url + "/store"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unreachable_endpoint_is_one_line_and_exit_2(runner, closed, command):
    result = runner(*COMMANDS[command](closed))
    assert result.status == 2 and "Traceback" not in result.err, result.err[-2000:]
    errors = [line for line in result.err.splitlines() if line.startswith("autokg: error:")]
    assert len(errors) == 1 and "cannot reach" in errors[0] and closed in errors[0], result.err


@pytest.mark.live
def test_serve_with_an_unreachable_backend_is_one_line_and_exit_2(closed):
    # a process of its own: serve() takes over standard error (faulthandler) and signals
    result = subprocess.run([sys.executable, "-m", "autokg.cli", "serve", "--backend", closed + "/sparql", "--port", str(free_port())],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.stderr.strip().splitlines() == [
        f"autokg: error: The backend store is unavailable: cannot reach {closed}/sparql: [Errno 111] Connection refused"]


@pytest.mark.parametrize("name", FEDERATED)
def test_a_federated_query_whose_service_is_unreachable_is_one_line_and_exit_2(runner, closed, name, tmp_path: Path):
    query = CATALOG[name]
    assert "<https://query.wikidata.org/sparql>" in query.text
    path = tmp_path / f"{name}.rq"
    path.write_text(query.text.replace("https://query.wikidata.org/sparql", closed + "/sparql"), encoding="utf-8")
    result = runner("query", str(path), "--format", "csv")
    assert result.status == 2 and "Traceback" not in result.err and result.out == ""
    lines = result.err.strip().splitlines()
    assert lines[-1] == "autokg: error: cannot reach an endpoint that the query calls with SERVICE (or read the store): Connection refused (os error 111)"
    assert [line for line in lines if line.startswith("autokg: error:")] == lines[-1:]


@pytest.mark.parametrize("fmt", ["csv", "tsv", "json", "xml", "table"])
def test_every_output_of_query_ends_with_a_newline(runner, fmt):
    result = runner("query", "are-tied", "--format", fmt)
    assert result.status == 0 and result.out.endswith("\n") and not result.out.endswith("\n\n"), repr(result.out)
    if fmt == "csv":
        assert result.out == "true\n"
