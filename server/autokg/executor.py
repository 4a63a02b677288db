"""Running queries where they can be stopped for real: in a child process that is killed on timeout.

Oxigraph evaluates a query inside Rust and has no timeout of its own; neither a thread nor a signal
can interrupt that work. Each serving process therefore runs queries in forked children that share the
store's memory (copy-on-write): one per query in flight, with one kept idle for the next. A query that
overruns its time is ended by killing its child. How many queries evaluate at once, server-wide, is
bounded by `QuerySlots`.

A serving process answers requests in several threads (so that a long query holds up none of the others),
but one at a time: a `Gate` lets one thread run a request, and a thread that waits for its child opens it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import itertools
import os
import pickle
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection

import pyoxigraph as ox

from autokg.backend import RemoteStore
from autokg.config import SERVER_DEFAULTS
from autokg.errors import AutokgError
from autokg.guards import is_single_pattern
from autokg.querying import Queryable
from autokg.store import PerProcess

#: media type -> Oxigraph format, for SELECT/ASK results and for graph results
RESULT_FORMATS = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "text/csv": ox.QueryResultsFormat.CSV,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
}
GRAPH_FORMATS = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/ld+json": ox.RdfFormat.JSON_LD,
    "application/n-quads": ox.RdfFormat.N_QUADS,
}

#: the RDF syntaxes that can use the project's prefixes
PREFIXED_FORMATS = (ox.RdfFormat.TURTLE, ox.RdfFormat.JSON_LD, ox.RdfFormat.RDF_XML)


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


@dataclass(frozen=True)
class Outcome:
    """What a query produced: an HTTP status, a media type and a body, and the row count.

    The body of an answer serialized by `run_job` is the bytearray it was written into, which the query child
    sends as it is (see `send_outcome`); the parent receives bytes. Whoever reads a body takes either.
    """

    status: int
    content_type: str
    body: bytes | bytearray
    rows: int = 0


def text_outcome(status: int, message: str) -> Outcome:
    """A plain-text error answer."""
    return Outcome(status, "text/plain; charset=utf-8", (message.rstrip() + "\n").encode("utf-8"))


class CapExceeded(Exception):
    """The answer grew past the row or byte cap."""


class CappedBuffer:
    """A write target that counts bytes and result rows, and stops the serializer at the caps."""

    ROW_MARKERS = {
        ox.QueryResultsFormat.JSON: (b"[{", b",{"),
        ox.QueryResultsFormat.XML: (b"<result>",),
        ox.QueryResultsFormat.CSV: (b"\n",),
        ox.QueryResultsFormat.TSV: (b"\n",),
    }

    def __init__(self, fmt: object, max_rows: int, max_bytes: int) -> None:
        # one growing bytearray, which the query child sends as it is: a list of chunks joined at the end, then
        # pickled, held the answer three times over at the peak
        self.data = bytearray()
        self.rows = 0
        self.markers = self.ROW_MARKERS.get(fmt, ())
        # a marker can straddle two writes, so the next count starts this far back, where no whole marker fits
        # (the markers of a format are all of one length)
        self.overlap = max(map(len, self.markers), default=1) - 1
        self.header_lines = 1 if fmt in (ox.QueryResultsFormat.CSV, ox.QueryResultsFormat.TSV) else 0
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.tail = b""

    def write(self, data: bytes) -> int:
        self.data += data
        if len(self.data) > self.max_bytes:
            raise CapExceeded(f"The answer is larger than this endpoint's limit of {self.max_bytes} bytes")
        if self.markers:
            window = self.tail + data
            self.rows += sum(map(window.count, self.markers))
            self.tail = window[len(window) - self.overlap:] if self.overlap else b""
            if self.rows - self.header_lines > self.max_rows:
                raise CapExceeded(f"The answer has more than this endpoint's limit of {self.max_rows} rows: add a LIMIT")
        return len(data)

    def flush(self) -> None:
        pass

    def value(self) -> bytearray:
        return self.data


def run_job(store: Queryable, job: Job) -> Outcome:
    """Evaluate a job on the store and serialize the answer with Oxigraph's own serializers."""
    dataset: dict[str, object] = {}
    if job.default_graphs:
        dataset["default_graph"] = [ox.NamedNode(g) for g in job.default_graphs]
    else:
        dataset["use_default_graph_as_union"] = True
    if job.named_graphs:
        dataset["named_graphs"] = [ox.NamedNode(g) for g in job.named_graphs]
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
        return text_outcome(getattr(error, "status", 400), str(error))
    except SyntaxError as error:
        if isinstance(store, RemoteStore):  # the query was accepted: the answer is what did not parse
            return text_outcome(502, f"The backend store's answer does not parse: {error}")
        return text_outcome(400, f"SPARQL syntax error: {error}")
    except (OSError, ValueError, RuntimeError) as error:
        return text_outcome(400, f"The query could not be evaluated: {error}")


