"""Checks that `autokg validate` makes beyond the SHACL shapes: what shapes cannot see, or what data could hide from them.

Each check returns Problems; validation writes them into the SHACL report as results whose source shape
is akgsh:<check name>, so every report format shows them like any other finding.
"""

from __future__ import annotations

import csv
import difflib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
from rdflib import OWL, RDF, RDFS, Graph, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from autokg.config import ONTOLOGY_NS, RESOURCE_NS, SHAPES_NS, VOCAB_NS, WIKIDATA_ENTITY_NS, ProjectFiles
from autokg.errors import AutokgError
from autokg.rdf.loading import to_rdflib
from autokg.rdf.safety import open_input

AKG = Namespace(ONTOLOGY_NS)
SH_NS = "http://www.w3.org/ns/shacl#"
#: namespaces whose terms only the ontology, the vocabularies and the shapes may describe
RESERVED = (ONTOLOGY_NS, VOCAB_NS, SHAPES_NS, SH_NS)
#: predicates that change how SHACL reads classes and properties
SCHEMA_PREDICATES = {RDFS.subClassOf, RDFS.subPropertyOf, RDFS.domain, RDFS.range, OWL.equivalentClass, OWL.disjointWith}


@dataclass(frozen=True)
class Problem:
    """One finding of a check: the node it is about, and the fix."""

    check: str
    focus: Node
    message: str
    path: URIRef | None = None
    value: Node | None = None
    severity: str = "Violation"


def select(data: Graph, query: str) -> list[tuple]:
    """The rows of a SPARQL SELECT over `data`, which must sit on an Oxigraph store: the checks scan the whole
    graph, and Oxigraph does that in Rust, without making an rdflib term of every triple."""
    store = data.store._inner  # oxrdflib's Store
    rows = store.query(query, default_graph=ox.BlankNode(str(data.identifier)))
    return [tuple(None if term is None else to_rdflib(term) for term in row) for row in rows]


def ordered(rows: Iterable[tuple]) -> list[tuple]:
    """Rows in a stable order (by their terms' text), so that reports do not change from run to run."""
    return sorted(rows, key=lambda row: tuple(str(term) for term in row))


def iri_values(terms: Iterable[Node]) -> str:
    """IRIs as the body of a SPARQL VALUES clause."""
    return " ".join(f"<{t}>" for t in sorted(terms) if isinstance(t, URIRef))


def reserved(term: Node) -> bool:
    """Whether an IRI belongs to the ontology's, the vocabularies' or the shapes' namespace (or SHACL's)."""
    return isinstance(term, URIRef) and str(term).startswith(RESERVED)


def ontology_terms_in_data(data: Graph, defined: set[Node]) -> list[tuple[tuple[Node, Node, Node], Problem]]:
    """Triples of the data that describe a term of the ontology, the vocabularies or the shapes, or use SHACL's terms.

    SHACL engines read the class hierarchy from the data graph, so such a triple could turn a violation into
    "conforms"; the caller removes them before validating, and reports them.
    """
    starts = " || ".join(f'STRSTARTS(STR(?s), "{ns}")' for ns in RESERVED)
    schema = " ".join(f"<{p}>" for p in sorted(SCHEMA_PREDICATES))
    reserved_object = " || ".join(f'STRSTARTS(STR(?o), "{ns}")' for ns in RESERVED)
    query = f"""SELECT ?s ?p ?o WHERE {{
        {{ ?s ?p ?o FILTER(({starts}) || STRSTARTS(STR(?p), "{SH_NS}")
                         || (?p IN ({schema.replace(" ", ", ")}) && ({reserved_object}))
                         || (?p = <{RDF.type}> && STRSTARTS(STR(?o), "{SH_NS}"))) }}
        UNION {{ VALUES ?s {{ {iri_values(t for t in defined if not reserved(t))} }} ?s ?p ?o }}
    }}"""
    found = []
    for s, p, o in ordered(set(select(data, query))):
        found.append(((s, p, o), Problem(
            "OntologyTermInData", s,
            "Data may not describe the ontology's, the vocabularies' or the shapes' terms, nor use SHACL's: "
            "remove this triple (ontology/ and shapes/ are authoritative)", p, o,
        )))
    return found


