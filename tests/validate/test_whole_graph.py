"""Which SPARQL-based constraints may run once over the whole graph: for those judged exact, the rows of the
free query for each $this are the rows of the query with $this pre-bound, as pyshacl runs it."""

from __future__ import annotations

import pyoxigraph as ox
import pytest
from rdflib import Namespace

from autokg.validate.whole_graph import binds_this_first
from support.paths import ROOT

SH = Namespace("http://www.w3.org/ns/shacl#")
EX = "PREFIX ex: <urn:ex:>\n"
#: a node with a label, one without, one pointing at itself, and a node with two stakes
DATA = """
<urn:ex:a> <urn:ex:p> <urn:ex:b> ; <urn:ex:label> "a" .
<urn:ex:b> <urn:ex:p> <urn:ex:b> .
<urn:ex:c> <urn:ex:stake> 30, 40 .
"""
FOCUS = [ox.NamedNode(f"urn:ex:{n}") for n in "abcd"]

EXACT = [
    "SELECT $this ?o WHERE { $this ex:p ?o }",
    "SELECT $this ?o WHERE { $this ex:p ?o FILTER NOT EXISTS { ?o ex:p $this } }",
    "SELECT $this ?o WHERE { $this ex:p ?o FILTER (?o = $this) }",
    "SELECT $this ?a WHERE { { $this ex:p ?b BIND ($this AS ?a) } UNION { $this ex:label ?a } }",
    "SELECT $this ?l WHERE { $this ex:p ?o OPTIONAL { $this ex:label ?l } }",
    "SELECT $this (SUM(?s) AS ?total) WHERE { $this ex:stake ?s } GROUP BY $this HAVING (SUM(?s) < 100)",
    "SELECT DISTINCT $this WHERE { $this ex:p/ex:p ?o }",
]
#: the answers differ for some focus node, or could: each stays per node
NOT_EXACT = [
    # the branch's FILTER sees $this unbound when free: it keeps every node, or none
    "SELECT $this ?why WHERE { $this ex:p ?o { FILTER NOT EXISTS { $this ex:label ?l } BIND ('no label' AS ?why) } }",
    "SELECT $this ?why WHERE { { FILTER NOT EXISTS { $this ex:label ?l } BIND ('no label' AS ?why) } UNION { $this ex:p ?o } }",
    # aggregates over the whole graph, or over each node's rows when pre-bound
    "SELECT $this (COUNT(?s) AS ?n) WHERE { $this ex:stake ?s } GROUP BY ?s",
    "SELECT $this ?o WHERE { $this ex:p ?o } LIMIT 1",
    "SELECT $this ?o WHERE { $this ex:p* ?o }",
    "SELECT $this ?o WHERE { ?o ex:p ?x MINUS { $this ex:label ?x } }",
    "SELECT $this ?o WHERE { { SELECT $this ?o WHERE { $this ex:p ?o } } }",
    "SELECT $this WHERE { VALUES ?o { ex:b } $this ex:p ?o }",
    "SELECT ?o WHERE { $this ex:p ?o }",
    "ASK { $this ex:p ?o }",
]


THIS = ox.Variable("this")


def free_rows(store: ox.Store, query: str) -> set[tuple]:
    """The rows of the query with $this free, for the focus nodes."""
    solutions = store.query(EX + query)
    return {tuple(row[v] for v in solutions.variables) for row in solutions if row[THIS] in FOCUS}


def pre_bound_rows(store: ox.Store, query: str) -> set[tuple]:
    """The rows of the query with $this pre-bound to each focus node in turn, as pyshacl runs it."""
    rows = set()
    for node in FOCUS:
        solutions = store.query(EX + query, substitutions={THIS: node})
        rows |= {tuple(node if v == THIS else row[v] for v in solutions.variables) for row in solutions}
    return rows


@pytest.fixture(scope="module")
def store() -> ox.Store:
    store = ox.Store()
    store.load(DATA, format=ox.RdfFormat.TURTLE)
    return store


@pytest.mark.parametrize("query", EXACT)
def test_exact_queries_give_each_node_its_pre_bound_rows(query, store):
    assert binds_this_first(EX + query)
    assert free_rows(store, query) == pre_bound_rows(store, query)


@pytest.mark.parametrize("query", NOT_EXACT)
def test_other_queries_stay_per_node(query):
    assert not binds_this_first(EX + query)


def test_the_traps_are_real(store):
    """The first two queries judged not exact do give other rows when run free."""
    for query in NOT_EXACT[:2]:
        assert free_rows(store, query) != pre_bound_rows(store, query), query


def test_the_project_shapes_run_over_the_whole_graph():
    """Every SPARQL-based constraint of shapes/autokg.ttl but DateDerivationShape's (a UNION of FILTERs on $this)."""
    shapes = ox.Store()
    shapes.load(path=str(ROOT / "shapes" / "autokg.ttl"), format=ox.RdfFormat.TURTLE)
    prefixes = "".join(f"PREFIX {p}: <{n}>\n" for p, n in [("akg", "https://w3id.org/autokg/ontology#"),
                                                           ("akgv", "https://w3id.org/autokg/vocab/"), ("schema", "https://schema.org/")])
    verdicts = {row["shape"].value.rsplit("#", 1)[-1]: binds_this_first(prefixes + row["select"].value) for row in shapes.query(
        f"SELECT ?shape ?select WHERE {{ ?shape <{SH.sparql}> ?c . ?c <{SH.select}> ?select }}")}
    assert len(verdicts) == 10
    assert {shape for shape, exact in verdicts.items() if not exact} == {"DateDerivationShape"}
