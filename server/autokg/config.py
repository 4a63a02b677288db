"""Configuration, read in one place: where the project's files are and which of them make the dataset."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: the package lives in <root>/server/autokg, so the project root is two levels up
DEFAULT_ROOT = Path(__file__).resolve().parents[2]

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


@dataclass(frozen=True)
class ProjectFiles:
    """The files that make up the dataset, grouped by the part they belong to."""

    root: Path

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
    """The project's files, under `root`, else $AUTOKG_ROOT, else the checkout this package lives in."""
    chosen = root or os.environ.get("AUTOKG_ROOT") or DEFAULT_ROOT
    return ProjectFiles(Path(chosen).resolve())


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
}


def coerce_setting(name: str, value: object) -> object:
    """A setting's value converted to the type of its default; raises ValueError naming the setting."""
    default = SERVER_DEFAULTS[name]
    if isinstance(value, str) and not isinstance(default, str):
        try:
            value = type(default)(value)
        except ValueError:
            raise ValueError(f"setting {name}: '{value}' is not a {type(default).__name__}") from None
    if name in ("PORT", "WORKERS", "THREADS", "QUERY_SLOTS", "MAX_ROWS", "MAX_RESULT_BYTES", "MAX_CONTENT_LENGTH") and int(value) < (0 if name == "PORT" else 1):
        raise ValueError(f"setting {name}: {value} is too small")
    if name == "TIMEOUT" and float(value) <= 0:
        raise ValueError(f"setting {name}: give a positive number of seconds")
    if name == "STORE" and value not in ("memory", "disk"):
        raise ValueError(f"setting {name}: use 'memory' or 'disk'")
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
