"""What each query cost when it last ran in this server: the executor's guess at which queries are heavy."""

from __future__ import annotations

import hashlib
import mmap
import struct

#: one remembered query: a 16-byte digest and the seconds it took
ENTRY = struct.Struct("<16sf")
#: how many queries are remembered (160 KiB, whatever clients send): a direct-mapped table, where a query
#: takes the place of the one before it in its entry
ENTRIES = 8192


class QueryCosts:
    """The seconds each query took to evaluate when it last ran, by a digest of its text and dataset, shared by
    this process and the workers forked from it; a query that took `heavy_seconds` or more is heavy the next time.

    A query never seen (or whose entry another query took since) is taken to be cheap: its first run tells. The
    table is memory shared with the forked workers, so that a query that ran long on one worker is heavy on all.
    Two processes writing one entry at once may leave it torn, which costs one guess, never an error.

    >>> costs = QueryCosts(1.0)
    >>> costs.note(costs.key("SELECT * {?s ?p ?o}"), 3.0)
    >>> costs.last(costs.key("SELECT * {?s ?p ?o}")), costs.last(costs.key("ASK {}"))
    (3.0, None)
    """

    def __init__(self, heavy_seconds: float, entries: int = ENTRIES) -> None:
        self.heavy_seconds = heavy_seconds
        self.entries = entries
        self.table = mmap.mmap(-1, entries * ENTRY.size)  # anonymous and shared: the workers forked later see it

    @staticmethod
    def key(query: str, *graphs: tuple[str, ...]) -> bytes:
        """The digest a query is remembered by: its text and the graphs of its dataset (linear in their size)."""
        digest = hashlib.blake2b(query.encode("utf-8", "surrogatepass"), digest_size=16)
        for names in graphs:
            digest.update(b"\0" + "\0".join(names).encode("utf-8", "surrogatepass"))
        return digest.digest()

    def offset(self, key: bytes) -> int:
        """Where the key's entry starts in the table."""
        return int.from_bytes(key[:8], "little") % self.entries * ENTRY.size

    def last(self, key: bytes) -> float | None:
        """The seconds the query took when it last ran, or None if it is not remembered."""
        held, seconds = ENTRY.unpack_from(self.table, self.offset(key))
        return round(seconds, 3) if held == key else None

    def is_heavy(self, key: bytes) -> bool:
        """Whether the query took `heavy_seconds` or more when it last ran."""
        return self.heavy(self.last(key))

    def heavy(self, seconds: float | None) -> bool:
        """Whether a query that took `seconds` when it last ran (None: not remembered) is heavy."""
        return seconds is not None and seconds >= self.heavy_seconds

    def note(self, key: bytes, seconds: float) -> None:
        """Remember what the query took this time, in place of whatever query its entry held."""
        ENTRY.pack_into(self.table, self.offset(key), key, seconds)
