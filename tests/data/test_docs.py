"""The queries in docs/model.md run and reach the worked example; the README's counts are `autokg summary`'s."""

from __future__ import annotations

import re

import pytest

from autokg.build.statistics import dataset_summary
from autokg.config import project_files

MODEL = project_files().root / "docs" / "model.md"
README = project_files().root / "README.md"
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


def test_readme_counts_are_the_summary(project):
    summary = dataset_summary(project.data, project.ontology)
    text = README.read_text(encoding="utf-8")
    rows = re.findall(r"^\| ([^|]+?) \| ([\d, ]+?) \|$", text, flags=re.M)
    figures = {label.split(" (")[0]: [int(f.replace(",", "")) for f in value.split(", ")] for label, value in rows}
    assert figures == {
        "triples": [summary["triples"]],
        "organizations": [summary["organizations"]],
        "people, brands, products, events, places": [summary[k] for k in ("people", "brands", "products", "events", "places")],
        "relationships": [summary["relationships"]],
        "pieces of evidence, each with a verbatim quote": [summary["evidence"]],
        "source articles": [summary["sources"]],
        "entities linked to Wikidata": [summary["wikidata_linked_entities"]],
    }
    assert f"relationships ({len(summary['relationships_by_type'])} types:" in text
