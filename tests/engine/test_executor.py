"""The query child: it answers, and it retires once it holds too much memory of its own; lookups skip it."""

from __future__ import annotations

import contextlib
import itertools
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pyoxigraph as ox
import pytest

from autokg.engine import in_process as in_process_module
from autokg.engine import jobs, memory
from autokg.engine.executor import Executor
from autokg.engine.gate import Gate
from autokg.engine.jobs import Job
from autokg.engine.kill_on_timeout import child, keeper, wire
from autokg.engine.memory import private_bytes
from autokg.engine.slots import QuerySlots
from autokg.errors import AutokgError
from support.executors import running_executor
from support.servers import still_running, wait_until

SCAN = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


def child_pid(runner: Executor, slot: int = 0, other_than: int = 0, within: float = 5.0) -> int:
    """The pid of the slot's query child, once there is one other than `other_than`; 0 if none came in time."""
    seen = [0]

    def another() -> bool:
        seen[0] = runner.children.pid(slot)
        return seen[0] not in (0, other_than)

    return seen[0] if wait_until(another, within, every=0.01) else 0


def growing_memory():
    """Readings of memory_bytes that share nothing and hold one byte more each time."""
    readings = itertools.count()
    return lambda: (next(readings), 0)


def test_a_child_over_its_memory_limit_retires_and_a_fresh_one_takes_its_slot(store, monkeypatch):
    monkeypatch.setattr(child, "CHECK_AFTER_SECONDS", 0.0)
    # nothing shared and a byte more of its own at each reading: every check finds the 0-byte budget exceeded
    monkeypatch.setattr(memory, "PRIVATE_LIMIT", 0)
    monkeypatch.setattr(memory, "memory_bytes", growing_memory())
    with running_executor(store, start=True) as runner:
        first = child_pid(runner)
        assert runner.run(Job(SCAN, "text/csv", None), 10).status == 200
        second = child_pid(runner, other_than=first)
        assert second, "the child stayed, or no child took its place"
        # another text: the same one, answered within 5 ms, would be known to be cheap and skip the child
        assert runner.run(Job(SCAN + " # again", "text/csv", None), 10).status == 200
        assert child_pid(runner, other_than=second)


def test_a_child_within_its_limit_stays(store, monkeypatch):
    monkeypatch.setattr(child, "CHECK_AFTER_SECONDS", 0.0)
    monkeypatch.setattr(memory, "PRIVATE_LIMIT", 1 << 40)
    with running_executor(store, start=True) as runner:
        first = child_pid(runner)
        for _ in range(2):
            assert runner.run(Job(SCAN, "text/csv", None), 10).status == 200
        time.sleep(0.2)
        assert runner.children.pid(0) == first


def test_private_bytes_reads_this_process():
    assert 0 < private_bytes() < 1 << 40


SINGLE_PATTERN = "SELECT ?p ?o WHERE { <https://w3id.org/autokg/id/ford> ?p ?o }"


def test_a_single_pattern_runs_without_a_child(store):
    with running_executor(store) as runner:
        outcome = runner.run(Job(SINGLE_PATTERN, "text/csv", None), 10)
        assert outcome.status == 200 and outcome.rows > 5
        assert not runner.children.started, "a lookup started the query children"
        assert runner.run(Job(SCAN, "text/csv", None), 10).status == 200
        assert runner.children.started and child_pid(runner), "a query with an aggregate ran outside the children"


@pytest.mark.parametrize("max_rows, timeout, in_process", [(10, 10, True), (10, 0.5, False), (10**6, 10, False)])
def test_the_caps_bound_a_single_pattern_in_process(store, max_rows, timeout, in_process):
    with running_executor(store) as runner:
        job = Job("SELECT * WHERE { ?s ?p ?o }", "application/sparql-results+json", None, max_rows=max_rows)
        assert runner.runs_in_process(job, timeout) is in_process
        if in_process:
            outcome = runner.run(job, timeout)
            assert outcome.status == 422 and b"limit of 10 rows" in outcome.body
            assert not runner.children.started


LOOKUPS = [
    SINGLE_PATTERN,
    SINGLE_PATTERN + " LIMIT 2",
    SINGLE_PATTERN + " # a closing comment",
    "ASK { <https://w3id.org/autokg/id/ford> ?p ?o }",
    "PREFIX akr: <https://w3id.org/autokg/id/> SELECT * WHERE { akr:nobody ?p ?o }",
    "SELECT ?p WHERE { undeclared:ford ?p ?o }",
]


