"""The server's settings, in one table: each one's default, type, bounds, meaning and flag.

The table makes the `autokg serve` flags (and `--root`, which every command takes), the AUTOKG_<NAME> environment
variables, the Flask config keys and docs/configuration.md (`autokg settings --markdown`). A value is taken from,
highest first: a flag, the environment, the settings file, the default.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from autokg import resources
from autokg.errors import SettingError

CPUS = max(2, os.cpu_count() or 2)
#: where the settings file is looked for when CONFIG names none, under the project root (a checkout, or --root)
DEFAULT_CONFIG = Path("instance") / "autokg.cfg"
LIST = "list"


@dataclass(frozen=True)
class Setting:
    """One setting: NAME is its Flask config key, AUTOKG_NAME its environment variable, `flag` its option."""

    name: str
    default: object
    help: str
    flag: str
    kind: type | str = str  # int, float, str, or LIST (a comma- or space-separated list, a repeatable flag)
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    metavar: str | None = None
    #: the default as the documentation states it, where it depends on the machine
    shown: str | None = None
    #: the commands whose flag it is: `autokg serve`, or all of them (a flag of `autokg` itself)
    scope: str = "serve"

    @property
    def variable(self) -> str:
        """The environment variable that sets it."""
        return f"AUTOKG_{self.name}"

    @property
    def dest(self) -> str:
        """The argparse destination of its flag."""
        return self.name.lower()

    def coerce(self, value: object) -> object:
        """The value converted to the setting's type and checked against its bounds; raises SettingError naming it."""
        if self.kind == LIST:
            return split_list(value, self.name)
        if self.kind is str:
            if not isinstance(value, (str, Path)):
                self.refuse(value)
            text = str(value).lower() if self.choices else str(value)
            if self.choices and text not in self.choices:
                self.refuse(value)
            return text
        number = self.number(value)
        if (self.minimum is not None and number < self.minimum) or (self.maximum is not None and number > self.maximum):
            self.refuse(value)
        if self.kind is float and self.minimum == 0 and number == 0:
            self.refuse(value)
        return number

    def number(self, value: object) -> int | float:
        """The value as the setting's kind of number."""
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.refuse(value)
        try:
            number = self.kind(value.strip() if isinstance(value, str) else value)  # type: ignore[operator]
        except (TypeError, ValueError, OverflowError):
            self.refuse(value)
        if (self.kind is int and isinstance(value, float) and value != number) or not math.isfinite(number):
            self.refuse(value)  # nan compares false with every bound, so it is refused here
        return number

    def wanted(self) -> str:
        """What the setting takes, in words."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.kind == LIST:
            return f"a list of {self.placeholder}s"
        if self.kind is str:
            return "a string"
        if self.kind is float and self.minimum == 0:
            return f"a positive, finite number of {self.unit or 'units'}"
        noun = f"a number of {self.unit}" if self.unit else ("a whole number" if self.kind is int else "a finite number")
        if self.minimum is not None and self.maximum is not None:
            return f"{noun} from {self.minimum:g} to {self.maximum:g}"
        return f"{noun}, at least {self.minimum:g}" if self.minimum is not None else noun

    def refuse(self, value: object) -> None:
        """Raise the SettingError that names the setting, what it takes and the value given."""
        raise SettingError(f"setting {self.name}: give {self.wanted()}, not {value if isinstance(value, str) else repr(value)}")

    @property
    def placeholder(self) -> str:
        """What stands for the value after the flag, in the help and the documentation."""
        return self.metavar or "|".join(self.choices) or ("N" if self.kind in (int, float) else "VALUE")

    @property
    def unit(self) -> str:
        """What the number counts, from the flag's metavar."""
        return {"SECONDS": "seconds", "BYTES": "bytes", "MIB": "MiB", "CONNECTIONS": "connections"}.get(self.metavar or "", "")


def split_list(value: object, name: str = "") -> tuple[str, ...]:
    """A list of IRIs (the SERVICE allow-list, the backend's graphs) from a comma- or space-separated string, or a list."""
    if isinstance(value, str):
        items = value.replace(",", " ").split()
    elif isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        items = [part for item in value for part in item.replace(",", " ").split()]
    else:
        raise SettingError(f"setting {name}: give a comma-separated string or a list of strings, not {value!r}")
    return tuple(item.strip() for item in items if item.strip())


def positive(name: str, default: float, help: str, flag: str) -> Setting:
    """A number of seconds greater than 0."""
    return Setting(name, default, help, flag, float, minimum=0.0, metavar="SECONDS")


