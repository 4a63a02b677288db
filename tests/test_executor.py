"""The query child: it answers, and it retires once it holds too much memory of its own."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from autokg import executor as executor_module
from autokg.executor import Executor, Job, private_bytes

SCAN = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


@pytest.fixture
def store(files):
    store = ox.Store()
    store.bulk_load(path=str(files.root / "dist" / "autokg.nq"), format=ox.RdfFormat.N_QUADS)
    return store


def run_twice(store: ox.Store) -> tuple[int | None, int | None]:
    """The child's pid after a first and after a second job (None: the child retired)."""
    runner = Executor(store)
    job = Job(SCAN, "text/csv", None)
    try:
        assert runner.run(job, 10).status == 200
        first = runner.pid
        assert runner.run(job, 10).status == 200
        return first, runner.pid
    finally:
        runner.stop()


def test_a_child_over_its_memory_limit_retires(store, monkeypatch):
    monkeypatch.setattr(executor_module, "CHECK_AFTER_SECONDS", 0.0)
    monkeypatch.setattr(executor_module, "CHILD_PRIVATE_LIMIT", -1)
    assert run_twice(store) == (None, None)


def test_a_child_within_its_limit_stays(store, monkeypatch):
    monkeypatch.setattr(executor_module, "CHECK_AFTER_SECONDS", 0.0)
    monkeypatch.setattr(executor_module, "CHILD_PRIVATE_LIMIT", 1 << 40)
    first, second = run_twice(store)
    assert first == second is not None


def test_private_bytes_reads_this_process():
    assert 0 < private_bytes() < 1 << 40
