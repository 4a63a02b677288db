"""Benchmark: autokg's endpoint against Oxigraph's own server and rdflib-endpoint, on the same data and queries.

    .venv/bin/pip install -e '.[bench]'        # oxigraph (server) and rdflib-endpoint; wrk from Debian
    .venv/bin/python bench/endpoint.py --triples 100000
    .venv/bin/python bench/endpoint.py --triples 1000000 --skip rdflib-endpoint --mix-under 2 --duration 20

It generates synthetic data (bench/gen.py), starts each server on 127.0.0.1, measures the median latency
of every competency query and of entity lookups (sequential requests), then the throughput of a mix of
competency queries and of a mix of lookups with 1, 4 and 16 concurrent clients (wrk, keep-alive; the median of
`--runs` runs, the servers taking turns, each run on new connections), and the
peak memory (PSS, so pages shared between forked workers count once) of each server's process tree, with
two anchors: one Python process holding the same store in pyoxigraph's memory, and one such process doing the
same work (the queries one at a time, then the competency mix as many at a time as autokg's query slots), whose
peak adds the queries' own working memory. Everything stays on 127.0.0.1; every server process is stopped at the
end.

`--variant NAME:VAR=VALUE` adds one more autokg server that differs only in its environment (a toggle added to
the code for the measurement, say): it takes its turn between the others in every latency and throughput run, and
a last table gives autokg's rate over the variant's, run by run (paired A/B runs in the same run of the bench).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from autokg.query.catalog import load_catalog, with_parameters  # noqa: E402
from autokg.settings import BY_NAME  # noqa: E402

import gen  # noqa: E402

VENV_BIN = Path(sys.executable).parent
ACCEPT = "application/sparql-results+json"
#: autokg's query timeout here, seconds, and how many queries it evaluates at once (its default)
AUTOKG_TIMEOUT = 60.0
AUTOKG_SLOTS = int(BY_NAME["QUERY_SLOTS"].default)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, seconds: float = 600) -> None:
    deadline = time.time() + seconds
    query = urllib.parse.urlencode({"query": "ASK { ?s ?p ?o }"})
    while time.time() < deadline:
        try:
            request = urllib.request.Request(f"{url}?{query}", headers={"Accept": ACCEPT})
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not come up")


class Server:
    """A server process on 127.0.0.1 and its SPARQL URL."""

    def __init__(self, name: str, command: list[str], url: str, env: dict | None = None) -> None:
        self.name, self.url = name, url
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        wait_ready(url)

    def pids(self) -> list[int]:
        """The server process and all its descendants."""
        found, queue = [], [self.process.pid]
        while queue:
            pid = queue.pop()
            found.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*"):
                try:
                    queue += [int(c) for c in (task / "children").read_text().split()]
                except OSError:
                    pass
        return found

    def pss_kib(self) -> int:
        """Proportional set size of the whole process tree, in KiB."""
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):  # a process that ended meanwhile
                total += rollup_kib(pid, "Pss")
        return total

    def cpu_seconds(self) -> float:
        """CPU time used so far by the whole process tree."""
        ticks = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def wait_idle(self, seconds: float = 180) -> None:
        """Wait until the server has finished work that clients gave up on (so it does not slow the next run)."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            before = self.cpu_seconds()
            time.sleep(0.5)
            if self.cpu_seconds() - before < 0.05:
                return

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)


def start_servers(names: list[str], nquads: Path, workdir: Path, variants: dict[str, dict[str, str]] | None = None) -> list[Server]:
    servers: list[Server] = []
    try:
        start_each(names, nquads, workdir, servers, variants or {})
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


