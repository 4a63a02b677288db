"""External stores: `autokg push` through the Graph Store Protocol, and `autokg serve --backend` over a real engine.

Oxigraph's server (read-write, from the test extra) runs on 127.0.0.1; the Virtuoso tests are in
test_virtuoso.py. The backend app must answer exactly as the embedded one: queries, pages and guards.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from autokg.errors import AutokgError
from autokg.query.catalog import load_catalog
from autokg.stores.backend import RemoteStore, graph_counts
from autokg.stores.embedded import PART_GRAPHS
from autokg.stores.push import part_files, push
from autokg.web.app import create_app
from support.agreement import CASES, assert_query_endpoint_agrees, assert_same_page, canned_answers
from support.paths import ROOT, TESTS
from support.servers import oxigraph_server, serving

LIMITS = {"TESTING": True, "TIMEOUT": 5.0, "MAX_ROWS": 2000, "MAX_CONTENT_LENGTH": 1024 * 1024}


@pytest.fixture(scope="module")
def oxigraph_rw(tmp_path_factory):
    """An empty read-write Oxigraph server; yields (graph store URL, query URL)."""
    url, process = oxigraph_server(None, tmp_path_factory.mktemp("push-store"), command="serve")
    yield url.replace("/query", "/store"), url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def pushed(oxigraph_rw, runner, files):
    """The project pushed to the Oxigraph server with `autokg push`; yields the CLI run and the query URL."""
    store_url, query_url = oxigraph_rw
    result = runner("push", "--to", store_url)
    return result, query_url


@pytest.fixture(scope="module")
def backend_app(pushed):
    """The app serving from the Oxigraph server."""
    return create_app({**LIMITS, "BACKEND": pushed[1]})


@pytest.fixture(scope="module")
def embedded_app():
    """The app on the embedded store, for comparison."""
    return create_app(LIMITS)


@pytest.mark.live
def test_push_reports_every_part_and_its_count(pushed, files):
    result, query_url = pushed
    assert result.status == 0, result.err
    assert f"staged and moved with {query_url.replace('/query', '/update')}" in result.out
    sent = {part: sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip()) for part, path in part_files(files).items()}
    for part, count in sent.items():
        assert f"{part:<10} {count:>8} triples sent, {count:>8} in <{PART_GRAPHS[part].value}>" in result.out
    assert graph_counts(RemoteStore(query_url)) == {PART_GRAPHS[p].value: n for p, n in sent.items()}


def older_version(files, tmp_path: Path, lines: int) -> dict[str, Path]:
    """The parts, with the data part cut down to its first `lines` triples (a stand-in for last month's data)."""
    parts = part_files(files)
    short = tmp_path / "autokg-data.nt"
    short.write_text("".join(parts["data"].read_text(encoding="utf-8").splitlines(keepends=True)[:lines]), encoding="utf-8")
    return {**parts, "data": short}


def data_count(query_url: str) -> int:
    return graph_counts(RemoteStore(query_url))[PART_GRAPHS["data"].value]


@pytest.mark.live
@pytest.mark.parametrize("staged", [False, True], ids=["direct-put", "staged-and-moved"])
def test_a_refused_push_keeps_the_previous_version(oxigraph_rw, pushed, files, tmp_path, staged):
    store_url, query_url = oxigraph_rw
    update = store_url.replace("/store", "/update") if staged else None
    push(older_version(files, tmp_path, 100), store_url, query_url, update_endpoint=update)
    assert data_count(query_url) == 100
    broken = tmp_path / "broken.nt"
    broken.write_text(part_files(files)["data"].read_text(encoding="utf-8") + '<https://w3id.org/autokg/id/x> <https://w3id.org/autokg/ontology#p> "unterminated .\n', encoding="utf-8")
    with pytest.raises(AutokgError) as refused:
        push({"data": broken}, store_url, query_url, update_endpoint=update)
    assert "refused the data part (HTTP 400)" in str(refused.value) and str(broken) in str(refused.value)
    assert data_count(query_url) == 100
    push(part_files(files), store_url, query_url, update_endpoint=update)
    assert data_count(query_url) == sum(1 for line in part_files(files)["data"].open() if line.strip())


def cutting_proxy(upstream: int, cut_after: int) -> int:
    """A one-connection TCP proxy on 127.0.0.1 that forwards the first `cut_after` bytes of the request, then hangs up."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def relay() -> None:
        client, _ = listener.accept()
        with client, socket.create_connection(("127.0.0.1", upstream)) as server:
            sent = 0
            while sent < cut_after:
                chunk = client.recv(min(65536, cut_after - sent))
                if not chunk:
                    break
                server.sendall(chunk)
                sent += len(chunk)
            time.sleep(0.2)
        listener.close()

    threading.Thread(target=relay, daemon=True).start()
    return listener.getsockname()[1]


@pytest.mark.live
def test_a_push_cut_off_midway_keeps_the_previous_version(oxigraph_rw, pushed, files, tmp_path):
    store_url, query_url = oxigraph_rw
    push(older_version(files, tmp_path, 100), store_url, query_url)
    upstream = int(store_url.split(":")[2].split("/")[0])
    port = cutting_proxy(upstream, cut_after=part_files(files)["data"].stat().st_size // 2)
    with pytest.raises(AutokgError, match="cannot reach"):
        push({"data": part_files(files)["data"]}, f"http://127.0.0.1:{port}/store", query_url)
    time.sleep(0.5)
    assert data_count(query_url) == 100
    push(part_files(files), store_url, query_url)


def test_push_needs_a_password_and_a_known_layout(runner):
    result = runner("push", "--to", "http://127.0.0.1:9/graphs", "--auth", "dba")
    assert result.status == 2 and "AUTOKG_PUSH_PASSWORD" in result.err
    result = runner("push", "--to", "http://127.0.0.1:9/graphs")
    assert result.status == 2 and "give it with --endpoint" in result.err


def bindings(response) -> Counter:
    """The multiset of solutions of a SPARQL JSON answer."""
    data = json.loads(response.data)
    if "boolean" in data:
        return Counter([data["boolean"]])
    return Counter(json.dumps(b, sort_keys=True) for b in data["results"]["bindings"])


OFFLINE = [q.name for q in load_catalog(ROOT / "queries").values() if not q.federated and q.form in ("SELECT", "ASK")]


@pytest.mark.live
@pytest.mark.parametrize("name", OFFLINE)
def test_canned_queries_answer_the_same_through_the_backend(name, backend_app, embedded_app):
    ours, theirs = canned_answers(embedded_app, backend_app, name, "application/sparql-results+json")
    assert bindings(theirs) == bindings(ours)


@pytest.mark.live
@pytest.mark.parametrize("path", ["/", "/id/im-motors", "/id/saic-motor", "/ontology", "/search?q=%E6%99%BA%E5%B7%B1", "/id/no-such-thing"])
def test_pages_are_the_same_through_the_backend(path, backend_app, embedded_app):
    assert_same_page(embedded_app, backend_app, path)


@pytest.mark.live
@pytest.mark.parametrize("path,accept", [("/id/im-motors", "text/turtle"), ("/ontology", "application/n-triples"), ("/vocab/status", "text/turtle")])
def test_rdf_descriptions_are_the_same_through_the_backend(path, accept, backend_app, embedded_app):
    from rdflib import Graph
    from rdflib.compare import isomorphic

    fmt = {"text/turtle": "turtle", "application/n-triples": "nt"}[accept]
    ours = embedded_app.test_client().get(path, headers={"Accept": accept})
    theirs = backend_app.test_client().get(path, headers={"Accept": accept})
    assert theirs.status_code == ours.status_code == 200
    assert isomorphic(Graph().parse(data=theirs.data, format=fmt), Graph().parse(data=ours.data, format=fmt))


@pytest.mark.live
def test_construct_and_formats_through_the_backend(backend_app):
    client = backend_app.test_client()
    query = "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH <https://w3id.org/autokg/graph/shortcuts> { ?s ?p ?o } }"
    for accept in ("text/turtle", "application/ld+json", "application/rdf+xml", "application/n-quads"):
        response = client.get("/sparql", query_string={"query": query}, headers={"Accept": accept})
        assert response.status_code == 200 and response.content_type.startswith(accept)
    response = client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 3"}, headers={"Accept": "text/csv"})
    assert response.status_code == 200 and len(response.data.decode().splitlines()) == 4


@pytest.mark.live
def test_dataset_parameters_are_forwarded(backend_app, embedded_app):
    query = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    params = {"query": query, "default-graph-uri": PART_GRAPHS["shortcuts"].value}
    ours = embedded_app.test_client().get("/sparql", query_string=params, headers={"Accept": "application/sparql-results+json"})
    theirs = backend_app.test_client().get("/sparql", query_string=params, headers={"Accept": "application/sparql-results+json"})
    assert bindings(theirs) == bindings(ours)
    assert json.loads(theirs.data)["results"]["bindings"][0]["n"]["value"] == "48"


@pytest.mark.live
def test_guards_hold_before_anything_is_forwarded(backend_app):
    client = backend_app.test_client()
    canary = socket.socket()
    canary.bind(("127.0.0.1", 0))
    canary.listen(1)
    canary.settimeout(0.5)
    port = canary.getsockname()[1]
    with canary:
        refused = client.get("/sparql", query_string={"query": f"SELECT * WHERE {{ SERVICE <http://127.0.0.1:{port}/sparql> {{ ?s ?p ?o }} }}"})
        assert refused.status_code == 400 and b"allow-list" in refused.data
        with pytest.raises(socket.timeout):
            canary.accept()
    assert client.post("/sparql", data={"update": "DROP ALL"}).status_code == 403
    assert client.get("/sparql", query_string={"query": "DROP ALL"}).status_code == 403
    capped = client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p ?o }"}, headers={"Accept": "text/csv"})
    assert capped.status_code == 422 and b"2000 rows" in capped.data
    bad = client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p "})
    assert bad.status_code == 400 and bad.content_type.startswith("text/plain") and b"refused the query" in bad.data
    health = client.get("/health").get_json()
    assert health["status"] == "ok" and health["triples"] == backend_app.extensions["autokg"].triples > 0
    assert "Oxigraph" in health["store"]


@pytest.mark.live
def test_a_slow_backend_query_is_stopped_and_answered_503(tmp_path, files):
    # its own server: Oxigraph keeps evaluating an abandoned query, so it is killed afterwards
    url, process = oxigraph_server(None, tmp_path / "slow", command="serve")
    try:
        push(part_files(files), url.replace("/query", "/store"), url)
        app = create_app({**LIMITS, "BACKEND": url, "TIMEOUT": 1.5})
        client = app.test_client()
        started = time.monotonic()
        response = client.get("/sparql", query_string={"query": "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l } ORDER BY ?a"})
        assert response.status_code == 503 and b"longer than 1.5 s" in response.data
        assert time.monotonic() - started < 1.5 + 2
        assert client.get("/sparql", query_string={"query": "ASK { ?s ?p ?o }"}).status_code == 200
    finally:
        process.kill()
        process.wait(timeout=10)


def test_an_unreachable_backend_is_a_clear_error():
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    with pytest.raises(AutokgError, match=f"backend store is unavailable: cannot reach http://127.0.0.1:{port}/query"):
        create_app({**LIMITS, "BACKEND": f"http://127.0.0.1:{port}/query"})


@pytest.mark.live
def test_a_backend_without_autokg_graphs_is_refused(tmp_path):
    url, process = oxigraph_server(None, tmp_path / "empty", command="serve")
    try:
        with pytest.raises(AutokgError, match="holds none of autokg's graphs"):
            create_app({**LIMITS, "BACKEND": url})
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.live
def test_autokg_serve_backend_end_to_end(pushed):
    from SPARQLWrapper import JSON, SPARQLWrapper

    with serving("--backend", pushed[1], "--workers", "2", log_name="backend-server.log") as base:
        client = SPARQLWrapper(base + "/sparql")
        client.setQuery("SELECT (COUNT(*) AS ?n) WHERE { ?s a <https://w3id.org/autokg/ontology#JointVentureFormation> }")
        client.setReturnFormat(JSON)
        count = int(client.queryAndConvert()["results"]["bindings"][0]["n"]["value"])
        assert count > 0
        with urllib.request.urlopen(base + "/health", timeout=10) as response:
            assert json.loads(response.read())["store"].startswith(f"SPARQL backend {pushed[1]}")


@pytest.mark.live
def test_further_backend_graphs_join_the_default_graph(oxigraph_rw, pushed):
    from autokg.stores.remote import http_request

    store_url, query_url = oxigraph_rw
    slice_graph = "https://w3id.org/autokg/graph/wikidata-slice"
    fixture = TESTS / "fixtures" / "wikidata-fixture.ttl"
    reply = http_request(f"{store_url}?graph={slice_graph}", fixture.read_bytes(), {"Content-Type": "text/turtle"}, "PUT")
    assert reply.status in (201, 204)
    query = """SELECT ?org ?inception WHERE { ?org <http://www.w3.org/2004/02/skos/core#exactMatch> ?item .
               ?item <http://www.wikidata.org/prop/direct/P571> ?inception }"""
    accept = {"Accept": "application/sparql-results+json"}
    alone = create_app({**LIMITS, "BACKEND": query_url}).test_client().get("/sparql", query_string={"query": query}, headers=accept)
    merged_app = create_app({**LIMITS, "BACKEND": query_url, "BACKEND_GRAPHS": slice_graph})
    merged = merged_app.test_client().get("/sparql", query_string={"query": query}, headers=accept)
    assert sum(bindings(alone).values()) == 0
    found = {b["org"]["value"] for b in json.loads(merged.data)["results"]["bindings"]}
    assert "https://w3id.org/autokg/id/tesla" in found
    assert merged_app.extensions["autokg"].triples > sum(graph_counts(RemoteStore(query_url)).values())


# --- `autokg query --endpoint` on the store that push filled: its default graph is not the union of the parts ---

@pytest.mark.live
@pytest.mark.parametrize("name,examples", CASES, ids=[f"{n}{'-examples' if e else ''}" for n, e in CASES])
def test_query_endpoint_after_a_push_gives_the_embedded_answer(runner, pushed, name, examples):
    assert_query_endpoint_agrees(runner, name, examples, pushed[1])


@pytest.mark.live
def test_the_pushed_store_default_graph_is_not_the_union(pushed):
    # why query --endpoint names the part graphs: without them, this store answers from its empty default graph
    from autokg.stores.remote import http_request

    reply = http_request(pushed[1] + "?query=ASK%7B%3Fs%20%3Fp%20%3Fo%7D", headers={"Accept": "application/sparql-results+json"})
    assert json.loads(reply.body)["boolean"] is False
