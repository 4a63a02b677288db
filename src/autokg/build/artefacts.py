"""`autokg build`: shortcuts, release artefacts in dist/, their checksums, and the persisted store."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
from rdflib import RDF, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, SKOS, XSD

from autokg import __version__
from autokg.config import ONTOLOGY_NS, PREFIXES, RESOURCE_NS, WIKIDATA_ENTITY_NS, ProjectFiles, compact
from autokg.errors import AutokgError
from autokg.rdf.formats import BY_NAME, by_suffix
from autokg.rdf.loading import Project, load_project
from autokg.build.release import DATASET, DIST_BASE, dcat_description, distributions
from autokg.build.shortcuts import derive_shortcuts
from autokg.stores.embedded import PART_GRAPHS, current_store, write_store
from autokg.build.tables import data_package
from autokg.rdf.turtle import canonical_turtle
from autokg.validate.validation import validate_graph

VOID = Namespace("http://rdfs.org/ns/void#")
#: output name of each part; "autokg" is everything merged
PART_FILES = {"ontology": "autokg-ontology", "data": "autokg-data", "shortcuts": "autokg-shortcuts", "all": "autokg"}
#: the suffixes of the files each part is written to
TRIPLE_FORMATS = tuple(BY_NAME[name].suffixes[0] for name in ("turtle", "ntriples", "jsonld"))


@dataclass
class BuildResult:
    """What a build wrote."""

    dist: Path
    files: list[Path]
    triples: dict[str, int]
    store: Path
    store_rebuilt: bool


def dataset_parts(project: Project) -> dict[str, Graph]:
    """The parts as graphs: ontology (with vocabularies and alignment), data, and the derived shortcuts."""
    ontology = Graph()
    for graph in (project.ontology, project.vocabularies, project.alignment):
        ontology += graph
    data = Graph() + project.data
    shortcuts = derive_shortcuts(ontology + data)
    return {"ontology": ontology, "data": data, "shortcuts": shortcuts}


def canonical_quads(parts: dict[str, Graph]) -> dict[str, list[ox.Quad]]:
    """Each part's triples as sorted quads in the part's named graph, blank nodes labelled by RDFC-1.0.

    Canonical blank-node labels make the output independent of parse order and hash seeds.
    """
    dataset = ox.Dataset()
    for part, graph in parts.items():
        for t in ox.parse(graph.serialize(format="nt"), format=ox.RdfFormat.N_TRIPLES):
            dataset.add(ox.Quad(t.subject, t.predicate, t.object, PART_GRAPHS[part]))
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    return {part: sorted(dataset.quads_for_graph_name(PART_GRAPHS[part]), key=str) for part in parts}


def serialize(quads: list[ox.Quad], suffix: str) -> bytes:
    """Sorted quads in one of the release formats (by file suffix); the same quads always give the same bytes.

    Oxigraph's writer keeps the sorted order; rdflib's would reorder anonymous nodes at random.
    """
    fmt = by_suffix().get(suffix)
    if fmt is None or fmt.oxigraph is None or fmt.kind != "graph":
        raise AutokgError(f"Unknown artefact format '{suffix}'")
    items = quads if fmt.quads else [ox.Triple(q.subject, q.predicate, q.object) for q in quads]
    return ox.serialize(items, format=fmt.oxigraph, prefixes=PREFIXES if fmt.prefixed else None)


def bind_prefixes(graph: Graph) -> Graph:
    """Bind autokg's prefixes so Turtle output is readable."""
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace, override=True)
    return graph


def void_description(parts: dict[str, Graph], links: int) -> Graph:
    """A VoID description of the dataset: size, classes, properties, subsets, dumps and the Wikidata linkset."""
    merged = Graph()
    for graph in parts.values():
        merged += graph
    void = Graph()
    add = void.add
    add((DATASET, RDF.type, VOID.Dataset))
    add((DATASET, DCTERMS.title, Literal("autokg", lang="en")))
    add((DATASET, DCTERMS.description, Literal(
        "Relationships in the automotive industry, each with its source and a verbatim quote.", lang="en")))
    add((DATASET, DCTERMS.license, URIRef("https://creativecommons.org/licenses/by/4.0/")))
    add((DATASET, URIRef("http://www.w3.org/2002/07/owl#versionInfo"), Literal(__version__)))
    add((DATASET, VOID.uriSpace, Literal(RESOURCE_NS)))
    add((DATASET, VOID.vocabulary, URIRef(ONTOLOGY_NS)))
    add((DATASET, VOID.dataDump, URIRef(DIST_BASE + "autokg.nt")))
    for key, value in statistics(merged).items():
        add((DATASET, VOID[key], Literal(value, datatype=XSD.integer)))
    for cls, count in sorted(class_counts(merged).items()):
        partition = URIRef(f"{DATASET}/class/{local_name(cls)}")
        add((DATASET, VOID.classPartition, partition))
        add((partition, VOID["class"], cls))
        add((partition, VOID.entities, Literal(count, datatype=XSD.integer)))
    for prop, count in sorted(property_counts(merged).items()):
        partition = URIRef(f"{DATASET}/property/{local_name(prop)}")
        add((DATASET, VOID.propertyPartition, partition))
        add((partition, VOID.property, prop))
        add((partition, VOID.triples, Literal(count, datatype=XSD.integer)))
    for part, graph in parts.items():
        subset = URIRef(f"{DATASET}/{part}")
        add((DATASET, VOID.subset, subset))
        add((subset, RDF.type, VOID.Dataset))
        add((subset, DCTERMS.title, Literal(f"autokg {part}", lang="en")))
        add((subset, VOID.triples, Literal(len(graph), datatype=XSD.integer)))
        add((subset, VOID.dataDump, URIRef(DIST_BASE + PART_FILES[part] + ".nt")))
    linkset = URIRef(f"{DATASET}/wikidata-links")
    add((DATASET, VOID.subset, linkset))
    add((linkset, RDF.type, VOID.Linkset))
    add((linkset, VOID.linkPredicate, SKOS.exactMatch))
    add((linkset, VOID.subjectsTarget, DATASET))
    add((linkset, VOID.objectsTarget, URIRef("http://www.wikidata.org/")))
    add((linkset, VOID.triples, Literal(links, datatype=XSD.integer)))
    return bind_prefixes(void)


