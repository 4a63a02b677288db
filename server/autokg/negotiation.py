"""Content negotiation, driven by tables: which media types each kind of answer is offered in."""

from __future__ import annotations

from functools import lru_cache

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from autokg.errors import AutokgError

#: offered media type -> the canonical type that is served, for SELECT and ASK answers (first is the default)
RESULT_TYPES = {
    "application/sparql-results+json": "application/sparql-results+json",
    "application/sparql-results+xml": "application/sparql-results+xml",
    "text/csv": "text/csv",
    "text/tab-separated-values": "text/tab-separated-values",
    "application/json": "application/sparql-results+json",
    "application/xml": "application/sparql-results+xml",
}
#: the same for CONSTRUCT and DESCRIBE answers
GRAPH_TYPES = {
    "text/turtle": "text/turtle",
    "application/n-triples": "application/n-triples",
    "application/rdf+xml": "application/rdf+xml",
    "application/ld+json": "application/ld+json",
    "application/n-quads": "application/n-quads",
    "application/x-turtle": "text/turtle",
    "text/plain": "application/n-triples",
    "application/json": "application/ld+json",
    "application/xml": "application/rdf+xml",
}
#: format= values for people typing URLs: name -> (result type, graph type)
FORMAT_NAMES = {
    "json": ("application/sparql-results+json", "application/ld+json"),
    "xml": ("application/sparql-results+xml", "application/rdf+xml"),
    "csv": ("text/csv", None),
    "tsv": ("text/tab-separated-values", None),
    "turtle": (None, "text/turtle"),
    "ttl": (None, "text/turtle"),
    "ntriples": (None, "application/n-triples"),
    "nt": (None, "application/n-triples"),
    "rdfxml": (None, "application/rdf+xml"),
    "jsonld": (None, "application/ld+json"),
    "nquads": (None, "application/n-quads"),
}


def best_type(accept_header: str | None, offered: dict[str, str]) -> str | None:
    """The canonical media type to answer with, or None when the Accept header allows none of them.

    >>> best_type(None, RESULT_TYPES)
    'application/sparql-results+json'
    >>> best_type("text/csv;q=0.4, application/sparql-results+xml", RESULT_TYPES)
    'application/sparql-results+xml'
    >>> best_type("image/png", GRAPH_TYPES) is None
    True
    """
    if not accept_header or not accept_header.strip():
        return next(iter(offered.values()))
    accept = parse_accept_header(accept_header, MIMEAccept)
    match = accept.best_match(list(offered))
    return offered[match] if match else None


def chosen_types(accept_header: str | None, format_name: str | None) -> tuple[str | None, str | None]:
    """(result type, graph type) from a format= value, else from the Accept header.

    Raises AutokgError naming the parameter when format= has an unknown value.
    """
    if format_name:
        if format_name not in FORMAT_NAMES:
            raise AutokgError(f"Parameter 'format': unknown value '{format_name}' (use one of {', '.join(FORMAT_NAMES)})")
        return FORMAT_NAMES[format_name]
    return types_for_accept(accept_header)


@lru_cache(maxsize=256)
def types_for_accept(accept_header: str | None) -> tuple[str | None, str | None]:
    """(result type, graph type) for an Accept header; cached, since clients resend the same few headers."""
    return best_type(accept_header, RESULT_TYPES), best_type(accept_header, GRAPH_TYPES)
