"""`autokg push` and `autokg serve --backend` on Virtuoso Open Source 7, started on 127.0.0.1 by bench/engines.py.

The push goes through Virtuoso's authenticated Graph Store endpoint (HTTP Digest), staged and moved with
SPARQL Update; the served answers must be the embedded store's, with the same two normalizations as
test_virtuoso.py (language-tag case, numeric lexical forms).
"""

from __future__ import annotations

import time
from pathlib import Path

import pyoxigraph as ox
import pytest

from autokg.errors import AutokgError
from autokg.stores.backend import RemoteStore, graph_counts
from autokg.stores.embedded import PART_GRAPHS
from autokg.stores.push import part_files, push
from autokg.web.app import create_app
from support.agreement import CASES, CATALOG, OFFLINE, assert_query_endpoint_agrees, assert_same_page, canned_answers, solutions

pytestmark = [pytest.mark.live, pytest.mark.slow]

LIMITS = {"TESTING": True, "TIMEOUT": 5.0, "MAX_ROWS": 2000, "MAX_CONTENT_LENGTH": 1024 * 1024}
DATA = PART_GRAPHS["data"].value


@pytest.fixture(scope="module")
def virtuoso(virtuoso_server, built):
    """An empty Virtuoso: the session's, cleared."""
    virtuoso_server.clear()
    return virtuoso_server


@pytest.fixture(scope="module")
def pushed(virtuoso, runner, monkeypatch_module):
    """The project pushed with the CLI, the password from the environment."""
    monkeypatch_module.setenv("AUTOKG_PUSH_PASSWORD", virtuoso.auth[1])
    return runner("push", "--to", virtuoso.graph_store_url, "--auth", virtuoso.auth[0])


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def backend_app(pushed, virtuoso):
    """The app serving from Virtuoso."""
    return create_app({**LIMITS, "BACKEND": virtuoso.sparql_url})


@pytest.fixture(scope="module")
def embedded_app():
    return create_app(LIMITS)


def data_count(virtuoso) -> int:
    return graph_counts(RemoteStore(virtuoso.sparql_url))[DATA]


def test_push_with_digest_auth_stages_and_moves(pushed, virtuoso, files):
    assert pushed.status == 0, pushed.err
    assert f"staged and moved with {virtuoso.sparql_url}-auth" in pushed.out
    sent = {PART_GRAPHS[p].value: sum(1 for line in path.open(encoding="utf-8") if line.strip()) for p, path in part_files(files).items()}
    assert graph_counts(RemoteStore(virtuoso.sparql_url)) == sent
    assert not any("staging" in graph for graph in virtuoso.graphs())


def broken_copy(files, tmp_path: Path) -> Path:
    broken = tmp_path / "broken.nt"
    broken.write_text(part_files(files)["data"].read_text(encoding="utf-8") + '<https://w3id.org/autokg/id/x> <https://w3id.org/autokg/ontology#p> "unterminated .\n', encoding="utf-8")
    return broken


@pytest.mark.parametrize("staged", [True, False], ids=["staged-and-moved", "direct-put"])
def test_a_refused_push_keeps_the_previous_version_only_when_staged(pushed, virtuoso, files, tmp_path, staged):
    update = virtuoso.sparql_url + "-auth"
    older = tmp_path / "older.nt"
    older.write_text("".join(part_files(files)["data"].read_text(encoding="utf-8").splitlines(keepends=True)[:100]), encoding="utf-8")
    push({"data": older}, virtuoso.graph_store_url, virtuoso.sparql_url, virtuoso.auth, update_endpoint=update)
    assert data_count(virtuoso) == 100
    with pytest.raises(AutokgError, match="refused the data part"):
        push({"data": broken_copy(files, tmp_path)}, virtuoso.graph_store_url, virtuoso.sparql_url, virtuoso.auth,
             update_endpoint=update if staged else None)
    if staged:
        assert data_count(virtuoso) == 100
    else:
        # Virtuoso's own PUT cleared the graph and kept what it parsed before the error: why push stages
        assert data_count(virtuoso) not in (0, 100)
    push(part_files(files), virtuoso.graph_store_url, virtuoso.sparql_url, virtuoso.auth, update_endpoint=update)


def parsed(response) -> ox.QuerySolutions | ox.QueryBoolean:
    return ox.parse_query_results(response.data, format=ox.QueryResultsFormat.XML)


SELECTS = [name for name in OFFLINE if CATALOG[name].form in ("SELECT", "ASK")]


@pytest.mark.parametrize("name", SELECTS)
def test_canned_queries_answer_the_same_through_virtuoso(name, backend_app, embedded_app):
    ours, theirs = canned_answers(embedded_app, backend_app, name, "application/sparql-results+xml")
    if CATALOG[name].form == "ASK":
        assert bool(parsed(theirs)) == bool(parsed(ours))
    else:
        assert solutions(parsed(theirs)) == solutions(parsed(ours))


@pytest.mark.parametrize("path", ["/", "/id/im-motors", "/id/saic-motor", "/ontology", "/search?q=Zhiji"])
def test_pages_render_the_same_through_virtuoso(path, backend_app, embedded_app):
    assert_same_page(embedded_app, backend_app, path)


def test_virtuoso_timeouts_are_passed_on_and_partial_answers_refused(backend_app, virtuoso):
    store = backend_app.extensions["autokg"].store
    assert store.timeout_parameter == ("timeout", 1000) and "Virtuoso" in store.server
    app = create_app({**LIMITS, "BACKEND": virtuoso.sparql_url, "TIMEOUT": 2.0})
    started = time.monotonic()
    response = app.test_client().get("/sparql", query_string={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"})
    assert response.status_code == 503 and b"longer than 2 s" in response.data
    assert time.monotonic() - started < 2 + 2
    assert app.test_client().get("/sparql", query_string={"query": "ASK { ?s ?p ?o }"}).status_code == 200


def test_guards_hold_in_front_of_virtuoso(backend_app):
    client = backend_app.test_client()
    assert client.get("/sparql", query_string={"query": "DROP ALL"}).status_code == 403
    assert client.post("/sparql", data={"update": "CLEAR ALL"}).status_code == 403
    capped = client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p ?o }"}, headers={"Accept": "text/csv"})
    assert capped.status_code == 422
    assert client.get("/health").get_json()["status"] == "ok"


@pytest.mark.parametrize("name,examples", CASES, ids=[f"{n}{'-examples' if e else ''}" for n, e in CASES])
def test_query_endpoint_after_a_push_to_virtuoso_gives_the_embedded_answer(runner, pushed, virtuoso, name, examples):
    assert_query_endpoint_agrees(runner, name, examples, virtuoso.sparql_url)
