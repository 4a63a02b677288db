"""The SPARQL 1.1 Protocol through the Flask test client: the matrix, negotiation, bad requests, description."""

from __future__ import annotations

import json
import time

import pytest
from rdflib import Graph, URIRef

from support.protocol import ASK, CONSTRUCT, DESCRIBE, SELECT, send


@pytest.mark.parametrize("method", ["get", "form", "direct"])
@pytest.mark.parametrize(
    "query, content_type, check",
    [
        (SELECT, "application/sparql-results+json", lambda body: len(json.loads(body)["results"]["bindings"]) == 5),
        (ASK, "application/sparql-results+json", lambda body: json.loads(body)["boolean"] is True),
        (CONSTRUCT, "text/turtle", lambda body: len(Graph().parse(data=body, format="turtle")) == 5),
        (DESCRIBE, "text/turtle", lambda body: (URIRef("https://w3id.org/autokg/id/polestar"), None, None) in Graph().parse(data=body, format="turtle")),
    ],
    ids=["select", "ask", "construct", "describe"],
)
def test_protocol_matrix(client, method, query, content_type, check):
    response = send(client, method, query)
    assert response.status_code == 200, response.data
    assert response.mimetype == content_type
    assert check(response.data.decode())


ACCEPT_TABLE = [
    # (query, Accept header, expected status, expected media type)
    (SELECT, None, 200, "application/sparql-results+json"),
    (SELECT, "*/*", 200, "application/sparql-results+json"),
    (SELECT, "application/sparql-results+xml", 200, "application/sparql-results+xml"),
    (SELECT, "text/csv", 200, "text/csv"),
    (SELECT, "text/tab-separated-values", 200, "text/tab-separated-values"),
    (SELECT, "application/json", 200, "application/sparql-results+json"),
    (SELECT, "text/csv;q=0.5, application/sparql-results+xml;q=0.9", 200, "application/sparql-results+xml"),
    # a browser's own header ranks HTML first: it is sent to the results page (issue 24), as Virtuoso answers
    (SELECT, "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", 303, "text/plain"),
    (SELECT, "text/html;q=0.5,application/xml", 200, "application/sparql-results+xml"),
    (SELECT, "text/*", 200, "text/csv"),
    (SELECT, "text/turtle", 406, "text/plain"),
    (SELECT, "image/png", 406, "text/plain"),
    (SELECT, "application/sparql-results+json;q=0", 406, "text/plain"),
    (ASK, "application/sparql-results+xml", 200, "application/sparql-results+xml"),
    (CONSTRUCT, None, 200, "text/turtle"),
    (CONSTRUCT, "application/n-triples", 200, "application/n-triples"),
    (CONSTRUCT, "application/rdf+xml", 200, "application/rdf+xml"),
    (CONSTRUCT, "application/ld+json", 200, "application/ld+json"),
    (CONSTRUCT, "application/n-quads", 200, "application/n-quads"),
    (CONSTRUCT, "text/plain", 200, "application/n-triples"),
    (CONSTRUCT, "application/ld+json;q=0.2, text/turtle;q=0.8", 200, "text/turtle"),
    (CONSTRUCT, "text/csv", 406, "text/plain"),
    (CONSTRUCT, "application/sparql-results+json", 406, "text/plain"),
]


@pytest.mark.parametrize("query, accept, status, media_type", ACCEPT_TABLE)
def test_accept_table(client, query, accept, status, media_type):
    response = send(client, "get", query, headers={"Accept": accept} if accept else {})
    assert response.status_code == status, response.data
    assert response.mimetype == media_type
    if status == 406:
        assert b"offered as" in response.data


@pytest.mark.parametrize(
    "query, fmt, media_type",
    [(SELECT, "csv", "text/csv"), (SELECT, "xml", "application/sparql-results+xml"), (CONSTRUCT, "jsonld", "application/ld+json"),
     (CONSTRUCT, "ntriples", "application/n-triples"), (CONSTRUCT, "xml", "application/rdf+xml")],
)
def test_format_parameter_beats_accept(client, query, fmt, media_type):
    response = send(client, "get", query, headers={"Accept": "image/png"}, extra={"format": fmt})
    assert response.status_code == 200 and response.mimetype == media_type


