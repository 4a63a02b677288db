"""Error answers, rendered in one place for every web path: `<status> <message>` as plain text.

Flask's error handlers and views answer with `error_response`; the WSGI middlewares below Flask (bodies, gate,
fast GET path), which have no Flask response, send `error_outcome` with access.wsgi_response. Both carry the
CORS and security headers: Flask's after_request adds them to the first, wsgi_response to the second.
"""

from __future__ import annotations

from flask import Response
from werkzeug.exceptions import HTTPException

from autokg.engine.jobs import RETRY_LATER, Outcome, text_outcome
from autokg.errors import AutokgError, Busy

#: what the errors Flask raises itself say, where Werkzeug's description does not suit a plain-text answer
HTTP_MESSAGES = {413: "The request body is larger than this endpoint accepts"}


def status_of(error: BaseException) -> int:
    """The HTTP status an error is answered with: its class's, Flask's own, 503 for a timeout, else 500.

    >>> from autokg.errors import NotFound
    >>> status_of(NotFound("x")), status_of(TimeoutError()), status_of(KeyError())
    (404, 503, 500)
    """
    if isinstance(error, AutokgError):
        return error.status
    if isinstance(error, HTTPException):
        return error.code or 500
    return 503 if isinstance(error, TimeoutError) else 500


def error_outcome(error: BaseException | int, message: str | None = None,
                  headers: tuple[tuple[str, str], ...] = ()) -> Outcome:
    """The plain-text answer to an error, or to a status with a message: `<status> <message>`.

    >>> error_outcome(404, "No resource x in this dataset").body
    b'404 No resource x in this dataset\\n'
    >>> error_outcome(Busy("Every place is taken")).headers
    (('Retry-After', '2'),)
    """
    status = error if isinstance(error, int) else status_of(error)
    if message is None:
        if isinstance(error, HTTPException):
            message = HTTP_MESSAGES.get(status, error.description)
        else:
            message = str(error)
    if isinstance(error, Busy) and not any(name == "Retry-After" for name, _ in headers):
        headers = (*headers, *RETRY_LATER)
    return text_outcome(status, f"{status} {message}", headers)


def error_response(error: BaseException | int, message: str | None = None,
                   headers: tuple[tuple[str, str], ...] = ()) -> Response:
    """The plain-text answer to an error as a Flask response (see error_outcome)."""
    outcome = error_outcome(error, message, headers)
    return Response(outcome.body, status=outcome.status, content_type=outcome.content_type, headers=outcome.headers)