SETTINGS: tuple[Setting, ...] = (
    Setting("HOST", "127.0.0.1", "address to listen on", "--host", metavar="ADDRESS"),
    Setting("PORT", 7878, "port to listen on (0: any free port)", "--port", int, 0, 65535),
    Setting("WORKERS", CPUS, "worker processes", "--workers", int, 1, shown="the number of CPUs, at least 2"),
    Setting("THREADS", 4, "request threads per worker, which take turns; a thread waiting for a long query lets "
            "another in", "--threads", int, 1),
    Setting("CLIENT_THREADS", 0, "of a worker's threads for long requests (receiving bodies, waiting for queries, "
            "rendering pages: all but one of its threads), how many one client may hold at once; past it, 429 (0: all "
            "but one of them, at least 1)", "--client-threads", int, 0),
    Setting("TRUSTED_PROXIES", (), "addresses of the proxies in front, whose X-Forwarded-For names the client that "
            "--client-threads and --client-queries count (a repeated flag, or a comma-separated variable; empty: the peer is the client)",
            "--trusted-proxy", LIST, metavar="ADDRESS"),
    Setting("QUERY_SLOTS", CPUS, "queries evaluated at once by the whole server, each in a child process; more wait "
            "within their timeout", "--query-slots", int, 1, shown="the number of CPUs, at least 2"),
    Setting("QUERY_QUEUE", CPUS, "queries that may wait for a slot, server-wide; one more is answered 503 with "
            "Retry-After at once", "--query-queue", int, 0, shown="the number of CPUs, at least 2"),
    Setting("CLIENT_QUERIES", 0, "of the query slots and queue places that a query may take (all of them, or for a "
            "heavy query the heavy slots and their share of the queue), how many one client's queries may hold at once, "
            "server-wide; past it, 429 (0: no share, a client's queries may take them all)", "--client-queries", int, 0),
    Setting("QUERY_HEAVY_SLOTS", 0, "query slots that heavy queries may hold at once, so that the others stay free "
            "for cheap queries and pages (0: all but one, at least 1)", "--query-heavy-slots", int, 0),
    positive("QUERY_HEAVY_SECONDS", 1.0, "a query is heavy when it took this long or longer the last time its worker "
             "ran it", "--query-heavy-seconds"),
    Setting("QUERY_MEMORY", 0, "working memory a query may take in its child, past which it gets 422 (0: a share of "
            "the machine's memory, 256 MiB to 4 GiB)", "--query-memory", int, 0, metavar="MIB"),
    positive("TIMEOUT", 30.0, "query timeout: a query running longer is stopped and answered 503", "--timeout"),
    Setting("MAX_ROWS", 100_000, "row cap of an answer (past it, 422)", "--max-rows", int, 1),
    Setting("MAX_RESULT_BYTES", 64 * 1024 * 1024, "size cap of an answer (past it, 422)", "--max-result-bytes", int, 1,
            metavar="BYTES"),
    Setting("MAX_CONTENT_LENGTH", 1024 * 1024, "request body cap (past it, 413)", "--max-body", int, 1, metavar="BYTES"),
    Setting("SERVICE_ALLOW_LIST", ("https://query.wikidata.org/sparql",), "the endpoints SERVICE may call (a repeated "
            "flag, or a comma-separated variable; empty: none)", "--allow-service", LIST, metavar="URL"),
    Setting("STORE", "memory", "serve the embedded store from memory, or from its files on disk", "--store",
            choices=("memory", "disk")),
    Setting("DATASET", "", "serve this N-Quads file instead of the project's build (benchmarks)", "--dataset",
            metavar="FILE"),
    Setting("BACKEND", "", "serve from this SPARQL endpoint instead of the embedded store (load it with "
            "`autokg push`); empty: the embedded store", "--backend", metavar="URL"),
    Setting("BACKEND_GRAPHS", (), "further graphs of the backend that join the part graphs in the default graph "
            "(a merged Wikidata slice, say; repeatable)", "--backend-graph", LIST, metavar="IRI"),
    Setting("PUBLIC_BASE", "", "the base the IRIs are published under when deployed behind it, e.g. "
            "https://w3id.org/autokg/ (pages then link to canonical IRIs); empty: local paths", "--public-base",
            metavar="URL"),
    Setting("LOG_LEVEL", "info", "granian's log level; above info, the access log is off", "--log-level",
            choices=("critical", "error", "warning", "warn", "info", "debug", "notset")),
    Setting("BACKLOG", 8192, "connections served at once, idle ones included, shared by the workers (the kernel "
            "caps the queue of the others at net.core.somaxconn)", "--backlog", int, 128, 65535, metavar="CONNECTIONS"),
    positive("HEADER_TIMEOUT", 10.0, "seconds a client has to send a request's headers, and an idle kept-alive "
             "connection stays open", "--header-timeout"),
    Setting("ROOT", "", "the project whose data is served (empty: this checkout, else the installed package's copy)",
            "--root", metavar="DIR", scope="all"),
    Setting("CONFIG", "", f"the settings file (empty: {DEFAULT_CONFIG} under the project root, if it is there)",
            "--config", metavar="FILE"),
)
BY_NAME = {setting.name: setting for setting in SETTINGS}
#: settings that can only come from a flag or the environment: they say where the file is
BEFORE_FILE = ("CONFIG",)


