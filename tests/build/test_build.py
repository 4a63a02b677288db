"""`autokg build`: byte-identical artefacts, VoID, checksums, and a store that is rebuilt only when inputs change."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Dataset, Graph, Namespace, URIRef

from autokg.build.artefacts import PART_FILES, build
from autokg.config import ProjectFiles, project_files
from autokg.errors import AutokgError
from autokg.build.shortcuts import unbacked_select
from autokg.stores.embedded import GRAPH_NS, current_store, open_store

VOID = Namespace("http://rdfs.org/ns/void#")
ROOT = project_files().root


@pytest.fixture
def copy(tmp_path: Path) -> ProjectFiles:
    """A throwaway copy of the project's inputs, so tests can change them."""
    for folder in ("ontology", "shapes", "data"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return ProjectFiles(tmp_path)


def test_every_artefact_is_written(built):
    names = {p.name for p in built.files}
    for stem in PART_FILES.values():
        assert {f"{stem}.ttl", f"{stem}.nt", f"{stem}.jsonld"} <= names
    assert {"autokg.nq", "void.ttl", "SHA256SUMS"} <= names


@pytest.mark.parametrize("suffix, fmt", [(".ttl", "turtle"), (".nt", "nt"), (".jsonld", "json-ld")])
def test_artefacts_parse_and_parts_add_up(built, suffix, fmt):
    counts = {part: len(Graph().parse(built.dist / f"{stem}{suffix}", format=fmt)) for part, stem in PART_FILES.items()}
    assert counts["all"] == built.triples["all"]
    assert counts["ontology"] + counts["data"] + counts["shortcuts"] >= counts["all"]


def test_nquads_has_one_named_graph_per_part(built):
    dataset = Dataset().parse(built.dist / "autokg.nq", format="nquads")
    graphs = {str(g.identifier) for g in dataset.graphs() if len(g)}
    assert graphs == {GRAPH_NS + part for part in ("ontology", "data", "shortcuts")}


def test_checksums_match(built):
    for line in (built.dist / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256((built.dist / name).read_bytes()).hexdigest() == digest


def test_void_statistics(built):
    void = Graph().parse(built.dist / "void.ttl")
    dataset = URIRef("https://w3id.org/autokg/dataset")
    assert int(void.value(dataset, VOID.triples)) == built.triples["all"]
    assert int(void.value(dataset, VOID.entities)) > 100
    assert int(void.value(dataset, VOID.classes)) > 10 and int(void.value(dataset, VOID.properties)) > 40
    linkset = URIRef("https://w3id.org/autokg/dataset/wikidata-links")
    assert int(void.value(linkset, VOID.triples)) == 33


def test_build_is_byte_identical_across_processes(built, tmp_path):
    before = (built.dist / "SHA256SUMS").read_text()
    env = dict(os.environ, PYTHONHASHSEED="4242")
    subprocess.run([sys.executable, "-m", "autokg.cli", "build"], check=True, env=env, capture_output=True)
    assert (built.dist / "SHA256SUMS").read_text() == before


def test_shortcuts_are_all_backed(built):
    # the shape's per-node query must find nothing for any subject of the built shortcuts
    store = ox.Store()
    store.load(path=str(built.dist / "autokg.nt"), format=ox.RdfFormat.N_TRIPLES)
    shortcuts = Graph().parse(built.dist / "autokg-shortcuts.nt", format="nt")
    assert len(shortcuts) > 20
    prefixes = "PREFIX akg: <https://w3id.org/autokg/ontology#>\nPREFIX akgv: <https://w3id.org/autokg/vocab/>\n"
    for subject in set(shortcuts.subjects()):
        text = prefixes + unbacked_select().replace("SELECT $this", "SELECT").replace("$this", f"<{subject}>")
        assert list(store.query(text)) == []


def test_shape_holds_the_same_backing_query(project):
    selects = [str(o) for o in project.shapes.objects(None, URIRef("http://www.w3.org/ns/shacl#select"))]
    assert unbacked_select().strip() in [s.strip() for s in selects]


@pytest.mark.slow
def test_store_is_reused_and_rebuilt_on_change(copy):
    first = build(copy)
    assert first.store_rebuilt and current_store(copy) == first.store
    assert not build(copy).store_rebuilt
    entities = copy.root / "data" / "entities.ttl"
    entities.write_text(entities.read_text().replace('"Geely"@en', '"Geely Holding"@en'))
    third = build(copy)
    assert third.store_rebuilt and third.store != first.store
    assert not first.store.exists(), "the old store should be removed after the swap"
    store = open_store(copy)
    ask = 'ASK { GRAPH ?g { <https://w3id.org/autokg/id/geely> ?p "Geely Holding"@en } }'
    assert store.query(ask)


def test_store_open_refuses_a_stale_store(copy):
    build(copy)
    (copy.root / "data" / "sources.ttl").write_text((copy.root / "data" / "sources.ttl").read_text() + "\n")
    with pytest.raises(AutokgError, match="autokg build"):
        open_store(copy)


def test_build_refuses_invalid_data_and_writes_nothing(copy):
    bad = copy.root / "data" / "articles" / "999.ttl"
    bad.write_text(
        "@prefix akg: <https://w3id.org/autokg/ontology#> .\n@prefix akr: <https://w3id.org/autokg/id/> .\n"
        "akr:agreement--ford a akg:Agreement ; akg:partner akr:ford .\n"
    )
    with pytest.raises(AutokgError, match="does not conform"):
        build(copy)
    assert not (copy.root / "dist" / "SHA256SUMS").exists()
