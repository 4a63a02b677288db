"""The query slots: how many queries evaluate at once, server-wide, and how many more may wait."""

from __future__ import annotations

import fcntl
import tempfile
import threading
import time

from autokg.settings import BY_NAME
from autokg.stores.embedded import PerProcess


class QueueFull(Exception):
    """Every query slot and every place in their queue is taken."""


class QuerySlots:
    """At most `count` queries evaluate at once, across this process and the workers forked from it; at most
    `queue` more wait for a slot, and a query beyond those is turned away at once (QueueFull).

    Evaluation is what costs memory (a child's working memory, and the store pages its reads copy) and CPU, so
    more queries at once than cores only add memory; and a request waiting for a slot holds one of its worker's
    threads, so a long queue starves the cheap requests behind it. A slot or queue place is a lock on one byte of
    a file the workers inherit (slots first, then queue places): the kernel drops a process's locks when it ends,
    so a worker that is killed while it holds one gives it back. Such locks belong to a process, not a thread, so
    this process's own are tracked here as well.
    """

    #: how often a waiting query looks for a slot freed by another process (one freed here wakes it at once)
    POLL_SECONDS = 0.005

    def __init__(self, count: int, queue: int | None = None) -> None:
        if count < 1:
            raise ValueError(f"QuerySlots: {count} slots; give at least 1")
        self.count = count
        self.queue = count if queue is None else queue
        self.file = tempfile.TemporaryFile()
        self.freed = threading.Condition()
        self.held: PerProcess[set[int]] = PerProcess(set)  # a forked process holds none of its parent's locks

    def take(self, timeout: float) -> int | None:
        """The number of a slot now this process's, or None when none came free within `timeout` seconds.

        Raises QueueFull when no slot is free and every queue place is taken.
        """
        deadline = time.monotonic() + timeout
        with self.freed:
            held = self.held.get()
            slot = self.first_free(range(self.count), held)
            if slot is not None:
                return slot
            place = self.first_free(range(self.count, self.count + self.queue), held)
            if place is None:
                raise QueueFull
            try:
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return None
                    self.freed.wait(min(left, self.POLL_SECONDS))
                    slot = self.first_free(range(self.count), held)
                    if slot is not None:
                        return slot
            finally:
                self.unlock(place)

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
            self.freed.notify()


DEFAULT_SLOTS = int(BY_NAME["QUERY_SLOTS"].default)
