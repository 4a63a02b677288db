"""Soak: `autokg serve` answering a realistic mix, first alone, then with hostile clients alongside.

    .venv/bin/python bench/soak.py                          # 100k triples, 2 minutes without attackers, 2 with
    .venv/bin/python bench/soak.py --seconds 60             # 30 s each

It starts `autokg serve` with the defaults of a small public deployment (2 workers x 4 threads, 2 query slots,
the default timeout) on 127.0.0.1 over synthetic data (bench/gen.py, through bench/endpoint.py), and runs the
mix: lookups (single-pattern SELECTs on entity IRIs, paced), entity pages (/id/..., HTML) and the competency
queries (queries/*.rq, one after the other). The second half of the time, hostile clients run alongside, in a
process of their own (so that their threads do not slow the measuring client): slow request bodies, bodies
over the cap (chunked, or declared up front), a flood of heavy queries, pathological inputs for the checks
before the engine, a string-doubling memory bomb, deep nesting, clients that hang up after a heavy query, idle
connections and /search floods. Each attacker has a fixed number of threads (or sockets), stops by itself at
the end of the phase and only contacts 127.0.0.1. The attackers all send from 127.0.0.2 (`--attacker-address`),
so that the server sees one hostile client beside the mix's, which sends from 127.0.0.1.

It prints, per phase: every client kind's requests by status with p50/p99; the lookups' p50/p99 under attack
against without (the target: p99 within 3x); the peak PSS of the server's process tree (master, workers, query
children); the processes started and ended (respawned workers, replaced query children) and the server log's
lines about them. Every server process is stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import random
import re
import select
import socket
import sys
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from autokg.settings import BY_NAME  # noqa: E402

import endpoint  # noqa: E402
import gen  # noqa: E402

ACCEPT = endpoint.ACCEPT
RDFS_LABEL = "<http://www.w3.org/2000/01/rdf-schema#label>"
CROSS_PRODUCT = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n2 ?o . ?p ?q ?r }"
ANY_PATH = f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s ({RDFS_LABEL}|!{RDFS_LABEL})* ?o }}"
#: the query child's name (autokg.engine.kill_on_timeout.child.CHILD_NAME), which tells it from a worker in /proc/PID/comm
CHILD_COMM = "autokg-query"
#: lines of the server log about processes that ended or were replaced
LOG_LINES = {
    "worker respawns": re.compile(r"Respawning worker|RSS over threshold|lifetime expired"),
    "query child lines": re.compile(r"autokg\.executor"),
    "tracebacks": re.compile(r"Traceback|Fatal Python error"),
}
MIX = ("lookup", "page", "competency")


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile of `values` (share between 0 and 1), nan for none.

    >>> percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5), percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.99)
    (3.0, 5.0)
    >>> percentile([], 0.5)
    nan
    """
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def outcome(error: BaseException, stopping: bool) -> str:
    """The label of a request that got no status: cut at the end of the phase, timed out, dropped or refused.

    >>> outcome(TimeoutError(), False), outcome(ConnectionResetError(), False), outcome(TimeoutError(), True)
    ('timeout', 'dropped', 'unfinished')
    """
    if stopping:
        return "unfinished"
    if isinstance(error, TimeoutError):
        return "timeout"
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(error, (ConnectionError, http.client.HTTPException)):
        return "dropped"
    return type(error).__name__


#: how the mix's clients name a 503, by a phrase of the server's message: which bound turned the request away
REFUSALS = (
    (b"places of their queue are taken", "queue full"),
    (b"threads for long requests are all", "no long-request place"),
    (b"as many as one client may", "client's share taken"),
    (b"kept this server busy", "waited too long"),
    (b"ran longer than", "ran too long"),
)


def refusal(body: bytes, status: str = "503") -> str:
    """The label of a 503 or 429: the status and the bound its message names.

    >>> refusal(b"All 2 query slots of this server and the 2 places of their queue are taken"), refusal(b"?")
    ('503 queue full', '503 other')
    """
    for phrase, name in REFUSALS:
        if phrase in body:
            return f"{status} {name}"
    return f"{status} other"


def by_status(counts: Counter) -> str:
    """A table cell: the requests by status, most first.

    >>> by_status(Counter({"200": 40, "503": 2, "timeout": 2}))
    '200: 40, 503: 2, timeout: 2'
    """
    return ", ".join(f"{label}: {n}" for label, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))


