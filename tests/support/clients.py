"""The servers that client tests run against, and the answers the embedded store gives them."""

from __future__ import annotations

import pytest
from rdflib import Graph

from autokg.query.running import execute
from autokg.stores.embedded import open_store
from support.protocol import ASK, CONSTRUCT, DESCRIBE, SELECT

SERVERS = ["autokg", "oxigraph"]


@pytest.fixture(scope="module")
def expected(files, built):
    """The embedded store's answers: the SELECT's IRIs, the ASK's boolean, the graphs."""
    store = open_store(files)
    graphs = {}
    for name, query in (("CONSTRUCT", CONSTRUCT), ("DESCRIBE", DESCRIBE)):
        graph = Graph()
        for triple in execute(store, query):
            graph.parse(data=f"{triple} .", format="nt")
        graphs[name] = graph
    return {"SELECT": {row["s"].value for row in execute(store, SELECT)}, "ASK": bool(execute(store, ASK)), **graphs}


@pytest.fixture(params=SERVERS)
def server(request) -> tuple[str, str]:
    """(name, query URL) of each server under test."""
    if request.param == "autokg":
        return "autokg", request.getfixturevalue("live_server") + "/sparql"
    return "oxigraph", request.getfixturevalue("autokg_on_oxigraph")


QUERIES = {"SELECT": SELECT, "ASK": ASK, "CONSTRUCT": CONSTRUCT, "DESCRIBE": DESCRIBE}
