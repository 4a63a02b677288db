"""Helpers for tests that must prove nothing was fetched: a listener on 127.0.0.1 that counts connections."""

from __future__ import annotations

import socket
import threading


class Canary:
    """A TCP listener on 127.0.0.1 that counts the connections made to it and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.hits = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.watch, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        """A SPARQL endpoint URL on the listener."""
        return f"http://127.0.0.1:{self.port}/sparql"

    def watch(self) -> None:
        """Accept and close connections, counting them, until closed."""
        while not self.stopped.is_set():
            try:
                connection, _ = self.sock.accept()
            except OSError:
                continue
            self.hits += 1
            connection.close()

    def close(self) -> None:
        """Stop listening."""
        self.stopped.set()
        self.thread.join(timeout=2)
        self.sock.close()
