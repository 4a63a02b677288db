"""Lookups answered from the quad index give Store.query's JSON answer byte for byte, or step aside."""

import json

import pyoxigraph as ox
import pytest

from autokg.query.lookups import answer_lookup, parse_lookup

E = "http://example.org/"
XSD = "http://www.w3.org/2001/XMLSchema#"


def node(local: str) -> ox.NamedNode:
    return ox.NamedNode(E + local)


@pytest.fixture(scope="module")
def varied():
    """Every kind of term, in named graphs and the default graph, with a triple held by two graphs."""
    store = ox.Store()
    a, p, q = node("a"), node("p"), node("q")
    objects = [
        node("b"), ox.BlankNode("b1"), ox.BlankNode(),
        ox.Literal("plain"), ox.Literal("single quoted é"), ox.Literal("x\x01\x1b\x7f\"\\\n\t\u2028 😀"),
        ox.Literal("hi", language="en-GB"), ox.Literal("42", datatype=ox.NamedNode(XSD + "integer")),
        ox.Literal("2024-01-01", datatype=ox.NamedNode(XSD + "date")),
    ]
    for index, value in enumerate(objects):
        store.add(ox.Quad(a, p if index % 2 else q, value, node(f"g{index % 3}")))
    store.add(ox.Quad(a, p, node("b"), node("g9")))  # the same triple again, in another graph
    store.add(ox.Quad(a, p, ox.Literal("in the default graph"), ox.DefaultGraph()))
    store.add(ox.Quad(node("c"), ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), node("Thing"), node("g1")))
    store.add(ox.Quad(ox.BlankNode("b1"), q, ox.Literal("plain"), node("g2")))
    return store


@pytest.fixture(scope="module")
def unusual():
    """Terms that SPARQL JSON writes in RDF 1.2's own ways: a triple term and a literal with a direction."""
    store = ox.Store()
    store.add(ox.Quad(node("t"), node("p"), ox.Triple(node("a"), node("p"), node("b")), node("g")))
    store.add(ox.Quad(node("d"), node("p"), ox.Literal("مرحبا", language="ar", direction=ox.BaseDirection.RTL), node("g")))
    return store


READ_HERE = [
    f"SELECT ?p ?o WHERE {{ <{E}a> ?p ?o }}",
    f"SELECT * {{ <{E}a> ?p ?o }}",
    f"SELECT ?o ?p {{ <{E}a> ?p ?o }}",
    f"SELECT ?o ?unbound {{ <{E}a> ?p ?o }}",
    f"SELECT ?s {{ ?s a <{E}Thing> }}",
    'SELECT ?s ?p { ?s ?p "plain" }',
    f"SELECT ?s {{ ?s <{E}q> 'single quoted é' }}",
    f"PREFIX ex: <{E}> SELECT * WHERE {{ ex:a ex:p ?o . }} LIMIT 2",
    f"PREFIX : <{E}>\nSELECT ?o # the objects\n{{ :a :p ?o }} # done",
    f"prefix ex: <{E}> select $o where {{ ex:a ex:p $o }} limit 100",
    f"SELECT ?p # ?q, a comment\n ?o WHERE {{ <{E}a> ?p ?o }}",
    f"SELECT*{{<{E}a>?p?o}}",
    f"SELECT ?p ?o {{ <{E}a> ?p ?o }} LIMIT 0",
    f"SELECT ?p ?o {{ <{E}nobody> ?p ?o }}",
    "SELECT * WHERE { ?s ?p ?o }",
    f"ASK {{ <{E}a> ?p ?o }}",
    f"ASK {{ <{E}nobody> ?p ?o }}",
    f"ASK {{ <{E}a> ?p ?o }} LIMIT 0",
    f"ask where {{ ?s <{E}q> 'plain' }}",
]


