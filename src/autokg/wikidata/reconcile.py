"""Comparing autokg with Wikidata: the fact-by-fact diff, and link candidates for unlinked entities."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass

import pyoxigraph as ox

from autokg.config import PREFIXES, WIKIDATA_ENTITY_NS
from autokg.query.entities import labels, select, text
from autokg.query.running import text_table
from autokg.stores.remote import batches, select_remote, values_block
from autokg.wikidata.export import Export, Statement

#: the properties compared, with their labels; single-valued ones can conflict
DIFF_PROPERTIES = {
    "P749": "parent organization", "P127": "owned by", "P355": "subsidiary", "P1716": "brand",
    "P1951": "investor", "P2652": "partnership with", "P571": "inception",
}
SINGLE_VALUED = {"P749", "P571"}
LABEL = PREFIXES["rdfs"] + "label"
VERDICTS = ("agree", "missing in Wikidata", "missing in autokg", "conflict")


@dataclass(frozen=True)
class Difference:
    """One row of the diff: an entity's property, our value and Wikidata's, the verdict and our evidence."""

    entity: str
    label: str
    property: str
    property_label: str
    autokg: str
    wikidata: str
    verdict: str
    evidence: str
    source: str


def q_id(iri: str) -> str:
    """The Q-number of a Wikidata item IRI, else the IRI itself.

    >>> q_id("http://www.wikidata.org/entity/Q95"), q_id("https://w3id.org/autokg/id/x")
    ('Q95', 'https://w3id.org/autokg/id/x')
    """
    return iri[len(WIKIDATA_ENTITY_NS):] if iri.startswith(WIKIDATA_ENTITY_NS) else iri


def wikidata_values(endpoint: str, items: list[str], timeout: float = 60.0) -> dict[tuple[str, str], set[str]]:
    """(Q-number, property) -> values on Wikidata (Q-numbers, or dates for inception), in batches of 50 items."""
    found: dict[tuple[str, str], set[str]] = {}
    props = " ".join(f"<http://www.wikidata.org/prop/direct/{p}>" for p in DIFF_PROPERTIES)
    for batch in batches(sorted(items)):
        query = f"SELECT ?item ?prop ?value WHERE {{ {values_block('item', batch)} VALUES ?prop {{ {props} }} ?item ?prop ?value }}"
        for row in select_remote(endpoint, query, timeout=timeout):
            prop = row["prop"]["value"].rsplit("/", 1)[1]
            value = row["value"]["value"]
            value = value[:10] if prop == "P571" else q_id(value)
            found.setdefault((q_id(row["item"]["value"]), prop), set()).add(value)
    return found


def our_values(export: Export) -> dict[tuple[str, str], dict[str, Statement]]:
    """(Q-number, property) -> our value (Q-number or our IRI) -> the statement that says so, for linked subjects."""
    ours: dict[tuple[str, str], dict[str, Statement]] = {}
    for st in export.statements:
        if st.subject in export.links and st.property in DIFF_PROPERTIES:
            key = (q_id(export.links[st.subject]), st.property)
            ours.setdefault(key, {}).setdefault(q_id(export.item(st.value)), st)
    return ours


def diff(store: ox.Store, export: Export, endpoint: str, timeout: float = 60.0) -> list[Difference]:
    """Every compared (entity, property, value) with its verdict, ordered by entity, property and value."""
    theirs = wikidata_values(endpoint, sorted(set(export.links.values())), timeout)
    ours = our_values(export)
    by_q = {q_id(q): iri for iri, q in sorted(export.links.items(), reverse=True)}
    named = labels(store, list(by_q.values()))
    rows: list[Difference] = []

    def row(q: str, prop: str, mine: str, their: str, verdict: str, st: Statement | None) -> None:
        ref = st.references[0] if st and st.references else None
        rows.append(Difference(q, named.get(by_q.get(q, ""), q), prop, DIFF_PROPERTIES[prop], mine, their, verdict,
                               ref.quote if ref else "", (ref.url if ref else "") or (st.relationship if st else "")))

    for q, prop in sorted(set(ours) | set(theirs)):
        mine, their = ours.get((q, prop), {}), theirs.get((q, prop), set())
        for value in sorted(set(mine) & their):
            row(q, prop, value, value, "agree", mine[value])
        only_mine, only_theirs = sorted(set(mine) - their), sorted(their - set(mine))
        if prop in SINGLE_VALUED and only_mine and only_theirs and not (set(mine) & their):
            for value in only_mine:
                row(q, prop, value, ", ".join(only_theirs), "conflict", mine[value])
            continue
        for value in only_mine:
            row(q, prop, value, "", "missing in Wikidata", mine[value])
        for value in only_theirs:
            row(q, prop, "", value, "missing in autokg", None)
    return rows


def missing_statements(differences: list[Difference]) -> set[tuple[str, str, str]]:
    """(Q-number, property, Q-number) of our facts that Wikidata lacks, for QuickStatements."""
    return {(d.entity, d.property, d.autokg) for d in differences if d.verdict == "missing in Wikidata"}


def render_differences(differences: list[Difference], fmt: str) -> str:
    """The diff as an aligned table, CSV or JSON."""
    records = [asdict(d) for d in differences]
    if fmt == "json":
        return json.dumps(records, ensure_ascii=False, indent=2) + "\n"
    columns = ["entity", "label", "property", "property_label", "autokg", "wikidata", "verdict", "evidence", "source"]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        return out.getvalue()
    shown = ["label", "entity", "property_label", "autokg", "wikidata", "verdict", "evidence"]
    counts = ", ".join(f"{sum(1 for d in differences if d.verdict == v)} {v}" for v in VERDICTS)
    return text_table(shown, [[str(r[c]) for c in shown] for r in records]) + f"\n{counts}\n"


@dataclass(frozen=True)
class Unlinked:
    """An entity without a Wikidata link, with how many relationships it has and its names."""

    iri: str
    label: str
    relationships: int
    names: tuple[str, ...]


def unlinked_entities(store: ox.Store) -> list[Unlinked]:
    """Organizations, people and brands without a Wikidata link, most connected first."""
    found = []
    for row in select(store, """
