"""Benchmark: the work of the name search (/search) and of an unknown entity's near matches (/id/<unknown>).

    .venv/bin/python bench/pages.py --triples 100000
    .venv/bin/python bench/pages.py --triples 1000000 --reps 21
    .venv/bin/python bench/pages.py --live --clients 16 --duration 10

Neither page runs in a query slot, so what one request costs in the worker is what a handful of clients can
take from every other request of that worker. This measures it in-process (Flask's test client on the app
built on synthetic data, bench/gen.py): the median and the slowest of `--reps` sequential requests per path,
and the time the app took to load (the store and, where there is one, the name index). With `--live`, it also
starts `autokg serve` (its defaults) on 127.0.0.1 and measures entity lookups, one at a time, alone and then while
`--clients` threads ask for these pages for `--duration` seconds: what a handful of clients on them cost everyone.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlencode

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from autokg.web.app import create_app  # noqa: E402

from endpoint import ACCEPT, Server, free_port, synthetic_dataset, workloads  # noqa: E402

#: what users type: a frequent word, a whole name, a name's start, one letter, nothing that matches,
#: and unknown slugs one letter or one word away from real ones
PATHS = (
    "/search?q=motor",
    "/search?q=Mount+Star+1671",
    "/search?q=mount+st",
    "/search?q=a",
    "/search?q=qqqzzz",
    "/search?q=" + quote("腾讯"),
    "/id/syn-org-16710",
    "/id/mount-star-1671x",
    "/id/no-such-thing-at-all",
)


def timed(client, path: str, reps: int) -> tuple[float, float, int]:
    """Median and slowest milliseconds of `reps` requests of `path`, and the status of the last."""
    times, status = [], 0
    for _ in range(reps):
        started = time.perf_counter()
        response = client.get(path, headers={"Accept": "text/html"})
        times.append((time.perf_counter() - started) * 1000)
        status = response.status_code
    return statistics.median(times), max(times), status


def get(url: str, accept: str = "text/html") -> int:
    """The status of a GET, errors included."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": accept}), timeout=60) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        error.read()
        return error.code


def lookup_times(sparql: str, lookups: list[str], until: float) -> list[float]:
    """Milliseconds of each lookup, one at a time, until the lookups or the time run out."""
    times = []
    for query in lookups:
        if time.monotonic() > until:
            break
        started = time.perf_counter()
        get(f"{sparql}?{urlencode({'query': query})}", ACCEPT)
        times.append((time.perf_counter() - started) * 1000)
    return times


def percentiles(times: list[float]) -> str:
    ordered = sorted(times)
    return f"{statistics.median(ordered):>9.2f} {ordered[int(0.99 * (len(ordered) - 1))]:>9.2f} {len(ordered):>6}"


def attack(base: str, paths: tuple[str, ...], stop: float, answered) -> None:
    """Ask for `paths` in turn until `stop` (time.time()), counting the answers in `answered`."""
    while time.time() < stop:
        for path in paths:
            get(base + path)
            with answered.get_lock():
                answered.value += 1


def under_clients(base: str, lookups: list[str], paths: tuple[str, ...], clients: int, duration: float) -> tuple[list[float], int]:
    """Lookup times while `clients` processes (not threads: the lookups must not wait for their GIL) ask for `paths`."""
    answered = multiprocessing.Value("l", 0)
    stop = time.time() + duration
    attackers = [multiprocessing.Process(target=attack, args=(base, paths, stop, answered)) for _ in range(clients)]
    for process in attackers:
        process.start()
    time.sleep(0.5)  # let them all start
    times = lookup_times(base + "/sparql", lookups, time.monotonic() + duration - 1)
    for process in attackers:
        process.join(duration + 60)
    return times, answered.value


def live(nquads: Path, clients: int, duration: float, seed: int) -> None:
    """Lookup latency on `autokg serve`, alone and while `clients` ask for /health, then for the pages above."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = Server("autokg", [sys.executable, "-m", "autokg.cli", "serve", "--port", str(port), "--dataset", str(nquads)],
                    base + "/sparql")
    try:
        _, lookups = workloads(nquads, 100_000, seed)
        print(f"\nlive, autokg serve with its defaults; lookups one at a time for {duration:.0f} s")
        print(f"{'lookups':<40} {'median ms':>9} {'p99 ms':>9} {'count':>6} {'pages':>6}")
        print(f"{'alone':<40} {percentiles(lookup_times(base + '/sparql', lookups, time.monotonic() + duration))} {0:>6}")
        for what, paths in (("/health", ("/health",)), ("the pages above", PATHS)):
            times, answered = under_clients(base, lookups, paths, clients, duration)
            print(f"{f'{clients} clients on {what}':<40} {percentiles(times)} {answered:>6}")
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="autokg search and near-match page benchmark")
    parser.add_argument("--triples", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reps", type=int, default=11, help="sequential requests per path")
    parser.add_argument("--live", action="store_true", help="also measure lookups on a live server while clients ask for the pages")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10, help="seconds of each live run")
    args = parser.parse_args()
    nquads = synthetic_dataset(args.triples, args.seed)
    started = time.perf_counter()
    app = create_app({"TESTING": True, "DATASET": str(nquads), "LOG_LEVEL": "warning"})
    loaded = time.perf_counter() - started
    client = app.test_client()
    print(f"{args.triples:,} triples (seed {args.seed}); app loaded in {loaded:.2f} s; {args.reps} requests per path")
    print(f"{'path':<34} {'status':>6} {'median ms':>10} {'max ms':>9}")
    for path in PATHS:
        median, slowest, status = timed(client, path, args.reps)
        print(f"{path:<34} {status:>6} {median:>10.2f} {slowest:>9.2f}")
    if args.live:
        live(nquads, args.clients, args.duration, args.seed)


if __name__ == "__main__":
    main()
