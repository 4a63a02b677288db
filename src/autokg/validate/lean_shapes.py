"""pyshacl's Shape.validate, run for many focus nodes at once where pyshacl runs it once per value node.

pyshacl evaluates a nested shape (sh:property, sh:node, sh:or, sh:xone, sh:not, sh:and, sh:qualifiedValueShape)
once per value node, and each call looks the shape's parameters up again, builds a new object for each of its
constraint components and walks the path through rdflib: 160,000 calls on 60k synthetic triples, most for
distinct (shape, node) pairs, so remembering answers would not help. `Runner.run` evaluates a shape once for all
the value nodes of a constraint and gives each node its own conformance and results, as pyshacl's single-node
call would: the leaf components (class, datatype, counts, patterns, SPARQL…) are pyshacl's own, called once per
shape over all its focus nodes as pyshacl does at the top level, and the seven shape-based components are
re-written here to call `run` once per nested shape, with pyshacl's checks, messages, evaluation paths,
recursion guard and severities. A shape with any other component is run node by node by pyshacl.
tests/validate/test_shacl_engine.py checks that every finding is the same as pyshacl's as released.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any
from warnings import warn

from pyshacl.constraints.core.cardinality_constraints import MaxCountConstraintComponent, MinCountConstraintComponent
from pyshacl.constraints.core.logical_constraints import AndConstraintComponent, NotConstraintComponent, OrConstraintComponent, XoneConstraintComponent
from pyshacl.constraints.core.other_constraints import HasValueConstraintComponent, InConstraintComponent
from pyshacl.constraints.core.property_pair_constraints import DisjointConstraintComponent, EqualsConstraintComponent, LessThanConstraintComponent, LessThanOrEqualsConstraintComponent
from pyshacl.constraints.core.shape_based_constraints import (NodeConstraintComponent, PropertyConstraintComponent, QualifiedValueShapeConstraintComponent, SH_QualifiedMaxCountConstraintComponent,
                                                              SH_QualifiedMinCountConstraintComponent)
from pyshacl.constraints.core.string_based_constraints import (LanguageInConstraintComponent, MaxLengthConstraintComponent, MinLengthConstraintComponent, PatternConstraintComponent,
                                                               UniqueLangConstraintComponent)
from pyshacl.constraints.core.value_constraints import ClassConstraintComponent, DatatypeConstraintComponent, NodeKindConstraintComponent
from pyshacl.constraints.core.value_range_constraints import MaxExclusiveConstraintComponent, MaxInclusiveConstraintComponent, MinExclusiveConstraintComponent, MinInclusiveConstraintComponent
from pyshacl.constraints.sparql.sparql_based_constraints import SPARQLBasedConstraint
from pyshacl.errors import ConstraintLoadWarning, ShapeRecursionWarning
from pyshacl.shape import Shape
from rdflib import IdentifiedNode, Literal, URIRef

SH = "http://www.w3.org/ns/shacl#"
SH_INFO, SH_WARNING = URIRef(SH + "Info"), URIRef(SH + "Warning")
SH_RESULT_SEVERITY, SH_FOCUS_NODE, SH_DETAIL = URIRef(SH + "resultSeverity"), URIRef(SH + "focusNode"), URIRef(SH + "detail")

#: components that judge each focus node on its own and give a result, with that focus node, for each failure
LEAVES = (
    ClassConstraintComponent, DatatypeConstraintComponent, NodeKindConstraintComponent, MinCountConstraintComponent,
    MaxCountConstraintComponent, InConstraintComponent, HasValueConstraintComponent, PatternConstraintComponent,
    LanguageInConstraintComponent, UniqueLangConstraintComponent, MinLengthConstraintComponent,
    MaxLengthConstraintComponent, MinExclusiveConstraintComponent, MinInclusiveConstraintComponent,
    MaxExclusiveConstraintComponent, MaxInclusiveConstraintComponent, DisjointConstraintComponent,
    EqualsConstraintComponent, LessThanConstraintComponent, LessThanOrEqualsConstraintComponent, SPARQLBasedConstraint,
)


class Outcome:
    """A shape run for several focus nodes: its results by focus node, the nodes that do not conform, and the
    conformance that pyshacl's call for all of them at once would return."""

    __slots__ = ("conform", "reports", "by_focus", "failing")

    def __init__(self) -> None:
        self.conform = True
        self.reports: list = []
        self.by_focus: dict = defaultdict(list)
        self.failing: set = set()


