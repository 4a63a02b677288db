"""Checks a query must pass before the engine sees it: read-only, and SERVICE only toward allowed endpoints."""

from __future__ import annotations

import re
from functools import lru_cache

from autokg.errors import AutokgError

STRING = r"""'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*\""""
IRI = r"""<[^<>"{}|^`\\\x00-\x20]*>"""
COMMENT = r"\#[^\n]*"
VAR = r"[?$][A-Za-z0-9_\u00B7-\uFFFF]+"
PNAME = r"[A-Za-z_\u00C0-\uFFFF][\w.\-\u00B7-\uFFFF]*?:[\w.\-:%\\\u00B7-\uFFFF]*|:[\w.\-:%\\\u00B7-\uFFFF]*"
WORD = r"[A-Za-z_][A-Za-z0-9_]*"
#: strings, IRIs and comments are skipped so that a keyword inside them is never taken for one
TOKEN = re.compile(rf"(?P<string>{STRING})|(?P<iri>{IRI})|(?P<comment>{COMMENT})|(?P<var>{VAR})|(?P<pname>{PNAME})|(?P<word>{WORD})|(?P<other>\S)")


def single_pattern_grammar() -> re.Pattern[str]:
    """The whole text of a query that is one triple pattern (see is_single_pattern), as one regular expression.

    Its groups: the prologue, the head (SELECT and its variables, or ASK), the three terms and the LIMIT.
    """
    gap, space = rf"(?:\s|{COMMENT})*", rf"(?:\s|{COMMENT})+"
    # atomic groups: a term is read whole, as the tokenizer reads it, never backtracked into two
    node = rf"(?>{VAR}|{IRI}|(?!_:)(?:{PNAME}))"  # not a blank node, which would be a pattern of its own
    literal = rf"(?>{STRING})(?>@{WORD}(?:-{WORD})*|\^\^(?:{IRI}|{PNAME}))?"
    prologue = rf"(?:(?i:PREFIX){space}(?:[A-Za-z_\u00C0-\uFFFF][\w.\-\u00B7-\uFFFF]*)?:{gap}{IRI}{gap}|(?i:BASE){space}{IRI}{gap})*"
    head = rf"(?:(?i:SELECT){gap}(?:\*|(?:(?>{VAR}){gap})+)|(?i:ASK)){gap}(?:(?i:WHERE){gap})?"
    pattern = rf"\{{{gap}(?P<s>{node}){gap}(?P<p>{node}|a(?![\w:.\-\u00B7-\uFFFF])){gap}(?P<o>{node}|{literal}){gap}\.?{gap}\}}"
    return re.compile(rf"{gap}(?P<prologue>{prologue})(?P<head>{head}){pattern}{gap}(?:(?i:LIMIT){space}(?P<limit>\d+){gap})?")


SINGLE_PATTERN = single_pattern_grammar()
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

    Remembered for the last few texts: a request's query is read by check_query, then, for a backend store,
    by query_form in the same process.
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
    if is_single_pattern(text):
        return
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


@lru_cache(maxsize=4)  # asked of each query by check_query, by the executor and by limited_to
def single_pattern(text: str) -> re.Match[str] | None:
    """The match of a query that is one triple pattern (see is_single_pattern) against its grammar, else None."""
    return SINGLE_PATTERN.fullmatch(text)


def is_single_pattern(text: str) -> bool:
    """Whether a query is one triple pattern read in index order: SELECT (variables or *) or ASK, an optional
    LIMIT, and nothing else (no DISTINCT, FILTER, path, OFFSET, ORDER BY, GRAPH, FROM or second pattern).

    Such a query streams from one index scan, so the row and byte caps bound its work; anything this does not
    recognize is simply not single-pattern. Nor has it room for an update or a SERVICE, so check_query passes
    it at once. A regular expression rather than a walk over tokens, because every lookup comes through here.

    >>> is_single_pattern("PREFIX akr: <https://w3id.org/autokg/id/> SELECT ?p ?o WHERE { akr:ford ?p ?o . } LIMIT 10")
    True
    >>> is_single_pattern('ASK { ?s <http://www.w3.org/2000/01/rdf-schema#label> "Ford"@en-GB }')
    True
    >>> is_single_pattern("SELECT DISTINCT ?p WHERE { ?s ?p ?o }")
    False
    >>> is_single_pattern("SELECT * WHERE { ?s a/<http://ex/p>* ?o }")
    False
    """
    return single_pattern(text) is not None


def limited_to(text: str, rows: int) -> str:
    """A single-pattern query whose LIMIT is at most `rows`: its own when that is lower, else `rows`.

    Raises ValueError when the query is not single-pattern. The LIMIT goes on a line of its own, so that a
    comment at the end of the query cannot swallow it.

    >>> limited_to("SELECT * { ?s ?p ?o } # all", 11)
    'SELECT * { ?s ?p ?o } # all\\nLIMIT 11'
    >>> limited_to("SELECT * { ?s ?p ?o } LIMIT 500", 11)
    'SELECT * { ?s ?p ?o } LIMIT 11'
    >>> limited_to("SELECT * { ?s ?p ?o } limit 5", 11)
    'SELECT * { ?s ?p ?o } limit 5'
    """
    match = single_pattern(text)
    if match is None:
        raise ValueError("not a single-pattern query")
    if match["limit"] is None:
        return f"{text}\nLIMIT {rows}"
    if int(match["limit"]) <= rows:
        return text
    return text[:match.start("limit")] + str(rows) + text[match.end("limit"):]


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
