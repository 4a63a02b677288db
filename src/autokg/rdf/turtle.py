"""Canonical Turtle: one sorted, stable layout for every hand-maintained file, so diffs stay small."""

from __future__ import annotations

from pathlib import Path

from rdflib import Graph

from autokg.rdf.loading import parse_rdf_file


def canonical_turtle(graph: Graph) -> str:
    """The graph as sorted Turtle, one object per line (rdflib's longturtle)."""
    return graph.serialize(format="longturtle")


def format_turtle_file(path: Path, write: bool = True) -> bool:
    """Rewrite `path` in canonical form when it is not; returns True when it was not canonical.

    Raises UnreadableInputError when the file does not parse, and then leaves it untouched.
    """
    current = path.read_text(encoding="utf-8")
    wanted = canonical_turtle(parse_rdf_file(path))
    if current == wanted:
        return False
    if write:
        temporary = path.with_suffix(path.suffix + ".tmp")
        temporary.write_text(wanted, encoding="utf-8")
        temporary.replace(path)
    return True
