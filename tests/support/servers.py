"""Processes for live tests: free ports, waiting, `autokg serve` and Oxigraph's server started and stopped."""

from __future__ import annotations

import contextlib
import http.client
import os
import urllib.parse
from pathlib import Path

import pytest

from support.paths import TESTS


def gone(pid: int) -> bool:
    """Whether a process has ended (a zombie that no one reaped has ended too)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def wait_until(condition, within: float, every: float = 0.05) -> bool:
    """Whether `condition()` came true within `within` seconds, asked every `every` seconds."""
    import time

    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(every)
    return True


def still_running(pids: list[int], within: float = 5.0) -> list[int]:
    """The processes among `pids` that have not ended after waiting up to `within` seconds for them all."""
    wait_until(lambda: all(map(gone, pids)), within)
    return [pid for pid in pids if not gone(pid)]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving(*options: str, log_name: str = "live-server.log"):
    """`autokg serve OPTIONS` in a subprocess on 127.0.0.1 and a free port; yields its base URL, then stops it with SIGTERM."""
    import os
    import subprocess
    import sys
    import time
    import urllib.request

    port = free_port()
    log = open(TESTS / ".." / "dist" / log_name, "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "autokg.cli", "serve", "--port", str(port), *options],
        stdout=log, stderr=subprocess.STDOUT, env={k: v for k, v in os.environ.items() if k != "AUTOKG_SERVICE_ALLOW_LIST"},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(base + "/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError(f"the server did not start; see dist/{log_name}")
    try:
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def oxigraph_server(data: Path | None, location: Path, *options: str, command: str = "serve-read-only"):
    """Load `data` (if any) into an Oxigraph server (from the test extra) on 127.0.0.1; returns (query URL, process)."""
    import shutil
    import subprocess
    import sys
    import time
    import urllib.request

    binary = shutil.which("oxigraph", path=str(Path(sys.executable).parent)) or shutil.which("oxigraph")
    assert binary, "the oxigraph server is part of the test extra: pip install -e '.[test]'"
    if data is not None:
        subprocess.run([binary, "load", "--location", str(location), "--file", str(data)], check=True, capture_output=True)
    port = free_port()
    process = subprocess.Popen([binary, command, "--location", str(location), "--bind", f"127.0.0.1:{port}", *options],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/query"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url + "?query=ASK%7B%7D", timeout=2):
                break
        except OSError:
            time.sleep(0.1)
    return url, process


def require_virtuoso() -> None:
    """Skip the calling test without Virtuoso, or fail it when AUTOKG_REQUIRE_VIRTUOSO=1 (as in CI)."""
    import os

    import engines

    if engines.virtuoso_binary() is None:
        if os.environ.get("AUTOKG_REQUIRE_VIRTUOSO") == "1":
            pytest.fail("Virtuoso is required here: apt-get install virtuoso-opensource-7")
        pytest.skip("Virtuoso is not installed (apt-get install virtuoso-opensource-7)")


#: the loopback address another client sends from (the server is still contacted on 127.0.0.1)
OTHER_CLIENT = "127.0.0.2"


def raw(base: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None, timeout: float = 30,
        source: str | None = None):
    """One request with http.client, the way curl would send it (from the loopback address `source`, if given)."""
    url = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout,
                                            source_address=(source, 0) if source else None)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, response.getheader("Content-Type", ""), data


def required(variable: str, what: str, install: str) -> None:
    """Fail when `variable` is 1 (as in CI), else skip: `what` is missing."""
    if os.environ.get(variable) == "1":
        pytest.fail(f"{what} is required here: {install}")
    pytest.skip(f"{what} is not installed ({install})")
