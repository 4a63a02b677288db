"""Our facts in Wikidata's model: which facts map to which property, Wikibase RDF, and QuickStatements.

The mapping follows docs/design.md. Only facts whose status says they happened (active, completed, signed,
terminated) and that rest on confirmed or reported evidence are exported; everything else is listed in
the report with the reason it was left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyoxigraph as ox

from autokg.config import ONTOLOGY_NS, PREFIXES, VOCAB_NS, WIKIDATA_ENTITY_NS
from autokg.query.entities import select, text

WD = WIKIDATA_ENTITY_NS
WIKIBASE = "http://wikiba.se/ontology#"
PROV = "http://www.w3.org/ns/prov#"
XSD = PREFIXES["xsd"]
PROP = "http://www.wikidata.org/prop/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
WIKIBASE_PREFIXES = {
    "wd": WD, "wdt": PROP + "direct/", "p": PROP, "ps": PROP + "statement/",
    "pq": PROP + "qualifier/", "pqv": PROP + "qualifier/value/", "pr": PROP + "reference/",
    "wikibase": WIKIBASE, "prov": PROV, "xsd": PREFIXES["xsd"], "akr": PREFIXES["akr"],
}

#: relationship class -> (Wikidata property, role of the statement's subject, role of its value)
MAPPING: dict[str, tuple[tuple[str, str, str], ...]] = {
    "EquityStake": (("P127", "owned", "owner"),),
    "ParentSubsidiary": (("P749", "subsidiary", "parent"), ("P355", "parent", "subsidiary")),
    "Investment": (("P1951", "investee", "investor"),),
    "Agreement": (("P2652", "partner", "partner"),),
    "BrandOwnership": (("P1716", "owner", "brand"),),
}
EXPORTED_STATUSES = {"active", "completed", "signed", "terminated"}
EXPORTED_CERTAINTIES = {"confirmed", "reported"}
#: agreement types that say less than Wikidata's P2652 "partnership with" (an intent to explore is not one)
UNEXPORTED_AGREEMENT_TYPES = {"letter-of-intent"}
#: our date property -> Wikidata qualifier
DATE_QUALIFIERS = {"startDate": "P580", "endDate": "P582", "announcedOn": "P585", "signedOn": "P585"}
#: Wikibase time precision by XSD datatype
PRECISION = {XSD + "date": 11, XSD + "gYearMonth": 10, XSD + "gYear": 9}


@dataclass(frozen=True)
class Reference:
    """Where a statement comes from: the article's URL, date, publisher and the quote."""

    url: str
    date: ox.Literal | None
    publisher: str
    quote: str


@dataclass
class Statement:
    """One exportable fact as a Wikidata statement."""

    relationship: str
    subject: str  # our IRI
    property: str
    value: str  # our IRI
    qualifiers: list[tuple[str, ox.Literal]] = field(default_factory=list)  # (property, value)
    references: list[Reference] = field(default_factory=list)


@dataclass(frozen=True)
class LeftOut:
    """A fact that was not exported, and why."""

    relationship: str
    label: str
    reason: str


@dataclass
class Export:
    """The statements that can be exported, what was left out, and our IRI -> Q-number links."""

    statements: list[Statement]
    left_out: list[LeftOut]
    links: dict[str, str]

    def item(self, iri: str) -> str:
        """The Wikidata item IRI for one of our entities, or our own IRI when it is not linked."""
        return self.links.get(iri, iri)


def wikidata_links(store: ox.Store) -> dict[str, str]:
    """Our entity IRI -> its Wikidata item IRI (the smallest Q-number when there are several)."""
    links: dict[str, str] = {}
    for row in select(store, f"SELECT ?x ?q WHERE {{ ?x skos:exactMatch ?q . FILTER (STRSTARTS(STR(?q), '{WD}Q')) }}"):
        x, q = text(row, "x"), text(row, "q")
        if x not in links or int(q.rsplit("Q", 1)[1]) < int(links[x].rsplit("Q", 1)[1]):
            links[x] = q
    return links


