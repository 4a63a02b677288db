"""The synthetic data generator of the benchmarks: deterministic, and its data conforms to the shapes."""

from __future__ import annotations

import sys
from pathlib import Path

from rdflib import Graph

from autokg.config import project_files

sys.path.insert(0, str(project_files().root / "bench"))
import gen  # noqa: E402

from autokg.validation import validate_graph  # noqa: E402


def test_generator_is_deterministic():
    assert gen.generate(3000, seed=7) == gen.generate(3000, seed=7)
    assert gen.generate(3000, seed=7) != gen.generate(3000, seed=8)


def test_generated_data_conforms(project):
    data = Graph().parse(data="\n".join(gen.generate(8000, seed=3)), format="nt")
    report = validate_graph(data, project)
    serious = [f for f in report.findings if f.severity != "Info"]
    assert serious == [], report.as_text()[:3000]


def test_generated_dataset_has_three_graphs(tmp_path: Path):
    out = tmp_path / "syn.nq"
    gen.write_dataset(gen.generate(3000, seed=1), out)
    graphs = {line.rsplit(" ", 2)[-2] for line in out.read_text().splitlines() if line}
    assert graphs == {f"<https://w3id.org/autokg/graph/{part}>" for part in ("ontology", "data", "shortcuts")}
