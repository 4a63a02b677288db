"""Every relative link in README.md and docs/*.md points to a file that exists, and to a heading that exists."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from support.paths import ROOT

PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^(```|~~~).*?^\1", flags=re.M | re.S)
CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[(?:[^\]\n]|\][^(\n])*?\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", flags=re.M)


def links(text: str) -> list[str]:
    """The targets of the Markdown links and images in `text`, outside code blocks and code spans."""
    return LINK.findall(CODE.sub("", FENCE.sub("", text)))


def anchors(text: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown text (lower case, punctuation dropped, -1 for repeats)."""
    found: set[str] = set()
    for heading in HEADING.findall(FENCE.sub("", text)):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in found:
            n += 1
            candidate = f"{slug}-{n}"
        found.add(candidate)
    return found


def broken(page: Path) -> list[str]:
    """The relative links of `page` whose file or heading does not exist."""
    bad = []
    for target in links(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, flags=re.I):
            continue  # a URL with a scheme: http, https, mailto
        path, _, fragment = unquote(target).partition("#")
        file = (page.parent / path).resolve() if path else page
        name = file.relative_to(ROOT).as_posix() if file.is_relative_to(ROOT) else str(file)
        if not file.exists():
            bad.append(f"{target}: no file {name}")
        elif fragment and file.suffix == ".md" and fragment not in anchors(file.read_text(encoding="utf-8")):
            bad.append(f"{target}: no heading #{fragment} in {name}")
    return bad


def test_the_checker_finds_links_and_reports_dead_ones(tmp_path):
    (tmp_path / "there.md").write_text("# A heading: here\n\n## A heading: here\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](there.md) [ok](there.md#a-heading-here-1) ![img](there.md) <https://x.org> [web](https://x.org/a)\n"
        "[gone](missing.md) [gone](there.md#nowhere) `[code](nor-this.md)`\n```\n[fenced](nor-that.md)\n```\n",
        encoding="utf-8",
    )
    assert links(page.read_text(encoding="utf-8")) == [
        "there.md", "there.md#a-heading-here-1", "there.md", "https://x.org/a", "missing.md", "there.md#nowhere"]
    assert [b.split(":")[0] for b in broken(page)] == ["missing.md", "there.md#nowhere"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(page):
    assert not broken(page), broken(page)


def test_readme_links_the_docs():
    targets = set(links((ROOT / "README.md").read_text(encoding="utf-8")))
    assert {"docs/endpoint.md", "docs/validation.md", "docs/wikidata.md", "docs/deploying.md"} <= targets
    assert "docs/images/entity-page.png" in targets

