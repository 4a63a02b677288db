"""pyshacl, driven faster while autokg validates: the same engine, the same findings.

`faster_pyshacl()` holds, for the time of one block: Shape.validate replaced by autokg.validate.lean_shapes'
Runner (nested shapes once for all their value nodes, not once per node); the data store answering triple
patterns from dictionaries (LeanOxigraphStore.freeze); a set where pyshacl keeps its constraint parameters in a
list; each SPARQL constraint's text checked once, not before each of its queries; no text report; and a
SPARQL-based constraint with many focus nodes run once over the whole graph rather than once per node, where
autokg.validate.whole_graph shows the rows to be the same. `LookupCachingGraph` holds the shapes graph, which
does not change while validating. docs/validation.md has the profile behind each and its measured gain;
tests/validate/test_shacl_engine.py checks that the results are identical with and without them.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pyoxigraph as ox
import pyshacl.shape
from oxrdflib import OxigraphStore
from oxrdflib._converter import from_ox, to_ox_quad_pattern
from pyshacl.constraints import ALL_CONSTRAINT_PARAMETERS, CONSTRAINT_PARAMETERS_MAP
from pyshacl.constraints.constraint_component import ConstraintComponent
from pyshacl.constraints.sparql.sparql_based_constraints import SPARQLBasedConstraint
from pyshacl.helper.sparql_query_helper import SPARQLQueryHelper
from rdflib import Graph, URIRef
from rdflib.term import Node

from autokg.validate.lean_shapes import Runner
from autokg.validate.whole_graph import binds_this_first, rows_by_focus, violations

#: how many focus nodes a SPARQL-based constraint is run for one by one before it runs once over the whole graph:
#: checking that the whole-graph query is exact parses it with rdflib (0.23 s of CPU), worth about 50 per-node
#: queries on Oxigraph (1-3 ms each on 60k synthetic triples); the project's own data stays below it
PER_NODE_QUERIES = 50
#: or once its per-node queries have taken as long as that parse: UnbackedShortcutShape took 66 ms a node with
#: $this bound on 60k triples (Oxigraph plans the bound query worse) against 0.07 s for the whole graph
PER_NODE_SECONDS = 0.25


class LookupCachingGraph(Graph):
    """A graph that remembers the answer to each triple pattern until it changes: for the shapes graph."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._answers: dict[tuple, tuple] = {}

    def triples(self, triple):  # type: ignore[no-untyped-def]
        if not all(term is None or isinstance(term, Node) for term in triple):
            return super().triples(triple)  # a property path: rdflib evaluates it
        answer = self._answers.get(triple)
        if answer is None:
            answer = self._answers[triple] = tuple(super().triples(triple))
        return iter(answer)

    def items(self, list_node: Node) -> Iterator[Node]:
        """The members of an RDF list, remembered: pyshacl reads each sh:or, sh:xone and sh:in list on every call."""
        answer = self._answers.get(("items", list_node))
        if answer is None:
            answer = self._answers[("items", list_node)] = tuple(super().items(list_node))
        return iter(answer)

    def add(self, triple):  # type: ignore[no-untyped-def]
        self._answers.clear()
        return super().add(triple)

    def addN(self, quads):  # type: ignore[no-untyped-def]
        self._answers.clear()
        return super().addN(quads)

    def remove(self, triple):  # type: ignore[no-untyped-def]
        self._answers.clear()
        return super().remove(triple)


def caching_shapes(shapes: Graph) -> LookupCachingGraph:
    """A copy of a shapes graph that caches its lookups."""
    copy = LookupCachingGraph()
    for prefix, namespace in shapes.namespaces():
        copy.bind(prefix, namespace, override=True)
    copy += shapes
    return copy


@contextlib.contextmanager
def faster_pyshacl() -> Iterator[None]:
    """Within this block, pyshacl looks constraint parameters up in a set, checks each SPARQL text once, and runs
    each SPARQL-based constraint once over the whole data graph where autokg.validate.whole_graph shows that this
    gives each focus node the same rows."""
    saved_params = getattr(pyshacl.shape, "CONSTRAINT_PARAMS", None)
    original_check = SPARQLQueryHelper.check_invalid_sparql
    passed: set[tuple] = set()

    def check_once(self, sparql_text, valuenode=None, extravars=None):  # type: ignore[no-untyped-def]
        # the outcome depends on the text, whether there is a value node and the extra variables only
        key = (sparql_text, valuenode is not None, frozenset(extravars or ()))
        if key not in passed:
            original_check(self, sparql_text, valuenode=valuenode, extravars=extravars)  # raises when invalid
            passed.add(key)
        return True

    original_query = SPARQLBasedConstraint._validate_sparql_query
    # the data graph does not change while pyshacl validates: one block, one validation
    answers: dict[tuple, dict] = {}
    asked: Counter = Counter()
    spent: Counter = Counter()

    def query_once(self, query, init_binds, target_graph):  # type: ignore[no-untyped-def]
        if set(init_binds) == {"this"} and isinstance(target_graph.store, OxigraphStore):
            key = (id(target_graph), query)
            asked[key] += 1
            if key in answers or ((asked[key] > PER_NODE_QUERIES or spent[key] > PER_NODE_SECONDS) and binds_this_first(query)):
                if key not in answers:
                    answers[key] = rows_by_focus(target_graph.query(query))
                return violations(answers[key].get(init_binds["this"], []))
            started = time.perf_counter()
            try:
                return original_query(self, query, init_binds, target_graph)
            finally:
                spent[key] += time.perf_counter() - started
        return original_query(self, query, init_binds, target_graph)

    original_validate = pyshacl.shape.Shape.validate
    original_description = ConstraintComponent.make_v_result_description
    frozen: list[LeanOxigraphStore] = []
    try:
        # Shape.validate reads (parameters, map) from this module attribute when it is set
        pyshacl.shape.CONSTRAINT_PARAMS = (frozenset(ALL_CONSTRAINT_PARAMETERS), CONSTRAINT_PARAMETERS_MAP)
        SPARQLQueryHelper.check_invalid_sparql = check_once
        SPARQLBasedConstraint._validate_sparql_query = query_once
        # the text report pyshacl writes beside the results graph, which autokg does not read: 11% of the time,
        # mostly for the results of nested shapes that only decide sh:or, sh:xone and sh:not
        ConstraintComponent.make_v_result_description = lambda *args, **kwargs: ""
        runner = Runner(original_validate, frozenset(ALL_CONSTRAINT_PARAMETERS), CONSTRAINT_PARAMETERS_MAP, frozen)
        pyshacl.shape.Shape.validate = lambda shape, *args, **kwargs: runner.validate(shape, *args, **kwargs)
        yield
    finally:
        pyshacl.shape.Shape.validate = original_validate
        ConstraintComponent.make_v_result_description = original_description
        for store in frozen:
            store.thaw()
        SPARQLBasedConstraint._validate_sparql_query = original_query
        SPARQLQueryHelper.check_invalid_sparql = original_check
        if saved_params is None:
            del pyshacl.shape.CONSTRAINT_PARAMS
        else:
            pyshacl.shape.CONSTRAINT_PARAMS = saved_params


