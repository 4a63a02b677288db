"""Benchmark at scale: autokg's embedded store, Oxigraph's server and Virtuoso 7 on the same synthetic data.

    .venv/bin/pip install -e '.[bench]'          # the oxigraph server CLI; wrk and virtuoso-opensource-7 from Debian
    .venv/bin/python bench/stores.py --triples 100000                      # smoke test
    .venv/bin/python bench/stores.py --triples 1000000 --triples 5000000   # the figures of docs/performance.md

For each size it generates the data once (bench/gen.py, streaming, kept in bench/data/synthetic-N-SEED/),
then runs one engine at a time, the others stopped, on 127.0.0.1:
- autokg: `autokg serve --dataset data.nq` (pyoxigraph's in-memory store, gunicorn workers forked from the
  loading process); load time is the time until it answers, which includes the bulk load into memory;
- oxigraph: `oxigraph load` then `oxigraph optimize` (timed separately) into a fresh store, then
  `oxigraph serve-read-only --union-default-graph` (no --timeout-s: the server has no time limit);
- virtuoso: Debian's Virtuoso Open Source 7 through bench/engines.py, loaded with its bulk loader, asked
  with default-graph-uri and named-graph-uri given once per part graph (its own default graph would be
  every graph, its system graphs too).
It measures the load rate, the size on disk, the peak memory while serving (PSS summed over the process
tree, as bench/endpoint.py does), the median latency of each competency query (a warm-up request, then
up to --reps more while the query's --budget lasts; a request that the client gives up on after
--timeout seconds, or that the server stops at its own 30 s limit, counts as "timeout"), and the
throughput of a mix of competency queries with 1, 4 and 16 clients (wrk), waiting for the server to go
idle between runs. The mix is the same for every engine: the queries the first engine (autokg) answered
in at most --mix-limit seconds at this size, so that a --duration-second run completes requests at all
(the slowest queries take longer than a run, and 16 of them in flight on 2 cores take 8 times longer). Each engine's number of result rows is checked against the embedded store's: a
difference is flagged in the table. The 1-minute load average is recorded at the start and end of each
engine's run. Results go to stdout as markdown and to bench/data/stores-N-SEED.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import types
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from autokg.stores.embedded import PART_GRAPHS

from endpoint import ACCEPT, HERE, VENV_BIN, Server, anchor_memory_kib, competency_queries, free_port, gen, geometric_mean, wrk_throughput

ENGINES = ("autokg", "oxigraph", "virtuoso")
SERVER_TIMEOUT = 30  # autokg's default query time limit, seconds


@dataclass
class Run:
    """What one engine measured on one dataset."""

    engine: str
    load_seconds: float = 0.0
    optimize_seconds: float | None = None
    disk_bytes: int = 0
    disk_note: str = ""
    peak_pss_kib: int = 0
    latency_ms: dict[str, float | None] = field(default_factory=dict)  # None: timeout or error
    outcome: dict[str, str] = field(default_factory=dict)  # "ok", "timeout", "HTTP 500", "partial", ...
    rows: dict[str, int | None] = field(default_factory=dict)
    runs: dict[str, int] = field(default_factory=dict)
    throughput: dict[int, tuple[float, int]] = field(default_factory=dict)
    mix: list[str] = field(default_factory=list)
    load_average: tuple[float, float] = (0.0, 0.0)
    idle_after_throughput: dict[int, bool] = field(default_factory=dict)


class Attached(Server):
    """A server started by someone else (Virtuoso, by bench/engines.py), measured like endpoint.py's servers."""

    def __init__(self, name: str, url: str, pid: int) -> None:  # noqa: D107 - no process is started here
        self.name, self.url = name, url
        self.process = types.SimpleNamespace(pid=pid)


