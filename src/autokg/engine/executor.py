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

from autokg.engine.costs import QueryCosts
from autokg.engine.gate import LONG_REQUESTS_BUSY, Allowance, Gate
from autokg.engine.in_process import known_cheap, run_lookup, runs_in_process
from autokg.engine.jobs import RETRY_LATER, Job, Outcome, busy_outcome, run_job, text_outcome
from autokg.engine.kill_on_timeout.keeper import SlotChildren
from autokg.engine.kill_on_timeout.wire import receive_outcome, send_message
from autokg.engine.memory import too_much_memory
from autokg.engine.slots import DEFAULT_HEAVY_SECONDS, DEFAULT_SLOTS, ClientShareTaken, NotAdmitted, QuerySlots, QueueFull
from autokg.errors import Busy, ClientBusy
from autokg.query.running import Queryable


class Executor:
    """Runs jobs in the query children of the process that made it (see SlotChildren), one at a time in each
    child, when one of the server's `slots` is free; a single triple pattern runs in the calling process.

    Every bound on a query is enforced here: at most `slots` evaluate at once and `queue` more wait, server-wide,
    and a query beyond those is turned away at once with 503 and Retry-After; at most `threads` of a process's
    request threads wait for a query at once (the rest stay free for cheap requests), `per_client` of them for one
client (see Allowance), and `client_queries` of the slots and queue places for one client's queries, server-wide
(see QuerySlots); time spent waiting counts
    toward the query's timeout; a child may take `memory` bytes of working memory for a job; and a query that took
    `heavy_seconds` or more when it last ran (in any worker) holds one of at most `heavy` slots at once (by
    default all but one), so that a flood of heavy queries leaves a slot to cheap ones and to pages.

    Safe for threads that take turns through its `gate` (see Gate), in this process and in the processes forked
    from it once `start` was called.
    """

    def __init__(self, store: Queryable, slots: int = DEFAULT_SLOTS, gate: Gate | None = None, *,
                 queue: int | None = None, threads: int = 0, per_client: int = 0, memory: int = 0, heavy: int = 0,
                 heavy_seconds: float = DEFAULT_HEAVY_SECONDS, client_queries: int = 0) -> None:
        self.store = store
        self.gate = gate or Gate()
        self.slots = QuerySlots(slots, queue, heavy or max(1, slots - 1), client_queries)
        self.costs = QueryCosts(heavy_seconds)
        self.children = SlotChildren(store, slots, self.gate, memory)
        self.threads = threads
        self.waiting = Allowance(threads, per_client) if threads else None

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
        key = self.costs.key(job.query, job.default_graphs, job.named_graphs)
        last = self.costs.last(key)
        if known_cheap(self.store, job, last, timeout):
            started = time.monotonic()
            outcome = run_job(self.store, job)
            self.note_cost(key, outcome, started)
            return outcome
        heavy = self.costs.heavy(last)  # what was read above: the entry may change under us
        entered: list[bool] = []  # whether this thread took a place of `waiting`, once it held a slot or queue place

        def admit() -> bool:
            entered.append(self.waiting is None or self.waiting.enter())
            return entered[0]

        try:
            with self.gate.opened():
                try:
                    slot = self.slots.take(timeout, heavy, admit, self.waiting.served() if self.waiting else None)
                except ClientShareTaken as taken:
                    return refused(ClientBusy(client_queries_taken(taken, self.slots.count, self.slots.queue)))
                except QueueFull:
                    return busy_outcome(f"All {self.slots.count} query slots of this server and the {self.slots.queue} "
                                        f"places of their queue are taken{self.heavy_note(last, heavy)}: try again in a few seconds")
                except NotAdmitted:
                    return refused(self.waiting.refusal() if self.waiting else Busy(LONG_REQUESTS_BUSY))
            if slot is None:
                return busy_outcome(f"{self.slots.count} other queries kept this server busy for {timeout:g} s"
                                    f"{self.heavy_note(last, heavy)}: try again later")
            started = time.monotonic()
            outcome = None
            try:
                outcome = self.run_in_child(replace(job, deadline=deadline), slot, timeout, deadline)
                return outcome
            finally:
                self.slots.give_back(slot)
                self.note_cost(key, outcome, started)
        finally:
            if self.waiting is not None and entered and entered[0]:
                self.waiting.leave()

    def note_cost(self, key: bytes, outcome: Outcome | None, started: float) -> None:
        """Remember what a job took; one that did not answer 200 counts as heavy whatever it took, so that only a
        query that answered in full can ever be known to be cheap (a query whose child died at once, or that ran
        out of memory quickly, must not run next time in the serving process, where nothing can stop it)."""
        seconds = time.monotonic() - started
        if outcome is None or outcome.status != 200:
            seconds = max(seconds, self.costs.heavy_seconds)
        self.costs.note(key, seconds)

    def heavy_note(self, last: float | None, heavy: bool) -> str:
        """Why a heavy query that took `last` seconds last time waited longer than a cheap one would have, for
        its 503 ('' for a cheap query)."""
        if not heavy or last is None or self.slots.heavy == self.slots.count:
            return ""
        return (f" (this query took {last:.1f} s when it last ran: queries that take "
                f"{self.costs.heavy_seconds:g} s or more share {self.slots.heavy} of the {self.slots.count} slots)")

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


def client_queries_taken(taken: ClientShareTaken, slots: int, queue: int) -> str:
    """What a client turned away because its queries hold their share of the server's slots and queue is told."""
    kind = "heavy queries (of those that took long when they last ran)" if taken.heavy else "queries"
    return (f"Your {kind} already hold {taken.share} of this server's {slots} query slots and {queue} places in their "
            f"queue, as many as one client's may: wait for their answers")


def refused(refusal: Busy) -> Outcome:
    """The answer to a query turned away at once, which may be asked again after RETRY_AFTER_SECONDS."""
    return text_outcome(refusal.status, str(refusal), RETRY_LATER)
