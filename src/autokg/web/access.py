"""The access log and the CORS headers that every response carries, whichever path answered it, and who the
client of a request is."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable

from werkzeug.http import HTTP_STATUS_CODES

from autokg.engine.jobs import Outcome

#: headers every response carries: any origin may read the answers, without credentials, and no browser may
#: take an answer for another type than the one it is sent as (a CSV cell sniffed as HTML, say)
CORS_HEADERS = (("Access-Control-Allow-Origin", "*"), ("X-Content-Type-Options", "nosniff"))
#: what a CORS preflight is told besides the request headers it may send, which are the ones it asks for
PREFLIGHT_HEADERS = (("Access-Control-Allow-Methods", "GET, POST, HEAD, OPTIONS"), ("Access-Control-Max-Age", "86400"),
                     ("Vary", "Access-Control-Request-Headers"))
#: the request headers allowed when a preflight names none
DEFAULT_ALLOWED_HEADERS = "Content-Type, Accept"
#: a list of header names (RFC 9110 tokens), as Access-Control-Request-Headers carries them
HEADER_NAMES = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:[ \t]*,[ \t]*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*")
#: the log levels at which requests are logged (an access line is information, not a warning)
LOGGING_LEVELS = ("debug", "info")


def preflight_headers(requested: str | None) -> list[tuple[str, str]]:
    """The CORS headers of a preflight answer: any request header it asks for is allowed, as Oxigraph's --cors does.

    Credentials stay refused (the origin is `*`), so allowing a header such as Authorization lets a page send it
    to a proxy in front of this endpoint, and nothing more. A list that is not one of header names is not echoed.

    >>> dict(preflight_headers("authorization, x-requested-with"))["Access-Control-Allow-Headers"]
    'authorization, x-requested-with'
    >>> dict(preflight_headers("x-a\\r\\nSet-Cookie: a=b"))["Access-Control-Allow-Headers"]
    'Content-Type, Accept'
    """
    asked = (requested or "").strip()
    allowed = asked if asked and HEADER_NAMES.fullmatch(asked) else DEFAULT_ALLOWED_HEADERS
    return [*PREFLIGHT_HEADERS, ("Access-Control-Allow-Headers", allowed)]


#: set in the WSGI environ by autokg.web.caching when the client's If-None-Match holds the answer's ETag, so that
#: a 200 the caching layer turns into 304 Not Modified is logged as the 304 the client gets
REVALIDATED = "autokg.revalidated"


def logged_status(environ: dict, status: int) -> int:
    """The status a request's access-log line gives: 304 for a 200 that will go out as Not Modified.

    >>> logged_status({REVALIDATED: True}, 200), logged_status({REVALIDATED: True}, 404), logged_status({}, 200)
    (304, 404, 200)
    """
    return 304 if status == 200 and environ.get(REVALIDATED) else status


class AccessLog:
    """One line per request, written straight to a file descriptor: time, method, path, status, duration, rows and query hash.

    Not through `logging`: building and formatting a record cost a lookup on the server 45 µs, more than the
    lookup's own Python work. One `os.write` per line keeps the lines of several workers whole, and holds
    nothing back in a buffer that a killed worker would lose.

    >>> import tempfile
    >>> with tempfile.TemporaryFile() as target:
    ...     AccessLog(target.fileno()).write("GET", "/sparql", 200, 1.25, 3, "0123456789ab")
    ...     _ = target.seek(0)
    ...     target.read().decode().split(" ", 1)[1]
    'GET /sparql 200 1.2ms rows=3 query=0123456789ab\\n'
    """

    def __init__(self, fd: int | None = 2) -> None:
        self.fd = fd  # None: requests are not logged
        self.clock = (-1, "")  # the last second seen and its timestamp, one tuple so that threads see both or neither

    @classmethod
    def for_level(cls, level: str) -> AccessLog:
        """The log on standard error, or none when the log level is above information."""
        return cls(2 if level.lower() in LOGGING_LEVELS else None)

    def write(self, method: str, path: str, status: int, duration_ms: float, rows: object, query_hash: str) -> None:
        """Write the line of one request; raises OSError when the descriptor cannot be written."""
        if self.fd is None:
            return
        now = time.time()
        second, stamp = self.clock
        if int(now) != second:
            second = int(now)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(second))
            self.clock = (second, stamp)
        line = f"{stamp}.{int((now - second) * 1000):03d} {method} {path} {status} {duration_ms:.1f}ms rows={rows} query={query_hash}\n"
        data = line.encode()
        while data:
            data = data[os.write(self.fd, data):]


def client_address(environ: dict, trusted_proxies: tuple[str, ...] = ()) -> str | None:
    """The address of a request's client: the peer's, or, when the peer is one of `trusted_proxies`, the address
    that proxy appended to X-Forwarded-For (earlier entries are the client's word, and not believed).

    >>> client_address({"REMOTE_ADDR": "192.0.2.7", "HTTP_X_FORWARDED_FOR": "10.0.0.1"})
    '192.0.2.7'
    >>> client_address({"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "10.9.9.9, 198.51.100.4"}, ("127.0.0.1",))
    '198.51.100.4'
    """
    peer = environ.get("REMOTE_ADDR") or None
    if peer in trusted_proxies:
        forwarded = environ.get("HTTP_X_FORWARDED_FOR", "").rsplit(",", 1)[-1].strip()
        return forwarded or peer
    return peer


def wsgi_response(outcome: Outcome, start_response: Callable[..., object]) -> list[bytes | bytearray]:
    """Start a WSGI response for an outcome (its headers, the CORS headers, Vary on a 200) and return its body."""
    headers = [("Content-Type", outcome.content_type), ("Content-Length", str(len(outcome.body))), *CORS_HEADERS,
               *outcome.headers]
    if outcome.status == 200:
        headers.append(("Vary", "Accept"))
    start_response(f"{outcome.status} {HTTP_STATUS_CODES.get(outcome.status, 'Unknown')}", headers)
    return [outcome.body]
