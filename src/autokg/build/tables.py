"""The dataset as tables: a Frictionless Data Package of CSV files for readers who never write SPARQL.

One table of entities, one per relationship type (parties, qualifiers, status, the strongest certainty, the
first quote and its source) and one of evidence. Rows and columns are sorted, so the same data always gives
the same bytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from rdflib import RDF, RDFS, Graph, Literal, URIRef
from rdflib.namespace import SKOS, XSD

from autokg import __version__
from autokg.build import release
from autokg.build.statistics import instances, subclasses
from autokg.config import ONTOLOGY_NS, RESOURCE_NS, VOCAB_NS, WIKIDATA_ENTITY_NS
from autokg.rdf.loading import Project

SCHEMA = "https://schema.org/"
AKG_PARTY = URIRef(ONTOLOGY_NS + "party")
#: separates several values in one cell
SEPARATOR = " | "
#: strongest first: a relationship's certainty column is the strongest of its evidence's
CERTAINTIES = ("confirmed", "reported", "rumoured", "denied")
#: properties not written as qualifier columns (they have their own columns or tables)
NOT_QUALIFIERS = {str(RDF.type), str(RDFS.label), ONTOLOGY_NS + "evidence"}
#: qualifiers whose values are schema:MonetaryAmount nodes, flattened to value, lower bound and currency
MONEY = {"amount", "convertedAmount", "valuation"}
LICENSE = {"name": "CC-BY-4.0", "path": release.LICENSE, "title": "Creative Commons Attribution 4.0"}


@dataclass
class Table:
    """One CSV file: its name, a description, and its fields with types and descriptions."""

    name: str
    description: str
    fields: list[dict[str, str]] = field(default_factory=list)
    rows: list[dict[str, str]] = field(default_factory=list)
    primary_key: list[str] = field(default_factory=list)
    foreign_keys: list[dict] = field(default_factory=list)

    def column(self, name: str, kind: str, description: str) -> None:
        """Declare a field once, in order."""
        if all(f["name"] != name for f in self.fields):
            self.fields.append({"name": name, "type": kind, "description": description})

    def columns(self, *specs: tuple[str, str, str]) -> None:
        """Declare several fields: (name, type, description) each."""
        for spec in specs:
            self.column(*spec)

    def csv_bytes(self) -> bytes:
        """The table as UTF-8 CSV with a header, rows sorted, "\\n" line ends."""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=[f["name"] for f in self.fields], lineterminator="\n")
        writer.writeheader()
        key = [f["name"] for f in self.fields]
        for row in sorted(self.rows, key=lambda r: [r.get(k, "") for k in key]):
            writer.writerow(row)
        return out.getvalue().encode("utf-8")


def slug(term: URIRef) -> str:
    """The local part of an autokg, vocabulary or ontology IRI; other IRIs whole."""
    text = str(term)
    for namespace in (RESOURCE_NS, VOCAB_NS, ONTOLOGY_NS):
        if text.startswith(namespace):
            return text[len(namespace):]
    return text


def snake(name: str) -> str:
    """A property's local name as a column name.

    >>> snake("stakePercent"), snake("convertedAmount")
    ('stake_percent', 'converted_amount')
    """
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def english(graph: Graph, term: URIRef) -> str:
    """The English label of a term, or empty."""
    for label in graph.objects(term, RDFS.label):
        if isinstance(label, Literal) and label.language == "en":
            return str(label)
    return ""


def joined(values: Iterable[object]) -> str:
    """Several values in one cell, sorted."""
    return SEPARATOR.join(sorted(str(v) for v in values))


def money(graph: Graph, node: URIRef) -> str:
    """A monetary amount as '1000000000 CNY' or '>= 10000000000 CNY'."""
    currency = graph.value(node, URIRef(SCHEMA + "currency"))
    exact, bound = graph.value(node, URIRef(SCHEMA + "value")), graph.value(node, URIRef(SCHEMA + "minValue"))
    number = f"{exact}" if exact is not None else f">= {bound}"
    return f"{number} {currency}"


def entity_table(project: Project) -> Table:
    """Every organization, person, brand, product, event, place and ranking with its names and links."""
    data, ontology = project.data, project.ontology
    table = Table("entities", "Organizations, people, brands, products, events, places and rankings.")
    table.primary_key = ["iri"]
    table.columns(
        ("iri", "string", "The entity's IRI (https://w3id.org/autokg/id/...)."),
        ("slug", "string", "The last part of the IRI."),
        ("type", "string", "autokg classes of the entity, separated by ' | '."),
        ("label_en", "string", "English name (or, where label_is_description is true, our description)."),
        ("label_zh", "string", "Chinese (simplified) name, only where a verified Wikidata label gives one."),
        ("aliases", "string", "Other names, separated by ' | '."),
        ("label_is_description", "boolean", "True when no source names the thing and label_en describes it."),
        ("industry", "string", "Industry concepts (akgv:), each backed by a quote in the evidence table."),
        ("wikidata", "string", "Verified Wikidata items (Q-numbers), separated by ' | '."),
        ("mentioned_in", "string", "Source documents that name the entity, separated by ' | '."),
    )
    kinds = ["Organization", "Person", "Brand", "Product", "Event", "Place", "Ranking"]
    entities = set().union(*[instances(data, ontology, URIRef(ONTOLOGY_NS + k)) for k in kinds])
    for entity in entities:
        chinese = [str(n) for n in data.objects(entity, RDFS.label) if isinstance(n, Literal) and (n.language or "").startswith("zh")]
        table.rows.append({
            "iri": str(entity), "slug": slug(entity),
            "type": joined(slug(t) for t in data.objects(entity, RDF.type) if str(t).startswith(ONTOLOGY_NS)),
            "label_en": english(data, entity), "label_zh": joined(chinese),
            "aliases": joined(data.objects(entity, SKOS.altLabel)),
            "label_is_description": "true" if data.value(entity, URIRef(ONTOLOGY_NS + "labelIsDescription")) else "false",
            "industry": joined(slug(i) for i in data.objects(entity, URIRef(ONTOLOGY_NS + "industry"))),
            "wikidata": joined(str(q)[len(WIKIDATA_ENTITY_NS):] for q in data.objects(entity, SKOS.exactMatch)
                               if str(q).startswith(WIKIDATA_ENTITY_NS)),
            "mentioned_in": joined(slug(s) for s in data.objects(entity, URIRef(ONTOLOGY_NS + "mentionedIn"))),
        })
    return table


def evidence_rows(data: Graph, relationship: URIRef, link: str = "evidence") -> list[dict[str, str]]:
    """A relationship's (or, through akg:industryEvidence, an entity's) evidence in IRI order: ev-NNN first."""
    rows = []
    for evidence in sorted(data.objects(relationship, URIRef(ONTOLOGY_NS + link)), key=str):
        source = data.value(evidence, URIRef(ONTOLOGY_NS + "source"))
        rows.append({
            "evidence": str(evidence), "relationship": str(relationship),
            "source": slug(source) if source else "",
            "source_id": str(data.value(source, URIRef(ONTOLOGY_NS + "sourceId")) or ""),
            "quote": str(data.value(evidence, URIRef(ONTOLOGY_NS + "quote")) or ""),
            "certainty": slug(data.value(evidence, URIRef(ONTOLOGY_NS + "certainty")) or URIRef("")),
            "reported_status": slug(data.value(evidence, URIRef(ONTOLOGY_NS + "reportedStatus")) or URIRef("")),
        })
    return rows


def evidence_table() -> Table:
    """The empty evidence table with its fields."""
    table = Table("evidence", "Every quote behind a relationship or an industry, with its source and certainty.")
    table.primary_key = ["evidence"]
    table.columns(
        ("evidence", "string", "The evidence node's IRI."),
        ("relationship", "string", "The relationship (or, for an industry, the entity) it supports."),
        ("source", "string", "The source document's slug (source-NNN)."),
        ("source_id", "string", "The source's file name under data/sources/, without .txt."),
        ("quote", "string", "Verbatim text of the source."),
        ("certainty", "string", "How sure the source is: confirmed, reported, rumoured or denied."),
        ("reported_status", "string", "The status this source reported, where it differs."),
    )
    return table


def literal_kind(data: Graph, nodes: list[URIRef], prop: URIRef) -> str:
    """'number' or 'boolean' when every node has at most one such literal, else 'string'."""
    values = [list(data.objects(n, prop)) for n in nodes]
    flat = [v for vs in values for v in vs]
    if not flat or any(len(vs) > 1 for vs in values) or not all(isinstance(v, Literal) and v.datatype for v in flat):
        return "string"
    kinds = {str(v.datatype)[len(str(XSD)):] for v in flat}
    if kinds <= {"decimal", "integer", "double", "float"}:
        return "number"
    return "boolean" if kinds == {"boolean"} else "string"


def sources_table(project: Project) -> Table:
    """The source documents that quotes come from."""
    data = project.data
    table = Table("sources", "The articles that every quote comes from.")
    table.primary_key = ["source"]
    table.columns(
        ("source", "string", "The source document's slug (source-NNN)."), ("iri", "string", "Its IRI."),
        ("headline", "string", "Headline, where the text has one."),
        ("date_published", "string", "Publication date (ISO 8601)."), ("publisher", "string", "Publisher's IRI."),
        ("url", "string", "Where it was published."),
        ("text_file", "string", "The text that quotes are checked against, in the repository."),
    )
    for source in data.subjects(RDF.type, URIRef(ONTOLOGY_NS + "SourceDocument")):
        value = lambda p: str(data.value(source, p) or "")  # noqa: E731
        table.rows.append({"source": slug(source), "iri": str(source), "headline": value(URIRef(SCHEMA + "headline")),
                           "date_published": value(URIRef(SCHEMA + "datePublished")),
                           "publisher": value(URIRef(SCHEMA + "publisher")), "url": value(URIRef(SCHEMA + "url")),
                           "text_file": value(URIRef(ONTOLOGY_NS + "textFile"))})
    return table


def relationship_tables(project: Project, evidence: Table) -> list[Table]:
    """One table per relationship class, and the evidence rows of all of them."""
    data, ontology = project.data, project.ontology
    roles = {str(p) for p in ontology.transitive_subjects(RDFS.subPropertyOf, AKG_PARTY)} - {str(AKG_PARTY)}
    tables = []
    for cls in sorted(subclasses(ontology, URIRef(ONTOLOGY_NS + "Relationship")), key=str):
        nodes = sorted(set(data.subjects(RDF.type, cls)), key=str)
        if not nodes:
            continue
        name = snake(slug(cls)).lstrip("_").replace("_", "-")
        table = Table(name, f"Every {english(ontology, cls) or slug(cls)} relationship, one row each.")
        table.primary_key = ["relationship"]
        table.column("relationship", "string", "The relationship's IRI.")
        table.column("label", "string", "What the relationship says, in English.")
        predicates = sorted({str(p) for n in nodes for p in data.predicates(n)} - NOT_QUALIFIERS)
        for prop in [p for p in predicates if p in roles]:
            column = snake(slug(URIRef(prop)))
            table.column(column, "string", f"{english(ontology, URIRef(prop)) or column}: party IRIs, separated by ' | '.")
            table.column(column + "_label", "string", f"English names of the {column} parties, separated by ' | '.")
        for prop in [p for p in predicates if p not in roles]:
            local = slug(URIRef(prop))
            table.column(snake(local), literal_kind(data, nodes, URIRef(prop)), (english(ontology, URIRef(prop)) or local) + (
                ": 'value currency', '>= value currency' for a lower bound" if local in MONEY else ""))
        table.column("certainty", "string", "The strongest certainty of the relationship's evidence.")
        table.column("quote", "string", "The first evidence's verbatim quote (all quotes: the evidence table).")
        table.column("source", "string", "The source document of that quote.")
        table.column("evidence_count", "integer", "How many evidence nodes back the relationship.")
        for node in nodes:
            row = {"relationship": str(node), "label": english(data, node)}
            for prop in predicates:
                values = list(data.objects(node, URIRef(prop)))
                local = slug(URIRef(prop))
                if prop in roles:
                    row[snake(local)] = joined(values)
                    row[snake(local) + "_label"] = joined(english(data, v) for v in values)
                elif local in MONEY:
                    row[snake(local)] = joined(money(data, v) for v in values)
                elif local == "stake":
                    row[snake(local)] = joined(f"{slug(data.value(v, URIRef(ONTOLOGY_NS + 'stakeHolder')))} "
                                               f"{data.value(v, URIRef(ONTOLOGY_NS + 'stakePercent'))}" for v in values)
                elif local == "dateDerivation":
                    row[snake(local)] = joined(
                        f"{slug(data.value(v, URIRef(ONTOLOGY_NS + 'derivedProperty')))} from "
                        f"'{data.value(v, URIRef(ONTOLOGY_NS + 'statedAs'))}'" for v in values)
                else:
                    row[snake(local)] = joined(slug(v) if isinstance(v, URIRef) else v for v in values)
            found = evidence_rows(data, node)
            evidence.rows.extend(found)
            certainties = {e["certainty"] for e in found}
            row["certainty"] = next((c for c in CERTAINTIES if c in certainties), "")
            row["quote"], row["source"] = (found[0]["quote"], found[0]["source"]) if found else ("", "")
            row["evidence_count"] = str(len(found))
            table.rows.append(row)
        tables.append(table)
    return tables


def industry_evidence(project: Project, evidence: Table) -> None:
    """The quotes behind entities' industries, into the evidence table."""
    for entity in set(project.data.subjects(URIRef(ONTOLOGY_NS + "industryEvidence"), None)):
        evidence.rows.extend(evidence_rows(project.data, entity, "industryEvidence"))


