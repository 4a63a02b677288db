"""Benchmark: opening the built store and answering a first query, against parsing the Turtle at start.

Each measurement runs in a fresh Python process (so nothing is cached in memory), five times; the table
shows the median and the range. Run `autokg build` first (the script does it if needed).

    .venv/bin/python bench/store_open.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys

FIRST_QUERY = "SELECT (COUNT(*) AS ?n) WHERE { ?s a <https://w3id.org/autokg/ontology#Company> }"

OPEN_STORE = f"""
import time
t = time.perf_counter()
from autokg.config import project_files
from autokg.stores.embedded import open_store
store = open_store(project_files())
list(store.query({FIRST_QUERY!r}, use_default_graph_as_union=True))
print(time.perf_counter() - t)
"""

PARSE_TURTLE = f"""
import time
t = time.perf_counter()
from autokg.config import project_files
from autokg.rdf.loading import load_project
project = load_project(project_files())
graph = project.everything()
list(graph.query({FIRST_QUERY!r}))
print(time.perf_counter() - t)
"""

IMPORT_ONLY = """
import time
t = time.perf_counter()
import autokg.stores.embedded, autokg.rdf.loading
print(time.perf_counter() - t)
"""


def measure(code: str, runs: int = 5) -> list[float]:
    """Run `code` in fresh interpreters and collect the seconds each printed."""
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
        times.append(float(out.strip().splitlines()[-1]))
    return times


def main() -> None:
    """Print the table."""
    from autokg.build.artefacts import build
    from autokg.config import project_files
    from autokg.stores.embedded import current_store

    if current_store(project_files()) is None:
        build(project_files())
    rows = [
        ("import autokg modules (anchor)", measure(IMPORT_ONLY)),
        ("open built store + first query", measure(OPEN_STORE)),
        ("parse Turtle + first query (rdflib, anchor)", measure(PARSE_TURTLE)),
    ]
    print(f"{'measurement':<46} {'median s':>9} {'min s':>8} {'max s':>8}")
    for name, times in rows:
        print(f"{name:<46} {statistics.median(times):>9.3f} {min(times):>8.3f} {max(times):>8.3f}")


if __name__ == "__main__":
    main()