def start_each(names: list[str], nquads: Path, workdir: Path, servers: list[Server], variants: dict[str, dict[str, str]]) -> None:
    for name in names:
        port = free_port()
        if name == "autokg" or name in variants:
            command = [sys.executable, "-m", "autokg.cli", "serve", "--dataset", str(nquads), "--port", str(port),
                       "--timeout", f"{AUTOKG_TIMEOUT:g}"]
            if "AUTOKG_QUERY_SLOTS" not in variants.get(name, {}):  # a flag would override the variant's variable
                command += ["--query-slots", str(AUTOKG_SLOTS)]
            # every guard on, the access log included (a line per request, to the server's log file here)
            servers.append(Server(name, command, f"http://127.0.0.1:{port}/sparql", env=dict(os.environ, AUTOKG_LOG_LEVEL="info", **variants.get(name, {}))))
        elif name == "oxigraph":
            location = workdir / "oxigraph-store"
            if not location.exists():
                subprocess.run([str(VENV_BIN / "oxigraph"), "load", "--location", str(location), "--file", str(nquads)], check=True, capture_output=True)
                subprocess.run([str(VENV_BIN / "oxigraph"), "optimize", "--location", str(location)], check=True, capture_output=True)
            command = [str(VENV_BIN / "oxigraph"), "serve-read-only", "--location", str(location), "--bind", f"127.0.0.1:{port}", "--union-default-graph"]
            servers.append(Server(name, command, f"http://127.0.0.1:{port}/query"))
        elif name == "rdflib-endpoint":
            command = [str(VENV_BIN / "rdflib-endpoint"), "serve", str(nquads), "--host", "127.0.0.1", "--port", str(port)]
            servers.append(Server(name, command, f"http://127.0.0.1:{port}/"))


def request_time(url: str, query: str, timeout: float) -> tuple[float, int]:
    """Seconds for one GET of `query`, and the HTTP status."""
    full = f"{url}?{urllib.parse.urlencode({'query': query})}"
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(urllib.request.Request(full, headers={"Accept": ACCEPT}), timeout=timeout) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        error.read()
        status = error.code
    except OSError:
        status = 0
    return time.perf_counter() - started, status


def synthetic_dataset(triples: int, seed: int) -> Path:
    """The N-Quads file of synthetic data of this size and seed, generated on first use (bench/gen.py)."""
    workdir = HERE / "data" / f"synthetic-{triples}-{seed}"
    workdir.mkdir(parents=True, exist_ok=True)
    nquads = workdir / "data.nq"
    if not nquads.exists():
        gen.write_dataset(gen.batches(triples, seed), nquads)
    return nquads


def competency_queries() -> dict[str, str]:
    """The competency SELECT queries (parameters left open), federated ones left out."""
    catalog = load_catalog(ROOT / "queries")
    return {name: with_parameters(q, {}) for name, q in catalog.items() if q.form == "SELECT" and not q.federated}


def workloads(nquads: Path, lookups: int, seed: int) -> tuple[dict[str, str], list[str]]:
    """The competency queries (parameters left open) and entity lookup queries."""
    competency = competency_queries()
    entities = sorted({line.split(" ", 1)[0] for line in nquads.open() if "/id/syn-org-" in line.split(" ", 1)[0]})
    chooser = random.Random(seed)
    picked = [chooser.choice(entities) for _ in range(lookups)]
    return competency, [f"SELECT ?p ?o WHERE {{ {e} ?p ?o }}" for e in picked]


def wrk_throughput(url: str, queries: list[str], connections: int, duration: int) -> tuple[float, int]:
    """Answered requests per second and the count of the others (non-2xx) for a mix of GET queries, with
    `connections` concurrent clients.

    Only answers count toward the rate: a server that sheds load answers a 503 in a fraction of a millisecond, and
    counting those made autokg's competency mix with 16 clients 1,160 requests a second, nearly all of them 503s.
    """
    split = urllib.parse.urlsplit(url)  # parameters of the URL itself (default-graph-uri, ...) go with every query
    paths = [split.path + "?" + (split.query + "&" if split.query else "") + urllib.parse.urlencode({"query": q}) for q in queries]
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write("paths = " + json.dumps(paths).replace("[", "{").replace("]", "}") + "\n")
    script.write('counter = 0\nrequest = function()\n  counter = counter + 1\n  return wrk.format("GET", paths[(counter % #paths) + 1], {["Accept"] = "' + ACCEPT + '"})\nend\n')
    script.close()
    host = urllib.parse.urlsplit(url)
    output = subprocess.run(
        ["wrk", "-t", str(min(connections, 2)), "-c", str(connections), "-d", f"{duration}s", "--timeout", "60s",
         "-s", script.name, f"{host.scheme}://{host.netloc}"],
        capture_output=True, text=True, check=True,
    ).stdout
    sent = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m),", output)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    refused = int(errors.group(1)) if errors else 0
    seconds = float(sent.group(2)) * {"ms": 0.001, "s": 1, "m": 60}[sent.group(3)]
    return (int(sent.group(1)) - refused) / seconds, refused