def local_name(term: URIRef) -> str:
    """A slug for a class or property IRI, for partition IRIs."""
    text = str(term)
    compacted = compact(text)
    if compacted:
        return "-".join(compacted)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def statistics(graph: Graph) -> dict[str, int]:
    """void:triples, entities, classes, properties, distinct subjects and objects."""
    entities = {s for s in graph.subjects(RDF.type, None) if str(s).startswith(RESOURCE_NS)}
    return {
        "triples": len(graph),
        "entities": len(entities),
        "classes": len(set(graph.objects(None, RDF.type))),
        "properties": len(set(graph.predicates())),
        "distinctSubjects": len(set(graph.subjects())),
        "distinctObjects": len(set(graph.objects())),
    }


def class_counts(graph: Graph) -> dict[URIRef, int]:
    """Instances per class."""
    counts: dict[URIRef, int] = {}
    for cls in set(graph.objects(None, RDF.type)):
        counts[cls] = len(set(graph.subjects(RDF.type, cls)))
    return counts


def property_counts(graph: Graph) -> dict[URIRef, int]:
    """Triples per property."""
    counts: dict[URIRef, int] = {}
    for prop in graph.predicates():
        counts[prop] = counts.get(prop, 0) + 1
    return counts


def write_bytes(path: Path, content: bytes) -> Path:
    """Write a file through a temporary name, so a reader never sees half of it."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(content)
    temporary.replace(path)
    return path


def build(files: ProjectFiles) -> BuildResult:
    """Derive shortcuts, check them, write every artefact and checksum, and rebuild the store if inputs changed.

    Raises AutokgError when the data or the shortcuts have SHACL violations: nothing is written then.
    """
    project = load_project(files)
    parts = dataset_parts(project)
    report = validate_graph(parts["data"] + parts["shortcuts"], project)
    if not report.conforms:
        raise AutokgError("The data does not conform; fix it before building:\n" + report.as_text())
    dist = files.dist
    dist.mkdir(parents=True, exist_ok=True)
    quads = canonical_quads(parts)
    merged = sorted({ox.Quad(q.subject, q.predicate, q.object, ox.DefaultGraph()) for qs in quads.values() for q in qs}, key=str)
    written = []
    for part, name in PART_FILES.items():
        part_quads = merged if part == "all" else quads[part]
        for suffix in TRIPLE_FORMATS:
            written.append(write_bytes(dist / f"{name}{suffix}", serialize(part_quads, suffix)))
    all_named = sorted((q for qs in quads.values() for q in qs), key=str)
    nquads = write_bytes(dist / "autokg.nq", serialize(all_named, ".nq"))
    written.append(nquads)
    links = sum(1 for _, o in parts["data"].subject_objects(SKOS.exactMatch) if str(o).startswith(WIKIDATA_ENTITY_NS))
    written.append(write_bytes(dist / "void.ttl", canonical_turtle(void_description(parts, links)).encode()))
    tables = dist / "datapackage"
    tables.mkdir(exist_ok=True)
    for name, content in data_package(project).items():
        written.append(write_bytes(tables / name, content))
    dcat = canonical_turtle(dcat_description(distributions(dist, written))).encode()
    written.append(write_bytes(dist / "dcat.ttl", dcat))
    sums = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(dist).as_posix()}\n"
                   for p in sorted(written, key=lambda p: p.relative_to(dist).as_posix()))
    written.append(write_bytes(dist / "SHA256SUMS", sums.encode()))
    store = current_store(files)
    rebuilt = store is None
    if rebuilt:
        store = write_store(files, nquads)
    triples = {part: len(graph) for part, graph in parts.items()} | {"all": len(merged)}
    return BuildResult(dist=dist, files=written, triples=triples, store=store, store_rebuilt=rebuilt)
