"""Adding an article: scaffold its text, source node and article file, and check quotes against the text.

`docs/contributing-data.md` walks through the steps; these functions do the two that are mechanical.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from datetime import date
from difflib import SequenceMatcher
from pathlib import Path

from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF, RDFS, XSD

from autokg.config import ONTOLOGY_NS, PREFIXES, RESOURCE_NS, ProjectFiles
from autokg.errors import AutokgError
from autokg.rdf.loading import parse_rdf_file
from autokg.rdf.turtle import canonical_turtle

AKG = Namespace(ONTOLOGY_NS)
AKR = Namespace(RESOURCE_NS)
SCHEMA = Namespace("https://schema.org/")
SLUG = re.compile(r"^[a-z0-9]+(?:--?[a-z0-9]+)*$")
#: the prefixes an empty article file declares, as the existing ones do
ARTICLE_PREFIXES = ("akg", "akgv", "akr", "rdfs", "schema", "xsd")


@dataclass(frozen=True)
class Scaffold:
    """What `add_article` wrote."""

    number: str
    text: Path
    article: Path
    source: str


@dataclass(frozen=True)
class QuoteProblem:
    """A quote that is not in its source's text, where it is, and the closest passage of the text."""

    path: Path
    line: int
    evidence: str
    quote: str
    closest: str


def next_number(files: ProjectFiles) -> str:
    """The next free article number, three digits: one past the highest text or article file."""
    taken = [int(p.name[:3]) for p in list(files.source_texts.glob("*.txt")) + list((files.root / "data" / "articles").glob("*.ttl"))
             if p.name[:3].isdigit()]
    return f"{max(taken, default=-1) + 1:03d}"


def add_article(files: ProjectFiles, text_path: Path, headline: str | None, published: str | None, url: str | None,
                publisher: str | None, language: str = "en") -> Scaffold:
    """Copy the text under data/sources/, add its akg:SourceDocument to data/sources.ttl and an empty article file.

    Raises AutokgError, and writes nothing, when the text is missing, empty or not UTF-8, when it is already in
    the dataset, or when the date or the publisher slug is malformed.
    """
    if not text_path.is_file():
        raise AutokgError(f"{text_path}: no such file")
    content = text_path.read_bytes()
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise AutokgError(f"{text_path}: not UTF-8 text (byte {error.start})") from None
    if not text.strip():
        raise AutokgError(f"{text_path}: the text is empty")
    digest = hashlib.sha256(content).hexdigest()[:16]
    for existing in files.source_texts.glob("*.txt"):
        if existing.read_bytes() == content:
            raise AutokgError(f"{text_path}: this text is already in the dataset as {existing.relative_to(files.root)}")
    if published is not None:
        try:
            date.fromisoformat(published)
        except ValueError:
            raise AutokgError(f"--published {published!r}: give the date as YYYY-MM-DD") from None
    if publisher is not None and not SLUG.match(publisher):
        raise AutokgError(f"--publisher {publisher!r}: give the slug of an entity (lowercase letters, digits, hyphens)")
    number = next_number(files)
    source_id = f"{number}_{digest}"
    source = AKR[f"source-{number}"]
    sources_file = files.root / "data" / "sources.ttl"
    graph = parse_rdf_file(sources_file)
    graph.add((source, RDF.type, AKG.SourceDocument))
    graph.add((source, RDF.type, SCHEMA.Article))
    graph.add((source, RDFS.label, Literal(headline or f"Article {number} (untitled)", lang="en")))
    if headline:
        graph.add((source, SCHEMA.headline, Literal(headline, lang="en")))
    if published:
        graph.add((source, SCHEMA.datePublished, Literal(published, datatype=XSD.date)))
    if url:
        graph.add((source, SCHEMA.url, Literal(url, datatype=XSD.anyURI)))
    if publisher:
        graph.add((source, SCHEMA.publisher, AKR[publisher]))
    graph.add((source, SCHEMA.inLanguage, Literal(language)))
    graph.add((source, AKG.sourceId, Literal(source_id)))
    graph.add((source, AKG.textFile, Literal(f"data/sources/{source_id}.txt")))
    text_target = files.source_texts / f"{source_id}.txt"
    article = files.root / "data" / "articles" / f"{number}.ttl"
    shutil.copyfile(text_path, text_target)
    sources_file.write_text(canonical_turtle(graph), encoding="utf-8")
    article.write_text("".join(f"PREFIX {p}: <{PREFIXES[p]}>\n" for p in ARTICLE_PREFIXES) + "\n", encoding="utf-8")
    return Scaffold(number, text_target, article, f"source-{number}")


def quote_line(lines: list[str], quote: str) -> int:
    """The 1-based line of the file on which a quote's literal starts (0 if not found)."""
    head = quote[:40].replace("\\", "\\\\").replace('"', '\\"')
    for number, line in enumerate(lines, 1):
        if head and head in line:
            return number
    return 0


def closest_passage(text: str, quote: str) -> str:
    """The passage of `text` most like `quote`, as long as the quote, to show what differs."""
    if not text or not quote:
        return ""
    matcher = SequenceMatcher(None, text, quote, autojunk=False)
    block = matcher.find_longest_match(0, len(text), 0, len(quote))
    start = max(0, block.a - block.b)
    return text[start:start + len(quote)]


def check_quotes(files: ProjectFiles, paths: list[Path] | None = None) -> tuple[int, list[QuoteProblem]]:
    """Every akg:quote in `paths` (default: the data files) against its source's text: (quotes read, problems).

    The sources are looked up in data/sources.ttl, so a new article file can be checked on its own.
    Raises AutokgError when a file cannot be parsed.
    """
    sources = parse_rdf_file(files.root / "data" / "sources.ttl")
    texts: dict[URIRef, str] = {}
    for source, name in sources.subject_objects(AKG.textFile):
        path = files.root / str(name)
        texts[source] = path.read_text(encoding="utf-8") if path.is_file() else ""
    checked, problems = 0, []
    for path in paths or files.data:
        graph: Graph = parse_rdf_file(path)
        lines = path.read_text(encoding="utf-8").splitlines()
        for evidence, quote in sorted(graph.subject_objects(AKG.quote)):
            checked += 1
            source = graph.value(evidence, AKG.source)
            text = texts.get(source, "") if source is not None else ""
            if str(quote) not in text or not text:
                why = "" if text else f" (its akg:source {source} has no text)"
                problems.append(QuoteProblem(path, quote_line(lines, str(quote)), str(evidence).removeprefix(RESOURCE_NS) + why,
                                             str(quote), closest_passage(text, str(quote))))
    return checked, problems