def test_graph_results_parse_in_every_format(client):
    for fmt, parser in (("turtle", "turtle"), ("ntriples", "nt"), ("rdfxml", "xml"), ("jsonld", "json-ld")):
        response = send(client, "get", CONSTRUCT, extra={"format": fmt})
        assert len(Graph().parse(data=response.data, format=parser)) == 5, fmt


BAD_REQUESTS = [
    ("syntax error", lambda c: c.get("/sparql", query_string={"query": "SELECT ?x WHERE { ?x ?y }"}), 400, "syntax error"),
    ("repeated query", lambda c: c.get("/sparql?query=ASK%7B%7D&query=ASK%7B%7D"), 400, "repeated"),
    ("empty query", lambda c: c.get("/sparql?query="), 400, "empty"),
    ("form without query", lambda c: c.post("/sparql", data={"default-graph-uri": "x"}), 200, None),
    ("query in body and URL", lambda c: c.post("/sparql?query=ASK%7B%7D", data=b"ASK {}", content_type="application/sparql-query"), 400, "not both"),
    ("empty body", lambda c: c.post("/sparql", data=b"  ", content_type="application/sparql-query"), 400, "empty"),
    ("unsupported media type", lambda c: c.post("/sparql", data=b"ASK {}", content_type="application/json"), 415, "Content-Type"),
    ("no media type", lambda c: c.post("/sparql", data=b"ASK {}", content_type=""), 415, "Content-Type"),
    ("body not UTF-8", lambda c: c.post("/sparql", data="ASK { ?s ?p 'caf\xe9' }".encode("latin-1"), content_type="application/sparql-query"), 400, "UTF-8"),
    ("form not UTF-8", lambda c: c.post("/sparql", data=b"query=ASK%20%7B%20%3Fs%20%3Fp%20%27caf%E9%27%20%7D", content_type="application/x-www-form-urlencoded"), 400, "UTF-8"),
    ("unknown format", lambda c: c.get("/sparql", query_string={"query": "ASK {}", "format": "yaml"}), 400, "Parameter 'format'"),
    ("bad timeout", lambda c: c.get("/sparql", query_string={"query": "ASK {}", "timeout": "soon"}), 400, "Parameter 'timeout'"),
    ("update by parameter", lambda c: c.post("/sparql", data={"update": "DROP ALL"}), 403, "read-only"),
    ("update by body", lambda c: c.post("/sparql", data=b"DROP ALL", content_type="application/sparql-update"), 403, "read-only"),
    ("update as a query", lambda c: c.get("/sparql", query_string={"query": "INSERT DATA { <a:b> <a:c> <a:d> }"}), 403, "read-only"),
    ("unknown path", lambda c: c.get("/nowhere"), 404, None),
    ("wrong method", lambda c: c.put("/sparql"), 405, None),
]


