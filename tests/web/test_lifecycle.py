"""Server lifecycle: SIGTERM lets requests in flight finish, and a killed worker is replaced."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from autokg.engine.kill_on_timeout.child import CHILD_NAME
from support.paths import ROOT
from support.servers import free_port, still_running, wait_until

pytestmark = pytest.mark.live

SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f }"  # about 2 s on the shipped data


def start(port: int, log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "autokg.cli", "serve", "--port", str(port), "--workers", "2", "--query-slots", "2", "--timeout", "20"],
        stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,  # a group of its own, so that the teardown can reach the workers too
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).read()
            return process
        except OSError:
            time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    raise RuntimeError(log.read_text())


def get(port: int, query: str, timeout: float = 30) -> tuple[int, bytes]:
    url = f"http://127.0.0.1:{port}/sparql?" + urllib.parse.urlencode({"query": query})
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def children(pid: int, query_children: bool = False) -> list[int]:
    """The pids of a process's workers, or of its query children."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return [child for child in found if is_query_child(child) is query_children]


def is_query_child(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_bytes().strip() == CHILD_NAME
    except OSError:
        return False


@pytest.fixture
def server(tmp_path):
    port = free_port()
    process = start(port, tmp_path / "server.log")
    yield port, process
    if process.poll() is None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
    # whatever a failing test left behind, workers included, must not serve on its port after the suite
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@pytest.mark.slow
def test_sigterm_finishes_requests_in_flight(server):
    port, process = server
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(get, port, SLOW)
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        status, body = pending.result(timeout=60)
    assert status == 200
    assert int(json.loads(body)["results"]["bindings"][0]["n"]["value"]) > 1_000_000
    assert process.wait(timeout=60) == 0


def test_a_killed_worker_is_replaced(server):
    port, process = server
    assert get(port, "ASK { ?s ?p ?o }")[0] == 200
    wait_until(lambda: len(children(process.pid)) == 2, 20)
    workers = children(process.pid)
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    wait_until(lambda: len(children(process.pid)) == 2 and workers[0] not in children(process.pid), 20)
    assert len(children(process.pid)) == 2 and workers[0] not in children(process.pid)
    assert [get(port, "ASK { ?s ?p ?o }")[0] for _ in range(6)] == [200] * 6


def test_a_killed_query_child_is_replaced(server):
    port, process = server
    query = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    assert get(port, query)[0] == 200
    wait_until(lambda: len(children(process.pid, query_children=True)) == 2, 20)
    before = children(process.pid, query_children=True)
    assert len(before) == 2, "one query child per slot, forked by the master"
    for pid in before:
        os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: len(set(children(process.pid, query_children=True)) - set(before)) == 2, 20)
    assert [get(port, query)[0] for _ in range(4)] == [200] * 4


def test_the_workers_and_query_children_end_with_a_killed_master(server):
    port, process = server
    assert get(port, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")[0] == 200
    wait_until(lambda: len(children(process.pid)) == 2 and len(children(process.pid, query_children=True)) == 2, 20)
    left = children(process.pid) + children(process.pid, query_children=True)
    assert len(left) == 4
    process.kill()  # as the OOM killer would: the master cannot stop them itself
    process.wait()
    assert still_running(left, within=15) == [], "a worker or query child outlived its master"


def test_several_servers_share_one_disk_store_and_stop_cleanly():
    from support.servers import serving
    with serving("--store", "disk", "--workers", "2", log_name="disk-a.log") as first, \
            serving("--store", "disk", "--workers", "2", log_name="disk-b.log") as second:
        for base in (first, second):
            for path in ("/id/im-motors", "/queries/joint-ventures"):
                with urllib.request.urlopen(base + path, timeout=30) as response:
                    assert response.status == 200
            assert json.loads(urllib.request.urlopen(base + "/health", timeout=10).read())["store"] == "oxigraph (disk)"
    dist = ROOT / "dist"
    for log in ("disk-a.log", "disk-b.log"):
        text = (dist / log).read_text()
        # a RocksDB handle freed in the interpreter's teardown used to crash workers here; granian logs such a
        # worker as stopped, and the fault handler that `serve` enables writes the crash
        assert "Unexpected exit" not in text and "Fatal Python error" not in text and "shutdown completed" in text