def exportable_facts(store: ox.Store) -> Export:
    """Every relationship sorted into statements that can go to Wikidata and facts left out with a reason."""
    links = wikidata_links(store)
    statements: list[Statement] = []
    left_out: list[LeftOut] = []
    evidence = references_by_relationship(store)
    for row in select(store, """
SELECT DISTINCT ?r ?class ?label ?status ?metric ?agreementType WHERE {
  ?r akg:evidence ?e ; a ?class . FILTER (STRSTARTS(STR(?class), STR(akg:)))
  OPTIONAL { ?r rdfs:label ?label . FILTER (lang(?label) = "en") }
  OPTIONAL { ?r akg:status ?status }
  OPTIONAL { ?r akg:metric ?metric }
  OPTIONAL { ?r akg:agreementType ?agreementType }
} ORDER BY ?r"""):
        iri, kind, label = text(row, "r"), text(row, "class")[len(ONTOLOGY_NS):], text(row, "label")
        status = text(row, "status")[len(VOCAB_NS):]
        if kind == "Relationship":
            continue
        certain = evidence.get(iri, [])
        if kind == "Figure" and text(row, "metric") == VOCAB_NS + "revenue":
            left_out.append(LeftOut(iri, label, "revenue (P2139) needs its currency as a Wikidata item, and none is on the verified list"))
        elif text(row, "agreementType")[len(VOCAB_NS):] in UNEXPORTED_AGREEMENT_TYPES:
            left_out.append(LeftOut(iri, label, "a letter of intent to explore is not a partnership (P2652)"))
        elif kind not in MAPPING:
            left_out.append(LeftOut(iri, label, f"no Wikidata property for {kind}"))
        elif not certain:
            left_out.append(LeftOut(iri, label, "rumour: no confirmed or reported evidence"))
        elif status not in EXPORTED_STATUSES:
            left_out.append(LeftOut(iri, label, f"not an established fact: status {status or 'missing'}"))
        else:
            statements += statements_for(store, iri, kind, certain)
    return Export(statements, left_out, links)


def references_by_relationship(store: ox.Store) -> dict[str, list[Reference]]:
    """The confirmed or reported evidence of each relationship, as Wikidata references."""
    found: dict[str, list[Reference]] = {}
    certainties = " ".join(f"akgv:{c}" for c in sorted(EXPORTED_CERTAINTIES))
    for row in select(store, f"""
SELECT ?r ?quote ?url ?date ?publisher WHERE {{
  ?r akg:evidence ?e . ?e akg:certainty ?c ; akg:quote ?quote ; akg:source ?s . VALUES ?c {{ {certainties} }}
  OPTIONAL {{ ?s schema:url ?url }} OPTIONAL {{ ?s schema:datePublished ?date }} OPTIONAL {{ ?s schema:publisher ?publisher }}
}} ORDER BY ?r ?e"""):
        date = row.get("date")
        found.setdefault(text(row, "r"), []).append(
            Reference(text(row, "url"), date if isinstance(date, ox.Literal) else None, text(row, "publisher"), text(row, "quote")))
    return found


def statements_for(store: ox.Store, iri: str, kind: str, references: list[Reference]) -> list[Statement]:
    """The statements one relationship makes, with its stake and date qualifiers."""
    roles: dict[str, list[str]] = {}
    qualifiers: list[tuple[str, ox.Literal]] = []
    derived = {text(row, "p")[len(ONTOLOGY_NS):] for row in select(
        store, f"SELECT ?p WHERE {{ <{iri}> akg:dateDerivation/akg:derivedProperty ?p }}")}
    for row in select(store, f"SELECT ?p ?o WHERE {{ <{iri}> ?p ?o }} ORDER BY ?p ?o"):
        prop, value = text(row, "p")[len(ONTOLOGY_NS):], row["o"]
        if prop in derived:  # a date we worked out from "on Thursday" is not one the source states
            continue
        if isinstance(value, ox.NamedNode):
            roles.setdefault(prop, []).append(value.value)
        elif prop == "stakePercent":
            qualifiers.append(("P1107", ox.Literal(str(round(float(value.value) / 100, 6)), datatype=ox.NamedNode(XSD + "decimal"))))
        elif prop in DATE_QUALIFIERS and isinstance(value, ox.Literal) and value.datatype.value in PRECISION:
            qualifiers.append((DATE_QUALIFIERS[prop], value))
    made = []
    for prop, subject_role, value_role in MAPPING[kind]:
        for subject in roles.get(subject_role, []):
            for value in roles.get(value_role, []):
                if subject != value:
                    made.append(Statement(iri, subject, prop, value, list(qualifiers), list(references)))
    return made


def time_value(literal: ox.Literal) -> tuple[str, int]:
    """A date literal as Wikibase's timestamp and precision (day 11, month 10, year 9).

    >>> time_value(ox.Literal("2015-03-12", datatype=ox.NamedNode(XSD + "date")))
    ('+2015-03-12T00:00:00Z', 11)
    >>> time_value(ox.Literal("2021", datatype=ox.NamedNode(XSD + "gYear")))
    ('+2021-00-00T00:00:00Z', 9)
    """
    year, month, day = (literal.value.split("-") + ["00", "00"])[:3]  # a year or year-month leaves zeros
    return f"+{year}-{month}-{day}T00:00:00Z", PRECISION[literal.datatype.value]


def statement_node(statement: Statement, index: int) -> str:
    """A stable IRI for the statement node (Wikidata's own statement IDs do not exist yet)."""
    return f"{statement.relationship}--wikidata-{statement.property}-{index}"


