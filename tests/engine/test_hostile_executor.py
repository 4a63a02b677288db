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


def test_one_clients_queries_hold_at_most_its_share_of_the_slots_and_queue(store):
    with running_executor(store, slots=1, queue=2, threads=4, per_client=4, client_queries=1) as runner:
        def run(client: str, query: str, timeout: float):
            runner.waiting.serve(client)
            return runner.run(Job(query, "text/csv", None), timeout)

        with ThreadPoolExecutor(max_workers=2) as pool:
            running = pool.submit(run, "192.0.2.1", SLOW, 2)
            threading.Event().wait(0.3)
            turned_away = run("192.0.2.1", QUICK, 30)  # at once: its share of the 3 places is 1
            assert turned_away.status == 429 and ("Retry-After", "2") in turned_away.headers
            assert b"Your queries already hold 1 of this server's 1 query slots and 2 places" in turned_away.body
            waiting = pool.submit(run, "198.51.100.2", QUICK, 30)  # another client waits in the queue
            assert running.result(timeout=10).status == 503 and waiting.result(timeout=10).status == 200
        assert run("192.0.2.1", QUICK, 30).status == 200  # the share came back


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
    from autokg.engine.gate import Allowance
    from autokg.web.access import AccessLog
    from autokg.web.app import LongPages

    release = threading.Event()

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/search":
            release.wait(10)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    log = tempfile.TemporaryFile()
    gated = LongPages(app, Allowance(1), AccessLog(log.fileno()))

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


def hold_places(allowance, clients: list[str | None], release: threading.Event) -> list[bool]:
    """Threads that each serve one of `clients` and try to enter the allowance, holding what they took until
    `release`; what each got, once all have tried."""
    tried = threading.Barrier(len(clients) + 1)
    got: list[bool] = [False] * len(clients)

    def hold(index: int, client: str | None) -> None:
        allowance.serve(client)
        got[index] = allowance.enter()
        tried.wait(5)
        if got[index]:
            release.wait(10)
            allowance.leave()

    threads = [threading.Thread(target=hold, args=pair) for pair in enumerate(clients)]
    for thread in threads:
        thread.start()
        threading.Event().wait(0.05)  # in order
    tried.wait(5)
    return got


def test_one_client_holds_at_most_its_share_of_the_places_for_long_requests():
    from autokg.engine.gate import Allowance
    from autokg.errors import ClientBusy

    allowance, release = Allowance(3, per_client=2), threading.Event()
    try:
        # the flooding client takes two places and is refused the third; another client takes it
        assert hold_places(allowance, ["192.0.2.1", "192.0.2.1", "192.0.2.1", "198.51.100.2"], release) == [True, True, False, True]
        allowance.serve("198.51.100.3")  # the places are all taken now: 503 for anyone
        assert not allowance.enter() and allowance.refusal().status == 503
        allowance.serve("192.0.2.1")
        assert not allowance.enter()
        refusal = allowance.refusal()
        assert isinstance(refusal, ClientBusy) and refusal.status == 429 and "2 of this worker's 3 threads" in str(refusal)
    finally:
        release.set()
    threading.Event().wait(0.2)
    allowance.serve("192.0.2.1")  # the places came back, and the share with them
    assert allowance.enter() and allowance.enter()  # a thread enters at most once: one place
    allowance.leave(), allowance.leave()
    assert allowance.state.get().taken == 0 and allowance.state.get().by_client == {}


def test_requests_that_name_no_client_are_held_to_the_allowance_alone():
    from autokg.engine.gate import Allowance

    release = threading.Event()
    try:
        assert hold_places(Allowance(3, per_client=1), [None, None, None, None], release) == [True, True, True, False]
    finally:
        release.set()


def test_the_client_behind_a_trusted_proxy_is_the_one_it_names():
    from autokg.engine.gate import Allowance
    from autokg.web.access import AccessLog
    from autokg.web.bodies import BoundedBodies

    seen = []
    allowance = Allowance(3, per_client=2)

    def app(environ, start_response):
        seen.append(allowance.local.client)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    def call(bodies: BoundedBodies, remote: str, forwarded: str) -> None:
        bodies({"PATH_INFO": "/", "REMOTE_ADDR": remote, "HTTP_X_FORWARDED_FOR": forwarded}, lambda *_: None)

    trusting = BoundedBodies(app, 1024, AccessLog(None), allowance, ("127.0.0.1",))
    call(trusting, "127.0.0.1", "203.0.113.9, 192.0.2.4")  # the proxy appended the address it saw last
    call(trusting, "192.0.2.5", "203.0.113.9")  # not a proxy: its header is its own word
    call(BoundedBodies(app, 1024, AccessLog(None), allowance), "127.0.0.1", "192.0.2.4")
    assert seen == ["192.0.2.4", "192.0.2.5", "127.0.0.1"]


def test_a_request_runs_inside_the_gate_refusals_too_and_waits_for_its_body_outside_it():
    import io

    from autokg.engine.gate import Allowance, Gate
    from autokg.web.access import AccessLog
    from autokg.web.app import GatedRequests
    from autokg.web.bodies import BoundedBodies

    gate, held = Gate(), []

    class Body(io.BytesIO):
        def read(self, *size):
            held.append(("body", gate.local.held))
            return super().read(*size)

    def app(environ, start_response):
        held.append(("app", gate.local.held))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    served = GatedRequests(BoundedBodies(app, 8, AccessLog(None), Allowance(2), (), gate), gate)

    def call(length: int) -> str:
        started = []
        environ = {"PATH_INFO": "/sparql", "REQUEST_METHOD": "POST", "REMOTE_ADDR": "127.0.0.1",
                   "CONTENT_LENGTH": str(length), "wsgi.input": Body(b"x" * length)}
        b"".join(served(environ, lambda status, headers: started.append(status)))
        return started[0]

    assert call(4).startswith("200") and held[0] == ("body", False) and held[-1] == ("app", True)
    with ThreadPoolExecutor(max_workers=1) as pool:
        with gate.held():  # another request runs: a refusal waits its turn, as any request does
            refused = pool.submit(call, 9)
            threading.Event().wait(0.2)
            assert not refused.done()
        assert refused.result(timeout=5).startswith("413")
