"""Running queries where they can be stopped for real: in a child process that is killed on timeout.

Oxigraph evaluates a query inside Rust and has no timeout of its own; neither a thread nor a signal
can interrupt that work. So queries run in children forked from the process that loaded the store, which share
its memory (copy-on-write): one per query slot (`QuerySlots` bounds how many queries evaluate at once,
server-wide), kept by a thread of the serving master and shared by its workers (`SlotChildren`). A query that
overruns its time is ended by killing its child, and the keeper forks a fresh one.

A serving process answers requests in several threads (so that a long query holds up none of the others),
but one at a time: a `Gate` lets one thread run a request, and a thread that waits for a query child opens it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import itertools
import logging
import mmap
import os
import pickle
import resource
import secrets
import select
import signal
import socket
import struct
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import pyoxigraph as ox

from autokg.config import SERVER_DEFAULTS
from autokg.errors import AutokgError
from autokg.query.guards import is_single_pattern, limited_to
from autokg.query.lookups import answer_lookup, parse_lookup
from autokg.query.running import Queryable
from autokg.stores.backend import RemoteStore
from autokg.stores.embedded import PerProcess

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


def too_much_memory(limit: int) -> str:
    """The refusal of a query that needed more memory than a query child may take."""
    return (f"The query needed more than this endpoint's limit of {limit // MIB} MiB of working memory and was "
            "stopped: narrow it down or add a LIMIT")


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


#: a single-pattern answer of at most this many rows is serialized in one call, to bytes, rather than streamed
#: through CappedBuffer: each of its writes takes the GIL back, and with a worker's threads answering lookups
#: side by side every such hand-over cost a context switch (four threads evaluating lookups: 103 µs of CPU each
#: instead of 60)
LOOKUP_ROWS = 1000


def run_lookup(store: Queryable, job: Job) -> Outcome:
    """Run a single-pattern job with a LIMIT just past LOOKUP_ROWS (or the row cap) and serialize it in one call.

    A JSON answer over the union of the graphs comes straight from the quad index when the query is in the
    subset that `lookups` reads; any other goes through `Store.query`.

    The LIMIT bounds what the one call can build; an answer that reaches it, a query that fails (or is not
    single-pattern), and a request that accepts no result format are handed to `run_job`, which streams the
    answer under the caps and words the error.
    """
    fmt = RESULT_FORMATS.get(job.result_type or "")
    if fmt is None:
        return run_job(store, job)
    rows = min(LOOKUP_ROWS, job.max_rows)
    lookup = parse_lookup(job.query) if fmt == ox.QueryResultsFormat.JSON and not (job.default_graphs or job.named_graphs) else None
    try:
        answer = answer_lookup(store, lookup, rows) if lookup is not None else None  # type: ignore[arg-type]
    except (OSError, ValueError, RuntimeError):
        answer = None  # the path below words the store's error
    if answer is not None:
        body, count = answer
    else:
        try:
            # a single pattern is a SELECT or an ASK: its results are solutions or a boolean
            results = store.query(limited_to(job.query, rows + 1), **dataset_arguments(job))
            body = results.serialize(format=fmt)
        except (SyntaxError, OSError, ValueError, RuntimeError):
            return run_job(store, job)
        count = 1 if isinstance(results, ox.QueryBoolean) else sum(map(body.count, ROW_MARKERS[fmt])) - header_lines(fmt)
        if count > rows:
            return run_job(store, job)
    if len(body) > job.max_bytes:
        return text_outcome(422, str(too_many_bytes(job.max_bytes)))
    return Outcome(200, f"{job.result_type}; charset=utf-8", body, max(count, 0))


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
LOG = logging.getLogger(__name__)


M_MMAP_THRESHOLD = -3
#: a heap block this large or larger gets pages of its own, which go back to the system when it is freed
MMAP_THRESHOLD = 256 * 1024


def map_large_blocks() -> None:
    """Have malloc give each block of MMAP_THRESHOLD or more pages of its own, handed back when it is freed.

    By default the threshold climbs to the largest block freed so far (up to 32 MiB), and blocks under it come from
    the heap of the thread that asked, which keeps them when they are freed: after the competency mix, a serving
    worker held 20 to 40 MiB of freed answers.
    """
    LIBC.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


MIB = 1024 * 1024


def data_bytes() -> int:
    """The size of this process's data (heap and private writable mappings), which RLIMIT_DATA bounds."""
    with open("/proc/self/status", "rb") as status:
        for line in status:
            if line.startswith(b"VmData:"):
                return int(line.split()[1]) * 1024
    raise OSError("/proc/self/status has no VmData line")


