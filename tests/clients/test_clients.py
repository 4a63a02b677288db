"""Real Python clients, unmodified, against `autokg serve` on 127.0.0.1, with Oxigraph's server as the anchor.

Each check asserts the answer (the embedded store's), not only the absence of an error: SPARQLWrapper in
every return format it has, by GET and POST; rdflib's SPARQLStore by its three methods and result
formats; pandas reading CSV and TSV from a query URL; pyoxigraph federating into it with SERVICE. The
anchor is Oxigraph's server on the same dataset (its default graph the union); the checks it fails for
its own reasons are marked, with the reason.
"""

from __future__ import annotations

import csv
import io
import json
import urllib.parse
import urllib.request
import warnings

import pytest
from rdflib import Graph
from rdflib.compare import isomorphic

from support.clients import QUERIES, expected, server  # noqa: F401 (fixtures)
from support.protocol import ASK, SELECT

pytestmark = pytest.mark.live

IGNORES_FORMAT = ("Oxigraph's server ignores format=, output= and results= and negotiates by Accept alone, and ")
#: checks that fail for reasons of their own: (client, format, query form or method) -> (the servers, why)
KNOWN_FAILURES: dict[tuple[str, str, str], tuple[tuple[str, ...], str]] = {
    **{("SPARQLWrapper", fmt, form): (("oxigraph",), IGNORES_FORMAT + f"SPARQLWrapper asks a {form} in {fmt} with Accept: */* "
                                      "and format=: Oxigraph answers N-Quads, which SPARQLWrapper cannot read")
       for fmt in ("RDF", "JSON") for form in ("CONSTRUCT", "DESCRIBE")},
    **{("pandas", how, "SELECT"): (("oxigraph",), IGNORES_FORMAT + "answers SPARQL JSON, which read_csv takes for a table of one column")
       for how in ("csv-format", "tsv-output")},
    # SPARQL 1.1 CSV and TSV define no boolean answer; rdflib's parsers read the body `true` as a header
    **{("SPARQLStore-ASK", fmt, method): (("autokg", "oxigraph"), f"rdflib's {fmt.upper()} result parser cannot read an ASK answer")
       for fmt in ("csv", "tsv") for method in ("GET", "POST", "POST_FORM")},
}


def known_failure(request: pytest.FixtureRequest, server: str, key: tuple[str, str, str]) -> None:
    """Mark a check listed in KNOWN_FAILURES for this server as a strict expected failure: passing fails it."""
    servers, why = KNOWN_FAILURES.get(key, ((), ""))
    if server in servers:
        request.node.add_marker(pytest.mark.xfail(reason=why, strict=True))


TABULAR = ["JSON", "XML", "CSV", "TSV"]
GRAPHS = ["XML", "RDFXML", "RDF", "TURTLE", "N3", "JSONLD", "JSON"]
SPARQLWRAPPER_CASES = ([(form, fmt) for form in ("SELECT", "ASK") for fmt in TABULAR]
                       + [(form, fmt) for form in ("CONSTRUCT", "DESCRIBE") for fmt in GRAPHS])


def tabular_answer(form: str, fmt: str, converted: object) -> object:
    """The IRIs of ?s, or the boolean, from what SPARQLWrapper's convert() gives in each format."""
    if fmt == "JSON":
        return converted["boolean"] if form == "ASK" else {b["s"]["value"] for b in converted["results"]["bindings"]}
    if fmt == "XML":
        if form == "ASK":
            return converted.getElementsByTagName("boolean")[0].firstChild.data == "true"
        return {node.firstChild.data for node in converted.getElementsByTagName("uri")}
    text = converted.decode("utf-8")
    if form == "ASK":
        return text.strip().splitlines()[-1] == "true"
    rows = list(csv.reader(io.StringIO(text), delimiter="," if fmt == "CSV" else "\t"))
    assert rows[0] == (["s"] if fmt == "CSV" else ["?s"])
    return {row[0].strip("<>") for row in rows[1:]}


