"""`autokg queries` and `autokg query`: formats, parameters and errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Graph

from autokg.errors import AutokgError
from autokg.query.catalog import CompetencyQuery, Parameter, bind_parameters, with_parameters


def test_queries_lists_the_catalogue(runner):
    run = runner("queries")
    assert run.status == 0
    lines = run.out.splitlines()
    assert len(lines) >= 22
    assert any(line.startswith("joint-ventures ") and "Joint ventures" in line for line in lines)


@pytest.mark.parametrize("fmt", ["csv", "tsv", "json", "xml", "table"])
def test_select_formats(runner, fmt):
    run = runner("query", "joint-ventures", "--param", "partner=akr:ford", "--format", fmt)
    assert run.status == 0, run.err
    assert "Zotye" in run.out
    if fmt == "json":
        assert json.loads(run.out)["head"]["vars"][0] == "formation"
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(run.out)))
        assert {r["partnerLabel"] for r in rows} == {"Ford Motor Company", "Zotye"}


def test_table_wraps_long_values_to_the_width(runner):
    from autokg.query.running import render_table

    results = ox.Store().query('SELECT ?long WHERE { BIND ("' + "word " * 60 + '" AS ?long) }')
    table = render_table(results, width=40)
    assert all(len(line) <= 40 for line in table.splitlines())
    assert "(1 row)" in table


def test_query_from_a_file(runner, tmp_path: Path):
    path = tmp_path / "count.rq"
    path.write_text("SELECT (COUNT(*) AS ?n) WHERE { ?s a <https://w3id.org/autokg/ontology#Company> }\n")
    run = runner("query", str(path), "--format", "csv")
    assert run.status == 0
    assert int(run.out.splitlines()[1]) > 20


def test_construct_as_turtle_and_ntriples(runner, tmp_path: Path):
    path = tmp_path / "brands.rq"
    path.write_text("PREFIX akg: <https://w3id.org/autokg/ontology#>\nCONSTRUCT { ?o akg:hasBrand ?b } WHERE { ?o akg:hasBrand ?b }\n")
    for fmt, parser in (("turtle", "turtle"), ("ntriples", "nt")):
        run = runner("query", str(path), "--format", fmt)
        assert run.status == 0
        assert len(Graph().parse(data=run.out, format=parser)) == 5


@pytest.mark.parametrize(
    "args, message",
    [
        (["query", "no-such-query"], "Unknown query 'no-such-query'"),
        (["query", "joint-ventures", "--param", "colour=red"], "Unknown parameter 'colour'"),
        (["query", "joint-ventures", "--param", "partner=not an iri"], "Parameter 'partner'"),
        (["query", "joint-ventures", "--param", "partner"], "write NAME=VALUE"),
        (["query", "joint-ventures", "--param", "partner=ford", "--param", "partner=bmw"], "given twice"),
        (["query", "joint-ventures", "--format", "turtle"], "cannot be written as 'turtle'"),
    ],
)
def test_query_errors_exit_2(runner, args, message):
    run = runner(*args)
    assert run.status == 2
    assert message in run.err


def test_syntax_error_exits_2(runner, tmp_path: Path):
    path = tmp_path / "broken.rq"
    path.write_text("SELECT ?x WHERE { ?x ?y }\n")
    run = runner("query", str(path))
    assert run.status == 2 and "SPARQL syntax error" in run.err


@pytest.mark.parametrize("value, expected", [("2015-03-12", "date"), ("2015-03", "gYearMonth"), ("2015", "gYear")])
def test_date_parameters_keep_their_precision(value, expected):
    query = CompetencyQuery("q", Path("q.rq"), "t", "q?", "SELECT ?d WHERE { }", (Parameter("d", "date", "2015", "a date"),))
    assert bind_parameters(query, {"d": value})["d"].datatype.value.endswith(expected)


@pytest.mark.parametrize("value", ["2015-02-30", "12/03/2015", "yesterday", "20150"])
def test_bad_dates_name_the_parameter(value):
    query = CompetencyQuery("q", Path("q.rq"), "t", "q?", "SELECT ?d WHERE { }", (Parameter("after", "date", "2015", "a date"),))
    with pytest.raises(AutokgError, match="Parameter 'after'"):
        bind_parameters(query, {"after": value})


def test_string_parameters_cannot_change_the_query():
    hostile = 'x" } ; DROP ALL ; SELECT * WHERE { "'
    query = CompetencyQuery("q", Path("q.rq"), "t", "q?", "SELECT ?name WHERE { }", (Parameter("name", "string", "x", "a name"),))
    text = with_parameters(query, bind_parameters(query, {"name": hostile}))
    rows = list(ox.Store().query(text))
    assert [r["name"].value for r in rows] == [hostile]


def test_iri_parameters_reject_angle_brackets():
    query = CompetencyQuery("q", Path("q.rq"), "t", "q?", "SELECT ?o WHERE { }", (Parameter("o", "iri", "akr:ford", "an org"),))
    with pytest.raises(AutokgError, match="Parameter 'o'"):
        bind_parameters(query, {"o": "https://x/> } DROP ALL { <https://y"})
