"""Answering one query for a web request: the guards, the executor, the caps, and the response or the error."""

from __future__ import annotations

import hashlib

from flask import Flask, Response, current_app, g, request, url_for

from autokg.config import PREFIXES
from autokg.engine.jobs import Job, Outcome
from autokg.errors import BadRequest
from autokg.query.guards import check_query
from autokg.rdf.sparql import query_form
from autokg.web.negotiation import FORMAT_PARAMETERS, HTML_TYPES, best_type, chosen_types, prefers_html


def as_response(outcome: Outcome) -> Response:
    """An Outcome as a Flask response."""
    response = Response(outcome.body, status=outcome.status, content_type=outcome.content_type, headers=outcome.headers)
    if outcome.status == 200:
        response.vary.add("Accept")
    g.rows = outcome.rows
    return response


def requested_timeout(pairs: list[tuple[str, str]]) -> float:
    """The timeout for this request: the configured one, or less if the request asks (timeout=seconds)."""
    limit = float(current_app.config["TIMEOUT"])
    values = [v for n, v in pairs if n == "timeout"]
    if not values:
        return limit
    try:
        asked = float(values[-1])
    except ValueError:
        raise BadRequest(f"Parameter 'timeout': '{values[-1]}' is not a number of seconds") from None
    if not 0 < asked < float("inf"):  # float() reads "nan" and "inf", and "1e400" as inf; nan compares false
        raise BadRequest(f"Parameter 'timeout': give a positive, finite number of seconds, not '{values[-1]}'")
    return min(asked, limit)


def run_checked(query: str, result_type: str | None, graph_type: str | None, timeout: float,
                default_graphs: tuple[str, ...] = (), named_graphs: tuple[str, ...] = (), app: Flask | None = None) -> Outcome:
    """Run a query through the executor under the guards and the configured caps; raises RefusedQuery.

    `app` defaults to the current app; the WSGI middleware, which runs outside Flask's app context, passes it.
    """
    app = app or current_app
    config = app.config
    check_query(query, config["SERVICE_ALLOW_LIST"])
    job = Job(query=query, result_type=result_type, graph_type=graph_type, default_graphs=default_graphs,
              named_graphs=named_graphs, max_rows=int(config["MAX_ROWS"]), max_bytes=int(config["MAX_RESULT_BYTES"]),
              prefixes=PREFIXES, timeout=timeout)
    return app.extensions["autokg"].executor.run(job, timeout)


def query_hash(query: str) -> str:
    """The short hash of a query that the access log shows instead of its text."""
    return hashlib.sha256(query.encode("utf-8")).hexdigest()[:12]


def answer(query: str, pairs: list[tuple[str, str]]) -> Response:
    """Check, run and serialize one query for the current request."""
    g.query_hash = query_hash(query)
    result_type, graph_type = chosen_types(request.headers.get("Accept"), pairs)
    if wants_page(query, result_type, graph_type, pairs):
        location = url_for("pages.query_page", query=query)
        return Response(f"303 See Other: the results as a page are at {location}\n", 303, {"Location": location},
                        content_type="text/plain; charset=utf-8")
    outcome = run_checked(
        query, result_type, graph_type, requested_timeout(pairs),
        default_graphs=tuple(v for n, v in pairs if n == "default-graph-uri"),
        named_graphs=tuple(v for n, v in pairs if n == "named-graph-uri"),
    )
    return as_response(outcome)


#: the longest query a browser is sent to the query page with: it travels in the Location header and the URL
PAGE_QUERY_LIMIT = 16 * 1024


def wants_page(query: str, result_type: str | None, graph_type: str | None, pairs: list[tuple[str, str]]) -> bool:
    """Whether a browser asked: HTML ranked above every answer format, or acceptable when no answer format is,
    and no format named by a parameter.

    The query page then runs the query and shows the answer as a table (as Virtuoso answers browsers); a request
    naming a format or a dataset of its own, which the page does not take, or a query longer than
    PAGE_QUERY_LIMIT characters, is answered 406 as before.
    """
    if len(query) > PAGE_QUERY_LIMIT or any(name in FORMAT_PARAMETERS + ("default-graph-uri", "named-graph-uri") and value.strip() for name, value in pairs):
        return False
    accept = request.headers.get("Accept")
    if prefers_html(accept):
        return True
    offered = result_type if query_form(query) in ("SELECT", "ASK") else graph_type
    return offered is None and best_type(accept, HTML_TYPES, default=False) is not None
