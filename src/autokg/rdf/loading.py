"""Reading RDF files: the one place where autokg parses RDF, for the CLI, the server and the tests.

Input files may come from people autokg does not trust (a pull request checked in CI), so reading one
touches that file only: no symbolic links, no network, no other file (JSON-LD remote contexts and
XML entities are refused, not fetched), a size limit, and errors that name the file and the line.
"""

from __future__ import annotations

import codecs
import errno
import os
import re
import stat
import unicodedata
import xml.parsers.expat
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

#: file suffix -> rdflib parser name
FORMATS_BY_SUFFIX = {suffix: f.rdflib for suffix, f in sorted(by_suffix().items()) if f.rdflib}
QUAD_FORMATS = {f.rdflib for f in FORMATS if f.quads}
#: formats read by Oxigraph's streaming parsers: strict, with line numbers, never fetching anything. Turtle
#: and TriG stay with rdflib, which keeps prefixes and the case of language tags for `autokg fmt`
OXIGRAPH_FORMATS = {f.rdflib: f.oxigraph for f in (BY_NAME["ntriples"], BY_NAME["nquads"], BY_NAME["jsonld"])}
#: the largest input file read, in bytes (the CLI's --max-file-size changes it)
MAX_INPUT_BYTES = 512 * 1024 * 1024
#: the deepest element nesting read from RDF/XML (rdflib's parser recurses, Oxigraph's slows to a crawl)
MAX_XML_DEPTH = 200
UTF8_BOM = b"\xef\xbb\xbf"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
CHUNK = 1 << 20


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


def open_input(path: Path, max_bytes: int = MAX_INPUT_BYTES) -> BinaryIO:
    """Open a named input file for reading; raises UnreadableInputError for anything but a readable regular file.

    A symbolic link is refused (it could point at a secret or a device), and so is a file over `max_bytes`,
    an empty file and a file that starts with a byte-order mark.
    """
    if path.is_symlink():
        raise UnreadableInputError("Is a symbolic link: autokg reads only regular files named directly", path=path)
    try:
        # O_NOFOLLOW: the link check above cannot race a swap; O_NONBLOCK: a FIFO does not hang us
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise UnreadableInputError("No such file", path=path) from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise UnreadableInputError("Is a symbolic link: autokg reads only regular files named directly", path=path) from None
        raise UnreadableInputError(f"Cannot read the file ({error.strerror})", path=path) from None
    handle = os.fdopen(fd, "rb")
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableInputError("Not a regular file", path=path)
        if info.st_size > max_bytes:
            raise UnreadableInputError(
                f"Too large: {info.st_size:,} bytes, over the limit of {max_bytes:,} (raise it with --max-file-size)", path=path
            )
        if info.st_size == 0:
            raise UnreadableInputError("Empty file: there is nothing to validate", path=path)
        if handle.read(3) == UTF8_BOM:
            raise UnreadableInputError("Starts with a UTF-8 byte-order mark (U+FEFF): save the file as UTF-8 without one", path=path, line=1)
        check_utf8(handle, path)
    except BaseException:
        handle.close()
        raise
    handle.seek(0)
    return handle


def check_utf8(handle: BinaryIO, path: Path) -> None:
    """Read the file through in chunks; raises UnreadableInputError at the first byte that is not UTF-8."""
    handle.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, lines = 0, 1
    while chunk := handle.read(CHUNK):
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as error:
            line = lines + chunk.count(b"\n", 0, max(error.start, 0))
            raise UnreadableInputError(f"Not UTF-8 text ({error.reason} at byte {offset + error.start})", path=path, line=line) from None
        offset += len(chunk)
        lines += chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as error:
        raise UnreadableInputError(f"Not UTF-8 text ({error.reason} at the end)", path=path, line=lines) from None


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
    for triple in graph:
        for term in triple:
            if isinstance(term, URIRef) and BAD_IRI.search(term):
                found = BAD_IRI.search(term)
                bad = "a space" if found.group() == " " else f"'{escape(found.group())}'"
                raise UnreadableInputError(
                    f"Bad IRI: <{escape(term)}> holds {bad}, which an IRI may not (percent-encode it)",
                    path=path, line=line_of(text, str(term)[: found.start()]),
                )
    return graph


