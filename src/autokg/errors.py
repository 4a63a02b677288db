"""The one error class of autokg: every message says what to fix."""

from __future__ import annotations

from pathlib import Path


class AutokgError(Exception):
    """A problem the user can fix; the message names the file and line, or the parameter.

    >>> str(AutokgError("Bad syntax", path=Path("data/x.ttl"), line=3))
    'data/x.ttl:3: Bad syntax'
    >>> str(AutokgError("Unknown format 'yaml'"))
    "Unknown format 'yaml'"
    """

    #: the exit status the CLI uses for this kind of error
    exit_status = 2

    def __init__(self, message: str, *, path: Path | str | None = None, line: int | None = None) -> None:
        self.message = message
        self.path = Path(path) if path is not None else None
        self.line = line
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line else f"{self.path}: "
        return where + self.message


class UnreadableInputError(AutokgError):
    """An input file that is missing or does not parse."""


class SettingError(AutokgError, ValueError):
    """A server setting (flag, AUTOKG_* variable or instance file) whose value cannot be used."""
