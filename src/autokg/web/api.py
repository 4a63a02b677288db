"""The JSON API: the competency-query catalogue, canned queries, health, the VoID and DCAT descriptions and the\nrelease's files."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import TypeVar

from flask import Blueprint, Response, current_app, jsonify, make_response, request, send_file

from autokg.build.release import MEDIA_TYPES
from autokg.errors import AutokgError, BadRequest, NotFound
from autokg.query.catalog import bind_parameters, load_catalog, with_parameters
from autokg.stores.backend import BackendError, RemoteStore
from autokg.web.answers import answer
from autokg.web.caching import MAX_AGE
from autokg.web.failures import error_response
from autokg.web.negotiation import FORMAT_PARAMETERS

bp = Blueprint("api", __name__)
T = TypeVar("T")
RESERVED = {*FORMAT_PARAMETERS, "timeout"}


def once_per_process(key: str, make: Callable[[], T]) -> T:
    """`make()`, computed on first use in this process and kept (the served files and store do not change)."""
    if key not in current_app.extensions:
        current_app.extensions[key] = make()
    return current_app.extensions[key]


def catalog() -> dict:
    """The catalogue, read once per process."""
    return once_per_process("autokg.catalog", lambda: load_catalog(current_app.extensions["autokg.files"].queries))


@bp.get("/queries")
def list_queries() -> Response:
    """The catalogue as JSON: name, title, question and parameters of each query."""
    return jsonify([
        {
            "name": q.name,
            "title": q.title,
            "question": q.question,
            "form": q.form,
            "parameters": [{"name": p.name, "type": p.type, "example": p.example, "description": p.description} for p in q.parameters],
            "url": f"{request.url_root}queries/{q.name}",
        }
        for q in catalog().values()
    ])


@bp.get("/queries/<name>")
def run_query(name: str) -> Response:
    """Run a canned query; its parameters come from the URL, checked and bound by type, with the usual negotiation."""
    try:
        query = catalog().get(name)
        if query is None:
            raise NotFound(f"Unknown query '{name}': GET /queries lists the catalogue")
        pairs = list(request.args.items(multi=True))
        raw: dict[str, str] = {}
        for key, value in pairs:
            if key in RESERVED:
                continue
            if key in raw:
                raise BadRequest(f"Parameter '{key}' is repeated")
            raw[key] = value
        text = with_parameters(query, bind_parameters(query, raw))
        return answer(text, [(k, v) for k, v in pairs if k in RESERVED])
    except AutokgError as error:
        return error_response(error)


@bp.get("/health")
def health() -> Response:
    """Store kind, triple count, dataset version and uptime; 503 when a backend store does not answer."""
    dataset = current_app.extensions["autokg"]
    report = {
        "status": "ok",
        "store": f"oxigraph ({dataset.mode})",
        "triples": dataset.triples,
        "version": dataset.version,
        "uptime_seconds": round(time.time() - dataset.loaded_at, 1),
    }
    if isinstance(dataset.store, RemoteStore):
        report["store"] = f"SPARQL backend {dataset.store.endpoint} ({dataset.store.server or 'unknown server'})"
        try:
            dataset.store.query("ASK { }", timeout=5.0)
        except (BackendError, TimeoutError) as error:
            report["status"] = f"unavailable: {error}"
            return make_response(jsonify(report), 503)
    return jsonify(report)


@bp.get("/void")
def void() -> Response:
    """The VoID description written by `autokg build`."""
    path = current_app.extensions["autokg.files"].dist / "void.ttl"
    return Response(path.read_bytes(), content_type="text/turtle; charset=utf-8")


@bp.get("/dcat")
def dcat() -> Response:
    """The DCAT description written by `autokg build`: the release's files with media types and checksums."""
    path = current_app.extensions["autokg.files"].root / "dist" / "dcat.ttl"
    return Response(path.read_bytes(), content_type="text/turtle; charset=utf-8")


def released() -> dict[str, str]:
    """The release's files under dist/, as its SHA256SUMS lists them: name -> SHA-256 (read on each request, so
    that a new build in place is served with its own sums)."""
    sums = current_app.extensions["autokg.files"].dist / "SHA256SUMS"
    if not sums.is_file():
        return {}
    pairs = (line.split("  ", 1) for line in sums.read_text(encoding="utf-8").splitlines() if "  " in line)
    return {name: digest for digest, name in pairs}


@bp.get("/dist/<path:name>")
def download(name: str) -> Response:
    """A file of the release (the dumps, the tables, VoID, DCAT, SHA256SUMS), with its SHA-256 as a strong ETag;
    404 for any name SHA256SUMS does not list."""
    listed = released()
    dist = current_app.extensions["autokg.files"].dist
    digest = listed.get(name) if name != "SHA256SUMS" else hashlib.sha256((dist / name).read_bytes()).hexdigest()
    path = dist / name
    if digest is None or path.is_symlink() or not path.is_file():
        return Response(f"404 No file '{name}' in this release: /dist/SHA256SUMS lists them\n", 404,
                        content_type="text/plain; charset=utf-8")
    suffix = path.suffix if path.name != "SHA256SUMS" else ".txt"
    media_type = MEDIA_TYPES.get(suffix, "text/plain" if suffix == ".txt" else "application/octet-stream")
    response = send_file(path, mimetype=media_type, etag=digest, conditional=True, max_age=MAX_AGE)
    response.cache_control.must_revalidate = True
    return response
