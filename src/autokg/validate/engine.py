"""pyshacl, with three of its hot spots taken out while autokg validates: the same engine, the same findings.

Profiling `autokg validate` on 20k synthetic triples (bench/validate.py) put a quarter of pyshacl's time in
Shape.validate testing each predicate of a shape against a *list* of constraint parameters (6 million
rdflib term comparisons), a sixth in the same lookups of shape nodes in rdflib's memory store again and
again (the shapes graph does not change while validating), and 6% in re-checking each SPARQL constraint's
text with five regular expressions before every one of its queries. `faster_pyshacl()` swaps the list for
a set and remembers the SPARQL checks for the time of one block; `LookupCachingGraph` holds the shapes. It also
runs a SPARQL-based constraint with many focus nodes once over the whole graph rather than once per node, where
autokg.validate.whole_graph shows the rows to be the same.
tests/validate/test_shacl_engine.py checks that the findings are identical with and without them.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator

import pyoxigraph as ox
import pyshacl.shape
from oxrdflib import OxigraphStore
from oxrdflib._converter import from_ox, to_ox_quad_pattern
from pyshacl.constraints import ALL_CONSTRAINT_PARAMETERS, CONSTRAINT_PARAMETERS_MAP
from pyshacl.constraints.sparql.sparql_based_constraints import SPARQLBasedConstraint
from pyshacl.helper.sparql_query_helper import SPARQLQueryHelper
from rdflib import Graph, URIRef
from rdflib.term import Node

from autokg.validate.whole_graph import binds_this_first, rows_by_focus, violations

#: how many focus nodes a SPARQL-based constraint is run for one by one before it runs once over the whole graph:
#: checking that the whole-graph query is exact parses it with rdflib (0.45 s of CPU), worth about 150 per-node
#: queries on Oxigraph (3 ms each, on 20k synthetic triples)
PER_NODE_QUERIES = 150


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

    def query_once(self, query, init_binds, target_graph):  # type: ignore[no-untyped-def]
        if set(init_binds) == {"this"} and isinstance(target_graph.store, OxigraphStore):
            key = (id(target_graph), query)
            asked[key] += 1
            if key in answers or (asked[key] > PER_NODE_QUERIES and binds_this_first(query)):
                if key not in answers:
                    answers[key] = rows_by_focus(target_graph.query(query))
                return violations(answers[key].get(init_binds["this"], []))
        return original_query(self, query, init_binds, target_graph)

    try:
        # Shape.validate reads (parameters, map) from this module attribute when it is set
        pyshacl.shape.CONSTRAINT_PARAMS = (frozenset(ALL_CONSTRAINT_PARAMETERS), CONSTRAINT_PARAMETERS_MAP)
        SPARQLQueryHelper.check_invalid_sparql = check_once
        SPARQLBasedConstraint._validate_sparql_query = query_once
        yield
    finally:
        SPARQLBasedConstraint._validate_sparql_query = original_query
        SPARQLQueryHelper.check_invalid_sparql = original_check
        if saved_params is None:
            del pyshacl.shape.CONSTRAINT_PARAMS
        else:
            pyshacl.shape.CONSTRAINT_PARAMS = saved_params


class LeanOxigraphStore(OxigraphStore):
    """oxrdflib's store, answering triple patterns without building a Graph for each triple's context.

    rdflib's Graph.triples ignores the contexts a store gives back, yet oxrdflib makes one Graph object per
    triple for them, and turns the same IRIs into URIRefs again and again: a third of pyshacl's time on the
    data graph. IRIs are converted once here (the cache is dropped when it grows past CACHE_SIZE).
    """

    CACHE_SIZE = 500_000

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._iris: dict[ox.NamedNode, URIRef] = {}

    def term(self, term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple) -> Node:
        """An Oxigraph term as rdflib's, as oxrdflib converts it."""
        if isinstance(term, ox.NamedNode):
            iri = self._iris.get(term)
            if iri is None:
                if len(self._iris) > self.CACHE_SIZE:
                    self._iris.clear()
                iri = self._iris[term] = URIRef(term.value)
            return iri
        return from_ox(term)

    def triples(self, triple_pattern, context=None):  # type: ignore[no-untyped-def]
        try:
            quads = self._inner.quads_for_pattern(*to_ox_quad_pattern(triple_pattern, context))
        except (TypeError, ValueError):
            return iter(())
        term = self.term
        return (((term(q.subject), term(q.predicate), term(q.object)), iter((context,))) for q in quads)
