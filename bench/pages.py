"""Benchmark: the work of the name search (/search) and of an unknown entity's near matches (/id/<unknown>).

    .venv/bin/python bench/pages.py --triples 100000
    .venv/bin/python bench/pages.py --triples 1000000 --reps 21

Neither page runs in a query slot, so what one request costs in the worker is what a handful of clients can
take from every other request of that worker. This measures it in-process (Flask's test client on the app
built on synthetic data, bench/gen.py): the median and the slowest of `--reps` sequential requests per path,
and the time the app took to load (the store and, where there is one, the name index).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from endpoint import synthetic_dataset  # noqa: E402

from autokg.app import create_app  # noqa: E402

#: what users type: a frequent word, a whole name, a name's start, one letter, nothing that matches,
#: and unknown slugs one letter or one word away from real ones
PATHS = (
    "/search?q=motor",
    "/search?q=Mount+Star+1671",
    "/search?q=mount+st",
    "/search?q=a",
    "/search?q=qqqzzz",
    "/search?q=" + quote("智己"),
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


def main() -> None:
    parser = argparse.ArgumentParser(description="autokg search and near-match page benchmark")
    parser.add_argument("--triples", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reps", type=int, default=11, help="sequential requests per path")
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


if __name__ == "__main__":
    main()
