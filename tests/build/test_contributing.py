"""Adding an article as a contributor does: `autokg add-article`, `autokg check-quotes`, then validate and build."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autokg.cli import main
from autokg.config import project_files

ROOT = project_files().root
TEXT = """Example Cells and Ford sign battery pact

Ford Motor Company has signed a strategic partnership with battery maker Example Cells. Example Cells, a subsidiary of Example Holdings, will build a plant next year.
"""
ARTICLE = """
akr:agreement--example-cells--ford a akg:Agreement ;
    rdfs:label "Ford signs a strategic partnership with Example Cells"@en ;
    akg:agreementType akgv:strategic-partnership ; akg:partner akr:example-cells , akr:ford ;
    akg:rank akgv:normal-rank ; akg:status akgv:signed ; akg:evidence akr:agreement--example-cells--ford--ev-005 .
akr:agreement--example-cells--ford--ev-005 a akg:Evidence ; akg:certainty akgv:reported ; akg:source akr:source-005 ;
    akg:quote "Ford Motor Company has signed a strategic partnership with battery maker {word} Cells"@en .
"""
ENTITY = """
akr:example-cells a akg:Company ; rdfs:label "Example Cells"@en ; akg:mentionedIn akr:source-005 .
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A throwaway copy of the project's inputs."""
    for folder in ("ontology", "shapes", "data", "queries"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    (tmp_path / "new.txt").write_text(TEXT, encoding="utf-8")
    return tmp_path


@pytest.mark.slow
def test_add_article_then_check_quotes_validate_and_build(root, capsys):
    assert main(["--root", str(root), "add-article", str(root / "new.txt"), "--headline", "Example Cells and Ford sign battery pact",
                 "--published", "2026-12-01"]) == 0
    texts = sorted((root / "data" / "sources").glob("005_*.txt"))
    assert len(texts) == 1 and texts[0].read_text(encoding="utf-8") == TEXT
    article = root / "data" / "articles" / "005.ttl"
    assert article.read_text().startswith("PREFIX akg: <https://w3id.org/autokg/ontology#>")
    assert main(["--root", str(root), "fmt", "--check", str(root / "data" / "sources.ttl")]) == 0, "the source node is canonical"
    assert main(["--root", str(root), "validate"]) == 0, "an empty article file and its source validate"
    with open(article, "a", encoding="utf-8") as out:
        out.write(ARTICLE.replace("{word}", "Exampel"))
    capsys.readouterr()
    assert main(["--root", str(root), "check-quotes", str(article)]) == 1
    out = capsys.readouterr().out
    assert f"{article}:" in out and "agreement--example-cells--ford--ev-005" in out and "closest: " in out
    article.write_text(article.read_text().replace("Exampel", "Example"), encoding="utf-8")
    assert main(["--root", str(root), "check-quotes", str(article)]) == 0
    with open(root / "data" / "entities.ttl", "a", encoding="utf-8") as out:
        out.write(ENTITY)
    assert main(["--root", str(root), "validate"]) == 0
    assert main(["--root", str(root), "fmt"]) == 0 and main(["--root", str(root), "fmt", "--check"]) == 0
    assert main(["--root", str(root), "build"]) == 0
    assert "example-cells" in (root / "dist" / "datapackage" / "agreement.csv").read_text(encoding="utf-8")


@pytest.mark.parametrize("extra, message", [
    (["--published", "12 March 2015"], "YYYY-MM-DD"),
    (["--publisher", "Deutsche Welle"], "slug"),
])
def test_add_article_refuses_bad_options_and_writes_nothing(root, capsys, extra, message):
    before = sorted(p.name for p in (root / "data").rglob("*"))
    assert main(["--root", str(root), "add-article", str(root / "new.txt"), *extra]) == 2
    assert message in capsys.readouterr().err
    assert sorted(p.name for p in (root / "data").rglob("*")) == before


def test_add_article_refuses_a_text_already_in_the_dataset(root, capsys):
    assert main(["--root", str(root), "add-article", str(root / "data" / "sources" / "002_dcf8c1611a86aaf5.txt")]) != 0
    assert "already in the dataset" in capsys.readouterr().err


def test_check_quotes_passes_on_the_shipped_data(capsys):
    assert main(["check-quotes"]) == 0
    assert "0 not verbatim" in capsys.readouterr().err
