"""Checks a query must pass before the engine sees it: read-only, SERVICE only toward allowed endpoints, and
nested no deeper than the engine's stack allows.

Every check here is linear in the size of the query: a request's text is the attacker's, and these checks run in
the serving process, before any timeout applies. So the tokenizer's patterns never backtrack: each token is read
by possessive quantifiers from its first character, and a name is one run of name characters whether or not it
holds a colon (a lazy search for the colon rescanned the run at every position: quadratic on `a-a-a-...`).
"""

from __future__ import annotations

import re
from functools import lru_cache

from autokg.errors import RefusedQuery
from autokg.rdf.sparql import COMMENT, IRI, LOCAL, NAME, STRICT_STRING, STRING, VAR

#: what check_query reads: the tokens that can hide a keyword or a bracket, the names and the brackets; the rest
#: (numbers, operators, punctuation) is skipped by the regular expression engine, not by a Python loop
CHECKED = re.compile(rf"(?P<string>{STRING})|(?P<iri>{IRI})|(?P<comment>{COMMENT})|(?P<var>{VAR})|(?P<name>{NAME})|(?P<bracket>[(){{}}\[\]])")
#: a single-pattern query is short; a longer text is never one, so the pattern below never reads a long request
SINGLE_PATTERN_MAX_LENGTH = 4096
#: deeper nesting than this is refused with a 400: Oxigraph's parser recurses once per level and overflowed the
#: stack of a query child's thread (8 MiB) between 2,000 and 5,000 levels, killing the child; real queries nest a
#: few levels, a generated one a few dozen
MAX_NESTING = 128
OPENERS = "({["


def single_pattern_grammar() -> re.Pattern[str]:
    """The whole text of a query that is one triple pattern (see is_single_pattern), as one regular expression.

    Its groups: the prologue, the head (SELECT and its variables, or ASK), the three terms and the LIMIT. Every
    repetition is possessive and every term atomic, so a text is read once: white space and comments between
    terms are never handed back (`# ` repeated made the old pattern try every split of it, 8 times longer per pair).
    """
    gap, space = rf"(?:\s|{COMMENT})*+", rf"(?:\s|{COMMENT})++"
    prefix_name = r"(?:[A-Za-z_\u00C0-\uFFFF][\w.\-\u00B7-\uFFFF]*+)?"
    pname = rf"(?:{prefix_name}(?<!\.):{LOCAL})"
    node = rf"(?>{VAR}|{IRI}|(?!_:){pname})"  # not a blank node, which would be a pattern of its own
    literal = rf"(?>{STRICT_STRING})(?>@[A-Za-z]++(?:-[A-Za-z0-9]++)*+|\^\^(?:{IRI}|{pname}))?"
    prologue = rf"(?:(?i:PREFIX){space}{prefix_name}:{gap}{IRI}{gap}|(?i:BASE){space}{IRI}{gap})*+"
    head = rf"(?:(?i:SELECT){gap}(?:\*|(?:{VAR}{gap})++)|(?i:ASK)){gap}(?:(?i:WHERE){gap})?+"
    pattern = rf"\{{{gap}(?P<s>{node}){gap}(?P<p>{node}|a(?![\w:.\-\u00B7-\uFFFF])){gap}(?P<o>{node}|{literal}){gap}\.?+{gap}\}}"
    return re.compile(rf"{gap}(?P<prologue>{prologue})(?P<head>{head}){pattern}{gap}(?:(?i:LIMIT){space}(?P<limit>\d++){gap})?+")


SINGLE_PATTERN = single_pattern_grammar()
UPDATE_KEYWORDS = {"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"}
#: a query none of whose words contain one of these is not tokenized for the keyword checks
WATCHED = ("SERVICE", *UPDATE_KEYWORDS)


def check_query(text: str, allowed_services: tuple[str, ...] = ()) -> None:
    """Refuse updates, SERVICE calls to endpoints that are not on the allow-list, and nesting past MAX_NESTING.

    >>> check_query("SELECT * WHERE { ?s ?p 'DROP ALL' }")
    >>> check_query("DROP ALL")
    Traceback (most recent call last):
    ...
    autokg.errors.RefusedQuery: This endpoint is read-only: DROP is a SPARQL Update operation
    >>> check_query("SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }")
    Traceback (most recent call last):
    ...
    autokg.errors.RefusedQuery: SERVICE <http://127.0.0.1:9/sparql> is not on this endpoint's allow-list (allowed: none)
    >>> check_query("SELECT * WHERE { FILTER(" + "(" * 200 + "1" + ")" * 200 + ") }")
    Traceback (most recent call last):
    ...
    autokg.errors.RefusedQuery: The query nests brackets 129 levels deep at character 150; this endpoint reads at most 128
    """
    if is_single_pattern(text):
        return
    upper = text.upper()
    nested = sum(map(text.count, OPENERS)) > MAX_NESTING
    if not nested and not any(word in upper for word in WATCHED):
        return
    prefixes: dict[str, str] = {}
    depth = 0
    # the tokens after a SERVICE keyword, or after PREFIX, until its endpoint or IRI has been read
    pending: list[tuple[str, str]] = []
    pending_kind = ""
    for match in CHECKED.finditer(text):
        kind = match.lastgroup or ""
        if kind == "comment":
            continue
        value = match.group()
        if kind == "name":
            kind = "pname" if ":" in value else "word"
        elif kind == "bracket":
            kind = "other"
            if value in OPENERS:
                depth += 1
                if depth > MAX_NESTING:
                    raise RefusedQuery(f"The query nests brackets {depth} levels deep at character {match.start()}; "
                                       f"this endpoint reads at most {MAX_NESTING}")
            else:
                depth -= 1
        if pending_kind:
            pending.append((kind, value))
            if pending_kind == "PREFIX" and len(pending) == 2:
                if pending[1][0] == "iri":
                    prefixes[pending[0][1].rstrip(":")] = pending[1][1][1:-1]
                pending_kind = ""
            elif pending_kind == "SERVICE" and not (kind == "word" and value.upper() == "SILENT"):
                check_service(tuple(pending), prefixes, allowed_services)
                pending_kind = ""
            continue
        if kind not in ("word", "pname"):
            continue
        upper = value.upper()
        if upper in UPDATE_KEYWORDS:
            raise RefusedQuery(f"This endpoint is read-only: {upper} is a SPARQL Update operation", status=403)
        if upper in ("PREFIX", "SERVICE"):
            pending, pending_kind = [], upper
        elif upper.startswith("SERVICE"):
            # the engine reads a keyword wherever its letters stand, so `SERVICEe:x` is SERVICE e:x to it
            raise RefusedQuery(f"'{value}': write SERVICE apart from the endpoint that follows it")
    if pending_kind == "SERVICE":
        check_service(tuple(pending), prefixes, allowed_services)


def single_pattern(text: str) -> re.Match[str] | None:
    """The match of a query that is one triple pattern (see is_single_pattern) against its grammar, else None."""
    return None if len(text) > SINGLE_PATTERN_MAX_LENGTH else matched_single_pattern(text)


@lru_cache(maxsize=4)  # asked of each lookup by check_query, by the executor and by limited_to; texts are short
def matched_single_pattern(text: str) -> re.Match[str] | None:
    """SINGLE_PATTERN's full match of a short text, remembered for the last few texts."""
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
