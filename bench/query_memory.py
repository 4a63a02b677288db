"""Benchmark: what each competency query costs in memory on top of the store, as a query child evaluates it.

    .venv/bin/python bench/query_memory.py --triples 100000
    .venv/bin/python bench/query_memory.py --triples 1000000

This process loads the synthetic data (bench/gen.py) into pyoxigraph's memory, as `autokg serve`'s master does,
then forks a child per competency query (parameters left open, as in bench/endpoint.py's mix), as the server runs
each query in a query child. The child evaluates the query, serializes the answer as JSON, hands freed heap back
(`malloc_trim`) and waits while this process reads from /proc:
- the child's peak RSS over the RSS it was forked with: the query's working memory, on top of the store;
- the child's private memory (`Private_Dirty`): the store pages its reads copied on write (reading pyoxigraph's
  in-memory store takes a lock per quad it walks) and the heap it still holds.
A child still evaluating after `--timeout` seconds is read the same way, then killed ("stopped"). A third figure
comes from a fresh process that loads the store and evaluates the query alone (stopped the same way): its peak RSS.
The figures are set against bench/endpoint.py's store-only anchor: one Python process holding the same store (its
peak RSS).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import select
import signal
import sys
from pathlib import Path

import pyoxigraph as ox

sys.path.insert(0, str(Path(__file__).resolve().parent))

import endpoint  # noqa: E402


def evaluate_in_child(store: ox.Store, query: str, report: int, proceed: int) -> None:
    """The forked child's part: report its RSS, evaluate, hand freed heap back, report the outcome, then wait to
    be measured and exit (it never returns into its parent's code)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # a child inherits its parent's peak RSS: start it afresh
        os.write(report, b"%d\n" % endpoint.status_kib("self", "VmRSS"))
        try:
            store.query(query, use_default_graph_as_union=True).serialize(format=ox.QueryResultsFormat.JSON)
            ctypes.CDLL("libc.so.6").malloc_trim(0)
            outcome = b"answered\n"
        except (SyntaxError, OSError, ValueError):  # what pyoxigraph raises for a query it cannot evaluate
            outcome = b"failed\n"
        os.write(report, outcome)
        os.read(proceed, 1)
    finally:
        os._exit(0)


def measure(store: ox.Store, query: str, timeout: float) -> tuple[str, int, int, int]:
    """Fork a child that evaluates `query`: its outcome, its RSS before the query, its peak RSS and its private
    memory after the query, in KiB.

    The outcome is "answered", "failed" (pyoxigraph refused the query), "stopped" (still evaluating after `timeout`
    seconds, then killed) or "died" (the child ended without a word, its figures 0).

    Raises RuntimeError if the child ends before it measures itself (it needs /proc/self/clear_refs: Linux 4.0).
    """
    report_read, report_write = os.pipe()
    proceed_read, proceed_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        evaluate_in_child(store, query, report_write, proceed_read)
    os.close(report_write)
    reports = os.fdopen(report_read, "rb", buffering=0)  # unbuffered: a line read ahead would hide from select
    outcome, start, peak, private = "stopped", 0, 0, 0
    try:
        line = reports.readline()  # its mapped files count only once it touches them: not the parent's RSS
        if not line:
            raise RuntimeError("the query child ended before it measured itself (is /proc/self/clear_refs writable?)")
        start = int(line)
        ready, _, _ = select.select([reports], [], [], timeout)
        if ready:
            outcome = reports.readline().decode().strip() or "died"
        if outcome != "died":
            peak, private = endpoint.status_kib(pid, "VmHWM"), endpoint.rollup_kib(pid, "Private_Dirty")
    finally:
        if outcome == "stopped":
            os.kill(pid, signal.SIGKILL)
        os.write(proceed_write, b"x")
        os.waitpid(pid, 0)
        reports.close()
        os.close(proceed_read)
        os.close(proceed_write)
    return outcome, start, peak, private


def main() -> None:
    parser = argparse.ArgumentParser(description="memory of each competency query over the store")
    parser.add_argument("--triples", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=30, help="seconds before a child is measured and killed")
    args = parser.parse_args()

    nquads = endpoint.synthetic_dataset(args.triples, args.seed)
    anchor = endpoint.anchor_memory_kib(nquads)
    store = ox.Store()
    store.bulk_load(path=str(nquads), format=ox.RdfFormat.N_QUADS)
    loaded = endpoint.rollup_kib("self", "Private_Dirty")
    print(f"\n## {args.triples} triples (seed {args.seed}): the store-only anchor peaks at {anchor / 1024:.0f} MiB;"
          f" this process holds {loaded / 1024:.0f} MiB of private memory, which its children share\n")
    print("| query | outcome | working memory (MiB) | store and query, one process (× anchor) | private after (MiB) |")
    print("|---|---|---|---|---|")
    for name, query in endpoint.competency_queries().items():
        outcome, start, peak, private = measure(store, query, args.timeout)
        # a fresh process that imports pyoxigraph alone, as the anchor does, not this one's modules
        alone = endpoint.workload_anchor_kib(nquads, [[query]], args.timeout)[0]
        cells = [name, outcome, f"{(peak - start) / 1024:.0f}", f"{alone / anchor:.2f}×", f"{private / 1024:.0f}"]
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