@pytest.mark.parametrize("media_type", list(jobs.RESULT_FORMATS) + [None])
@pytest.mark.parametrize("query", LOOKUPS)
@pytest.mark.parametrize("lookup_rows", [3, 1000], ids=["past LOOKUP_ROWS", "within LOOKUP_ROWS"])
@pytest.mark.parametrize("max_rows, max_bytes", [(100_000, 10**8), (4, 10**8), (100_000, 300)], ids=["", "row cap", "byte cap"])
def test_a_lookup_answers_as_the_streamed_path_does(store, monkeypatch, media_type, query, lookup_rows, max_rows, max_bytes):
    monkeypatch.setattr(in_process_module, "LOOKUP_ROWS", lookup_rows)
    job = Job(query, media_type, None, max_rows=max_rows, max_bytes=max_bytes)
    expected = jobs.run_job(store, job)
    assert in_process_module.run_lookup(store, job) == expected


def test_a_store_error_in_a_lookup_is_worded_as_in_the_streamed_path():
    class Failing:
        """A store whose reads fail, as an on-disk store does when its files cannot be read."""

        def quads_for_pattern(self, *args):
            raise OSError("read error")

        def query(self, *args, **kwargs):
            raise OSError("read error")

    job = Job(SINGLE_PATTERN, "application/sparql-results+json", None)
    outcome = in_process_module.run_lookup(Failing(), job)
    assert outcome == jobs.run_job(Failing(), job)
    assert outcome.status == 400 and b"read error" in outcome.body


def test_a_short_lookup_is_serialized_in_one_call(store, monkeypatch):
    def streamed(*args):
        raise AssertionError("the lookup was streamed through CappedBuffer")

    monkeypatch.setattr(jobs, "CappedBuffer", streamed)
    outcome = in_process_module.run_lookup(store, Job(SINGLE_PATTERN, "application/sparql-results+json", None))
    assert outcome.status == 200 and outcome.rows > 5 and outcome.body.count(b'"p":') == outcome.rows


def test_the_server_keeps_the_settings_and_a_worker_rss_ceiling(tmp_path):
    from autokg.web import serving

    dataset = tmp_path / "tiny.nq"
    dataset.write_text("<https://example.org/a> <https://example.org/b> <https://example.org/c> .\n")
    server, app = serving.build_server({"DATASET": str(dataset), "WORKERS": 3, "THREADS": 5, "PORT": 0, "LOG_LEVEL": "warning"})
    try:
        assert app.extensions["autokg"].triples == 1
        assert (server.workers, server.blocking_threads, server.respawn_failed_workers) == (3, 5, True)
        private, shared = memory.memory_bytes()
        assert server.workers_rss >= 2 * (private + shared) * 0.9, "a worker would be replaced before it grew"
        assert app.extensions["autokg"].executor.children.started, "the query children must start before the fork"
    finally:
        app.extensions["autokg"].executor.stop()


SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


@contextlib.contextmanager
def slow_query_running(runner: Executor):
    """A thread that runs a query past its 3 s timeout through the runner's gate; yields its future status."""
    slow_started = threading.Event()

    def slow() -> int:
        with runner.gate.held():
            slow_started.set()
            return runner.run(Job(SLOW, "text/csv", None), 3).status

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(slow)
        assert slow_started.wait(10)
        time.sleep(0.2)  # the slow job is in its child now
        yield pending


def test_the_gate_lets_another_thread_in_while_one_waits_for_a_slow_query(store):
    with running_executor(store) as runner, slow_query_running(runner) as pending:
        slow_child = child_pid(runner, slot=0)
        started = time.perf_counter()
        with runner.gate.held():
            assert runner.run(Job(SCAN, "text/csv", None), 3).status == 200
        assert time.perf_counter() - started < 2, "the second query waited for the first"
        assert not pending.done()
        assert pending.result() == 503
        assert child_pid(runner, slot=0, other_than=slow_child), "the slow query's child was not replaced"


def test_a_query_waits_for_a_free_slot_no_longer_than_its_timeout(store):
    with running_executor(store, slots=1) as runner, slow_query_running(runner) as pending:
        started = time.perf_counter()
        with runner.gate.held():
            outcome = runner.run(Job(SCAN, "text/csv", None), 0.5)
        assert outcome.status == 503 and b"busy" in outcome.body
        assert 0.4 < time.perf_counter() - started < 2
        assert pending.result() == 503


def holding_a_slot_in_a_child(slots: QuerySlots, release: bool, client: str | None = None) -> int:
    """Fork a process that takes a slot (for `client`) and then ends (giving it back first, or not); its pid once
    it holds one."""
    ready_read, ready_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        slot = slots.take(1, client=client)
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
    slots = QuerySlots(2)
    mine = slots.take(0)
    pid = holding_a_slot_in_a_child(slots, release)
    assert slots.take(0.05) is None, "a third query got in while another process held the second slot"
    started = time.monotonic()
    theirs = slots.take(5)
    assert theirs is not None and theirs != mine and time.monotonic() - started < 2
    os.waitpid(pid, 0)
    slots.give_back(theirs)
    slots.give_back(mine)