#: evaluates the queries sent on stdin, a JSON list per line, at once in a thread each, as a server evaluates
#: concurrent requests: each answer serialized as JSON by Oxigraph; then "done" on stdout
WORKLOAD_SCRIPT = """
import json, sys, threading, pyoxigraph as ox
store = ox.Store()
store.bulk_load(path=sys.argv[1], format=ox.RdfFormat.N_QUADS)
def answer(query):
    store.query(query, use_default_graph_as_union=True).serialize(format=ox.QueryResultsFormat.JSON)
print("loaded", flush=True)
for line in sys.stdin:
    threads = [threading.Thread(target=answer, args=(query,)) for query in json.loads(line)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print("done", flush=True)
"""


def rollup_kib(pid: int | str, field: str) -> int:
    """A figure in KiB from /proc/<pid>/smaps_rollup (Pss, Private_Dirty, ...); 0 for a process that maps nothing
    (a zombie).

    >>> rollup_kib("self", "Pss") > 0
    True
    """
    match = re.search(rf"^{field}:\s+(\d+) kB", Path(f"/proc/{pid}/smaps_rollup").read_text(), re.M)
    return int(match.group(1)) if match else 0


def status_kib(pid: int | str, field: str) -> int:
    """A figure in KiB from /proc/<pid>/status of a live process (VmRSS, VmHWM: its peak RSS, ...).

    >>> status_kib("self", "VmHWM") >= status_kib("self", "VmRSS") > 0
    True
    """
    return int(re.search(rf"^{field}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M).group(1))


def workload_anchor_kib(nquads: Path, batches: list[list[str]], timeout: float) -> tuple[int, int]:
    """Peak RSS of one Python process that holds the same store and evaluates each batch of queries at once, one
    batch after the other, and how many batches it was stopped on.

    A batch still running after `timeout` seconds ends the process, as a server's timeout ends its queries; a
    fresh process takes the next batch.
    """
    peak, stopped, pending = 0, 0, list(batches)
    while pending:
        process = subprocess.Popen([sys.executable, "-c", WORKLOAD_SCRIPT, str(nquads)], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True)
        try:
            if process.stdout.readline().strip() != "loaded":
                raise RuntimeError(f"the workload anchor could not load {nquads}")
            while pending:
                process.stdin.write(json.dumps(pending.pop(0)) + "\n")
                process.stdin.flush()
                ready, _, _ = select.select([process.stdout], [], [], timeout)
                if not ready:
                    stopped += 1
                    break
                if process.stdout.readline().strip() != "done":
                    raise RuntimeError("the workload anchor failed on a query")
            peak = max(peak, status_kib(process.pid, "VmHWM"))
        finally:
            process.kill()
            process.wait()
    return peak, stopped


def anchor_memory_kib(nquads: Path) -> int:
    """Peak RSS of one Python process that holds the same data in pyoxigraph's memory (and has counted it)."""
    return workload_anchor_kib(nquads, [["SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"]], AUTOKG_TIMEOUT)[0]


def median_rate(runs: list[tuple[float, int]]) -> tuple[float, int]:
    """The median rate of several throughput runs, and the non-2xx responses of them all."""
    return statistics.median(rate for rate, _ in runs), sum(errors for _, errors in runs)


def format_rate(rate: float) -> str:
    """Requests per second, to two decimals below 10 and whole above."""
    return f"{rate:.2f}" if rate < 10 else f"{rate:.0f}"


def rate_cell(runs: list[tuple[float, int]]) -> str:
    """A table cell: the median rate of answers, the range of the runs when there are several, and the responses
    that were not answers (503s of load shedding, say).

    >>> rate_cell([(12000.4, 0), (9000.0, 0), (15000.0, 2)])
    '12000 (9000-15000; 2 errors)'
    >>> rate_cell([(2.5, 0)])
    '2.50'
    """
    rate, errors = median_rate(runs)
    notes = [f"{format_rate(min(r for r, _ in runs))}-{format_rate(max(r for r, _ in runs))}"] if len(runs) > 1 else []
    notes += [f"{errors} errors"] if errors else []
    return format_rate(rate) + (f" ({'; '.join(notes)})" if notes else "")


def ratio(rate: tuple[float, int] | None, other: tuple[float, int] | None) -> str:
    """One throughput over another, or n/a when either is missing or the other completed nothing."""
    if rate is None or other is None or not other[0]:
        return "n/a"
    return f"{rate[0] / other[0]:.2f}×"


def geometric_mean(values: list[float]) -> float:
    return statistics.geometric_mean([max(v, 1e-6) for v in values])


def main() -> None:
    parser = argparse.ArgumentParser(description="autokg endpoint benchmark")
    parser.add_argument("--triples", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reps", type=int, default=11, help="sequential requests per query for the median latency")
    parser.add_argument("--duration", type=int, default=10, help="seconds per throughput run")
    parser.add_argument("--runs", type=int, default=3,
                        help="throughput runs per mix, clients and server, of which the median counts: a multi-process"
                             " server's rate varies from run to run, as the kernel hashes wrk's connections to its workers"
                             " (all on one worker halves it) and places their threads on the cores anew")
    parser.add_argument("--lookups", type=int, default=200)
    parser.add_argument("--skip", action="append", default=[], help="a server to leave out")
    parser.add_argument("--timeout", type=float, default=30, help="client timeout per request, seconds")
    parser.add_argument("--lookups-only", action="store_true", help="only the lookups: their latency, their mix and memory")
    parser.add_argument("--mix-under", type=float, default=None, metavar="SECONDS",
                        help="the competency mix keeps only the queries that every server answered within this median latency"
                             " (at 1M, a mix with 30 s queries completes no request in a short run)")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME:VAR=VALUE[,VAR=VALUE]",
                        help="one more autokg server, with these environment variables: an A/B pair with autokg, measured"
                             " in the same run, the servers taking turns")
    args = parser.parse_args()
    variants = {name: dict(pair.split("=", 1) for pair in assignments.split(",") if pair)
                for name, assignments in (v.split(":", 1) for v in args.variant)}

    nquads = synthetic_dataset(args.triples, args.seed)
    workdir = nquads.parent
    quads = sum(1 for _ in nquads.open())
    competency, lookups = workloads(nquads, args.lookups, args.seed)
    if args.lookups_only:
        competency = {}
    mixes = {name: mix for name, mix in (("competency mix", list(competency.values())), ("lookup mix", lookups)) if mix}
    names = [n for n in ("autokg", *variants, "oxigraph", "rdflib-endpoint") if n not in args.skip]
    servers = start_servers(names, nquads, workdir, variants)
    peaks = {s.name: s.pss_kib() for s in servers}
    stop_sampling = threading.Event()

    def sample() -> None:
        while not stop_sampling.is_set():
            for s in servers:
                peaks[s.name] = max(peaks[s.name], s.pss_kib())
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        latency: dict[str, dict[str, float]] = {s.name: {} for s in servers}
        failures: dict[str, list[str]] = {s.name: [] for s in servers}
        cases = dict(competency) | {"lookup (median of lookups)": None}
        for name, query in cases.items():
            for server in servers:
                times = []
                if query is None:
                    for lookup in lookups[: args.reps * 3]:
                        seconds, status = request_time(server.url, lookup, args.timeout)
                        times.append(seconds)
                else:
                    warm, status = request_time(server.url, query, args.timeout)  # warm-up
                    # a query that takes seconds is timed once more, not `reps` times
                    for _ in range(args.reps if warm < 2 else 1):
                        seconds, status = request_time(server.url, query, args.timeout)
                        times.append(seconds)
                        if status != 200:
                            failures[server.name].append(f"{name}: HTTP {status}")
                            break
                latency[server.name][name] = statistics.median(times) * 1000
                print(f"latency {server.name:<16} {name:<28} {latency[server.name][name]:9.2f} ms", file=sys.stderr, flush=True)
        mixed = list(competency)
        if args.mix_under is not None and competency:
            mixed = [name for name in competency if all(latency[s.name][name] < args.mix_under * 1000 for s in servers)]
            print("competency mix: " + ", ".join(mixed), file=sys.stderr, flush=True)
            mixes["competency mix"] = [competency[name] for name in mixed]
        mixes = {name: mix for name, mix in mixes.items() if mix}
        throughput: dict[tuple[str, str, int], list[tuple[float, int]]] = {}
        for mix_name, mix in mixes.items():
            for clients in (1, 4, 16):
                for _run in range(args.runs):
                    for server in servers:
                        result = wrk_throughput(server.url, mix, clients, args.duration)
                        throughput.setdefault((mix_name, server.name, clients), []).append(result)
                        server.wait_idle()
                        print(f"throughput {server.name:<16} {mix_name} x{clients}: {result}", file=sys.stderr, flush=True)
    finally:
        stop_sampling.set()
        sampler.join(timeout=2)
        for server in servers:
            server.stop()
    anchor = anchor_memory_kib(nquads)
    # the same work in one process: the latency runs one query at a time, the competency mix as many at a time
    # as the server evaluates at once (its query slots), in the mix's order; stopped at autokg's timeout
    one_at_a_time = workload_anchor_kib(nquads, [[q] for q in [*competency.values(), *lookups]], AUTOKG_TIMEOUT)
    mix = mixes.get("competency mix", [])
    in_slots = workload_anchor_kib(nquads, [mix[i:i + AUTOKG_SLOTS] for i in range(0, len(mix), AUTOKG_SLOTS)], AUTOKG_TIMEOUT)
    work = max(one_at_a_time[0], in_slots[0])

    print(f"\n## {quads} quads (seed {args.seed}); servers: {', '.join(names)}\n")
    header = "| query | " + " | ".join(f"{s.name} ms" for s in servers) + " | autokg − oxigraph ms |"
    print(header)
    print("|" + "---|" * (len(servers) + 2))
    for name in cases:
        values = [latency[s.name].get(name, float("nan")) for s in servers]
        delta = latency["autokg"][name] - latency["oxigraph"][name] if {"autokg", "oxigraph"} <= set(latency) else float("nan")
        print(f"| {name} | " + " | ".join(f"{v:.2f}" for v in values) + f" | {delta:+.2f} |")
    if competency and {"autokg", "oxigraph"} <= set(latency):
        a = geometric_mean([latency["autokg"][n] for n in competency])
        o = geometric_mean([latency["oxigraph"][n] for n in competency])
        print(f"\ngeometric mean over the competency queries: autokg {a:.2f} ms, oxigraph {o:.2f} ms, ratio {a / o:.2f}×")
    if args.mix_under is not None and mixed:
        print(f"\ncompetency mix: the {len(mixed)} queries under {args.mix_under:g} s on every server: {', '.join(mixed)}")
    print("\n| mix | clients | " + " | ".join(f"{s.name} req/s" for s in servers) + " | autokg/oxigraph | autokg/rdflib-endpoint |")
    print("|" + "---|" * (len(servers) + 4))
    for mix_name in mixes:
        for clients in (1, 4, 16):
            runs = {s.name: throughput[(mix_name, s.name, clients)] for s in servers}
            rates = {name: median_rate(results) for name, results in runs.items()}
            cells = " | ".join(rate_cell(results) for results in runs.values())
            ratios = [ratio(rates.get("autokg"), rates.get(other)) for other in ("oxigraph", "rdflib-endpoint")]
            print(f"| {mix_name} | {clients} | {cells} | {ratios[0]} | {ratios[1]} |")
    if variants:
        print("\n| paired A/B: autokg over variant, run by run | mix | clients | median (range) of the runs' ratios |")
        print("|---|---|---|---|")
        for variant in variants:
            for mix_name in mixes:
                for clients in (1, 4, 16):
                    pairs = zip(throughput[(mix_name, "autokg", clients)], throughput[(mix_name, variant, clients)])
                    ratios = [a / b for (a, _), (b, _) in pairs if b]
                    if ratios:
                        print(f"| {variant} | {mix_name} | {clients} | {statistics.median(ratios):.2f}× "
                              f"({min(ratios):.2f}-{max(ratios):.2f}) |")
    print("\n| server | peak PSS of all its processes (MiB) | ratio to the anchor | ratio to the same work in one process |")
    print("|---|---|---|---|")
    print(f"| anchor: one Python process, same data in pyoxigraph memory (peak RSS) | {anchor / 1024:.0f} | 1.00× | |")
    print(f"| one Python process, same data, the same queries one at a time (peak RSS; stopped on {one_at_a_time[1]})"
          f" | {one_at_a_time[0] / 1024:.0f} | {one_at_a_time[0] / anchor:.2f}× | |")
    print(f"| one Python process, same data, the competency mix {AUTOKG_SLOTS} at a time (peak RSS; stopped on {in_slots[1]})"
          f" | {in_slots[0] / 1024:.0f} | {in_slots[0] / anchor:.2f}× | |")
    for server in servers:
        print(f"| {server.name} | {peaks[server.name] / 1024:.0f} | {peaks[server.name] / anchor:.2f}× | {peaks[server.name] / work:.2f}× |")
    for name, items in failures.items():
        if items:
            print(f"\n{name} failures: " + "; ".join(items))


if __name__ == "__main__":
    main()
