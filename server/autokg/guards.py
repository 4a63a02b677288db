"""Checks a query must pass before the engine sees it: read-only, and SERVICE only toward allowed endpoints."""

from __future__ import annotations

import re
from functools import lru_cache

from autokg.errors import AutokgError

#: strings, IRIs and comments are skipped so that a keyword inside them is never taken for one
TOKEN = re.compile(
    r"""
      (?P<string>'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
    | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
    | (?P<comment>\#[^\n]*)
    | (?P<var>[?$][A-Za-z0-9_\u00B7-\uFFFF]+)
    | (?P<pname>[A-Za-z_\u00C0-\uFFFF][\w.\-\u00B7-\uFFFF]*?:[\w.\-:%\\\u00B7-\uFFFF]*|:[\w.\-:%\\\u00B7-\uFFFF]*)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<other>\S)
    """,
    re.VERBOSE,
)
QUERY_FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")
UPDATE_KEYWORDS = {"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"}


class RefusedQuery(AutokgError):
    """A query that the endpoint will not run, with the reason and the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@lru_cache(maxsize=4)
def tokens(text: str) -> tuple[tuple[str, str], ...]:
    """(kind, text) tokens of a SPARQL string, without comments.

    Remembered for the last few texts: a request's query is read by check_query, then by is_single_pattern
    (and query_form for a backend store) in the same process.
    """
    return tuple((match.lastgroup or "other", match.group()) for match in TOKEN.finditer(text) if match.lastgroup != "comment")


def query_form(text: str) -> str:
    """SELECT, ASK, CONSTRUCT or DESCRIBE: the first query-form keyword outside strings, IRIs and comments.

    >>> query_form("PREFIX s: <http://ex/SELECT> # ASK\\nCONSTRUCT { ?s ?p 'SELECT' } WHERE { ?s ?p ?o }")
    'CONSTRUCT'
    """
    for kind, value in tokens(text):
        if kind == "word" and value.upper() in QUERY_FORMS:
            return value.upper()
    return "SELECT"


def check_query(text: str, allowed_services: tuple[str, ...] = ()) -> None:
    """Refuse updates and SERVICE calls to endpoints that are not on the allow-list.

    >>> check_query("SELECT * WHERE { ?s ?p 'DROP ALL' }")
    >>> check_query("DROP ALL")
    Traceback (most recent call last):
    ...
    autokg.guards.RefusedQuery: This endpoint is read-only: DROP is a SPARQL Update operation
    >>> check_query("SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }")
    Traceback (most recent call last):
    ...
    autokg.guards.RefusedQuery: SERVICE <http://127.0.0.1:9/sparql> is not on this endpoint's allow-list (allowed: none)
    """
    items = tokens(text)
    prefixes: dict[str, str] = {}
    for index, (kind, value) in enumerate(items):
        upper = value.upper() if kind == "word" else ""
        if upper == "PREFIX" and index + 2 < len(items) and items[index + 2][0] == "iri":
            prefixes[items[index + 1][1].rstrip(":")] = items[index + 2][1][1:-1]
        if upper in UPDATE_KEYWORDS:
            raise RefusedQuery(f"This endpoint is read-only: {upper} is a SPARQL Update operation", status=403)
        if upper == "SERVICE":
            check_service(items[index + 1:], prefixes, allowed_services)


def is_single_pattern(text: str) -> bool:
    """Whether a query is one triple pattern read in index order: SELECT (variables or *) or ASK, an optional
    LIMIT, and nothing else (no DISTINCT, FILTER, path, OFFSET, ORDER BY, GRAPH, FROM or second pattern).

    Such a query streams from one index scan, so the row and byte caps bound its work; anything this does not
    recognize is simply not single-pattern. Numbers and other punctuation are one character per token here.

    >>> is_single_pattern("PREFIX akr: <https://w3id.org/autokg/id/> SELECT ?p ?o WHERE { akr:ford ?p ?o . } LIMIT 10")
    True
    >>> is_single_pattern('ASK { ?s <http://www.w3.org/2000/01/rdf-schema#label> "Ford"@en-GB }')
    True
    >>> is_single_pattern("SELECT DISTINCT ?p WHERE { ?s ?p ?o }")
    False
    >>> is_single_pattern("SELECT * WHERE { ?s a/<http://ex/p>* ?o }")
    False
    """
    items = tokens(text)
    position = 0

    def peek(offset: int = 0) -> tuple[str, str]:
        return items[position + offset] if position + offset < len(items) else ("end", "")

    def word(value: str) -> bool:
        kind, found = peek()
        return kind == "word" and found.upper() == value

    while word("PREFIX") or word("BASE"):
        position += 3 if word("PREFIX") else 2
        if peek(-1)[0] != "iri":
            return False
    if word("SELECT"):
        position += 1
        if peek() == ("other", "*"):
            position += 1
        else:
            start = position
            while peek()[0] == "var":
                position += 1
            if position == start:
                return False
    elif word("ASK"):
        position += 1
    else:
        return False
    if word("WHERE"):
        position += 1
    if peek() != ("other", "{"):
        return False
    position += 1
    for place in ("subject", "predicate", "object"):
        kind, value = peek()
        if kind in ("var", "iri") or (kind == "pname" and not value.startswith("_:")) or (place == "predicate" and value == "a"):
            position += 1
        elif place == "object" and kind == "string":
            position += 1
            if peek() == ("other", "@"):
                position += 2
                while peek() == ("other", "-") and peek(1)[0] == "word":
                    position += 2
            elif peek() == ("other", "^") and peek(1) == ("other", "^") and peek(2)[0] in ("iri", "pname"):
                position += 3
        else:
            return False
    if peek() == ("other", "."):
        position += 1
    if peek() != ("other", "}"):
        return False
    position += 1
    if word("LIMIT"):
        position += 1
        while peek()[0] == "other" and peek()[1].isdigit():
            position += 1
    return position == len(items)


def check_service(rest: tuple[tuple[str, str], ...], prefixes: dict[str, str], allowed: tuple[str, ...]) -> None:
    """Check the endpoint named after a SERVICE keyword."""
    if rest and rest[0][0] == "word" and rest[0][1].upper() == "SILENT":
        rest = rest[1:]
    if not rest:
        raise RefusedQuery("SERVICE without an endpoint")
    kind, value = rest[0]
    if kind == "var":
        raise RefusedQuery(f"SERVICE {value}: a variable endpoint is refused; name an allowed endpoint IRI")
    if kind == "iri":
        target = value[1:-1]
    elif kind == "pname" and value.split(":", 1)[0] in prefixes:
        prefix, local = value.split(":", 1)
        target = prefixes[prefix] + local
    else:
        raise RefusedQuery(f"SERVICE {value}: cannot tell which endpoint this is")
    if target not in allowed:
        listed = ", ".join(allowed) or "none"
        raise RefusedQuery(f"SERVICE <{target}> is not on this endpoint's allow-list (allowed: {listed})")