@pytest.mark.parametrize("release", [True, False], ids=["given back", "process ended holding it"])
def test_a_clients_share_of_the_slots_counts_its_queries_in_every_worker(release):
    from autokg.engine.slots import ClientShareTaken

    slots = QuerySlots(2, 2, per_client=1)
    pid = holding_a_slot_in_a_child(slots, release, client="192.0.2.1")
    with pytest.raises(ClientShareTaken):
        slots.take(0, client="192.0.2.1")  # its query in the other worker holds its share
    other = slots.take(0, client="198.51.100.2")
    assert other is not None
    os.waitpid(pid, 0)
    mine = slots.take(0, client="192.0.2.1")  # the share came back with the other process's slot
    assert mine is not None
    slots.give_back(mine)
    slots.give_back(other)
    assert slots.held.get() == set() and slots.clients_held.get() == {}


def test_a_slot_freed_in_this_process_goes_to_a_waiting_thread_at_once():
    slots = QuerySlots(1)
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
    gate = Gate()
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
    monkeypatch.setattr(memory, "memory_bytes", lambda: next(readings))
    budget = memory.MemoryBudget.from_now()
    assert (budget.baseline, budget.limit) == (10 * MIB, 100 * MIB)
    assert budget.exceeded() is exceeded


def test_the_budget_is_at_least_the_private_limit(monkeypatch):
    monkeypatch.setattr(memory, "memory_bytes", lambda: (10 * MIB, 8 * MIB))
    assert memory.MemoryBudget.from_now().limit == memory.PRIVATE_LIMIT


@pytest.mark.parametrize("size", [0, 100, 1 << 20])
def test_an_outcome_crosses_to_the_parent_whole(size):
    sending, receiving = socket.socketpair()
    body = bytearray(os.urandom(size))
    # a body larger than the socket's buffer is read while it is sent
    sender = threading.Thread(target=wire.send_outcome,
                              args=(sending, jobs.Outcome(200, "text/csv", body, rows=3)))
    sender.start()
    outcome = wire.receive_outcome(receiving, time.monotonic() + 10)
    sender.join()
    assert outcome == jobs.Outcome(200, "text/csv", body, rows=3)


def test_a_large_message_sent_on_a_socket_with_a_timeout_arrives_whole():
    sending, receiving = socket.socketpair()
    sending.settimeout(10)  # non-blocking underneath: sendmsg sends a part at a time
    data = os.urandom(3 * 1024 * 1024)
    receiver = ThreadPoolExecutor(max_workers=1).submit(wire.receive_message, receiving, time.monotonic() + 10)
    wire.send_message(sending, data)
    assert receiver.result(timeout=10) == data


def test_a_child_that_dies_between_the_two_messages_is_an_error():
    sending, receiving = socket.socketpair()
    wire.send_message(sending, pickle.dumps(jobs.text_outcome(200, "half")))
    sending.close()
    with pytest.raises(EOFError):
        wire.receive_outcome(receiving)


def test_an_answer_that_does_not_come_by_the_deadline_is_a_timeout():
    _sending, receiving = socket.socketpair()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        wire.receive_outcome(receiving, started + 0.2)
    assert 0.15 < time.monotonic() - started < 1


def test_the_peer_of_a_socket_of_this_process_is_the_same_user():
    first, second = socket.socketpair()
    assert wire.same_user(first) and wire.same_user(second)


def test_the_capped_buffer_holds_what_was_written_in_one_bytearray():
    buffer = jobs.CappedBuffer(ox.QueryResultsFormat.CSV, max_rows=10, max_bytes=100)
    for chunk in (b"n\r\n1", b"\r\n2\r\n", memoryview(b"3\r\n")):
        buffer.write(chunk)
    assert buffer.value() == bytearray(b"n\r\n1\r\n2\r\n3\r\n") and buffer.rows - buffer.header_lines == 3


def test_a_query_child_killed_from_outside_is_forked_again_and_answers(store):
    with running_executor(store, start=True) as runner:
        killed = child_pid(runner)
        os.kill(killed, signal.SIGKILL)
        assert child_pid(runner, other_than=killed), "no child took the killed one's place"
        assert runner.run(Job(SCAN, "text/csv", None), 10).status == 200


