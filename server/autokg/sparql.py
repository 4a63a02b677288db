"""The SPARQL 1.1 Protocol endpoint: /sparql (the `protocol` blueprint)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl, unquote_plus

from flask import Blueprint, Flask, Response, current_app, g, request, url_for

from autokg.access import wsgi_response
from autokg.config import PREFIXES
from autokg.description import service_description_response
from autokg.errors import AutokgError
from autokg.executor import Job, Outcome, text_outcome
from autokg.guards import RefusedQuery, check_query, query_form
from autokg.negotiation import FORMAT_PARAMETERS, HTML_TYPES, best_type, chosen_types, prefers_html, types_for_accept

bp = Blueprint("protocol", __name__)

QUERY_TYPES = ("application/sparql-query",)
UPDATE_TYPES = ("application/sparql-update",)
FORM_TYPES = ("application/x-www-form-urlencoded",)


class BadRequest(AutokgError):
    """A request that breaks the protocol, answered with its status and a plain-text message."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def as_response(outcome: Outcome) -> Response:
    """An Outcome as a Flask response."""
    response = Response(outcome.body, status=outcome.status, content_type=outcome.content_type, headers=outcome.headers)
    if outcome.status == 200:
        response.vary.add("Accept")
    g.rows = outcome.rows
    return response


def error_response(error: Exception) -> Response:
    """A plain-text error answer with the right status."""
    status = getattr(error, "status", 400)
    return as_response(text_outcome(status, f"{status} {str(error)}"))


def decode_body() -> str:
    """The request body as UTF-8 text; raises BadRequest when it is not UTF-8."""
    try:
        return request.get_data(cache=True).decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest(f"The request body is not UTF-8 (byte {error.start})") from None


def protocol_parameters() -> list[tuple[str, str]]:
    """All protocol parameters of the request, from the URL and from a form body, in order."""
    pairs = list(request.args.items(multi=True))
    if request.method == "POST" and request.mimetype in FORM_TYPES:
        body = decode_body()
        try:
            pairs += parse_qsl(body, keep_blank_values=True, strict_parsing=False, errors="strict")
        except UnicodeDecodeError:
            raise BadRequest("The form body is not UTF-8 once percent-decoded") from None
    return pairs


def read_request() -> tuple[str | None, list[tuple[str, str]]]:
    """The query text (or None) and the protocol parameters; raises BadRequest on a malformed request."""
    if request.method == "POST" and request.mimetype in UPDATE_TYPES:
        raise BadRequest("This endpoint is read-only: SPARQL Update is not accepted", status=403)
    if request.method == "POST" and request.mimetype not in QUERY_TYPES + FORM_TYPES:
        shown = request.mimetype or "none"
        raise BadRequest(
            f"Unsupported Content-Type '{shown}': send application/sparql-query or application/x-www-form-urlencoded",
            status=415,
        )
    pairs = protocol_parameters()
    if any(name == "update" for name, _ in pairs):
        raise BadRequest("This endpoint is read-only: the 'update' parameter is not accepted", status=403)
    queries = [value for name, value in pairs if name == "query"]
    if request.method == "POST" and request.mimetype in QUERY_TYPES:
        if queries:
            raise BadRequest("Give the query either in the body or as 'query', not both")
        body = decode_body()
        if not body.strip():
            raise BadRequest("The request body is empty: send the query text")
        return body, pairs
    if len(queries) > 1:
        raise BadRequest("The 'query' parameter is repeated: send exactly one query")
    if queries and not queries[0].strip():
        raise BadRequest("The 'query' parameter is empty")
    return (queries[0] if queries else None), pairs


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


@bp.route("/sparql", methods=["GET", "POST"])
def sparql() -> Response:
    """SPARQL 1.1 Protocol: query by GET, form POST or direct POST; a service description without a query."""
    try:
        query, pairs = read_request()
        if query is None:
            return service_description_response()
        return answer(query, pairs)
    except (BadRequest, RefusedQuery, AutokgError) as error:
        return error_response(error)


StartResponse = Callable[[str, list[tuple[str, str]]], object]


class FastGetPath:
    """WSGI middleware: a GET of /sparql whose only parameter is the query is answered without Flask.

    That is how most clients ask (SPARQLWrapper, browsers following links, entity lookups), and Flask's request
    machinery costs more than a lookup takes in the store. The query passes the same guards and runs through the
    same executor as in the Flask app; anything else (other parameters, a refused query, nothing acceptable, POST)
    goes through the Flask app, which answers it, errors included.
    """

    def __init__(self, app: Flask, wsgi_app: Callable[[dict, StartResponse], Iterable[bytes]]) -> None:
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "GET" or environ.get("PATH_INFO") != "/sparql":
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        string = environ.get("QUERY_STRING", "")
        try:
            if string.startswith("query=") and "&" not in string:  # what nearly every client sends: 2 µs less
                pairs = [("query", unquote_plus(string[6:], errors="strict"))]
            else:
                pairs = parse_qsl(string, keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            return self.wsgi_app(environ, start_response)
        result_type, graph_type = types_for_accept(environ.get("HTTP_ACCEPT"))
        if (len(pairs) != 1 or pairs[0][0] != "query" or not pairs[0][1].strip() or (result_type, graph_type) == (None, None)
                or prefers_html(environ.get("HTTP_ACCEPT"))):  # a browser: the Flask path sends it to the page
            return self.wsgi_app(environ, start_response)
        query = pairs[0][1]
        try:
            outcome = run_checked(query, result_type, graph_type, float(self.app.config["TIMEOUT"]), app=self.app)
        except RefusedQuery:
            return self.wsgi_app(environ, start_response)  # refused there too, with the reason
        if outcome.status == 406:
            return self.wsgi_app(environ, start_response)  # where a browser is sent to the results page
        self.app.extensions["autokg.access"].write("GET", "/sparql", outcome.status, (time.perf_counter() - started) * 1000,
                                                   outcome.rows, query_hash(query))
        return wsgi_response(outcome, start_response)
