"""A remote SPARQL 1.1 endpoint as the served store (`autokg serve --backend URL`).

autokg stays the front: the guards, caps and timeouts, the canned queries and the pages run here, and
only checked queries travel to the backend. Every forwarded query names its dataset explicitly (the part
graphs as `default-graph-uri` and `named-graph-uri`), so the default graph is the union of the parts on
any engine: Virtuoso's own default graph, for one, also holds its system graphs. Answers are parsed and
written again by Oxigraph, so clients get the same formats and caps whatever the engine.
"""

from __future__ import annotations

import binascii
import re
import urllib.parse
from dataclasses import dataclass, field

import pyoxigraph as ox

from autokg.errors import AutokgError, BackendError
from autokg.rdf.sparql import query_form
from autokg.stores.embedded import PART_GRAPHS
from autokg.stores.remote import Reply, error_detail, http_request

BNODE = re.compile(rb"<bnode>([^<]*)</bnode>")
PART_IRIS = tuple(node.value for node in PART_GRAPHS.values())
#: what engines call their per-request timeout parameter, keyed by a word of their Server header:
#: (parameter, units per second). Oxigraph's server has only a server-wide --timeout-s.
TIMEOUT_PARAMETERS = {"virtuoso": ("timeout", 1000)}
#: Virtuoso's "anytime" queries answer 200 with partial results when their time is up, and say so here
PARTIAL_RESULT_STATES = {"S1TAT"}


@dataclass
class RemoteStore:
    """A remote SPARQL endpoint that answers `query` and `quads_for_pattern` as pyoxigraph's Store does."""

    endpoint: str
    timeout: float = 30.0
    max_bytes: int = 256 * 1024 * 1024
    graphs: tuple[str, ...] = PART_IRIS
    timeout_parameter: tuple[str, int] | None = None
    server: str = field(default="", compare=False)
    #: what the messages call the endpoint: the backend store of `serve --backend`, the endpoint of `query --endpoint`
    role: str = field(default="The backend store", compare=False)

    def query(self, query: str, *, use_default_graph_as_union: bool = True, default_graph: list[ox.NamedNode] | None = None,
              named_graphs: list[ox.NamedNode] | None = None, substitutions: dict[ox.Variable, object] | None = None,
              timeout: float | None = None) -> ox.QuerySolutions | ox.QueryBoolean | list[ox.Triple]:
        """Forward a query with its dataset; raises BackendError, or TimeoutError when the backend is too slow.

        Without `default_graph` the default graph is the union of the part graphs, as on the embedded store.
        """
        if substitutions:
            raise BackendError("Variable substitutions cannot be forwarded to a backend: bind values with VALUES", status=500)
        seconds = min(timeout or self.timeout, self.timeout)
        defaults = [g.value for g in default_graph] if default_graph else list(self.graphs)
        named = [g.value for g in named_graphs] if named_graphs else list(self.graphs)
        pairs = [("query", query)] + [("default-graph-uri", g) for g in defaults] + [("named-graph-uri", g) for g in named]
        if self.timeout_parameter is not None:
            name, per_second = self.timeout_parameter
            pairs.append((name, str(int(seconds * per_second))))
        graph_form = query_form(query) in ("CONSTRUCT", "DESCRIBE")
        # XML, not JSON: Virtuoso's JSON writer spells xsd:boolean values "1" and "0"
        accept = "application/n-triples" if graph_form else "application/sparql-results+xml"
        reply = self.send(pairs, accept, seconds)
        try:
            if graph_form:
                return list(ox.parse(reply.body, format=ox.RdfFormat.N_TRIPLES))
            return ox.parse_query_results(valid_blank_nodes(reply.body), format=ox.QueryResultsFormat.XML)
        except SyntaxError as error:
            raise BackendError(f"{self.role}'s answer does not parse as {accept}: {error}") from None

    def send(self, pairs: list[tuple[str, str]], accept: str, seconds: float) -> Reply:
        """POST the protocol parameters and check the answer; raises BackendError or TimeoutError."""
        body = urllib.parse.urlencode(pairs).encode("utf-8")
        headers = {"Accept": accept, "Content-Type": "application/x-www-form-urlencoded"}
        try:
            reply = http_request(self.endpoint, body, headers, "POST", seconds, max_bytes=self.max_bytes)
        except AutokgError as error:
            raise BackendError(f"{self.role} is unavailable: {error}") from None
        # Virtuoso's "anytime" timeout: 200 with partial results, or 500 with a cut-off body, and S1TAT
        if reply.headers.get("X-SQL-State", "").strip() in PARTIAL_RESULT_STATES or (reply.status >= 500 and b"S1TAT" in reply.body[-4096:]):
            raise TimeoutError(f"{self.role.lower()} ran out of time and sent partial results")
        if reply.status == 400:
            raise BackendError(f"{self.role} refused the query: {error_detail(reply)}", status=400)
        if reply.status >= 300:
            raise BackendError(f"{self.role} answered HTTP {reply.status}: {error_detail(reply)}")
        if len(reply.body) > self.max_bytes:
            raise BackendError(f"{self.role}'s answer is larger than {self.max_bytes} bytes: add a LIMIT", status=422)
        return reply

    def quads_for_pattern(self, subject: ox.NamedNode | None, predicate: ox.NamedNode | None, object: object,
                          graph_name: ox.NamedNode | None) -> list[ox.Quad]:
        """The quads that match, fetched with one query; None is a wildcard."""
        pattern = " ".join(name if value is None else str(value) for value, name in ((subject, "?s"), (predicate, "?p"), (object, "?o")))
        graphs = " ".join(f"<{g}>" for g in ([graph_name.value] if graph_name is not None else self.graphs))
        rows = self.query(f"SELECT * WHERE {{ VALUES ?g {{ {graphs} }} GRAPH ?g {{ {pattern} }} }}")
        return [ox.Quad(subject or row["s"], predicate or row["p"], row["o"] if object is None else object, row["g"]) for row in rows]


