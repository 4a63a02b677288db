"""Heavy queries hold at most some of the slots: a flood of them leaves the others to cheap queries and pages."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from test_hostile_executor import QUICK, SLOW, run_in_threads

from autokg.engine import in_process, jobs
from autokg.engine.costs import QueryCosts
from autokg.engine.jobs import Job
from autokg.engine.slots import QuerySlots, QueueFull
from support.executors import running_executor


def test_heavy_queries_hold_at_most_their_slots_and_cheap_ones_take_the_rest():
    slots = QuerySlots(2, queue=2, heavy=1)
    first = slots.take(0, heavy=True)
    started = time.monotonic()
    assert slots.take(0.1, heavy=True) is None, "a second heavy query took the slot kept for cheap ones"
    assert time.monotonic() - started >= 0.1, "the heavy query was not given its time in the queue"
    cheap = slots.take(0)
    assert cheap is not None and cheap != first
    slots.give_back(first)
    again = slots.take(0, heavy=True)
    assert again == first, "the heavy token was not given back with the slot"
    slots.give_back(again)
    slots.give_back(cheap)


def test_heavy_queries_wait_in_their_share_of_the_queue_and_leave_the_rest_to_cheap_ones():
    slots = QuerySlots(2, queue=2, heavy=1)
    running = slots.take(0, heavy=True)
    with ThreadPoolExecutor(max_workers=2) as pool:
        waiting = pool.submit(slots.take, 2, True)
        time.sleep(0.1)
        started = time.monotonic()
        with pytest.raises(QueueFull):
            slots.take(5, heavy=True)  # its share of the queue (one place) is taken: turned away at once
        assert time.monotonic() - started < 0.5
        cheap = slots.take(0)
        queued_cheap = pool.submit(slots.take, 2)  # both slots busy: waits in the place heavy queries leave
        time.sleep(0.1)
        assert not queued_cheap.done()
        slots.give_back(cheap)
        assert queued_cheap.result(timeout=1) == cheap
        slots.give_back(cheap)
        slots.give_back(running)
        last = waiting.result(timeout=1)
        assert last is not None
        slots.give_back(last)


def test_without_a_reservation_heavy_queries_take_every_slot():
    slots = QuerySlots(2, queue=2, heavy=2)
    taken = [slots.take(0, heavy=True), slots.take(0, heavy=True)]
    assert None not in taken and taken[0] != taken[1]
    assert slots.take(0.05) is None
    for slot in taken:
        slots.give_back(slot)


def test_a_heavy_token_held_by_another_process_counts_and_comes_back_when_it_ends():
    slots = QuerySlots(2, queue=2, heavy=1)
    ready_read, ready_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        taken = slots.take(1, heavy=True)
        os.write(ready_write, b"1" if taken is not None else b"0")
        time.sleep(0.5)
        os._exit(0)  # ends holding the token and its slot: the kernel drops both locks
    try:
        assert os.read(ready_read, 1) == b"1"
        assert slots.take(0.05, heavy=True) is None, "the token held by the other process was taken again"
        cheap = slots.take(0)
        assert cheap is not None
        slots.give_back(cheap)
        started = time.monotonic()
        heavy = slots.take(5, heavy=True)
        assert heavy is not None and time.monotonic() - started < 3
        slots.give_back(heavy)
    finally:
        os.waitpid(pid, 0)
        os.close(ready_read)
        os.close(ready_write)


def test_costs_are_bounded_a_query_taking_the_entry_of_the_one_before():
    costs = QueryCosts(1.0, entries=1)
    first, second = costs.key("ASK { <urn:a> ?p ?o }"), costs.key("ASK { <urn:b> ?p ?o }")
    costs.note(first, 2.0)
    assert costs.is_heavy(first) and costs.last(second) is None
    costs.note(second, 0.5)
    assert costs.last(first) is None and not costs.is_heavy(second)
    assert len(costs.table) == 20
    assert costs.key("ASK {}", ("urn:g",)) != costs.key("ASK {}") != costs.key("ASK {}", (), ("urn:g",))


def test_costs_noted_in_a_forked_worker_are_seen_by_the_others():
    costs = QueryCosts(1.0)
    key = costs.key("SELECT * { ?s ?p ?o }")
    pid = os.fork()
    if pid == 0:
        costs.note(key, 4.25)
        os._exit(0)
    os.waitpid(pid, 0)
    assert costs.last(key) == 4.25 and costs.is_heavy(key)


@pytest.mark.parametrize("heavy", [1, 2], ids=["one heavy slot of two", "no reservation"])
def test_a_query_that_ran_long_waits_for_the_heavy_slot_while_a_cheap_one_runs(store, heavy):
    with running_executor(store, slots=2, queue=2, heavy=heavy, heavy_seconds=0.5) as runner:
        assert runner.run(Job(SLOW, "text/csv", None), 0.8).status == 503  # stopped at its timeout: now known heavy
        running, second, cheap = run_in_threads(runner, [(SLOW, 3), (SLOW, 0.6), (QUICK, 3)], started_first=1)
        assert cheap.result(timeout=10).status == 200
        outcome = second.result(timeout=10)
        assert outcome.status == 503
        if heavy == 1:
            assert b"kept this server busy" in outcome.body and b"share 1 of the 2 slots" in outcome.body
            assert ("Retry-After", "2") in outcome.headers
        else:
            assert b"ran longer than 0.6 s and was stopped" in outcome.body
        assert running.result(timeout=10).status == 503


CHEAP = "SELECT ?t WHERE { ?s a ?t . ?s ?p ?o } LIMIT 2"


def test_a_query_that_was_cheap_in_its_child_runs_in_the_serving_process_next_time(store, monkeypatch):
    monkeypatch.setattr(in_process, "KNOWN_CHEAP_SECONDS", 1.0)  # not 5 ms, so that a busy machine cannot make it slow
    with running_executor(store, slots=1, start=True) as runner:
        first = runner.run(Job(CHEAP, "text/csv", None), 5)
        assert first.status == 200
        key = runner.costs.key(CHEAP, (), ())
        assert runner.costs.last(key) is not None and runner.costs.last(key) <= in_process.KNOWN_CHEAP_SECONDS

        def no_child(*args: object) -> None:
            raise AssertionError("a query known to be cheap went to a query child")

        monkeypatch.setattr(runner, "run_in_child", no_child)
        again = runner.run(Job(CHEAP, "text/csv", None), 5)
        assert (again.status, bytes(again.body)) == (200, bytes(first.body))


@pytest.mark.parametrize("query, last", [(CHEAP, 0.5), ("SELECT * WHERE { SERVICE <urn:x> { ?s ?p ?o } }", 0.001),
                                         (CHEAP, None)], ids=["slow last time", "a SERVICE", "never seen"])
def test_a_query_not_known_to_be_cheap_runs_in_its_child(store, query, last):
    assert not in_process.known_cheap(store, Job(query, "text/csv", None), last, 30)
    assert in_process.known_cheap(store, Job(CHEAP, "text/csv", None), 0.001, 30)
    assert not in_process.known_cheap(store, Job(CHEAP, "text/csv", None), 0.001, 0.5)  # a timeout under a second


def test_a_query_that_failed_at_once_is_never_known_to_be_cheap(store, monkeypatch):
    with running_executor(store, slots=1, start=True) as runner:
        monkeypatch.setattr(runner, "run_in_child", lambda *args: jobs.text_outcome(500, "The query process died"))
        assert runner.run(Job(SLOW, "text/csv", None), 5).status == 500  # failed within microseconds
        key = runner.costs.key(SLOW, (), ())
        assert runner.costs.is_heavy(key), "a failure was remembered as what it took"
        assert not in_process.known_cheap(store, Job(SLOW, "text/csv", None), runner.costs.last(key), 5)
