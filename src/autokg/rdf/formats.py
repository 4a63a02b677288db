"""The one table of RDF and SPARQL results formats: names, media types, file suffixes and each library's name.

Every other format table of the package (content negotiation, `format=` names, the CLI's output names, the
files a build writes and reads) is derived from FORMATS here.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyoxigraph as ox

W3C_FORMATS = "http://www.w3.org/ns/formats/"
#: media types that several formats claim, as clients send them loosely: they rank below every specific type, in
#: this order, so that a tie between them goes the way it always went
GENERIC_TYPES = ("text/plain", "application/json", "application/xml")


@dataclass(frozen=True)
class Format:
    """One syntax: `kind` is "results" (SELECT and ASK answers) or "graph" (RDF)."""

    name: str
    kind: str
    media_type: str
    #: further media types answered with this one (its canonical `media_type`)
    aliases: tuple[str, ...] = ()
    #: further short names, as `format=` and clients give them
    names: tuple[str, ...] = ()
    #: file suffixes, the first the one written
    suffixes: tuple[str, ...] = ()
    rdflib: str | None = None
    oxigraph: ox.RdfFormat | ox.QueryResultsFormat | None = None
    #: the W3C format IRI (sd:resultFormat)
    iri: str | None = None
    #: whether the syntax abbreviates IRIs with the project's prefixes
    prefixed: bool = False
    #: whether the syntax holds named graphs
    quads: bool = False
    #: whether answers are offered in it (others are read only)
    offered: bool = True


FORMATS = (
    Format("json", "results", "application/sparql-results+json", ("application/json",),
           oxigraph=ox.QueryResultsFormat.JSON, iri=W3C_FORMATS + "SPARQL_Results_JSON"),
    Format("xml", "results", "application/sparql-results+xml", ("application/xml",),
           oxigraph=ox.QueryResultsFormat.XML, iri=W3C_FORMATS + "SPARQL_Results_XML"),
    Format("csv", "results", "text/csv", oxigraph=ox.QueryResultsFormat.CSV, iri=W3C_FORMATS + "SPARQL_Results_CSV"),
    Format("tsv", "results", "text/tab-separated-values", oxigraph=ox.QueryResultsFormat.TSV,
           iri=W3C_FORMATS + "SPARQL_Results_TSV"),
    # N3 is a superset of Turtle, so a Turtle answer is N3 too
    Format("turtle", "graph", "text/turtle", ("application/x-turtle", "application/turtle", "text/n3", "text/rdf+n3", "application/n3"),
           ("ttl", "n3"), (".ttl", ".turtle"), "turtle", ox.RdfFormat.TURTLE, W3C_FORMATS + "Turtle", prefixed=True),
    Format("ntriples", "graph", "application/n-triples", ("text/plain",), ("nt",), (".nt",), "nt", ox.RdfFormat.N_TRIPLES,
           W3C_FORMATS + "N-Triples"),
    Format("rdfxml", "graph", "application/rdf+xml", ("application/xml",), ("rdf+xml", "rdf", "xml"), (".rdf", ".owl", ".xml"),
           "xml", ox.RdfFormat.RDF_XML, W3C_FORMATS + "RDF_XML", prefixed=True),
    Format("jsonld", "graph", "application/ld+json", ("application/x-json+ld", "application/json"), ("json-ld", "json"),
           (".jsonld", ".json"), "json-ld", ox.RdfFormat.JSON_LD, W3C_FORMATS + "JSON-LD", prefixed=True),
    Format("nquads", "graph", "application/n-quads", suffixes=(".nq",), rdflib="nquads", oxigraph=ox.RdfFormat.N_QUADS,
           iri=W3C_FORMATS + "N-Quads", quads=True),
    Format("trig", "graph", "application/trig", suffixes=(".trig",), rdflib="trig", oxigraph=ox.RdfFormat.TRIG,
           iri=W3C_FORMATS + "TriG", prefixed=True, quads=True, offered=False),
    Format("notation3", "graph", "text/n3", suffixes=(".n3",), rdflib="n3", oxigraph=ox.RdfFormat.N3,
           iri=W3C_FORMATS + "N3", offered=False),
)
BY_NAME = {f.name: f for f in FORMATS}
BY_MEDIA_TYPE = {f.media_type: f for f in FORMATS if f.offered}


def offered_types(kind: str) -> dict[str, str]:
    """Offered media type -> the canonical type served, for one kind: canonical types first (the first is the
    default), then the aliases, the generic ones last.

    >>> list(offered_types("results"))
    ['application/sparql-results+json', 'application/sparql-results+xml', 'text/csv', 'text/tab-separated-values', 'application/json', 'application/xml']
    """
    chosen = [f for f in FORMATS if f.kind == kind and f.offered]
    table = {f.media_type: f.media_type for f in chosen}
    table |= {alias: f.media_type for f in chosen for alias in f.aliases if alias not in GENERIC_TYPES}
    generic = {alias: f.media_type for f in chosen for alias in f.aliases if alias in GENERIC_TYPES}
    return table | {alias: generic[alias] for alias in GENERIC_TYPES if alias in generic}


def format_names() -> dict[str, tuple[str | None, str | None]]:
    """Short name -> (results media type, graph media type) it names, for `format=` and its kin.

    >>> format_names()["json"], format_names()["ttl"]
    (('application/sparql-results+json', 'application/ld+json'), (None, 'text/turtle'))
    """
    table: dict[str, tuple[str | None, str | None]] = {}
    for f in FORMATS:
        if not f.offered:
            continue
        for name in (f.name, *f.names):
            results, graph = table.get(name, (None, None))
            table[name] = (f.media_type, graph) if f.kind == "results" else (results, f.media_type)
    return table


def names_of(kind: str) -> tuple[str, ...]:
    """The names of the offered formats of one kind, in the table's order."""
    return tuple(f.name for f in FORMATS if f.kind == kind and f.offered)


def by_suffix() -> dict[str, Format]:
    """File suffix -> the format of files that end with it."""
    return {suffix: f for f in FORMATS for suffix in f.suffixes}


def oxigraph_formats(kind: str) -> dict[str, ox.RdfFormat | ox.QueryResultsFormat]:
    """Canonical media type -> Oxigraph's format, for the offered formats of one kind."""
    return {f.media_type: f.oxigraph for f in FORMATS if f.kind == kind and f.offered and f.oxigraph is not None}
