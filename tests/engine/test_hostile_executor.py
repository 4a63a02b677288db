"""The executor's bounds, reached: the queue of query slots, the threads that may wait, a child's memory."""

from __future__ import annotations

import logging
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor

from autokg.engine.executor import Executor
from autokg.engine.jobs import Job
from autokg.engine.memory import MIB
from support.executors import running_executor
from support.queries import doubling

SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
QUICK = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


def run_in_threads(runner: Executor, jobs: list[tuple[str, float]], started_first: int) -> list:
    """Run jobs in threads, the first `started_first` of them given time to reach their child or the queue."""
    pool = ThreadPoolExecutor(max_workers=len(jobs))
    futures = []
    for index, (query, timeout) in enumerate(jobs):
        futures.append(pool.submit(runner.run, Job(query, "text/csv", None), timeout))
        if index < started_first:
            threading.Event().wait(0.3)
    pool.shutdown(wait=False)
    return futures


def test_a_query_past_the_slots_and_their_queue_is_turned_away_at_once(store):
    with running_executor(store, slots=1, queue=1) as runner:
        running, queued, turned_away = run_in_threads(runner, [(SLOW, 3), (SLOW, 3), (QUICK, 30)], started_first=2)
        outcome = turned_away.result(timeout=1)  # at once, not after the others or the 30 s timeout
        assert outcome.status == 503 and ("Retry-After", "2") in outcome.headers
        assert b"places of their queue are taken" in outcome.body
        assert running.result().status == 503 and queued.result().status == 503  # each stopped at its timeout


def test_time_in_the_queue_counts_toward_the_timeout(store):
    with running_executor(store, slots=1, queue=1) as runner:
        running, queued = run_in_threads(runner, [(SLOW, 3), (QUICK, 1)], started_first=1)
        outcome = queued.result(timeout=2)
        assert outcome.status == 503 and ("Retry-After", "2") in outcome.headers
        running.result()


def test_no_more_threads_than_allowed_wait_for_queries(store):
    with running_executor(store, slots=1, queue=4, threads=1) as runner:
        running, turned_away = run_in_threads(runner, [(SLOW, 3), (QUICK, 30)], started_first=1)
        outcome = turned_away.result(timeout=1)
        assert outcome.status == 503 and b"threads for long requests are all receiving bodies, waiting for queries" in outcome.body
        assert ("Retry-After", "2") in outcome.headers
        running.result()
        assert runner.run(Job(QUICK, "text/csv", None), 10).status == 200  # the thread is given back


def test_a_query_over_the_memory_limit_is_stopped_and_said_so(store, caplog):
    caplog.set_level(logging.INFO, logger="autokg.engine.kill_on_timeout.keeper")
    with running_executor(store, slots=1, memory=64 * MIB) as runner:
        assert runner.run(Job(doubling(10), "text/csv", None), 20).status == 200  # 1 KiB: well within
        outcome = runner.run(Job(doubling(28), "text/csv", None), 20)  # 256 MiB
        assert outcome.status == 422
        assert b"limit of 64 MiB of working memory" in outcome.body
        assert any("aborted (SIGABRT)" in record.getMessage() and "64 MiB" in record.getMessage() for record in caplog.records)
        assert runner.run(Job(QUICK, "text/csv", None), 10).status == 200  # a fresh child took the slot


def test_a_page_takes_a_place_for_long_requests_and_is_turned_away_without_one():
    from autokg.engine.gate import Allowance, Gate
    from autokg.web.access import AccessLog
    from autokg.web.app import GatedRequests

    release = threading.Event()

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/search":
            release.wait(10)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    log = tempfile.TemporaryFile()
    gated = GatedRequests(app, Gate(), Allowance(1), AccessLog(log.fileno()))

    def call(path: str) -> tuple[str, list, bytes]:
        started = []
        body = gated({"PATH_INFO": path, "REQUEST_METHOD": "GET"}, lambda status, headers: started.append((status, headers)))
        return started[0][0], started[0][1], b"".join(body)

    with ThreadPoolExecutor(max_workers=1) as pool:
        rendering = pool.submit(call, "/search")
        threading.Event().wait(0.2)
        status, headers, body = call("/id/x")  # the one place is taken: turned away at once
        assert status.startswith("503") and ("Retry-After", "2") in headers and b"rendering pages" in body
        log.seek(0)
        assert [line.split()[1:4] for line in log.read().decode().splitlines()] == [["GET", "/id/x", "503"]]
        release.set()
        assert rendering.result(timeout=5)[0].startswith("200")
    assert call("/id/x")[0].startswith("200")  # the place came back
