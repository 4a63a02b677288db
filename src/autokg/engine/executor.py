"""The executor: the one door through which every query runs, under every bound the server sets on queries.

A job waits for one of the server's query slots (`slots`), taking turns with the worker's other request threads
(`gate`), and runs in the slot's query child, which is killed when it overruns its time (`kill_on_timeout`, the
workaround for pyoxigraph's lack of cancellation); a single triple pattern runs in the calling process
(`in_process`).
"""

from __future__ import annotations

import os
import pickle
import signal
import time
from dataclasses import replace

from autokg.engine.gate import LONG_REQUESTS_BUSY, Allowance, Gate
from autokg.engine.in_process import run_lookup, runs_in_process
from autokg.engine.jobs import Job, Outcome, busy_outcome, text_outcome
from autokg.engine.kill_on_timeout.keeper import SlotChildren
from autokg.engine.kill_on_timeout.wire import receive_outcome, send_message
from autokg.engine.memory import too_much_memory
from autokg.engine.slots import DEFAULT_SLOTS, QuerySlots, QueueFull
from autokg.query.running import Queryable


class Executor:
    """Runs jobs in the query children of the process that made it (see SlotChildren), one at a time in each
    child, when one of the server's `slots` is free; a single triple pattern runs in the calling process.

    Every bound on a query is enforced here: at most `slots` evaluate at once and `queue` more wait, server-wide,
    and a query beyond those is turned away at once with 503 and Retry-After; at most `threads` of a process's
    request threads wait for a query at once (the rest stay free for cheap requests); time spent waiting counts
    toward the query's timeout; and a child may take `memory` bytes of working memory for a job.

    Safe for threads that take turns through its `gate` (see Gate), in this process and in the processes forked
    from it once `start` was called.
    """

    def __init__(self, store: Queryable, slots: int = DEFAULT_SLOTS, gate: Gate | None = None, *,
                 queue: int | None = None, threads: int = 0, memory: int = 0) -> None:
        self.store = store
        self.gate = gate or Gate()
        self.slots = QuerySlots(slots, queue)
        self.children = SlotChildren(store, slots, self.gate, memory)
        self.threads = threads
        self.waiting = Allowance(threads) if threads else None

    def start(self) -> None:
        """Start the query children now, before this process forks workers; raises what SlotChildren.start raises."""
        self.children.start()

    def stop(self) -> None:
        """Stop the query children (a no-op in a forked process)."""
        self.children.stop()

    def runs_in_process(self, job: Job, timeout: float) -> bool:
        """Whether a job is bounded by the caps alone, so that it can skip the round trip to the child."""
        return runs_in_process(self.store, job, timeout)

    def run(self, job: Job, timeout: float) -> Outcome:
        """Run a job; past `timeout` seconds, waiting included, its child is killed and a 503 comes back."""
        if self.runs_in_process(job, timeout):
            return run_lookup(self.store, job)
        deadline = time.monotonic() + timeout
        if self.waiting is not None and not self.waiting.enter():
            return busy_outcome(LONG_REQUESTS_BUSY)
        try:
            with self.gate.opened():
                try:
                    slot = self.slots.take(timeout)
                except QueueFull:
                    return busy_outcome(f"All {self.slots.count} query slots of this server and the {self.slots.queue} "
                                        "places of their queue are taken: try again in a few seconds")
            if slot is None:
                return busy_outcome(f"{self.slots.count} other queries kept this server busy for {timeout:g} s: "
                                    "try again later")
            try:
                return self.run_in_child(replace(job, deadline=deadline), slot, timeout, deadline)
            finally:
                self.slots.give_back(slot)
        finally:
            if self.waiting is not None:
                self.waiting.leave()

    def run_in_child(self, job: Job, slot: int, timeout: float, deadline: float) -> Outcome:
        """Run a job in the child of a slot this process holds, killing it at `deadline` (time.monotonic)."""
        payload = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        if self.children.started and self.children.deadline(slot):
            # the slot is ours, yet its child is busy: its last holder died waiting, and nobody wants that answer
            self.children.kill(slot)
        pid = 0
        try:
            with self.gate.opened(), self.children.connect(slot, deadline) as sock:
                pid = self.children.pid(slot)
                send_message(sock, payload)
                return receive_outcome(sock, deadline)
        except TimeoutError:
            self.children.kill(slot)
            return text_outcome(503, f"The query ran longer than {timeout:g} s and was stopped: narrow it down or add a LIMIT")
        except (EOFError, OSError):
            with self.gate.opened():
                status = self.children.ended(slot, pid, 1.0) if pid else None
            if status is not None and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGABRT and self.children.memory:
                return text_outcome(422, too_much_memory(self.children.memory))
            return text_outcome(500, "The query process died while answering; a new one has been started")
