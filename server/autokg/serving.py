"""`autokg serve`: the app behind gunicorn, with the dataset loaded once in the master and shared by forked workers."""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import Mapping

from gunicorn.app.base import BaseApplication

from autokg.app import create_app
from autokg.executor import CHECK_EVERY, MemoryBudget


class AutokgServer(BaseApplication):
    """A gunicorn application that builds the Flask app once, before forking (preload)."""

    def __init__(self, settings: Mapping[str, object]) -> None:
        self.settings = dict(settings)
        super().__init__()

    def load_config(self) -> None:
        app = self.load()
        config = app.config
        # a worker waits for its query child; gunicorn must not kill it before the query timeout fires
        self.cfg.set("bind", f"{config['HOST']}:{config['PORT']}")
        self.cfg.set("workers", int(config["WORKERS"]))
        # sync, not gthread: a gthread worker busy with a long query still accepts connections and
        # leaves them waiting; a busy sync worker accepts none, so the idle workers answer them
        self.cfg.set("worker_class", "sync")
        self.cfg.set("timeout", int(float(config["TIMEOUT"])) + 30)
        self.cfg.set("graceful_timeout", int(float(config["TIMEOUT"])) + 5)
        self.cfg.set("preload_app", True)
        self.cfg.set("accesslog", None)
        self.cfg.set("loglevel", str(config["LOG_LEVEL"]))
        self.cfg.set("limit_request_line", 8190)
        self.cfg.set("proc_name", "autokg")
        self.cfg.set("worker_exit", release_store)
        self.cfg.set("post_fork", start_memory_budget)
        self.cfg.set("post_request", retire_when_heavy)

    def load(self):  # type: ignore[no-untyped-def]
        if not hasattr(self, "_app"):
            logging.basicConfig(stream=sys.stderr, level=str(self.settings.get("LOG_LEVEL", "info")).upper(),
                                format="%(asctime)s %(name)s %(message)s")
            self._app = create_app(self.settings)
            # objects made before the fork are never collected, so the GC does not dirty the shared pages
            gc.freeze()
        return self._app


def start_memory_budget(server: object, worker: object) -> None:
    """Start counting a freshly forked worker's requests; its memory budget starts once it is warm."""
    worker.autokg_served = 0  # type: ignore[attr-defined]
    worker.autokg_budget = None  # type: ignore[attr-defined]


def retire_when_heavy(worker: object, request: object, environ: object, response: object) -> None:
    """Every CHECK_EVERY requests, let a worker that holds too much memory of its own finish; a fresh fork replaces it.

    Single-pattern queries run in the worker itself (executor.runs_in_process), so its reads copy store pages
    the way a query child's do. The budget starts at the first check, not at the fork: a worker's first
    requests make the interpreter's own pages private (reference counts), and that is no reason to retire.
    """
    worker.autokg_served += 1  # type: ignore[attr-defined]
    if worker.autokg_served % CHECK_EVERY:  # type: ignore[attr-defined]
        return
    if worker.autokg_budget is None:  # type: ignore[attr-defined]
        worker.autokg_budget = MemoryBudget.from_now()  # type: ignore[attr-defined]
    elif worker.autokg_budget.exceeded():  # type: ignore[attr-defined]
        worker.alive = False  # type: ignore[attr-defined]


def release_store(server: object, worker: object) -> None:
    """End a worker that has finished its requests: stop its query child, flush the logs, and exit at once.

    With `--store disk`, RocksDB's threads and static objects crashed workers (SIGSEGV) during the
    interpreter's teardown; the store is read-only, so skipping that teardown loses nothing.
    """
    worker.app.load().extensions["autokg"].executor.stop()  # type: ignore[attr-defined]
    logging.shutdown()
    os._exit(0)


def serve(settings: Mapping[str, object]) -> None:
    """Run the endpoint until SIGTERM or SIGINT (requests in flight are finished first)."""
    AutokgServer(settings).run()