def dropping_index(name: str) -> Callable:
    """OxigraphStore's method `name`, which changes the store, dropping the index of LeanOxigraphStore.freeze first."""
    inherited = getattr(OxigraphStore, name)

    def changing(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self._index = None
        return inherited(self, *args, **kwargs)

    changing.__name__ = name
    return changing


class LeanOxigraphStore(OxigraphStore):
    """oxrdflib's store, answering triple patterns without building a Graph for each triple's context.

    rdflib's Graph.triples ignores the contexts a store gives back, yet oxrdflib makes one Graph object per
    triple for them, and turns the same IRIs into URIRefs again and again: a third of pyshacl's time on the
    data graph. Terms are converted once here (the cache is dropped when it grows past CACHE_SIZE).
    """

    CACHE_SIZE = 500_000

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._iris: dict[ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple, Node] = {}
        self._index: tuple | None = None

    def term(self, term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple) -> Node:
        """An Oxigraph term as rdflib's, as oxrdflib converts it."""
        known = self._iris.get(term)
        if known is None:
            if len(self._iris) > self.CACHE_SIZE:
                self._iris.clear()
            # literals too: building an rdflib Literal parses its value, and the same ones recur (years, flags)
            known = self._iris[term] = URIRef(term.value) if isinstance(term, ox.NamedNode) else from_ox(term)
        return known

    def freeze(self, graph: Graph) -> None:
        """Answer the triple patterns pyshacl asks most about `graph` from dictionaries until the store next changes.

        pyshacl asks for millions of them while validating and changes nothing; each one through Oxigraph cost a
        query, a conversion of every term and several generators (half of the remaining time on 60k triples).
        """
        by_subject: dict[Node, dict[Node, list[Node]]] = {}
        term = self.term
        for quad in self._inner.quads_for_pattern(None, None, None, to_ox_quad_pattern((None, None, None), graph)[3]):
            by_subject.setdefault(term(quad.subject), {}).setdefault(term(quad.predicate), []).append(term(quad.object))
        # by predicate, then object: made for a predicate when first asked for; pyshacl asks for a handful
        # (rdf:type, rdfs:subClassOf, the targets' predicates)
        self._index = (graph.identifier, by_subject, {})

    def thaw(self) -> None:
        """Drop the index of `freeze`: from now on Oxigraph answers every pattern again."""
        self._index = None

    add = dropping_index("add")
    addN = dropping_index("addN")
    remove = dropping_index("remove")
    update = dropping_index("update")

    def triples(self, triple_pattern, context=None):  # type: ignore[no-untyped-def]
        index = self._index
        if index is not None and context is not None and context.identifier == index[0]:
            found = indexed(triple_pattern, index[1], index[2])
            if found is not None:
                contexts = (context,)
                return ((triple, iter(contexts)) for triple in found)
        try:
            quads = self._inner.quads_for_pattern(*to_ox_quad_pattern(triple_pattern, context))
        except (TypeError, ValueError):
            return iter(())
        term = self.term
        return (((term(q.subject), term(q.predicate), term(q.object)), iter((context,))) for q in quads)


def indexed(pattern: tuple, by_subject: dict, by_predicate: dict) -> Iterator[tuple] | None:
    """The triples matching a pattern, from the dictionaries of LeanOxigraphStore.freeze; None for the patterns
    they do not answer (an object alone, or a subject and an object)."""
    s, p, o = pattern
    if s is not None:
        predicates = by_subject.get(s)
        if o is not None and p is None:
            return None
        if predicates is None:
            return iter(())
        if p is None:
            return ((s, q, x) for q, xs in predicates.items() for x in xs)
        objects = predicates.get(p, ())
        if o is None:
            return ((s, p, x) for x in objects)
        return iter(((s, p, o),)) if o in objects else iter(())
    if p is None:
        return None
    objects = by_predicate.get(p)
    if objects is None:
        objects = by_predicate[p] = {}
        for subject, predicates in by_subject.items():
            for x in predicates.get(p, ()):
                objects.setdefault(x, []).append(subject)
    if o is None:
        return ((x, p, y) for y, xs in objects.items() for x in xs)
    return ((x, p, o) for x in objects.get(o, ()))