@pytest.mark.parametrize("query", READ_HERE)
def test_a_lookup_answers_as_store_query_does(varied, query):
    lookup = parse_lookup(query)
    assert lookup is not None, "the query is in the subset read here"
    body, rows = answer_lookup(varied, lookup, 1000)
    expected = varied.query(query, use_default_graph_as_union=True).serialize(format=ox.QueryResultsFormat.JSON)
    assert body == expected
    answer = json.loads(expected)
    assert rows == (1 if "boolean" in answer else len(answer["results"]["bindings"]))


def test_every_entity_of_the_dataset_looks_up_as_store_query_does(app):
    store = app.extensions["autokg"].store  # the served store, as the app loaded it
    subjects = {quad.subject for quad in store if isinstance(quad.subject, ox.NamedNode)}
    assert len(subjects) > 100
    for subject in subjects:
        query = f"SELECT ?p ?o WHERE {{ <{subject.value}> ?p ?o }}"
        body, _ = answer_lookup(store, parse_lookup(query), 1000)
        assert body == store.query(query, use_default_graph_as_union=True).serialize(format=ox.QueryResultsFormat.JSON), subject


@pytest.mark.parametrize("query", [
    f"BASE <{E}> SELECT * {{ <a> ?p ?o }}",  # a relative IRI
    "SELECT * { <a> ?p ?o }",
    'SELECT * { ?s ?p "hi"@en-gb }',  # a language tag, a datatype
    f'PREFIX xsd: <{XSD}> SELECT * {{ ?s ?p "42"^^xsd:integer }}',
    "SELECT * { ?s ?p '''plain''' }",
    f"SELECT * {{ ?x <{E}p> ?x }}",  # a variable used twice
    f"SELECT ?p ?p {{ <{E}a> ?p ?o }}",  # projected twice: Oxigraph's syntax error
    f"SELECT * {{ <{E}\\u0061> ?p ?o }}",  # an escape, anywhere
    f"SELECT * {{ <{E}a> ?p ?o }} # \\u000A LIMIT 1",
    "SELECT * { undeclared:a ?p ?o }",
    f"PREFIX _x: <{E}> SELECT * {{ <{E}a> ?p ?o }}",  # not a prefix name SPARQL allows
    f"PREFIX ex: <{E}> PREFIX ex: <http://example.com/> SELECT * {{ ex:a ?p ?o }}",
    f"PREFIX ex: <relative/> SELECT * {{ <{E}a> ?p ?o }}",
    f"PREFIX ex: <{E}> SELECT * {{ ex:café ?p ?o }}",  # outside ASCII
    f"PREFIX ex: <{E}> SELECT * {{ ex:a%20b ?p ?o }}",
    f"SELECT ?café {{ <{E}a> ?p ?café }}",
    f"SELECT DISTINCT ?p {{ <{E}a> ?p ?o }}",  # not a single pattern at all
    f"SELECT * {{ <{E}a> ?p ?o }} ORDER BY ?o",
])
def test_queries_outside_the_subset_are_left_to_store_query(query):
    assert parse_lookup(query) is None


@pytest.mark.parametrize("subject", ["t", "d"])
def test_terms_written_in_rdf_1_2_ways_are_left_to_store_query(unusual, subject):
    lookup = parse_lookup(f"SELECT ?p ?o {{ <{E}{subject}> ?p ?o }}")
    assert lookup is not None
    assert answer_lookup(unusual, lookup, 1000) is None
    assert answer_lookup(unusual, parse_lookup(f"SELECT ?p {{ <{E}{subject}> ?p ?o }}"), 1000) is not None


def test_an_answer_past_the_row_limit_is_left_to_store_query(varied):
    lookup = parse_lookup("SELECT * { ?s ?p ?o }")
    total = len(varied)
    assert answer_lookup(varied, lookup, total - 1) is None
    assert answer_lookup(varied, lookup, total)[1] == total
    assert answer_lookup(varied, parse_lookup("SELECT * { ?s ?p ?o } LIMIT 3"), 3)[1] == 3
