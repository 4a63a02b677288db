"""What the browsing pages show about a resource: its description, relationships, figures and sources.

These are the project's own, bounded queries, run straight on the served store (not through the query
child), with IRIs checked and written as N-Triples terms so that nothing from a URL reaches the text
of a query unescaped.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from autokg.config import ONTOLOGY_NS, PREFIXES, RESOURCE_NS, VOCAB_NS, prologue
from autokg.query.running import Queryable, execute

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
PROLOGUE = prologue()
RUMOURED = VOCAB_NS + "rumoured"
DATE_PROPERTIES = ("announcedOn", "signedOn", "startDate", "endDate", "targetDate")

Row = dict[str, ox.NamedNode | ox.Literal | ox.BlankNode]


def select(store: Queryable, query: str) -> list[Row]:
    """Run a SELECT on the union of the dataset's graphs; rows as dicts of bound variables."""
    results = execute(store, PROLOGUE + query)
    names = [v.value for v in results.variables]
    return [{n: s[n] for n in names if s[n] is not None} for s in results]


def term(iri: str) -> str:
    """An IRI written as a SPARQL/N-Triples term, escaped by Oxigraph."""
    return str(ox.NamedNode(iri))


def text(row: Row, name: str, default: str = "") -> str:
    """The lexical value of a bound variable, or `default`."""
    value = row.get(name)
    return value.value if value is not None else default


def slug_of(iri: str) -> str | None:
    """The slug of a resource IRI, or None for an IRI outside the resource namespace.

    >>> slug_of("https://w3id.org/autokg/id/im-motors")
    'im-motors'
    >>> slug_of("https://example.org/x") is None
    True
    """
    return iri[len(RESOURCE_NS):] if iri.startswith(RESOURCE_NS) else None


def local_path(iri: str) -> str | None:
    """The server path that answers an autokg IRI (resource, ontology term or vocabulary concept), else None.

    >>> local_path("https://w3id.org/autokg/id/im-motors")
    '/id/im-motors'
    >>> local_path("https://w3id.org/autokg/ontology#Company")
    '/ontology#Company'
    >>> local_path("https://w3id.org/autokg/vocab/rumoured")
    '/vocab/rumoured'
    """
    for namespace, path in ((RESOURCE_NS, "/id/"), (VOCAB_NS, "/vocab/"), (ONTOLOGY_NS, "/ontology#")):
        if iri.startswith(namespace):
            return path + iri[len(namespace):]
    if iri == ONTOLOGY_NS.rstrip("#"):
        return "/ontology"
    return None


def exists(store: Queryable, iri: str) -> bool:
    """Whether the dataset says anything about `iri` as a subject."""
    return bool(execute(store, f"ASK {{ {term(iri)} ?p ?o }}"))


def description(store: Queryable, iri: str) -> list[ox.Triple]:
    """All triples about `iri`, the triples that point at it, and its relationships with their qualifier and evidence nodes."""
    node = term(iri)
    query = PROLOGUE + f"""
CONSTRUCT {{ ?s ?p ?o }} WHERE {{
  {{ BIND({node} AS ?s) ?s ?p ?o }}
  UNION {{ BIND({node} AS ?o) ?s ?p ?o }}
  UNION {{ ?s ?role {node} . ?role rdfs:subPropertyOf* akg:party . ?s ?p ?o }}
  UNION {{
    ?relationship ?role {node} . ?role rdfs:subPropertyOf* akg:party .
    ?relationship ?link ?s . FILTER (isIRI(?s) && STRSTARTS(STR(?s), CONCAT(STR(?relationship), "--")))
    ?s ?p ?o
  }}
}}"""
    return list(execute(store, query))


def labels(store: Queryable, iris: list[str]) -> dict[str, str]:
    """English labels (falling back to any label, then to the IRI's last segment) for IRIs."""
    if not iris:
        return {}
    values = " ".join(term(i) for i in sorted(set(iris)))
    found: dict[str, str] = {}
    for row in select(store, f"SELECT ?x ?label WHERE {{ VALUES ?x {{ {values} }} ?x rdfs:label|skos:prefLabel ?label }}"):
        iri, label = text(row, "x"), row["label"]
        if isinstance(label, ox.Literal) and (label.language == "en" or iri not in found):
            found[iri] = label.value
    return {i: found.get(i, re.split(r"[#/]", i)[-1]) for i in iris}


