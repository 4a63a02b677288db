"""The errors of autokg, one hierarchy: every message says what to fix, every class its HTTP status and exit code.

The web answers an error with `status` (web/failures.py renders it), the CLI exits with `exit_code`.
"""

from __future__ import annotations

from pathlib import Path


class AutokgError(Exception):
    """A problem the user can fix; the message names the file and line, or the parameter.

    >>> str(AutokgError("Bad syntax", path=Path("data/x.ttl"), line=3))
    'data/x.ttl:3: Bad syntax'
    >>> str(AutokgError("Unknown format 'yaml'"))
    "Unknown format 'yaml'"
    >>> (NotFound("No such query").status, RefusedQuery("x", status=403).status, SettingError("x").exit_code)
    (404, 403, 2)
    """

    #: the HTTP status the web answers with
    status = 400
    #: the exit code of the CLI (2: bad usage or unreadable input; 1 is for findings, such as SHACL violations)
    exit_code = 2

    def __init__(self, message: str, *, path: Path | str | None = None, line: int | None = None,
                 status: int | None = None) -> None:
        self.message = message
        self.path = Path(path) if path is not None else None
        self.line = line
        if status is not None:  # a status of the same kind that this one request has (403 for an update, say)
            self.status = status
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line else f"{self.path}: "
        return where + self.message


class BadRequest(AutokgError):
    """A request that breaks the protocol, or a parameter whose value cannot be used."""


class RefusedQuery(AutokgError):
    """A query that the endpoint will not run: an update, a SERVICE call off the allow-list, a nesting too deep."""


class NotFound(AutokgError):
    """Nothing by that name: a resource, a query of the catalogue."""

    status = 404


class NotAcceptable(AutokgError):
    """No format on offer is one the client accepts."""

    status = 406


class TooLarge(AutokgError):
    """A request body, or a batch, over the cap."""

    status = 413


class Busy(AutokgError):
    """Every place for this kind of work is taken; the client may try again shortly (503 with Retry-After)."""

    status = 503


class ClientBusy(Busy):
    """This client's own earlier requests hold its share of a kind of work; it may try again once they are
    answered (429 with Retry-After)."""

    status = 429


class UnreadableInputError(AutokgError):
    """An input file that is missing or does not parse."""


class SettingError(AutokgError, ValueError):
    """A server setting (flag, AUTOKG_* variable or settings file) whose value cannot be used."""

    status = 500


class UnreachableError(AutokgError):
    """A remote server that cannot be reached or answers badly: refused connection, unknown host, broken answer."""

    status = 502


class BackendError(UnreachableError):
    """The backend store failed to answer (502; 400 when it refused the query, 422 when its answer is too large)."""
