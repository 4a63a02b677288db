"""Agreement between engines: the competency queries run on the embedded store and elsewhere, answers compared."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal, InvalidOperation

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import isomorphic

from autokg.config import project_files
from autokg.query.catalog import CompetencyQuery, bind_parameters, load_catalog, with_parameters

XSD = "http://www.w3.org/2001/XMLSchema#"
NUMERIC = {XSD + t for t in ("integer", "decimal", "double", "float", "nonPositiveInteger", "negativeInteger", "long", "int",
                             "short", "byte", "nonNegativeInteger", "unsignedLong", "unsignedInt", "unsignedShort",
                             "unsignedByte", "positiveInteger")}


def canned_answers(embedded_app, backend_app, name: str, accept: str):
    """The embedded app's and the backend app's answers to one canned query, both checked to be 200."""
    ours = embedded_app.test_client().get(f"/queries/{name}", headers={"Accept": accept})
    theirs = backend_app.test_client().get(f"/queries/{name}", headers={"Accept": accept})
    assert theirs.status_code == ours.status_code == 200, theirs.data[:300]
    return ours, theirs


def assert_same_page(embedded_app, backend_app, path: str) -> None:
    """A page renders byte for byte the same from a backend as from the embedded store, but for the version."""
    ours = embedded_app.test_client().get(path)
    theirs = backend_app.test_client().get(path)
    # the version names the inputs of a local build; a backend's is only known to be remote
    versions = embedded_app.extensions["autokg"].version.encode(), backend_app.extensions["autokg"].version.encode()
    assert (theirs.status_code, theirs.data) == (ours.status_code, ours.data.replace(*versions))


CATALOG = load_catalog(project_files().queries)
OFFLINE = sorted(name for name, q in CATALOG.items() if not q.federated)


# each query as the catalogue runs it by default (parameters UNDEF), and with the example values of its header
CASES = [(name, False) for name in OFFLINE] + [(name, True) for name in OFFLINE if CATALOG[name].parameters]


def query_text(query: CompetencyQuery, examples: bool) -> str:
    """The text the catalogue runs: the query with its parameters bound (examples) or UNDEF."""
    raw = {p.name: p.example for p in query.parameters} if examples else {}
    return with_parameters(query, bind_parameters(query, raw))


def term_key(term: ox.NamedNode | ox.BlankNode | ox.Literal | None) -> tuple:
    """A term for comparison, with the only two normalizations we allow between engines."""
    if term is None:
        return ("unbound",)
    if isinstance(term, ox.Literal):
        if term.language:
            # RDF 1.1 Concepts §3.3: language tags compare case-insensitively; Virtuoso lowercases them (zh-hans)
            return ("lang", term.value, term.language.lower())
        if term.datatype.value in NUMERIC:
            # Virtuoso stores numbers as native values and writes its own lexical form back ("1.50"^^xsd:decimal
            # comes back as "1.5", "010"^^xsd:integer as "10"): numbers compare by value, whatever their type
            try:
                number = Decimal(term.value)
                if number.is_finite():
                    return ("number", number)
            except InvalidOperation:
                pass
        return ("literal", term.value, term.datatype.value)
    return (type(term).__name__, term.value)


def solutions(results: ox.QuerySolutions) -> Counter:
    """A multiset of solutions, each a sorted tuple of (variable, term key)."""
    names = [v.value for v in results.variables]
    return Counter(tuple(sorted((n, term_key(s[n])) for n in names)) for s in results)


def to_rdflib(term: ox.NamedNode | ox.BlankNode | ox.Literal) -> URIRef | BNode | Literal:
    """An Oxigraph term as rdflib's, with the same literal normalization as term_key."""
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    key = term_key(term)
    if key[0] == "lang":
        return Literal(term.value, lang=key[2])
    if key[0] == "number":
        return Literal(f"{key[1].normalize():f}", datatype=URIRef(XSD + "decimal"))  # one form per value
    return Literal(term.value, datatype=URIRef(term.datatype.value))


def as_graph(triples) -> Graph:
    """Triples as an rdflib Graph, literals normalized."""
    graph = Graph()
    for t in triples:
        graph.add((to_rdflib(t.subject), to_rdflib(t.predicate), to_rdflib(t.object)))
    return graph


def assert_query_endpoint_agrees(runner, name: str, examples: bool, endpoint: str) -> None:
    """`autokg query NAME --endpoint URL` gives the embedded store's answer, compared as above."""
    query = CATALOG[name]
    params = [arg for p in query.parameters for arg in ("--param", f"{p.name}={p.example}")] if examples else []
    graph_form = query.form in ("CONSTRUCT", "DESCRIBE")
    fmt = "ntriples" if graph_form else "xml"
    mine = runner("query", name, "--format", fmt, *params)
    theirs = runner("query", name, "--format", fmt, "--endpoint", endpoint, *params)
    assert mine.status == theirs.status == 0, theirs.err
    if graph_form:
        mine_graph = as_graph(ox.parse(mine.out.encode(), format=ox.RdfFormat.N_TRIPLES))
        their_graph = as_graph(ox.parse(theirs.out.encode(), format=ox.RdfFormat.N_TRIPLES))
        assert len(mine_graph) and isomorphic(mine_graph, their_graph), f"{len(mine_graph)} triples here, {len(their_graph)} there"
        return
    here, there = (ox.parse_query_results(run.out.encode(), format=ox.QueryResultsFormat.XML) for run in (mine, theirs))
    if query.form == "ASK":
        assert bool(here) == bool(there)
        return
    assert [v.value for v in here.variables] == [v.value for v in there.variables]
    assert solutions(here) == solutions(there)
