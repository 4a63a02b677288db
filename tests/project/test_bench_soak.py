"""The soak script (bench/soak.py): its examples hold, and a short run on tiny data prints the whole table, with
requests from every client of the mix in both phases and from every attacker under attack."""

from __future__ import annotations

import doctest
import subprocess
import sys
from pathlib import Path

import pytest

from autokg.config import project_files

BENCH = project_files().root / "bench"
import soak


def test_the_soak_examples_hold():
    results = doctest.testmod(soak)
    assert results.attempted > 0 and results.failed == 0


def rows(table: str) -> list[list[str]]:
    """The cells of every Markdown table row but the header rules."""
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()
            if line.startswith("|") and not line.startswith("|---")]


@pytest.mark.live
@pytest.mark.slow
def test_a_short_soak_reports_every_client_and_attacker():
    # 4 s per phase on 3,000 triples, with the attacks made small (a short bomb, few idle connections): each
    # attacker still sends, and the run (server start and stop included) stays within about 25 s
    run = subprocess.run(
        [sys.executable, str(BENCH / "soak.py"), "--triples", "3000", "--seconds", "8", "--idle", "20",
         "--doublings", "10", "--comment-pairs", "6", "--nesting", "200", "--flood", "2", "--search-flood", "2",
         "--recovery", "2"],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    cells = rows(run.stdout)
    requests = {(row[0], row[1]): int(row[2]) for row in cells if len(row) == 6 and row[2].isdigit()}
    for kind in soak.MIX:
        assert requests.get(("without attackers", kind), 0) > 0, kind
        assert requests.get(("with attackers", kind), 0) > 0, kind
    for attacker in soak.ATTACKERS:
        assert requests.get(("with attackers", attacker), 0) > 0, attacker
        assert ("without attackers", attacker) not in requests
    measures = {row[0]: row[1:] for row in cells if len(row) == 4}
    for measure in ("lookup p50 ms", "lookup p99 ms (target: under attack within 3x)", "peak PSS, tree (MiB)",
                    "workers started", "query children started", "log: worker respawns"):
        assert measure in measures, measure
    assert float(measures["peak PSS, tree (MiB)"][0]) > 10
    assert float(measures["lookup p50 ms"][0]) > 0
    assert "lookup p99 under attack / without:" in run.stdout
    log = Path(run.stdout.rsplit("server log: ", 1)[1].strip())
    assert log.exists()
    log.unlink()
