"""The endpoint as clients meet it: a live server (granian) on 127.0.0.1, real client libraries, hostile queries."""

from __future__ import annotations

import json
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest
from rdflib import Graph
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from SPARQLWrapper import JSON, POST, TURTLE, SPARQLWrapper

from support.listeners import Canary
from support.servers import raw

pytestmark = pytest.mark.live

CROSS_PRODUCT = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n2 ?o . ?p ?q ?r }"
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


def count(base: str) -> int:
    status, _, data = raw(base, "GET", "/sparql?" + urllib.parse.urlencode({"query": COUNT}))
    return int(json.loads(data)["results"]["bindings"][0]["n"]["value"])


@pytest.fixture
def canary():
    listener = Canary()
    yield listener
    listener.close()


def test_sparqlwrapper_select_get_and_post(live_server):
    for method in ("GET", POST):
        client = SPARQLWrapper(live_server + "/sparql")
        client.setMethod(method)
        client.setReturnFormat(JSON)
        client.setQuery("SELECT ?b WHERE { ?b a <https://w3id.org/autokg/ontology#Brand> }")
        bindings = client.queryAndConvert()["results"]["bindings"]
        assert len(bindings) == 5


def test_sparqlwrapper_ask_and_construct(live_server):
    client = SPARQLWrapper(live_server + "/sparql")
    client.setReturnFormat(JSON)
    client.setQuery("ASK { <https://w3id.org/autokg/id/ford> ?p ?o }")
    assert client.queryAndConvert()["boolean"] is True
    client.setQuery("CONSTRUCT { ?o <https://w3id.org/autokg/ontology#hasBrand> ?b } WHERE { ?o <https://w3id.org/autokg/ontology#hasBrand> ?b }")
    client.setReturnFormat(TURTLE)
    graph = client.queryAndConvert()
    if not isinstance(graph, Graph):
        graph = Graph().parse(data=graph, format="turtle")
    assert len(graph) == 5


def test_rdflib_sparqlstore(live_server):
    graph = Graph(SPARQLStore(live_server + "/sparql", returnFormat="json"))
    rows = list(graph.query("SELECT ?o WHERE { <https://w3id.org/autokg/id/ford> <http://www.w3.org/2000/01/rdf-schema#label> ?o }"))
    assert {str(r[0]) for r in rows} >= {"Ford Motor Company"}


def test_raw_requests(live_server):
    status, content_type, data = raw(live_server, "POST", "/sparql", b"ASK { ?s ?p ?o }",
                                     {"Content-Type": "application/sparql-query", "Accept": "text/csv"})
    assert status == 200 and content_type.startswith("text/csv")
    status, content_type, _ = raw(live_server, "GET", "/sparql", headers={"Accept": "text/turtle"})
    assert status == 200 and content_type.startswith("text/turtle")
    status, _, data = raw(live_server, "GET", "/health")
    assert json.loads(data)["status"] == "ok"


@pytest.mark.parametrize(
    "template",
    [
        "SELECT * WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
        "SELECT * WHERE {{ SERVICE SILENT <{url}> {{ ?s ?p ?o }} }}",
        "PREFIX c: <{url}> SELECT * WHERE {{ SERVICE c: {{ ?s ?p ?o }} }}",
        "SELECT * WHERE {{ BIND (<{url}> AS ?e) SERVICE ?e {{ ?s ?p ?o }} }}",
        "SELECT * FROM <{url}> WHERE {{ ?s ?p ?o }} LIMIT 1",
        "SELECT * FROM NAMED <{url}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }} LIMIT 1",
        "LOAD <{url}>",
    ],
)
def test_hostile_requests_never_reach_the_canary(live_server, canary, template):
    query = template.format(url=canary.url)
    status, content_type, data = raw(live_server, "GET", "/sparql?" + urllib.parse.urlencode({"query": query}))
    time.sleep(0.3)
    assert canary.hits == 0
    if "SERVICE" in query or "LOAD" in query:
        assert status in (400, 403) and content_type.startswith("text/plain")
        assert b"allow-list" in data or b"read-only" in data or b"variable" in data


def test_cross_product_times_out_while_others_are_answered(live_server):
    with ThreadPoolExecutor(max_workers=2) as pool:
        started = time.perf_counter()
        slow = pool.submit(raw, live_server, "GET", "/sparql?" + urllib.parse.urlencode({"query": CROSS_PRODUCT}))
        time.sleep(0.5)
        quick_started = time.perf_counter()
        # an aggregate runs in a query child, as the cross product does; a lookup would skip the children
        status, _, _ = raw(live_server, "GET", "/sparql?" + urllib.parse.urlencode({"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"}))
        quick = time.perf_counter() - quick_started
        slow_status, content_type, body = slow.result()
        elapsed = time.perf_counter() - started
    assert status == 200 and quick < 2
    assert slow_status == 503 and content_type.startswith("text/plain") and b"stopped" in body
    assert elapsed < 3 + 2


def test_a_request_may_ask_for_a_shorter_timeout(live_server):
    started = time.perf_counter()
    status, _, _ = raw(live_server, "GET", "/sparql?" + urllib.parse.urlencode({"query": CROSS_PRODUCT, "timeout": "1"}))
    assert status == 503 and time.perf_counter() - started < 2.5


def test_updates_are_refused_and_data_is_unchanged(live_server):
    before = count(live_server)
    for body, content_type in (
        (b"INSERT DATA { <urn:a> <urn:b> <urn:c> }", "application/sparql-update"),
        (b"DROP ALL", "application/sparql-update"),
        (urllib.parse.urlencode({"update": "DROP ALL"}).encode(), "application/x-www-form-urlencoded"),
        (urllib.parse.urlencode({"query": "DROP ALL"}).encode(), "application/x-www-form-urlencoded"),
    ):
        status, _, data = raw(live_server, "POST", "/sparql", body, {"Content-Type": content_type})
        assert status == 403 and b"read-only" in data
    assert count(live_server) == before


def test_twenty_megabyte_body_gets_413(live_server):
    body = b"#" * (20 * 1024 * 1024)
    try:
        status, _, _ = raw(live_server, "POST", "/sparql", body, {"Content-Type": "application/sparql-query"})
    except (ConnectionResetError, BrokenPipeError):
        pytest.fail("the server dropped the connection instead of answering 413")
    assert status == 413


def test_script_never_comes_back_unescaped(live_server):
    hostile = "SELECT * WHERE { ?s ?p '<script>alert(1)</script>' } <script>"
    for accept in ("text/html", "*/*", "text/csv"):
        status, content_type, data = raw(live_server, "GET", "/sparql?" + urllib.parse.urlencode({"query": hostile}),
                                         headers={"Accept": accept})
        if content_type.startswith("text/html"):
            assert b"<script>" not in data
        assert not content_type.startswith("text/html") or status == 200


def test_a_killed_worker_is_replaced(live_server):
    for _ in range(4):
        raw(live_server, "GET", "/sparql?" + urllib.parse.urlencode({"query": CROSS_PRODUCT, "timeout": "0.5"}))
    statuses = [raw(live_server, "GET", "/sparql?" + urllib.parse.urlencode({"query": "ASK {}"}))[0] for _ in range(10)]
    assert statuses == [200] * 10