class Plan:
    """What a shape needs on every run, worked out on the first: its components, built once, and its path."""

    __slots__ = ("shape", "own", "opaque", "paths")

    def __init__(self, shape: Shape, parameters: frozenset, constraint_map: dict) -> None:
        self.shape = shape
        classes: list = []
        for predicate, _ in shape.sg.predicate_objects(shape.node):
            if predicate in parameters and constraint_map[predicate] not in classes:
                classes.append(constraint_map[predicate])
        self.own = []
        for component in classes:
            try:
                self.own.append(component(shape))
            except ConstraintLoadWarning:  # pyshacl logs and skips these: such a shape runs node by node, by pyshacl
                pass
        self.opaque = bool(shape.find_custom_constraints()) or not all(
            isinstance(c, LEAVES) or type(c) in BATCHED for c in self.own) or len(self.own) < len(classes)
        self.paths = simple_paths(shape)


def simple_paths(shape: Shape) -> tuple | None:
    """The IRIs whose values are a property shape's value nodes (one, or an sh:alternativePath of IRIs); None for a
    node shape or any other path, which pyshacl's own Shape.value_nodes walks."""
    if not shape.is_property_shape:
        return None
    path = shape.path()
    if isinstance(path, URIRef):
        return (path,)
    alternatives = list(shape.sg.objects(path, URIRef(SH + "alternativePath")))
    if len(alternatives) == 1 and len(set(shape.sg.predicate_objects(path))) == 1:
        members = list(shape.sg.graph.items(alternatives[0]))
        if members and all(isinstance(m, URIRef) for m in members):
            return tuple(members)
    return None


def focus_of(report: tuple) -> Any:
    """The focus node of one of pyshacl's (text, node, triples) results."""
    for s, p, o in report[2]:
        if s is report[1] and p == SH_FOCUS_NODE:
            return o[1] if isinstance(o, tuple) else o
    return None