def default_query_memory(slots: int) -> int:
    """The working memory a query child may take by default: a share of the machine's memory that leaves room
    for the store and every slot at once (half of it, split between the slots and the store), 256 MiB to 4 GiB.

    >>> default_query_memory(2) >= 256 * MIB
    True
    """
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return max(256 * MIB, min(4096 * MIB, total // (2 * (slots + 1))))


def limit_memory(extra: int) -> None:
    """Let this process grow by at most `extra` bytes of data from now on (0: no limit).

    Past it the engine's allocation fails and aborts the process (Rust's allocator cannot fail softly), and Python
    raises MemoryError. A query child sets it before each job, so what earlier jobs left does not count.
    """
    if extra <= 0:
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    wanted = data_bytes() + extra
    resource.setrlimit(resource.RLIMIT_DATA, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard))


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


#: the length that comes before each message on a query child's socket
LENGTH = struct.Struct("!Q")


def send_message(sock: socket.socket, data: bytes | bytearray) -> None:
    """Send one message: its length, then the data as it is."""
    sock.sendall(LENGTH.pack(len(data)))
    sock.sendall(data)


def receive_exactly(sock: socket.socket, size: int, deadline: float | None) -> bytearray:
    """Read `size` bytes into one buffer, by `deadline` (time.monotonic) if one is given.

    Raises TimeoutError past the deadline, and EOFError when the other end hangs up first.
    """
    data = bytearray(size)
    view = memoryview(data)
    got = 0
    while got < size:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the deadline passed")
            sock.settimeout(left)
        count = sock.recv_into(view[got:])
        if count == 0:
            raise EOFError("the other end hung up in the middle of a message")
        got += count
    return data


def receive_message(sock: socket.socket, deadline: float | None = None) -> bytearray:
    """One message sent by `send_message`; raises what `receive_exactly` raises."""
    (size,) = LENGTH.unpack(receive_exactly(sock, LENGTH.size, deadline))
    return receive_exactly(sock, size, deadline)


def send_outcome(sock: socket.socket, outcome: Outcome) -> None:
    """Send an outcome in two messages, the rest and then the body, so that the body is not copied."""
    send_message(sock, pickle.dumps(replace(outcome, body=b""), protocol=pickle.HIGHEST_PROTOCOL))
    send_message(sock, outcome.body)


def receive_outcome(sock: socket.socket, deadline: float | None = None) -> Outcome:
    """An outcome sent by `send_outcome`; raises what `receive_exactly` raises."""
    outcome = pickle.loads(receive_message(sock, deadline))
    return replace(outcome, body=receive_message(sock, deadline))


PEER_CREDENTIALS = struct.Struct("3i")


def same_user(sock: socket.socket) -> bool:
    """Whether the process at the other end of a Unix socket runs as this process's user.

    An abstract socket has no file permissions: anyone on the host may connect to it.
    """
    _pid, uid, _gid = PEER_CREDENTIALS.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, PEER_CREDENTIALS.size))
    return uid == os.getuid()


def serve_jobs(store: Queryable, listener: socket.socket, children: SlotChildren, slot: int) -> None:
    """Answer one job per connection, until the child holds too much memory of its own (then it ends, and the
    keeper forks a fresh one for the slot).

    While a job runs, its deadline stands in the slot's shared record, so that the keeper can kill a job nobody
    waits for any more (its worker died) and the next holder of the slot can tell that it is orphaned.
    """
    budget = MemoryBudget.from_now()
    limit_memory(children.memory)
    for served in itertools.count(1):
        sock, _address = listener.accept()
        with sock:
            try:
                if not same_user(sock):
                    continue
                job = pickle.loads(receive_message(sock))
            except (EOFError, OSError):
                continue
            started = time.perf_counter()
            children.set_deadline(slot, job.deadline or time.monotonic() + max(job.timeout, 1.0))
            outcome = run_job(store, job)
            # cleared before the answer goes, so that a worker that has it never finds the child still busy
            children.set_deadline(slot, 0.0)
            retiring = False
            if time.perf_counter() - started > CHECK_AFTER_SECONDS or served % CHECK_EVERY == 0:
                retiring = budget.exceeded()
                # what a long job left does not count against the next one; after a quick one (which left little)
                # the limit stands: setting it costs a lookup of the child's memory, 0.7 ms of a 1.3 ms query
                limit_memory(children.memory)
            try:
                send_outcome(sock, outcome)
            except OSError:  # the worker gave up on the job, or died
                pass
        if retiring:
            os._exit(0)


PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
CHILD_NAME = b"autokg-query"


def die_with_parent(parent: int, sig: int) -> None:
    """Have the kernel send `sig` to this forked process when the thread that forked it ends, even by SIGKILL;
    end at once if the parent (pid `parent`) is already gone."""
    LIBC.prctl(PR_SET_PDEATHSIG, sig)
    if os.getppid() != parent:
        os._exit(0)


def end_forks_with_this_process(sig: int) -> None:
    """Have every process forked from this one from now on get `sig` when the thread that forked it ends
    (see die_with_parent); the processes they fork in turn are left alone."""
    parent = os.getpid()
    forker = [parent]  # which process is forking: a hook registered here also runs in the forked processes' forks

    def note_forker() -> None:
        forker[0] = os.getpid()

    def in_child() -> None:
        if forker[0] == parent:
            die_with_parent(parent, sig)

    os.register_at_fork(before=note_forker, after_in_child=in_child)


def child_loop(store: Queryable, listener: socket.socket, parent: int, children: SlotChildren, slot: int) -> None:
    """Serve jobs in a thread of this child, so that they allocate from a malloc arena of their own."""
    # killed with the thread that forked it (the keeper), so that no child outlives the server
    die_with_parent(parent, signal.SIGKILL)
    LIBC.prctl(PR_SET_NAME, CHILD_NAME)  # what ps and /proc/PID/comm show, to tell it from a worker
    # a query child ends only by SIGKILL, from the keeper or from the worker whose query overran its time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The forking thread's arena is shared with the master (the main thread's is the heap the store was loaded
    # into): chunks reused from its free lists are copied on first write (58 faults and 1 ms per trivial query at
    # 1M triples). A new thread gets a fresh arena, so the shared heap stays untouched.
    serving = threading.Thread(target=serve_jobs, args=(store, listener, children, slot), name="autokg-query", daemon=True)
    serving.start()
    serving.join()


class Gate:
    """One thread at a time runs a request's Python work; a thread waiting for its query child opens the gate.

    Threads taking turns on a lock, rather than on the GIL, keep pyoxigraph's GIL releases from handing the
    interpreter to another request midway (a lookup mix ran at 4,431 req/s in 2 free threads per worker, 9,648
    in 4 gated ones). And no thread is inside the store while the keeper forks a query child, which would copy
    a lock the store holds into the child, held, for ever. A process forked while the keeper holds the gate
    (a worker, forked by the server's master) gets an open one.
    """

    def __init__(self) -> None:
        self.reopen()
        GATES.add(self)

    def reopen(self) -> None:
        """Start afresh, open (in a forked process, the lock may be held by a thread that is not there)."""
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


GATES: weakref.WeakSet[Gate] = weakref.WeakSet()
os.register_at_fork(after_in_child=lambda: [gate.reopen() for gate in list(GATES)])


class Allowance:
    """How many of a process's request threads may be taken by long requests at once (receiving a body, waiting
    for a query, rendering a page), so that the others stay free for short ones (lookups, /health).

    A thread enters at most once: a page that runs a query, or a query whose body was received, holds one place.
    A process forked from the one that made it starts with every place free.

    >>> allowance = Allowance(1)
    >>> allowance.enter(), allowance.enter(), Allowance(1).enter()
    (True, True, True)
    """

    def __init__(self, places: int) -> None:
        self.places = places
        self.free: PerProcess[threading.BoundedSemaphore] = PerProcess(lambda: threading.BoundedSemaphore(places))
        self.local = threading.local()

    def enter(self) -> bool:
        """Take a place for this thread (True if it already holds one); False when all are taken."""
        depth = getattr(self.local, "depth", 0)
        if depth == 0 and not self.free.get().acquire(blocking=False):
            return False
        self.local.depth = depth + 1
        return True

    def leave(self) -> None:
        """Give back what `enter` took."""
        self.local.depth -= 1
        if self.local.depth == 0:
            self.free.get().release()