@dataclass
class Tally:
    """Statuses and latencies (ms) of each client kind, shared by the threads of one process."""

    statuses: dict[str, Counter] = field(default_factory=dict)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str, label: str, ms: float | None = None) -> None:
        with self.lock:
            self.statuses.setdefault(kind, Counter())[label] += 1
            if ms is not None:  # an unfinished request counts with the time it had waited: a lower bound
                self.latencies.setdefault(kind, []).append(ms)

    def plain(self) -> tuple[dict, dict]:
        """The figures alone, to send to another process."""
        with self.lock:
            return dict(self.statuses), dict(self.latencies)


class Clients:
    """What a client thread needs: the server's address, the end of the phase, the tally, the open sockets."""

    def __init__(self, port: int, seconds: float, tally: Tally, source: str = "127.0.0.1") -> None:
        self.port = port
        self.source = source  # the loopback address these clients send from: the server sees one client
        self.deadline = time.monotonic() + seconds
        self.stop = threading.Event()
        self.tally = tally
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()

    def running(self) -> bool:
        if time.monotonic() >= self.deadline:
            self.stop.set()
        return not self.stop.is_set()

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def connect(self, timeout: float) -> socket.socket:
        """A new connection to the server, closed by `cut` at the end of the phase if still open."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout, source_address=(self.source, 0))
        with self.lock:
            self.sockets.add(sock)
        return sock

    def release(self, sock: socket.socket) -> None:
        with self.lock:
            self.sockets.discard(sock)
        sock.close()

    def cut(self) -> None:
        """End the phase: every request still waiting is cut off."""
        self.stop.set()
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def converse(self, kind: str, talk: Callable[[socket.socket], str], timeout: float) -> None:
        """Run `talk` on a new connection and tally the label it returns, or what went wrong."""
        started = time.perf_counter()
        try:
            sock = self.connect(timeout)
        except OSError as error:
            self.tally.add(kind, outcome(error, self.stop.is_set()))
            self.stop.wait(1)
            return
        try:
            label = talk(sock)
        except (OSError, http.client.HTTPException) as error:
            label = outcome(error, self.stop.is_set())
        finally:
            self.release(sock)
        self.tally.add(kind, label, (time.perf_counter() - started) * 1000)

    def exchange(self, kind: str, request: bytes, timeout: float, check: Callable[[int, bytes], str] | None = None) -> None:
        """Send one request on a new connection, read the whole answer and tally its status."""

        def talk(sock: socket.socket) -> str:
            sock.sendall(request)
            response = http.client.HTTPResponse(sock)
            response.begin()
            body = response.read()
            return check(response.status, body) if check else str(response.status)

        self.converse(kind, talk, timeout)


def request_bytes(method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    """An HTTP/1.1 request that closes its connection after the answer.

    >>> request_bytes("GET", "/health")
    b'GET /health HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nConnection: close\\r\\n\\r\\n'
    """
    head = {"Host": "127.0.0.1", "Connection": "close", **(headers or {})}
    if body:
        head["Content-Length"] = str(len(body))
    return (f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items()) + "\r\n").encode() + body


def sparql_post(query: str) -> bytes:
    """A direct POST of a query (bodies of any length: a URL has a limit)."""
    return request_bytes("POST", "/sparql", {"Content-Type": "application/sparql-query", "Accept": ACCEPT}, query.encode())


def first_status(sock: socket.socket, seconds: float) -> str:
    """The status of the first answer line on `sock` (an interim 100 too), or timeout/dropped."""
    sock.settimeout(seconds)
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return "dropped"
        data += chunk
    parts = data.split(b" ", 2)
    return parts[1].decode() if len(parts) > 1 else "garbled"


# ---- the mix --------------------------------------------------------------------------------------------------------


def json_ok(status: int, body: bytes) -> str:
    """A SELECT answer's status, `200 bad body` when a 200 does not hold SPARQL JSON results."""
    if status != 200:
        return str(status)
    try:
        json.loads(body)["results"]["bindings"]
    except (ValueError, KeyError, TypeError):
        return "200 bad body"
    return "200"


