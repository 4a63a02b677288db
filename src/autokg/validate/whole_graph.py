"""SPARQL-based constraints (sh:sparql) run once over the whole data graph instead of once per focus node.

pyshacl pre-binds `$this` to each focus node in turn and runs the constraint's query again for each (Oxigraph
substitutes the value for the variable). Leaving `$this` free and running the query once gives, for each focus
node, exactly the rows that the pre-bound query gives, when every solution binds `$this` before anything else
looks at it. `binds_this_first` checks that on the query's algebra and says no where it cannot be sure: a
`$this` only in a FILTER, a BIND, an EXISTS, a MINUS or one branch of a UNION or OPTIONAL where it is not bound
yet, a sub-query, a VALUES block, LIMIT or OFFSET, aggregates not grouped by `$this`, a path that may match
zero steps; those constraints stay per node. tests/validate/test_shacl_engine.py checks that the findings
are the same as pyshacl's on every example.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache

from rdflib import Variable
from rdflib.paths import MulPath, Path
from rdflib.plugins.sparql.algebra import translateQuery
from rdflib.plugins.sparql.parser import parseQuery
from rdflib.plugins.sparql.parserutils import CompValue

THIS = Variable("this")


class Unsafe(Exception):
    """The query's answers for a free $this may differ from its answers with $this pre-bound."""


def mentions(part: object) -> bool:
    """Whether $this occurs anywhere in a piece of algebra (an expression, a pattern, a list of them)."""
    if part == THIS and isinstance(part, Variable):
        return True
    if isinstance(part, CompValue | dict):
        return any(mentions(value) for key, value in part.items() if key != "_vars")
    if isinstance(part, list | tuple | set):
        return any(mentions(value) for value in part)
    return False


def zero_steps(path: object) -> bool:
    """Whether a property path can match zero steps (`p*`, `p?`), binding its ends to any node."""
    if isinstance(path, MulPath):
        return path.zero or zero_steps(path.path)
    return isinstance(path, Path) and any(zero_steps(p) for p in getattr(path, "args", [getattr(path, "arg", None)]))


def bound(node: CompValue) -> set[Variable]:
    """The variables that every solution of a graph pattern binds; raises Unsafe where $this is used unbound."""
    name = node.name
    if name == "BGP":
        found = set()
        for s, p, o in node.triples:
            if THIS in (s, o) and zero_steps(p):
                raise Unsafe("a path that can match zero steps from $this")
            found.update(t for t in (s, p, o) if isinstance(t, Variable))
        return found
    if name == "Join":
        return bound(node.p1) | bound(node.p2)
    if name == "Union":
        return bound(node.p1) & bound(node.p2)
    if name == "LeftJoin":
        left = bound(node.p1)
        bound(node.p2)  # raises where the optional part uses $this unbound inside itself
        if THIS not in left and (mentions(node.p2) or mentions(node.expr)):
            raise Unsafe("$this in an OPTIONAL before it is bound")
        return left
    if name == "Filter":
        inner = bound(node.p)
        if THIS not in inner and mentions(node.expr):
            raise Unsafe("$this in a FILTER or EXISTS before it is bound")
        return inner
    if name == "Extend":
        inner = bound(node.p)
        if THIS not in inner and mentions(node.expr):
            raise Unsafe("$this in a BIND before it is bound")
        if node.var == THIS and not (THIS in inner and isinstance(node.expr, Variable) and node.expr in inner):
            raise Unsafe("$this bound by BIND")  # but GROUP BY $this rebinds it to its own sample
        return inner | ({node.var} if isinstance(node.expr, Variable) and node.expr in inner else set())
    if name == "AggregateJoin":
        group = node.p
        keys = group.expr or []
        if THIS not in keys or THIS not in bound(group.p):
            raise Unsafe("aggregates not grouped by $this")
        return {THIS} | {a.res for a in node.A if a.name == "Aggregate_Sample" and a.vars == THIS}
    if name in ("Distinct", "Reduced", "OrderBy"):
        return bound(node.p)
    if name == "Minus":
        if mentions(node.p2):
            raise Unsafe("$this in a MINUS")
        return bound(node.p1)
    raise Unsafe(f"{name} in the query")


@lru_cache(maxsize=256)
def binds_this_first(query: str) -> bool:
    """Whether a SELECT query gives, for each value of $this, the same rows free as with $this pre-bound to it.

    >>> binds_this_first("SELECT $this ?o WHERE { $this <urn:p> ?o FILTER NOT EXISTS { ?o <urn:q> $this } }")
    True
    >>> binds_this_first("SELECT $this WHERE { { FILTER NOT EXISTS { $this <urn:p> ?o } } UNION { $this <urn:q> ?o } }")
    False
    """
    try:
        algebra = translateQuery(parseQuery(query)).algebra
    except Exception:  # not ours to judge: pyshacl reports what it cannot parse
        return False
    if algebra.name != "SelectQuery" or algebra.datasetClause:
        return False
    top = algebra.p
    while top.name in ("Distinct", "Reduced"):
        top = top.p
    if top.name != "Project" or THIS not in top.PV:
        return False
    try:
        return THIS in bound(top.p)
    except Unsafe:
        return False


def rows_by_focus(rows: Iterable) -> dict:
    """The rows of a whole-graph query, as pyshacl reads them (bound variables only), by their $this."""
    grouped = defaultdict(list)
    for row in rows:
        values = row.asdict()
        grouped[values.get("this")].append(values)
    return grouped


def violations(rows: list[dict]) -> list[tuple]:
    """What pyshacl makes of a focus node's rows: one (True, bindings) for a ?failure row, else (this, path, value,
    bindings) per distinct row (pyshacl 0.40's SPARQLBasedConstraint._validate_sparql_query)."""
    found: list[tuple] = []
    failed = False
    for row in rows:
        values = dict(row)
        if values.pop("failure", None) is not None:
            if not failed:
                found.append((True, values))
                failed = True
            continue
        path, value, this = values.pop("path", None), values.pop("value", None), values.pop("this", None)
        if (path, value, this) != (None, None, None) and (this, path, value, values) not in found:
            found.append((this, path, value, values))
    return found
