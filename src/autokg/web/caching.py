"""HTTP caching of an immutable, versioned dataset: an ETag, Cache-Control, and 304 Not Modified on If-None-Match.

The embedded store serves one build, whose version is the digest of its inputs (stores/embedded.py
inputs_digest), so a GET's answer depends only on that version, the server's own settings and the request:
its URL, Host (pages and descriptions link to it) and Accept (answers vary on it). The ETag is a digest of all
of these, so two representations never share one, and a new build changes every ETag. A query that calls
SERVICE, or asks for the time or a random number, is not cached. A backend store (`--backend URL`) can change
under the server at any time: its answers carry no ETag and `Cache-Control: no-cache`.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import unquote_plus

from flask import Flask
from werkzeug.http import parse_etags

from autokg.web.access import CORS_HEADERS, REVALIDATED

#: seconds a client or a shared cache may reuse an answer before it asks again (with If-None-Match)
MAX_AGE = 300
CACHE_CONTROL = f"public, max-age={MAX_AGE}, must-revalidate"
#: what a backend store's answers carry: reuse none without asking
NOT_CACHED = "no-cache"
#: paths answered with their own validators (static files, release files) or that change by the second (health)
OWN_CACHING = ("/static/", "/dist/", "/health")
#: what makes a query's answer change without a new dataset: a SERVICE call (the letters anywhere, as Oxigraph reads
#: a keyword), an escape that could spell one, and calls for the time, random numbers and new identifiers (STRUUID too)
VOLATILE_WORDS = ("service", "\\u")
VOLATILE_CALLS = re.compile(r"(?:now|rand|uuid)\s*\(")
#: the same calls in a query string as clients send it, spaces and the parenthesis percent-encoded or not
ENCODED_CALLS = re.compile(r"(?:now|rand|uuid)(?:[\s+]|%20|%09|%0a|%0d)*(?:\(|%28)")
#: a letter or a backslash sent percent-encoded, which the plain tests on a query string would miss
ENCODED_LETTER = re.compile(r"%(?:4[1-9a-f]|5[0-9a-c]|6[1-9a-f]|7[0-9a])")
#: what of a request its answer depends on: the URL, and the headers that pages, descriptions and negotiation read
VARIED_BY = ("SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "HTTP_HOST", "HTTP_ACCEPT", "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_PREFIX")
#: the settings an answer depends on
SETTINGS = ("PUBLIC_BASE", "MAX_ROWS", "MAX_RESULT_BYTES")
#: headers of a 200 that its 304 does not repeat
BODY_HEADERS = {"content-length", "content-type", "content-encoding", "transfer-encoding", "content-range"}
#: 200 answers whose headers are kept per process, so that a 304 for them is answered without running anything
REMEMBERED = 1024

StartResponse = Callable[..., object]


def without_body_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A 200's headers that its 304 repeats: all but those that describe the body."""
    return [(name, value) for name, value in headers if name.lower() not in BODY_HEADERS]


def dataset_version(app: Flask) -> str | None:
    """What the served dataset's ETags derive from: its version and the settings answers depend on; None for a
    backend store, which is not immutable.

    The version of an N-Quads file served with `--dataset` is the digest of the file.
    """
    dataset = app.extensions["autokg"]
    if dataset.mode == "backend":
        return None
    version = dataset.version
    if version.endswith("+file"):
        digest = hashlib.sha256()
        with Path(str(app.config["DATASET"])).open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        version = version.removesuffix("file") + digest.hexdigest()[:12]
    settings = repr([(name, app.config.get(name)) for name in SETTINGS])
    return f"{version}.{hashlib.blake2b(settings.encode(), digest_size=4).hexdigest()}"


def volatile_parameters(query_string: str) -> bool:
    """Whether a request's query string holds a volatile query (see volatile), read without decoding it where
    no letter is percent-encoded: decoding took 4 times as long as the tests.

    >>> volatile_parameters("query=SELECT+%28NOW%28%29+AS+%3Ft%29+%7B%7D"), volatile_parameters("query=%53ERVICE")
    (True, True)
    >>> volatile_parameters("query=SELECT+%3Fb+%7B+%3Fo+akg%3AhasBrand+%3Fb+%7D")
    False
    """
    low = query_string.lower()
    if ENCODED_LETTER.search(low):
        return volatile(unquote_plus(query_string, errors="replace"))
    return "service" in low or "\\" in low or ENCODED_CALLS.search(low) is not None


