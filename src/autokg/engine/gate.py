"""Taking turns inside a serving process: the `Gate` that lets one request thread run at a time, and the
`Allowance` of threads that long requests may take."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from autokg.errors import Busy, ClientBusy
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


class Places:
    """The places of one process's allowance: how many are taken, and by which clients."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.taken = 0
        self.by_client: dict[str, int] = {}


class Allowance:
    """How many of a process's request threads may be taken by long requests at once (receiving a body, waiting
    for a query, rendering a page), so that the others stay free for short ones (lookups, /health); and how many
    of those places one client may hold (`per_client`), so that the rest stay free for other clients.

    One client's slow bodies, page floods and waiting queries took all of a worker's places in the soak, and 943 of
    945 pages of other clients got 503. A client is what the request thread names in `serve` (the web layer's
    client address); a thread that names none is held to the allowance alone.

    A thread enters at most once: a page that runs a query, or a query whose body was received, holds one place.
    A process forked from the one that made it starts with every place free.

    >>> allowance = Allowance(3, per_client=2)
    >>> allowance.serve("192.0.2.1")
    >>> allowance.enter(), allowance.enter(), Allowance(1).enter()
    (True, True, True)
    """

    def __init__(self, places: int, per_client: int = 0) -> None:
        self.places = places
        self.per_client = min(per_client, places) or places
        self.state: PerProcess[Places] = PerProcess(Places)
        self.local = threading.local()

    def serve(self, client: str | None) -> None:
        """Name the client whose request this thread now serves (None: no one in particular)."""
        self.local.client = client

    def served(self) -> str | None:
        """The client this thread now serves (None: no one in particular)."""
        return getattr(self.local, "client", None)

    def enter(self) -> bool:
        """Take a place for this thread (True if it already holds one); False when all are taken, or when this
        thread's client holds its share of them (`refusal` says which)."""
        depth = getattr(self.local, "depth", 0)
        if depth == 0:
            client = getattr(self.local, "client", None)
            state = self.state.get()
            with state.lock:
                # a client at its share is told so even when every place is taken: its own requests are the cause
                held = state.by_client.get(client, 0) if client is not None else 0
                if held >= self.per_client:
                    self.local.refused = ClientBusy(client_share_taken(held, self.places))
                    return False
                if state.taken >= self.places:
                    self.local.refused = Busy(LONG_REQUESTS_BUSY)
                    return False
                state.taken += 1
                if client is not None:
                    state.by_client[client] = held + 1
            self.local.holder = client
        self.local.depth = depth + 1
        return True

    def leave(self) -> None:
        """Give back what `enter` took."""
        self.local.depth -= 1
        if self.local.depth:
            return
        client = self.local.holder
        state = self.state.get()
        with state.lock:
            state.taken -= 1
            if client is not None:
                held = state.by_client.pop(client) - 1
                if held:
                    state.by_client[client] = held

    def refusal(self) -> Busy:
        """Why `enter` last answered False in this thread: every place is taken (503), or this client holds its
        share (ClientBusy, 429)."""
        return getattr(self.local, "refused", None) or Busy(LONG_REQUESTS_BUSY)


#: what a client turned away because the long requests of its worker took every place they may is told
LONG_REQUESTS_BUSY = ("This worker's threads for long requests are all receiving bodies, waiting for queries or "
                      "rendering pages: try again in a few seconds")


def client_share_taken(held: int, places: int) -> str:
    """What a client turned away because it holds its share of a worker's places for long requests is told."""
    return (f"Your earlier requests hold {held} of this worker's {places} threads for long requests (receiving "
            f"bodies, waiting for queries, rendering pages), as many as one client may: wait for their answers")