def valid_blank_nodes(xml: bytes) -> bytes:
    """SPARQL XML results with every blank node label made a valid one, the same label for the same node.

    Virtuoso labels blank nodes `nodeID://b10000`, which is no blank node label.

    >>> valid_blank_nodes(b"<bnode>nodeID://b1</bnode>")
    b'<bnode>b6e6f646549443a2f2f6231</bnode>'
    """
    return BNODE.sub(lambda match: b"<bnode>b" + binascii.hexlify(match.group(1)) + b"</bnode>", xml)


def detect_timeout_parameter(server_header: str) -> tuple[str, int] | None:
    """The per-request timeout parameter of the engine named in a Server header, if it has one.

    >>> detect_timeout_parameter("Virtuoso/07.20.3233 (Linux) x86_64-pc-linux-gnu")
    ('timeout', 1000)
    >>> detect_timeout_parameter("Oxigraph/0.5.13") is None
    True
    """
    lowered = server_header.lower()
    return next((found for word, found in TIMEOUT_PARAMETERS.items() if word in lowered), None)


def connect_backend(endpoint: str, timeout: float, max_bytes: int, extra_graphs: tuple[str, ...] = ()) -> RemoteStore:
    """A RemoteStore for `endpoint` over the part graphs and `extra_graphs`, after checking that it answers.

    Raises BackendError when it does not answer.
    """
    store = RemoteStore(endpoint, timeout=timeout, max_bytes=max_bytes, graphs=PART_IRIS + tuple(extra_graphs))
    try:
        reply = store.send([("query", "ASK { }")], "application/sparql-results+xml", min(timeout, 10.0))
    except TimeoutError:
        raise BackendError(f"The backend store {endpoint} did not answer ASK {{ }} within {min(timeout, 10.0):g} s") from None
    store.server = reply.headers.get("Server", "")
    store.timeout_parameter = detect_timeout_parameter(store.server)
    return store


def graph_counts(store: RemoteStore) -> dict[str, int]:
    """Triples per graph of the backend's dataset (0 for a graph it does not hold)."""
    values = " ".join(f"<{g}>" for g in store.graphs)
    rows = store.query(f"SELECT ?g (COUNT(*) AS ?n) WHERE {{ VALUES ?g {{ {values} }} GRAPH ?g {{ ?s ?p ?o }} }} GROUP BY ?g")
    counts = {row["g"].value: int(row["n"].value) for row in rows}
    return {g: counts.get(g, 0) for g in store.graphs}