#: what an IRI may not hold (RFC 3987): spaces, controls, and <>"{}|^`\
BAD_IRI = re.compile(r'[\x00-\x20<>"{}|^`\\\x7f-\x9f]')
NO_TRIPLES = "No triples: the file holds nothing to validate"


class EmptyInputError(UnreadableInputError):
    """A file that parses but holds no triples: refused when named, passed over among the project's articles."""
#: the deepest nesting of [ ] and ( ) read from Turtle (rdflib's parser recurses about 8 frames a level)
MAX_NESTING = 64
TURTLE_TOKENS = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^\'\\]|\\.|\'(?!\'\'))*\'\'\'|"(?:[^"\\\n]|\\.)*"'
    r"|'(?:[^'\\\n]|\\.)*'|<[^>\s]*>|#[^\n]*|[\[\]()]"
)


def screen_nesting(text: str, path: Path) -> None:
    """Refuse Turtle that nests [ ] or ( ) deeper than MAX_NESTING, naming the line where it does."""
    if text.count("[") + text.count("(") <= MAX_NESTING:
        return
    depth = 0
    for match in TURTLE_TOKENS.finditer(text):
        token = match.group()
        if token in "[(":
            depth += 1
            if depth > MAX_NESTING:
                line = text.count("\n", 0, match.start()) + 1
                raise UnreadableInputError(f"Nested deeper than {MAX_NESTING} levels of [ ] or ( ): flatten the structure", path=path, line=line)
        elif token in "])":
            depth = max(0, depth - 1)


def escape(text: str) -> str:
    """Control and invisible characters as \\u escapes, so that a message cannot rewrite a terminal or a log.

    >>> escape("a\\nb\\u202e")
    'a\\\\u000Ab\\\\u202E'
    """
    return "".join(escaped(c) if unicodedata.category(c) in UNSAFE_CATEGORIES else c for c in text)


def escaped(char: str) -> str:
    """One character as a \\u or \\U escape, as Turtle, SPARQL and Python write them."""
    return f"\\u{ord(char):04X}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08X}"


#: Unicode categories escaped in anything autokg prints: controls, format (bidi) characters, line separators
UNSAFE_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}


def screen_xml(text: str, path: Path) -> None:
    """Refuse XML that declares entities or a DOCTYPE with external parts, or nests deeper than MAX_XML_DEPTH.

    Entities can expand without bound ("billion laughs") or read other files, so none is ever expanded.
    """
    parser = xml.parsers.expat.ParserCreate()
    depth = 0

    def refuse(message: str) -> None:
        raise UnreadableInputError(message, path=path, line=parser.CurrentLineNumber)

    def start(name: str, attributes: dict) -> None:
        nonlocal depth
        depth += 1
        if depth > MAX_XML_DEPTH:
            refuse(f"Nested deeper than {MAX_XML_DEPTH} elements: flatten the RDF/XML")

    def end(name: str) -> None:
        nonlocal depth
        depth -= 1

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.EntityDeclHandler = lambda *args: refuse("Declares an XML entity: autokg never expands entities; write the text or IRI out")
    parser.ExternalEntityRefHandler = lambda *args: refuse("Refers to an external XML entity: autokg never reads one")
    parser.StartDoctypeDeclHandler = lambda name, system_id, public_id, internal: (
        refuse("Has a DOCTYPE that names an external DTD: autokg never reads one") if system_id or public_id else None
    )
    try:
        parser.Parse(text, True)
    except xml.parsers.expat.ExpatError as error:
        raise UnreadableInputError(f"Bad RDF/XML: {xml.parsers.expat.ErrorString(error.code)}", path=path, line=error.lineno) from None


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


def line_of(text: str, needle: str) -> int | None:
    """The 1-based line where `needle` first occurs in `text`."""
    index = text.find(needle)
    return text.count("\n", 0, index) + 1 if index >= 0 else None


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
