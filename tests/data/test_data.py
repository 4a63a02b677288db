"""The shipped data: it conforms, its quotes are verbatim, its IRIs follow the rules of docs/conventions.md."""

from __future__ import annotations

import csv
import re

import pytest
from rdflib import RDF, RDFS, BNode, Literal, Namespace, URIRef
from rdflib.namespace import SKOS

from autokg.build.statistics import instances, subclasses
from autokg.config import ONTOLOGY_NS, RESOURCE_NS
from autokg.config import WIKIDATA_ENTITY_NS as WD
from autokg.config import project_files
from autokg.validate.validation import validate_graph

AKG = Namespace(ONTOLOGY_NS)
TYPE_CODES = {
    "EquityStake": "equity-stake", "ParentSubsidiary": "parent-subsidiary", "JointVentureFormation": "jv-formation",
    "FundingRound": "funding-round", "Investment": "investment", "Acquisition": "acquisition", "Agreement": "agreement",
    "BrandOwnership": "brand-ownership", "Position": "position", "ProductLaunch": "product-launch", "Figure": "figure",
    "Plan": "plan", "Rivalry": "rivalry", "Listing": "listing", "Location": "location", "Affiliation": "affiliation",
    "Supply": "supply", "ProductOffering": "product-offering", "Statement": "statement", "Participation": "participation",
}


def slug(node) -> str:
    return str(node).removeprefix(RESOURCE_NS)


@pytest.fixture(scope="module")
def report(project):
    return validate_graph(project.data, project)


def test_data_has_no_violations(report):
    violations = [f for f in report.findings if f.severity == "Violation"]
    assert violations == [], report.as_text()


def test_data_has_no_warnings(report):
    assert report.count("Warning") == 0, report.as_text()


def test_every_relationship_class_has_a_type_code(project):
    relationship_classes = {str(c).removeprefix(ONTOLOGY_NS) for c in subclasses(project.ontology, AKG.Relationship)}
    assert relationship_classes - {"Relationship"} == set(TYPE_CODES)


def test_no_blank_nodes(project):
    blank = [t for t in project.data if any(isinstance(term, BNode) for term in t)]
    assert blank == []


def test_quotes_are_verbatim(project, files):
    texts = {}
    wrong = []
    for evidence, quote in project.data.subject_objects(AKG.quote):
        source = project.data.value(evidence, AKG.source)
        path = files.root / str(project.data.value(source, AKG.textFile))
        if path not in texts:
            texts[path] = path.read_text(encoding="utf-8")
        if str(quote) not in texts[path]:
            wrong.append((slug(evidence), str(quote)))
    assert wrong == []


def test_source_texts_exist(project, files):
    for source in project.data.subjects(RDF.type, AKG.SourceDocument):
        path = files.root / str(project.data.value(source, AKG.textFile))
        assert path.is_file(), f"{slug(source)}: {path} is missing"
        assert project.data.value(source, AKG.sourceId).toPython() == path.stem


#: the roles whose slugs make up a relationship's IRI, in docs/conventions.md
SLUG_ROLES = {
    "equity-stake": ["owner", "owned"], "parent-subsidiary": ["parent", "subsidiary"], "jv-formation": ["partner"],
    "funding-round": ["fundedOrganization"], "investment": ["investor", "investorClass"], "acquisition": ["acquirer", "acquired"],
    "agreement": ["partner"], "brand-ownership": ["owner", "brand"], "position": ["person", "organization"],
    "product-launch": ["organization", "product"], "figure": ["about"], "plan": ["about"], "rivalry": ["rival"],
    "listing": ["listedOrganization"], "location": ["locatedOrganization", "place"], "affiliation": ["affiliate", "affiliatedWith"],
    "supply": ["supplier", "customer"], "product-offering": ["provider", "product"], "statement": ["speaker"],
    "participation": ["participant", "event"],
}


def test_every_type_code_has_slug_roles():
    assert set(SLUG_ROLES) == set(TYPE_CODES.values())


def expected_prefix(node, code: str, data) -> list[str]:
    """The slug segments that a relationship's type and parties determine."""
    segments = [code]
    for role in SLUG_ROLES[code]:
        values = sorted(slug(v).split("/")[-1] for v in data.objects(node, AKG[role]))
        segments.extend(values)
    return segments