def directory_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def dataset(triples: int, seed: int) -> Path:
    """The synthetic N-Quads file of that size, generated once (shared with bench/endpoint.py)."""
    nquads = HERE / "data" / f"synthetic-{triples}-{seed}" / "data.nq"
    if not nquads.exists():
        started = time.monotonic()
        count = gen.write_dataset(gen.batches(triples, seed), nquads)
        print(f"generated {count} quads in {time.monotonic() - started:.1f} s: {nquads}", file=sys.stderr, flush=True)
    return nquads


@contextlib.contextmanager
def embedded(nquads: Path, workdir: Path, run: Run, options: argparse.Namespace) -> Iterator[Server]:
    port = free_port()
    command = [sys.executable, "-m", "autokg.cli", "serve", "--dataset", str(nquads), "--port", str(port),
               "--timeout", str(SERVER_TIMEOUT), "--max-rows", str(10**8), "--max-result-bytes", str(2**31)]
    started = time.monotonic()
    server = Server("autokg", command, f"http://127.0.0.1:{port}/sparql", env=dict(os.environ, AUTOKG_LOG_LEVEL="warning"))
    run.load_seconds = time.monotonic() - started
    run.disk_bytes, run.disk_note = 0, f"in memory; reads the {nquads.stat().st_size / 2**20:.0f} MiB .nq at start"
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def oxigraph(nquads: Path, workdir: Path, run: Run, options: argparse.Namespace) -> Iterator[Server]:
    location = workdir / "oxigraph-store"
    shutil.rmtree(location, ignore_errors=True)
    binary = str(VENV_BIN / "oxigraph")
    started = time.monotonic()
    subprocess.run([binary, "load", "--location", str(location), "--file", str(nquads)], check=True, capture_output=True)
    run.load_seconds = time.monotonic() - started
    loaded = directory_bytes(location)
    started = time.monotonic()
    subprocess.run([binary, "optimize", "--location", str(location)], check=True, capture_output=True)
    run.optimize_seconds = time.monotonic() - started
    run.disk_bytes = directory_bytes(location)
    run.disk_note = f"RocksDB store after optimize ({loaded / 2**20:.0f} MiB before)"
    port = free_port()
    server = Server("oxigraph", [binary, "serve-read-only", "--location", str(location), "--bind", f"127.0.0.1:{port}",
                                 "--union-default-graph"], f"http://127.0.0.1:{port}/query")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(location, ignore_errors=True)


@contextlib.contextmanager
def virtuoso(nquads: Path, workdir: Path, run: Run, options: argparse.Namespace) -> Iterator[Server]:
    from engines import Virtuoso  # bench/engines.py

    folder = workdir / "virtuoso"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with Virtuoso(folder, buffers=options.virtuoso_buffers) as engine:
        started = time.monotonic()
        engine.bulk_load(nquads)
        run.load_seconds = time.monotonic() - started
        run.disk_bytes = engine.disk_bytes()
        run.disk_note = f"database files, {options.virtuoso_buffers} buffers of 8 KiB"
        graphs = [node.value for node in PART_GRAPHS.values()]
        parameters = urllib.parse.urlencode([("default-graph-uri", g) for g in graphs] + [("named-graph-uri", g) for g in graphs])
        yield Attached("virtuoso", f"{engine.sparql_url}?{parameters}", engine.pid)
    shutil.rmtree(folder, ignore_errors=True)


STARTERS = {"autokg": embedded, "oxigraph": oxigraph, "virtuoso": virtuoso}