#: what a client turned away because the long requests of its worker took every place they may is told
LONG_REQUESTS_BUSY = ("This worker's threads for long requests are all receiving bodies, waiting for queries or "
                      "rendering pages: try again in a few seconds")


class QueueFull(Exception):
    """Every query slot and every place in their queue is taken."""


class QuerySlots:
    """At most `count` queries evaluate at once, across this process and the workers forked from it; at most
    `queue` more wait for a slot, and a query beyond those is turned away at once (QueueFull).

    Evaluation is what costs memory (a child's working memory, and the store pages its reads copy) and CPU, so
    more queries at once than cores only add memory; and a request waiting for a slot holds one of its worker's
    threads, so a long queue starves the cheap requests behind it. A slot or queue place is a lock on one byte of
    a file the workers inherit (slots first, then queue places): the kernel drops a process's locks when it ends,
    so a worker that is killed while it holds one gives it back. Such locks belong to a process, not a thread, so
    this process's own are tracked here as well.
    """

    #: how often a waiting query looks for a slot freed by another process (one freed here wakes it at once)
    POLL_SECONDS = 0.005

    def __init__(self, count: int, queue: int | None = None) -> None:
        if count < 1:
            raise ValueError(f"QuerySlots: {count} slots; give at least 1")
        self.count = count
        self.queue = count if queue is None else queue
        self.file = tempfile.TemporaryFile()
        self.freed = threading.Condition()
        self.held: PerProcess[set[int]] = PerProcess(set)  # a forked process holds none of its parent's locks

    def take(self, timeout: float) -> int | None:
        """The number of a slot now this process's, or None when none came free within `timeout` seconds.

        Raises QueueFull when no slot is free and every queue place is taken.
        """
        deadline = time.monotonic() + timeout
        with self.freed:
            held = self.held.get()
            slot = self.first_free(range(self.count), held)
            if slot is not None:
                return slot
            place = self.first_free(range(self.count, self.count + self.queue), held)
            if place is None:
                raise QueueFull
            try:
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return None
                    self.freed.wait(min(left, self.POLL_SECONDS))
                    slot = self.first_free(range(self.count), held)
                    if slot is not None:
                        return slot
            finally:
                self.unlock(place)

    def first_free(self, numbers: range, held: set[int]) -> int | None:
        """Lock the first of these bytes that no process holds, and note it held here; None if all are taken."""
        for number in numbers:
            if number not in held and self.try_lock(number):
                held.add(number)
                return number
        return None

    def try_lock(self, number: int) -> bool:
        """Lock one byte of the file if no other process holds it."""
        try:
            fcntl.lockf(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, number)
        except OSError:
            return False
        return True

    def unlock(self, number: int) -> None:
        """Free a byte locked by this process (the caller holds `freed`)."""
        fcntl.lockf(self.file, fcntl.LOCK_UN, 1, number)
        self.held.get().discard(number)

    def give_back(self, slot: int) -> None:
        """Free a slot taken by `take`."""
        with self.freed:
            self.unlock(slot)
            self.freed.notify()


DEFAULT_SLOTS = int(SERVER_DEFAULTS["QUERY_SLOTS"])
#: a slot's child is forked at most this often (a child that fails as it starts must not keep the keeper busy)
REFORK_PAUSE = 0.05
#: a pid in the table shared by the master and its workers
PID = struct.Struct("i")
#: a slot's running job's deadline (time.monotonic(), 0: idle), and its last child's pid and wait status
DEADLINE = struct.Struct("d")
DEATH = struct.Struct("ii")
#: a job this long past its deadline is killed by the keeper (its worker, which kills it at the deadline, is gone)
OVERDUE_SECONDS = 1.0
#: the keeper looks for overdue jobs at least this often
KEEPER_TICK = 0.5
#: the file descriptors that the keepers of this process hold (listening sockets, pidfds, wake-up pipes): a query
#: child closes all of them but its own listener
KEEPER_FDS: set[int] = set()


