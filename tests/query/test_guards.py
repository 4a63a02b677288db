"""Which queries count as one triple pattern, and so may run in the serving process (executor.runs_in_process)."""

from __future__ import annotations

import pytest

from autokg.query.guards import is_single_pattern

AKR = "PREFIX akr: <https://w3id.org/autokg/id/>\n"


@pytest.mark.parametrize("text", [
    "SELECT ?p ?o WHERE { <https://w3id.org/autokg/id/ford> ?p ?o }",
    AKR + "SELECT * { akr:ford ?p ?o . }",
    AKR + "# a comment { ?x ?y ?z }\nselect ?s where { ?s a akr:Carmaker } limit 20",
    "ASK { ?s <http://www.w3.org/2000/01/rdf-schema#label> 'Ford'@en }",
    "BASE <https://w3id.org/autokg/id/> SELECT ?s { ?s ?p \"2021\"^^<http://www.w3.org/2001/XMLSchema#gYear> }",
    "SELECT ?s { ?s ?p 'a { b } FILTER'@zh-Hans-CN }",
])
def test_single_patterns(text):
    assert is_single_pattern(text)


@pytest.mark.parametrize("text", [
    "SELECT DISTINCT ?p WHERE { ?s ?p ?o }",
    "SELECT REDUCED ?p WHERE { ?s ?p ?o }",
    "SELECT ?s WHERE { ?s ?p ?o } OFFSET 1000000",
    "SELECT ?s WHERE { ?s ?p ?o } ORDER BY ?o",
    "SELECT ?s WHERE { ?s ?p ?o FILTER (?o > 1) }",
    "SELECT ?s WHERE { ?s ?p ?o . ?o ?q ?r }",
    "SELECT ?s WHERE { ?s ?p ?o ; ?q ?r }",
    "SELECT ?s WHERE { ?s ?p ?o , ?r }",
    "SELECT ?s WHERE { ?s <http://ex/p>/<http://ex/q> ?o }",
    "SELECT ?s WHERE { ?s <http://ex/p>* ?o }",
    "SELECT ?s WHERE { ?s ^<http://ex/p> ?o }",
    "SELECT ?s WHERE { GRAPH ?g { ?s ?p ?o } }",
    "SELECT ?s FROM <http://ex/g> WHERE { ?s ?p ?o }",
    "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
    "SELECT ?s WHERE { ?s ?p ?o } GROUP BY ?s",
    "SELECT ?s WHERE { ?s ?p 42 }",
    "SELECT ?s WHERE { [] ?p ?o }",
    "SELECT ?s WHERE { _:b ?p ?o }",
    "SELECT ?s WHERE { ?s ?p ?o } LIMIT 1 OFFSET 5",
    "SELECT ?s WHERE { { SELECT ?s WHERE { ?s ?p ?o } } }",
    "SELECT ?s WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }",
    "CONSTRUCT WHERE { ?s ?p ?o }",
    "DESCRIBE <https://w3id.org/autokg/id/ford>",
    "SELECT ?s WHERE { ?s ?p ?o } VALUES ?s { <http://ex/a> }",
    "SELECT ?s WHERE { a ?p ?o }",
    "SELECT ?s WHERE { }",
    "PREFIX x: SELECT ?s WHERE { ?s ?p ?o }",
    AKR + "SELECT ?o WHERE { akr:forda?o }",  # one name, as the engine reads it: two terms, not three
    AKR + "SELECT ?o WHERE { akr:fordakr:ford.?o }",
    "SELECT ?o WHERE { ?s ?p ?o } LIMIT",
    "SELECT ?o WHERE { ?s ?p ?o } LIMIT10",
])
def test_not_single_patterns(text):
    assert not is_single_pattern(text)


def test_a_single_pattern_passes_the_guards_whatever_its_strings_say():
    from autokg.query.guards import check_query

    check_query("SELECT ?s WHERE { ?s ?p 'DROP ALL; SERVICE <http://127.0.0.1:9/> {}' }")
