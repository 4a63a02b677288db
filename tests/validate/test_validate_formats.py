"""Report formats for CI: JUnit XML, GitHub annotations at the focus node's file and line, a valid SHACL report
in Turtle, and no control character from the data reaching a terminal or a job log in any format."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef

from autokg.validate.report import REPORT_FORMATS
from support.paths import TESTS

GOLDEN = TESTS / "golden"
INVALID_FILE = GOLDEN / "invalid-input.ttl"
#: annotations name files relative to the project root, as CI runners resolve them
SHOWN = "tests/golden/invalid-input.ttl"
CONTRIBUTION = TESTS / "validate" / "contribution.ttl"
SH = "http://www.w3.org/ns/shacl#"


def line_of(path: Path, start: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if line.startswith(start))


def test_junit_report(runner):
    run = runner("validate", "--format", "junit", str(INVALID_FILE))
    assert run.status == 1
    root = ET.fromstring(run.out)
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    failures = [c for c in cases if c.find("failure") is not None]
    assert int(suite.get("failures")) == len(failures) > 0 and int(suite.get("tests")) == len(cases)
    jv = [c for c in failures if c.get("name").startswith("akr:jv-formation--acme-motors ")]
    assert jv and {c.get("file") for c in jv} == {SHOWN}
    assert {c.get("line") for c in jv} == {str(line_of(INVALID_FILE, "akr:jv-formation--acme-motors a"))}
    assert all(c.find("failure").get("message") for c in failures)


def test_junit_report_below_the_threshold_passes(runner, tmp_path):
    run = runner("validate", "--format", "junit", str(CONTRIBUTION))
    assert run.status == 0
    suite = ET.fromstring(run.out).find("testsuite")
    assert suite.get("failures") == "0" and int(suite.get("tests")) >= 1


def test_github_annotations(runner):
    run = runner("validate", "--format", "github", str(INVALID_FILE))
    assert run.status == 1
    annotations = [line for line in run.out.splitlines() if line.startswith("::")]
    assert annotations and all(re.match(r"::(error|warning|notice) file=[^,]+,line=\d+,title=[^:]+::.+", a) for a in annotations)
    line = line_of(INVALID_FILE, "akr:jv-formation--acme-motors--amount a")
    assert any(f"file={SHOWN},line={line}," in a and "schema%3Avalue" in a for a in annotations)
    assert run.out.splitlines()[-1].endswith("does not conform")


def test_github_annotations_in_project_mode_use_relative_paths(runner):
    run = runner("validate", "--format", "github", "--fail-on", "info")
    assert run.status == 1
    assert "::error file=data/entities.ttl,line=" in run.out


def test_turtle_report_says_conforms_false_when_there_are_results(runner):
    run = runner("validate", "--format", "turtle", str(CONTRIBUTION))
    assert run.status == 0  # infos only: the exit status keeps its policy
    graph = Graph().parse(data=run.out, format="turtle")
    report = next(graph.subjects(URIRef(SH + "conforms"), None))
    assert graph.value(report, URIRef(SH + "conforms")) == Literal(False)
    assert len(list(graph.objects(report, URIRef(SH + "result")))) == 1


def test_turtle_report_says_conforms_true_without_results(runner, files):
    run = runner("validate", "--format", "turtle", str(files.root / "data" / "articles" / "001.ttl"))
    graph = Graph().parse(data=run.out, format="turtle")
    assert (None, URIRef(SH + "conforms"), Literal(True)) in graph and (None, URIRef(SH + "result"), None) not in graph


#: a literal that tries to write a workflow command, colour the terminal and reverse the text a reviewer sees
HOSTILE = "Acme\\n::error file=README.md,line=1::all good\\r\\u001b[2J\\u202egnp.exe\\u2028x\\u0085y"


@pytest.mark.parametrize("fmt", REPORT_FORMATS)
def test_control_characters_are_escaped_in_every_format(runner, tmp_path, fmt):
    text = CONTRIBUTION.read_text(encoding="utf-8").replace("akr:apple , akr:saic-motor ;", f'akr:apple , akr:saic-motor , "{HOSTILE}" ;')
    path = tmp_path / "hostile.ttl"
    path.write_text(text, encoding="utf-8")
    run = runner("validate", "--format", fmt, str(path))
    assert run.status == 1
    for bad in ("\x1b", "\u202e", "\u2028", "\u0085", "\r"):
        assert bad not in run.out and bad not in run.err
    assert not any(line.startswith("::error file=README.md") for line in run.out.splitlines())
    assert "all good" in run.out  # the text is there, escaped
    if fmt == "json":
        assert any("\u202e" in f["value"] for f in json.loads(run.out)["findings"] if f["value"])
    if fmt == "turtle":
        values = {str(o) for o in Graph().parse(data=run.out, format="turtle").objects(None, URIRef(SH + "value"))}
        assert any(v.startswith("Acme\n::error") for v in values)
    if fmt == "junit":
        ET.fromstring(run.out)
