"""Reading RDF files: the one place where autokg parses RDF, for the CLI, the server and the tests.

Input files may come from people autokg does not trust (a pull request checked in CI), so reading one
touches that file only: no symbolic links, no network, no other file (JSON-LD remote contexts and
XML entities are refused, not fetched), a size limit, and errors that name the file and the line.
"""

from __future__ import annotations

import re
import xml.sax
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyoxigraph as ox
from rdflib import BNode, Dataset, Graph, Literal, URIRef
from rdflib.exceptions import ParserError
from rdflib.plugins.parsers.notation3 import BadSyntax

from autokg.config import ProjectFiles
from autokg.errors import UnreadableInputError
from autokg.rdf.formats import BY_NAME, FORMATS, by_suffix
from autokg.rdf.safety import MAX_INPUT_BYTES, escape, line_of, open_input, screen_iris, screen_nesting, screen_xml

#: file suffix -> rdflib parser name
FORMATS_BY_SUFFIX = {suffix: f.rdflib for suffix, f in sorted(by_suffix().items()) if f.rdflib}
QUAD_FORMATS = {f.rdflib for f in FORMATS if f.quads}
#: formats read by Oxigraph's streaming parsers: strict, with line numbers, never fetching anything. Turtle
#: and TriG stay with rdflib, which keeps prefixes and the case of language tags for `autokg fmt`
OXIGRAPH_FORMATS = {f.rdflib: f.oxigraph for f in (BY_NAME["ntriples"], BY_NAME["nquads"], BY_NAME["jsonld"])}
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


def rdf_format(path: Path) -> str:
    """The rdflib parser name for a file, from its suffix.

    >>> rdf_format(Path("data/entities.ttl"))
    'turtle'
    >>> rdf_format(Path("notes.txt"))
    Traceback (most recent call last):
    ...
    autokg.errors.UnreadableInputError: notes.txt: Unknown RDF file type '.txt': use one of .jsonld, .n3, .nq, .nt, .owl, .rdf, .trig, .ttl, .xml
    """
    suffix = path.suffix.lower()
    if suffix not in FORMATS_BY_SUFFIX:
        known = ", ".join(sorted(s for s in FORMATS_BY_SUFFIX if s not in (".json", ".turtle")))
        raise UnreadableInputError(f"Unknown RDF file type '{suffix}': use one of {known}", path=path)
    return FORMATS_BY_SUFFIX[suffix]


def read_quads(path: Path | str, max_bytes: int = MAX_INPUT_BYTES) -> Iterator[ox.Quad]:
    """The triples of one RDF file as Oxigraph quads in the default graph, streamed where the format allows.

    Raises UnreadableInputError naming the file and the line when the file is refused, missing or malformed,
    or holds no triples at all.
    """
    path = Path(path)
    fmt = rdf_format(path)
    with open_input(path, max_bytes) as handle:
        if fmt in OXIGRAPH_FORMATS:
            yield from oxigraph_quads(handle, path, fmt)
            return
        graph = rdflib_graph(handle, path, fmt)
    default = ox.DefaultGraph()
    for s, p, o in graph:
        yield ox.Quad(to_oxigraph(s), to_oxigraph(p), to_oxigraph(o), default)


def oxigraph_quads(handle: BinaryIO, path: Path, fmt: str) -> Iterator[ox.Quad]:
    """Quads from one of Oxigraph's parsers, their errors turned into UnreadableInputError."""
    default = ox.DefaultGraph()
    count = 0
    try:
        for quad in ox.parse(input=handle, format=OXIGRAPH_FORMATS[fmt], base_iri=path.resolve().as_uri()):
            if isinstance(quad.subject, ox.Triple) or isinstance(quad.object, ox.Triple):
                raise UnreadableInputError("RDF 1.2 triple terms are not supported: write the statement as a node", path=path)
            count += 1
            # pyshacl would validate a Dataset as the union of its graphs anyway: make that explicit
            yield quad if isinstance(quad.graph_name, ox.DefaultGraph) else ox.Quad(quad.subject, quad.predicate, quad.object, default)
    except SyntaxError as error:
        raise UnreadableInputError(escape(oxigraph_message(error.msg)), path=path, line=error.lineno) from None
    if count == 0:
        raise EmptyInputError(NO_TRIPLES, path=path)


def oxigraph_message(message: str) -> str:
    """An Oxigraph parser message in autokg's words: the position goes to the line number, remote contexts are named.

    >>> oxigraph_message("Parser error at line 3 column 9: . is not a valid RDF object")
    'Bad syntax at column 9: . is not a valid RDF object'
    >>> oxigraph_message("No LoadDocumentCallback has been set to load remote contexts")
    'Bad JSON-LD: a remote @context or @import (a URL or a file) is never fetched: write the context inline'
    """
    if "LoadDocumentCallback" in message or "remote context" in message:
        return "Bad JSON-LD: a remote @context or @import (a URL or a file) is never fetched: write the context inline"
    head, sep, why = message.partition(": ")
    if not sep or not head.startswith("Parser error"):
        return f"Bad syntax: {message}"
    if why.startswith("Invalid UTF-8"):
        return "Not UTF-8 text"
    column = head.rsplit("column", 1)[-1].split()[0] if "column" in head else ""
    return f"Bad syntax at column {column}: {why}" if column.isdigit() else f"Bad syntax: {why}"


