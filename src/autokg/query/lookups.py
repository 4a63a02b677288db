"""Single-pattern lookups answered straight from the store's quad index, in SPARQL JSON results.

`Store.query` spends about 20 µs on any query before it reads the store (parsing, and building an evaluator
that computes NOW() and a table of functions), and its JSON writer as much again on a lookup's dozen rows: more
than a lookup's whole Python request path. A query that is one triple pattern over the union of the graphs,
written in the plain subset of SPARQL below, is read here instead, and its rows come from `quads_for_pattern`,
the index scan the engine itself would run. The answer is the one `Store.query` gives, byte for byte, rows in
the same order (tests/query/test_lookups.py compares the two).

The subset: SELECT with its variables or `*` (or ASK), the pattern's terms as variables, absolute IRIs,
prefixed names with ASCII local names, `a`, or plain string literals without escapes, and an optional LIMIT.
Anything else (BASE, escapes, a language tag or datatype, a variable used twice, a term the JSON below does not
write) is left to `Store.query`: `parse_lookup` and `answer_lookup` return None.
"""

from __future__ import annotations

import itertools
import json
import operator
import re
from collections.abc import Callable
from typing import NamedTuple

import pyoxigraph as ox

from autokg.query.guards import single_pattern
from autokg.rdf.sparql import VAR, tokens

RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
#: the prefixed names read here: ASCII, no escapes, not ending in a dot (which would end the pattern)
PLAIN_NAME = re.compile(r"((?:[A-Za-z](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_\-])?)?):([A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_\-])?)?")
#: a variable name read here (SPARQL's own rules, for names outside ASCII, are left to Oxigraph)
PLAIN_VARIABLE = re.compile(r"[A-Za-z0-9_]+")
#: a variable in the head of a SELECT
HEAD_VARIABLE = re.compile(VAR)
#: a string literal read here: one line, no language tag or datatype (parse_lookup refuses any escape)
PLAIN_STRING = re.compile(r"'([^'\n\r]*)'|\"([^\"\n\r]*)\"")
#: a JSON string as Oxigraph writes it: non-ASCII characters as they are, quotes, backslashes and control
#: characters escaped
QUOTE: Callable[[str], str] = json.encoder.encode_basestring  # type: ignore[attr-defined]
#: a quad's subject, predicate and object
ATTRIBUTES = (operator.attrgetter("subject"), operator.attrgetter("predicate"), operator.attrgetter("object"))

Term = ox.NamedNode | ox.Literal


class Lookup(NamedTuple):
    """A single-pattern query read for `answer_lookup`: a pattern position is a term, or a variable's name."""

    ask: bool
    variables: tuple[str, ...]  # projected, in the answer's order (none for ASK)
    pattern: tuple[Term | str, Term | str, Term | str]
    limit: int | None


def parse_lookup(text: str) -> Lookup | None:
    """The lookup that a query is, or None when it is not single-pattern or not in the subset read here.

    >>> parse_lookup("PREFIX akr: <https://w3id.org/autokg/id/> SELECT ?p ?o WHERE { akr:ford ?p ?o } LIMIT 5")
    Lookup(ask=False, variables=('p', 'o'), pattern=(<NamedNode value=https://w3id.org/autokg/id/ford>, 'p', 'o'), limit=5)
    >>> parse_lookup("SELECT * { ?s a ?type }").variables  # `*`: the pattern's variables, sorted, as Oxigraph has them
    ('s', 'type')
    >>> parse_lookup('ASK { ?s <http://www.w3.org/2000/01/rdf-schema#label> "Ford"@en }') is None  # a language tag
    True
    """
    if "\\" in text:  # SPARQL reads \u escapes before anything else, even in comments
        return None
    match = single_pattern(text)
    if match is None:
        return None
    prefixes = declared_prefixes(match["prologue"])
    if prefixes is None:
        return None
    terms = [read_term(match[group], prefixes) for group in ("s", "p", "o")]
    if any(term is None for term in terms):
        return None
    pattern_variables = [term for term in terms if isinstance(term, str)]
    if len(set(pattern_variables)) != len(pattern_variables):
        return None  # a variable used twice constrains the rows, which quads_for_pattern does not
    head = match["head"]
    if "#" in head:  # a comment, which may name a variable (tokenizing every head cost a lookup 2.5 us)
        head = " ".join(value for _kind, value in tokens(head))
    ask = head[:3].upper() == "ASK"
    if ask:
        variables: tuple[str, ...] = ()
    elif "*" in head:
        variables = tuple(sorted(pattern_variables))
    else:
        variables = tuple(variable[1:] for variable in HEAD_VARIABLE.findall(head))
        if len(set(variables)) != len(variables):
            return None  # Oxigraph refuses it, and says why
    if not all(PLAIN_VARIABLE.fullmatch(name) for name in (*pattern_variables, *variables)):
        return None
    limit = int(match["limit"]) if match["limit"] is not None else None
    return Lookup(ask, variables, (terms[0], terms[1], terms[2]), limit)  # type: ignore[arg-type]


