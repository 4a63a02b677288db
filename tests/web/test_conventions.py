"""The conventions clients rely on beyond the SPARQL Protocol: format parameters, browsers, CORS preflight.

Virtuoso reads `format`, Fuseki `output` (and `results`), and SPARQLWrapper sends all three, repeated with a
media type for some formats; autokg reads them all, through the same tables as the Accept header.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from rdflib import Graph
from werkzeug.datastructures import MultiDict

from support.protocol import ASK, CONSTRUCT, DESCRIBE, SELECT, send

SPARQL_JSON, SPARQL_XML = "application/sparql-results+json", "application/sparql-results+xml"

FORMAT_CASES = [
    # (query, format parameters, expected media type); the Accept header is image/png, so the parameters decide
    (SELECT, [("format", "tsv"), ("format", "text/tab-separated-values")], "text/tab-separated-values"),
    (SELECT, [("format", "tsv"), ("format", "text/tab-separated-values"), ("output", "tsv"),
              ("output", "text/tab-separated-values"), ("results", "tsv"), ("results", "text/tab-separated-values")], "text/tab-separated-values"),
    (SELECT, [("format", "json"), ("output", "json"), ("results", "json")], SPARQL_JSON),
    (SELECT, [("output", "xml")], SPARQL_XML),
    (SELECT, [("results", "csv")], "text/csv"),
    (SELECT, [("format", "application/sparql-results+json")], SPARQL_JSON),
    (SELECT, [("format", "application/sparql-results+xml")], SPARQL_XML),
    (SELECT, [("format", "text/csv")], "text/csv"),
    (SELECT, [("format", "application/json")], SPARQL_JSON),
    (SELECT, [("format", "JSON")], SPARQL_JSON),
    (ASK, [("format", "xml"), ("output", "xml"), ("results", "xml")], SPARQL_XML),
    (ASK, [("format", "csv")], "text/csv"),
    (CONSTRUCT, [("format", "text/turtle")], "text/turtle"),
    (CONSTRUCT, [("format", "turtle"), ("output", "turtle"), ("results", "turtle")], "text/turtle"),
    (CONSTRUCT, [("format", "n3"), ("output", "n3"), ("results", "n3")], "text/turtle"),
    (CONSTRUCT, [("format", "text/n3")], "text/turtle"),
    (CONSTRUCT, [("format", "rdf"), ("output", "rdf"), ("results", "rdf")], "application/rdf+xml"),
    (CONSTRUCT, [("format", "xml"), ("output", "xml"), ("results", "xml")], "application/rdf+xml"),
    (CONSTRUCT, [("format", "rdf+xml"), ("format", "application/rdf+xml")], "application/rdf+xml"),
    (CONSTRUCT, [("format", "json-ld"), ("format", "application/ld+json,application/x-json+ld")], "application/ld+json"),
    (CONSTRUCT, [("output", "application/x-json+ld")], "application/ld+json"),
    (CONSTRUCT, [("format", "application/n-triples")], "application/n-triples"),
    (DESCRIBE, [("format", "json"), ("output", "json"), ("results", "json")], "application/ld+json"),
    # an empty value is passed over: SPARQLWrapper sends one where it would take anything
    (CONSTRUCT, [("format", "json-ld"), ("format", "")], "application/ld+json"),
]


def query_string(query: str, pairs: list[tuple[str, str]]) -> MultiDict:
    return MultiDict([("query", query), *pairs])


def case_id(query: str, pairs: list[tuple[str, str]]) -> str:
    return query.split()[0] + ":" + "&".join(f"{n}={v}" for n, v in pairs)


@pytest.mark.parametrize("method", ["get", "form", "direct"])
@pytest.mark.parametrize("query, pairs, media_type", FORMAT_CASES, ids=[case_id(q, p) for q, p, _ in FORMAT_CASES])
def test_format_parameters_choose_the_format(client, method, query, pairs, media_type):
    headers = {"Accept": "image/png"}
    if method == "get":
        response = client.get("/sparql", query_string=query_string(query, pairs), headers=headers)
    elif method == "form":
        response = client.post("/sparql", data=query_string(query, pairs), headers=headers)
    else:
        response = client.post("/sparql", data=query.encode(), content_type="application/sparql-query", headers=headers,
                               query_string=MultiDict(pairs))
    assert response.status_code == 200, response.data
    assert response.mimetype == media_type
    if query == CONSTRUCT:
        parser = {"text/turtle": "turtle", "application/rdf+xml": "xml", "application/ld+json": "json-ld", "application/n-triples": "nt"}
        assert len(Graph().parse(data=response.data, format=parser[media_type])) == 5


def test_format_parameters_in_the_url_and_the_form_together(client):
    response = client.post("/sparql?format=csv", data={"query": SELECT, "output": "text/csv"}, headers={"Accept": "image/png"})
    assert response.status_code == 200 and response.mimetype == "text/csv" and len(response.data.decode().splitlines()) == 6


@pytest.mark.parametrize("query, pairs, accept, status", [
    (SELECT, [("format", "turtle")], None, 406),  # a SELECT answer is no graph: 406 says what is offered
    (CONSTRUCT, [("format", "tsv"), ("format", "text/tab-separated-values")], None, 406),
    (SELECT, [("format", "")], "text/csv", 200),  # only empty values: the Accept header decides
    (SELECT, [("format", "yaml")], None, 400),
    (SELECT, [("output", "image/png")], None, 400),
])
def test_format_parameters_that_name_no_usable_format(client, query, pairs, accept, status):
    response = client.get("/sparql", query_string=query_string(query, pairs), headers={"Accept": accept} if accept else {})
    assert response.status_code == status, response.data
    assert response.mimetype == ("text/csv" if status == 200 else "text/plain")
    if status == 400:
        assert f"Parameter '{pairs[0][0]}': unknown value" in response.data.decode()
    if status == 406:
        assert b"offered as" in response.data


def test_canned_queries_read_every_format_parameter(client):
    response = client.get("/queries/group-brands", query_string={"output": "csv"}, headers={"Accept": "image/png"})
    assert response.status_code == 200 and response.mimetype == "text/csv"


@pytest.mark.parametrize("query, accept", [(SELECT, "text/html"), (ASK, "text/html"), (CONSTRUCT, "text/html"),
                                           (DESCRIBE, "application/xhtml+xml"), (SELECT, "text/html, text/turtle;q=0.5")])
@pytest.mark.parametrize("method", ["get", "form", "direct"])
def test_a_browser_is_sent_to_the_results_page(client, query, accept, method):
    response = send(client, method, query, headers={"Accept": accept})
    assert response.status_code == 303 and response.mimetype == "text/plain"
    location = response.headers["Location"]
    assert urlsplit(location).path == "/query" and parse_qs(urlsplit(location).query)["query"] == [query]
    page = client.get(location, headers={"Accept": accept})
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.data.decode()
    if query == SELECT:
        assert html.count("akr:") >= 5 and "polestar" in html
    elif query == ASK:
        assert "yes" in html.lower() or "true" in html.lower()
    else:
        assert "polestar" in html


def test_a_browser_asking_a_canned_query_is_sent_to_the_results_page(client):
    response = client.get("/queries/group-brands", headers={"Accept": "text/html"})
    assert response.status_code == 303 and urlsplit(response.headers["Location"]).path == "/query"
    page = client.get(response.headers["Location"])
    assert page.status_code == 200 and "SAIC" in page.data.decode()


def test_a_query_too_long_for_a_url_is_not_sent_to_the_page(client):
    from autokg.web.answers import PAGE_QUERY_LIMIT

    padded = SELECT + " #" + "x" * (PAGE_QUERY_LIMIT - len(SELECT) - 2)
    assert len(padded) == PAGE_QUERY_LIMIT
    assert client.post("/sparql", data={"query": padded}, headers={"Accept": "text/html"}).status_code == 303
    refused = client.post("/sparql", data={"query": padded + "x"}, headers={"Accept": "text/html"})
    assert refused.status_code == 406 and b"offered as" in refused.data


def test_a_browser_naming_a_format_or_a_dataset_gets_what_it_named(client):
    browser = {"Accept": "text/html"}
    named = client.get("/sparql", query_string={"query": SELECT, "format": "json"}, headers=browser)
    assert named.status_code == 200 and len(json.loads(named.data)["results"]["bindings"]) == 5
    dataset = client.get("/sparql", query_string={"query": SELECT, "default-graph-uri": "https://w3id.org/autokg/graph/data"}, headers=browser)
    assert dataset.status_code == 406  # the query page has no dataset of its own to run it on
    # a browser's usual header ranks HTML above application/xml: the results page (issue 24)
    usual = send(client, "get", SELECT, headers={"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"})
    assert usual.status_code == 303 and usual.headers["Location"].startswith("/query?")
    # ranked above HTML, the answer format wins
    xml_first = send(client, "get", SELECT, headers={"Accept": "application/xml,text/html;q=0.5"})
    assert xml_first.status_code == 200 and xml_first.mimetype == SPARQL_XML


@pytest.mark.parametrize("requested, allowed", [
    ("authorization", "authorization"),
    ("Authorization, X-Requested-With, content-type", "Authorization, X-Requested-With, content-type"),
    (None, "Content-Type, Accept"),
    ("x-a\tb", "Content-Type, Accept"),  # not a list of header names: not echoed
])
def test_cors_preflight_allows_the_headers_it_asks_for(client, requested, allowed):
    headers = {"Origin": "https://yasgui.example", "Access-Control-Request-Method": "POST"}
    if requested is not None:
        headers["Access-Control-Request-Headers"] = requested
    response = client.options("/sparql", headers=headers)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Allow-Headers"] == allowed
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert "Access-Control-Request-Headers" in response.headers["Vary"]
