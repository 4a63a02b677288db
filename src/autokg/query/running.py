"""Running SPARQL on the Oxigraph store and writing the results in the format asked for."""

from __future__ import annotations

import shutil
import textwrap

import pyoxigraph as ox

from autokg.config import PREFIXES, compact
from autokg.errors import AutokgError
from autokg.rdf.formats import BY_NAME, FORMATS
from autokg.stores.backend import RemoteStore
from autokg.stores.embedded import ProcessLocalStore

#: output name -> Oxigraph format, for SELECT/ASK results and for CONSTRUCT/DESCRIBE results
TABULAR_FORMATS = {f.name: f.oxigraph for f in FORMATS if f.kind == "results" and f.offered}
GRAPH_FORMATS = {f.name: f.oxigraph for f in FORMATS if f.kind == "graph" and f.offered}
OUTPUT_FORMATS = ("table", *TABULAR_FORMATS, *GRAPH_FORMATS)

#: what queries run on: the embedded store, or a remote endpoint standing in for it
Queryable = ox.Store | ProcessLocalStore | RemoteStore
Results = ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples | list[ox.Triple]  # a list: triples from a remote endpoint


def execute(store: Queryable, text: str, bindings: dict[str, ox.NamedNode | ox.Literal] | None = None) -> Results:
    """Run a query on the store's union of graphs, with `bindings` substituted for variables (never pasted in).

    Raises AutokgError with the parser's message on a syntax error.
    """
    substitutions = {ox.Variable(name): value for name, value in (bindings or {}).items()}
    try:
        return store.query(text, use_default_graph_as_union=True, substitutions=substitutions)
    except SyntaxError as error:
        raise AutokgError(f"SPARQL syntax error: {error}") from None


def execute_remote(endpoint: str, text: str, timeout: float = 60.0) -> Results:
    """Run a query on a SPARQL endpoint that `autokg push` filled, its dataset the part graphs as on the embedded store.

    Such a store's own default graph is not the union of the parts (Oxigraph's server keeps it apart and empty,
    Virtuoso's holds every graph, system graphs included), so the part graphs are named as the dataset, as
    `serve --backend` does. Raises AutokgError when the endpoint cannot
    be reached, does not answer in time or refuses the query.
    """
    try:
        return RemoteStore(endpoint, timeout=timeout, role="The SPARQL endpoint").query(text)
    except TimeoutError as error:
        raise AutokgError(f"cannot reach the SPARQL endpoint {endpoint}: {error}") from None


def render(results: Results, fmt: str) -> bytes:
    """Serialize results, ending with a newline: table or a results format for SELECT/ASK; table or an RDF syntax
    (rdf.formats) for CONSTRUCT/DESCRIBE.

    Results are evaluated here, so this raises AutokgError when a SERVICE endpoint the query calls cannot be reached.
    """
    try:
        if fmt == "table":
            body = render_table(results).encode("utf-8")
        elif isinstance(results, (ox.QueryTriples, list)):
            if fmt not in GRAPH_FORMATS:
                raise AutokgError(f"A CONSTRUCT or DESCRIBE result cannot be written as '{fmt}': use {', '.join(GRAPH_FORMATS)} or table")
            body = ox.serialize(results, format=GRAPH_FORMATS[fmt], prefixes=PREFIXES if BY_NAME[fmt].prefixed else None)
        elif fmt not in TABULAR_FORMATS:
            raise AutokgError(f"A SELECT or ASK result cannot be written as '{fmt}': use table, {', '.join(TABULAR_FORMATS)}")
        else:
            body = results.serialize(format=TABULAR_FORMATS[fmt])
    except OSError as error:  # pyoxigraph makes SERVICE calls while the results are read, and words failures so
        raise AutokgError(f"cannot reach an endpoint that the query calls with SERVICE (or read the store): {error}") from None
    return body if body.endswith(b"\n") or not body else body + b"\n"


def short(term: object) -> str:
    """A term for people: prefixed IRIs, plain literal values."""
    if term is None:
        return ""
    if isinstance(term, ox.NamedNode):
        compacted = compact(term.value)
        return f"{compacted[0]}:{compacted[1]}" if compacted else term.value
    if isinstance(term, ox.Literal):
        return term.value
    return str(term)


def render_table(results: Results, width: int | None = None) -> str:
    """A text table that fits the terminal, wrapping long values inside their columns."""
    if isinstance(results, ox.QueryBoolean):
        return f"{'yes' if bool(results) else 'no'}\n"
    if isinstance(results, (ox.QueryTriples, list)):
        header = ["subject", "predicate", "object"]
        rows = [[short(t.subject), short(t.predicate), short(t.object)] for t in results]
    else:
        header = [v.value for v in results.variables]
        rows = [[short(solution[name]) for name in header] for solution in results]
    return text_table(header, rows, width) + f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n"


def text_table(header: list[str], rows: list[list[str]], width: int | None = None) -> str:
    """Header, rule and rows, fitted to `width` (default: the terminal's), long values wrapped in their columns."""
    widths = column_widths(header, rows, width or shutil.get_terminal_size((120, 24)).columns)
    lines = [format_row(header, widths), "  ".join("-" * w for w in widths)]
    lines += [format_row(row, widths) for row in rows]
    return "\n".join(lines) + "\n"


def column_widths(header: list[str], rows: list[list[str]], total: int) -> list[int]:
    """Column widths that fit `total` characters, shrinking the widest columns first."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    budget = max(total - 2 * (len(widths) - 1), 10 * len(widths))
    while sum(widths) > budget and max(widths) > 10:
        widest = widths.index(max(widths))
        widths[widest] -= 1
    return [max(w, 1) for w in widths]


def format_row(values: list[str], widths: list[int]) -> str:
    """One table row; a long value wraps onto further lines within its column."""
    wrapped = [textwrap.wrap(v, w) or [""] for v, w in zip(values, widths)]
    height = max(len(cell) for cell in wrapped)
    lines = []
    for i in range(height):
        lines.append("  ".join((cell[i] if i < len(cell) else "").ljust(w) for cell, w in zip(wrapped, widths)).rstrip())
    return "\n".join(lines)