class Runner:
    """Shape.validate for one validation, with the batches of `run`; `frozen` collects the stores it froze."""

    def __init__(self, original: Callable, parameters: frozenset, constraint_map: dict, frozen: list) -> None:
        self.original, self.parameters, self.constraint_map, self.frozen = original, parameters, constraint_map, frozen
        self.plans: dict[int, Plan] = {}
        #: above 0 while shapes run only to decide sh:or, sh:xone, sh:and, sh:not and qualified counts, whose
        #: results nobody reads: pyshacl's result building (messages, path copies) is then skipped
        self.judging = 0

    def plan(self, shape: Shape) -> Plan:
        """The shape's plan, made on first use."""
        plan = self.plans.get(id(shape))
        if plan is None or plan.shape is not shape:
            plan = self.plans[id(shape)] = Plan(shape, self.parameters, self.constraint_map)
        return plan

    def validate(self, shape: Shape, executor: Any, target_graph: Any, focus: Any = None,
                 _evaluation_path: list | None = None) -> tuple[bool, list]:
        """The drop-in for Shape.validate: pyshacl's own where its options are ones autokg does not use."""
        if (shape.sg.js_enabled or shape._advanced or executor.debug or executor.sparql_mode or executor.abort_on_first
                or executor.focus_nodes or not (executor.allow_infos or executor.allow_warnings)):
            return self.original(shape, executor, target_graph, focus, _evaluation_path)
        if focus is None:
            graph = getattr(target_graph, "impl", target_graph)  # pyshacl's DataGraph wraps ours
            store = getattr(graph, "store", None)
            if getattr(store, "_index", False) is None:
                store.freeze(graph)
                self.frozen.append(store)
            if shape.deactivated:
                return True, []
            focus_list = list(shape.focus_nodes(target_graph))
        else:
            focus_list = [focus] if isinstance(focus, IdentifiedNode | Literal) else list(dict.fromkeys(focus))
        outcome = self.run(shape, executor, target_graph, focus_list, _evaluation_path)
        return outcome.conform, outcome.reports

    def run(self, shape: Shape, executor: Any, target_graph: Any, focus_list: list, path: list | None) -> Outcome:
        """Evaluate `shape` for distinct focus nodes at once: what pyshacl's Shape.validate gives each of them."""
        outcome = Outcome()
        if shape.deactivated or not focus_list:
            return outcome
        plan = self.plan(shape)
        if plan.opaque or (path is not None and len(path) // 2 >= executor.max_validation_depth):
            for f in focus_list:  # pyshacl's own, node by node (it raises where the path is too deep)
                conform, reports = self.original(shape, executor, target_graph, f, None if path is None else path[:])
                outcome.conform = outcome.conform and conform
                outcome.reports.extend(reports)
                outcome.by_focus[f].extend(reports)
                if not conform:
                    outcome.failing.add(f)
            return outcome
        path = [] if path is None else path
        values = self.value_nodes(shape, plan, target_graph, focus_list)
        allowed = {SH_INFO} if executor.allow_infos else set()
        if executor.allow_warnings:
            allowed.update((SH_INFO, SH_WARNING))
        allow_conform = shape.severity in allowed
        path.append(shape)
        for component in plan.own:
            component_path = path[:]
            component_path.append(component)
            batched = BATCHED.get(type(component))
            previous = component.__dict__.get("make_v_result")
            if self.judging:
                component.make_v_result = bare_result(component)
            try:
                if batched is not None:
                    conform, reports, failing, by_focus = batched(self, component, executor, target_graph, values, component_path)
                else:
                    conform, reports = component.evaluate(executor, target_graph, values, component_path)
                    by_focus = defaultdict(list)
                    for report in reports:
                        by_focus[focus_of(report)].append(report)
                    failing = set(by_focus)
            finally:
                if previous is not None:
                    component.make_v_result = previous
                elif self.judging:
                    del component.make_v_result
            if not (conform or allow_conform) and not all_allowed(reports, allowed):
                outcome.conform = False
            if not allow_conform:
                outcome.failing.update(f for f in failing if not all_allowed(by_focus.get(f, ()), allowed))
            outcome.reports.extend(reports)
            for f, found in by_focus.items():
                outcome.by_focus[f].extend(found)
        return outcome

    def value_nodes(self, shape: Shape, plan: Plan, target_graph: Any, focus_list: list) -> dict:
        """Each focus node's value nodes, as Shape.value_nodes gives them; a plain IRI path is read from the index."""
        if not shape.is_property_shape:
            return {f: {f} for f in focus_list}
        graph = getattr(target_graph, "impl", target_graph)
        index = getattr(getattr(graph, "store", None), "_index", None)
        if plan.paths is None or index is None or index[0] != graph.identifier:
            return shape.value_nodes(target_graph, focus_list)
        by_subject = index[1]
        found = {}
        for f in focus_list:
            predicates = by_subject.get(f)
            found[f] = {v for p in plan.paths for v in predicates.get(p, ())} if predicates else set()
        return found

    def nested(self, shape: Shape, executor: Any, target_graph: Any, values: dict, path: list) -> Outcome:
        """`shape` run once for all the distinct value nodes of a constraint."""
        distinct = list(dict.fromkeys(v for vs in values.values() for v in vs))
        return self.run(shape, executor, target_graph, distinct, path[:])

    def judged(self, shape: Shape, executor: Any, target_graph: Any, values: dict, path: list) -> Outcome:
        """`nested`, for a conformance only: the results are not built in full."""
        self.judging += 1
        try:
            return self.nested(shape, executor, target_graph, values, path)
        finally:
            self.judging -= 1

    def again(self, shape: Shape, executor: Any, target_graph: Any, node: Any, path: list) -> Outcome:
        """`shape` run for one node again, for new result nodes where pyshacl makes them once per value node."""
        return self.run(shape, executor, target_graph, [node], path[:])


def bare_result(component: Any) -> Callable:
    """A stand-in for the component's make_v_result giving what conformance needs: the focus node and severity."""
    severity = component.shape.severity

    def make(datagraph: Any, focus_node: Any, *args: Any, **kwargs: Any) -> tuple:
        node = object()
        return "", node, [(node, SH_RESULT_SEVERITY, severity), (node, SH_FOCUS_NODE, (datagraph, focus_node))]

    return make


def all_allowed(reports: Any, allowed: set) -> bool:
    """Whether every result has a severity that the validation lets conform (pyshacl's filter_reports)."""
    for _, node, parts in reports:
        severities = [part for part in parts if part[0] == node and part[1] == SH_RESULT_SEVERITY]
        if severities and severities[0][2] not in allowed:
            return False
    return True


def other_shape(component: Any, node: Any, recursive: Any) -> Shape | None:
    """The shape a shape-based parameter names, None to skip it as pyshacl does; KeyError where pyshacl raises."""
    if component.shape.sg.is_filtered_out_shape(node):
        return None
    found = component.shape.get_other_shape(node)
    if not found:
        raise KeyError(node)
    if recursive and found in recursive:
        warn(ShapeRecursionWarning(recursive))
        return None
    return found


def property_or_node(runner: Runner, c: Any, executor: Any, g: Any, values: dict, path: list) -> tuple:
    """sh:property and sh:node: the nested shape's results passed on, or a result per failing value with details."""
    is_node = isinstance(c, NodeConstraintComponent)
    shapes = c.node_shapes if is_node else c.property_shapes
    reports, failing, by_focus = [], set(), defaultdict(list)
    if sum(len(vs) for vs in values.values()) < 1:
        return True, reports, failing, by_focus
    recursive = c.recursion_triggers(path)
    for node in shapes:
        try:
            shape = other_shape(c, node, recursive)
        except KeyError:
            return (*c.evaluate(executor, g, values, path), set(), {})  # pyshacl raises its own error
        if shape is None:
            continue
        if shape.is_property_shape == is_node:
            c.evaluate(executor, g, values, path)  # raises pyshacl's error for the wrong kind of shape
        outcome = runner.nested(shape, executor, g, values, path)
        used = set()
        for f, vs in values.items():
            for v in vs:
                nested_reports, nested_failing = outcome.by_focus.get(v, []), v in outcome.failing
                if v in used and nested_reports:
                    again = runner.again(shape, executor, g, v, path)
                    nested_reports, nested_failing = again.by_focus.get(v, []), v in again.failing
                used.add(v)
                if not is_node:
                    failing.update((f,) if nested_failing else ())
                    reports.extend(nested_reports)
                    by_focus[f].extend(nested_reports)
                elif nested_failing or nested_reports:
                    text, result, triples = c.make_v_result(g, f, value_node=v)
                    for _, sub_node, sub_triples in nested_reports:
                        triples.append((result, SH_DETAIL, sub_node))
                        triples.extend(sub_triples)
                    failing.add(f)
                    reports.append((text, result, triples))
                    by_focus[f].append(reports[-1])
    return not failing, reports, failing, by_focus


def logical(runner: Runner, c: Any, executor: Any, g: Any, values: dict, path: list) -> tuple:
    """sh:or, sh:xone, sh:and and sh:not: a result for each value whose count of conforming shapes is wrong."""
    reports, failing, by_focus = [], set(), defaultdict(list)
    if isinstance(c, NotConstraintComponent):
        recursive = c.recursion_triggers(path)
        groups, judge = [[n] for n in c.not_list], lambda passed, total: passed == 0
    else:
        recursive = None
        lists = {OrConstraintComponent: "or_list", XoneConstraintComponent: "xone_nodes", AndConstraintComponent: "and_list"}
        groups = [list(c.shape.sg.graph.items(n)) for n in getattr(c, lists[type(c)])]
        if not all(groups):
            return (*c.evaluate(executor, g, values, path), set(), {})  # pyshacl raises: not a valid list
        judge = {OrConstraintComponent: lambda passed, total: passed > 0,
                 XoneConstraintComponent: lambda passed, total: passed == 1,
                 AndConstraintComponent: lambda passed, total: passed == total}[type(c)]
    for group in groups:
        try:
            found = [other_shape(c, n, recursive) for n in group]
        except KeyError:
            return (*c.evaluate(executor, g, values, path), set(), {})
        shapes = [s for s in found if s is not None]
        if not isinstance(c, XoneConstraintComponent):
            shapes = list(dict.fromkeys(shapes))  # pyshacl makes a set of these shapes; xone keeps the list
        if not shapes:
            continue
        outcomes = [runner.judged(s, executor, g, values, path) for s in shapes]
        for f, vs in values.items():
            for v in vs:
                if not judge(sum(v not in o.failing for o in outcomes), len(shapes)):
                    failing.add(f)
                    reports.append(c.make_v_result(g, f, value_node=v))
                    by_focus[f].append(reports[-1])
    return not failing, reports, failing, by_focus


def qualified(runner: Runner, c: Any, executor: Any, g: Any, values: dict, path: list) -> tuple:
    """sh:qualifiedValueShape with sh:qualifiedMinCount and sh:qualifiedMaxCount, siblings included."""
    reports, failing, by_focus = [], set(), defaultdict(list)
    count = sum(len(vs) for vs in values.values())
    if not c.is_disjoint and count < 1 and (c.min_count is None or c.min_count < 1):
        return True, reports, failing, by_focus
    recursive = c.recursion_triggers(path)
    sg = c.shape.sg
    for node in c.value_shapes:
        try:
            shape = other_shape(c, node, recursive)
        except KeyError:
            return (*c.evaluate(executor, g, values, path), set(), {})
        if shape is None:
            continue
        siblings = []
        if c.is_disjoint:
            names = {s for p in sg.subjects(URIRef(SH + "property"), c.shape.node) for q in sg.objects(p, URIRef(SH + "property"))
                     for s in sg.objects(q, URIRef(SH + "qualifiedValueShape")) if s != node}
            siblings = [s for s in (c.shape.get_other_shape(n) for n in names) if s is not None]
        outcome = runner.judged(shape, executor, g, values, path)
        passing = {f: [v for v in vs if v not in outcome.failing] for f, vs in values.items()}
        sibling_outcomes = [runner.judged(s, executor, g, passing, path) for s in dict.fromkeys(siblings)]
        for f, vs in passing.items():
            conforming = sum(1 for v in vs if all(v in o.failing for o in sibling_outcomes))
            for broken, component in ((c.max_count is not None and conforming > c.max_count, SH_QualifiedMaxCountConstraintComponent),
                                      (c.min_count is not None and conforming < c.min_count, SH_QualifiedMinCountConstraintComponent)):
                if broken:
                    failing.add(f)
                    reports.append(c.make_v_result(g, f, constraint_component=component))
                    by_focus[f].append(reports[-1])
    return not failing, reports, failing, by_focus


BATCHED: dict[type, Callable] = {
    PropertyConstraintComponent: property_or_node, NodeConstraintComponent: property_or_node,
    OrConstraintComponent: logical, XoneConstraintComponent: logical, AndConstraintComponent: logical,
    NotConstraintComponent: logical, QualifiedValueShapeConstraintComponent: qualified,
}
