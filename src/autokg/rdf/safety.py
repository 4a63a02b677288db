"""The screens between autokg and a hostile input file: what is opened, what is parsed, and what is printed.

Input files may come from people autokg does not trust (a pull request checked in CI). A file is opened only
when it is a regular file named directly (no symbolic link, FIFO or device), within a size limit and in UTF-8;
text for rdflib's recursive parsers is screened for nesting and XML entities first; and every message that
quotes an input has its control and invisible characters escaped.
"""

from __future__ import annotations

import codecs
import errno
import os
import re
import stat
import unicodedata
import xml.parsers.expat
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from rdflib import URIRef

from autokg.errors import UnreadableInputError

#: the largest input file read, in bytes (the CLI's --max-file-size changes it)
MAX_INPUT_BYTES = 512 * 1024 * 1024
#: the deepest element nesting read from RDF/XML (rdflib's parser recurses, Oxigraph's slows to a crawl)
MAX_XML_DEPTH = 200
UTF8_BOM = b"\xef\xbb\xbf"
CHUNK = 1 << 20


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


#: what an IRI may not hold (RFC 3987): spaces, controls, and <>"{}|^`\
BAD_IRI = re.compile(r'[\x00-\x20<>"{}|^`\\\x7f-\x9f]')


def screen_iris(triples: Iterable[tuple], text: str, path: Path) -> None:
    """Refuse IRIs that rdflib's parsers let through but SPARQL does not accept (a space, an escaped newline)."""
    for triple in triples:
        for term in triple:
            found = BAD_IRI.search(term) if isinstance(term, URIRef) else None
            if found:
                bad = "a space" if found.group() == " " else f"'{escape(found.group())}'"
                raise UnreadableInputError(
                    f"Bad IRI: <{escape(term)}> holds {bad}, which an IRI may not (percent-encode it)",
                    path=path, line=line_of(text, str(term)[: found.start()]),
                )


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


def line_of(text: str, needle: str) -> int | None:
    """The 1-based line where `needle` first occurs in `text`."""
    index = text.find(needle)
    return text.count("\n", 0, index) + 1 if index >= 0 else None