#: a query child that has made more memory its own than its budget retires after its answer, and a fresh fork
#: shares everything again. Reading pyoxigraph's in-memory store writes to the pages it walks (a lock per quad),
#: so copy-on-write makes them the reader's own, and a fresh child must copy them again: at 1M triples
#: source-documents took 1,635 ms in a fresh child and 196 ms in a warm one. So the budget is what the process
#: shared with its parent when it started (copying all of it is the most that copy-on-write can cost; more than
#: that is growth of its own), or this much, whichever is more.
PRIVATE_LIMIT = 16 * 1024 * 1024
#: a query faster than this touched little memory, so the check (a walk of the page tables) is skipped,
#: except once every CHECK_EVERY queries, for many small ones that add up
CHECK_AFTER_SECONDS = 0.01
CHECK_EVERY = 256
#: one triple pattern streams from an index scan and stops at the row or byte cap, so it cannot overrun a
#: timeout of a second or more while the cap is at most this; it runs in the serving process itself, because
#: the round trip to the child (two wake-ups of a sleeping process) costs ten times the lookup on a VM
IN_PROCESS_MAX_ROWS = 100_000
IN_PROCESS_MIN_TIMEOUT = 1.0
LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def release_free_memory() -> None:
    """Return freed heap pages to the system (glibc keeps them for reuse otherwise, privately to this child)."""
    trim = getattr(LIBC, "malloc_trim", None)
    if trim is not None:
        trim(0)


def memory_bytes() -> tuple[int, int]:
    """The memory this process holds on its own (private pages) and shares with others, from /proc/self/smaps_rollup."""
    with open("/proc/self/smaps_rollup", "rb") as rollup:
        fields = dict(line.split(b":", 1) for line in rollup.read().splitlines()[1:])

    def total(*names: bytes) -> int:
        return sum(int(fields.get(name, b"0 kB").split()[0]) for name in names) * 1024

    return total(b"Private_Clean", b"Private_Dirty"), total(b"Shared_Clean", b"Shared_Dirty")


def private_bytes() -> int:
    """The memory only this process holds (private clean and dirty pages)."""
    return memory_bytes()[0]


@dataclass(frozen=True)
class MemoryBudget:
    """How much more memory of its own a forked process may hold than it did at `baseline`, before it retires."""

    baseline: int
    limit: int

    @classmethod
    def from_now(cls) -> MemoryBudget:
        """A budget that starts from this process's memory now (freed heap returned first)."""
        release_free_memory()
        private, shared = memory_bytes()
        return cls(private, max(PRIVATE_LIMIT, shared))

    def exceeded(self) -> bool:
        """Whether this process, freed heap returned first, holds more than the budget allows."""
        release_free_memory()
        return private_bytes() - self.baseline > self.limit


def send_outcome(connection: Connection, outcome: Outcome, retiring: bool) -> None:
    """Send an outcome to the parent in two messages, the rest and then the body, so that the body is not copied."""
    connection.send_bytes(pickle.dumps((replace(outcome, body=b""), retiring), protocol=pickle.HIGHEST_PROTOCOL))
    connection.send_bytes(outcome.body)


def receive_outcome(connection: Connection) -> tuple[Outcome, bool]:
    """An outcome sent by `send_outcome`, and whether its child is retiring.

    Raises EOFError or OSError when the child died before it had sent both messages.
    """
    outcome, retiring = pickle.loads(connection.recv_bytes())
    return replace(outcome, body=connection.recv_bytes()), retiring


