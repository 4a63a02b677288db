"""`autokg serve`: the app behind granian, with the dataset loaded once in the master and shared by forked workers."""

from __future__ import annotations

import faulthandler
import gc
import logging
import os
import resource
import signal
import socket
import sys
from collections.abc import Mapping

# Granian's Rust side allocates with jemalloc, which keeps freed pages for 10 s by default, except for blocks over
# 8 MiB: a worker that had sent the competency mix's answers held 20 to 40 MiB of them. Blocks of 256 KiB or more
# (the answers it copies) now go back at once; returning small ones too cost lookups 10% (a page fault each).
# jemalloc reads this when it starts, which is when granian is imported.
os.environ.setdefault("_RJEM_MALLOC_CONF", "oversize_threshold:262144")

from flask import Flask  # noqa: E402
from granian.constants import HTTPModes, Interfaces  # noqa: E402
from granian.http import HTTP1Settings  # noqa: E402
from granian.log import LogLevels  # noqa: E402
from granian.server import Server  # noqa: E402

from autokg.engine.kill_on_timeout.child import end_forks_with_this_process  # noqa: E402
from autokg.engine.memory import map_large_blocks, memory_bytes  # noqa: E402
from autokg.errors import AutokgError  # noqa: E402
from autokg.web.app import create_app  # noqa: E402

MIB = 1024 * 1024


def worker_max_rss(private: int, shared: int) -> int:
    """The RSS in MiB past which a worker is replaced: what the master holds, plus as much again.

    Reading pyoxigraph's in-memory store makes the pages read a worker's own (copy-on-write), but that moves
    them from shared to private and leaves the worker's RSS as it was; RSS grows only with memory of its own.

    >>> worker_max_rss(600 * MIB, 0)
    1216
    """
    return 2 * (private + shared) // MIB + 16


def build_server(settings: Mapping[str, object]) -> tuple[Server, Flask]:
    """The app, built in this process before the workers fork, and the granian server that will run it."""
    app = create_app(settings)
    config = app.config
    check_address_free(str(config["HOST"]), int(config["PORT"]))
    logging.basicConfig(stream=sys.stderr, level=str(config["LOG_LEVEL"]).upper(), format="%(asctime)s %(name)s %(message)s")
    # objects made before the fork are never collected, so the GC does not dirty the shared pages
    gc.freeze()
    map_large_blocks()  # in the workers and query children too, which are forked from here
    # the query children are forked from this process, before the workers, and shared by them all
    app.extensions["autokg"].executor.start()
    server = Server(
        "autokg.serving:app",  # not imported: serve() hands the app built here to the forked workers
        address=str(config["HOST"]),
        port=int(config["PORT"]),
        interface=Interfaces.WSGI,
        websockets=False,
        workers=int(config["WORKERS"]),
        # a thread waiting for a long query leaves the worker's other threads free (see engine.gate.Gate)
        blocking_threads=int(config["THREADS"]),
        respawn_failed_workers=True,
        workers_max_rss=worker_max_rss(*memory_bytes()),
        # requests in flight get the query timeout, and a little more, to finish after SIGTERM
        workers_kill_timeout=int(float(config["TIMEOUT"])) + 5,
        log_level=LogLevels(str(config["LOG_LEVEL"]).lower()),
        log_access=False,
        # granian serves backlog / workers connections per worker at once, idle kept-alive ones included, and
        # leaves the others waiting in the kernel's queue until one closes
        backlog=int(config["BACKLOG"]),
        # a client that sends its headers slowly, or keeps a connection idle, loses it after this long
        http1_settings=HTTP1Settings(header_read_timeout=int(float(config["HEADER_TIMEOUT"]) * 1000)),
        # HTTP/1.1 only: granian's HTTP/2 (cleartext, with prior knowledge) escapes the header timeout, and no browser
        # speaks it without TLS, which a proxy in front terminates
        http=HTTPModes.http1,
    )
    allow_open_files(int(config["BACKLOG"]) // int(config["WORKERS"]) + OTHER_FILES)
    return server, app


#: file descriptors a worker holds besides its connections: the store, logs, sockets to the query children
OTHER_FILES = 256


def allow_open_files(needed: int) -> None:
    """Raise this process's soft limit on open files (inherited by the workers) to `needed`, as far as the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed if hard == resource.RLIM_INFINITY else min(needed, hard), hard))


def check_address_free(host: str, port: int) -> None:
    """Raise AutokgError when something listens on host:port already.

    Granian binds with SO_REUSEPORT, so a second server on the same port would start and share the connections
    with the first; a socket bound without it fails while any other listens there.
    """
    if port == 0:
        return
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # connections of a server just stopped do not count
            probe.bind(address)
    except OSError as error:
        raise AutokgError(f"cannot listen on {host}:{port}: {error.strerror or error} (is another server running there?)") from None


def serve(settings: Mapping[str, object]) -> None:
    """Run the endpoint until SIGTERM or SIGINT (requests in flight are finished first)."""
    # a crash in the store's native code, in any process of the server, leaves its Python stack in the log:
    # granian reports a worker that died in its shutdown as stopped, signal or not
    faulthandler.enable()
    server, app = build_server(settings)
    # granian forks and respawns its workers from the main thread, but does not end them when that thread dies: a
    # master killed outright left them serving on its port without query children. SIGTERM lets them finish
    # their requests.
    end_forks_with_this_process(signal.SIGTERM)
    server.serve(target_loader=lambda *args, **kwargs: app)