def keep_alive_client(clients: Clients, kind: str, paths: list[str], accept: str, pace: float, timeout: float,
                      check: Callable[[int, bytes], str] | None, seed: int) -> None:
    """GETs of randomly chosen paths on one keep-alive connection, at most one per `pace` seconds."""
    chooser = random.Random(seed)
    connection: http.client.HTTPConnection | None = None
    while clients.running():
        started, pause = time.perf_counter(), pace
        try:
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", clients.port, timeout=timeout,
                                                        source_address=(clients.source, 0))
                connection.connect()
                with clients.lock:
                    clients.sockets.add(connection.sock)
            connection.request("GET", chooser.choice(paths), headers={"Accept": accept})
            response = connection.getresponse()
            body = response.read()
            label = check(response.status, body) if check else str(response.status)
            if label in ("503", "429"):
                label = refusal(body, label)
            if response.will_close:
                connection = drop(clients, connection)
        except (OSError, http.client.HTTPException) as error:
            label = outcome(error, clients.stop.is_set())
            connection = drop(clients, connection)
            pause = max(pace, 0.1)  # a server that refuses at once is not asked again in a tight loop
        elapsed = time.perf_counter() - started
        clients.tally.add(kind, label, elapsed * 1000)
        clients.stop.wait(max(0.0, pause - elapsed))
    drop(clients, connection)


def drop(clients: Clients, connection: http.client.HTTPConnection | None) -> None:
    """Close a client's connection (it opens a new one for its next request)."""
    if connection is not None and connection.sock is not None:
        with clients.lock:
            clients.sockets.discard(connection.sock)
    if connection is not None:
        connection.close()
    return None


def sparql_path(query: str) -> str:
    return "/sparql?" + urllib.parse.urlencode({"query": query})


def mix_threads(clients: Clients, nquads: Path, args: argparse.Namespace) -> list[threading.Thread]:
    """The realistic mix: paced lookups, paced entity pages, the competency queries one after the other."""
    competency, lookups = endpoint.workloads(nquads, 500, args.seed)
    lookup_paths = [sparql_path(q) for q in lookups]
    page_paths = ["/id/" + q.split("/id/", 1)[1].split(">", 1)[0] for q in lookups]
    plans = [("lookup", lookup_paths, ACCEPT, 1 / args.lookup_rate, 30.0, json_ok)] * args.lookup_clients
    plans += [("page", page_paths, "text/html", 1 / args.page_rate, 30.0, None)] * args.page_clients
    plans += [("competency", [sparql_path(q) for q in competency.values()], ACCEPT, 1.0, 90.0, json_ok)]
    return [threading.Thread(target=keep_alive_client, args=(clients, *plan, args.seed + n), daemon=True)
            for n, plan in enumerate(plans)]


# ---- the attackers --------------------------------------------------------------------------------------------------


def slow_body(clients: Clients, args: argparse.Namespace) -> None:
    """POST /sparql declaring a 300-byte body and sending it 10 bytes a second."""
    body = b"ASK { ?s ?p ?o }".ljust(300)
    head = request_bytes("POST", "/sparql", {"Content-Type": "application/sparql-query", "Accept": ACCEPT,
                                            "Content-Length": str(len(body))})

    def talk(sock: socket.socket) -> str:
        sock.sendall(head)
        for offset in range(0, len(body), 10):
            if not clients.running():
                return "unfinished"
            if select.select([sock], [], [], 1.0)[0]:  # the server answered (or hung up) before the end
                return first_status(sock, 5)
            sock.sendall(body[offset:offset + 10])
        return first_status(sock, min(60, clients.remaining() + 1))

    while clients.running():
        clients.converse("slow body", talk, 10)


def declared_oversize(clients: Clients, args: argparse.Namespace) -> None:
    """POST /sparql declaring 50 MB, with Expect: 100-continue every other time; the answer must be 413 at once."""
    expect = [False]

    def talk(sock: socket.socket) -> str:
        expect[0] = not expect[0]
        headers = {"Content-Type": "application/sparql-query", "Content-Length": str(50 * 1024 * 1024)}
        sock.sendall(request_bytes("POST", "/sparql", headers | ({"Expect": "100-continue"} if expect[0] else {})))
        if not expect[0]:
            sock.sendall(b"ASK { ?s ?p ?o }".ljust(64 * 1024))
        label = first_status(sock, min(10, clients.remaining() + 0.5))
        return "100 Continue" if label == "100" else label

    while clients.running():
        clients.converse("declared oversize", talk, 10)
        clients.stop.wait(0.5)