def wikibase_rdf(export: Export) -> list[ox.Triple]:
    """The statements in Wikibase RDF: truthy wdt:, p:/ps: statement nodes, pq:/pqv: qualifiers, prov references."""
    triples: list[ox.Triple] = []
    n = ox.NamedNode

    def add(s: str, p: str, o: ox.NamedNode | ox.Literal) -> None:
        triples.append(ox.Triple(n(s), n(p), o))

    counts: dict[tuple[str, str], int] = {}
    for st in export.statements:
        subject, value = export.item(st.subject), export.item(st.value)
        index = counts[(st.relationship, st.property)] = counts.get((st.relationship, st.property), 0) + 1
        node = statement_node(st, index)
        add(subject, PROP + "direct/" + st.property, n(value))
        add(subject, PROP + st.property, n(node))
        add(node, RDF_TYPE, n(WIKIBASE + "Statement"))
        add(node, WIKIBASE + "rank", n(WIKIBASE + "NormalRank"))
        add(node, PROP + "statement/" + st.property, n(value))
        for prop, literal in st.qualifiers:
            if prop == "P1107":
                add(node, PROP + "qualifier/" + prop, literal)
                continue
            stamp, precision = time_value(literal)
            add(node, PROP + "qualifier/" + prop, ox.Literal(stamp[1:], datatype=n(XSD + "dateTime")))
            value_node = f"{node}--{prop}"
            add(node, PROP + "qualifier/value/" + prop, n(value_node))
            add(value_node, RDF_TYPE, n(WIKIBASE + "TimeValue"))
            add(value_node, WIKIBASE + "timeValue", ox.Literal(stamp[1:], datatype=n(XSD + "dateTime")))
            add(value_node, WIKIBASE + "timePrecision", ox.Literal(str(precision), datatype=n(XSD + "integer")))
            add(value_node, WIKIBASE + "timeTimezone", ox.Literal("0", datatype=n(XSD + "integer")))
        for position, ref in enumerate(st.references, 1):
            ref_node = f"{node}--ref-{position}"
            add(node, PROV + "wasDerivedFrom", n(ref_node))
            add(ref_node, RDF_TYPE, n(WIKIBASE + "Reference"))
            if ref.url:
                add(ref_node, PROP + "reference/P854", n(ref.url))
            if ref.date is not None and ref.date.datatype.value in PRECISION:
                add(ref_node, PROP + "reference/P577", ox.Literal(time_value(ref.date)[0][1:], datatype=n(XSD + "dateTime")))
            if ref.publisher:
                add(ref_node, PROP + "reference/P123", n(export.item(ref.publisher)))
            add(ref_node, PROP + "reference/P1683", ox.Literal(ref.quote, language="en"))
    return sorted(set(triples), key=str)


def quickstatements(export: Export, missing: set[tuple[str, str, str]] | None = None) -> tuple[str, list[LeftOut]]:
    """QuickStatements V1 commands for the statements between linked items (only those in `missing`, if given).

    Each line is tab-separated: item, property, value, qualifier pairs, then S-prefixed reference pairs.
    A quote with a double quote in it cannot be written in V1 and is left off that reference.

    >>> st = Statement("r", "a", "P127", "b", [], [Reference("https://x.org/1", None, "", 'said "so"')])
    >>> quickstatements(Export([st], [], {"a": WD + "Q1", "b": WD + "Q2"}))[0]
    'Q1\\tP127\\tQ2\\tS854\\t"https://x.org/1"\\n'
    """
    lines: list[str] = []
    skipped: list[LeftOut] = []
    for st in export.statements:
        subject, value = export.links.get(st.subject), export.links.get(st.value)
        if subject is None or value is None:
            unlinked = st.subject if subject is None else st.value
            skipped.append(LeftOut(st.relationship, f"{st.property} {st.subject} -> {st.value}", f"unlinked entity: {unlinked}"))
            continue
        q_subject, q_value = subject.rsplit("/", 1)[1], value.rsplit("/", 1)[1]
        if missing is not None and (q_subject, st.property, q_value) not in missing:
            skipped.append(LeftOut(st.relationship, f"{q_subject} {st.property} {q_value}", "already in Wikidata"))
            continue
        cells = [q_subject, st.property, q_value]
        for prop, literal in st.qualifiers:
            if prop == "P1107":
                cells += [prop, literal.value]
            else:
                stamp, precision = time_value(literal)
                cells += [prop, f"{stamp}/{precision}"]
        for ref in st.references[:1]:  # QuickStatements V1 takes one reference per statement line
            if ref.url:
                cells += ["S854", f'"{ref.url}"']
            if ref.date is not None and ref.date.datatype.value in PRECISION:
                stamp, precision = time_value(ref.date)
                cells += ["S577", f"{stamp}/{precision}"]
            if ref.publisher in export.links:
                cells += ["S123", export.links[ref.publisher].rsplit("/", 1)[1]]
            if '"' not in ref.quote and "\t" not in ref.quote and "\n" not in ref.quote:
                cells += ["S1683", f'en:"{ref.quote}"']
        lines.append("\t".join(cells))
    body = "".join(line + "\n" for line in dict.fromkeys(lines))
    return body, skipped
