"""What a release is made of, for data catalogues: its files with media types and checksums, in DCAT and schema.org.

The same list of distributions feeds the DCAT description written next to VoID in dist/ and the schema.org
Dataset JSON-LD that the home page embeds, so the two never disagree.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from rdflib import RDF, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, XSD

from autokg import __version__
from autokg.rdf.formats import FORMATS

DCAT = Namespace("http://www.w3.org/ns/dcat#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
VOID_NS = "http://rdfs.org/ns/void#"
DATASET = URIRef("https://w3id.org/autokg/dataset")
DIST_BASE = "https://w3id.org/autokg/dist/"
TITLE = "autokg"
DESCRIPTION = ("Relationships in the automotive industry (carmakers, technology companies, investors and governments: "
               "joint ventures, stakes, funding rounds, partnerships, brands, key figures), each with its source and a "
               "verbatim quote.")
LICENSE = "https://creativecommons.org/licenses/by/4.0/"
#: the dataset's home page: fixed, never taken from a request's Host header (the page is cached per process)
HOME = "https://w3id.org/autokg/"
KEYWORDS = ("automotive industry", "joint ventures", "linked data", "knowledge graph", "provenance")
#: file suffix -> IANA media type of a distribution: the RDF syntaxes' (rdf.formats), and the tables'
MEDIA_TYPES = {f.suffixes[0]: f.media_type for f in FORMATS if f.kind == "graph" and f.suffixes} | {
    ".json": "application/json", ".csv": "text/csv"}


@dataclass(frozen=True)
class Distribution:
    """One downloadable file of the release."""

    name: str  # path under dist/
    media_type: str
    size: int
    sha256: str

    @property
    def url(self) -> str:
        """Where the release publishes it."""
        return DIST_BASE + self.name


def distributions(dist: Path, paths: list[Path]) -> list[Distribution]:
    """The files under `dist`, sorted by name, with their media types, sizes and SHA-256 sums."""
    found = []
    for path in sorted(paths, key=lambda p: p.relative_to(dist).as_posix()):
        content = path.read_bytes()
        found.append(Distribution(path.relative_to(dist).as_posix(), MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
                                  len(content), hashlib.sha256(content).hexdigest()))
    return found


def dcat_description(files: list[Distribution]) -> Graph:
    """The dataset as a dcat:Dataset (the same IRI as its void:Dataset) with one dcat:Distribution per file."""
    graph = Graph()
    graph.bind("dcat", DCAT)
    graph.bind("dcterms", DCTERMS)
    graph.bind("spdx", SPDX)
    add = graph.add
    add((DATASET, RDF.type, DCAT.Dataset))
    add((DATASET, DCTERMS.title, Literal(TITLE, lang="en")))
    add((DATASET, DCTERMS.description, Literal(DESCRIPTION, lang="en")))
    add((DATASET, DCTERMS.license, URIRef(LICENSE)))
    add((DATASET, DCAT.version, Literal(__version__)))
    add((DATASET, DCTERMS.conformsTo, URIRef(VOID_NS)))
    for keyword in KEYWORDS:
        add((DATASET, DCAT.keyword, Literal(keyword, lang="en")))
    for item in files:
        node = URIRef(f"{DATASET}/distribution/{item.name}")
        checksum = URIRef(f"{node}/sha256")
        add((DATASET, DCAT.distribution, node))
        add((node, RDF.type, DCAT.Distribution))
        add((node, DCTERMS.title, Literal(item.name)))
        add((node, DCAT.downloadURL, URIRef(item.url)))
        add((node, DCAT.mediaType, URIRef("https://www.iana.org/assignments/media-types/" + item.media_type)))
        add((node, DCAT.byteSize, Literal(item.size, datatype=XSD.nonNegativeInteger)))
        add((node, DCTERMS.license, URIRef(LICENSE)))
        add((node, SPDX.checksum, checksum))
        add((checksum, RDF.type, SPDX.Checksum))
        add((checksum, SPDX.algorithm, SPDX.checksumAlgorithm_sha256))
        add((checksum, SPDX.checksumValue, Literal(item.sha256, datatype=XSD.hexBinary)))
    return graph


def schema_org_dataset(files: list[Distribution], home: str = HOME) -> str:
    """The schema.org Dataset JSON-LD for a page, safe inside <script> (no '<' left unescaped).

    >>> "</" in schema_org_dataset([Distribution("a.nt", "application/n-triples", 1, "00")], "http://x/</script>")
    False
    """
    dataset = {
        "@context": "https://schema.org/", "@type": "Dataset", "@id": str(DATASET),
        "name": TITLE, "description": DESCRIPTION, "license": LICENSE, "version": __version__,
        "url": home, "keywords": list(KEYWORDS), "isAccessibleForFree": True,
        "distribution": [{"@type": "DataDownload", "name": f.name, "contentUrl": f.url, "encodingFormat": f.media_type,
                          "contentSize": f"{f.size} B", "sha256": f.sha256} for f in files],
    }
    return json.dumps(dataset, ensure_ascii=False, sort_keys=True, indent=1).replace("<", "\\u003c")


def published(dist: Path) -> list[Distribution]:
    """The distributions a build listed in dist/SHA256SUMS (none before the first build), DCAT's own file included."""
    sums = dist / "SHA256SUMS"
    if not sums.is_file():
        return []
    found = []
    for line in sums.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        path = dist / name
        if path.is_file():
            found.append(Distribution(name, MEDIA_TYPES.get(path.suffix, "application/octet-stream"), path.stat().st_size, digest))
    return found
