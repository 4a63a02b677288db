"""A query job and its outcome, and running a job on a store: Oxigraph's own serializers, under the row and byte caps.

What a job answers with is the same wherever it runs (in a query child, or for a lookup in the serving process).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyoxigraph as ox

from autokg.errors import AutokgError
from autokg.query.running import Queryable
from autokg.rdf.formats import FORMATS, oxigraph_formats
from autokg.stores.backend import RemoteStore

#: media type -> Oxigraph format, for SELECT/ASK results and for graph results (from the one registry)
RESULT_FORMATS = oxigraph_formats("results")
GRAPH_FORMATS = oxigraph_formats("graph")
#: the RDF syntaxes that can use the project's prefixes
PREFIXED_FORMATS = tuple(f.oxigraph for f in FORMATS if f.prefixed)


@dataclass(frozen=True)
class Job:
    """One query to run, with everything the child needs to answer it."""

    query: str
    result_type: str | None  # chosen media type for SELECT/ASK, None if nothing acceptable
    graph_type: str | None  # chosen media type for CONSTRUCT/DESCRIBE, None if nothing acceptable
    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()
    max_rows: int = 100_000
    max_bytes: int = 64 * 1024 * 1024
    prefixes: dict[str, str] = field(default_factory=dict)
    timeout: float = 0.0  # passed on to a backend store that takes a per-query timeout
    deadline: float = 0.0  # time.monotonic() by which the answer is due (the same clock in every process)


@dataclass(frozen=True)
class Outcome:
    """What a query produced: an HTTP status, a media type and a body, and the row count.

    The body of an answer serialized by `run_job` is the bytearray it was written into, which the query child
    sends as it is (see `send_outcome`) and the worker reads into a bytearray of its own; a lookup's answer
    (`run_lookup`) and an error message are bytes. Whoever reads a body takes either.
    """

    status: int
    content_type: str
    body: bytes | bytearray
    rows: int = 0
    headers: tuple[tuple[str, str], ...] = ()


def text_outcome(status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> Outcome:
    """A plain-text error answer."""
    return Outcome(status, "text/plain; charset=utf-8", (message.rstrip() + "\n").encode("utf-8"), headers=headers)


#: how long a client turned away because every query slot and queue place is taken is asked to wait
RETRY_AFTER_SECONDS = 2
RETRY_LATER = (("Retry-After", str(RETRY_AFTER_SECONDS)),)


def busy_outcome(message: str) -> Outcome:
    """A 503 that sheds load: the server is busy, and the client may try again after RETRY_AFTER_SECONDS."""
    return text_outcome(503, message, RETRY_LATER)


class CapExceeded(Exception):
    """The answer grew past the row or byte cap."""


#: the byte strings that start a result row in each format, counted to enforce the row cap; a literal that
#: contains one counts it again, which can only refuse early, never let more rows through
ROW_MARKERS = {
    ox.QueryResultsFormat.JSON: (b"[{", b",{"),
    ox.QueryResultsFormat.XML: (b"<result>",),
    ox.QueryResultsFormat.CSV: (b"\n",),
    ox.QueryResultsFormat.TSV: (b"\n",),
}


def header_lines(fmt: object) -> int:
    """How many of the row markers counted in an answer belong to its header (CSV and TSV's line of names)."""
    return 1 if fmt in (ox.QueryResultsFormat.CSV, ox.QueryResultsFormat.TSV) else 0


def too_many_bytes(max_bytes: int) -> CapExceeded:
    """The refusal of an answer larger than the byte cap."""
    return CapExceeded(f"The answer is larger than this endpoint's limit of {max_bytes} bytes")


def too_many_rows(max_rows: int) -> CapExceeded:
    """The refusal of an answer with more rows than the row cap."""
    return CapExceeded(f"The answer has more than this endpoint's limit of {max_rows} rows: add a LIMIT")


class CappedBuffer:
    """A write target that counts bytes and result rows, and stops the serializer at the caps."""

    def __init__(self, fmt: object, max_rows: int, max_bytes: int) -> None:
        # one growing bytearray, which the query child sends as it is: a list of chunks joined at the end, then
        # pickled, held the answer three times over at the peak
        self.data = bytearray()
        self.rows = 0
        self.markers = ROW_MARKERS.get(fmt, ())
        # a marker can straddle two writes, so the next count starts this far back, where no whole marker fits
        # (the markers of a format are all of one length)
        self.overlap = max(map(len, self.markers), default=1) - 1
        self.header_lines = header_lines(fmt)
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.tail = b""

    def write(self, data: bytes) -> int:
        self.data += data
        if len(self.data) > self.max_bytes:
            raise too_many_bytes(self.max_bytes)
        if self.markers:
            window = self.tail + data
            self.rows += sum(map(window.count, self.markers))
            self.tail = window[len(window) - self.overlap:] if self.overlap else b""
            if self.rows - self.header_lines > self.max_rows:
                raise too_many_rows(self.max_rows)
        return len(data)

    def flush(self) -> None:
        pass

    def value(self) -> bytearray:
        return self.data


def dataset_arguments(job: Job) -> dict[str, object]:
    """The keyword arguments of `Store.query` that give a job its dataset."""
    dataset: dict[str, object] = {}
    if job.default_graphs:
        dataset["default_graph"] = [ox.NamedNode(g) for g in job.default_graphs]
    else:
        dataset["use_default_graph_as_union"] = True
    if job.named_graphs:
        dataset["named_graphs"] = [ox.NamedNode(g) for g in job.named_graphs]
    return dataset


def run_job(store: Queryable, job: Job) -> Outcome:
    """Evaluate a job on the store and serialize the answer with Oxigraph's own serializers."""
    dataset = dataset_arguments(job)
    if isinstance(store, RemoteStore):
        dataset["timeout"] = job.timeout
    try:
        results = store.query(job.query, **dataset)
        if isinstance(results, (ox.QueryTriples, list)):
            if job.graph_type is None:
                return text_outcome(406, "Not Acceptable: a CONSTRUCT or DESCRIBE answer is offered as " + ", ".join(GRAPH_FORMATS))
            rows = [0]

            def counting(triples: object) -> object:
                # Oxigraph pulls the triples through this generator, so the cap stops the work early
                for triple in triples:
                    rows[0] += 1
                    if rows[0] > job.max_rows:
                        raise CapExceeded(f"The answer has more than this endpoint's limit of {job.max_rows} triples: add a LIMIT")
                    yield triple

            buffer = CappedBuffer(None, job.max_rows, job.max_bytes)
            fmt = GRAPH_FORMATS[job.graph_type]
            prefixes = job.prefixes if fmt in PREFIXED_FORMATS else None
            ox.serialize(counting(results), buffer, format=fmt, prefixes=prefixes)
            return Outcome(200, f"{job.graph_type}; charset=utf-8", buffer.value(), rows[0])
        if job.result_type is None:
            return text_outcome(406, "Not Acceptable: a SELECT or ASK answer is offered as " + ", ".join(RESULT_FORMATS))
        fmt = RESULT_FORMATS[job.result_type]
        buffer = CappedBuffer(fmt, job.max_rows, job.max_bytes)
        results.serialize(buffer, format=fmt)
        rows = 1 if isinstance(results, ox.QueryBoolean) else max(buffer.rows - buffer.header_lines, 0)
        return Outcome(200, f"{job.result_type}; charset=utf-8", buffer.value(), rows)
    except CapExceeded as error:
        return text_outcome(422, str(error))
    except TimeoutError as error:
        return text_outcome(503, f"The query ran longer than {job.timeout:g} s and was stopped ({error}): narrow it down or add a LIMIT")
    except AutokgError as error:
        return text_outcome(error.status, str(error))
    except SyntaxError as error:
        if isinstance(store, RemoteStore):  # the query was accepted: the answer is what did not parse
            return text_outcome(502, f"The backend store's answer does not parse: {error}")
        return text_outcome(400, f"SPARQL syntax error: {error}")
    except (OSError, ValueError, RuntimeError) as error:
        return text_outcome(400, f"The query could not be evaluated: {error}")
    except MemoryError:  # Python's own allocations under the child's limit (the engine's abort the child)
        return text_outcome(422, "The query needed more working memory than this endpoint allows a query and was "
                                 "stopped: narrow it down or add a LIMIT")
