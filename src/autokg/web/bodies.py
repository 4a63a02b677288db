"""Request bodies, read before a request runs: with the executor's gate open, at most a few at once per worker,
and refused past the cap as soon as that is known.

granian hands a WSGI app the body as a stream that blocks until the client has sent it. Read inside the gate, two
clients sending 10 bytes a second stalled every request of their worker; a declared 20 MB body was read to its
end before its 413; a chunked body was cut at the cap and run. Here a body over the cap is refused (413) unread
when its length is declared, and as soon as the cap is passed when it is chunked, never truncated. A thread that
receives a body takes one of the worker's places for long requests, which it shares with the threads waiting for
queries and rendering pages (engine.gate.Allowance: one fewer than its request threads), so that clients sending
slowly cannot take every thread from the short requests (lookups, /health); one client holds at most its share
of those places, so that one client's slow bodies cannot take them from the others. When the allowance is used
up, a request with a body is answered 503 with Retry-After at once, and 429 when its client's share is.

No deadline is put on a body here: granian 2.8 froze a worker once its app answered (408) while another thread
still waited on that request's body, so a body is read to its end by the request's own thread. A deadline on
slow clients is the proxy's (client_body_timeout; see docs/deploying.md).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterable

from autokg.engine.gate import Allowance, Gate
from autokg.engine.jobs import RETRY_LATER
from autokg.web.access import AccessLog, client_address, wsgi_response
from autokg.web.failures import error_outcome

WSGIApp = Callable[[dict, Callable[..., object]], Iterable[bytes]]
CHUNK = 64 * 1024
#: a body over the cap, but no larger than this, is read and dropped before its 413 (see refuse_too_large)
DRAIN_LIMIT = 64 * 1024 * 1024


def read_body(stream: object, wanted: int) -> bytes:
    """Up to `wanted` bytes of a body stream, fewer if it ends first."""
    chunks = []
    left = wanted
    while left > 0:
        chunk = stream.read(min(left, CHUNK))  # type: ignore[attr-defined]
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


class BoundedBodies:
    """WSGI middleware: the body of every request is read whole (at most `max_bytes`) before the app sees the
    request, which then reads it from memory, by a thread that holds one of the `allowance` of long waits and
    opens the `gate` while it waits for the client."""

    def __init__(self, wsgi_app: WSGIApp, max_bytes: int, log: AccessLog, allowance: Allowance,
                 trusted_proxies: tuple[str, ...] = (), gate: Gate | None = None) -> None:
        self.wsgi_app = wsgi_app
        self.max_bytes = max_bytes
        self.log = log
        self.allowance = allowance
        self.trusted_proxies = trusted_proxies
        self.gate = gate or Gate()

    def __call__(self, environ: dict, start_response: Callable[..., object]) -> Iterable[bytes]:
        # the outermost layer: every place this request takes from here on counts to its client's share
        self.allowance.serve(client_address(environ, self.trusted_proxies))
        declared = environ.get("CONTENT_LENGTH", "")
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if not declared and not chunked:
            return self.wsgi_app(environ, start_response)
        if declared:
            if not declared.isdigit():
                return self.refuse(environ, start_response, 400, f"Content-Length '{declared[:40]}' is not a number of bytes")
            if int(declared) > self.max_bytes:
                return self.refuse_too_large(environ, start_response, int(declared))
            if int(declared) == 0:
                return self.wsgi_app(environ, start_response)
        wanted = int(declared) if declared else self.max_bytes + 1
        if not self.allowance.enter():
            return self.refuse_busy(environ, start_response)
        try:
            with self.gate.opened():
                body = read_body(environ["wsgi.input"], wanted)
        except (OSError, ValueError, RuntimeError) as error:
            return self.refuse(environ, start_response, 400, f"The request body could not be read ({error})")
        finally:
            self.allowance.leave()
        if len(body) > self.max_bytes:
            return self.refuse(environ, start_response, 413, self.too_large("more than that"))
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.wsgi_app(environ, start_response)

    def too_large(self, size: str) -> str:
        """The refusal of a body over the cap."""
        return f"The request body is {size}; this endpoint accepts at most {self.max_bytes} bytes"

    def refuse_too_large(self, environ: dict, start_response: Callable[..., object], declared: int) -> list[bytes | bytearray]:
        """A 413 for a declared length over the cap: at once to a client that waits for `100 Continue` before it
        sends the body, else once up to DRAIN_LIMIT of the body it is sending has been read and dropped.

        A client still sending when the connection closes under it gets a reset, and loses the answer with it.
        """
        if "100-continue" not in environ.get("HTTP_EXPECT", "").lower() and declared <= DRAIN_LIMIT:
            if not self.allowance.enter():
                return self.refuse_busy(environ, start_response)
            try:
                with self.gate.opened(), contextlib.suppress(OSError, ValueError, RuntimeError):
                    while environ["wsgi.input"].read(CHUNK):
                        pass
            finally:
                self.allowance.leave()
        return self.refuse(environ, start_response, 413, self.too_large(f"{declared} bytes"))

    def refuse_busy(self, environ: dict, start_response: Callable[..., object]) -> list[bytes | bytearray]:
        """A 503 with Retry-After: every thread this worker allows for long waits is receiving a body or waiting
        for a query (429 when this client's own requests hold its share of them)."""
        refusal = self.allowance.refusal()
        return self.refuse(environ, start_response, refusal.status, str(refusal), RETRY_LATER)

    def refuse(self, environ: dict, start_response: Callable[..., object], status: int, message: str,
               headers: tuple[tuple[str, str], ...] = ()) -> list[bytes | bytearray]:
        """Answer with a plain-text error and close the connection, whose body was not read to its end."""
        self.log.write(environ.get("REQUEST_METHOD", "-"), environ.get("PATH_INFO", "-"), status, 0.0, "-", "-")
        outcome = error_outcome(status, message, (("Connection", "close"), *headers))
        return wsgi_response(outcome, start_response)