def graph_answer(converted: object, content_type: str) -> Graph:
    """The graph from what SPARQLWrapper's convert() gives: a parsed graph, or the bytes of one."""
    if isinstance(converted, Graph):
        graph = Graph()
        for triple in converted:
            graph.add(triple)
        return graph
    syntax = {"text/turtle": "turtle", "application/n-triples": "nt", "application/rdf+xml": "xml", "application/ld+json": "json-ld"}
    return Graph().parse(data=converted, format=syntax[content_type.split(";")[0].strip()])


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("form, fmt", SPARQLWRAPPER_CASES, ids=[f"{f}-{t}" for f, t in SPARQLWRAPPER_CASES])
def test_sparqlwrapper(request, server, expected, form, fmt, method):
    import SPARQLWrapper as sw

    name, url = server
    known_failure(request, name, ("SPARQLWrapper", fmt, form))
    client = sw.SPARQLWrapper(url)
    client.setQuery(QUERIES[form])
    client.setReturnFormat(getattr(sw, fmt))
    client.setMethod(getattr(sw, method))
    with warnings.catch_warnings():
        # SPARQLWrapper warns when it gets another format than it asked for; its own warning that it will send
        # Accept: */* (JSON on a CONSTRUCT) is about its request, not the answer
        warnings.filterwarnings("error", message="unknown response content type")
        warnings.filterwarnings("error", message=".*[Ff]ormat.*not.*")
        warnings.filterwarnings("ignore", message="Sending Accept header")
        result = client.query()
        converted = result.convert()
    if form in ("SELECT", "ASK"):
        assert tabular_answer(form, fmt, converted) == expected[form]
    else:
        graph = graph_answer(converted, result.info()["content-type"])
        assert len(graph) and isomorphic(graph, expected[form]), f"{len(graph)} triples, {len(expected[form])} expected"


@pytest.mark.parametrize("method", ["GET", "POST", "POST_FORM"])
@pytest.mark.parametrize("return_format", ["xml", "json", "csv", "tsv"])
@pytest.mark.parametrize("form", ["SELECT", "ASK"])
def test_rdflib_sparqlstore(request, server, expected, form, method, return_format):
    from rdflib.plugins.stores.sparqlstore import SPARQLStore

    name, url = server
    known_failure(request, name, (f"SPARQLStore-{form}", return_format, method))
    graph = Graph(store=SPARQLStore(url, returnFormat=return_format, method=method))
    if form == "SELECT":
        assert {str(row.s) for row in graph.query(SELECT)} == expected["SELECT"]
    else:
        assert graph.query(ASK).askAnswer is expected["ASK"]


@pytest.mark.parametrize("method", ["GET", "POST", "POST_FORM"])
@pytest.mark.parametrize("form", ["CONSTRUCT", "DESCRIBE"])
def test_rdflib_sparqlstore_graphs(server, expected, method, form):
    from rdflib.plugins.stores.sparqlstore import SPARQLStore

    name, url = server
    graph = Graph(store=SPARQLStore(url, method=method))
    answer = Graph()
    for triple in graph.query(QUERIES[form]):
        answer.add(triple)
    assert len(answer) and isomorphic(answer, expected[form])


@pytest.mark.parametrize("how", ["csv-accept", "tsv-accept", "csv-format", "tsv-output"])
def test_pandas(request, server, expected, how):
    import pandas as pd

    name, url = server
    known_failure(request, name, ("pandas", how, "SELECT"))
    fmt, by = how.split("-")
    params = {"query": SELECT}
    options = {}
    if by == "accept":
        options["storage_options"] = {"Accept": "text/csv" if fmt == "csv" else "text/tab-separated-values"}
    else:
        params[by] = fmt
    frame = pd.read_csv(url + "?" + urllib.parse.urlencode(params), sep="," if fmt == "csv" else "\t", **options)
    column = frame["s" if fmt == "csv" else "?s"]
    assert {value.strip("<>") for value in column} == expected["SELECT"]


def test_pandas_reads_json_results(server, expected):
    import pandas as pd

    name, url = server
    with urllib.request.urlopen(urllib.request.Request(url + "?" + urllib.parse.urlencode({"query": SELECT}),
                                                       headers={"Accept": "application/sparql-results+json"})) as response:
        frame = pd.json_normalize(json.load(response)["results"]["bindings"])
    assert set(frame["s.value"]) == expected["SELECT"]


def test_oxigraph_federates_into_the_endpoint_with_service(server, expected):
    import pyoxigraph

    name, url = server
    pattern = SELECT.split("WHERE", 1)[1].rsplit("ORDER BY", 1)[0]
    rows = pyoxigraph.Store().query(f"SELECT ?s WHERE {{ SERVICE <{url}> {pattern} }}")
    assert {row["s"].value for row in rows} == expected["SELECT"]
