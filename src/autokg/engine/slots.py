"""The query slots: how many queries evaluate at once, server-wide, and how many more may wait."""

from __future__ import annotations

import fcntl
import tempfile
import threading
import time
import zlib
from collections.abc import Callable

from autokg.settings import BY_NAME
from autokg.stores.embedded import PerProcess


class QueueFull(Exception):
    """Every query slot and every place in their queue is taken."""


class ClientShareTaken(Exception):
    """The client's own queries hold its share of the slots and queue places this query may take."""

    def __init__(self, share: int, heavy: bool) -> None:
        super().__init__(share, heavy)
        self.share = share
        self.heavy = heavy


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

    With `per_client`, one client's queries hold at most that many of the slots and queue places their kind may
    take (all of them, or the heavy slots and their share of the queue): one address's flood of heavy queries
    held the heavy slot and its queue place, and 62 of 91 competency queries of other clients got 503. A client
    takes one byte of its own range, found by a hash of its name in `CLIENT_RANGES` ranges, so two clients whose
    names fall in the same range share one share. Off by default: one client's 16 connections of the competency
    mix got 2.98 answers a second with it (1 heavy, 2 cheap), 22 without (bench/endpoint.py, 100k).

    >>> slots = QuerySlots(2, 2, heavy=1, per_client=2)
    >>> slots.client_share(heavy=False), slots.client_share(heavy=True)
    (2, 2)
    >>> first = slots.take(1, client="192.0.2.1")
    >>> second = slots.take(1, client="192.0.2.1")
    >>> slots.take(0.01, client="192.0.2.1")
    Traceback (most recent call last):
    ...
    autokg.engine.slots.ClientShareTaken: (2, False)
    >>> slots.take(0.01, client="198.51.100.2") is None  # another client waits in the queue, and times out
    True
    """

    #: how often a waiting query looks for a slot freed by another process (one freed here wakes it at once)
    POLL_SECONDS = 0.005
    #: ranges of bytes that clients' names fall in (more ranges, fewer clients sharing one by chance)
    CLIENT_RANGES = 4096

    def __init__(self, count: int, queue: int | None = None, heavy: int | None = None, per_client: int = 0) -> None:
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
        self.per_client = per_client
        # the clients' bytes follow the tokens: a range of cheap shares, then one of heavy shares
        self.client_bytes = {heavy: self.tokens.stop + (self.CLIENT_RANGES * self.client_share(False) if heavy else 0)
                             for heavy in (False, True)}
        self.file = tempfile.TemporaryFile()
        self.freed = threading.Condition()
        self.held: PerProcess[set[int]] = PerProcess(set)  # a forked process holds none of its parent's locks
        self.tokens_held: PerProcess[dict[int, int]] = PerProcess(dict)  # slot -> the heavy token taken with it
        self.clients_held: PerProcess[dict[int, int]] = PerProcess(dict)  # slot -> the client's byte taken with it

    def client_share(self, heavy: bool) -> int:
        """How many of the slots and queue places a query of this kind may take one client's queries hold at once
        (all of them without `per_client`)."""
        pool = self.heavy + len(self.heavy_places) if heavy else self.count + self.queue
        return min(self.per_client, pool) or pool

    def take(self, timeout: float, heavy: bool = False, admit: Callable[[], bool] = lambda: True,
             client: str | None = None) -> int | None:
        """The number of a slot now this process's, or None when none came free within `timeout` seconds; a
        `heavy` query waits for a heavy token as well. `admit` is asked once a slot or a queue place is held, so
        that what it counts (the threads that wait for queries) leaves out queries turned away at once. A query
        that names its `client` holds one of that client's share while it waits and runs.

        Raises ClientShareTaken when the client's queries hold its share, QueueFull when no slot (or token) is
        free and every queue place is taken, and NotAdmitted when `admit` says no.
        """
        with self.freed:
            held = self.held.get()
            if client is None or not self.per_client:
                return self.take_slot(timeout, heavy, admit, held)
            share = self.client_share(heavy)
            start = self.client_bytes[heavy] + zlib.crc32(client.encode()) % self.CLIENT_RANGES * share
            mine = self.first_free(range(start, start + share), held)
            if mine is None:
                raise ClientShareTaken(share, heavy)
            slot = None
            try:
                slot = self.take_slot(timeout, heavy, admit, held)
            finally:
                if slot is None:
                    self.unlock(mine)
                else:
                    self.clients_held.get()[slot] = mine
            return slot

    def take_slot(self, timeout: float, heavy: bool, admit: Callable[[], bool], held: set[int]) -> int | None:
        """`take` once the client holds its place (the caller holds `freed`)."""
        deadline = time.monotonic() + timeout
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
            for taken in (self.tokens_held.get(), self.clients_held.get()):
                number = taken.pop(slot, None)
                if number is not None:
                    self.unlock(number)
            self.freed.notify_all()  # a heavy query may wait for the token, a cheap one for the slot


DEFAULT_SLOTS = int(BY_NAME["QUERY_SLOTS"].default)
DEFAULT_HEAVY_SECONDS = float(BY_NAME["QUERY_HEAVY_SECONDS"].default)  # type: ignore[arg-type]
