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