def rdflib_graph(handle: BinaryIO, path: Path, fmt: str) -> Graph:
    """A graph from rdflib's parsers (Turtle, TriG, N3, RDF/XML), which keep prefixes and language tags as written.

    The text is screened first for what would make them recurse without end or expand entities, and every
    term parsed is checked to be one that Oxigraph (and so SPARQL) accepts.
    """
    text = handle.read().decode("utf-8")
    if fmt == "xml":
        screen_xml(text, path)
    else:
        screen_nesting(text, path)
    publicID = path.resolve().as_uri()
    try:
        if fmt in QUAD_FORMATS:
            dataset = Dataset()
            dataset.parse(data=text, format=fmt, publicID=publicID)
            graph = Graph()
            for prefix, namespace in dataset.namespaces():
                graph.bind(prefix, namespace, override=True)
            graph.addN((s, p, o, graph) for s, p, o, _ in dataset.quads())
        else:
            graph = Graph()
            graph.parse(data=text, format=fmt, publicID=publicID)
    except Exception as error:  # every parser has its own exception types
        raise UnreadableInputError(escape(parser_message(error)), path=path, line=error_line(error, text)) from None
    if len(graph) == 0:
        raise EmptyInputError(NO_TRIPLES, path=path)
    screen_iris(graph, text, path)
    return graph


NO_TRIPLES = "No triples: the file holds nothing to validate"


class EmptyInputError(UnreadableInputError):
    """A file that parses but holds no triples: refused when named, passed over among the project's articles."""


def to_oxigraph(term: object) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    """An rdflib term as an Oxigraph term; raises ValueError for an IRI that is not one."""
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        return ox.Literal(str(term), datatype=ox.NamedNode(term.datatype) if term.datatype else None)
    raise ValueError(f"unexpected term {term!r}")


def to_rdflib(term: ox.NamedNode | ox.BlankNode | ox.Literal) -> URIRef | BNode | Literal:
    """An Oxigraph term as an rdflib term; a plain string stays without datatype, as rdflib's parsers make it."""
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if term.language:
        return Literal(term.value, lang=term.language)
    datatype = term.datatype.value
    return Literal(term.value) if datatype == XSD_STRING else Literal(term.value, datatype=URIRef(datatype))


def error_line(error: Exception, text: str) -> int | None:
    """The 1-based line an rdflib parser error points at, where the parser tells."""
    if isinstance(error, BadSyntax):
        return error.lines + 1
    if isinstance(error, xml.sax.SAXParseException):
        return error.getLineNumber()
    if isinstance(error, ParserError):
        # N-Triples-like errors quote the rest of the bad line but not its number
        match = re.search(r"Invalid line(?: \(\d+\))?: (.+)", str(error))
        if match:
            return line_of(text, match.group(1).strip())
    return None


def parser_message(error: Exception) -> str:
    """A one-line version of an rdflib parser's message."""
    if isinstance(error, BadSyntax):
        return f"Bad syntax: {error._why}"
    if isinstance(error, xml.sax.SAXParseException):
        return f"Bad RDF/XML: {error.getMessage()}"
    if isinstance(error, RecursionError):
        return "Nested too deeply for the parser: flatten the file"
    if isinstance(error, ParserError):
        return f"Bad RDF: {str(error).strip().splitlines()[0]}"
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"Bad RDF: {first}"


def parse_rdf_file(path: Path | str, graph: Graph | None = None, max_bytes: int = MAX_INPUT_BYTES) -> Graph:
    """Parse one RDF file into `graph` (a new Graph if None); quads are merged into the plain graph.

    Raises UnreadableInputError naming the file and the line when the file is refused, missing or malformed.
    """
    path = Path(path)
    fmt = rdf_format(path)
    target = graph if graph is not None else Graph()
    if fmt in OXIGRAPH_FORMATS:
        target.addN((to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object), target) for q in read_quads(path, max_bytes))
        return target
    with open_input(path, max_bytes) as handle:
        part = rdflib_graph(handle, path, fmt)
    if graph is None:
        return part
    for prefix, namespace in part.namespaces():
        target.bind(prefix, namespace, override=False)
    target.addN((s, p, o, target) for s, p, o in part)
    return target


def load_graph(paths: list[Path], max_bytes: int = MAX_INPUT_BYTES, allow_empty: bool = False) -> Graph:
    """Parse several files into one graph; raises UnreadableInputError on the first bad file (an empty one too,
    unless `allow_empty`)."""
    graph = Graph()
    for path in paths:
        try:
            parse_rdf_file(path, graph, max_bytes)
        except EmptyInputError:
            if not allow_empty:
                raise
    return graph


@dataclass
class Project:
    """The dataset's parts, each as its own graph."""

    files: ProjectFiles
    ontology: Graph
    vocabularies: Graph
    alignment: Graph
    shapes: Graph
    data: Graph

    def everything(self) -> Graph:
        """Ontology, vocabularies and data in one new graph."""
        merged = Graph()
        for part in (self.ontology, self.vocabularies, self.data):
            for triple in part:
                merged.add(triple)
        return merged


def load_project(files: ProjectFiles) -> Project:
    """Load the ontology, vocabularies, shapes and data of the project."""
    return Project(
        files=files,
        ontology=load_graph(files.ontology),
        vocabularies=load_graph(files.vocabularies),
        alignment=load_graph(files.alignment),
        shapes=load_graph(files.shapes),
        # an article file holds no fact between `autokg add-article` and its first one
        data=load_graph(files.data, allow_empty=True),
    )
