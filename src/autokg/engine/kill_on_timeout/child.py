"""A query child: the process, forked by the keeper, that answers one job per connection until it retires or is killed."""

from __future__ import annotations

import itertools
import os
import pickle
import signal
import socket
import threading
import time
from typing import Protocol

from autokg.engine.jobs import run_job
from autokg.engine.kill_on_timeout.wire import receive_message, same_user, send_outcome
from autokg.engine.memory import CHECK_AFTER_SECONDS, CHECK_EVERY, LIBC, MemoryBudget, limit_memory
from autokg.query.running import Queryable


class SlotRecord(Protocol):
    """What a child reads and writes of its slot's shared record (see keeper.SlotChildren)."""

    memory: int

    def set_deadline(self, slot: int, deadline: float) -> None:
        """Record when the job the slot's child runs must end (0: no job)."""


def serve_jobs(store: Queryable, listener: socket.socket, children: SlotRecord, slot: int) -> None:
    """Answer one job per connection, until the child holds too much memory of its own (then it ends, and the
    keeper forks a fresh one for the slot).

    While a job runs, its deadline stands in the slot's shared record, so that the keeper can kill a job nobody
    waits for any more (its worker died) and the next holder of the slot can tell that it is orphaned.
    """
    budget = MemoryBudget.from_now()
    limit_memory(children.memory)
    for served in itertools.count(1):
        sock, _address = listener.accept()
        with sock:
            try:
                if not same_user(sock):
                    continue
                job = pickle.loads(receive_message(sock))
            except (EOFError, OSError):
                continue
            started = time.perf_counter()
            children.set_deadline(slot, job.deadline or time.monotonic() + max(job.timeout, 1.0))
            outcome = run_job(store, job)
            # cleared before the answer goes, so that a worker that has it never finds the child still busy
            children.set_deadline(slot, 0.0)
            retiring = False
            if time.perf_counter() - started > CHECK_AFTER_SECONDS or served % CHECK_EVERY == 0:
                retiring = budget.exceeded()
                # what a long job left does not count against the next one; after a quick one (which left little)
                # the limit stands: setting it costs a lookup of the child's memory, 0.7 ms of a 1.3 ms query
                limit_memory(children.memory)
            try:
                send_outcome(sock, outcome)
            except OSError:  # the worker gave up on the job, or died
                pass
        if retiring:
            os._exit(0)



PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
CHILD_NAME = b"autokg-query"


def die_with_parent(parent: int, sig: int) -> None:
    """Have the kernel send `sig` to this forked process when the thread that forked it ends, even by SIGKILL;
    end at once if the parent (pid `parent`) is already gone."""
    LIBC.prctl(PR_SET_PDEATHSIG, sig)
    if os.getppid() != parent:
        os._exit(0)


def end_forks_with_this_process(sig: int) -> None:
    """Have every process forked from this one from now on get `sig` when the thread that forked it ends
    (see die_with_parent); the processes they fork in turn are left alone."""
    parent = os.getpid()
    forker = [parent]  # which process is forking: a hook registered here also runs in the forked processes' forks

    def note_forker() -> None:
        forker[0] = os.getpid()

    def in_child() -> None:
        if forker[0] == parent:
            die_with_parent(parent, sig)

    os.register_at_fork(before=note_forker, after_in_child=in_child)


def child_loop(store: Queryable, listener: socket.socket, parent: int, children: SlotRecord, slot: int) -> None:
    """Serve jobs in a thread of this child, so that they allocate from a malloc arena of their own."""
    # killed with the thread that forked it (the keeper), so that no child outlives the server
    die_with_parent(parent, signal.SIGKILL)
    LIBC.prctl(PR_SET_NAME, CHILD_NAME)  # what ps and /proc/PID/comm show, to tell it from a worker
    # a query child ends only by SIGKILL, from the keeper or from the worker whose query overran its time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The forking thread's arena is shared with the master (the main thread's is the heap the store was loaded
    # into): chunks reused from its free lists are copied on first write (58 faults and 1 ms per trivial query at
    # 1M triples). A new thread gets a fresh arena, so the shared heap stays untouched.
    serving = threading.Thread(target=serve_jobs, args=(store, listener, children, slot), name="autokg-query", daemon=True)
    serving.start()
    serving.join()
