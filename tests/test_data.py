"""The shipped data: it conforms, its quotes are verbatim, its IRIs follow the rules of docs/conventions.md."""

from __future__ import annotations

import re

import pytest
from rdflib import RDF, BNode, Namespace, URIRef

from autokg.config import ONTOLOGY_NS, RESOURCE_NS
from autokg.statistics import instances, subclasses
from autokg.validation import validate_graph

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


def test_conflicting_accounts_of_im_motors_founding_are_both_kept(project):
    founded = [
        node for node in project.data.subjects(AKG.resultingOrganization, URIRef(RESOURCE_NS + "im-motors"))
        if (node, RDF.type, AKG.JointVentureFormation) in project.data
    ]
    assert len(founded) == 2
    first, second = founded
    assert (first, AKG.conflictsWith, second) in project.data
    sources = {project.data.value(e, AKG.source) for node in founded for e in project.data.objects(node, AKG.evidence)}
    assert len(sources) == 2


def test_every_entity_says_where_it_is_mentioned(project):
    kinds = [AKG.Organization, AKG.Person, AKG.Brand, AKG.Product, AKG.Event, AKG.Place, AKG.Ranking]
    silent = [slug(n) for kind in kinds for n in instances(project.data, project.ontology, kind)
              if (n, AKG.mentionedIn, None) not in project.data]
    assert silent == []
