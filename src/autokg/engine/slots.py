"""The query slots: how many queries evaluate at once, server-wide, and how many more may wait."""

from __future__ import annotations

import fcntl
import tempfile
import threading
import time
from collections.abc import Callable

from autokg.settings import BY_NAME
from autokg.stores.embedded import PerProcess


class QueueFull(Exception):
    """Every query slot and every place in their queue is taken."""


class NotAdmitted(Exception):
    """The caller's `admit` turned the query away once it held a slot or a queue place (both given back)."""


class QuerySlots:
    """At most `count` queries evaluate at once, across this process and the workers forked from it; at most
    `queue` more wait for a slot, and a query beyond those is turned away at once (QueueFull). Heavy queries hold
    at most `heavy` of the slots at once, and wait in at most as large a share of the queue, so that the rest stay
    free for cheap ones.

    Evaluation is what costs memory (a child's working memory, and the store pages its reads copy) and CPU, so
    more queries at once than cores only add memory; and a request waiting for a slot holds one of its worker's
    threads, so a long queue starves the cheap requests behind it. A slot or queue place is a lock on one byte of
    a file the workers inherit (slots first, then queue places): the kernel drops a process's locks when it ends,
    so a worker that is killed while it holds one gives it back. Such locks belong to a process, not a thread, so
    this process's own are tracked here as well. A heavy query takes one of `heavy` tokens (more bytes of the file)
    before its slot, and gives it back with the slot.
    """

    #: how often a waiting query looks for a slot freed by another process (one freed here wakes it at once)
    POLL_SECONDS = 0.005

    def __init__(self, count: int, queue: int | None = None, heavy: int | None = None) -> None:
        if count < 1:
            raise ValueError(f"QuerySlots: {count} slots; give at least 1")
        self.count = count
        self.queue = count if queue is None else queue
        self.heavy = min(count, heavy or count)
        self.tokens = range(count + self.queue, count + self.queue + self.heavy)
        # heavy queries wait in as large a share of the queue as of the slots, and cheap ones take the other
        # places first: a queue full of heavy queries would turn away the cheap ones, and hold the threads of
        # a worker that pages need
        self.places = range(count + self.queue - 1, count - 1, -1)
        self.heavy_places = range(count, count + self.queue * self.heavy // count)
        self.file = tempfile.TemporaryFile()
        self.freed = threading.Condition()
        self.held: PerProcess[set[int]] = PerProcess(set)  # a forked process holds none of its parent's locks
        self.tokens_held: PerProcess[dict[int, int]] = PerProcess(dict)  # slot -> the heavy token taken with it

    def take(self, timeout: float, heavy: bool = False, admit: Callable[[], bool] = lambda: True) -> int | None:
        """The number of a slot now this process's, or None when none came free within `timeout` seconds; a
        `heavy` query waits for a heavy token as well. `admit` is asked once a slot or a queue place is held, so
        that what it counts (the threads that wait for queries) leaves out queries turned away at once.

        Raises QueueFull when no slot (or token) is free and every queue place is taken, and NotAdmitted when
        `admit` says no.
        """
        deadline = time.monotonic() + timeout
        with self.freed:
            held = self.held.get()
            slot = self.first_turn(held, heavy)
            if slot is not None:
                if not admit():
                    self.give_back(slot)
                    raise NotAdmitted
                return slot
            place = self.first_free(self.heavy_places if heavy else self.places, held)
            if place is None:
                raise QueueFull
            try:
                if not admit():
                    raise NotAdmitted
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return None
                    self.freed.wait(min(left, self.POLL_SECONDS))
                    slot = self.first_turn(held, heavy)
                    if slot is not None:
                        return slot
            finally:
                self.unlock(place)

    def first_turn(self, held: set[int], heavy: bool) -> int | None:
        """Lock a free slot, and first a free heavy token for a heavy query; None (and nothing locked) if either is wanting."""
        token = self.first_free(self.tokens, held) if heavy else None
        if heavy and token is None:
            return None
        slot = self.first_free(range(self.count), held)
        if token is not None:
            if slot is None:
                self.unlock(token)
            else:
                self.tokens_held.get()[slot] = token
        return slot

    def first_free(self, numbers: range, held: set[int]) -> int | None:
        """Lock the first of these bytes that no process holds, and note it held here; None if all are taken."""
        for number in numbers:
            if number not in held and self.try_lock(number):
                held.add(number)
                return number
        return None

    def try_lock(self, number: int) -> bool:
        """Lock one byte of the file if no other process holds it."""
        try:
            fcntl.lockf(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, number)
        except OSError:
            return False
        return True

    def unlock(self, number: int) -> None:
        """Free a byte locked by this process (the caller holds `freed`)."""
        fcntl.lockf(self.file, fcntl.LOCK_UN, 1, number)
        self.held.get().discard(number)

    def give_back(self, slot: int) -> None:
        """Free a slot taken by `take`."""
        with self.freed:
            self.unlock(slot)
            token = self.tokens_held.get().pop(slot, None)
            if token is not None:
                self.unlock(token)
            self.freed.notify_all()  # a heavy query may wait for the token, a cheap one for the slot


DEFAULT_SLOTS = int(BY_NAME["QUERY_SLOTS"].default)
DEFAULT_HEAVY_SECONDS = float(BY_NAME["QUERY_HEAVY_SECONDS"].default)  # type: ignore[arg-type]
