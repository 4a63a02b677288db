"""Content negotiation, driven by tables: which media types each kind of answer is offered in."""

from __future__ import annotations

from functools import lru_cache

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from autokg.errors import AutokgError
from autokg.rdf.formats import format_names, offered_types

#: offered media type -> the canonical type that is served, for SELECT and ASK answers (first is the default)
RESULT_TYPES = offered_types("results")
#: the same for CONSTRUCT and DESCRIBE answers
GRAPH_TYPES = offered_types("graph")
#: short names of formats, as people type them and as clients send them (SPARQLWrapper's names, Virtuoso's and
#: Fuseki's): name -> (result type, graph type)
FORMAT_NAMES = format_names()
#: the parameters that name the answer's format, which then wins over Accept: Virtuoso reads `format`, Fuseki
#: `output` (and `results`); SPARQLWrapper sends all three, repeated when it adds the media type
FORMAT_PARAMETERS = ("format", "output", "results")
#: what a browser asking for a page is offered (an HTML page, where the route has one)
HTML_TYPES = {"text/html": "text/html", "application/xhtml+xml": "text/html"}


def best_type(accept_header: str | None, offered: dict[str, str], default: bool = True) -> str | None:
    """The canonical media type to answer with, or None when the Accept header allows none of them.

    Without an Accept header, the first offered type, or None when `default` is false.

    >>> best_type(None, RESULT_TYPES)
    'application/sparql-results+json'
    >>> best_type("text/csv;q=0.4, application/sparql-results+xml", RESULT_TYPES)
    'application/sparql-results+xml'
    >>> best_type("image/png", GRAPH_TYPES) is None
    True
    """
    if not accept_header or not accept_header.strip():
        return next(iter(offered.values())) if default else None
    accept = parse_accept_header(accept_header, MIMEAccept)
    match = accept.best_match(list(offered))
    return offered[match] if match else None


@lru_cache(maxsize=256)
def prefers_html(accept_header: str | None) -> bool:
    """Whether an Accept header ranks an HTML page above every answer format, as a browser's does (text/html
    at q=1, application/xml at 0.9, anything at 0.8); cached, since clients resend the same few headers.

    >>> prefers_html("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
    True
    >>> prefers_html("application/sparql-results+json,*/*;q=0.9"), prefers_html("*/*"), prefers_html(None)
    (False, False, False)
    """
    if not accept_header or not accept_header.strip():
        return False
    accept = parse_accept_header(accept_header, MIMEAccept)
    page = max(accept.quality(media_type) for media_type in HTML_TYPES)
    answers = max(accept.quality(media_type) for media_type in (*RESULT_TYPES, *GRAPH_TYPES))
    return page > answers


def chosen_types(accept_header: str | None, pairs: list[tuple[str, str]]) -> tuple[str | None, str | None]:
    """(result type, graph type) from the format parameters among `pairs`, else from the Accept header.

    Each value is a short name or a list of media types; the first value that names a type of a kind decides that
    kind, and empty values are passed over (SPARQLWrapper sends one when it would accept anything). Raises
    AutokgError naming the parameter when a value names no format at all.

    >>> chosen_types("image/png", [("format", "tsv"), ("format", "text/tab-separated-values")])
    ('text/tab-separated-values', None)
    >>> chosen_types(None, [("output", "application/ld+json,application/x-json+ld")])
    (None, 'application/ld+json')
    >>> chosen_types("text/csv", [("results", "")])
    ('text/csv', None)
    """
    values = [(name, value.strip()) for name, value in pairs if name in FORMAT_PARAMETERS and value.strip()]
    if not values:
        return types_for_accept(accept_header)
    result_type = graph_type = None
    for name, value in values:
        named = FORMAT_NAMES.get(value.lower()) or types_for_accept(value, default=False)
        if named == (None, None):
            raise AutokgError(f"Parameter '{name}': unknown value '{value}' (use a media type or one of {', '.join(FORMAT_NAMES)})")
        result_type, graph_type = result_type or named[0], graph_type or named[1]
    return result_type, graph_type


@lru_cache(maxsize=256)
def types_for_accept(accept_header: str | None, default: bool = True) -> tuple[str | None, str | None]:
    """(result type, graph type) for an Accept header (or a format parameter's media types); cached, since
    clients resend the same few headers."""
    return best_type(accept_header, RESULT_TYPES, default), best_type(accept_header, GRAPH_TYPES, default)