def unknown_terms(data: Graph, known: set[Node]) -> list[Problem]:
    """Uses of akg: and akgv: terms that neither the ontology nor the vocabularies define (a typo, mostly)."""
    ours = f'isIRI(?t) && (STRSTARTS(STR(?t), "{ONTOLOGY_NS}") || STRSTARTS(STR(?t), "{VOCAB_NS}"))'
    used = {row[0] for row in select(data, f"SELECT DISTINCT ?t WHERE {{ {{ ?s ?t ?o }} UNION {{ ?s ?p ?t }} FILTER({ours}) }}")}
    unknown = used - known
    if not unknown:
        return []
    names = sorted(str(t) for t in known if isinstance(t, URIRef))
    problems = []
    uses = select(data, f"""SELECT ?s ?p ?o WHERE {{ VALUES ?t {{ {iri_values(unknown)} }}
                           {{ ?s ?t ?o BIND(?t AS ?p) }} UNION {{ ?s ?p ?t BIND(?t AS ?o) }} }}""")
    for s, p, o in ordered(uses):
        term = p if p in unknown else o
        guess = difflib.get_close_matches(str(term), names, n=1, cutoff=0.8)
        hint = f" (did you mean <{guess[0]}>?)" if guess else ""
        kind = "the ontology" if str(term).startswith(ONTOLOGY_NS) else "the vocabularies"
        problems.append(Problem(
            "UnknownTerm", s, f"<{term}> is not defined in {kind}: fix the spelling{hint}, or propose the term there", p, o,
        ))
    return problems


def superclasses(ontology: Graph) -> dict[Node, set[Node]]:
    """Each class of the ontology with every class above it (itself included), from the ontology alone."""
    direct: dict[Node, set[Node]] = defaultdict(set)
    for sub, sup in ontology.subject_objects(RDFS.subClassOf):
        direct[sub].add(sup)
    closed: dict[Node, set[Node]] = {}

    def up(cls: Node) -> set[Node]:
        if cls not in closed:
            closed[cls] = {cls}
            for parent in direct.get(cls, ()):
                closed[cls] |= up(parent)
        return closed[cls]

    for cls in list(direct):
        up(cls)
    return closed


def disjoint_pairs(ontology: Graph) -> set[frozenset[Node]]:
    """The pairs of classes that the ontology declares disjoint (owl:disjointWith and owl:AllDisjointClasses)."""
    pairs = {frozenset(pair) for pair in ontology.subject_objects(OWL.disjointWith)}
    for group in ontology.subjects(RDF.type, OWL.AllDisjointClasses):
        members = list(Collection(ontology, ontology.value(group, OWL.members)))
        pairs |= {frozenset((a, b)) for i, a in enumerate(members) for b in members[i + 1:]}
    return pairs


def disjoint_types(data: Graph, ontology: Graph) -> list[Problem]:
    """Nodes typed with two classes that the ontology declares disjoint (a person also typed a company)."""
    pairs = disjoint_pairs(ontology)
    above = superclasses(ontology)
    types: dict[Node, set[Node]] = defaultdict(set)
    query = """SELECT ?node ?cls WHERE { ?node a ?cls { SELECT ?node WHERE { ?node a ?any } GROUP BY ?node
                HAVING (COUNT(DISTINCT ?any) > 1) } }"""
    for node, cls in select(data, query):
        types[node].add(cls)
    problems = []
    for node, classes in sorted(types.items(), key=lambda item: str(item[0])):
        for a in sorted(classes):
            for b in sorted(classes):
                if a < b and any(frozenset((x, y)) in pairs for x in above.get(a, {a}) for y in above.get(b, {b})):
                    problems.append(Problem(
                        "DisjointTypes", node, f"Typed both <{a}> and <{b}>, which the ontology declares disjoint: keep the one type that is true",
                        RDF.type, b,
                    ))
    return problems


def literals_for_resources(data: Graph, ontology: Graph) -> list[Problem]:
    """A literal as the value of an object property (`akg:partner "Apple"`), and an IRI for a datatype property."""
    objects = set(ontology.subjects(RDF.type, OWL.ObjectProperty))
    datatypes = set(ontology.subjects(RDF.type, OWL.DatatypeProperty))
    problems = []
    query = "SELECT ?s ?p ?o WHERE {{ VALUES ?p {{ {} }} ?s ?p ?o FILTER({}isLiteral(?o)) }}"
    for s, p, o in ordered(select(data, query.format(iri_values(objects), ""))):
        problems.append(Problem(
            "LiteralForResource", s,
            f"<{p}> takes an entity's IRI (such as akr:apple), not a text: replace the literal with the IRI of the "
            "entity it names, and describe that entity if it is new", p, o,
        ))
    for s, p, o in ordered(select(data, query.format(iri_values(datatypes), "!"))):
        problems.append(Problem("ResourceForLiteral", s, f"<{p}> takes a literal value, not a node: write the value itself", p, o))
    return problems


def slug(node: Node) -> str:
    """The slug of a resource IRI."""
    return str(node).removeprefix(RESOURCE_NS)


