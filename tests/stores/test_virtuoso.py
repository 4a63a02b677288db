"""Every offline competency query gives the embedded store's answer on Virtuoso Open Source 7 too.

Virtuoso (Debian's virtuoso-opensource-7) is started by bench/engines.py on 127.0.0.1 in a temporary folder,
loaded with dist/autokg.nq, and asked through autokg.backend, as `autokg serve --backend` forwards queries:
with the three part graphs as default-graph-uri (their union is autokg's default graph) and as
named-graph-uri. Without Virtuoso the tests are skipped, unless AUTOKG_REQUIRE_VIRTUOSO=1 (set by .ci/run),
which turns a missing Virtuoso into a failure.
"""

from __future__ import annotations

import pytest
from rdflib.compare import isomorphic

from autokg.query.running import execute
from autokg.stores.backend import connect_backend
from autokg.stores.embedded import open_store
from support.agreement import CASES, CATALOG, as_graph, query_text, solutions

pytestmark = [pytest.mark.live, pytest.mark.slow]


@pytest.fixture(scope="module")
def virtuoso(virtuoso_server, built, files):
    """Virtuoso holding the built dataset's three graphs (and nothing else), as a backend store of autokg's."""
    virtuoso_server.clear()
    virtuoso_server.bulk_load(files.root / "dist" / "autokg.nq")
    return connect_backend(virtuoso_server.sparql_url, timeout=60.0, max_bytes=256 * 1024 * 1024)


@pytest.fixture(scope="module")
def store(virtuoso, files):
    """The embedded store (opened after the fixture above has built it)."""
    return open_store(files)


@pytest.mark.parametrize("name,examples", CASES, ids=[f"{n}{'-examples' if e else ''}" for n, e in CASES])
def test_virtuoso_gives_the_embedded_answer(virtuoso, store, name, examples):
    query = CATALOG[name]
    text = query_text(query, examples)
    mine = execute(store, text)
    theirs = virtuoso.query(text)
    if query.form in ("CONSTRUCT", "DESCRIBE"):
        mine_graph, their_graph = as_graph(mine), as_graph(theirs)
        assert len(mine_graph) and isomorphic(mine_graph, their_graph), (
            f"{len(mine_graph)} triples here, {len(their_graph)} on Virtuoso")
        return
    if query.form == "ASK":
        assert bool(mine) == bool(theirs)
        return
    assert [v.value for v in mine.variables] == [v.value for v in theirs.variables]
    here, there = solutions(mine), solutions(theirs)
    assert here == there, f"only here: {list((here - there).elements())[:5]}\nonly on Virtuoso: {list((there - here).elements())[:5]}"


