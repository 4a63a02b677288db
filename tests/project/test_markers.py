"""Markers (issue 23): every test that starts a server carries `live`, so that `make test-fast` leaves it out."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from support.paths import ROOT
from support.servers import oxigraph_server, serving
from support.starters import OUTPUT, starts_server


def asks_for_some_server(request):
    return request.getfixturevalue("some_server")


def calls_serving():
    with serving("--workers", "1") as base:
        return base


def runs_autokg_serve():
    return subprocess.run([sys.executable, "-m", "autokg.cli", "serve", "--port", "0"], check=False)


def imports_its_helper():
    from support.servers import oxigraph_server as start
    return start


def runs_the_cli_only():
    return subprocess.run([sys.executable, "-m", "autokg.cli", "validate"], check=False)


@pytest.mark.parametrize("function", [calls_serving, runs_autokg_serve, imports_its_helper, oxigraph_server])
def test_what_starts_a_server_is_recognised(function):
    assert starts_server([function])


# the examples come in as parameters, which the check itself does not follow (a test that names one would be live)
@pytest.mark.parametrize("asks, fixture", [(asks_for_some_server, calls_serving)])
def test_a_fixture_asked_for_by_name_is_followed(asks, fixture):
    assert starts_server([asks], {"some_server": fixture}.get)
    assert not starts_server([asks])


@pytest.mark.parametrize("function", [runs_the_cli_only, starts_server])
def test_what_starts_none_is_not_taken_for_a_server(function):
    assert not starts_server([function])


@pytest.mark.slow
def test_every_test_that_starts_a_server_is_marked_live(tmp_path):
    out = tmp_path / "starters.json"
    env = {**os.environ, OUTPUT: str(out), "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT / "bench")])}
    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "support.starters", "-p", "no:cacheprovider"],
                               cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr[-3000:]
    rows = json.loads(out.read_text(encoding="utf-8"))
    starters = {row["test"] for row in rows if row["starts"]}
    # the check sees the servers that the suite is known to start, through fixtures, helpers and subprocesses
    for known in ("tests/web/test_live.py::test_raw_requests", "tests/project/test_wheel.py::test_serve",
                  "tests/stores/test_virtuoso.py::test_virtuoso_gives_the_embedded_answer[are-tied]",
                  "tests/web/test_lifecycle.py::test_several_servers_share_one_disk_store_and_stop_cleanly",
                  "tests/project/test_bench_soak.py::test_a_short_soak_reports_every_client_and_attacker"):
        assert known in starters, known
    unmarked = sorted(row["test"] for row in rows if row["starts"] and not row["live"])
    assert unmarked == [], f"{len(unmarked)} tests start a server without @pytest.mark.live: {unmarked[:20]}"