def chunked_oversize(clients: Clients, args: argparse.Namespace) -> None:
    """A chunked body past the cap whose first MiB is a valid query: anything but 413 is wrong, 200 most of all."""
    cap = int(BY_NAME["MAX_CONTENT_LENGTH"].default)
    text = b"ASK { ?s ?p ?o }" + b" " * cap + b" this is not SPARQL }"
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(text[i:i + 65536]), text[i:i + 65536]) for i in range(0, len(text), 65536))
    head = request_bytes("POST", "/sparql", {"Content-Type": "application/sparql-query", "Accept": ACCEPT,
                                            "Transfer-Encoding": "chunked"})
    while clients.running():
        clients.exchange("chunked oversize", head + chunks + b"0\r\n\r\n", 30,
                         lambda status, body: "200 WRONG" if status == 200 else str(status))
        clients.stop.wait(0.5)


def heavy_flood(clients: Clients, args: argparse.Namespace) -> None:
    """Cross products and (p|!p)* paths over everything, back to back."""
    queries = [sparql_post(CROSS_PRODUCT), sparql_post(ANY_PATH)]
    n = 0
    while clients.running():
        n += 1
        clients.exchange("heavy flood", queries[n % 2], 120)


def pathological(clients: Clients, args: argparse.Namespace) -> None:
    """Inputs that make a backtracking or quadratic check slow: '# ' repeated, 32 KB of a-a-a-... in a FILTER."""
    queries = [sparql_post("# " * args.comment_pairs),
               sparql_post("SELECT * WHERE { ?s ?p ?o FILTER(" + "a-" * 16_384 + "a) }")]
    n = 0
    while clients.running():
        n += 1
        clients.exchange("pathological input", queries[n % 2], 120)


def memory_bomb(clients: Clients, args: argparse.Namespace) -> None:
    """A string doubled `--doublings` times with BIND(CONCAT(?v, ?v)): 48 bytes become 48 x 2^n."""
    n = args.doublings
    binds = " ".join(f"BIND(CONCAT(?v{i}, ?v{i}) AS ?v{i + 1})" for i in range(n))
    query = sparql_post(f'SELECT (STRLEN(?v{n}) AS ?n) WHERE {{ BIND("{"x" * 48}" AS ?v0) {binds} }}')
    while clients.running():
        clients.exchange("memory bomb", query, 120)
        clients.stop.wait(1)


def deep_nesting(clients: Clients, args: argparse.Namespace) -> None:
    """About `--nesting` nested parentheses, then as many nested group patterns."""
    depth = args.nesting
    queries = [sparql_post("ASK { FILTER(" + "(" * depth + "1" + ")" * depth + ") }"),
               sparql_post("SELECT * WHERE " + "{ " * depth + "?s ?p ?o" + " }" * depth)]
    n = 0
    while clients.running():
        n += 1
        clients.exchange("deep nesting", queries[n % 2], 60)
        clients.stop.wait(0.2)


def hang_up(clients: Clients, args: argparse.Namespace) -> None:
    """Send a heavy query and hang up at once, twice a second."""
    query = sparql_post(CROSS_PRODUCT)

    def talk(sock: socket.socket) -> str:
        sock.sendall(query)
        return "hung up"

    while clients.running():
        clients.converse("hang up", talk, 10)
        clients.stop.wait(0.5)


def idle_connections(clients: Clients, args: argparse.Namespace) -> None:
    """`--idle` connections held open, every other one after sending GET /health (whose answer is left unread),
    counted at the end as still open or closed by the server."""
    held: list[socket.socket] = []
    for n in range(args.idle):
        if not clients.running():
            break
        try:
            sock = socket.create_connection(("127.0.0.1", clients.port), timeout=2, source_address=(clients.source, 0))
            held.append(sock)
            if n % 2:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        except OSError as error:
            clients.tally.add("idle connections", "failed: " + outcome(error, clients.stop.is_set()))
        clients.stop.wait(0.01)
    clients.stop.wait(clients.remaining())
    for sock in held:
        clients.tally.add("idle connections", "closed by the server" if closed(sock) else "open at the end")
        sock.close()


def closed(sock: socket.socket) -> bool:
    """Whether the server has closed `sock` (after whatever it sent, which is read and dropped)."""
    sock.setblocking(False)
    try:
        while sock.recv(65536):
            pass
    except BlockingIOError:
        return False
    except OSError:
        return True
    return True


