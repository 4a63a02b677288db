"""Wikidata links: every verified item that is in the data is linked, and no other Q-number appears."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from rdflib import URIRef
from rdflib.namespace import SKOS

from autokg.config import RESOURCE_NS, WIKIDATA_ENTITY_NS, project_files
from autokg.rdf.loading import load_graph
from support.paths import ROOT, TESTS

FIXTURES = TESTS / "fixtures"
SHARED_REFERENCE = ROOT.parent / "shared" / "reference" / "wikidata.tsv"


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


REFERENCE = read_tsv(project_files().wikidata_reference)
MAPPING = {row["wikidata_id"]: row for row in read_tsv(FIXTURES / "wikidata-mapping.tsv")}
VERIFIED_ITEMS = {r["wikidata_id"] for r in REFERENCE if r["kind"] == "item" and r["status"] == "verified"}
VERIFIED_ANY = {r["wikidata_id"] for r in REFERENCE if r["status"] == "verified"}


def links(graph) -> set[tuple[str, str]]:
    """(slug, Q-number) for every skos:exactMatch to Wikidata."""
    found = set()
    for s, o in graph.subject_objects(SKOS.exactMatch):
        if str(o).startswith(WIKIDATA_ENTITY_NS):
            found.add((str(s).removeprefix(RESOURCE_NS), str(o).removeprefix(WIKIDATA_ENTITY_NS)))
    return found


@pytest.mark.skipif(not SHARED_REFERENCE.exists(), reason="shared/ is not beside this checkout")
def test_reference_copy_matches_shared():
    assert project_files().wikidata_reference.read_text() == SHARED_REFERENCE.read_text()


def test_every_verified_item_has_a_decision():
    assert VERIFIED_ITEMS - set(MAPPING) == set(), "add these Q-numbers to tests/fixtures/wikidata-mapping.tsv"
    assert set(MAPPING) - VERIFIED_ITEMS == set(), "the mapping names Q-numbers that are not verified items"
    unlinked_without_reason = [q for q, row in MAPPING.items() if row["entity"] == "-" and not row["note"].strip()]
    assert unlinked_without_reason == []


def test_verified_items_in_the_data_are_linked(project):
    subjects = {str(s).removeprefix(RESOURCE_NS) for s in project.data.subjects()}
    expected = {(row["entity"], q) for q, row in MAPPING.items() if row["entity"] != "-"}
    assert {slug for slug, _ in expected} <= subjects, "the mapping names entities that are not in the data"
    assert expected - links(project.data) == set()


def test_no_other_wikidata_identifier_appears(project, files):
    expected = {(row["entity"], q) for q, row in MAPPING.items() if row["entity"] != "-"}
    assert links(project.data) - expected == set()
    used = {
        str(term).removeprefix(WIKIDATA_ENTITY_NS)
        for triple in project.data
        for term in triple
        if isinstance(term, URIRef) and str(term).startswith(WIKIDATA_ENTITY_NS)
    }
    assert used <= VERIFIED_ITEMS


def test_alignment_uses_only_verified_identifiers(files):
    alignment = load_graph(files.alignment)
    used = {
        str(o).removeprefix(WIKIDATA_ENTITY_NS)
        for o in alignment.objects()
        if isinstance(o, URIRef) and str(o).startswith(WIKIDATA_ENTITY_NS)
    }
    assert used and used <= VERIFIED_ANY, sorted(used - VERIFIED_ANY)