@dataclass
class Card:
    """The head of an entity page: names, kinds, classification and links."""

    iri: str
    label: str
    names: dict[str, list[str]] = field(default_factory=dict)  # lowercased language tag -> labels
    aliases: list[str] = field(default_factory=list)
    types: list[tuple[str, str]] = field(default_factory=list)  # (iri, label)
    industries: list[tuple[str, str]] = field(default_factory=list)
    wikidata: list[str] = field(default_factory=list)
    other: list[tuple[str, str, str]] = field(default_factory=list)  # (property label, value, iri or "")


SHOWN_ELSEWHERE = {
    PREFIXES["rdfs"] + "label", PREFIXES["skos"] + "altLabel", PREFIXES["skos"] + "exactMatch",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#type", ONTOLOGY_NS + "industry",
}


def card(store: Queryable, iri: str) -> Card:
    """Names in every language, aliases, types, industries, Wikidata links and the other plain statements."""
    rows = select(store, f"SELECT ?p ?o WHERE {{ {term(iri)} ?p ?o }} ORDER BY ?p ?o")
    result = Card(iri=iri, label="")
    names: dict[str, list[str]] = defaultdict(list)
    plain: list[tuple[str, ox.NamedNode | ox.Literal]] = []
    for row in rows:
        prop, value = text(row, "p"), row["o"]
        if prop == PREFIXES["rdfs"] + "label" and isinstance(value, ox.Literal):
            names[(value.language or "").lower()].append(value.value)  # Oxigraph lowercases tags
        elif prop == PREFIXES["skos"] + "altLabel":
            result.aliases.append(value.value)
        elif prop == PREFIXES["skos"] + "exactMatch" and value.value.startswith(PREFIXES["wd"]):
            result.wikidata.append(value.value)
        elif prop not in SHOWN_ELSEWHERE:
            plain.append((prop, value))
    result.names = dict(sorted(names.items()))
    result.label = (names.get("en") or next(iter(names.values()), None) or [iri.rsplit("/", 1)[-1]])[0]
    type_iris = [text(r, "o") for r in rows if text(r, "p").endswith("rdf-syntax-ns#type")]
    industry_iris = [text(r, "o") for r in rows if text(r, "p") == ONTOLOGY_NS + "industry"]
    named = labels(store, type_iris + industry_iris + [p for p, _ in plain] + [v.value for _, v in plain if isinstance(v, ox.NamedNode)])
    result.types = [(t, named[t]) for t in type_iris]
    result.industries = [(i, named[i]) for i in industry_iris]
    result.other = [
        (named[p], named[v.value] if isinstance(v, ox.NamedNode) else v.value, v.value if isinstance(v, ox.NamedNode) else "")
        for p, v in plain
    ]
    return result


@dataclass
class Evidence:
    """One piece of evidence: the quote, how certain the source is, and the source."""

    quote: str
    certainty: str
    certainty_iri: str
    source: str
    source_label: str


@dataclass
class Relationship:
    """A relationship the entity takes part in, with its qualifiers and evidence."""

    iri: str
    label: str
    type: str
    type_label: str
    role: str
    status: str
    parties: list[tuple[str, str, str]] = field(default_factory=list)  # (iri, label, role label), others only
    stakes: list[tuple[str, str]] = field(default_factory=list)  # (holder label, percent)
    amounts: list[str] = field(default_factory=list)
    dates: list[tuple[str, str]] = field(default_factory=list)  # (property label, value)
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def rumour(self) -> bool:
        """True when every piece of evidence is a rumour."""
        return bool(self.evidence) and all(e.certainty_iri == RUMOURED for e in self.evidence)


def ordered(rows: list[Row], *names: str) -> list[Row]:
    """Rows sorted by the values of `names`: not by ORDER BY, whose ties and string order differ between engines."""
    return sorted(rows, key=lambda row: tuple(text(row, name) for name in names))


