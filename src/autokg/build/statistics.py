"""Counts that describe the dataset: the summary printed by `autokg summary` and `make serve`."""

from __future__ import annotations

from collections import Counter

from rdflib import RDF, RDFS, Graph, Namespace, URIRef
from rdflib.namespace import SKOS

from autokg.config import ONTOLOGY_NS, WIKIDATA_ENTITY_NS

AKG = Namespace(ONTOLOGY_NS)


def subclasses(ontology: Graph, cls: URIRef) -> set[URIRef]:
    """`cls` and all its subclasses in the ontology."""
    return set(ontology.transitive_subjects(RDFS.subClassOf, cls))


def instances(data: Graph, ontology: Graph, cls: URIRef) -> set[URIRef]:
    """The nodes typed with `cls` or one of its subclasses."""
    found: set[URIRef] = set()
    for sub in subclasses(ontology, cls):
        found.update(data.subjects(RDF.type, sub))
    return found


def dataset_summary(data: Graph, ontology: Graph) -> dict[str, object]:
    """Triples, organizations, relationships by type, evidence, sources and Wikidata-linked entities."""
    relationships = instances(data, ontology, AKG.Relationship)
    by_type: Counter[str] = Counter()
    for node in relationships:
        for cls in data.objects(node, RDF.type):
            by_type[str(cls).removeprefix(ONTOLOGY_NS)] += 1
    linked = {s for s, o in data.subject_objects(SKOS.exactMatch) if str(o).startswith(WIKIDATA_ENTITY_NS)}
    return {
        "triples": len(data),
        "organizations": len(instances(data, ontology, AKG.Organization)),
        "people": len(instances(data, ontology, AKG.Person)),
        "brands": len(instances(data, ontology, AKG.Brand)),
        "products": len(instances(data, ontology, AKG.Product)),
        "events": len(instances(data, ontology, AKG.Event)),
        "places": len(instances(data, ontology, AKG.Place)),
        "relationships": len(relationships),
        "relationships_by_type": dict(sorted(by_type.items())),
        "evidence": len(instances(data, ontology, AKG.Evidence)),
        "sources": len(instances(data, ontology, AKG.SourceDocument)),
        "wikidata_linked_entities": len(linked),
    }


def render_summary(summary: dict[str, object]) -> str:
    """The summary as aligned text lines."""
    lines = []
    for key, value in summary.items():
        if isinstance(value, dict):
            lines.append(f"{key.replace('_', ' ')}:")
            lines.extend(f"  {name:<24} {count:>5}" for name, count in value.items())
        else:
            lines.append(f"{key.replace('_', ' '):<26} {value:>5}")
    return "\n".join(lines) + "\n"
