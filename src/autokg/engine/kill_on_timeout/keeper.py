"""The keeper and its slot children: one query child per query slot, forked again when it ends, and killed when
its job overruns its time (see the package's docstring: this is the workaround for pyoxigraph's lack of cancellation)."""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import secrets
import select
import signal
import socket
import struct
import threading
import time

from autokg.engine.gate import Gate
from autokg.engine.kill_on_timeout.child import child_loop
from autokg.engine.memory import MIB
from autokg.errors import AutokgError
from autokg.query.running import Queryable

LOG = logging.getLogger(__name__)
#: a slot's child is forked at most this often (a child that fails as it starts must not keep the keeper busy)
REFORK_PAUSE = 0.05
#: a pid in the table shared by the master and its workers
PID = struct.Struct("i")
#: a slot's running job's deadline (time.monotonic(), 0: idle), and its last child's pid and wait status
DEADLINE = struct.Struct("d")
DEATH = struct.Struct("ii")
#: a job this long past its deadline is killed by the keeper (its worker, which kills it at the deadline, is gone)
OVERDUE_SECONDS = 1.0
#: the keeper looks for overdue jobs at least this often
KEEPER_TICK = 0.5
#: the file descriptors that the keepers of this process hold (listening sockets, pidfds, wake-up pipes): a query
#: child closes all of them but its own listener
KEEPER_FDS: set[int] = set()


def describe_end(status: int, memory: int) -> str:
    """How a query child ended, from its wait status, for the log.

    >>> describe_end(signal.SIGABRT, 512 * MIB)
    'aborted (SIGABRT): the engine could not allocate memory within the limit of 512 MiB per query, or crashed'
    >>> describe_end(signal.SIGKILL, 0)
    'was killed (SIGKILL): its query overran its time, or it was killed from outside'
    """
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)
        if number == signal.SIGKILL:
            return f"was killed ({name}): its query overran its time, or it was killed from outside"
        if number == signal.SIGABRT:
            limit = f"the limit of {memory // MIB} MiB per query" if memory else "the machine's memory"
            return f"aborted ({name}): the engine could not allocate memory within {limit}, or crashed"
        return f"died of {name}"
    return f"exited with status {os.WEXITSTATUS(status)}"


