"""Taking turns inside a serving process: the `Gate` that lets one request thread run at a time, and the
`Allowance` of threads that long requests may take."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from autokg.stores.embedded import PerProcess


class Gate:
    """One thread at a time runs a request's Python work; a thread waiting for its query child opens the gate.

    Threads taking turns on a lock, rather than on the GIL, keep pyoxigraph's GIL releases from handing the
    interpreter to another request midway (a lookup mix ran at 4,431 req/s in 2 free threads per worker, 9,648
    in 4 gated ones). And no thread is inside the store while the keeper forks a query child, which would copy
    a lock the store holds into the child, held, for ever. A process forked while the keeper holds the gate
    (a worker, forked by the server's master) gets an open one.
    """

    def __init__(self) -> None:
        self.reopen()
        GATES.add(self)

    def reopen(self) -> None:
        """Start afresh, open (in a forked process, the lock may be held by a thread that is not there)."""
        self.lock = threading.Lock()
        self.local = threading.local()

    def held(self) -> Gate:
        """Run the `with` block as the only thread inside the gate (the gate is its own context manager, which
        costs a lookup a microsecond less than a generator)."""
        return self

    def __enter__(self) -> None:
        self.lock.acquire()
        self.local.held = True

    def __exit__(self, *exc_info: object) -> None:
        self.local.held = False
        self.lock.release()

    @contextmanager
    def opened(self) -> Iterator[None]:
        """Let other threads in while this one waits in the block (nothing changes when it does not hold the gate)."""
        if not getattr(self.local, "held", False):
            yield
            return
        self.local.held = False
        self.lock.release()
        try:
            yield
        finally:
            self.lock.acquire()
            self.local.held = True


GATES: weakref.WeakSet[Gate] = weakref.WeakSet()
os.register_at_fork(after_in_child=lambda: [gate.reopen() for gate in list(GATES)])


class Allowance:
    """How many of a process's request threads may be taken by long requests at once (receiving a body, waiting
    for a query, rendering a page), so that the others stay free for short ones (lookups, /health).

    A thread enters at most once: a page that runs a query, or a query whose body was received, holds one place.
    A process forked from the one that made it starts with every place free.

    >>> allowance = Allowance(1)
    >>> allowance.enter(), allowance.enter(), Allowance(1).enter()
    (True, True, True)
    """

    def __init__(self, places: int) -> None:
        self.places = places
        self.free: PerProcess[threading.BoundedSemaphore] = PerProcess(lambda: threading.BoundedSemaphore(places))
        self.local = threading.local()

    def enter(self) -> bool:
        """Take a place for this thread (True if it already holds one); False when all are taken."""
        depth = getattr(self.local, "depth", 0)
        if depth == 0 and not self.free.get().acquire(blocking=False):
            return False
        self.local.depth = depth + 1
        return True

    def leave(self) -> None:
        """Give back what `enter` took."""
        self.local.depth -= 1
        if self.local.depth == 0:
            self.free.get().release()


#: what a client turned away because the long requests of its worker took every place they may is told
LONG_REQUESTS_BUSY = ("This worker's threads for long requests are all receiving bodies, waiting for queries or "
                      "rendering pages: try again in a few seconds")
