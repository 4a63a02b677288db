"""Ontology hygiene as SPARQL checks, in the manner of ROBOT's report, and a namespace guard."""

from __future__ import annotations

import re

import pytest
from rdflib import Graph, URIRef

from autokg.config import ONTOLOGY_NS, VOCAB_NS
from autokg.rdf.loading import load_graph

PREFIXES = """
PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX dcterms: <http://purl.org/dc/terms/>
"""
TERMS = "VALUES ?type { owl:Class owl:ObjectProperty owl:DatatypeProperty skos:Concept skos:ConceptScheme } ?term a ?type ."

CHECKS = {
    "missing English label": f"SELECT ?term WHERE {{ {TERMS} FILTER NOT EXISTS {{ ?term rdfs:label ?l FILTER (langMatches(lang(?l), 'en')) }} }}",
    "missing definition": f"SELECT ?term WHERE {{ {TERMS} FILTER NOT EXISTS {{ ?term skos:definition ?d FILTER (langMatches(lang(?d), 'en')) }} }}",
    "missing rdfs:isDefinedBy": """SELECT ?term WHERE { VALUES ?type { owl:Class owl:ObjectProperty owl:DatatypeProperty }
        ?term a ?type . FILTER (STRSTARTS(STR(?term), "https://w3id.org/autokg/"))
        FILTER NOT EXISTS { ?term rdfs:isDefinedBy ?o } }""",
    "duplicate English label": f"""SELECT ?term WHERE {{ {TERMS} ?term rdfs:label ?l . ?other a ?type2 ; rdfs:label ?l .
        FILTER (?other != ?term && langMatches(lang(?l), 'en'))
        FILTER (?type2 IN (owl:Class, owl:ObjectProperty, owl:DatatypeProperty)) FILTER (?type IN (owl:Class, owl:ObjectProperty, owl:DatatypeProperty)) }}""",
    "more than one English label": f"""SELECT ?term WHERE {{ {TERMS} ?term rdfs:label ?a, ?b .
        FILTER (?a != ?b && langMatches(lang(?a), 'en') && langMatches(lang(?b), 'en')) }}""",
    "ontology without title, description, licence, creator or version": """SELECT ?term WHERE { ?term a owl:Ontology .
        FILTER NOT EXISTS { ?term dcterms:title ?t ; dcterms:description ?d ; dcterms:license ?l ; dcterms:creator ?c ;
                            owl:versionIRI ?v ; owl:versionInfo ?i } }""",
}


@pytest.fixture(scope="module")
def terms(project) -> Graph:
    graph = Graph()
    for part in (project.ontology, project.vocabularies):
        for triple in part:
            graph.add(triple)
    return graph


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_hygiene(check: str, terms: Graph):
    offenders = sorted(str(row[0]) for row in terms.query(PREFIXES + CHECKS[check]))
    assert offenders == [], f"{check}: {offenders}"


def test_shapes_and_alignment_have_metadata(files):
    for path in files.shapes + files.alignment:
        graph = load_graph([path])
        found = graph.query(PREFIXES + "ASK { ?x dcterms:title ?t ; dcterms:description ?d ; dcterms:license ?l }")
        assert found.askAnswer, f"{path.name} lacks dcterms:title, dcterms:description or dcterms:license"


def test_person_and_organization_are_disjoint(project):
    query = PREFIXES + """ASK { ?d a owl:AllDisjointClasses ; owl:members ?list .
        ?list rdf:rest*/rdf:first <https://w3id.org/autokg/ontology#Person>, <https://w3id.org/autokg/ontology#Organization> }"""
    assert project.ontology.query(query, initNs={"rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#"}).askAnswer


def declared_terms(project) -> set[str]:
    names = set()
    for part in (project.ontology, project.vocabularies):
        for s in part.subjects():
            names.add(str(s))
    return names


def used_terms(text: str, graph: Graph | None) -> set[str]:
    """akg: and akgv: IRIs used in a graph, or prefixed names in a text file."""
    found = set()
    if graph is not None:
        for triple in graph:
            for term in triple:
                if isinstance(term, URIRef) and str(term).startswith((ONTOLOGY_NS, VOCAB_NS)) and str(term) not in (ONTOLOGY_NS, VOCAB_NS):
                    found.add(str(term))
    for prefix, namespace in (("akg", ONTOLOGY_NS), ("akgv", VOCAB_NS)):
        for local in re.findall(rf"(?<![\w:]){prefix}:([A-Za-z][\w-]*)", text):
            found.add(namespace + local)
    return found


def test_namespace_guard(project, files):
    """Data, shapes, alignment and queries use only akg: and akgv: terms that the ontology or vocabularies declare."""
    declared = declared_terms(project)
    undeclared = {}
    for path in files.data + files.shapes + files.alignment:
        graph = load_graph([path])
        # SPARQL constraints name terms inside their query strings
        queries = "\n".join(str(o) for o in graph.objects(None, URIRef("http://www.w3.org/ns/shacl#select")))
        for term in used_terms(queries, graph) - declared:
            undeclared.setdefault(term, path.name)
    for path in sorted(files.queries.glob("*.rq")):
        for term in used_terms(path.read_text(encoding="utf-8"), None) - declared:
            undeclared.setdefault(term, path.name)
    assert undeclared == {}, f"undeclared terms (term -> first file using it): {undeclared}"


def test_namespace_guard_catches_an_undeclared_term(project):
    graph = Graph().parse(data="<https://w3id.org/autokg/id/x> <https://w3id.org/autokg/ontology#nonsense> 1 .", format="turtle")
    assert used_terms("", graph) - declared_terms(project) == {ONTOLOGY_NS + "nonsense"}