def swapped_parents(data: Graph) -> list[Problem]:
    """ParentSubsidiary nodes whose roles contradict their own IRI or another relationship of the same pair.

    The IRI is derived as parent-subsidiary--<parent>--<subsidiary> (docs/conventions.md), so a node whose
    IRI names the subsidiary first, or a pair that is each other's parent, has its roles swapped.
    """
    problems = []
    edges: dict[tuple[Node, Node], Node] = {}
    for node in data.subjects(RDF.type, AKG.ParentSubsidiary):
        parents, subsidiaries = list(data.objects(node, AKG.parent)), list(data.objects(node, AKG.subsidiary))
        if len(parents) != 1 or len(subsidiaries) != 1 or parents == subsidiaries:
            continue  # the shapes report missing, repeated or self-referring roles
        parent, subsidiary = parents[0], subsidiaries[0]
        edges[(parent, subsidiary)] = node
        if slug(node).startswith(f"parent-subsidiary--{slug(subsidiary)}--{slug(parent)}"):
            problems.append(Problem(
                "SwappedParentSubsidiary", node,
                f"The IRI names {slug(subsidiary)} as the parent, the roles name {slug(parent)}: swap akg:parent and "
                "akg:subsidiary, or fix the IRI (parent-subsidiary--<parent>--<subsidiary>)", AKG.parent, parent,
            ))
    for (parent, subsidiary), node in sorted(edges.items()):
        if (subsidiary, parent) in edges and str(parent) < str(subsidiary):
            problems.append(Problem(
                "SwappedParentSubsidiary", node,
                f"{slug(parent)} and {slug(subsidiary)} are each other's parent (also in {slug(edges[(subsidiary, parent)])}): "
                "check the source and swap akg:parent and akg:subsidiary in the wrong one", AKG.parent, parent,
            ))
    return problems


def quotes_in_sources(data: Graph, files: ProjectFiles) -> list[Problem]:
    """Quotes that do not occur verbatim in their source's text, and text files that are not under data/sources/."""
    problems = []
    texts: dict[Node, str | None] = {}
    folder = files.source_texts.resolve()
    query = f"SELECT ?e ?q ?source ?name WHERE {{ ?e <{AKG.quote}> ?q . ?e <{AKG.source}> ?source . ?source <{AKG.textFile}> ?name }}"
    # (the shapes ask for a source and its text file)
    for evidence, quote, source, name in ordered(select(data, query)):
        if source not in texts:
            texts[source] = source_text(files, folder, str(name))
            if texts[source] is None:
                problems.append(Problem(
                    "SourceText", source, f"akg:textFile \"{name}\" is not a text file under data/sources/, so its quotes "
                    "cannot be checked: add the source's text as data/sources/<file>.txt and name it relative to the project root",
                    AKG.textFile, name, severity="Warning",
                ))
        text = texts[source]
        if text is not None and str(quote) not in text:
            problems.append(Problem(
                "QuoteNotInSource", evidence, f"This quote does not occur verbatim in {name}: copy it exactly from the source text",
                AKG.quote, quote,
            ))
    return problems


def source_text(files: ProjectFiles, folder: Path, name: str) -> str | None:
    """The text of a source file named in the data, or None when it is not a regular file directly under data/sources/."""
    path = (files.root / name).resolve()
    if path.parent != folder or not path.name.endswith(".txt"):
        return None
    try:
        with open_input(files.root / name) as handle:
            return handle.read().decode("utf-8")
    except AutokgError:
        return None


def verified_wikidata_items(path: Path) -> set[str]:
    """The Q-numbers that the reference list marks verified."""
    with open_input(path) as handle:
        rows = csv.DictReader(handle.read().decode("utf-8").splitlines(), delimiter="\t")
        return {row["wikidata_id"] for row in rows if row["status"] == "verified" and row["wikidata_id"]}


def unverified_links(data: Graph, verified: set[str]) -> list[Problem]:
    """Links to Wikidata entities that the verified reference list does not hold."""
    problems = []
    query = f'SELECT ?s ?p ?o WHERE {{ ?s ?p ?o FILTER(isIRI(?o) && STRSTARTS(STR(?o), "{WIKIDATA_ENTITY_NS}")) }}'
    for s, p, o in ordered(select(data, query)):
        if str(o).removeprefix(WIKIDATA_ENTITY_NS) not in verified:
            problems.append(Problem(
                "UnverifiedWikidataLink", s, f"{str(o).removeprefix(WIKIDATA_ENTITY_NS)} is not marked verified in "
                "data/reference/wikidata.tsv: link only verified items (a wrong link merges two things), or remove the link", p, o,
            ))
    return problems


def graph_checks(data: Graph, ontology: Graph, vocabularies: Graph) -> Iterator[Problem]:
    """The checks that need only the graphs."""
    known = set(ontology.subjects()) | set(vocabularies.subjects())
    yield from unknown_terms(data, known)
    yield from disjoint_types(data, ontology)
    yield from literals_for_resources(data, ontology)
    yield from swapped_parents(data)


def source_checks(data: Graph, files: ProjectFiles) -> Iterable[Problem]:
    """The checks that read the project's source texts and Wikidata reference list."""
    yield from quotes_in_sources(data, files)
    yield from unverified_links(data, verified_wikidata_items(files.wikidata_reference))