SELECT ?x ?label (COUNT(DISTINCT ?r) AS ?n) (GROUP_CONCAT(DISTINCT ?name; SEPARATOR="\\u001f") AS ?names) WHERE {
  ?x a ?class . VALUES ?class { akg:Company akg:Organization akg:GovernmentBody akg:JointVenture akg:Person akg:Brand }
  FILTER NOT EXISTS { ?x skos:exactMatch ?q . FILTER (STRSTARTS(STR(?q), "http://www.wikidata.org/entity/")) }
  ?x rdfs:label ?label . FILTER (lang(?label) = "en")
  OPTIONAL { ?x rdfs:label|skos:altLabel ?any . BIND (CONCAT(STR(?any), "@", LCASE(lang(?any))) AS ?name) }
  OPTIONAL { ?r ?role ?x . ?role rdfs:subPropertyOf+ akg:party }
} GROUP BY ?x ?label ORDER BY DESC(?n) ?label"""):
        names = tuple(sorted(n for n in text(row, "names").split("\u001f") if n))
        found.append(Unlinked(text(row, "x"), text(row, "label"), int(text(row, "n", "0")), names))
    return found


@dataclass(frozen=True)
class Candidate:
    """A Wikidata item whose label matches one of our names exactly; a person must confirm it."""

    entity: str
    matched: str
    item: str
    item_label: str
    description: str


def link_candidates(entities: list[Unlinked], endpoint: str, timeout: float = 60.0) -> list[Candidate]:
    """Items whose English or Chinese label or alias equals one of the entities' English or Chinese names."""
    wanted: dict[str, list[str]] = {}
    for entity in entities:
        for name in entity.names:
            value, _, lang = name.rpartition("@")
            if lang == "en":
                wanted.setdefault(json.dumps(value, ensure_ascii=False) + "@en", []).append(entity.iri)
            elif lang.startswith("zh"):
                for tag in ("zh", "zh-hans", "zh-cn"):
                    wanted.setdefault(json.dumps(value, ensure_ascii=False) + "@" + tag, []).append(entity.iri)
    found: list[Candidate] = []
    for batch in batches(sorted(wanted), 40):
        query = ("SELECT ?label ?item ?itemLabel ?description WHERE { VALUES ?label { " + " ".join(batch) + " } "
                 f"?item <{LABEL}>|<{PREFIXES['skos']}altLabel> ?label . "
                 f"OPTIONAL {{ ?item <{LABEL}> ?itemLabel . FILTER (lang(?itemLabel) = 'en') }} "
                 "OPTIONAL { ?item <http://schema.org/description> ?description . FILTER (lang(?description) = 'en') } }")
        for row in select_remote(endpoint, query, timeout=timeout):
            key = json.dumps(row["label"]["value"], ensure_ascii=False) + "@" + row["label"].get("xml:lang", "").lower()
            for entity in wanted.get(key, []):
                found.append(Candidate(entity, row["label"]["value"], q_id(row["item"]["value"]),
                                       row.get("itemLabel", {}).get("value", ""), row.get("description", {}).get("value", "")))
    return sorted(set(found), key=lambda c: (c.entity, c.item))