def search_flood(clients: Clients, args: argparse.Namespace) -> None:
    """/search for a common word and the near-match page of unknown /id/ slugs, back to back, keep-alive."""
    paths = [f"/search?q={word}" for word in gen.WORDS] + [f"/id/syn-org-unknown-{word}" for word in gen.WORDS]
    keep_alive_client(clients, "search flood", paths, "text/html", 0.0, 60.0, None, random.randrange(1 << 30))


#: each attacker and its threads
ATTACKERS: dict[str, tuple[Callable[[Clients, argparse.Namespace], None], Callable[[argparse.Namespace], int]]] = {
    "slow body": (slow_body, lambda args: 4),
    "declared oversize": (declared_oversize, lambda args: 1),
    "chunked oversize": (chunked_oversize, lambda args: 1),
    "heavy flood": (heavy_flood, lambda args: args.flood),
    "pathological input": (pathological, lambda args: 1),
    "memory bomb": (memory_bomb, lambda args: 1),
    "deep nesting": (deep_nesting, lambda args: 1),
    "hang up": (hang_up, lambda args: 2),
    "idle connections": (idle_connections, lambda args: 1),
    "search flood": (search_flood, lambda args: args.search_flood),
}


def attack(port: int, seconds: float, args: argparse.Namespace, out) -> None:
    """Run every attacker for `seconds` (in a process of its own) and send back its tally."""
    # on the open internet the attackers' own work is done on their machines: here they share the server's cores,
    # so they run at the lowest priority and take only what the server and the measured clients leave
    lower_priority(args.attacker_nice)
    clients = Clients(port, seconds, Tally(), args.attacker_address)
    threads = [threading.Thread(target=ATTACKERS[name][0], args=(clients, args), daemon=True)
               for name in args.attacker for _ in range(ATTACKERS[name][1](args))]
    for thread in threads:
        thread.start()
    clients.stop.wait(seconds)
    finish(clients, threads)
    out.send(clients.tally.plain())
    out.close()


def lower_priority(niceness: int) -> None:
    """Run this process at `niceness`, against the server's processes too.

    With the kernel's autogroups (sched(7)), niceness counts only within a session: the server runs in a session
    of its own, and the attackers at nice 19 in the driver's still took half the CPU from it (both cores busy,
    the attackers' process at 30%). In a session of their own, the group's niceness is theirs.
    """
    os.setsid()
    with contextlib.suppress(OSError):
        Path("/proc/self/autogroup").write_text(f"{niceness}\n")
    os.nice(niceness)


def finish(clients: Clients, threads: list[threading.Thread]) -> None:
    """End a phase: cut what is still waiting and wait for the threads (each stops by itself)."""
    clients.cut()
    deadline = time.monotonic() + 15
    for thread in threads:
        thread.join(timeout=max(0.1, deadline - time.monotonic()))


# ---- the server's processes -----------------------------------------------------------------------------------------


def kind_of(pid: int, master: int) -> str:
    """master, worker or query child."""
    if pid == master:
        return "master"
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "worker"
    return "query child" if comm == CHILD_COMM else "worker"


class Watch:
    """Samples the server's process tree: peak PSS by kind of process, and the processes that came and went."""

    def __init__(self, server: endpoint.Server) -> None:
        self.server = server
        self.peak: Counter = Counter()
        self.first = self.alive()
        self.seen = dict(self.first)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def alive(self) -> dict[int, str]:
        return {pid: kind_of(pid, self.server.process.pid) for pid in self.server.pids()}

    def sample(self) -> None:
        while not self.stop.is_set():
            pss: Counter = Counter()
            for pid, kind in self.alive().items():
                self.seen[pid] = kind  # a query child renames itself just after its fork
                with contextlib.suppress(OSError):
                    pss[kind] += endpoint.rollup_kib(pid, "Pss")
            pss["tree"] = sum(pss.values())
            for kind, kib in pss.items():
                self.peak[kind] = max(self.peak[kind], kib)
            self.stop.wait(0.25)

    def end(self) -> dict[str, int]:
        """Stop sampling; the processes started and ended meanwhile, by kind."""
        self.stop.set()
        self.thread.join(timeout=5)
        last = self.alive()
        moves: Counter = Counter()
        for pid, kind in self.seen.items():
            moves[f"{kind}s started"] += pid not in self.first
            moves[f"{kind}s ended"] += pid not in last
        return dict(moves)


