"""Configuration, read in one place: where the project's files are and which of them make the dataset."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from autokg import resources

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

