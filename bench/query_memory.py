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
import re
import select
import signal
import sys
from pathlib import Path

import pyoxigraph as ox

sys.path.insert(0, str(Path(__file__).resolve().parent))

import endpoint  # noqa: E402


def status_kib(pid: int | str, field: str) -> int:
    """A figure in KiB from /proc/<pid>/status (VmRSS, VmHWM, ...).

    >>> status_kib("self", "VmRSS") > 0
    True
    """
    return int(re.search(rf"^{field}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M).group(1))


def private_kib(pid: int | str) -> int:
    """The private dirty memory of a process, in KiB: pages it wrote that no other process shares."""
    return int(re.search(r"^Private_Dirty:\s+(\d+) kB", Path(f"/proc/{pid}/smaps_rollup").read_text(), re.M).group(1))


def evaluate_in_child(store: ox.Store, query: str, report: int, proceed: int) -> None:
    """The forked child's part: report its RSS, evaluate, hand freed heap back, report the outcome, then wait to
    be measured and exit."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # a child inherits its parent's peak RSS: start it afresh
        os.write(report, b"%d\n" % status_kib("self", "VmRSS"))
        store.query(query, use_default_graph_as_union=True).serialize(format=ox.QueryResultsFormat.JSON)
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        os.write(report, b"answered\n")
    except Exception:  # the table reports it; the child must reach os._exit whatever happens
        os.write(report, b"failed\n")
    os.read(proceed, 1)
    os._exit(0)


def measure(store: ox.Store, query: str, timeout: float) -> tuple[str, int, int, int]:
    """Fork a child that evaluates `query`: its outcome, its RSS before the query, its peak RSS and its private
    memory after the query, in KiB."""
    report_read, report_write = os.pipe()
    proceed_read, proceed_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        evaluate_in_child(store, query, report_write, proceed_read)
    os.close(report_write)
    reports = os.fdopen(report_read, "rb", buffering=0)  # unbuffered: a line read ahead would hide from select
    outcome = "stopped"
    try:
        start = int(reports.readline())  # its mapped files count only once it touches them: not the parent's RSS
        ready, _, _ = select.select([reports], [], [], timeout)
        if ready:
            outcome = reports.readline().decode().strip()
        peak, private = status_kib(pid, "VmHWM"), private_kib(pid)
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
    loaded = private_kib("self")
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
