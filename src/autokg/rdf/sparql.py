"""Reading SPARQL text: one linear lexer, and the form of a query."""

from __future__ import annotations

import re
from collections.abc import Iterator

#: an unterminated string runs to the end of its line (or, when long, of the text): the engine refuses it anyway,
#: and reading it whole keeps the scan from starting again inside it
STRING = r"""'''(?:[^'\\]|\\.|'(?!''))*+(?:'''|\Z)|\"\"\"(?:[^"\\]|\\.|"(?!""))*+(?:\"\"\"|\Z)|'(?:[^'\\\n\r]|\\.)*+'?|"(?:[^"\\\n\r]|\\.)*+"?"""
#: the same, terminated: what a literal of a single-pattern query is
STRICT_STRING = r"""'''(?:[^'\\]|\\.|'(?!''))*+'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*+\"\"\"|'(?:[^'\\\n\r]|\\.)*+'|"(?:[^"\\\n\r]|\\.)*+\""""
IRI = r"""<[^<>"{}|^`\\\x00-\x20]*+>"""
COMMENT = r"\#[^\n]*+"
VAR = r"[?$][A-Za-z0-9_\u00B7-\uFFFF]++"
#: a local name's characters: PN_CHARS, `:`, `%`, and the escapes of PN_LOCAL_ESC, which include a quote, `#` and
#: brackets: read as anything else, `ex:a\'` would start a string that hides what follows from the checks
LOCAL = r"(?:[\w.\-:%\u00B7-\uFFFF]|\\[_~.\-!$&'()*+,;=/?#@%])*+"
#: a prefixed name or a bare word, told apart by the colon
NAME = rf"[A-Za-z_\u00C0-\uFFFF][\w.\-\u00B7-\uFFFF]*+(?::{LOCAL})?|:{LOCAL}"
NUMBER = r"[0-9]++"
#: strings, IRIs and comments are skipped so that a keyword inside them is never taken for one
TOKEN = re.compile(rf"(?P<string>{STRING})|(?P<iri>{IRI})|(?P<comment>{COMMENT})|(?P<var>{VAR})|(?P<name>{NAME})|(?P<number>{NUMBER})|(?P<other>\S)")
QUERY_FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")


def scan(text: str) -> Iterator[tuple[str, str, int]]:
    """(kind, text, offset) tokens of a SPARQL string, without comments: string, iri, var, pname, word, number or other."""
    for match in TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        if kind == "comment":
            continue
        value = match.group()
        if kind == "name":
            kind = "pname" if ":" in value else "word"
        yield kind, value, match.start()


def tokens(text: str) -> Iterator[tuple[str, str]]:
    """(kind, text) tokens of a SPARQL string, without comments (see scan).

    >>> list(tokens("SELECT ?s { ?s a-b:c 'x' } # DROP"))
    [('word', 'SELECT'), ('var', '?s'), ('other', '{'), ('var', '?s'), ('pname', 'a-b:c'), ('string', "'x'"), ('other', '}')]
    """
    return ((kind, value) for kind, value, _offset in scan(text))


def query_form(text: str) -> str:
    """SELECT, ASK, CONSTRUCT or DESCRIBE: the first query-form keyword outside strings, IRIs and comments.

    >>> query_form("PREFIX s: <http://ex/SELECT> # ASK\\nCONSTRUCT { ?s ?p 'SELECT' } WHERE { ?s ?p ?o }")
    'CONSTRUCT'
    """
    for kind, value in tokens(text):
        if kind == "word" and value.upper() in QUERY_FORMS:
            return value.upper()
    return "SELECT"
