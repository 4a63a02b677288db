"""Mistakes contributors make that SHACL shapes alone let through: `autokg validate` catches each, names the
fix, and exits 1; and a file is checked in the context of the project's data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.paths import TESTS

CONTRIBUTION = TESTS / "validate" / "contribution.ttl"
PERSON_AS_PARTNER = "akg:partner akr:apple , akr:saic-motor ;"


def contribution(tmp_path: Path, old: str = "", new: str = "", extra: str = "") -> Path:
    """The conforming contribution with one change, written to a temporary file."""
    text = CONTRIBUTION.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "contribution.ttl"
    path.write_text(text.replace(old, new, 1) + extra, encoding="utf-8")
    return path


def findings(runner, path: Path, *options: str) -> tuple[int, list[dict]]:
    run = runner("validate", "--format", "json", *options, str(path))
    return run.status, json.loads(run.out)["findings"] if run.out else []


def shapes(found: list[dict]) -> set[str]:
    return {f["shape"] for f in found}


def test_the_contribution_conforms(runner, tmp_path):
    status, found = findings(runner, contribution(tmp_path))
    assert status == 0
    assert {f["severity"] for f in found} == {"Info"}


@pytest.mark.parametrize(
    "old, new, check, words",
    [
        ("akg:rank akgv:normal-rank ;", 'akg:rank akgv:normal-rank ; akg:anouncedOn "2020"^^<http://www.w3.org/2001/XMLSchema#gYear> ;',
         "akgsh:UnknownTerm", "did you mean <https://w3id.org/autokg/ontology#announcedOn>"),
        ("a akg:Agreement ;", "a akg:Agrement ;", "akgsh:UnknownTerm", "did you mean <https://w3id.org/autokg/ontology#Agreement>"),
        ("akg:status akgv:active", "akg:status akgv:actve", "akgsh:UnknownTerm", "not defined in the vocabularies"),
        ("working with China’s largest", "working with the largest", "akgsh:QuoteNotInSource", "verbatim"),
        (PERSON_AS_PARTNER, 'akg:partner akr:apple , akr:saic-motor , "Apple" ;', "akgsh:LiteralForResource", "not a text"),
        ("a akg:Company ;", "a akg:Company , akg:Person ;", "akgsh:DisjointTypes", "declares disjoint"),
        ('rdfs:label "Newco"@en ;', 'rdfs:label "Newco"@en ; skos:exactMatch <http://www.wikidata.org/entity/Q4115189> ;',
         "akgsh:UnverifiedWikidataLink", "not marked verified"),
    ],
    ids=["property-typo", "class-typo", "concept-typo", "paraphrased-quote", "literal-partner", "disjoint-types", "unverified-wikidata"],
)
def test_mistake_is_caught_with_its_fix(runner, tmp_path, old, new, check, words):
    path = contribution(tmp_path, old, new.replace("skos:", "<http://www.w3.org/2004/02/skos/core#").replace(
        "core#exactMatch", "core#exactMatch>"))
    status, found = findings(runner, path)
    assert status == 1
    messages = [f["message"] for f in found if f["shape"] == check]
    assert messages and any(words in m for m in messages), found


def test_literal_partner_is_named_as_such(runner, tmp_path):
    path = contribution(tmp_path, PERSON_AS_PARTNER, 'akg:partner akr:apple , "SAIC Motor" ;')
    run = runner("validate", str(path))
    assert run.status == 1
    assert 'value "SAIC Motor"' in run.out and "not a text" in run.out


@pytest.mark.slow
def test_data_cannot_redefine_the_ontology(runner, tmp_path):
    person = contribution(tmp_path, PERSON_AS_PARTNER, "akg:partner akr:apple , akr:daniel-zhang ;")
    status, found = findings(runner, person)
    assert status == 1 and "akgsh:Agreement-partner" in shapes(found)
    # the same file, with the data saying that a person is an organization: the violation stays, and the triple is named
    redefined = contribution(tmp_path, PERSON_AS_PARTNER, "akg:partner akr:apple , akr:daniel-zhang ;",
                             "\nakg:Person rdfs:subClassOf akg:Organization .\n")
    status, found = findings(runner, redefined)
    assert status == 1
    assert {"akgsh:Agreement-partner", "akgsh:OntologyTermInData"} <= shapes(found)


@pytest.mark.parametrize("triple", [
    "akgsh:Agreement-partner sh:deactivated true .",
    "akr:agreement--apple--saic-motor a sh:NodeShape .",
    "akg:partner rdfs:range akg:Person .",
])
def test_data_cannot_touch_shapes_or_schema(runner, tmp_path, triple):
    extra = ("\n@prefix sh: <http://www.w3.org/ns/shacl#> .\n@prefix akgsh: <https://w3id.org/autokg/shapes#> .\n" + triple + "\n")
    status, found = findings(runner, contribution(tmp_path, extra=extra))
    assert status == 1 and "akgsh:OntologyTermInData" in shapes(found)


SUBSIDIARY = """
akr:parent-subsidiary--{iri}
    a akg:ParentSubsidiary ;
    rdfs:label "A parent and its subsidiary"@en ;
    akg:evidence akr:agreement--apple--saic-motor--ev-003 ;
    akg:parent akr:{parent} ;
    akg:subsidiary akr:{subsidiary} ;
    akg:rank akgv:normal-rank ;
    akg:status akgv:active .
"""


@pytest.mark.parametrize("iri, parent, subsidiary", [
    ("im-motors--saic-motor", "im-motors", "saic-motor"),  # the project has SAIC Motor as IM Motors' parent
    ("apple--kia", "kia", "apple"),  # the IRI and the roles disagree
], ids=["against-the-project", "against-its-iri"])
def test_swapped_parent_and_subsidiary_are_caught(runner, tmp_path, iri, parent, subsidiary):
    status, found = findings(runner, contribution(tmp_path, extra=SUBSIDIARY.format(iri=iri, parent=parent, subsidiary=subsidiary)))
    assert status == 1
    assert any(f["shape"] == "akgsh:SwappedParentSubsidiary" and "swap" in f["message"] for f in found), found


def test_text_file_outside_the_sources_is_not_read(runner, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("Alibaba is currently working with China’s largest automaker, based in Shanghai, SAIC Motors.")
    extra = f"""
akr:source-999 a akg:SourceDocument ; rdfs:label "A source"@en ; akg:sourceId "999" ; akg:textFile "{secret}" .
akr:agreement--apple--saic-motor--ev-999 a akg:Evidence ; akg:certainty akgv:reported ; akg:source akr:source-999 ;
    akg:quote "Alibaba is currently working with China’s largest automaker, based in Shanghai, SAIC Motors."@en .
"""
    status, found = findings(runner, contribution(tmp_path, extra=extra), "--fail-on", "warning")
    assert status == 1
    assert any(f["shape"] == "akgsh:SourceText" for f in found)


def test_a_project_file_is_checked_in_the_context_of_the_project(runner, files):
    run = runner("validate", str(files.root / "data" / "articles" / "001.ttl"))
    assert run.status == 0, run.out
    assert "0 violations" in run.out
    assert "in the context of the project's data" in run.err
    alone = runner("validate", "--alone", str(files.root / "data" / "articles" / "001.ttl"))
    assert alone.status == 1 and "context" not in alone.err


def test_findings_on_the_project_are_not_blamed_on_the_file(runner, tmp_path):
    status, found = findings(runner, contribution(tmp_path))
    focus = {f["focus"] for f in found}
    assert focus == {"akr:newco"}  # the project's own unlinked organizations stay out of the file's report