def defaults() -> dict[str, object]:
    """Every setting's default value."""
    return {s.name: s.default for s in SETTINGS}


def coerce_setting(name: str, value: object) -> object:
    """A setting's value converted to its type; raises SettingError (a ValueError) naming the setting.

    >>> coerce_setting("TIMEOUT", "nan")
    Traceback (most recent call last):
    autokg.errors.SettingError: setting TIMEOUT: give a positive, finite number of seconds, not nan
    >>> coerce_setting("SERVICE_ALLOW_LIST", "https://a.example/sparql, https://b.example/sparql")
    ('https://a.example/sparql', 'https://b.example/sparql')
    """
    if name not in BY_NAME:
        raise SettingError(f"unknown setting {name}: the settings are {', '.join(BY_NAME)}")
    return BY_NAME[name].coerce(value)


def environment_settings(environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """Settings given as AUTOKG_<NAME> environment variables."""
    environ = os.environ if environ is None else environ
    return {s.name: s.coerce(environ[s.variable]) for s in SETTINGS if s.variable in environ}


def config_file(explicit: Mapping[str, object], environment: Mapping[str, object]) -> Path | None:
    """The settings file: CONFIG from a flag or the environment, else instance/autokg.cfg under the project root
    (--root, $AUTOKG_ROOT, or the checkout this package runs from) when it is there, else none."""
    named = explicit.get("CONFIG") or environment.get("CONFIG")
    if named:
        return Path(str(named))
    root = explicit.get("ROOT") or environment.get("ROOT") or resources.checkout_root()
    candidate = Path(str(root)) / DEFAULT_CONFIG if root else None
    return candidate if candidate is not None and candidate.is_file() else None


def file_settings(path: Path) -> dict[str, object]:
    """The settings a settings file sets: a Python file of `NAME = value` lines, as Flask's from_pyfile reads.

    Raises SettingError naming the file (and line) when it cannot be read or run, or sets a name that is not a
    setting (a misspelt one would be ignored without a word).
    """
    try:
        source = path.read_bytes()
    except OSError as error:
        raise SettingError(f"cannot read the settings file ({error.strerror})", path=path) from None
    namespace: dict[str, object] = {"__file__": str(path)}
    try:
        exec(compile(source, str(path), "exec"), namespace)  # noqa: S102 - the operator's own file, as Flask reads it
    except Exception as error:  # a settings file may fail in any way: say where
        line = getattr(error, "lineno", None) or line_of(error, path)
        raise SettingError(f"the settings file does not run: {type(error).__name__}: {error}", path=path, line=line) from None
    given = {name: value for name, value in namespace.items() if name.isupper()}
    for name in given:
        if name not in BY_NAME or name in BEFORE_FILE:
            where = "is not a setting" if name not in BY_NAME else "cannot be set in the settings file"
            raise SettingError(f"{name} {where}; the settings are {', '.join(n for n in BY_NAME if n not in BEFORE_FILE)}",
                               path=path, line=assignment_line(source, name))
    values = {}
    for name, value in given.items():
        try:
            values[name] = BY_NAME[name].coerce(value)
        except SettingError as error:
            raise SettingError(error.message, path=path, line=assignment_line(source, name)) from None
    return values


def line_of(error: BaseException, path: Path) -> int | None:
    """The line of the settings file where an error was raised, from its traceback."""
    frame = error.__traceback__
    line = None
    while frame is not None:
        if frame.tb_frame.f_code.co_filename == str(path):
            line = frame.tb_lineno
        frame = frame.tb_next
    return line


def assignment_line(source: bytes, name: str) -> int | None:
    """The first line of a settings file that assigns `name`."""
    for number, text in enumerate(source.decode("utf-8", "replace").splitlines(), 1):
        if text.split("=", 1)[0].strip() == name:
            return number
    return None


def resolve(explicit: Mapping[str, object], environ: Mapping[str, str] | None = None) -> tuple[dict[str, object], dict[str, str]]:
    """Every setting's value, and where each came from: a flag (`explicit`), the environment, the file, the default.

    Keys of `explicit` that are not settings (TESTING, say) pass through as they are.
    """
    given = {name: coerce_setting(name, value) if name in BY_NAME else value for name, value in explicit.items()}
    environment = environment_settings(environ)
    path = config_file(given, environment)
    layers = [("default", defaults()), (f"file {path}", file_settings(path) if path else {}),
              ("environment", environment), ("flag", given)]
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    for source, layer in layers:
        values.update(layer)
        sources.update(dict.fromkeys(layer, source))
    values["CONFIG"] = str(path or "")
    return values, sources


def add_flags(parser: argparse.ArgumentParser, scope: str) -> None:
    """The flags of the settings of `scope` ("serve", "all"); an absent flag is None, so that it overrides nothing."""
    for setting in SETTINGS:
        if setting.scope != scope:
            continue
        default = setting.shown or (", ".join(setting.default) if isinstance(setting.default, tuple) else setting.default)
        parser.add_argument(setting.flag, dest=setting.dest, metavar=setting.placeholder,
                            action="append" if setting.kind == LIST else "store",
                            help=f"{setting.help} (default: {default if default != '' else 'empty'}; ${setting.variable})")


def flag_values(args: argparse.Namespace) -> dict[str, object]:
    """The settings given as flags on a command line."""
    return {s.name: getattr(args, s.dest) for s in SETTINGS if getattr(args, s.dest, None) is not None}


#: options of `autokg serve` that are not settings
COMMAND_OPTIONS = {"-h, --help": "list the flags with their defaults and variables, and exit"}
EXAMPLE_FILE = '''TIMEOUT = 10.0
MAX_ROWS = 20_000
SERVICE_ALLOW_LIST = ["https://query.wikidata.org/sparql"]
'''


def shown_default(setting: Setting) -> str:
    """A setting's default as the documentation states it."""
    if setting.shown:
        return setting.shown
    value = ", ".join(setting.default) if isinstance(setting.default, tuple) else str(setting.default)
    return f"`{value}`" if value else "empty"


def settings_markdown() -> str:
    """docs/configuration.md: the settings, their flags, variables, defaults and bounds, and the settings file."""
    rows = []
    for s in SETTINGS:
        flag = f"`{s.flag} {s.placeholder}`".replace("|", "\\|")
        if s.scope == "all":
            flag = f"`autokg {s.flag} {s.metavar}` (every command)"
        elif s.kind == LIST:
            flag += " (repeatable)"
        rows.append(f"| `{s.name}` | {flag} | `{s.variable}` | {shown_default(s)} | {s.wanted()} | {s.help} |")
    options = [f"| `{names}` | {meaning} |" for names, meaning in COMMAND_OPTIONS.items()]
    return "\n".join([
        "# Configuration",
        "",
        "<!-- generated from src/autokg/settings.py by `autokg settings --markdown > docs/configuration.md`; edit the",
        "table there: tests/project/test_settings.py fails when this page differs from it -->",
        "",
        "`autokg serve` takes each setting from the first of these that gives it:",
        "",
        "1. its flag: `autokg serve --timeout 10`;",
        "2. the environment variable `AUTOKG_<NAME>`: `AUTOKG_TIMEOUT=10 autokg serve`;",
        "3. the settings file (below);",
        "4. the default.",
        "",
        "The Flask config key of a setting is its name (`app.config[\"TIMEOUT\"]`), and `create_app(config)` takes",
        "a mapping of them as the flags. `autokg settings`, with the same flags as `autokg serve`, prints the value",
        "each setting would have and where it came from. A value a setting cannot take (`--timeout nan`, a backlog",
        "under 128, a misspelt name in the settings file) stops `autokg serve` before anything starts, with exit",
        "status 2 and a message naming the setting.",
        "",
        "## The settings file",
        "",
        "A Python file of `NAME = value` lines, as Flask's `from_pyfile` reads it:",
        "",
        "```python",
        EXAMPLE_FILE.rstrip("\n"),
        "```",
        "",
        "autokg reads the file that `--config FILE` or `AUTOKG_CONFIG` names, which must exist; else",
        f"`{DEFAULT_CONFIG.as_posix()}` under the project root when it is there: the root of the checkout autokg runs",
        "from, or the folder that `--root` or `AUTOKG_ROOT` names. An installed wheel has no root of its own to look",
        "in: name the file with `--config` or `AUTOKG_CONFIG`. The file sets any setting but `CONFIG`; a name that",
        "is not a setting is refused with the file and line, so that a misspelt one is not ignored.",
        "",
        "## Settings",
        "",
        "List settings take a repeated flag, a comma- or space-separated variable, or a list in the file.",
        "",
        "| setting | flag | environment variable | default | takes | what it does |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        "## Options of `autokg serve` that are not settings",
        "",
        "| option | what it does |",
        "|---|---|",
        *options,
        "",
    ])
