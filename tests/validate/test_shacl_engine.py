"""autokg's speed-ups of pyshacl (autokg.validate.engine) change nothing that pyshacl finds: every example under
tests/validate/shapes/ and the project's data give identical findings with and without them, with every
SPARQL-based constraint that autokg.validate.whole_graph finds exact run over the whole graph."""

from __future__ import annotations

from pathlib import Path

import pytest

from autokg.rdf.loading import read_quads
from autokg.validate import engine
from autokg.validate.validation import CountCachingGraph, oxigraph_graph, validate_graph
from support.paths import TESTS

SHAPES_DIR = TESTS / "validate" / "shapes"
EXAMPLES = sorted((SHAPES_DIR / "invalid").glob("*.ttl")) + sorted((SHAPES_DIR / "valid").glob("*.ttl"))


def findings(paths: list[Path], project, fast: bool) -> list[tuple]:
    """Every field of every finding, sorted; the plain run uses oxrdflib's own store and pyshacl as released."""
    graph = oxigraph_graph() if fast else CountCachingGraph(store="Oxigraph")
    for path in paths:
        graph.load(read_quads(path))
    report = validate_graph(graph, project, fast=fast)
    return sorted((f.focus, f.severity, f.shape, f.component, f.path, f.value, f.message) for f in report.findings)


@pytest.fixture(autouse=True)
def whole_graph_always(monkeypatch):
    """Each SPARQL-based constraint runs over the whole graph from its first focus node, where it is exact."""
    monkeypatch.setattr(engine, "PER_NODE_QUERIES", 0)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_same_findings_as_pyshacl_on_every_example(example, project):
    paths = [SHAPES_DIR / "base.ttl", example]
    fast = findings(paths, project, fast=True)
    assert fast == findings(paths, project, fast=False)
    assert fast or example.parent.name == "valid"


def test_same_findings_as_pyshacl_on_the_project_data(project, files):
    fast = findings(files.data, project, fast=True)
    assert fast and fast == findings(files.data, project, fast=False)