def serve_jobs(store: Queryable, connection: Connection) -> None:
    """Answer jobs from the parent until it hangs up, or until the child holds too much memory of its own."""
    budget = MemoryBudget.from_now()
    for served in itertools.count(1):
        try:
            job = pickle.loads(connection.recv_bytes())
        except (EOFError, OSError):
            os._exit(0)
        started = time.perf_counter()
        outcome = run_job(store, job)
        retiring = False
        if time.perf_counter() - started > CHECK_AFTER_SECONDS or served % CHECK_EVERY == 0:
            retiring = budget.exceeded()
        send_outcome(connection, outcome, retiring)
        if retiring:
            os._exit(0)


def child_loop(store: Queryable, connection: Connection) -> None:
    """Serve jobs in a thread of this child, so that they allocate from a malloc arena of their own."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The main thread's arena is the heap the store was loaded into, shared with the parent: chunks reused
    # from its free lists are copied on first write (58 faults and 1 ms per trivial query at 1M triples).
    # A new thread gets a fresh arena, so the shared heap stays untouched.
    serving = threading.Thread(target=serve_jobs, args=(store, connection), name="autokg-query", daemon=True)
    serving.start()
    serving.join()


class Gate:
    """One thread at a time runs a request's Python work; a thread waiting for its query child opens the gate.

    Threads taking turns on a lock, rather than on the GIL, keep pyoxigraph's GIL releases from handing the
    interpreter to another request midway (a lookup mix ran at 4,431 req/s in 2 free threads per worker, 9,648
    in 4 gated ones). And no thread is inside the store while another forks a child, which would copy a lock
    the store holds into the child, held, for ever.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.local = threading.local()

    def held(self) -> Gate:
        """Run the `with` block as the only thread inside the gate (the gate is its own context manager, which
        costs a lookup a microsecond less than a generator)."""
        return self

    def __enter__(self) -> None:
        self.lock.acquire()
        self.local.held = True

    def __exit__(self, *exc_info: object) -> None:
        self.local.held = False
        self.lock.release()

    @contextmanager
    def opened(self) -> Iterator[None]:
        """Let other threads in while this one waits in the block (nothing changes when it does not hold the gate)."""
        if not getattr(self.local, "held", False):
            yield
            return
        self.local.held = False
        self.lock.release()
        try:
            yield
        finally:
            self.lock.acquire()
            self.local.held = True


class QuerySlots:
    """At most `count` queries evaluate at once, across this process and the workers forked from it; more wait.

    Evaluation is what costs memory (a child's working memory, and the store pages its reads copy) and CPU, so
    more queries at once than cores only add memory. A slot is a lock on one byte of a file the workers inherit:
    the kernel drops a process's locks when it ends, so a worker that is killed while it holds a slot gives it
    back. Such locks belong to a process, not a thread, so this process's own slots are tracked here as well.
    """

    #: how often a waiting query looks for a slot freed by another process (one freed here wakes it at once)
    POLL_SECONDS = 0.005

    def __init__(self, count: int) -> None:
        if count < 1:
            raise ValueError(f"QuerySlots: {count} slots; give at least 1")
        self.count = count
        self.file = tempfile.TemporaryFile()
        self.freed = threading.Condition()
        self.held: PerProcess[set[int]] = PerProcess(set)  # a forked process holds none of its parent's locks

    def take(self, timeout: float) -> int | None:
        """The number of a slot now this process's, or None when none came free within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self.freed:
            held = self.held.get()
            while True:
                for slot in range(self.count):
                    if slot not in held and self.try_lock(slot):
                        held.add(slot)
                        return slot
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.freed.wait(min(left, self.POLL_SECONDS))

    def try_lock(self, slot: int) -> bool:
        """Lock one slot's byte if no other process holds it."""
        try:
            fcntl.lockf(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, slot)
        except OSError:
            return False
        return True

    def give_back(self, slot: int) -> None:
        """Free a slot taken by `take`."""
        with self.freed:
            fcntl.lockf(self.file, fcntl.LOCK_UN, 1, slot)
            self.held.get().discard(slot)
            self.freed.notify()