def describe_end(status: int, memory: int) -> str:
    """How a query child ended, from its wait status, for the log.

    >>> describe_end(signal.SIGABRT, 512 * MIB)
    'aborted (SIGABRT): the engine could not allocate memory within the limit of 512 MiB per query, or crashed'
    >>> describe_end(signal.SIGKILL, 0)
    'was killed (SIGKILL): its query overran its time, or it was killed from outside'
    """
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)
        if number == signal.SIGKILL:
            return f"was killed ({name}): its query overran its time, or it was killed from outside"
        if number == signal.SIGABRT:
            limit = f"the limit of {memory // MIB} MiB per query" if memory else "the machine's memory"
            return f"aborted ({name}): the engine could not allocate memory within {limit}, or crashed"
        return f"died of {name}"
    return f"exited with status {os.WEXITSTATUS(status)}"


class SlotChildren:
    """One query child for each query slot, all forked from the process that loaded the store, and forked again
    when they end.

    The serving master starts them before it forks its workers, so that a worker holding slot k sends its job to
    the child of slot k, over an abstract Unix socket whose name the workers inherit. A child that ends (killed on
    a timeout, or retired for its memory) is forked again by the keeper, a thread of the master; the listening
    socket stays open in the master, so a job sent in between waits in its queue. The pid of each slot's child is
    in memory shared with the workers, which kill it through a pidfd when a job overruns its time.

    One child per slot, shared by all workers, is the fewest processes that can hold copies of the store's pages
    (see PRIVATE_LIMIT): a child per worker kept one idle in each of them.
    """

    def __init__(self, store: Queryable, count: int, gate: Gate, memory: int = 0) -> None:
        self.store = store
        self.count = count
        self.gate = gate
        self.memory = memory  # the working memory a child may take for one job, in bytes (0: no limit)
        self.owner = os.getpid()
        self.names = [b"\0autokg-query-" + secrets.token_hex(8).encode() + b"-%d" % slot for slot in range(count)]
        self.pids = mmap.mmap(-1, PID.size * count)  # shared with the processes forked from this one
        self.deadlines = mmap.mmap(-1, DEADLINE.size * count)
        self.deaths = mmap.mmap(-1, DEATH.size * count)
        self.starting = threading.Lock()
        self.listeners: list[socket.socket] = []
        self.wake: tuple[int, int] | None = None
        self.keeper: threading.Thread | None = None

    @property
    def started(self) -> bool:
        """Whether the children were started (in this process, or in the one this process was forked from)."""
        return self.keeper is not None

    def pid(self, slot: int) -> int:
        """The pid of the slot's child now, or 0 while it is being forked again."""
        return PID.unpack_from(self.pids, PID.size * slot)[0]

    def set_pid(self, slot: int, pid: int) -> None:
        """Record the pid of the slot's child (0: none) for every process forked from this one."""
        PID.pack_into(self.pids, PID.size * slot, pid)

    def deadline(self, slot: int) -> float:
        """When the job the slot's child is running is due (time.monotonic()), or 0 when it runs none."""
        return DEADLINE.unpack_from(self.deadlines, DEADLINE.size * slot)[0]

    def set_deadline(self, slot: int, deadline: float) -> None:
        """Record when the slot's running job is due (0: none), for the keeper and the slot's next holder."""
        DEADLINE.pack_into(self.deadlines, DEADLINE.size * slot, deadline)

    def death(self, slot: int) -> tuple[int, int]:
        """The pid and wait status of the slot's child that ended last ((0, 0) before any)."""
        return DEATH.unpack_from(self.deaths, DEATH.size * slot)

    def ended(self, slot: int, pid: int, within: float) -> int | None:
        """The wait status of the slot's child `pid`, once the keeper has reaped it (None if not within `within` s)."""
        deadline = time.monotonic() + within
        while True:
            dead, status = self.death(slot)
            if dead == pid:
                return status
            if time.monotonic() > deadline:
                return None
            time.sleep(0.005)

    def start(self) -> None:
        """Listen on the slots' sockets and start the keeper thread, which forks the children; does nothing if
        they were started already.

        Raises AutokgError in a process forked before they were started: its children would not be shared.
        """
        with self.starting:
            if self.started:
                return
            if os.getpid() != self.owner:
                raise AutokgError("The query children were not started before the server forked its workers: "
                                  "call Executor.start() in the process that loaded the store")
            for name in self.names:
                listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                listener.bind(name)
                listener.listen(16)
                self.listeners.append(listener)
                KEEPER_FDS.add(listener.fileno())
            self.wake = os.pipe()
            KEEPER_FDS.update(self.wake)
            self.keeper = threading.Thread(target=self.keep, name="autokg-keeper", daemon=True)
            self.keeper.start()

    def fork(self, slot: int) -> int:
        """Fork the slot's child from the keeper's thread; its pid."""
        with self.gate.held():
            pid = os.fork()
            if pid == 0:
                try:
                    listener = self.listeners[slot]
                    for fd in KEEPER_FDS - {listener.fileno()}:
                        with contextlib.suppress(OSError):
                            os.close(fd)
                    child_loop(self.store, listener, self.owner, self, slot)
                finally:
                    os._exit(0)
        self.set_pid(slot, pid)
        return pid

    def keep(self) -> None:
        """The keeper: fork each slot's child, and fork it again when it ends, until woken to stop."""
        assert self.wake is not None
        watched: dict[int, tuple[int, int, float]] = {}  # pidfd -> (slot, pid, when it was forked)
        due = dict.fromkeys(range(self.count), 0.0)  # slot without a child -> when to fork one (time.monotonic)
        while True:
            for slot, when in list(due.items()):
                if when > time.monotonic():
                    continue
                try:
                    pid = self.fork(slot)
                    pidfd = os.pidfd_open(pid)
                except OSError as error:  # out of memory or processes: the slot's jobs wait in its queue
                    LOG.warning("could not fork the query child of slot %d (%s); trying again in 1 s", slot, error)
                    due[slot] = time.monotonic() + 1
                    continue
                KEEPER_FDS.add(pidfd)
                watched[pidfd] = (slot, pid, time.monotonic())
                del due[slot]
            poll = select.poll()
            for fd in (self.wake[0], *watched):
                poll.register(fd, select.POLLIN)
            wait = min([KEEPER_TICK, *(when - time.monotonic() for when in due.values())])
            ready = {fd for fd, _event in poll.poll(max(wait, 0) * 1000)}
            if self.wake[0] in ready:
                break
            self.kill_overdue(watched)
            for pidfd in ready:
                slot, pid, forked = watched.pop(pidfd)
                self.set_pid(slot, 0)  # before the pid is reaped and free for another process
                self.record_death(slot, pid, self.reap(pidfd, pid))
                # a child that cannot even start must not make the keeper fork without pause
                due[slot] = forked + REFORK_PAUSE
        for pidfd, (slot, pid, _forked) in watched.items():
            self.set_pid(slot, 0)
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            self.reap(pidfd, pid)
        for fd in (*[listener.detach() for listener in self.listeners], *self.wake):
            KEEPER_FDS.discard(fd)
            os.close(fd)

    def kill_overdue(self, watched: dict[int, tuple[int, int, float]]) -> None:
        """Kill each child whose job is OVERDUE_SECONDS past its deadline: nobody waits for its answer."""
        now = time.monotonic()
        for pidfd, (slot, pid, _forked) in watched.items():
            deadline = self.deadline(slot)
            if deadline and now > deadline + OVERDUE_SECONDS:
                LOG.warning("query child of slot %d (pid %d): its job is %.1f s past its deadline and nobody waits "
                            "for it; killing it", slot, pid, now - deadline)
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)

    def record_death(self, slot: int, pid: int, status: int) -> None:
        """Note how the slot's child ended, for the worker that waited on it, and say so in the log."""
        self.set_deadline(slot, 0.0)
        DEATH.pack_into(self.deaths, DEATH.size * slot, pid, status)
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            LOG.info("query child of slot %d (pid %d) retired (it held too much memory of its own)", slot, pid)
            return
        LOG.warning("query child of slot %d (pid %d) %s", slot, pid, describe_end(status, self.memory))

    @staticmethod
    def reap(pidfd: int, pid: int) -> int:
        """Wait for a child that ended, or was killed, close its pidfd, and return its wait status."""
        status = 0
        with contextlib.suppress(ChildProcessError):
            _pid, status = os.waitpid(pid, 0)
        KEEPER_FDS.discard(pidfd)
        os.close(pidfd)
        return status

    def connect(self, slot: int, deadline: float) -> socket.socket:
        """A socket connected to the slot's child, started first if need be; raises what `start` raises, and
        OSError when the connection fails."""
        if not self.started:
            self.start()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            sock.connect(self.names[slot])
        except OSError:
            sock.close()
            raise
        return sock

    def kill(self, slot: int) -> None:
        """Kill the slot's child now (the keeper forks a fresh one)."""
        pid = self.pid(slot)
        if pid <= 0:
            return
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            return
        try:
            # the keeper clears the pid before it reaps the child, so a pid still there is not yet free for reuse
            if self.pid(slot) == pid:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        finally:
            os.close(pidfd)

    def stop(self) -> None:
        """Kill the children and stop the keeper (in the process that started them; elsewhere nothing happens)."""
        if self.keeper is None or self.wake is None or os.getpid() != self.owner or not self.keeper.is_alive():
            return
        os.write(self.wake[1], b"x")
        self.keeper.join()


