"""The queries in docs/model.md run and reach the worked example."""

from __future__ import annotations

import re

import pytest

from autokg.config import project_files

MODEL = project_files().root / "docs" / "model.md"
PREFIXES = """PREFIX akg: <https://w3id.org/autokg/ontology#>
PREFIX akr: <https://w3id.org/autokg/id/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX schema: <https://schema.org/>
"""
QUERIES = re.findall(r"```sparql\n(.*?)```", MODEL.read_text(encoding="utf-8"), flags=re.S)


def test_model_doc_has_queries():
    assert len(QUERIES) == 2


@pytest.mark.parametrize("query", QUERIES, ids=["joint-venture", "everything-alibaba"])
def test_model_doc_query_reaches_the_example(query, project):
    graph = project.everything()
    text = query if query.lstrip().startswith("PREFIX") else PREFIXES + query
    rows = list(graph.query(text))
    found = {str(value) for row in rows for value in row}
    assert "https://w3id.org/autokg/id/jv-formation--alibaba-group--saic-motor--2015" in found
