"""The query child: it answers, and it retires once it holds too much memory of its own; lookups skip it."""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import pickle
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pyoxigraph as ox
import pytest

from autokg import executor as executor_module
from autokg.executor import Executor, Job, private_bytes

SCAN = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


@pytest.fixture
def store(files):
    store = ox.Store()
    store.bulk_load(path=str(files.root / "dist" / "autokg.nq"), format=ox.RdfFormat.N_QUADS)
    return store


def idle_pid(runner: Executor) -> int | None:
    """The pid of the child kept idle for the next job, or None."""
    idle = runner.idle.get()
    return idle[-1].pid if idle else None


def run_twice(store: ox.Store) -> tuple[int | None, int | None]:
    """The child's pid after a first and after a second job (None: the child retired)."""
    runner = Executor(store)
    job = Job(SCAN, "text/csv", None)
    try:
        assert runner.run(job, 10).status == 200
        first = idle_pid(runner)
        assert runner.run(job, 10).status == 200
        return first, idle_pid(runner)
    finally:
        runner.stop()


def growing_memory():
    """Readings of memory_bytes that share nothing and hold one byte more each time."""
    readings = itertools.count()
    return lambda: (next(readings), 0)


def test_a_child_over_its_memory_limit_retires(store, monkeypatch):
    monkeypatch.setattr(executor_module, "CHECK_AFTER_SECONDS", 0.0)
    # nothing shared and a byte more of its own at each reading: every check finds the 0-byte budget exceeded
    monkeypatch.setattr(executor_module, "PRIVATE_LIMIT", 0)
    monkeypatch.setattr(executor_module, "memory_bytes", growing_memory())
    assert run_twice(store) == (None, None)


def test_a_child_within_its_limit_stays(store, monkeypatch):
    monkeypatch.setattr(executor_module, "CHECK_AFTER_SECONDS", 0.0)
    monkeypatch.setattr(executor_module, "PRIVATE_LIMIT", 1 << 40)
    first, second = run_twice(store)
    assert first == second is not None


def test_private_bytes_reads_this_process():
    assert 0 < private_bytes() < 1 << 40


SINGLE_PATTERN = "SELECT ?p ?o WHERE { <https://w3id.org/autokg/id/ford> ?p ?o }"


def test_a_single_pattern_runs_without_a_child(store):
    runner = Executor(store)
    outcome = runner.run(Job(SINGLE_PATTERN, "text/csv", None), 10)
    assert outcome.status == 200 and outcome.rows > 5
    assert idle_pid(runner) is None, "a lookup forked a query child"
    assert runner.run(Job(SCAN, "text/csv", None), 10).status == 200
    assert idle_pid(runner) is not None, "a query with an aggregate ran outside the child"
    runner.stop()


@pytest.mark.parametrize("max_rows, timeout, in_process", [(10, 10, True), (10, 0.5, False), (10**6, 10, False)])
def test_the_caps_bound_a_single_pattern_in_process(store, max_rows, timeout, in_process):
    runner = Executor(store)
    job = Job("SELECT * WHERE { ?s ?p ?o }", "application/sparql-results+json", None, max_rows=max_rows)
    assert runner.runs_in_process(job, timeout) is in_process
    if in_process:
        outcome = runner.run(job, timeout)
        assert outcome.status == 422 and b"limit of 10 rows" in outcome.body
        assert idle_pid(runner) is None
    runner.stop()


def test_the_server_keeps_the_settings_and_a_worker_rss_ceiling(tmp_path):
    from autokg import serving

    dataset = tmp_path / "tiny.nq"
    dataset.write_text("<https://example.org/a> <https://example.org/b> <https://example.org/c> .\n")
    server, app = serving.build_server({"DATASET": str(dataset), "WORKERS": 3, "THREADS": 5, "PORT": 0, "LOG_LEVEL": "warning"})
    assert app.extensions["autokg"].triples == 1
    assert (server.workers, server.blocking_threads, server.respawn_failed_workers) == (3, 5, True)
    private, shared = executor_module.memory_bytes()
    assert server.workers_rss >= 2 * (private + shared) * 0.9, "a worker would be replaced before it grew"


SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


@contextlib.contextmanager
def slow_query_running(runner: Executor):
    """A thread that runs a query past its 3 s timeout through the runner's gate; yields its future status."""
    slow_started = threading.Event()

    def slow() -> int:
        with runner.gate.held():
            slow_started.set()
            return runner.run(Job(SLOW, "text/csv", None), 3).status

    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(slow)
            assert slow_started.wait(10)
            time.sleep(0.2)  # the slow job is in its child now
            yield pending
    finally:
        runner.stop()


def test_the_gate_lets_another_thread_in_while_one_waits_for_a_slow_query(store):
    runner = Executor(store)
    with slow_query_running(runner) as pending:
        started = time.perf_counter()
        with runner.gate.held():
            assert runner.run(Job(SCAN, "text/csv", None), 3).status == 200
        assert time.perf_counter() - started < 2, "the second query waited for the first"
        assert not pending.done()
        assert pending.result() == 503
        assert len(runner.idle.get()) == 1, "the children of both jobs were kept, or none"


