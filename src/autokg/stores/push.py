"""`autokg push`: load the built parts into an external store through the SPARQL 1.1 Graph Store HTTP Protocol.

Each part (ontology, data, shortcuts) goes to its own named graph, and a push that fails or is cut off
must leave the store's previous version of the part in place. A Graph Store PUT does that on Oxigraph,
but not on Virtuoso 7, which clears the graph first and keeps what it parsed before an error. So where
the store's SPARQL Update endpoint is known, each part is PUT into a staging graph, counted there, and
moved onto its graph with one `MOVE` request, which readers see happen at once (on Virtuoso too: a
concurrent reader saw only the old and the new count). The triples are then counted back with a query.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from autokg.config import ProjectFiles
from autokg.errors import AutokgError
from autokg.stores.backend import RemoteStore, graph_counts
from autokg.stores.embedded import PART_GRAPHS
from autokg.stores.remote import error_detail, http_request

#: graph store URL path ending -> query endpoint path ending, for the engines whose layout is known
QUERY_PATHS = {"/store": "/query", "/sparql-graph-crud-auth": "/sparql", "/sparql-graph-crud": "/sparql", "/data": "/sparql"}
#: graph store URL path ending -> SPARQL Update endpoint path ending
UPDATE_PATHS = {"/store": "/update", "/sparql-graph-crud-auth": "/sparql-auth"}
#: the query parameter that names the graph; Virtuoso's graph store predates the standard's `graph`
GRAPH_PARAMETERS = {"/sparql-graph-crud-auth": "graph-uri", "/sparql-graph-crud": "graph-uri"}


@dataclass(frozen=True)
class PushedPart:
    """One part sent: its graph, the triples sent and the triples the store then holds in that graph."""

    part: str
    graph: str
    sent: int
    stored: int


def part_files(files: ProjectFiles) -> dict[str, Path]:
    """The built N-Triples file of each part, by part name; raises AutokgError when one is missing."""
    dist = files.dist
    found = {part: dist / f"autokg-{part}.nt" for part in PART_GRAPHS}
    missing = [str(path) for path in found.values() if not path.is_file()]
    if missing:
        raise AutokgError(f"Not built yet: {', '.join(missing)}: run `autokg build` first")
    return found


def sibling_endpoint(graph_store: str, paths: dict[str, str]) -> str | None:
    """The endpoint beside a graph store URL, for the layouts in `paths`, else None.

    >>> sibling_endpoint("http://127.0.0.1:7878/store", QUERY_PATHS)
    'http://127.0.0.1:7878/query'
    >>> sibling_endpoint("http://localhost:8890/sparql-graph-crud-auth", UPDATE_PATHS)
    'http://localhost:8890/sparql-auth'
    """
    parts = urllib.parse.urlsplit(graph_store)
    for ending, replacement in paths.items():
        if parts.path.endswith(ending):
            return urllib.parse.urlunsplit(parts._replace(path=parts.path[: -len(ending)] + replacement, query=""))
    return None


def query_endpoint_for(graph_store: str) -> str:
    """The query endpoint beside a graph store URL; raises AutokgError for a layout not in QUERY_PATHS."""
    found = sibling_endpoint(graph_store, QUERY_PATHS)
    if found is None:
        raise AutokgError(f"--to {graph_store}: cannot tell this store's query endpoint; give it with --endpoint")
    return found


def graph_url(graph_store: str, graph: str) -> str:
    """The URL that names one graph of a graph store (`?graph=`, or Virtuoso's `?graph-uri=`).

    >>> graph_url("http://h/store", "https://w3id.org/autokg/graph/data")
    'http://h/store?graph=https%3A%2F%2Fw3id.org%2Fautokg%2Fgraph%2Fdata'
    """
    path = urllib.parse.urlsplit(graph_store).path
    name = next((p for ending, p in GRAPH_PARAMETERS.items() if path.endswith(ending)), "graph")
    return graph_store + ("&" if "?" in graph_store else "?") + urllib.parse.urlencode({name: graph})


def parse_auth(value: str | None, environ: dict[str, str] | None = None) -> tuple[str, str] | None:
    """USER:PASSWORD, or USER with the password in $AUTOKG_PUSH_PASSWORD; raises AutokgError without a password.

    >>> parse_auth("dba:secret")
    ('dba', 'secret')
    >>> parse_auth("dba", {"AUTOKG_PUSH_PASSWORD": "s3"})
    ('dba', 's3')
    """
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep:
        password = (os.environ if environ is None else environ).get("AUTOKG_PUSH_PASSWORD", "")
        if not password:
            raise AutokgError(f"--auth {user}: give USER:PASSWORD, or set AUTOKG_PUSH_PASSWORD")
    return user, password


def move_graph(update_endpoint: str, source: str, target: str, auth: tuple[str, str] | None, timeout: float) -> None:
    """`MOVE <source> TO <target>` in one SPARQL Update request; raises AutokgError when it is refused."""
    body = urllib.parse.urlencode({"update": f"MOVE <{source}> TO <{target}>"}).encode("utf-8")
    reply = http_request(update_endpoint, body, {"Content-Type": "application/x-www-form-urlencoded"}, "POST", timeout, auth)
    if reply.status >= 300:
        raise AutokgError(f"{update_endpoint} refused to move <{source}> to <{target}> (HTTP {reply.status}): "
                          f"{error_detail(reply) or 'no message'}; <{target}> keeps its previous version")


def count_triples(path: Path) -> int:
    """The triples in an N-Triples file (one per non-empty, non-comment line)."""
    with path.open("rb") as lines:
        return sum(1 for line in lines if line.strip() and not line.lstrip().startswith(b"#"))


def push(parts: dict[str, Path], graph_store: str, query_endpoint: str, auth: tuple[str, str] | None = None,
         timeout: float = 300.0, update_endpoint: str | None = None) -> list[PushedPart]:
    """Replace each part's named graph with the part's file, then count the triples back.

    With `update_endpoint`, each part is PUT into a staging graph, counted, and moved onto its graph;
    without, it is PUT straight onto its graph. Raises AutokgError naming the part when the store refuses
    it (the earlier parts stay pushed) or when a count differs from what was sent.
    """
    pushed = []
    for part, path in parts.items():
        graph = PART_GRAPHS[part].value
        sent = count_triples(path)
        target = f"{graph}-staging" if update_endpoint else graph
        # N-Triples is Turtle, and every graph store takes Turtle
        reply = http_request(graph_url(graph_store, target), path.read_bytes(), {"Content-Type": "text/turtle"}, "PUT", timeout, auth)
        if reply.status >= 300:
            raise AutokgError(f"{graph_store} refused the {part} part (HTTP {reply.status}): {error_detail(reply) or 'no message'}; "
                              "its graph keeps its previous version" + (" (only where the store's PUT is atomic)" if not update_endpoint else ""), path=path)
        if update_endpoint:
            staged = graph_counts(RemoteStore(query_endpoint, timeout=timeout, graphs=(target,)))[target]
            if staged != sent:
                raise AutokgError(f"The staging graph <{target}> holds {staged} triples, not the {sent} sent; <{graph}> is unchanged", path=path)
            move_graph(update_endpoint, target, graph, auth, timeout)
        pushed.append((part, graph, sent))
    counts = graph_counts(RemoteStore(query_endpoint, timeout=timeout))
    report = [PushedPart(part, graph, sent, counts.get(graph, 0)) for part, graph, sent in pushed]
    wrong = [f"{p.part}: sent {p.sent}, the store holds {p.stored}" for p in report if p.sent != p.stored]
    if wrong:
        raise AutokgError(f"The counts read back from {query_endpoint} differ: {'; '.join(wrong)}")
    return report