@dataclass
class Phase:
    """What one phase measured."""

    name: str
    statuses: dict[str, Counter]
    latencies: dict[str, list[float]]
    peak_kib: Counter
    moves: dict[str, int]
    log: Counter
    seconds: float
    recovery: float = float("nan")


def run_phase(name: str, server: endpoint.Server, nquads: Path, args: argparse.Namespace, seconds: float,
              attackers: bool) -> Phase:
    """The mix for `seconds`, with the attackers alongside or not."""
    port = urllib.parse.urlsplit(server.url).port
    log_start = Path(server.log.name).stat().st_size
    receiver = process = None
    if attackers:  # forked before this process starts its threads
        receiver, sender = multiprocessing.Pipe(duplex=False)
        process = multiprocessing.get_context("fork").Process(target=attack, args=(port, seconds, args, sender), daemon=True)
        process.start()
        sender.close()
    watch = Watch(server)
    clients = Clients(port, seconds, Tally())
    threads = mix_threads(clients, nquads, args)
    for thread in threads:
        thread.start()
    clients.stop.wait(seconds)
    finish(clients, threads)
    statuses, latencies = clients.tally.plain()
    if process is not None:
        reported = receiver.poll(30)
        if reported:
            more_statuses, more_latencies = receiver.recv()
            statuses |= more_statuses
            latencies |= more_latencies
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join()
        if not reported:
            raise RuntimeError("the attackers' process ended without its tally")
    moves = watch.end()
    with open(server.log.name, "rb") as log:
        log.seek(log_start)
        text = log.read().decode("utf-8", "replace")
    lines = Counter({label: len(pattern.findall(text)) for label, pattern in LOG_LINES.items()})
    return Phase(name, statuses, latencies, watch.peak, moves, lines, seconds)


def recovery(server: endpoint.Server, nquads: Path, args: argparse.Namespace) -> float:
    """Seconds after the attack until a lookup is answered with 200 (nan if none within `--recovery`)."""
    lookup = endpoint.workloads(nquads, 1, args.seed)[1][0]
    started = time.monotonic()
    while time.monotonic() - started < args.recovery:
        _, status = endpoint.request_time(server.url, lookup, max(0.5, args.recovery - (time.monotonic() - started)))
        if status == 200:
            return time.monotonic() - started
        time.sleep(0.2)
    return float("nan")


# ---- the table ------------------------------------------------------------------------------------------------------


def ms(value: float) -> str:
    return "-" if value != value else f"{value:.1f}"


def times(under: float, calm: float) -> str:
    """One figure over another.

    >>> times(30.0, 10.0), times(1.0, 0.0)
    ('3.00x', 'n/a')
    """
    return f"{under / calm:.2f}x" if calm and calm == calm and under == under else "n/a"


