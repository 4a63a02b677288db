"""Reading RDF files: the one place where autokg parses RDF, for the CLI, the server and the tests."""

from __future__ import annotations

import json
import re
import xml.sax
from dataclasses import dataclass
from pathlib import Path

from rdflib import Dataset, Graph
from rdflib.exceptions import ParserError
from rdflib.plugins.parsers.notation3 import BadSyntax

from autokg.config import ProjectFiles
from autokg.errors import UnreadableInputError

#: file suffix -> rdflib parser name
FORMATS_BY_SUFFIX = {
    ".ttl": "turtle",
    ".turtle": "turtle",
    ".nt": "nt",
    ".n3": "n3",
    ".nq": "nquads",
    ".trig": "trig",
    ".rdf": "xml",
    ".owl": "xml",
    ".xml": "xml",
    ".jsonld": "json-ld",
    ".json": "json-ld",
}
QUAD_FORMATS = {"nquads", "trig"}


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


def parse_rdf_file(path: Path | str, graph: Graph | None = None) -> Graph:
    """Parse one RDF file into `graph` (a new Graph if None); quads are merged into the plain graph.

    Raises UnreadableInputError naming the file and the line when the file is missing or malformed.
    """
    path = Path(path)
    fmt = rdf_format(path)
    target = graph if graph is not None else Graph()
    if not path.is_file():
        raise UnreadableInputError("No such file", path=path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise UnreadableInputError(f"Not UTF-8 text ({error.reason} at byte {error.start})", path=path) from None
    try:
        if fmt in QUAD_FORMATS:
            # pyshacl would validate a Dataset as the union of its graphs anyway: make that explicit
            dataset = Dataset()
            dataset.parse(data=text, format=fmt, publicID=path.resolve().as_uri())
            for s, p, o, _ in dataset.quads():
                target.add((s, p, o))
        else:
            target.parse(data=text, format=fmt, publicID=path.resolve().as_uri())
    except Exception as error:  # every parser has its own exception types
        raise UnreadableInputError(parser_message(error), path=path, line=error_line(error, text)) from None
    return target


def error_line(error: Exception, text: str) -> int | None:
    """The 1-based line a parser error points at, where the parser tells."""
    if isinstance(error, BadSyntax):
        return error.lines + 1
    if isinstance(error, xml.sax.SAXParseException):
        return error.getLineNumber()
    if isinstance(error, json.JSONDecodeError):
        return error.lineno
    if isinstance(error, ParserError):
        # N-Triples/N-Quads errors quote the rest of the bad line but not its number
        match = re.search(r"Invalid line(?: \(\d+\))?: (.+)", str(error))
        if match:
            fragment = match.group(1).strip()
            for number, line in enumerate(text.splitlines(), start=1):
                if fragment and fragment in line:
                    return number
    return None


def parser_message(error: Exception) -> str:
    """A one-line version of a parser's message."""
    if isinstance(error, BadSyntax):
        return f"Bad syntax: {error._why}"
    if isinstance(error, xml.sax.SAXParseException):
        return f"Bad RDF/XML: {error.getMessage()}"
    if isinstance(error, json.JSONDecodeError):
        return f"Bad JSON: {error.msg} (column {error.colno})"
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"Bad RDF: {first}"


def load_graph(paths: list[Path]) -> Graph:
    """Parse several files into one graph; raises UnreadableInputError on the first bad file."""
    graph = Graph()
    for path in paths:
        parse_rdf_file(path, graph)
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
        data=load_graph(files.data),
    )