def answer(url: str, query: str, timeout: float) -> tuple[float, str, int | None]:
    """Seconds, outcome and number of result rows of one GET of `query`, given up after `timeout` seconds in all.

    (urllib's timeout bounds each read, not the request: a server that streams a slow answer would hold
    the client for minutes.)
    """
    full = f"{url}{'&' if '?' in url else '?'}{urllib.parse.urlencode({'query': query})}"
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(urllib.request.Request(full, headers={"Accept": ACCEPT}), timeout=timeout) as response:
            chunks = []
            while chunk := response.read(1 << 16):
                chunks.append(chunk)
                if time.perf_counter() - started > timeout:
                    return time.perf_counter() - started, "timeout", None
            body = b"".join(chunks)
            partial = response.headers.get("X-SQL-State")  # Virtuoso's "anytime" answers: 200 but incomplete
            seconds = time.perf_counter() - started
            if partial:
                return seconds, "partial", None
            return seconds, "ok", len(json.loads(body)["results"]["bindings"])
    except urllib.error.HTTPError as error:
        error.read()
        return time.perf_counter() - started, "timeout" if error.code == 503 else f"HTTP {error.code}", None
    except OSError:
        return time.perf_counter() - started, "timeout", None


def measure_latency(server: Server, queries: dict[str, str], run: Run, options: argparse.Namespace) -> None:
    for name, query in queries.items():
        seconds, outcome, rows = answer(server.url, query, options.timeout)  # warm-up, and the row count
        run.outcome[name], run.rows[name] = outcome, rows
        times = []
        if outcome == "ok":
            spent = seconds
            while len(times) < options.reps and spent + seconds < options.budget:
                took, status, _ = answer(server.url, query, options.timeout)
                if status != "ok":
                    break
                times.append(took)
                spent += took
            times = times or [seconds]  # too slow to repeat in the budget: the warm-up is the one measurement
        else:
            server.wait_idle(options.idle)  # the server may still be working on what the client gave up on
        run.latency_ms[name] = statistics.median(times) * 1000 if times else None
        run.runs[name] = len(times)
        shown = f"{run.latency_ms[name]:10.1f} ms" if times else f"{outcome:>13}"
        print(f"  {run.engine:<9} {name:<28} {shown} rows={rows} runs={len(times)}", file=sys.stderr, flush=True)


