"""`autokg validate` for CI pipelines: exit status, report formats and a golden report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rdflib import Graph

from support.paths import TESTS

GOLDEN = TESTS / "golden"
INVALID_FILE = GOLDEN / "invalid-input.ttl"


def test_validate_project_data_exits_0(runner):
    run = runner("validate")
    assert run.status == 0, run.out
    assert "0 violations" in run.out and "conforms" in run.out
    assert "validated" in run.err


def test_validate_invalid_file_exits_1(runner):
    run = runner("validate", str(INVALID_FILE))
    assert run.status == 1
    assert "does not conform" in run.out


def test_validate_broken_file_exits_2_naming_file_and_line(runner, tmp_path: Path):
    broken = tmp_path / "broken.ttl"
    broken.write_text("@prefix a: <http://x/> .\n\na:b a:c .\n", encoding="utf-8")
    run = runner("validate", str(broken))
    assert run.status == 2
    assert f"{broken}:3:" in run.err and "Bad syntax" in run.err


def test_validate_unknown_file_type_exits_2(runner, tmp_path: Path):
    path = tmp_path / "data.yaml"
    path.write_text("a: b\n")
    run = runner("validate", str(path))
    assert run.status == 2 and "Unknown RDF file type" in run.err


def test_text_report_matches_golden_file(runner):
    run = runner("validate", str(INVALID_FILE))
    assert run.out == (GOLDEN / "invalid-input.report.txt").read_text(encoding="utf-8")


def test_json_report(runner):
    run = runner("validate", "--format", "json", str(INVALID_FILE))
    report = json.loads(run.out)
    assert report["conforms"] is False
    assert report["counts"]["Violation"] == len([f for f in report["findings"] if f["severity"] == "Violation"]) > 0
    assert {"focus", "severity", "path", "value", "message", "shape"} <= set(report["findings"][0])


def test_turtle_report_is_a_shacl_report(runner):
    run = runner("validate", "--format", "turtle", str(INVALID_FILE))
    graph = Graph().parse(data=run.out, format="turtle")
    ask = "ASK { ?r a <http://www.w3.org/ns/shacl#ValidationReport> ; <http://www.w3.org/ns/shacl#conforms> false }"
    assert graph.query(ask).askAnswer


@pytest.mark.parametrize("fail_on, status", [("violation", 0), ("warning", 1), ("info", 1)])
def test_fail_on_threshold(runner, tmp_path: Path, fail_on: str, status: int):
    # stakes of 40 + 50 percent: plausible structure, implausible total (a warning only)
    path = tmp_path / "warning.ttl"
    path.write_text((GOLDEN / "warning-only.ttl").read_text(encoding="utf-8"), encoding="utf-8")
    run = runner("validate", "--fail-on", fail_on, str(path))
    assert run.status == status, run.out


def test_summary_counts(runner):
    run = runner("summary", "--format", "json")
    summary = json.loads(run.out)
    assert summary["sources"] == 5
    assert summary["relationships"] == sum(summary["relationships_by_type"].values())
    assert summary["organizations"] > 40 and summary["wikidata_linked_entities"] > 20