class SlotChildren:
    """One query child for each query slot, all forked from the process that loaded the store, and forked again
    when they end.

    The serving master starts them before it forks its workers, so that a worker holding slot k sends its job to
    the child of slot k, over an abstract Unix socket whose name the workers inherit. A child that ends (killed on
    a timeout, or retired for its memory) is forked again by the keeper, a thread of the master; the listening
    socket stays open in the master, so a job sent in between waits in its queue. The pid of each slot's child is
    in memory shared with the workers, which kill it through a pidfd when a job overruns its time.

    One child per slot, shared by all workers, is the fewest processes that can hold copies of the store's pages
    (see PRIVATE_LIMIT): a child per worker kept one idle in each of them.
    """

    def __init__(self, store: Queryable, count: int, gate: Gate, memory: int = 0) -> None:
        self.store = store
        self.count = count
        self.gate = gate
        self.memory = memory  # the working memory a child may take for one job, in bytes (0: no limit)
        self.owner = os.getpid()
        self.names = [b"\0autokg-query-" + secrets.token_hex(8).encode() + b"-%d" % slot for slot in range(count)]
        self.pids = mmap.mmap(-1, PID.size * count)  # shared with the processes forked from this one
        self.deadlines = mmap.mmap(-1, DEADLINE.size * count)
        self.deaths = mmap.mmap(-1, DEATH.size * count)
        self.starting = threading.Lock()
        self.listeners: list[socket.socket] = []
        self.wake: tuple[int, int] | None = None
        self.keeper: threading.Thread | None = None

    @property
    def started(self) -> bool:
        """Whether the children were started (in this process, or in the one this process was forked from)."""
        return self.keeper is not None

    def pid(self, slot: int) -> int:
        """The pid of the slot's child now, or 0 while it is being forked again."""
        return PID.unpack_from(self.pids, PID.size * slot)[0]

    def set_pid(self, slot: int, pid: int) -> None:
        """Record the pid of the slot's child (0: none) for every process forked from this one."""
        PID.pack_into(self.pids, PID.size * slot, pid)

    def deadline(self, slot: int) -> float:
        """When the job the slot's child is running is due (time.monotonic()), or 0 when it runs none."""
        return DEADLINE.unpack_from(self.deadlines, DEADLINE.size * slot)[0]

    def set_deadline(self, slot: int, deadline: float) -> None:
        """Record when the slot's running job is due (0: none), for the keeper and the slot's next holder."""
        DEADLINE.pack_into(self.deadlines, DEADLINE.size * slot, deadline)

    def death(self, slot: int) -> tuple[int, int]:
        """The pid and wait status of the slot's child that ended last ((0, 0) before any)."""
        return DEATH.unpack_from(self.deaths, DEATH.size * slot)

    def ended(self, slot: int, pid: int, within: float) -> int | None:
        """The wait status of the slot's child `pid`, once the keeper has reaped it (None if not within `within` s)."""
        deadline = time.monotonic() + within
        while True:
            dead, status = self.death(slot)
            if dead == pid:
                return status
            if time.monotonic() > deadline:
                return None
            time.sleep(0.005)

    def start(self) -> None:
        """Listen on the slots' sockets and start the keeper thread, which forks the children; does nothing if
        they were started already.

        Raises AutokgError in a process forked before they were started: its children would not be shared.
        """
        with self.starting:
            if self.started:
                return
            if os.getpid() != self.owner:
                raise AutokgError("The query children were not started before the server forked its workers: "
                                  "call Executor.start() in the process that loaded the store")
            for name in self.names:
                listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                listener.bind(name)
                listener.listen(16)
                self.listeners.append(listener)
                KEEPER_FDS.add(listener.fileno())
            self.wake = os.pipe()
            KEEPER_FDS.update(self.wake)
            self.keeper = threading.Thread(target=self.keep, name="autokg-keeper", daemon=True)
            self.keeper.start()

    def fork(self, slot: int) -> int:
        """Fork the slot's child from the keeper's thread; its pid."""
        with self.gate.held():
            pid = os.fork()
            if pid == 0:
                try:
                    listener = self.listeners[slot]
                    for fd in KEEPER_FDS - {listener.fileno()}:
                        with contextlib.suppress(OSError):
                            os.close(fd)
                    child_loop(self.store, listener, self.owner, self, slot)
                finally:
                    os._exit(0)
        self.set_pid(slot, pid)
        return pid

    def keep(self) -> None:
        """The keeper: fork each slot's child, and fork it again when it ends, until woken to stop."""
        assert self.wake is not None
        watched: dict[int, tuple[int, int, float]] = {}  # pidfd -> (slot, pid, when it was forked)
        due = dict.fromkeys(range(self.count), 0.0)  # slot without a child -> when to fork one (time.monotonic)
        while True:
            for slot, when in list(due.items()):
                if when > time.monotonic():
                    continue
                try:
                    pid = self.fork(slot)
                    pidfd = os.pidfd_open(pid)
                except OSError as error:  # out of memory or processes: the slot's jobs wait in its queue
                    LOG.warning("could not fork the query child of slot %d (%s); trying again in 1 s", slot, error)
                    due[slot] = time.monotonic() + 1
                    continue
                KEEPER_FDS.add(pidfd)
                watched[pidfd] = (slot, pid, time.monotonic())
                del due[slot]
            poll = select.poll()
            for fd in (self.wake[0], *watched):
                poll.register(fd, select.POLLIN)
            wait = min([KEEPER_TICK, *(when - time.monotonic() for when in due.values())])
            ready = {fd for fd, _event in poll.poll(max(wait, 0) * 1000)}
            if self.wake[0] in ready:
                break
            self.kill_overdue(watched)
            for pidfd in ready:
                slot, pid, forked = watched.pop(pidfd)
                self.set_pid(slot, 0)  # before the pid is reaped and free for another process
                self.record_death(slot, pid, self.reap(pidfd, pid))
                # a child that cannot even start must not make the keeper fork without pause
                due[slot] = forked + REFORK_PAUSE
        for pidfd, (slot, pid, _forked) in watched.items():
            self.set_pid(slot, 0)
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            self.reap(pidfd, pid)
        for fd in (*[listener.detach() for listener in self.listeners], *self.wake):
            KEEPER_FDS.discard(fd)
            os.close(fd)

    def kill_overdue(self, watched: dict[int, tuple[int, int, float]]) -> None:
        """Kill each child whose job is OVERDUE_SECONDS past its deadline: nobody waits for its answer."""
        now = time.monotonic()
        for pidfd, (slot, pid, _forked) in watched.items():
            deadline = self.deadline(slot)
            if deadline and now > deadline + OVERDUE_SECONDS:
                LOG.warning("query child of slot %d (pid %d): its job is %.1f s past its deadline and nobody waits "
                            "for it; killing it", slot, pid, now - deadline)
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)

    def record_death(self, slot: int, pid: int, status: int) -> None:
        """Note how the slot's child ended, for the worker that waited on it, and say so in the log."""
        self.set_deadline(slot, 0.0)
        DEATH.pack_into(self.deaths, DEATH.size * slot, pid, status)
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            LOG.info("query child of slot %d (pid %d) retired (it held too much memory of its own)", slot, pid)
            return
        LOG.warning("query child of slot %d (pid %d) %s", slot, pid, describe_end(status, self.memory))

    @staticmethod
    def reap(pidfd: int, pid: int) -> int:
        """Wait for a child that ended, or was killed, close its pidfd, and return its wait status."""
        status = 0
        with contextlib.suppress(ChildProcessError):
            _pid, status = os.waitpid(pid, 0)
        KEEPER_FDS.discard(pidfd)
        os.close(pidfd)
        return status

    def connect(self, slot: int, deadline: float) -> socket.socket:
        """A socket connected to the slot's child, started first if need be; raises what `start` raises, and
        OSError when the connection fails."""
        if not self.started:
            self.start()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            sock.connect(self.names[slot])
        except OSError:
            sock.close()
            raise
        return sock

    def kill(self, slot: int) -> None:
        """Kill the slot's child now (the keeper forks a fresh one)."""
        pid = self.pid(slot)
        if pid <= 0:
            return
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            return
        try:
            # the keeper clears the pid before it reaps the child, so a pid still there is not yet free for reuse
            if self.pid(slot) == pid:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        finally:
            os.close(pidfd)

    def stop(self) -> None:
        """Kill the children and stop the keeper (in the process that started them; elsewhere nothing happens)."""
        if self.keeper is None or self.wake is None or os.getpid() != self.owner or not self.keeper.is_alive():
            return
        os.write(self.wake[1], b"x")
        self.keeper.join()