def declared_prefixes(prologue: str) -> dict[str, str] | None:
    """The prefixes a prologue declares, or None if it has a BASE, declares a prefix twice, or declares one that
    is not a plain name of an absolute IRI."""
    if not prologue:
        return {}
    values = [value for _kind, value in tokens(prologue)]
    if any(value.upper() == "BASE" for value in values):
        return None
    prefixes: dict[str, str] = {}
    for _prefix_keyword, name, iri in zip(*[iter(values)] * 3):  # the grammar left only PREFIX name: <iri>
        if name[:-1] in prefixes or not PLAIN_NAME.fullmatch(name) or named_node(iri[1:-1]) is None:
            return None
        prefixes[name[:-1]] = iri[1:-1]
    return prefixes


def read_term(text: str, prefixes: dict[str, str]) -> Term | str | None:
    """A pattern term: a variable's name, a NamedNode or a plain Literal; None outside the subset read here."""
    if text[0] in "?$":
        return text[1:]
    if text == "a":
        return RDF_TYPE
    if text[0] == "<":
        return named_node(text[1:-1])
    if text[0] in "'\"":
        literal = PLAIN_STRING.fullmatch(text)
        if literal is None:
            return None
        return ox.Literal(literal[1] if literal[1] is not None else literal[2])
    name = PLAIN_NAME.fullmatch(text)
    if name is None or name[1] not in prefixes:
        return None
    return named_node(prefixes[name[1]] + (name[2] or ""))


def named_node(iri: str) -> ox.NamedNode | None:
    """The NamedNode of an absolute IRI, else None (Oxigraph words the error)."""
    try:
        return ox.NamedNode(iri)
    except ValueError:
        return None


def term_json(term: object) -> str | None:
    """A term as SPARQL JSON results write it, or None for a term not written here (a triple, a direction).

    >>> term_json(ox.Literal("Ford", language="en"))
    '{"type":"literal","value":"Ford","xml:lang":"en"}'
    """
    if isinstance(term, ox.NamedNode):
        return '{"type":"uri","value":' + QUOTE(term.value) + "}"
    if isinstance(term, ox.BlankNode):
        return '{"type":"bnode","value":' + QUOTE(term.value) + "}"
    if not isinstance(term, ox.Literal) or term.direction is not None:
        return None
    written = '{"type":"literal","value":' + QUOTE(term.value)
    if term.language is not None:
        return written + ',"xml:lang":' + QUOTE(term.language) + "}"
    if term.datatype.value == XSD_STRING:
        return written + "}"
    return written + ',"datatype":' + QUOTE(term.datatype.value) + "}"


def answer_lookup(store: ox.Store, lookup: Lookup, max_rows: int) -> tuple[bytes, int] | None:
    """The JSON answer to a lookup over the union of the store's graphs, and its row count.

    None when it has more than `max_rows` rows, or a term that is not written here; the caller then asks
    `Store.query`, which streams the answer under the caps and writes every kind of term. Raises what
    `quads_for_pattern` raises (OSError when an on-disk store cannot be read).
    """
    wanted = max_rows + 1 if lookup.limit is None else min(lookup.limit, max_rows + 1)
    subject, predicate, object_ = (None if isinstance(term, str) else term for term in lookup.pattern)
    quads = store.quads_for_pattern(subject, predicate, object_, None)
    if lookup.ask:
        found = wanted > 0 and next(quads, None) is not None
        return b'{"head":{},"boolean":' + (b"true" if found else b"false") + b"}", 1
    positions = {term: index for index, term in enumerate(lookup.pattern) if isinstance(term, str)}
    # each binding, "name":term, in the order of the head; a projected variable the pattern lacks stays unbound
    columns = [(QUOTE(name) + ":", ATTRIBUTES[positions[name]]) for name in lookup.variables if name in positions]
    rows = []
    for quad in itertools.islice(quads, wanted):
        row = []
        for key, attribute in columns:
            written = term_json(attribute(quad))
            if written is None:
                return None
            row.append(key + written)
        rows.append("{" + ",".join(row) + "}")
    if len(rows) > max_rows:
        return None
    head = ",".join(map(QUOTE, lookup.variables))
    return ('{"head":{"vars":[' + head + ']},"results":{"bindings":[' + ",".join(rows) + "]}}").encode("utf-8"), len(rows)
