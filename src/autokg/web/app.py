"""The Flask application factory: configuration in layers, the dataset, blueprints, CORS and the access log."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from autokg.config import project_files
from autokg.engine.gate import Allowance, Gate
from autokg.engine.memory import MIB, default_query_memory
from autokg.errors import AutokgError
from autokg.query.matching import name_index
from autokg.settings import resolve
from autokg.web import api, pages, reconciliation, sparql
from autokg.web.access import CORS_HEADERS, AccessLog, logged_status, preflight_headers, wsgi_response
from autokg.web.bodies import BoundedBodies
from autokg.web.caching import ConditionalGets
from autokg.web.dataset import backend_dataset, load_served_dataset
from autokg.web.failures import error_outcome, error_response
from autokg.web.security import secure

T = TypeVar("T")


def create_app(test_config: Mapping[str, object] | None = None) -> Flask:
    """Build the app with its settings (see settings.py): `test_config` (the flags), then AUTOKG_* variables, then
    the settings file, then the defaults; raises SettingError naming a setting that cannot be used."""
    app = Flask(__name__)
    settings, sources = resolve(test_config or {})
    app.config.from_mapping(settings)
    app.extensions["autokg.settings"] = sources
    app.extensions["autokg.access"] = AccessLog.for_level(str(app.config["LOG_LEVEL"]))
    files = project_files(app.config.get("ROOT"))
    app.extensions["autokg.files"] = files
    slots = int(app.config["QUERY_SLOTS"])
    # one request thread of each worker always stays free for requests that need no query slot
    threads = max(1, int(app.config["THREADS"]) - 1)
    limits = {"queue": int(app.config["QUERY_QUEUE"]), "threads": threads,
              "per_client": int(app.config["CLIENT_THREADS"]) or max(1, threads - 1),
              "memory": int(app.config["QUERY_MEMORY"]) * MIB or default_query_memory(slots),
              "heavy": int(app.config["QUERY_HEAVY_SLOTS"]), "heavy_seconds": float(app.config["QUERY_HEAVY_SECONDS"]),
              "client_queries": int(app.config["CLIENT_QUERIES"])}
    if app.config["BACKEND"]:
        # the backend's answer may be bigger than ours (JSON against CSV, say), so read up to 4 times the cap
        app.extensions["autokg"] = backend_dataset(str(app.config["BACKEND"]), float(app.config["TIMEOUT"]),
                                                   4 * int(app.config["MAX_RESULT_BYTES"]), slots,
                                                   app.config["BACKEND_GRAPHS"], limits)
    else:
        app.extensions["autokg"] = load_served_dataset(files, slots, str(app.config["STORE"]),
                                                       str(app.config["DATASET"]), limits)
    app.extensions["autokg.names"] = name_index(app.extensions["autokg"].store)
    app.register_blueprint(sparql.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(reconciliation.bp)
    app.before_request(start_timer)
    app.after_request(finish_response)
    # Flask's own errors (404, 405, 413 …), and a page's own query failing on the backend store (502, 503 when slow)
    for kind in (HTTPException, AutokgError, TimeoutError):
        app.register_error_handler(kind, error_response)
    executor = app.extensions["autokg"].executor
    access = app.extensions["autokg.access"]
    pages_bounded = LongPages(sparql.FastGetPath(app, app.wsgi_app), executor.waiting, access)
    # a 304 takes no place for long requests; bodies are read before either, a few at a time, with the gate open
    conditional = ConditionalGets(app, pages_bounded, lambda name: canned_query(app, name))
    bodies = BoundedBodies(conditional, int(app.config["MAX_CONTENT_LENGTH"]), access, executor.waiting,
                           tuple(app.config["TRUSTED_PROXIES"]), executor.gate)
    app.wsgi_app = GatedRequests(bodies, executor.gate)  # type: ignore[method-assign]
    return app


def canned_query(app: Flask, name: str) -> str | None:
    """The text of the catalogue's query `name`, or None when there is none."""
    with app.app_context():
        query = api.catalog().get(name)
    return query.text if query else None


