"""The lookup runner: a single triple pattern answered in the serving process, without the round trip to a query child."""

from __future__ import annotations

import pyoxigraph as ox

from autokg.engine.jobs import RESULT_FORMATS, ROW_MARKERS, Job, Outcome, dataset_arguments, header_lines, run_job, text_outcome, too_many_bytes
from autokg.query.guards import is_single_pattern, limited_to
from autokg.query.running import Queryable
from autokg.stores.backend import RemoteStore

#: one triple pattern streams from an index scan and stops at the row or byte cap, so it cannot overrun a
#: timeout of a second or more while the cap is at most this; it runs in the serving process itself, because
#: the round trip to the child (two wake-ups of a sleeping process) costs ten times the lookup on a VM. Paired
#: runs (issue 23, 2026-12-02, bench/endpoint.py --variant): the lookup mix at 100k triples ran 2.40x (1.39-3.33),
#: 3.46x (3.03-4.55) and 10.6x (5.94-13.25) as fast in process as through the children at 1, 4 and 16 clients (the
#: children shed load with 503s at 16), and at 1M 2.39x (1.59-3.60), 3.79x (2.96-3.81) and 7.74x (5.57-9.76)
IN_PROCESS_MAX_ROWS = 100_000
IN_PROCESS_MIN_TIMEOUT = 1.0


def runs_in_process(store: Queryable, job: Job, timeout: float) -> bool:
    """Whether a job is bounded by the caps alone, so that it can skip the round trip to the child."""
    return (timeout >= IN_PROCESS_MIN_TIMEOUT and job.max_rows <= IN_PROCESS_MAX_ROWS
            and not isinstance(store, RemoteStore) and is_single_pattern(job.query))


#: a query that answered 200 in no longer than this in a query child, the round trip included, last time it ran
#: runs in the serving process (a failure counts as heavy: Executor.note_cost): the data never changes, so the
#: same text on the same dataset costs the same again, and the round trip is most of what it costs. Paired runs
#: (bench/endpoint.py --variant, 2026-12-02, quiet machine): the competency mix with 16 clients ran 2.16x
#: (1.25-6.59) as fast at 30k triples, and at 100k 0.75x (0.73-5.18) (noise: queries of seconds, 10 s runs);
#: wikidata-links' median over HTTP went from 4.01 to 2.17 ms at 100k (Oxigraph 1.32), and from 2.3-2.8 to
#: 1.5-1.8 ms at 30k
KNOWN_CHEAP_SECONDS = 0.005


def known_cheap(store: Queryable, job: Job, last: float | None, timeout: float) -> bool:
    """Whether a job that took `last` seconds when it last ran (None: never seen) may run in the serving process.

    Not a query that calls a SERVICE, whose cost is the remote endpoint's, nor on a backend store.
    """
    return (last is not None and last <= KNOWN_CHEAP_SECONDS and timeout >= IN_PROCESS_MIN_TIMEOUT
            and not isinstance(store, RemoteStore) and "SERVICE" not in job.query.upper())


#: a single-pattern answer of at most this many rows is serialized in one call, to bytes, rather than streamed
#: through CappedBuffer: each of its writes takes the GIL back, and with a worker's threads answering lookups
#: side by side every such hand-over cost a context switch (four threads evaluating lookups: 103 µs of CPU each
#: instead of 60)
LOOKUP_ROWS = 1000


def run_lookup(store: Queryable, job: Job) -> Outcome:
    """Run a single-pattern job with a LIMIT just past LOOKUP_ROWS (or the row cap) and serialize it in one call.

    The LIMIT bounds what the one call can build; an answer that reaches it, a query that fails (or is not
    single-pattern), and a request that accepts no result format are handed to `run_job`, which streams the
    answer under the caps and words the error.
    """
    fmt = RESULT_FORMATS.get(job.result_type or "")
    if fmt is None:
        return run_job(store, job)
    rows = min(LOOKUP_ROWS, job.max_rows)
    try:
        # a single pattern is a SELECT or an ASK: its results are solutions or a boolean
        results = store.query(limited_to(job.query, rows + 1), **dataset_arguments(job))
        body = results.serialize(format=fmt)
    except (SyntaxError, OSError, ValueError, RuntimeError):
        return run_job(store, job)
    count = 1 if isinstance(results, ox.QueryBoolean) else sum(map(body.count, ROW_MARKERS[fmt])) - header_lines(fmt)
    if count > rows:
        return run_job(store, job)
    if len(body) > job.max_bytes:
        return text_outcome(422, str(too_many_bytes(job.max_bytes)))
    return Outcome(200, f"{job.result_type}; charset=utf-8", body, max(count, 0))