@pytest.mark.parametrize("case, call, status, phrase", BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_bad_requests(client, case, call, status, phrase):
    response = call(client)
    assert response.status_code == status, response.data
    if status != 200:
        assert response.mimetype == "text/plain"
    if phrase:
        assert phrase.lower() in response.data.decode().lower()


def test_large_body_gets_413(client):
    response = client.post("/sparql", data=b"#" * (2 * 1024 * 1024), content_type="application/sparql-query")
    assert response.status_code == 413 and response.mimetype == "text/plain"


def test_row_cap_is_refused_not_truncated(client):
    response = send(client, "get", "SELECT * WHERE { ?s ?p ?o }")
    assert response.status_code == 422
    assert b"limit of 2000 rows" in response.data


def test_default_graph_uri_selects_a_part(client):
    query = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    whole = json.loads(send(client, "get", query).data)["results"]["bindings"][0]["n"]["value"]
    shortcuts = send(client, "get", query, extra={"default-graph-uri": "https://w3id.org/autokg/graph/shortcuts"})
    part = json.loads(shortcuts.data)["results"]["bindings"][0]["n"]["value"]
    assert 0 < int(part) < int(whole)


def test_named_graph_uri_limits_graph_patterns(client):
    query = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"
    response = client.get("/sparql", query_string={"query": query, "named-graph-uri": "https://w3id.org/autokg/graph/data"})
    graphs = {b["g"]["value"] for b in json.loads(response.data)["results"]["bindings"]}
    assert graphs == {"https://w3id.org/autokg/graph/data"}


def test_service_description(client):
    response = client.get("/sparql")
    assert response.status_code == 200 and response.mimetype == "text/turtle"
    graph = Graph().parse(data=response.data, format="turtle")
    sd = "http://www.w3.org/ns/sparql-service-description#"
    ask = f"ASK {{ ?s a <{sd}Service> ; <{sd}endpoint> ?e ; <{sd}resultFormat> <http://www.w3.org/ns/formats/SPARQL_Results_JSON> ; <{sd}defaultDataset> ?d . ?d <{sd}namedGraph>/<{sd}name> <https://w3id.org/autokg/graph/data> }}"
    assert graph.query(ask).askAnswer
    xml = client.get("/sparql", headers={"Accept": "application/rdf+xml"})
    assert len(Graph().parse(data=xml.data, format="xml")) == len(graph)


def test_browsers_get_a_page(client):
    response = client.get("/sparql", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert b"<form" in response.data


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


def test_a_browser_following_a_query_link_gets_the_results_page(client):
    query = "SELECT ?label WHERE { <https://w3id.org/autokg/id/tencent> <http://www.w3.org/2000/01/rdf-schema#label> ?label }"
    response = client.get("/sparql", query_string={"query": query}, headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 303
    page = client.get(response.headers["Location"], headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "Tencent" in page.get_data(as_text=True)
    # a client that names its format, or ranks an answer format first, still gets the answer
    assert client.get("/sparql", query_string={"query": query, "format": "json"}, headers={"Accept": BROWSER_ACCEPT}).status_code == 200
    assert send(client, "get", query, {"Accept": "application/sparql-results+json,text/html;q=0.5"}).status_code == 200


def test_cors_options_and_head(client):
    response = send(client, "get", ASK)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers
    preflight = client.options("/sparql", headers={"Origin": "https://example.org", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204 and "POST" in preflight.headers["Access-Control-Allow-Methods"]
    head = client.head("/sparql", query_string={"query": ASK})
    assert head.status_code == 200 and head.data == b""


def test_canned_queries(client):
    listing = client.get("/queries").json
    assert {"name", "title", "question", "parameters"} <= set(listing[0])
    response = client.get("/queries/joint-ventures", query_string={"partner": "akr:ford", "format": "csv"})
    assert response.status_code == 200 and b"Zotye" in response.data
    assert client.get("/queries/joint-ventures", query_string={"partner": "not an iri"}).status_code == 400
    assert client.get("/queries/joint-ventures", query_string={"colour": "red"}).status_code == 400
    assert client.get("/queries/no-such-query").status_code == 404


def test_health(client, app):
    health = client.get("/health").json
    assert health["status"] == "ok" and health["triples"] > 4000 and health["version"].startswith("0.1.0+")


def test_script_in_query_is_escaped_in_html(client):
    response = client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p '<script>alert(1)</script>' }x"},
                          headers={"Accept": "text/html"})
    assert b"<script>" not in response.data


def access_lines(capfd) -> list[str]:
    """The access-log lines written to standard error since the last call."""
    return [line for line in capfd.readouterr().err.splitlines() if " rows=" in line]


def test_one_access_log_line_per_request(client, capfd):
    import hashlib

    access_lines(capfd)
    send(client, "get", SELECT)
    lines = access_lines(capfd)
    assert len(lines) == 1
    stamp, method, path, status, duration, rows, query = lines[0].split()
    assert time.strptime(stamp.split(".")[0], "%Y-%m-%dT%H:%M:%S")
    assert (method, path, status, rows) == ("GET", "/sparql", "200", "rows=5")
    assert duration.endswith("ms")
    assert query == "query=" + hashlib.sha256(SELECT.encode()).hexdigest()[:12]


def test_triple_cap_is_refused_not_truncated(client):
    response = send(client, "get", "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }")
    assert response.status_code == 422 and b"limit of 2000 triples" in response.data


PLAIN_GETS = [
    "SELECT ?p ?o WHERE { <https://w3id.org/autokg/id/ford> ?p ?o }",
    SELECT,
    "CONSTRUCT { ?s ?p ?o } WHERE { ?s a <https://w3id.org/autokg/ontology#Brand> ; ?p ?o }",
    "DESCRIBE <https://w3id.org/autokg/id/ford>",
    "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
    "DROP ALL",  # refused: Flask answers on both paths
    "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
    "SELECT ?s WHERE { ?s ?p ?o ",
    "PREFIX akg: <https://w3id.org/autokg/ontology#> SELECT * { ?s a akg:JointVenture } LIMIT 3",
    "ASK { ?s <http://www.w3.org/2000/01/rdf-schema#label> 'Ford'@en }",
    "SELECT * WHERE { ?s ?p ?o }",  # over the test app's row cap: 422 on both paths
    "SELECT ?s WHERE { ?s undeclared:p ?o }",  # one pattern, but a syntax error: 400 on both paths
]


@pytest.mark.parametrize("query", PLAIN_GETS)
@pytest.mark.parametrize("accept", [None, "application/sparql-results+json", "text/csv;q=0.9, application/sparql-results+xml",
                                    "text/tab-separated-values", "*/*", "text/turtle", "application/n-triples", "image/png"])
def test_plain_gets_answer_the_same_without_flask(app, client, monkeypatch, query, accept):
    headers = {"Accept": accept} if accept else {}
    fast = client.get("/sparql", query_string={"query": query}, headers=headers)
    from autokg.web.sparql import FastGetPath

    # the same chain of middleware, with Flask in place of the fast path
    monkeypatch.setattr(FastGetPath, "__call__", lambda self, environ, start_response: self.wsgi_app(environ, start_response))
    slow = client.get("/sparql", query_string={"query": query}, headers=headers)
    assert (fast.status_code, fast.data) == (slow.status_code, slow.data)
    assert sorted(fast.headers.items()) == sorted(slow.headers.items())


def test_only_plain_gets_skip_flask(client, monkeypatch):
    from autokg.web import sparql

    def refuse(query, pairs):
        raise sparql.BadRequest("answered by Flask", status=418)

    monkeypatch.setattr(sparql, "answer", refuse)
    lookup = {"query": PLAIN_GETS[0]}
    assert client.get("/sparql", query_string=lookup).status_code == 200
    assert client.get("/sparql", query_string={"query": SELECT}).status_code == 200
    assert client.get("/sparql", query_string=lookup | {"format": "json"}).status_code == 418
    assert client.get("/sparql", query_string=lookup | {"timeout": "5"}).status_code == 418
    assert client.get("/sparql", query_string=lookup, headers={"Accept": "image/png"}).status_code == 418
    assert client.get("/sparql", query_string={"query": "DROP ALL"}).status_code == 418
    assert client.post("/sparql", data=lookup).status_code == 418


def test_a_lookup_writes_its_access_log_line(client, capfd):
    access_lines(capfd)
    client.get("/sparql", query_string={"query": PLAIN_GETS[0]})
    (line,) = access_lines(capfd)
    stamp, method, path, status, duration, rows, query = line.split()
    assert (method, path, status) == ("GET", "/sparql", "200") and int(rows.split("=")[1]) > 5


def test_no_access_log_above_the_info_level(capfd):
    from autokg.web.app import create_app

    quiet = create_app({"TESTING": True, "LOG_LEVEL": "warning"}).test_client()
    access_lines(capfd)
    assert quiet.get("/sparql", query_string={"query": PLAIN_GETS[0]}).status_code == 200
    assert quiet.get("/sparql", query_string={"query": SELECT}).status_code == 200
    assert access_lines(capfd) == []
