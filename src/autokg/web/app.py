"""The Flask application factory: configuration in layers, the dataset, blueprints, CORS and the access log."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from autokg.config import SERVER_DEFAULTS, allow_list, environment_settings, project_files
from autokg.engine.gate import LONG_REQUESTS_BUSY, Allowance, Gate
from autokg.engine.jobs import busy_outcome
from autokg.engine.memory import MIB, default_query_memory
from autokg.query import entities
from autokg.stores.backend import BackendError
from autokg.web import api, pages, reconciliation, sparql
from autokg.web.access import CORS_HEADERS, AccessLog, preflight_headers, wsgi_response
from autokg.web.bodies import BoundedBodies
from autokg.web.dataset import backend_dataset, load_served_dataset
from autokg.web.security import secure


def create_app(test_config: Mapping[str, object] | None = None) -> Flask:
    """Build the app: defaults, then instance/autokg.cfg, then AUTOKG_* variables, then `test_config`."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(SERVER_DEFAULTS)
    app.config.from_pyfile("autokg.cfg", silent=True)
    app.config.update(environment_settings())
    if test_config:
        app.config.update(test_config)
    app.config["SERVICE_ALLOW_LIST"] = allow_list(app.config["SERVICE_ALLOW_LIST"])
    app.config["BACKEND_GRAPHS"] = allow_list(app.config["BACKEND_GRAPHS"])
    app.extensions["autokg.access"] = AccessLog.for_level(str(app.config["LOG_LEVEL"]))
    files = project_files(app.config.get("ROOT"))
    app.extensions["autokg.files"] = files
    slots = int(app.config["QUERY_SLOTS"])
    # one request thread of each worker always stays free for requests that need no query slot
    limits = {"queue": int(app.config["QUERY_QUEUE"]), "threads": max(1, int(app.config["THREADS"]) - 1),
              "memory": int(app.config["QUERY_MEMORY"]) * MIB or default_query_memory(slots)}
    if app.config["BACKEND"]:
        # the backend's answer may be bigger than ours (JSON against CSV, say), so read up to 4 times the cap
        app.extensions["autokg"] = backend_dataset(str(app.config["BACKEND"]), float(app.config["TIMEOUT"]),
                                                   4 * int(app.config["MAX_RESULT_BYTES"]), slots,
                                                   app.config["BACKEND_GRAPHS"], limits)
    else:
        app.extensions["autokg"] = load_served_dataset(files, slots, str(app.config["STORE"]),
                                                       str(app.config["DATASET"]), limits)
    app.extensions["autokg.names"] = entities.name_index(app.extensions["autokg"].store)
    app.register_blueprint(sparql.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(reconciliation.bp)
    app.before_request(start_timer)
    app.after_request(finish_response)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(BackendError, backend_error)
    app.register_error_handler(TimeoutError, backend_error)
    executor = app.extensions["autokg"].executor
    gated = GatedRequests(sparql.FastGetPath(app, app.wsgi_app), executor.gate, executor.waiting)
    # bodies are read before the gate, a few at a time
    app.wsgi_app = BoundedBodies(gated, int(app.config["MAX_CONTENT_LENGTH"]), app.extensions["autokg.access"],  # type: ignore[method-assign]
                                 executor.waiting)
    return app


def is_short(path: str) -> bool:
    """Whether a request to this path is short: a lookup or any other query (which takes a place of the allowance
    itself when it goes to a query child), /health, a static file."""
    return path in ("/sparql", "/health") or path.startswith("/static/")


class GatedRequests:
    """WSGI middleware: each request runs inside the executor's gate (see engine.gate.Gate); its body was read
    before (see bodies.BoundedBodies). A page takes a place of the worker's allowance for long requests, and is
    answered 503 with Retry-After when there is none: a flood of searches or near-match pages, a few milliseconds
    each, took every thread and kept lookups waiting for one (lookup median 42 ms instead of 1.2 in the soak)."""

    def __init__(self, wsgi_app: Callable[[dict, Callable[..., object]], Iterable[bytes]], gate: Gate,
                 allowance: Allowance | None = None) -> None:
        self.wsgi_app = wsgi_app
        self.gate = gate
        self.allowance = allowance

    def __call__(self, environ: dict, start_response: Callable[..., object]) -> list[bytes | bytearray]:
        allowance = None if is_short(environ.get("PATH_INFO", "")) else self.allowance
        if allowance is not None and not allowance.enter():
            return wsgi_response(busy_outcome(LONG_REQUESTS_BUSY), start_response)
        try:
            return self.run(environ, start_response)
        finally:
            if allowance is not None:
                allowance.leave()

    def run(self, environ: dict, start_response: Callable[..., object]) -> list[bytes | bytearray]:
        """Answer the request inside the gate."""
        with self.gate.held():
            body = self.wsgi_app(environ, start_response)
            try:
                # one chunk (a query's answer, as the query child sent it) goes out as it is: joined, it would be
                # copied once more, and a worker sending a 10 MB answer held it three times
                chunks = list(body)
                return chunks if len(chunks) == 1 else [b"".join(chunks)]
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
    current_app.extensions["autokg.access"].write(request.method, request.path, response.status_code, duration,
                                                  g.get("rows", "-"), g.get("query_hash", "-"))
    return response


def http_error(error: HTTPException) -> Response:
    """Plain-text answers for the errors Flask raises itself (404, 405, 413 …)."""
    message = {413: "The request body is larger than this endpoint accepts"}.get(error.code or 500, error.description)
    return Response(f"{error.code} {message}\n", status=error.code or 500, content_type="text/plain; charset=utf-8")


def backend_error(error: BackendError | TimeoutError) -> Response:
    """Plain-text answers when a page's own query fails on the backend store (502, or 503 when it was too slow)."""
    status = getattr(error, "status", 503 if isinstance(error, TimeoutError) else 502)
    return Response(f"{status} {error}\n", status=status, content_type="text/plain; charset=utf-8")