def test_relationship_iris_are_derived_from_type_and_parties(project):
    problems = []
    for node in instances(project.data, project.ontology, AKG.Relationship):
        codes = [TYPE_CODES[str(c).removeprefix(ONTOLOGY_NS)] for c in project.data.objects(node, RDF.type)
                 if str(c).removeprefix(ONTOLOGY_NS) in TYPE_CODES]
        assert len(codes) == 1, f"{slug(node)} has {len(codes)} relationship types"
        wanted = expected_prefix(node, codes[0], project.data)
        segments = slug(node).split("--")
        if segments[: len(wanted)] != wanted:
            problems.append(f"{slug(node)} should start with {'--'.join(wanted)}")
    assert problems == []


def test_evidence_iris_extend_their_relationship(project):
    problems = []
    for relationship, evidence in project.data.subject_objects(AKG.evidence):
        source = project.data.value(evidence, AKG.source)
        number = str(project.data.value(source, AKG.sourceId))[:3]
        if not re.fullmatch(re.escape(slug(relationship)) + rf"--ev-{number}(-\d+)?", slug(evidence)):
            problems.append(f"{slug(evidence)} should be {slug(relationship)}--ev-{number}")
    assert problems == []


def test_im_motors_and_zhiji_motor_are_kept_apart(project):
    """No article says that Zhiji Motor (001) is IM Motors (000): two entities, two unlinked founding accounts."""
    founded = {
        slug(org): node for org in (URIRef(RESOURCE_NS + "im-motors"), URIRef(RESOURCE_NS + "zhiji-motor"))
        for node in project.data.subjects(AKG.resultingOrganization, org)
        if (node, RDF.type, AKG.JointVentureFormation) in project.data
    }
    assert set(founded) == {"im-motors", "zhiji-motor"}
    assert (None, AKG.conflictsWith, None) not in project.data
    names = {str(n) for n in project.data.objects(URIRef(RESOURCE_NS + "im-motors"), RDFS.label | SKOS.altLabel)}
    assert not {"Zhiji Motor", "Zhiji Auto", "智己汽车"} & names


def source_texts(project, files) -> dict:
    """Each source document's text."""
    return {s: (files.root / str(f)).read_text(encoding="utf-8") for s, f in project.data.subject_objects(AKG.textFile)}


def verified_names() -> dict[str, set[str]]:
    """Wikidata IRI -> the names its verified label gives ("Tencent (China) / 腾讯控股有限公司": both, no country)."""
    names = {}
    with open(project_files().wikidata_reference, encoding="utf-8") as tsv:
        for row in csv.DictReader(tsv, delimiter="\t"):
            if row["status"] == "verified" and row["wikidata_id"]:
                names[WD + row["wikidata_id"]] = {re.sub(r" \([^)]*\)$", "", part.strip()) for part in row["wikidata_label"].split(" / ")}
    return names


def test_every_name_comes_from_an_article_or_a_verified_wikidata_label(project, files):
    """A label or alias is a name that an article mentioning the entity gives, or the label of its verified item.

    An English label may instead be our description of a thing no source names, marked akg:labelIsDescription.
    """
    texts, verified = source_texts(project, files), verified_names()
    unsourced = []
    for entity in set(project.data.subjects(AKG.mentionedIn, None)):
        mentioned = [texts[s].casefold() for s in project.data.objects(entity, AKG.mentionedIn)]
        from_wikidata = set().union(*[verified.get(str(q), set()) for q in project.data.objects(entity, SKOS.exactMatch)])
        described = project.data.value(entity, AKG.labelIsDescription) == Literal(True)
        for prop in (RDFS.label, SKOS.altLabel):
            for name in project.data.objects(entity, prop):
                if str(name) in from_wikidata or any(str(name).casefold() in text for text in mentioned):
                    continue
                if described and prop == RDFS.label and name.language == "en":
                    continue
                unsourced.append(f"{slug(entity)} {prop.n3(project.data.namespace_manager)} {name.n3()}")
    assert sorted(unsourced) == []


