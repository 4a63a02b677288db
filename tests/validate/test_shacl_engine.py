"""autokg's speed-ups of pyshacl (autokg.validate.engine) change nothing that pyshacl finds: every example under
tests/validate/shapes/ and the project's data give identical findings with and without them, with every
SPARQL-based constraint that autokg.validate.whole_graph finds exact run over the whole graph."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import URIRef
from rdflib.compare import isomorphic

from autokg.rdf.loading import read_quads
from autokg.validate import engine
from autokg.validate.validation import CountCachingGraph, oxigraph_graph, validate_graph
from support.paths import TESTS

SHAPES_DIR = TESTS / "validate" / "shapes"
EXAMPLES = sorted((SHAPES_DIR / "invalid").glob("*.ttl")) + sorted((SHAPES_DIR / "valid").glob("*.ttl"))


def validated(paths: list[Path], project, fast: bool):
    """The report of one run; the plain run uses oxrdflib's own store and pyshacl as released."""
    graph = oxigraph_graph() if fast else CountCachingGraph(store="Oxigraph")
    for path in paths:
        graph.load(read_quads(path))
    return validate_graph(graph, project, fast=fast)


def fields(report) -> list[tuple]:
    """Every field of every finding, sorted."""
    return sorted((f.focus, f.severity, f.shape, f.component, f.path, f.value, f.message) for f in report.findings)


def same_results(paths: list[Path], project) -> list[tuple]:
    """Assert that both runs give the same findings and isomorphic results graphs (sh:detail included); the findings."""
    fast, plain = validated(paths, project, True), validated(paths, project, False)
    assert fields(fast) == fields(plain)
    assert isomorphic(fast.results_graph, plain.results_graph)
    return fields(fast)


@pytest.fixture(autouse=True)
def whole_graph_always(monkeypatch):
    """Each SPARQL-based constraint runs over the whole graph from its first focus node, where it is exact."""
    monkeypatch.setattr(engine, "PER_NODE_QUERIES", 0)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_same_findings_as_pyshacl_on_every_example(example, project):
    fast = same_results([SHAPES_DIR / "base.ttl", example], project)
    assert fast or example.parent.name == "valid"


def test_a_failing_value_shared_by_two_focus_nodes_gives_each_its_own_details(project, tmp_path):
    # autokg.validate.lean_shapes evaluates the concept once for both agreements; pyshacl once for each
    shared = tmp_path / "shared.ttl"
    shared.write_text(
        (SHAPES_DIR / "invalid" / "Agreement-agreementType.ttl").read_text(encoding="utf-8")
        + "akr:agreement--apple--ford--2 a akg:Agreement ; rdfs:label \"Ford–Apple agreement\"@en ;\n"
        "    akg:partner akr:apple, akr:ford ; akg:agreementType akgv:series-b ;\n"
        "    akg:status akgv:signed ; akg:rank akgv:normal-rank ; akg:evidence akr:test-evidence .\n",
        encoding="utf-8",
    )
    fast = same_results([SHAPES_DIR / "base.ttl", shared], project)
    assert [f[0] for f in fast if f[2] == "akgsh:Agreement-agreementType"] == [
        "akr:agreement--alibaba-group--ford--2", "akr:agreement--apple--ford--2"]


def test_same_findings_as_pyshacl_on_the_project_data(project, files):
    assert same_results(files.data, project)


def test_a_sparql_constraint_switches_to_the_whole_graph_on_time_alone(project, files, monkeypatch):
    # the switch after PER_NODE_SECONDS of per-node queries, with the count switch out of reach
    monkeypatch.setattr(engine, "PER_NODE_QUERIES", 10**9)
    monkeypatch.setattr(engine, "PER_NODE_SECONDS", 0.0)
    whole = []
    original = engine.rows_by_focus
    monkeypatch.setattr(engine, "rows_by_focus", lambda rows: whole.append(1) or original(rows))
    assert same_results(files.data, project)
    assert whole, "no constraint ran over the whole graph"


def test_the_frozen_index_answers_as_oxigraph_does_and_goes_when_the_store_changes(files):
    graph = oxigraph_graph()
    for path in files.data:
        graph.load(read_quads(path))
    s, p, o = next(iter(graph))
    patterns = [(s, None, None), (s, p, None), (s, p, o), (None, p, None), (None, p, o), (None, None, o), (s, None, o),
                (URIRef("urn:nothing"), None, None), (None, URIRef("urn:nothing"), None)]
    plain = [sorted(graph.triples(pattern)) for pattern in patterns]
    graph.store.freeze(graph)
    assert [sorted(graph.triples(pattern)) for pattern in patterns] == plain
    extra = (s, p, URIRef("urn:new"))
    graph.add(extra)  # any change drops the index: the new triple is seen
    assert extra in set(graph.triples((s, p, None)))
    assert graph.store._index is None
