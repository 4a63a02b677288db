"""The benchmarks' code: the synthetic data generator is deterministic and its data conforms to the shapes; the
endpoint benchmark's examples hold; the query memory benchmark tells an answered query from a stopped one."""

from __future__ import annotations

import doctest
from pathlib import Path

import pyoxigraph as ox
import pytest
import query_memory  # noqa: E402
from rdflib import Graph

from autokg.build.shortcuts import RULES, shortcut_query  # noqa: E402
from autokg.validate.validation import validate_graph  # noqa: E402

import endpoint
import gen


def test_generator_is_deterministic():
    assert gen.generate(3000, seed=7) == gen.generate(3000, seed=7)
    assert gen.generate(3000, seed=7) != gen.generate(3000, seed=8)


@pytest.mark.slow
def test_generated_data_conforms(project):
    # 20,000 triples: hundreds of groups, each from the same template as at any size (see bench/gen.py)
    data = Graph().parse(data="\n".join(gen.generate(20_000, seed=3)), format="nt")
    report = validate_graph(data, project)
    serious = [f for f in report.findings if f.severity != "Info"]
    assert serious == [], report.as_text()[:3000]


def test_generated_dataset_has_three_graphs(tmp_path: Path):
    out = tmp_path / "syn.nq"
    gen.write_dataset(gen.generate(3000, seed=1), out)
    graphs = {line.rsplit(" ", 2)[-2] for line in out.read_text().splitlines() if line}
    assert graphs == {f"<https://w3id.org/autokg/graph/{part}>" for part in ("ontology", "data", "shortcuts")}


def test_batches_split_the_same_data_at_group_boundaries():
    whole = gen.generate(30_000, seed=5)
    small = list(gen.batches(30_000, seed=5, size=1000))
    assert len(small) > 10
    assert [line for batch in small for line in batch] == whole


def test_shortcuts_derived_batch_by_batch_are_those_of_the_whole(tmp_path: Path):
    """The streamed file equals deriving every shortcut over all the data at once, without duplicate quads."""
    out = tmp_path / "syn.nq"
    count = gen.write_dataset(gen.batches(30_000, seed=5, size=1000), out)
    lines = out.read_text().splitlines()
    assert count == len(lines) == len(set(lines))
    streamed = ox.Store()
    streamed.bulk_load(path=str(out), format=ox.RdfFormat.N_QUADS)
    shortcuts = ox.NamedNode("https://w3id.org/autokg/graph/shortcuts")
    whole = ox.Store()
    whole.bulk_load("\n".join(gen.generate(30_000, seed=5)).encode(), format=ox.RdfFormat.N_TRIPLES)
    expected = {ox.Triple(t.subject, t.predicate, t.object) for prop in RULES for t in whole.query(shortcut_query(prop))}
    assert {ox.Triple(q.subject, q.predicate, q.object) for q in streamed.quads_for_pattern(None, None, None, shortcuts)} == expected
    assert len(expected) > 1000


def test_the_endpoint_benchmark_examples_hold():
    results = doctest.testmod(endpoint)
    assert results.attempted > 0 and results.failed == 0


def test_query_memory_tells_answered_from_stopped_queries():
    store = ox.Store()
    store.bulk_load("\n".join(gen.generate(3000, seed=2)).encode(), format=ox.RdfFormat.N_TRIPLES)
    # a quick query reports both its lines at once: the outcome must not wait for the timeout
    outcome, start, peak, private = query_memory.measure(store, "SELECT * WHERE { ?s ?p ?o } LIMIT 1", timeout=20)
    assert outcome == "answered" and 0 < start <= peak and private > 0
    cross = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
    assert query_memory.measure(store, cross, timeout=0.5)[0] == "stopped"
    assert query_memory.measure(store, "SELECT * WHERE { ?s ?p }", timeout=20)[0] == "failed"
