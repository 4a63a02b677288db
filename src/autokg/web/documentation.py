"""The ontology documentation: classes, properties and SKOS schemes, read from the served ontology graph."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from autokg.config import ONTOLOGY_NS
from autokg.query.entities import labels, select, term, text
from autokg.query.running import Queryable

#: vocabulary anchors are prefixed, since a scheme can share its local name with a property (akgv:status, akg:status)
VOCAB_ANCHOR = "v-"


@dataclass
class Term:
    """One documented term with its anchor."""

    iri: str
    anchor: str
    label: str
    chinese: str = ""
    definition: str = ""
    parents: list[tuple[str, str]] = field(default_factory=list)  # (iri, label)
    domains: list[tuple[str, str]] = field(default_factory=list)
    ranges: list[tuple[str, str]] = field(default_factory=list)
    mappings: list[tuple[str, str]] = field(default_factory=list)  # (mapping property, target IRI)


@dataclass
class Scheme:
    """A SKOS concept scheme and its concepts."""

    iri: str
    anchor: str
    label: str
    definition: str
    concepts: list[Term] = field(default_factory=list)


@dataclass
class OntologyDocs:
    """Everything the documentation page shows."""

    title: str
    description: str
    version: str
    classes: list[Term]
    properties: list[Term]
    schemes: list[Scheme]


def anchor_of(iri: str) -> str:
    """The page anchor of a term: its local name.

    >>> anchor_of("https://w3id.org/autokg/ontology#Company"), anchor_of("https://w3id.org/autokg/vocab/rumoured")
    ('Company', 'rumoured')
    """
    return iri.rsplit("#", 1)[-1] if "#" in iri else iri.rsplit("/", 1)[-1]


def terms(store: Queryable, kinds: str) -> list[Term]:
    """Ontology terms of the given rdf:type values (a SPARQL VALUES list), with their axioms and mappings."""
    found: dict[str, Term] = {}
    for row in select(store, f"""
SELECT ?t ?label ?zh ?definition WHERE {{
  VALUES ?kind {{ {kinds} }} ?t a ?kind . FILTER (STRSTARTS(STR(?t), STR(akg:)))
  OPTIONAL {{ ?t rdfs:label ?label . FILTER (lang(?label) = "en") }}
  OPTIONAL {{ ?t rdfs:label ?zh . FILTER (LANGMATCHES(lang(?zh), "zh-Hans")) }}
  OPTIONAL {{ ?t skos:definition ?definition . FILTER (lang(?definition) = "en") }}
}} ORDER BY LCASE(STR(?t))"""):
        iri = text(row, "t")
        found.setdefault(iri, Term(iri, anchor_of(iri), text(row, "label", anchor_of(iri)), text(row, "zh"), text(row, "definition")))
    if not found:
        return []
    values = " ".join(term(i) for i in found)
    links: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in select(store, f"""
SELECT ?t ?axiom ?target WHERE {{
  VALUES ?t {{ {values} }}
  VALUES ?axiom {{ rdfs:subClassOf rdfs:subPropertyOf rdfs:domain rdfs:range skos:exactMatch skos:closeMatch
                  skos:broadMatch skos:narrowMatch skos:relatedMatch owl:equivalentClass owl:equivalentProperty }}
  ?t ?axiom ?target . FILTER (isIRI(?target))
}} ORDER BY ?t ?axiom ?target"""):
        links[text(row, "t")].append((text(row, "axiom"), text(row, "target")))
    named = labels(store, [target for pairs in links.values() for _, target in pairs])
    for iri, pairs in links.items():
        entry = found[iri]
        for axiom, target in pairs:
            local = axiom.rsplit("#", 1)[-1]
            if local in ("subClassOf", "subPropertyOf"):
                (entry.parents if target.startswith(ONTOLOGY_NS) else entry.mappings).append(
                    (target, named[target]) if target.startswith(ONTOLOGY_NS) else (f"rdfs:{local}", target))
            elif local == "domain":
                entry.domains.append((target, named[target]))
            elif local == "range":
                entry.ranges.append((target, named[target]))
            else:
                entry.mappings.append((("skos:" if "skos" in axiom else "owl:") + local, target))
    return list(found.values())


def ontology_docs(store: Queryable) -> OntologyDocs:
    """The documentation model of the served ontology and its vocabularies."""
    head = select(store, f"""
SELECT ?title ?description ?version WHERE {{
  {term(ONTOLOGY_NS.rstrip('#'))} a owl:Ontology .
  OPTIONAL {{ {term(ONTOLOGY_NS.rstrip('#'))} dcterms:title ?title . FILTER (lang(?title) IN ("en", "")) }}
  OPTIONAL {{ {term(ONTOLOGY_NS.rstrip('#'))} dcterms:description ?description . FILTER (lang(?description) IN ("en", "")) }}
  OPTIONAL {{ {term(ONTOLOGY_NS.rstrip('#'))} owl:versionInfo ?version }}
}} LIMIT 1""")
    row = head[0] if head else {}
    schemes: dict[str, Scheme] = {}
    for scheme_row in select(store, """
SELECT ?s ?label ?definition WHERE {
  ?s a skos:ConceptScheme . FILTER (STRSTARTS(STR(?s), STR(akgv:)))
  OPTIONAL { ?s skos:prefLabel|rdfs:label ?label . FILTER (lang(?label) = "en") }
  OPTIONAL { ?s skos:definition ?definition . FILTER (lang(?definition) = "en") }
} ORDER BY ?s"""):
        iri = text(scheme_row, "s")
        schemes.setdefault(iri, Scheme(iri, VOCAB_ANCHOR + anchor_of(iri), text(scheme_row, "label", anchor_of(iri)), text(scheme_row, "definition")))
    for concept in select(store, """
SELECT ?c ?s ?label ?zh ?definition WHERE {
  ?c skos:inScheme ?s . FILTER (STRSTARTS(STR(?c), STR(akgv:)))
  OPTIONAL { ?c skos:prefLabel|rdfs:label ?label . FILTER (lang(?label) = "en") }
  OPTIONAL { ?c skos:prefLabel|rdfs:label ?zh . FILTER (LANGMATCHES(lang(?zh), "zh-Hans")) }
  OPTIONAL { ?c skos:definition ?definition . FILTER (lang(?definition) = "en") }
} ORDER BY ?s ?c"""):
        iri, scheme = text(concept, "c"), text(concept, "s")
        if scheme in schemes and not any(c.iri == iri for c in schemes[scheme].concepts):
            schemes[scheme].concepts.append(Term(iri, VOCAB_ANCHOR + anchor_of(iri), text(concept, "label", anchor_of(iri)), text(concept, "zh"), text(concept, "definition")))
    return OntologyDocs(
        title=text(row, "title", "autokg ontology"),
        description=text(row, "description"),
        version=text(row, "version"),
        classes=terms(store, "owl:Class"),
        properties=terms(store, "owl:ObjectProperty owl:DatatypeProperty owl:AnnotationProperty"),
        schemes=list(schemes.values()),
    )