def relationships(store: Queryable, iri: str) -> list[Relationship]:
    """The relationships `iri` takes part in, in the order of their type and label."""
    node = term(iri)
    found: dict[str, Relationship] = {}
    for row in ordered(select(store, f"""
SELECT ?r ?label ?type ?typeLabel ?roleLabel ?status WHERE {{
  ?r ?role {node} . ?role rdfs:subPropertyOf+ akg:party ; rdfs:label ?roleLabel . FILTER (lang(?roleLabel) = "en")
  ?r a ?type ; rdfs:label ?label . FILTER (lang(?label) = "en")
  ?type rdfs:label ?typeLabel . FILTER (lang(?typeLabel) = "en" && STRSTARTS(STR(?type), STR(akg:)))
  OPTIONAL {{ ?r akg:status/rdfs:label ?status . FILTER (lang(?status) = "en") }}
}}"""), "typeLabel", "label", "roleLabel", "r"):
        key = text(row, "r")
        if key not in found:
            found[key] = Relationship(key, text(row, "label"), text(row, "type"), text(row, "typeLabel"), text(row, "roleLabel"), text(row, "status"))
    if not found:
        return []
    values = " ".join(term(k) for k in found)
    for row in ordered(select(store, f"""
SELECT ?r ?party ?partyLabel ?roleLabel WHERE {{
  VALUES ?r {{ {values} }}
  ?r ?role ?party . ?role rdfs:subPropertyOf+ akg:party ; rdfs:label ?roleLabel . FILTER (lang(?roleLabel) = "en" && ?party != {node})
  OPTIONAL {{ ?party rdfs:label ?partyLabel . FILTER (lang(?partyLabel) = "en") }}
}}"""), "r", "roleLabel", "partyLabel", "party"):
        found[text(row, "r")].parties.append((text(row, "party"), text(row, "partyLabel", text(row, "party")), text(row, "roleLabel")))
    for row in ordered(select(store, f"""
SELECT ?r ?holderLabel ?percent WHERE {{
  VALUES ?r {{ {values} }}
  ?r akg:stake ?stake . ?stake akg:stakePercent ?percent .
  OPTIONAL {{ ?stake akg:stakeHolder/rdfs:label ?holderLabel . FILTER (lang(?holderLabel) = "en") }}
}}"""), "r", "holderLabel", "percent"):
        found[text(row, "r")].stakes.append((text(row, "holderLabel", "(unnamed)"), text(row, "percent")))
    for row in ordered(select(store, f"""
SELECT ?r ?value ?min ?currency WHERE {{
  VALUES ?r {{ {values} }}
  ?r akg:amount ?money . ?money schema:currency ?currency .
  OPTIONAL {{ ?money schema:value ?value }} OPTIONAL {{ ?money schema:minValue ?min }}
}}"""), "r", "value", "min", "currency"):
        amount = format_number(text(row, "value")) if "value" in row else "at least " + format_number(text(row, "min"))
        found[text(row, "r")].amounts.append(f"{amount} {text(row, 'currency')}")
    dates = " ".join(f"akg:{p}" for p in DATE_PROPERTIES)
    for row in ordered(select(store, f"""
SELECT ?r ?propertyLabel ?date WHERE {{
  VALUES ?r {{ {values} }} VALUES ?property {{ {dates} }}
  ?r ?property ?date . ?property rdfs:label ?propertyLabel . FILTER (lang(?propertyLabel) = "en")
}}"""), "r", "date", "propertyLabel"):
        found[text(row, "r")].dates.append((text(row, "propertyLabel"), text(row, "date")))
    for row in ordered(select(store, f"""
SELECT ?r ?e ?quote ?certainty ?certaintyLabel ?source ?sourceLabel WHERE {{
  VALUES ?r {{ {values} }}
  ?r akg:evidence ?e . ?e akg:quote ?quote ; akg:source ?source .
  OPTIONAL {{ ?e akg:certainty ?certainty . ?certainty rdfs:label ?certaintyLabel . FILTER (lang(?certaintyLabel) = "en") }}
  OPTIONAL {{ ?source rdfs:label ?sourceLabel . FILTER (lang(?sourceLabel) = "en") }}
}}"""), "r", "e", "quote"):
        found[text(row, "r")].evidence.append(Evidence(
            text(row, "quote"), text(row, "certaintyLabel"), text(row, "certainty"), text(row, "source"), text(row, "sourceLabel", text(row, "source")),
        ))
    return list(found.values())


def format_number(value: str) -> str:
    """A decimal written with thousands separators and without a trailing .0.

    >>> format_number("1000000000.0")
    '1,000,000,000'
    >>> format_number("12.5")
    '12.5'
    """
    try:
        number = float(value)
    except ValueError:
        return value
    return f"{number:,.0f}" if number == int(number) else f"{number:,}"


@dataclass
class Figure:
    """One figure of an organization: a metric's value for a period (or a target)."""

    metric: str
    when: str
    value: float | None
    shown: str
    status: str