def test_a_timed_out_query_leaves_a_fresh_child_for_the_next(store):
    with running_executor(store, slots=1) as runner:
        started = time.monotonic()
        assert runner.run(Job(SLOW, "text/csv", None), 1).status == 503
        assert time.monotonic() - started < 3
        assert runner.run(Job(SCAN, "text/csv", None), 10).status == 200


def in_a_forked_process(work) -> bytes:
    """What `work()` returns (bytes), run in a process forked from this one, as a worker is from the master."""
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(writing, work())
        finally:
            os._exit(0)
    os.close(writing)
    with os.fdopen(reading, "rb") as answer:
        result = answer.read()
    os.waitpid(pid, 0)
    return result


def test_a_forked_worker_sends_its_jobs_to_the_children_started_before_the_fork(store):
    with running_executor(store, slots=2, start=True) as runner:
        children = [child_pid(runner, slot) for slot in range(2)]

        def work() -> bytes:
            status = runner.run(Job(SCAN, "text/csv", None), 10).status
            try:
                os.waitpid(-1, os.WNOHANG)
                forked_any = True
            except ChildProcessError:
                forked_any = False
            return f"{status} {forked_any}".encode()

        assert in_a_forked_process(work) == b"200 False"
        assert [runner.children.pid(slot) for slot in range(2)] == children


def test_a_process_forked_before_the_children_started_cannot_start_them(store):
    runner = Executor(store)

    def work() -> bytes:
        try:
            runner.run(Job(SCAN, "text/csv", None), 10)
        except AutokgError as error:
            return str(error).encode()
        return b"ran"

    assert b"Executor.start()" in in_a_forked_process(work)
    assert not runner.children.started


def orphan_a_job(runner: Executor, timeout: float) -> int:
    """Fork a worker that sends a job that never ends and kill it while it waits; the pid of the job's child."""
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(writing, b"1")
        runner.run(Job(SLOW, "text/csv", None), timeout)
        os._exit(0)
    assert os.read(reading, 1) == b"1"
    assert wait_until(lambda: runner.children.deadline(0) > 0, 5, every=0.01), "the job never reached its child"
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return runner.children.pid(0)


def test_a_job_whose_worker_died_is_killed_when_its_slot_is_taken_again(store):
    # it used to run on for its whole timeout, and the next query on its slot waited behind it
    with running_executor(store, slots=1, start=True) as runner:
        orphaned = orphan_a_job(runner, 100)
        started = time.monotonic()
        assert runner.run(Job(SCAN, "text/csv", None), 10).status == 200
        assert time.monotonic() - started < 3
        assert runner.children.pid(0) != orphaned


def test_the_keeper_kills_a_job_past_its_deadline_whose_worker_died(store):
    with running_executor(store, slots=1, start=True) as runner:
        orphaned = orphan_a_job(runner, 1)
        # nobody takes the slot: the keeper ends the job within its deadline, the grace and a tick
        assert wait_until(lambda: runner.children.death(0)[0] == orphaned, 1 + keeper.OVERDUE_SECONDS + 2, every=0.02)


CHILDREN_THEN_EXIT = """
import os, sys, time
import pyoxigraph as ox
from autokg.engine.executor import Executor
runner = Executor(ox.Store(), slots=2)
runner.start()
while not all(runner.children.pid(slot) for slot in range(2)):
    time.sleep(0.01)
print(runner.children.pid(0), runner.children.pid(1), flush=True)
os._exit(0)  # no clean-up: the children must go on their own
"""


def test_query_children_die_with_the_process_that_started_them():
    ran = subprocess.run([sys.executable, "-c", CHILDREN_THEN_EXIT], capture_output=True, text=True, timeout=60, check=True)
    pids = [int(pid) for pid in ran.stdout.split()]
    assert len(pids) == 2
    assert still_running(pids) == [], "a query child outlived the server"


FREED_BLOCK_KEPT = """
import sys
from autokg.engine.memory import map_large_blocks, private_bytes
if sys.argv[1] == "mapped":
    map_large_blocks()
block = bytearray(16 << 20); del block  # by default, this raises malloc's threshold to 16 MiB
before = private_bytes()
block = bytearray(8 << 20); block[::4096] = b"x" * (len(block) // 4096); del block
print((private_bytes() - before) >> 20)
"""


@pytest.mark.parametrize("mode, kept_mib", [("default", 8), ("mapped", 0)])
def test_a_freed_large_block_goes_back_to_the_system_once_large_blocks_are_mapped(mode, kept_mib):
    ran = subprocess.run([sys.executable, "-c", FREED_BLOCK_KEPT, mode], capture_output=True, text=True, timeout=60, check=True)
    assert abs(int(ran.stdout) - kept_mib) <= 1, ran.stdout
