"""Configuration, read in one place: where the project's files are and which of them make the dataset."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from autokg import resources
from autokg.errors import SettingError

ONTOLOGY_NS = "https://w3id.org/autokg/ontology#"
VOCAB_NS = "https://w3id.org/autokg/vocab/"
RESOURCE_NS = "https://w3id.org/autokg/id/"
SHAPES_NS = "https://w3id.org/autokg/shapes#"
WIKIDATA_ENTITY_NS = "http://www.wikidata.org/entity/"

#: the prefixes autokg writes and reads compact names with: reports, artefacts, query answers
PREFIXES = {
    "akg": ONTOLOGY_NS,
    "akgv": VOCAB_NS,
    "akr": RESOURCE_NS,
    "akgsh": SHAPES_NS,
    "wd": WIKIDATA_ENTITY_NS,
    "schema": "https://schema.org/",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dcterms": "http://purl.org/dc/terms/",
    "void": "http://rdfs.org/ns/void#",
    "sh": "http://www.w3.org/ns/shacl#",
}


def prologue(names: tuple[str, ...] | None = None) -> str:
    """SPARQL or Turtle PREFIX lines for `names` (default: every prefix), in PREFIXES' order.

    >>> print(prologue(("akg",)), end="")
    PREFIX akg: <https://w3id.org/autokg/ontology#>
    """
    return "".join(f"PREFIX {name}: <{iri}>\n" for name, iri in PREFIXES.items() if names is None or name in names)


def compact(iri: str) -> tuple[str, str] | None:
    """(prefix, local name) of an IRI under one of PREFIXES, or None.

    >>> compact("https://w3id.org/autokg/id/nio"), compact("http://example.org/x")
    (('akr', 'nio'), None)
    """
    for name, namespace in PREFIXES.items():
        if iri.startswith(namespace):
            return name, iri[len(namespace):]
    return None


@dataclass(frozen=True)
class ProjectFiles:
    """The files that make up the dataset, grouped by the part they belong to."""

    root: Path
    #: where `autokg build` writes (default: <root>/dist; resources.build_folder says where for the package's copy)
    dist: Path | None = None

    def __post_init__(self) -> None:
        if self.dist is None:
            object.__setattr__(self, "dist", self.root / "dist")

    @property
    def ontology(self) -> list[Path]:
        """The OWL ontology (without the SKOS vocabularies and the alignment)."""
        return [self.root / "ontology" / "autokg.ttl"]

    @property
    def vocabularies(self) -> list[Path]:
        """The SKOS concept schemes."""
        return [self.root / "ontology" / "vocab.ttl"]

    @property
    def alignment(self) -> list[Path]:
        """SKOS mappings to FIBO, GLEIF, schema.org and Wikidata."""
        return [self.root / "ontology" / "alignment.ttl"]

    @property
    def shapes(self) -> list[Path]:
        """The SHACL shapes."""
        return sorted((self.root / "shapes").glob("*.ttl"))

    @property
    def data(self) -> list[Path]:
        """The instance data: entities, sources and one file per article."""
        data = self.root / "data"
        return [data / "entities.ttl", data / "sources.ttl"] + sorted((data / "articles").glob("*.ttl"))

    @property
    def wikidata_reference(self) -> Path:
        """The list of Wikidata identifiers, with those that may be linked marked verified."""
        return self.root / "data" / "reference" / "wikidata.tsv"

    @property
    def queries(self) -> Path:
        """The folder of competency queries."""
        return self.root / "queries"

    @property
    def source_texts(self) -> Path:
        """The folder that holds the article texts."""
        return self.root / "data" / "sources"

    def turtle_files(self) -> list[Path]:
        """Every Turtle file that the project maintains by hand."""
        return self.ontology + self.vocabularies + self.alignment + self.shapes + self.data


def project_files(root: Path | str | None = None) -> ProjectFiles:
    """The project's files, under `root`, else $AUTOKG_ROOT, else the checkout this package lives in, else the
    copy the installed package carries; raises AutokgError when there is none."""
    chosen = Path(root or os.environ.get("AUTOKG_ROOT") or resources.project_root()).resolve()
    return ProjectFiles(chosen, resources.build_folder(chosen))


#: server settings and their defaults; each can be set by an AUTOKG_<NAME> environment variable,
#: an `autokg serve` flag, or the instance file instance/autokg.cfg (in that order of precedence:
#: flag > environment > instance file > default)
SERVER_DEFAULTS: dict[str, object] = {
    "HOST": "127.0.0.1",
    "PORT": 7878,
    "WORKERS": max(2, os.cpu_count() or 2),
    # threads per worker that answer requests, one at a time (a thread waiting for a long query lets another in)
    "THREADS": 4,
    # queries evaluated at once by the whole server (each in a child process); more wait, within their timeout
    "QUERY_SLOTS": max(2, os.cpu_count() or 2),
    # queries that may wait for a slot, server-wide; one more is answered 503 with Retry-After at once
    "QUERY_QUEUE": max(2, os.cpu_count() or 2),
    # MiB of working memory a query may take in its child (0: a share of the machine's memory, 256 MiB to 4 GiB)
    "QUERY_MEMORY": 0,
    "TIMEOUT": 30.0,
    "MAX_ROWS": 100_000,
    "MAX_RESULT_BYTES": 64 * 1024 * 1024,
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    # SERVICE may call these endpoints only; the Wikidata Query Service alone by default
    "SERVICE_ALLOW_LIST": "https://query.wikidata.org/sparql",
    "STORE": "memory",
    # a remote SPARQL endpoint to serve instead of the embedded store (empty: the embedded store)
    "BACKEND": "",
    # further graphs of the backend that join the part graphs in the default graph (a merged Wikidata slice, say)
    "BACKEND_GRAPHS": "",
    "DATASET": "",
    "LOG_LEVEL": "info",
    # the public base the dataset's IRIs live under when this server is deployed behind it (for
    # example https://w3id.org/autokg/): pages then link to canonical IRIs; empty links to local paths
    "PUBLIC_BASE": "",
    # connections the server accepts at once, idle ones included (granian's backlog; each worker takes its share,
    # and the kernel caps the queue of connections not yet accepted at net.core.somaxconn)
    "BACKLOG": 8192,
    # seconds a client has to send a request's headers, and an idle kept-alive connection stays open
    "HEADER_TIMEOUT": 10.0,
}
#: the bounds of BACKLOG: granian takes at least 128; the kernel and the file descriptors limit the rest
MIN_BACKLOG, MAX_BACKLOG = 128, 65535


def coerce_setting(name: str, value: object) -> object:
    """A setting's value converted to the type of its default; raises SettingError (a ValueError) naming the setting.

    >>> coerce_setting("TIMEOUT", "nan")
    Traceback (most recent call last):
    autokg.errors.SettingError: setting TIMEOUT: give a positive, finite number of seconds, not nan
    """
    default = SERVER_DEFAULTS[name]
    if isinstance(value, str) and not isinstance(default, str):
        try:
            value = type(default)(value)
        except ValueError:
            raise SettingError(f"setting {name}: '{value}' is not a {type(default).__name__}") from None
    if name in ("PORT", "WORKERS", "THREADS", "QUERY_SLOTS", "MAX_ROWS", "MAX_RESULT_BYTES", "MAX_CONTENT_LENGTH") and int(value) < (0 if name == "PORT" else 1):
        raise SettingError(f"setting {name}: {value} is too small")
    if name in ("QUERY_QUEUE", "QUERY_MEMORY") and int(value) < 0:
        raise SettingError(f"setting {name}: {value} is negative")
    if name in ("TIMEOUT", "HEADER_TIMEOUT") and not 0 < float(value) < float("inf"):  # nan compares false
        raise SettingError(f"setting {name}: give a positive, finite number of seconds, not {value}")
    if name == "BACKLOG" and not MIN_BACKLOG <= int(value) <= MAX_BACKLOG:
        raise SettingError(f"setting {name}: give a number of connections from {MIN_BACKLOG} to {MAX_BACKLOG}, not {value}")
    if name == "STORE" and value not in ("memory", "disk"):
        raise SettingError(f"setting {name}: use 'memory' or 'disk'")
    return value


def environment_settings(environ: dict[str, str] | None = None) -> dict[str, object]:
    """Settings given as AUTOKG_<NAME> environment variables."""
    environ = os.environ if environ is None else environ
    found = {}
    for name in SERVER_DEFAULTS:
        if f"AUTOKG_{name}" in environ:
            found[name] = coerce_setting(name, environ[f"AUTOKG_{name}"])
    return found


def allow_list(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """A list of IRIs (the SERVICE allow-list, the backend's graphs) from a comma- or space-separated string, or a list."""
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value)
    return tuple(item.strip() for item in items if item.strip())