class Executor:
    """Runs jobs in the query children of the process that made it (see SlotChildren), one at a time in each
    child, when one of the server's `slots` is free; a single triple pattern runs in the calling process.

    Every bound on a query is enforced here: at most `slots` evaluate at once and `queue` more wait, server-wide,
    and a query beyond those is turned away at once with 503 and Retry-After; at most `threads` of a process's
    request threads wait for a query at once (the rest stay free for cheap requests); time spent waiting counts
    toward the query's timeout; and a child may take `memory` bytes of working memory for a job.

    Safe for threads that take turns through its `gate` (see Gate), in this process and in the processes forked
    from it once `start` was called.
    """

    def __init__(self, store: Queryable, slots: int = DEFAULT_SLOTS, gate: Gate | None = None, *,
                 queue: int | None = None, threads: int = 0, memory: int = 0) -> None:
        self.store = store
        self.gate = gate or Gate()
        self.slots = QuerySlots(slots, queue)
        self.children = SlotChildren(store, slots, self.gate, memory)
        self.threads = threads
        self.waiting = Allowance(threads) if threads else None

    def start(self) -> None:
        """Start the query children now, before this process forks workers; raises what SlotChildren.start raises."""
        self.children.start()

    def stop(self) -> None:
        """Stop the query children (a no-op in a forked process)."""
        self.children.stop()

    def runs_in_process(self, job: Job, timeout: float) -> bool:
        """Whether a job is bounded by the caps alone, so that it can skip the round trip to the child."""
        return (timeout >= IN_PROCESS_MIN_TIMEOUT and job.max_rows <= IN_PROCESS_MAX_ROWS
                and not isinstance(self.store, RemoteStore) and is_single_pattern(job.query))

    def run(self, job: Job, timeout: float) -> Outcome:
        """Run a job; past `timeout` seconds, waiting included, its child is killed and a 503 comes back."""
        if self.runs_in_process(job, timeout):
            return run_lookup(self.store, job)
        deadline = time.monotonic() + timeout
        if self.waiting is not None and not self.waiting.enter():
            return busy_outcome(LONG_REQUESTS_BUSY)
        try:
            with self.gate.opened():
                try:
                    slot = self.slots.take(timeout)
                except QueueFull:
                    return busy_outcome(f"All {self.slots.count} query slots of this server and the {self.slots.queue} "
                                        "places of their queue are taken: try again in a few seconds")
            if slot is None:
                return busy_outcome(f"{self.slots.count} other queries kept this server busy for {timeout:g} s: "
                                    "try again later")
            try:
                return self.run_in_child(replace(job, deadline=deadline), slot, timeout, deadline)
            finally:
                self.slots.give_back(slot)
        finally:
            if self.waiting is not None:
                self.waiting.leave()

    def run_in_child(self, job: Job, slot: int, timeout: float, deadline: float) -> Outcome:
        """Run a job in the child of a slot this process holds, killing it at `deadline` (time.monotonic)."""
        payload = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        if self.children.started and self.children.deadline(slot):
            # the slot is ours, yet its child is busy: its last holder died waiting, and nobody wants that answer
            self.children.kill(slot)
        pid = 0
        try:
            with self.gate.opened(), self.children.connect(slot, deadline) as sock:
                pid = self.children.pid(slot)
                send_message(sock, payload)
                return receive_outcome(sock, deadline)
        except TimeoutError:
            self.children.kill(slot)
            return text_outcome(503, f"The query ran longer than {timeout:g} s and was stopped: narrow it down or add a LIMIT")
        except (EOFError, OSError):
            with self.gate.opened():
                status = self.children.ended(slot, pid, 1.0) if pid else None
            if status is not None and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGABRT and self.children.memory:
                return text_outcome(422, too_much_memory(self.children.memory))
            return text_outcome(500, "The query process died while answering; a new one has been started")