def table(phases: list[Phase], heading: str) -> str:
    """The soak's report in Markdown."""
    calm, under = phases[0], phases[-1]
    lines = [f"## {heading}", "", "| phase | client | requests | by status | p50 ms | p99 ms |", "|---|---|---|---|---|---|"]
    for phase in phases:
        kinds = [k for k in MIX if k in phase.statuses] + [k for k in ATTACKERS if k in phase.statuses]
        for kind in kinds:
            counts, spent = phase.statuses[kind], phase.latencies.get(kind, [])
            lines.append(f"| {phase.name} | {kind} | {sum(counts.values())} | {by_status(counts)} | "
                         f"{ms(percentile(spent, 0.5))} | {ms(percentile(spent, 0.99))} |")

    def answered(phase: Phase, kind: str) -> float:
        return phase.statuses.get(kind, Counter())["200"] / phase.seconds

    def lookup(phase: Phase, share: float) -> float:
        return percentile(phase.latencies.get("lookup", []), share)

    rows = [("lookup p50 ms", lookup(calm, 0.5), lookup(under, 0.5)),
            ("lookup p99 ms (target: under attack within 3x)", lookup(calm, 0.99), lookup(under, 0.99)),
            ("page p99 ms", percentile(calm.latencies.get("page", []), 0.99), percentile(under.latencies.get("page", []), 0.99))]
    rows += [(f"{kind} answers (200) per second", answered(calm, kind), answered(under, kind)) for kind in MIX]
    rows += [(f"peak PSS, {kind} (MiB)", calm.peak_kib[kind] / 1024, under.peak_kib[kind] / 1024)
             for kind in ("tree", "master", "worker", "query child")]
    lines += ["", "| measure | without attackers | with attackers | ratio |", "|---|---|---|---|"]
    lines += [f"| {label} | {ms(a)} | {ms(b)} | {times(b, a)} |" for label, a, b in rows]
    counts = [(label, calm.moves.get(label, 0), under.moves.get(label, 0))
              for label in ("workers started", "workers ended", "query childs started", "query childs ended")]
    counts += [(f"log: {label}", calm.log[label], under.log[label]) for label in LOG_LINES]
    lines += [f"| {label.replace('childs', 'children')} | {a} | {b} | |" for label, a, b in counts]
    lines.append(f"| seconds until a lookup answered again after the attack | | {ms(under.recovery)} | |")
    verdict = lookup(under, 0.99) <= 3 * lookup(calm, 0.99)
    lines += ["", f"lookup p99 under attack / without: {times(lookup(under, 0.99), lookup(calm, 0.99))} "
                  f"({'within' if verdict else 'beyond'} the 3x target). Requests cut at the end of a phase are "
                  "'unfinished' and count with the time they had waited, a lower bound."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="soak autokg serve with a realistic mix, then with attackers alongside")
    parser.add_argument("--triples", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=240, help="the whole run: half without attackers, half with")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--query-slots", type=int, default=2)
    parser.add_argument("--lookup-clients", type=int, default=4)
    parser.add_argument("--lookup-rate", type=float, default=20, help="lookups per second per lookup client, at most")
    parser.add_argument("--page-clients", type=int, default=2)
    parser.add_argument("--page-rate", type=float, default=4, help="pages per second per page client, at most")
    parser.add_argument("--flood", type=int, default=8, help="threads sending heavy queries")
    parser.add_argument("--search-flood", type=int, default=8, help="threads on /search and near-match pages")
    parser.add_argument("--idle", type=int, default=300, help="idle connections held open")
    parser.add_argument("--doublings", type=int, default=24, help="how often the memory bomb doubles its string")
    parser.add_argument("--comment-pairs", type=int, default=16, help="'# ' repeated this often")
    parser.add_argument("--recovery", type=float, default=60, help="seconds to wait after the attack for a lookup to answer")
    parser.add_argument("--nesting", type=int, default=5000, help="depth of the nested parentheses and braces")
    parser.add_argument("--attacker-nice", type=int, default=19,
                        help="CPU niceness of the attackers' process, which shares this machine's cores with the server "
                             "(0: as much CPU as the server; default 19, as if they ran elsewhere)")
    parser.add_argument("--attacker-address", default="127.0.0.2",
                        help="loopback address all the attackers send from, so that the server sees them as one client "
                             "apart from the mix, which sends from 127.0.0.1 (give 127.0.0.1 for one client in all)")
    parser.add_argument("--attacker", action="append", choices=list(ATTACKERS), type=lambda name: name.replace("-", " "),
                        metavar="NAME", help="run only this attacker, e.g. slow-body (repeat for several; default: all of "
                                             + ", ".join(name.replace(" ", "-") for name in ATTACKERS) + ")")
    args = parser.parse_args(argv)
    args.attacker = args.attacker or list(ATTACKERS)

    nquads = endpoint.synthetic_dataset(args.triples, args.seed)
    port = endpoint.free_port()
    command = [sys.executable, "-m", "autokg.cli", "serve", "--dataset", str(nquads), "--port", str(port),
               "--workers", str(args.workers), "--threads", str(args.threads), "--query-slots", str(args.query_slots)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOKG_")} | {"AUTOKG_LOG_LEVEL": "info"}
    server = endpoint.Server("autokg-soak", command, f"http://127.0.0.1:{port}/sparql", env=env)
    try:
        half = args.seconds / 2
        phases = [run_phase("without attackers", server, nquads, args, half, attackers=False),
                  run_phase("with attackers", server, nquads, args, half, attackers=True)]
        phases[-1].recovery = recovery(server, nquads, args)
    finally:
        server.stop()
    quads = sum(1 for _ in nquads.open())
    print(table(phases, f"soak: {quads} quads (seed {args.seed}), {args.workers} workers x {args.threads} threads, "
                        f"{args.query_slots} query slots, timeout {BY_NAME['TIMEOUT'].default:g} s; "
                        f"{half:g} s without attackers, then {half:g} s with them"))
    print(f"\nserver log: {server.log.name}")


if __name__ == "__main__":
    main()
