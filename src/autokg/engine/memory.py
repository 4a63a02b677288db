"""The memory policy of the serving processes, on glibc's malloc and Linux's /proc: large blocks mapped on their own,
a limit on a query child's working memory (RLIMIT_DATA), and the budget past which a query child retires."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
from dataclasses import dataclass

#: a query child that has made more memory its own than its budget retires after its answer, and a fresh fork
#: shares everything again. Reading pyoxigraph's in-memory store writes to the pages it walks (a lock per quad),
#: so copy-on-write makes them the reader's own, and a fresh child must copy them again: at 1M triples
#: source-documents took 1,635 ms in a fresh child and 196 ms in a warm one. So the budget is what the process
#: shared with its parent when it started (copying all of it is the most that copy-on-write can cost; more than
#: that is growth of its own), or this much, whichever is more.
PRIVATE_LIMIT = 16 * 1024 * 1024
#: a query faster than this touched little memory, so the check (a walk of the page tables) is skipped,
#: except once every CHECK_EVERY queries, for many small ones that add up
CHECK_AFTER_SECONDS = 0.01
CHECK_EVERY = 256
LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


M_MMAP_THRESHOLD = -3
#: a heap block this large or larger gets pages of its own, which go back to the system when it is freed
MMAP_THRESHOLD = 256 * 1024


def map_large_blocks() -> None:
    """Have malloc give each block of MMAP_THRESHOLD or more pages of its own, handed back when it is freed.

    By default the threshold climbs to the largest block freed so far (up to 32 MiB), and blocks under it come from
    the heap of the thread that asked, which keeps them when they are freed: after the competency mix, a serving
    worker held 20 to 40 MiB of freed answers.
    """
    LIBC.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


MIB = 1024 * 1024

def too_much_memory(limit: int) -> str:
    """The refusal of a query that needed more memory than a query child may take."""
    return (f"The query needed more than this endpoint's limit of {limit // MIB} MiB of working memory and was "
            "stopped: narrow it down or add a LIMIT")



def data_bytes() -> int:
    """The size of this process's data (heap and private writable mappings), which RLIMIT_DATA bounds."""
    with open("/proc/self/status", "rb") as status:
        for line in status:
            if line.startswith(b"VmData:"):
                return int(line.split()[1]) * 1024
    raise OSError("/proc/self/status has no VmData line")


def default_query_memory(slots: int) -> int:
    """The working memory a query child may take by default: a share of the machine's memory that leaves room
    for the store and every slot at once (half of it, split between the slots and the store), 256 MiB to 4 GiB.

    >>> default_query_memory(2) >= 256 * MIB
    True
    """
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return max(256 * MIB, min(4096 * MIB, total // (2 * (slots + 1))))


def limit_memory(extra: int) -> None:
    """Let this process grow by at most `extra` bytes of data from now on (0: no limit).

    Past it the engine's allocation fails and aborts the process (Rust's allocator cannot fail softly), and Python
    raises MemoryError. A query child sets it before each job, so what earlier jobs left does not count.
    """
    if extra <= 0:
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    wanted = data_bytes() + extra
    resource.setrlimit(resource.RLIMIT_DATA, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard))


def release_free_memory() -> None:
    """Return freed heap pages to the system (glibc keeps them for reuse otherwise, privately to this child)."""
    trim = getattr(LIBC, "malloc_trim", None)
    if trim is not None:
        trim(0)


def memory_bytes() -> tuple[int, int]:
    """The memory this process holds on its own (private pages) and shares with others, from /proc/self/smaps_rollup."""
    with open("/proc/self/smaps_rollup", "rb") as rollup:
        fields = dict(line.split(b":", 1) for line in rollup.read().splitlines()[1:])

    def total(*names: bytes) -> int:
        return sum(int(fields.get(name, b"0 kB").split()[0]) for name in names) * 1024

    return total(b"Private_Clean", b"Private_Dirty"), total(b"Shared_Clean", b"Shared_Dirty")


def private_bytes() -> int:
    """The memory only this process holds (private clean and dirty pages)."""
    return memory_bytes()[0]


@dataclass(frozen=True)
class MemoryBudget:
    """How much more memory of its own a forked process may hold than it did at `baseline`, before it retires."""

    baseline: int
    limit: int

    @classmethod
    def from_now(cls) -> MemoryBudget:
        """A budget that starts from this process's memory now (freed heap returned first)."""
        release_free_memory()
        private, shared = memory_bytes()
        return cls(private, max(PRIVATE_LIMIT, shared))

    def exceeded(self) -> bool:
        """Whether this process, freed heap returned first, holds more than the budget allows."""
        release_free_memory()
        return private_bytes() - self.baseline > self.limit
