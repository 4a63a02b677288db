"""Every Turtle and SPARQL file in the project parses, and a syntax error names the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib.plugins.sparql import prepareQuery

from autokg.config import project_files
from autokg.errors import UnreadableInputError
from autokg.rdf.loading import parse_rdf_file
from autokg.rdf.turtle import format_turtle_file

ROOT = project_files().root
#: what setuptools, pip and `autokg build` write at the top of the checkout is no source
OUTPUTS = {".venv", "dist", "build"}
TURTLE = sorted(p for p in ROOT.rglob("*.ttl") if p.relative_to(ROOT).parts[0] not in OUTPUTS and "node_modules" not in p.parts)
QUERIES = sorted((ROOT / "queries").glob("*.rq"))


@pytest.mark.parametrize("path", TURTLE, ids=lambda p: str(p.relative_to(ROOT)))
def test_turtle_file_parses(path: Path):
    assert len(parse_rdf_file(path)) > 0


@pytest.mark.parametrize("path", QUERIES, ids=lambda p: p.name)
def test_query_file_parses(path: Path):
    prepareQuery(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "name, text, line",
    [
        ("broken.ttl", '@prefix a: <http://x/> .\na:b a:c a:d .\na:e a:f "open string .\n', 3),
        ("broken.nt", "<http://x/a> <http://x/b> <http://x/c> .\n<http://x/a> <http://x/b> oops .\n", 2),
        ("broken.rdf", '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n<rdf:Description>\n</rdf:RDF>\n', 3),
        ("broken.jsonld", '{\n  "@id": "http://x/a",\n}\n', 3),
    ],
)
def test_syntax_error_names_file_and_line(tmp_path: Path, name: str, text: str, line: int):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UnreadableInputError) as caught:
        parse_rdf_file(path)
    assert caught.value.path == path
    assert caught.value.line == line
    assert str(caught.value).startswith(f"{path}:{line}: ")


def test_missing_file_is_named(tmp_path: Path):
    with pytest.raises(UnreadableInputError, match="No such file"):
        parse_rdf_file(tmp_path / "absent.ttl")


def test_non_utf8_file_is_named(tmp_path: Path):
    path = tmp_path / "latin1.ttl"
    path.write_bytes('<http://x/a> <http://x/b> "caf\xe9" .\n'.encode("latin-1"))
    with pytest.raises(UnreadableInputError, match="Not UTF-8"):
        parse_rdf_file(path)


@pytest.mark.parametrize("path", project_files().turtle_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_turtle_is_canonical(path: Path):
    # `autokg fmt` rewrites a file into this form; sorted output keeps diffs small
    assert not format_turtle_file(path, write=False), f"run `autokg fmt {path.relative_to(ROOT)}`"


def test_formatting_leaves_a_broken_file_untouched(tmp_path: Path):
    path = tmp_path / "broken.ttl"
    text = "@prefix a: <http://x/> .\na:b a:c .\n"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UnreadableInputError):
        format_turtle_file(path)
    assert path.read_text(encoding="utf-8") == text