def is_short(path: str) -> bool:
    """Whether a request to this path is short: a lookup or any other query (which takes a place of the allowance
    itself when it goes to a query child), /health, a static file."""
    return path in ("/sparql", "/health") or path.startswith("/static/")


class GatedRequests:
    """WSGI middleware, the outermost: all of a request's Python work runs inside the executor's gate (see
    engine.gate.Gate), which the request opens while it waits (for its body, a query slot, its query child).

    Refusals too: run outside the gate, a flood's 429s (660 a second) took the interpreter from the lookups
    inside it at every one of pyoxigraph's GIL releases, and the lookup p99 went from 8 to 77 ms; inside it, they
    take turns with the lookups like any request.
    """

    def __init__(self, wsgi_app: Callable[[dict, Callable[..., object]], Iterable[bytes]], gate: Gate) -> None:
        self.wsgi_app = wsgi_app
        self.gate = gate

    def __call__(self, environ: dict, start_response: Callable[..., object]) -> list[bytes | bytearray]:
        with self.gate.held():
            chunks = drained(self.wsgi_app(environ, start_response))
            # one chunk (a query's answer, as the query child sent it) goes out as it is: joined, it would be
            # copied once more, and a worker sending a 10 MB answer held it three times
            return chunks if len(chunks) <= 1 else [b"".join(chunks)]


class LongPages:
    """WSGI middleware: a page takes a place of the worker's allowance for long requests, and is answered 503
    with Retry-After when there is none: a flood of searches or near-match pages, a few milliseconds each, took
    every thread and kept lookups waiting for one (lookup median 42 ms instead of 1.2 in the soak)."""

    def __init__(self, wsgi_app: Callable[[dict, Callable[..., object]], Iterable[bytes]],
                 allowance: Allowance | None = None, log: AccessLog | None = None) -> None:
        self.wsgi_app = wsgi_app
        self.allowance = allowance
        self.log = log or AccessLog(None)

    def __call__(self, environ: dict, start_response: Callable[..., object]) -> Iterable[bytes]:
        allowance = None if is_short(environ.get("PATH_INFO", "")) else self.allowance
        if allowance is None:
            return self.wsgi_app(environ, start_response)
        if not allowance.enter():
            # logged here: the soak's 942 refused pages left no line, as Flask never saw them
            self.log.write(environ.get("REQUEST_METHOD", "-"), environ.get("PATH_INFO", "-"), 503, 0.0, "-", "-")
            return wsgi_response(error_outcome(allowance.refusal()), start_response)
        try:
            return drained(self.wsgi_app(environ, start_response))  # rendered whole while its place is held
        finally:
            allowance.leave()


def layer(app: Flask, kind: type[T]) -> T:
    """The middleware of type `kind` among those wrapping the app.

    Raises LookupError when there is none.
    """
    found: object = app.wsgi_app
    while not isinstance(found, kind):
        found = getattr(found, "wsgi_app", None)
        if found is None:
            raise LookupError(f"no {kind.__name__} wraps the app")
    return found


def drained(body: Iterable[bytes]) -> list[bytes]:
    """The chunks of a WSGI answer, read to its end, with the answer closed."""
    try:
        return list(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()


def start_timer() -> Response | None:
    """Note when the request began; answer CORS preflight requests at once."""
    g.started = time.perf_counter()
    if request.method == "OPTIONS":
        return Response(status=204)
    return None


def finish_response(response: Response) -> Response:
    """Add CORS headers (any origin, no credentials) and the pages' security headers, and write the access-log line."""
    response.headers.update(CORS_HEADERS)
    secure(response, str(current_app.config.get("PUBLIC_BASE") or ""))
    if request.method == "OPTIONS":
        response.headers.extend(preflight_headers(request.headers.get("Access-Control-Request-Headers")))
    duration = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
    current_app.extensions["autokg.access"].write(request.method, request.path, logged_status(request.environ, response.status_code), duration,
                                                  g.get("rows", "-"), g.get("query_hash", "-"))
    return response