DEFAULT_SLOTS = int(SERVER_DEFAULTS["QUERY_SLOTS"])
#: this process's ends of the sockets to its query children
PARENT_ENDS: set[Connection] = set()


@dataclass
class Child:
    """A forked query process and this process's end of the socket to it."""

    pid: int
    connection: Connection

    @classmethod
    def fork(cls, store: Queryable) -> Child:
        """Fork a fresh child that shares the store's memory."""
        parent_socket, child_socket = socket.socketpair()
        pid = os.fork()
        if pid == 0:  # the child
            parent_socket.close()
            # a sibling's socket held open here would keep that sibling from seeing its parent hang up
            for sibling in list(PARENT_ENDS):
                sibling.close()
            try:
                child_loop(store, Connection(child_socket.detach()))
            finally:
                os._exit(0)
        child_socket.close()
        child = cls(pid, Connection(parent_socket.detach()))
        PARENT_ENDS.add(child.connection)
        return child

    def stop(self) -> None:
        """Kill the child and reap it."""
        PARENT_ENDS.discard(self.connection)
        self.connection.close()
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


class Executor:
    """Runs jobs in query children of this process, forked on demand, when one of the server's `slots` is free;
    one idle child is kept for the next job.

    Safe for threads that take turns through its `gate` (see Gate); a job runs in a child of its own, so
    queries from several threads run side by side.
    """

    def __init__(self, store: Queryable, slots: int = DEFAULT_SLOTS, gate: Gate | None = None) -> None:
        self.store = store
        self.gate = gate or Gate()
        self.idle: PerProcess[list[Child]] = PerProcess(list)  # after a fork, the inherited ones are the parent's
        self.slots = QuerySlots(slots)

    def take_child(self) -> Child:
        """An idle child of this process, or a freshly forked one."""
        idle = self.idle.get()
        return idle.pop() if idle else Child.fork(self.store)

    def give_back(self, child: Child) -> None:
        """Keep a child that finished its job for the next one, or stop it when one is already idle."""
        idle = self.idle.get()
        if idle:
            child.stop()
        else:
            idle.append(child)

    def stop(self) -> None:
        """Stop the idle children (a child still running a job is stopped by the thread that waits for it)."""
        idle = self.idle.get()
        while idle:
            idle.pop().stop()

    def runs_in_process(self, job: Job, timeout: float) -> bool:
        """Whether a job is bounded by the caps alone, so that it can skip the round trip to the child."""
        return (timeout >= IN_PROCESS_MIN_TIMEOUT and job.max_rows <= IN_PROCESS_MAX_ROWS
                and not isinstance(self.store, RemoteStore) and is_single_pattern(job.query))

    def run(self, job: Job, timeout: float) -> Outcome:
        """Run a job; past `timeout` seconds its child is killed and a 503 comes back."""
        if self.runs_in_process(job, timeout):
            return run_job(self.store, job)
        deadline = time.monotonic() + timeout
        with self.gate.opened():
            slot = self.slots.take(timeout)
        if slot is None:
            return text_outcome(503, f"{self.slots.count} other queries kept this server busy for {timeout:g} s: try again later")
        try:
            return self.run_in_child(job, timeout, deadline)
        finally:
            self.slots.give_back(slot)

    def run_in_child(self, job: Job, timeout: float, deadline: float) -> Outcome:
        """Run a job in a child of this process, killing it at `deadline` (time.monotonic)."""
        child = self.take_child()
        try:
            child.connection.send_bytes(pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL))
            with self.gate.opened():
                ready = child.connection.poll(max(deadline - time.monotonic(), 0))
            if ready:
                outcome, retiring = receive_outcome(child.connection)
                if retiring:
                    child.stop()
                else:
                    self.give_back(child)
                return outcome
        except (EOFError, OSError):
            child.stop()
            return text_outcome(500, "The query process died while answering; it has been restarted")
        child.stop()
        return text_outcome(503, f"The query ran longer than {timeout:g} s and was stopped: narrow it down or add a LIMIT")