def test_industry_evidence_quotes_name_the_organization(project):
    """The passage that backs an industry names the organization it classifies (or, for "state-owned companies as
    partners", the partner it is about is named in a relationship of the same article)."""
    unnamed = []
    for entity, evidence in project.data.subject_objects(AKG.industryEvidence):
        quote = str(project.data.value(evidence, AKG.quote)).casefold()
        names = [str(n).casefold() for n in project.data.objects(entity, RDFS.label | SKOS.altLabel)]
        if not any(n in quote for n in names) and "partners" not in quote:
            unnamed.append(slug(evidence))
    assert unnamed == []


#: a relationship of this class needs one evidence quote with one of these words, or it says more than its source
CUES = {
    "ParentSubsidiary": r"subsidiary|unit of|umbrella|parent",
    "EquityStake": r"stake|share|portfolio|owns|owned",
    "BrandOwnership": r"brand|portfolio|marque",
    "Agreement": r"agree|partner|letter of intent|working|work together|cooperat|collaborat|in talks",
    "JointVentureFormation": r"joint venture|\bJV\b|jointly|launched|collaboration|partnership",
    "Investment": r"invest|financing|funding|backers|support",
    "Acquisition": r"acqui|bought|buys|takeover",
}


def test_relationships_have_a_quote_that_states_their_kind(project):
    """A parent company needs "subsidiary" or "unit of", an agreement "partner" or "agree"...: "reports directly to
    the central government" is no parent, "first selling Fiat vehicles" no agreement."""
    unstated = []
    for kind, cue in CUES.items():
        for node in project.data.subjects(RDF.type, AKG[kind]):
            quotes = [str(project.data.value(e, AKG.quote)) for e in project.data.objects(node, AKG.evidence)]
            if not any(re.search(cue, q, re.IGNORECASE) for q in quotes):
                unstated.append(slug(node))
    assert unstated == []


#: relationships between parties, whose quotes must name each party
PARTY_KINDS = ("EquityStake", "ParentSubsidiary", "Investment", "Agreement", "BrandOwnership", "JointVentureFormation",
               "Affiliation", "Acquisition", "Supply", "ProductOffering", "Position", "Rivalry", "Listing")
FIRST_PERSON = re.compile(r"\b(we|our|us)\b", re.IGNORECASE)


def test_quotes_name_every_party(project):
    """The passage that states a tie names both sides ("Its portfolio contains MG" does not say whose): a party
    is named by a label or alias, unless its label is our description, or the party speaks ("our platforms")."""
    roles = set(project.ontology.transitive_subjects(RDFS.subPropertyOf, AKG.party)) - {AKG.party}
    unnamed = []
    for kind in PARTY_KINDS:
        for node in project.data.subjects(RDF.type, AKG[kind]):
            quotes = " ".join(str(project.data.value(e, AKG.quote)) for e in project.data.objects(node, AKG.evidence))
            for role in roles:
                for party in project.data.objects(node, role):
                    names = [str(n).casefold() for n in project.data.objects(party, RDFS.label | SKOS.altLabel)]
                    described = project.data.value(party, AKG.labelIsDescription) == Literal(True)
                    if not (any(n in quotes.casefold() for n in names) or described or FIRST_PERSON.search(quotes)):
                        unnamed.append(f"{slug(node)} {slug(role).split('#')[-1]} {slug(party)}")
    assert unnamed == []


def test_derived_dates_quote_the_words_they_come_from(project, files):
    texts = source_texts(project, files)
    wrong = []
    for node, derivation in project.data.subject_objects(AKG.dateDerivation):
        words, source = str(project.data.value(derivation, AKG.statedAs)), project.data.value(derivation, AKG.relativeTo)
        quotes = [str(project.data.value(e, AKG.quote)) for e in project.data.objects(node, AKG.evidence)]
        if words not in texts[source] or not any(words in q for q in quotes):
            wrong.append(slug(derivation))
    assert wrong == []


def test_every_entity_says_where_it_is_mentioned(project):
    kinds = [AKG.Organization, AKG.Person, AKG.Brand, AKG.Product, AKG.Event, AKG.Place, AKG.Ranking]
    silent = [slug(n) for kind in kinds for n in instances(project.data, project.ontology, kind)
              if (n, AKG.mentionedIn, None) not in project.data]
    assert silent == []
