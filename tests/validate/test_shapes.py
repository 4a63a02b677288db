"""Every shape rejects at least one invalid example, and it is that shape that fires (as in Brick)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import RDF, Graph, URIRef

from autokg.config import SHAPES_NS
from autokg.rdf.loading import load_graph, parse_rdf_file
from autokg.validate.validation import validate_graph
from support.paths import TESTS

SHAPES_DIR = TESTS / "validate" / "shapes"
SH = "http://www.w3.org/ns/shacl#"
INVALID = sorted((SHAPES_DIR / "invalid").glob("*.ttl"))
VALID = sorted((SHAPES_DIR / "valid").glob("*.ttl"))


def named_shapes(shapes: Graph) -> set[str]:
    """Local names of the shapes in the akgsh: namespace."""
    names = set()
    for kind in ("NodeShape", "PropertyShape"):
        for shape in shapes.subjects(RDF.type, URIRef(SH + kind)):
            if isinstance(shape, URIRef) and str(shape).startswith(SHAPES_NS):
                names.add(str(shape).removeprefix(SHAPES_NS))
    return names


GROUPING = {URIRef(SH + "targetClass"), URIRef(SH + "property"), RDF.type}


def grouping_shapes(shapes: Graph) -> dict[str, set[str]]:
    """Node shapes that only gather property shapes, with the property shapes they gather."""
    found = {}
    for name in named_shapes(shapes):
        shape = URIRef(SHAPES_NS + name)
        if set(shapes.predicates(shape)) <= GROUPING:
            found[name] = {str(p).removeprefix(SHAPES_NS) for p in shapes.objects(shape, URIRef(SH + "property"))}
    return found


def expected_shape(example: Path) -> str:
    """invalid/<Shape>.ttl or invalid/<Shape>--<case>.ttl names the shape that must fire."""
    return example.stem.split("--")[0]


def findings_with(example: Path, project) -> set[str]:
    """The shapes that fire on the base graph plus the example, as akgsh: local names."""
    data = load_graph([SHAPES_DIR / "base.ttl", example])
    report = validate_graph(data, project)
    return {f.shape.removeprefix("akgsh:") for f in report.findings}


def test_base_graph_conforms_without_findings(project):
    data = parse_rdf_file(SHAPES_DIR / "base.ttl")
    assert validate_graph(data, project).findings == []


@pytest.mark.parametrize("example", VALID, ids=lambda p: p.stem)
def test_valid_example_raises_nothing(example, project):
    assert findings_with(example, project) == set()


@pytest.mark.parametrize("example", INVALID, ids=lambda p: p.stem)
def test_invalid_example_fires_exactly_its_shape(example, project):
    assert expected_shape(example) in named_shapes(project.shapes), f"{example.name} names no shape"
    assert findings_with(example, project) == {expected_shape(example)}


def test_every_shape_has_an_invalid_example(project):
    covered = {expected_shape(p) for p in INVALID}
    groups = grouping_shapes(project.shapes)
    # a grouping shape is covered through the property shapes it gathers
    covered |= {name for name, members in groups.items() if members & covered}
    missing = sorted(named_shapes(project.shapes) - covered)
    assert not missing, f"shapes without an invalid example under tests/validate/shapes/invalid/: {missing}"


def test_every_constraint_has_a_message(project):
    shapes = project.shapes
    sh = lambda name: URIRef(SH + name)  # noqa: E731
    silent = []
    for name in named_shapes(shapes):
        shape = URIRef(SHAPES_NS + name)
        has_message = (shape, sh("message"), None) in shapes or any(
            (c, sh("message"), None) in shapes for c in shapes.objects(shape, sh("sparql"))
        )
        if not has_message:
            silent.append(name)
    # node shapes that only group property shapes need no message of their own
    assert sorted(set(silent) - set(grouping_shapes(shapes))) == []