def measure_engine(engine: str, nquads: Path, workdir: Path, queries: dict[str, str], options: argparse.Namespace,
                   mix: list[str] | None = None) -> Run:
    """Load, serve and measure one engine; the throughput mix is `mix`, or this engine's quick queries when None."""
    run = Run(engine)
    start_load = os.getloadavg()[0]
    print(f"{engine}: loading {nquads} (load average {start_load:.2f})", file=sys.stderr, flush=True)
    with STARTERS[engine](nquads, workdir, run, options) as server:
        print(f"{engine}: loaded in {run.load_seconds:.1f} s, {run.disk_bytes / 2**20:.0f} MiB on disk", file=sys.stderr, flush=True)
        run.peak_pss_kib = server.pss_kib()
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                run.peak_pss_kib = max(run.peak_pss_kib, server.pss_kib())
                done.wait(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            server.wait_idle(options.idle)
            measure_latency(server, queries, run, options)
            run.mix = mix if mix is not None else [n for n, ms in run.latency_ms.items() if ms is not None and ms <= options.mix_limit * 1000]
            for clients in (1, 4, 16):
                run.throughput[clients] = wrk_throughput(server.url, [queries[n] for n in run.mix], clients, options.duration)
                started = time.monotonic()
                server.wait_idle(options.idle)
                run.idle_after_throughput[clients] = time.monotonic() - started < options.idle
                print(f"  {engine:<9} throughput x{clients}: {run.throughput[clients][0]:.2f} req/s, "
                      f"{run.throughput[clients][1]} errors", file=sys.stderr, flush=True)
        finally:
            done.set()
            sampler.join(timeout=2)
    run.load_average = (start_load, os.getloadavg()[0])
    return run


def cell(run: Run, name: str) -> str:
    value = run.latency_ms.get(name)
    if value is None:
        return run.outcome.get(name, "—")
    return f"{value:,.1f}" + ("" if run.runs.get(name, 0) > 1 else "¹")


def comparable(runs: list[Run], queries: dict[str, str]) -> list[str]:
    """The queries every engine answered with the same number of rows.

    Only these count in a geometric mean: a fast wrong answer must not pull an engine's mean down.
    """
    return [n for n in queries if all(r.latency_ms.get(n) is not None for r in runs) and len({r.rows.get(n) for r in runs}) == 1]


def summary(saved: list[tuple[dict, list[Run]]]) -> str:
    """One headline table over several saved runs: load rate, disk, memory, mean latency, 4-client throughput."""
    lines = ["| size | engine | load quads/s | disk MiB | peak PSS MiB | geometric-mean latency ms | the same, non-empty answers only | 4-client req/s |",
             "|---|---|---|---|---|---|---|---|"]
    for data, runs in saved:
        answered = comparable(runs, competency_queries())
        # the synthetic data has no disagreements, people, plans...: empty answers, which some engines find at once
        nonempty = [n for n in answered if runs[0].rows.get(n)]
        for r in runs:
            means = [f"{geometric_mean([r.latency_ms[n] for n in names]):,.0f} ({len(names)} queries)" if names else "—"
                     for names in (answered, nonempty)]
            lines.append(f"| {data['quads']:,} quads | {r.engine} | {data['quads'] / r.load_seconds:,.0f} | {r.disk_bytes / 2**20:,.0f} | "
                         f"{r.peak_pss_kib / 1024:,.0f} | {means[0]} | {means[1]} | {r.throughput[4][0]:.2f} |")
    return "\n".join(lines)


def report(triples: int, quads: int, nquads: Path, runs: list[Run], anchor_kib: int | None, queries: dict[str, str]) -> str:
    """Markdown tables for one dataset."""
    lines = [f"### {quads:,} quads ({triples:,} generated data triples plus ontology and shortcuts; "
             f"{nquads.stat().st_size / 2**20:,.0f} MiB of N-Quads)", ""]
    lines += ["| engine | load s | quads/s | optimize s | disk MiB | peak PSS MiB | load average start → end |", "|---|---|---|---|---|---|---|"]
    for run in runs:
        optimize = f"{run.optimize_seconds:.1f}" if run.optimize_seconds is not None else "—"
        lines.append(f"| {run.engine} | {run.load_seconds:.1f} | {quads / run.load_seconds:,.0f} | {optimize} | "
                     f"{run.disk_bytes / 2**20:,.0f} ({run.disk_note}) | {run.peak_pss_kib / 1024:,.0f} | "
                     f"{run.load_average[0]:.2f} → {run.load_average[1]:.2f} |")
    if anchor_kib:
        lines += ["", f"Anchor: one Python process holding the same data in pyoxigraph's memory peaks at {anchor_kib / 1024:,.0f} MiB RSS."]
    reference = next((r for r in runs if r.engine == "autokg"), None)
    lines += ["", "| query | rows | " + " | ".join(f"{r.engine} ms" for r in runs) + " | row check |", "|---|---|" + "---|" * (len(runs) + 1)]
    for name in queries:
        rows = reference.rows.get(name) if reference else None
        differ = [f"{r.engine} {r.rows[name]}" for r in runs if r is not reference and r.rows.get(name) is not None and rows is not None and r.rows[name] != rows]
        lines.append(f"| {name} | {rows if rows is not None else '—'} | " + " | ".join(cell(r, name) for r in runs) + " | "
                     + ("⚠ rows differ: " + ", ".join(differ) if differ else "") + " |")
    answered = comparable(runs, queries)
    lines.append("| geometric mean over the queries every engine answered with the same rows (" + str(len(answered)) + f" of {len(queries)}) | | "
                 + " | ".join(f"{geometric_mean([r.latency_ms[n] for n in answered]):,.1f}" if answered else "—" for r in runs) + " | |")
    mix = runs[0].mix if runs else []
    lines += ["", f"Throughput mix ({len(mix)} queries, round robin): {', '.join(mix)}.", "",
              "| clients | " + " | ".join(f"{r.engine} req/s" for r in runs) + " |", "|---|" + "---|" * len(runs)]
    for clients in (1, 4, 16):
        cells = []
        for r in runs:
            rate, errors = r.throughput.get(clients, (float("nan"), 0))
            cells.append(f"{rate:.2f}" + (f" ({errors} non-2xx)" if errors else "") + ("" if r.idle_after_throughput.get(clients, True) else " ²"))
        lines.append(f"| {clients} | " + " | ".join(cells) + " |")
    lines += ["", "¹ one measurement: the query was too slow to repeat within the budget. "
              "² the server was still busy when the wait for it to go idle gave up."]
    return "\n".join(lines)


def load_saved(saved: Path) -> tuple[dict, list[Run]]:
    """A saved run: its JSON and its engines' runs."""
    data = json.loads(saved.read_text())
    runs = []
    for fields in data["runs"]:
        run = Run(**fields)
        run.throughput = {int(k): tuple(v) for k, v in run.throughput.items()}
        run.idle_after_throughput = {int(k): v for k, v in run.idle_after_throughput.items()}
        run.load_average = tuple(run.load_average)
        runs.append(run)
    return data, runs


def render(paths: list[Path]) -> str:
    """The headline table of saved runs, then each run's tables, drawn again (with today's report code)."""
    saved = [load_saved(path) for path in paths]
    parts = [summary(saved)]
    for data, runs in saved:
        nquads = dataset(data["triples"], data.get("seed", 1))
        parts.append(report(data["triples"], data["quads"], nquads, runs, data["anchor_kib"], competency_queries()))
    return "\n\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description="autokg store benchmark: embedded store, Oxigraph server, Virtuoso")
    parser.add_argument("--triples", type=int, action="append", help="generated data triples (repeat for several sizes)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engine", action="append", choices=ENGINES, help="an engine to run (default: all three)")
    parser.add_argument("--reps", type=int, default=5, help="timed requests per query after the warm-up, at most")
    parser.add_argument("--budget", type=float, default=20, help="seconds per query after which it is not repeated")
    parser.add_argument("--timeout", type=float, default=SERVER_TIMEOUT + 5, help="client timeout per request, seconds")
    parser.add_argument("--duration", type=int, default=15, help="seconds per throughput run")
    parser.add_argument("--mix-limit", type=float, default=2, help="seconds: the throughput mix is the first engine's queries at most this slow")
    parser.add_argument("--idle", type=float, default=180, help="seconds to wait at most for a server to go idle")
    parser.add_argument("--virtuoso-buffers", type=int, default=250_000, help="Virtuoso's NumberOfBuffers (8 KiB each)")
    parser.add_argument("--no-anchor", action="store_true", help="skip the one-process pyoxigraph memory anchor")
    parser.add_argument("--render", type=Path, action="append", metavar="JSON",
                        help="only print the tables of saved runs (bench/data/stores-*.json; repeat for several)")
    options = parser.parse_args()
    if options.render:
        print(render(options.render))
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that every server is stopped on the way out
    engines = options.engine or list(ENGINES)
    queries = competency_queries()
    for triples in options.triples or [100_000]:
        nquads = dataset(triples, options.seed)
        quads = sum(1 for _ in nquads.open("rb"))
        workdir = nquads.parent
        runs: list[Run] = []
        for engine in engines:
            runs.append(measure_engine(engine, nquads, workdir, queries, options, runs[0].mix if runs else None))
        anchor = None if options.no_anchor else anchor_memory_kib(nquads)
        text = report(triples, quads, nquads, runs, anchor, queries)
        print(text + "\n", flush=True)
        out = HERE / "data" / f"stores-{triples}-{options.seed}.json"
        out.write_text(json.dumps({"triples": triples, "seed": options.seed, "quads": quads, "anchor_kib": anchor, "runs": [asdict(r) for r in runs],
                                   "markdown": text}, indent=1))


if __name__ == "__main__":
    main()