def figures(store: Queryable, iri: str) -> dict[str, list[Figure]]:
    """The entity's figures, grouped by metric and sorted by period."""
    grouped: dict[str, list[Figure]] = defaultdict(list)
    for row in ordered(select(store, f"""
SELECT ?figure ?metricLabel ?when ?value ?minValue ?unit ?amount ?minAmount ?currency ?status WHERE {{
  ?figure a akg:Figure ; akg:about {term(iri)} ; akg:metric/rdfs:label ?metricLabel . FILTER (lang(?metricLabel) = "en")
  OPTIONAL {{ ?figure akg:period ?period }} OPTIONAL {{ ?figure akg:targetDate ?target }}
  BIND (COALESCE(STR(?period), STR(?target), "") AS ?when)
  OPTIONAL {{ ?figure akg:value ?value }}
  OPTIONAL {{ ?figure akg:unit/rdfs:label ?unit . FILTER (lang(?unit) = "en") }}
  OPTIONAL {{ ?figure akg:amount ?money . ?money schema:currency ?currency .
              OPTIONAL {{ ?money schema:value ?amount }} OPTIONAL {{ ?money schema:minValue ?minAmount }} }}
  OPTIONAL {{ ?figure akg:minValue ?minValue }}
  OPTIONAL {{ ?figure akg:status/rdfs:label ?status . FILTER (lang(?status) = "en") }}
}}"""), "metricLabel", "when", "figure"):
        raw = text(row, "value") or text(row, "amount")
        floor = text(row, "minValue") or text(row, "minAmount")
        number = float(raw) if raw else None
        unit = text(row, "unit") or text(row, "currency")
        shown = f"{format_number(raw)} {unit}".strip() if raw else f"at least {format_number(floor)} {unit}".strip() if floor else ""
        grouped[text(row, "metricLabel")].append(Figure(text(row, "metricLabel"), text(row, "when"), number, shown, text(row, "status")))
    return dict(grouped)


@dataclass
class Listed:
    """An entry of a list page: IRI, English label, optional Chinese label and kind."""

    iri: str
    label: str
    chinese: str = ""
    kind: str = ""


def organizations(store: Queryable) -> list[Listed]:
    """Every organization, by English label."""
    return [
        Listed(text(r, "o"), text(r, "label"), text(r, "zh"), text(r, "kind"))
        for r in select(store, """
SELECT ?o ?label (SAMPLE(?zhLabel) AS ?zh) (SAMPLE(?kindLabel) AS ?kind) WHERE {
  ?o a ?class . ?class rdfs:subClassOf* akg:Organization .
  ?o rdfs:label ?label . FILTER (lang(?label) = "en")
  OPTIONAL { ?o rdfs:label ?zhLabel . FILTER (LANGMATCHES(lang(?zhLabel), "zh-Hans")) }
  OPTIONAL { ?class rdfs:label ?kindLabel . FILTER (lang(?kindLabel) = "en") }
} GROUP BY ?o ?label ORDER BY LCASE(?label)""")
    ]


def sources(store: Queryable) -> list[Listed]:
    """Every source document, in the order of its identifier."""
    return [
        Listed(text(r, "s"), text(r, "label"), "", text(r, "date"))
        for r in select(store, """
SELECT ?s ?label ?date WHERE {
  ?s a akg:SourceDocument ; akg:sourceId ?id ; rdfs:label ?label .
  OPTIONAL { ?s schema:datePublished ?date }
} ORDER BY ?id""")
    ]


@dataclass
class Fact:
    """A fact taken from a source: what it says, about what, and where in the text."""

    position: int
    quote: str
    certainty: str
    subject: str
    subject_label: str
    kind: str


def source_facts(store: Queryable, iri: str, root: Path) -> list[Fact]:
    """Every fact that cites the source, in the order its quote appears in the article text."""
    body = ""
    for row in select(store, f"SELECT ?file WHERE {{ {term(iri)} akg:textFile ?file }}"):
        path = root / text(row, "file")
        body = path.read_text(encoding="utf-8") if path.is_file() else ""
    facts = []
    for row in select(store, f"""
SELECT ?x ?label ?kind ?quote ?certainty WHERE {{
  ?x akg:evidence ?e . ?e akg:source {term(iri)} ; akg:quote ?quote .
  OPTIONAL {{ ?e akg:certainty/rdfs:label ?certainty . FILTER (lang(?certainty) = "en") }}
  OPTIONAL {{ ?x rdfs:label ?label . FILTER (lang(?label) = "en") }}
  OPTIONAL {{ ?x a ?type . ?type rdfs:label ?kind . FILTER (lang(?kind) = "en" && STRSTARTS(STR(?type), STR(akg:))) }}
}}"""):
        quote = text(row, "quote")
        position = body.find(quote)
        facts.append(Fact(position if position >= 0 else len(body), quote, text(row, "certainty"), text(row, "x"),
                          text(row, "label", text(row, "x")), text(row, "kind")))
    return sorted(facts, key=lambda f: (f.position, f.subject))
