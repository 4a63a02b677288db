"""An Executor for a test: made on a store, its query children started if asked, and always stopped after."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from autokg.engine.executor import Executor
from autokg.query.running import Queryable


@contextmanager
def running_executor(store: Queryable, *, start: bool = False, **options: object) -> Iterator[Executor]:
    """An Executor on `store` with these options, its children started first if `start`; stopped (its children
    killed, its keeper ended) when the block ends, however it ends."""
    runner = Executor(store, **options)  # type: ignore[arg-type]
    try:
        if start:
            runner.start()
        yield runner
    finally:
        runner.stop()