def data_package(project: Project) -> dict[str, bytes]:
    """File name -> bytes of the package: datapackage.json and its CSV files."""
    evidence = evidence_table()
    tables = [entity_table(project), sources_table(project), *relationship_tables(project, evidence)]
    industry_evidence(project, evidence)
    tables.append(evidence)
    for table in tables:
        if table.name != "sources" and any(f["name"] == "source" for f in table.fields):
            table.foreign_keys = [{"fields": "source", "reference": {"resource": "sources", "fields": "source"}}]
    files, resources = {}, []
    for table in tables:
        content = table.csv_bytes()
        path = f"{table.name}.csv"
        files[path] = content
        schema = {"fields": table.fields, "primaryKey": table.primary_key, "missingValues": [""]}
        if table.foreign_keys:
            schema["foreignKeys"] = table.foreign_keys
        resources.append({
            "name": table.name, "path": path, "profile": "tabular-data-resource", "description": table.description,
            "format": "csv", "mediatype": "text/csv", "encoding": "utf-8", "bytes": len(content),
            "hash": "sha256:" + hashlib.sha256(content).hexdigest(), "schema": schema,
        })
    package = {
        "profile": "tabular-data-package", "name": "autokg", "title": "autokg: relationships in the automotive industry",
        "description": "Every relationship with its parties, qualifiers, status and the quote it rests on; the same "
                       "data as the RDF release, as tables. Several values in one cell are separated by ' | '.",
        "version": __version__, "licenses": [LICENSE], "homepage": release.HOME,
        "resources": resources,
    }
    files["datapackage.json"] = (json.dumps(package, indent=1, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
    return files
