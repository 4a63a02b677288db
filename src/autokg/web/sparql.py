"""The SPARQL 1.1 Protocol endpoint: /sparql (the `protocol` blueprint)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl, unquote_plus

from flask import Blueprint, Flask, Response, request

from autokg.errors import AutokgError, BadRequest, RefusedQuery
from autokg.web.access import logged_status, wsgi_response
from autokg.web.answers import answer, query_hash, run_checked
from autokg.web.description import service_description_response
from autokg.web.failures import error_response
from autokg.web.negotiation import prefers_html, types_for_accept

bp = Blueprint("protocol", __name__)

QUERY_TYPES = ("application/sparql-query",)
UPDATE_TYPES = ("application/sparql-update",)
FORM_TYPES = ("application/x-www-form-urlencoded",)


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


@bp.route("/sparql", methods=["GET", "POST"])
def sparql() -> Response:
    """SPARQL 1.1 Protocol: query by GET, form POST or direct POST; a service description without a query."""
    try:
        query, pairs = read_request()
        if query is None:
            return service_description_response()
        return answer(query, pairs)
    except AutokgError as error:
        return error_response(error)


StartResponse = Callable[[str, list[tuple[str, str]]], object]


class FastGetPath:
    """WSGI middleware: a GET of /sparql whose only parameter is the query is answered without Flask.

    That is how most clients ask (SPARQLWrapper, browsers following links, entity lookups), and Flask's request
    machinery costs more than a lookup takes in the store. The query passes the same guards and runs through the
    same executor as in the Flask app; anything else (other parameters, a refused query, nothing acceptable, POST)
    goes through the Flask app, which answers it, errors included.

    It earns its place (issue 23; bench/endpoint.py --variant, paired runs, 2026-12-02, a loaded 2-core machine):
    the lookup mix at 100k triples ran 1.80x (1.44-2.17), 1.96x (1.75-2.03) and 2.48x (2.11-2.90) as fast with it
    as through Flask at 1, 4 and 16 clients (Oxigraph's server beside them: 1225, 1455, 1971 req/s; with it
    autokg 1004, 2373, 3942), and at 1M 2.66x (1.02-2.79), 1.87x (1.53-2.63) and 2.10x (2.04-2.44). The
    competency mix, whose queries take 0.1-15 s, gains nothing measurable (1.00x at 1 client at 100k).
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
        self.app.extensions["autokg.access"].write("GET", "/sparql", logged_status(environ, outcome.status), (time.perf_counter() - started) * 1000,
                                                   outcome.rows, query_hash(query))
        return wsgi_response(outcome, start_response)
