"""The format registry (rdf/formats.py): one table, and every other table derived from it agrees with it."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Graph

from autokg.config import PREFIXES, compact, prologue
from autokg.rdf.formats import BY_MEDIA_TYPE, BY_NAME, FORMATS, by_suffix, format_names, names_of, offered_types
from autokg.rdf.loading import FORMATS_BY_SUFFIX
from autokg.web.negotiation import FORMAT_NAMES, GRAPH_TYPES, RESULT_TYPES, best_type

TRIPLES = [ox.Triple(ox.NamedNode(PREFIXES["akr"] + "nio"), ox.NamedNode(PREFIXES["rdfs"] + "label"), ox.Literal("NIO", language="en"))]


def test_names_media_types_and_suffixes_are_each_claimed_once():
    names = [f.name for f in FORMATS]
    assert len(names) == len(set(names))
    suffixes = [s for f in FORMATS for s in f.suffixes]
    assert len(suffixes) == len(set(suffixes))
    assert len(BY_MEDIA_TYPE) == sum(1 for f in FORMATS if f.offered)


def test_every_offered_type_is_served_as_a_canonical_type_of_its_kind():
    for kind, table in (("results", RESULT_TYPES), ("graph", GRAPH_TYPES)):
        assert table == offered_types(kind)
        assert set(table.values()) == {f.media_type for f in FORMATS if f.kind == kind and f.offered}
        assert all(BY_MEDIA_TYPE[served].kind == kind for served in table.values())
    # the default answers, and generic types ranked below the specific ones
    assert best_type(None, RESULT_TYPES) == "application/sparql-results+json"
    assert best_type(None, GRAPH_TYPES) == "text/turtle"
    assert best_type("application/json, application/xml", GRAPH_TYPES) == "application/ld+json"


def test_format_names_reach_both_kinds():
    assert FORMAT_NAMES == format_names()
    assert FORMAT_NAMES["json"] == ("application/sparql-results+json", "application/ld+json")
    assert FORMAT_NAMES["xml"] == ("application/sparql-results+xml", "application/rdf+xml")
    assert FORMAT_NAMES["nt"] == (None, "application/n-triples")
    assert "trig" not in FORMAT_NAMES  # read only, never offered


@pytest.mark.parametrize("name", names_of("graph"))
def test_every_offered_graph_syntax_is_written_by_oxigraph_and_read_back_by_rdflib(name):
    fmt = BY_NAME[name]
    body = ox.serialize(TRIPLES, format=fmt.oxigraph, prefixes=PREFIXES if fmt.prefixed else None)
    graph = Graph().parse(data=body.decode("utf-8"), format=fmt.rdflib)
    assert len(graph) == 1
    assert by_suffix()[fmt.suffixes[0]] is fmt
    assert FORMATS_BY_SUFFIX[fmt.suffixes[0]] == fmt.rdflib


def test_every_results_format_is_written_by_oxigraph():
    store = ox.Store()
    store.add(ox.Quad(*TRIPLES[0]))
    for name in names_of("results"):
        body = store.query("SELECT ?s WHERE { ?s ?p ?o }").serialize(format=BY_NAME[name].oxigraph)
        assert b"nio" in body


def test_every_graph_syntax_is_offered_by_the_cli(runner, tmp_path: Path):
    path = tmp_path / "brands.rq"
    path.write_text("PREFIX akg: <https://w3id.org/autokg/ontology#>\nCONSTRUCT { ?o akg:hasBrand ?b } WHERE { ?o akg:hasBrand ?b }\n")
    for name in ("rdfxml", "jsonld", "nquads"):
        run = runner("query", str(path), "--format", name)
        assert run.status == 0, run.err
        assert len(Graph().parse(data=run.out, format=BY_NAME[name].rdflib)) == 5


def test_prefixes_are_written_once():
    assert prologue(("rdfs", "akr")).splitlines() == [f"PREFIX akr: <{PREFIXES['akr']}>", f"PREFIX rdfs: <{PREFIXES['rdfs']}>"]
    assert len(prologue().splitlines()) == len(PREFIXES)
    assert compact(PREFIXES["skos"] + "altLabel") == ("skos", "altLabel")
    assert compact("urn:x:y") is None