def test_a_query_waits_for_a_free_slot_no_longer_than_its_timeout(store):
    runner = Executor(store, slots=1)
    with slow_query_running(runner) as pending:
        started = time.perf_counter()
        with runner.gate.held():
            outcome = runner.run(Job(SCAN, "text/csv", None), 0.5)
        assert outcome.status == 503 and b"busy" in outcome.body
        assert 0.4 < time.perf_counter() - started < 2
        assert pending.result() == 503


def holding_a_slot_in_a_child(slots: executor_module.QuerySlots, release: bool) -> int:
    """Fork a process that takes a slot and then ends (giving it back first, or not); its pid once it holds one."""
    ready_read, ready_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        slot = slots.take(1)
        os.write(ready_write, b"1" if slot is not None else b"0")
        time.sleep(0.3)
        if release and slot is not None:
            slots.give_back(slot)
        os._exit(0)
    assert os.read(ready_read, 1) == b"1"
    os.close(ready_read)
    os.close(ready_write)
    return pid


@pytest.mark.parametrize("release", [True, False], ids=["given back", "process ended holding it"])
def test_slots_are_shared_with_forked_workers_and_come_back(release):
    slots = executor_module.QuerySlots(2)
    mine = slots.take(0)
    pid = holding_a_slot_in_a_child(slots, release)
    assert slots.take(0.05) is None, "a third query got in while another process held the second slot"
    started = time.monotonic()
    theirs = slots.take(5)
    assert theirs is not None and theirs != mine and time.monotonic() - started < 2
    os.waitpid(pid, 0)
    slots.give_back(theirs)
    slots.give_back(mine)


def test_a_slot_freed_in_this_process_goes_to_a_waiting_thread_at_once():
    slots = executor_module.QuerySlots(1)
    slots.POLL_SECONDS = 10  # so that only the notice of the slot freed here can wake the waiting thread in time
    mine = slots.take(0)
    with ThreadPoolExecutor(max_workers=1) as pool:
        waiting = pool.submit(slots.take, 5)
        time.sleep(0.1)
        assert not waiting.done(), "two threads of one process held the one slot"
        freed = time.monotonic()
        slots.give_back(mine)
        assert waiting.result() == mine and time.monotonic() - freed < 0.05


def test_opening_a_gate_that_is_not_held_changes_nothing():
    gate = executor_module.Gate()
    with gate.opened():
        assert not gate.lock.locked()
    with gate.held():
        with gate.opened():
            assert gate.lock.acquire(blocking=False)
            gate.lock.release()
        assert gate.lock.locked()
    assert not gate.lock.locked()


MIB = 1 << 20


@pytest.mark.parametrize("private_now, exceeded", [(50 * MIB, False), (110 * MIB, False), (111 * MIB, True)])
def test_the_budget_is_the_shared_memory(monkeypatch, private_now, exceeded):
    readings = iter([(10 * MIB, 100 * MIB), (private_now, 100 * MIB)])
    monkeypatch.setattr(executor_module, "memory_bytes", lambda: next(readings))
    budget = executor_module.MemoryBudget.from_now()
    assert (budget.baseline, budget.limit) == (10 * MIB, 100 * MIB)
    assert budget.exceeded() is exceeded


def test_the_budget_is_at_least_the_private_limit(monkeypatch):
    monkeypatch.setattr(executor_module, "memory_bytes", lambda: (10 * MIB, 8 * MIB))
    assert executor_module.MemoryBudget.from_now().limit == executor_module.PRIVATE_LIMIT


@pytest.mark.parametrize("size", [0, 100, 1 << 20])
def test_an_outcome_crosses_to_the_parent_whole_and_as_bytes(size):
    sending, receiving = multiprocessing.Pipe()
    body = bytearray(os.urandom(size))
    # a body larger than the socket's buffer is read while it is sent
    sender = threading.Thread(target=executor_module.send_outcome,
                              args=(sending, executor_module.Outcome(200, "text/csv", body, rows=3), True))
    sender.start()
    outcome, retiring = executor_module.receive_outcome(receiving)
    sender.join()
    assert (outcome, retiring) == (executor_module.Outcome(200, "text/csv", bytes(body), rows=3), True)
    assert type(outcome.body) is bytes


def test_a_child_that_dies_between_the_two_messages_is_an_error():
    sending, receiving = multiprocessing.Pipe()
    sending.send_bytes(pickle.dumps((executor_module.text_outcome(200, "half"), False)))
    sending.close()
    with pytest.raises(EOFError):
        executor_module.receive_outcome(receiving)


def test_the_capped_buffer_holds_what_was_written_in_one_bytearray():
    buffer = executor_module.CappedBuffer(ox.QueryResultsFormat.CSV, max_rows=10, max_bytes=100)
    for chunk in (b"n\r\n1", b"\r\n2\r\n", memoryview(b"3\r\n")):
        buffer.write(chunk)
    assert buffer.value() == bytearray(b"n\r\n1\r\n2\r\n3\r\n") and buffer.rows - buffer.header_lines == 3