def volatile(text: str) -> bool:
    """Whether a query (or a request's parameters) can answer differently on the same dataset.

    >>> volatile("SELECT * { SERVICE <https://query.wikidata.org/sparql> { ?s ?p ?o } }"), volatile("SELECT (NOW() AS ?t) {}")
    (True, True)
    >>> volatile("SELECT ?s { ?s a akg:Organization } LIMIT 5")
    False
    """
    low = text.lower()  # plain substring tests first: a regular expression over every query costs 10 times more
    return any(word in low for word in VOLATILE_WORDS) or ("(" in low and VOLATILE_CALLS.search(low) is not None)


class ConditionalGets:
    """WSGI middleware: GET and HEAD answers of the embedded dataset get an ETag and Cache-Control, and a request
    whose If-None-Match holds the ETag its answer would have gets 304 Not Modified.

    A 304 whose 200 this process answered before is sent at once, with that 200's headers (Vary, CORS, security)
    and without a place in the gate; any other is found by answering the request and sending only the headers.
    """

    def __init__(self, app: Flask, wsgi_app: Callable[[dict, StartResponse], Iterable[bytes]],
                 queries: Callable[[str], str | None]) -> None:
        """Wrap `wsgi_app`; `queries` gives a canned query's text by name (None for an unknown one)."""
        self.app = app
        self.wsgi_app = wsgi_app
        self.queries = queries
        self.version = dataset_version(app)
        self.remembered: OrderedDict[str, list[tuple[str, str]]] = OrderedDict()
        self.lock = threading.Lock()

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or path.startswith(OWN_CACHING):
            return self.wsgi_app(environ, start_response)
        tag = self.tag(environ) if self.version is not None and not self.changes(environ) else None
        if tag is None:
            return self.wsgi_app(environ, self.uncached(start_response))
        matched = self.matches(environ, tag)
        if matched:
            with self.lock:
                replayed = self.remembered.get(tag)
            if replayed is not None:
                return self.not_modified(environ, replayed, start_response)
        converted = []
        if matched:
            environ[REVALIDATED] = True  # the inner layers log the 304 that their 200 will become

        def start(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> object:
            if status.startswith("200 "):
                headers = [*headers, ("ETag", tag), ("Cache-Control", CACHE_CONTROL)]
                self.remember(tag, headers)  # its body headers are left out when it is replayed, which is rarer
                if matched:
                    converted.append(True)
                    return start_response("304 Not Modified", without_body_headers(headers))
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        body = self.wsgi_app(environ, start)
        if converted:
            close = getattr(body, "close", None)
            if close is not None:
                close()
            return [b""]
        return body

    def tag(self, environ: dict) -> str:
        """The ETag of the answer to this request: weak, since the same answer may be written with other bytes."""
        request = "\n".join([environ.get(name, "") for name in VARIED_BY]).encode("utf-8", "surrogateescape")
        return f'W/"{self.version}-{hashlib.blake2b(request, digest_size=8).hexdigest()}"'

    def changes(self, environ: dict) -> bool:
        """Whether this request's answer can change on the same dataset: a volatile query in its parameters, or a
        canned query that is volatile."""
        if volatile_parameters(environ.get("QUERY_STRING", "")):
            return True
        path = environ.get("PATH_INFO", "")
        if path.startswith("/queries/"):
            text = self.queries(path.removeprefix("/queries/"))
            return text is not None and volatile(text)
        return False

    def matches(self, environ: dict, tag: str) -> bool:
        """Whether If-None-Match names `tag` (weak comparison, as RFC 9110 wants for If-None-Match)."""
        header = environ.get("HTTP_IF_NONE_MATCH")
        return bool(header) and parse_etags(header).contains_weak(tag.removeprefix("W/").strip('"'))

    def remember(self, tag: str, headers: list[tuple[str, str]]) -> None:
        """Keep a 200's headers, the first REMEMBERED of them that are still kept (oldest out first); one kept
        already costs no lock."""
        if tag in self.remembered:
            return
        with self.lock:
            self.remembered[tag] = headers
            while len(self.remembered) > REMEMBERED:
                self.remembered.popitem(last=False)

    def not_modified(self, environ: dict, headers: list[tuple[str, str]], start_response: StartResponse) -> list[bytes]:
        """304 with the headers of the 200 it stands for, logged like any answer."""
        started = time.perf_counter()
        kept = without_body_headers(headers)
        start_response("304 Not Modified", [*kept, *(h for h in CORS_HEADERS if h not in kept)])
        self.app.extensions["autokg.access"].write(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), 304,
                                                   (time.perf_counter() - started) * 1000, "-", "-")
        return [b""]

    @staticmethod
    def uncached(start_response: StartResponse) -> StartResponse:
        """`start_response` that marks 200 answers as not to be reused without asking: a backend store's, a volatile
        query's."""

        def start(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> object:
            if status.startswith("200 ") and not any(name.lower() == "cache-control" for name, _ in headers):
                headers = [*headers, ("Cache-Control", NOT_CACHED)]
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return start
