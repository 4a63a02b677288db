"""pyshacl's Shape.validate without its set-up on every call: the same constraint components, built once per shape.

pyshacl evaluates a nested shape (sh:node, sh:property, sh:or, sh:xone, sh:not, sh:qualifiedValueShape) once per
value node, and each call looks the shape's parameters up in the shapes graph again, builds a new constraint
component object for each of them (each reading its parameters from the shapes graph once more), and walks the
path in the data graph through rdflib's generic machinery. On 20k synthetic triples that is about 54,000 calls,
most of them for distinct (shape, node) pairs, so remembering answers would not help; doing less per call does.
`lean_validate` keeps pyshacl's logic line for line (focus nodes, severities, conformance, evaluation paths) and
its constraint components (so their semantics and results are pyshacl's own), and only builds the components once
per shape and reads a simple path's values from the frozen index of autokg.validate.engine.LeanOxigraphStore.
tests/validate/test_shacl_engine.py checks that every finding is the same as pyshacl's as released.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pyshacl.errors import ConstraintLoadWarning
from pyshacl.shape import Shape
from rdflib import IdentifiedNode, Literal, URIRef

SH = "http://www.w3.org/ns/shacl#"
SH_INFO, SH_WARNING = URIRef(SH + "Info"), URIRef(SH + "Warning")
SH_RESULT_SEVERITY = URIRef(SH + "resultSeverity")

logger = logging.getLogger(__name__)


def constraint_components(shape: Shape, parameters: frozenset, constraint_map: dict) -> tuple[list, list]:
    """The shape's constraint components and custom validators, built once (pyshacl builds them on every call)."""
    classes: list = []
    for predicate, _ in shape.sg.predicate_objects(shape.node):
        if predicate in parameters and constraint_map[predicate] not in classes:
            classes.append(constraint_map[predicate])
    built = []
    for component in classes:
        try:
            built.append(component(shape))
        except ConstraintLoadWarning as warning:  # pyshacl logs and skips these too
            logger.warning(repr(warning))
    return built, [custom.make_validator_for_shape(shape) for custom in shape.find_custom_constraints()]


def lean_validator(original: Callable, parameters: frozenset, constraint_map: dict, frozen: list) -> Callable:
    """A drop-in for Shape.validate that builds each shape's components once; `frozen` collects the stores it froze."""
    built: dict[int, tuple[Shape, tuple[list, list]]] = {}

    def components(shape: Shape) -> tuple[list, list]:
        entry = built.get(id(shape))
        if entry is None or entry[0] is not shape:
            entry = built[id(shape)] = (shape, constraint_components(shape, parameters, constraint_map))
        return entry[1]

    def lean_validate(self, executor, target_graph, focus=None, _evaluation_path=None):  # type: ignore[no-untyped-def]
        if self.sg.js_enabled or self._advanced or executor.debug or executor.sparql_mode or (
            _evaluation_path is not None and len(_evaluation_path) // 2 >= executor.max_validation_depth
        ):
            return original(self, executor, target_graph, focus, _evaluation_path)  # what pyshacl does, or raises
        if self.deactivated:
            return True, []
        store = getattr(target_graph, "store", None)
        if focus is not None:
            focus_list = [focus] if isinstance(focus, IdentifiedNode | Literal) else list(focus)
        else:
            if getattr(store, "_index", False) is None:
                store.freeze(getattr(target_graph, "impl", target_graph))  # pyshacl's DataGraph wraps ours
                frozen.append(store)
            focus_list = list(self.focus_nodes(target_graph))
        if not focus_list:
            return True, []
        if executor.focus_nodes is not None and len(executor.focus_nodes) > 0:
            focus_list = [f for f in focus_list if isinstance(f, URIRef) and f in executor.focus_nodes]
            if not focus_list:
                return True, []
        if _evaluation_path is None:
            _evaluation_path = []
        focus_value_nodes = value_nodes(self, target_graph, focus_list)
        allowed: set = set()
        if executor.allow_infos:
            allowed.add(SH_INFO)
        if executor.allow_warnings:
            allowed.update((SH_INFO, SH_WARNING))
        allow_conform = filter_reports = False
        if executor.allow_infos or executor.allow_warnings:
            if self.severity in allowed:
                allow_conform = True
            else:
                filter_reports = True
        non_conformant = False
        reports: list = []
        _evaluation_path.append(self)
        own, custom = components(self)
        for component in own:
            path = _evaluation_path[:]
            path.append(component)
            is_conform, found = component.evaluate(executor, target_graph, focus_value_nodes, path)
            if is_conform or allow_conform:
                pass
            elif filter_reports:
                all_allowed = True
                for _, node, parts in found:
                    severities = [part for part in parts if part[0] == node and part[1] == SH_RESULT_SEVERITY]
                    if severities:
                        all_allowed = all_allowed and severities[0][2] in allowed
                non_conformant = non_conformant or not all_allowed
            else:
                non_conformant = True
            reports.extend(found)
            if non_conformant and executor.abort_on_first:
                break
        for validator in custom:
            if non_conformant and executor.abort_on_first:
                break
            path = _evaluation_path[:]
            path.append(validator)
            is_conform, found = validator.evaluate(executor, target_graph, focus_value_nodes, path)
            non_conformant = non_conformant or not is_conform
            reports.extend(found)
        return not non_conformant, reports

    return lean_validate


def value_nodes(shape: Shape, target_graph: Any, focus_list: list) -> dict:
    """Each focus node's value nodes, as Shape.value_nodes gives them; a plain IRI path is read from the index."""
    if not shape.is_property_shape:
        return {f: {f} for f in focus_list}
    path = shape.path()
    graph = getattr(target_graph, "impl", target_graph)
    index = getattr(getattr(graph, "store", None), "_index", None)
    if isinstance(path, URIRef) and index is not None and index[0] == graph.identifier:
        by_subject = index[1]
        return {f: set(by_subject.get(f, {}).get(path, ())) for f in focus_list}
    return shape.value_nodes(target_graph, focus_list)
