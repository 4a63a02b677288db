"""`autokg serve` against hostile connections and misconfiguration: slow headers, idle and silent connections by
the thousand, a second server on a busy port, settings that are not numbers. Everything on 127.0.0.1, every loop
bounded."""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

from support.servers import serving

pytestmark = pytest.mark.live

HEADER_TIMEOUT = 2.0
#: connections held open at once by the test: past granian's former default of 1,024 for the whole server
IDLE = 1100


@pytest.fixture(scope="module")
def server():
    """A server with the default backlog and a short header timeout; yields (host, port)."""
    with serving("--workers", "2", "--header-timeout", str(HEADER_TIMEOUT), log_name="hostile-serve.log") as base:
        address = urllib.parse.urlsplit(base)
        yield address.hostname, address.port


def health(host: str, port: int, timeout: float) -> int:
    with urllib.request.urlopen(f"http://{host}:{port}/health", timeout=timeout) as response:
        return response.status


def closed_within(sock: socket.socket, seconds: float) -> float | None:
    """How long the server took to close `sock` (reading and dropping what it sends), or None if it stayed open."""
    started = time.monotonic()
    sock.settimeout(seconds)
    with contextlib.suppress(TimeoutError):
        while sock.recv(4096):
            pass
        return time.monotonic() - started
    return None


def test_half_a_request_line_loses_its_connection_within_the_header_timeout(server):
    with socket.create_connection(server, timeout=5) as slow:
        slow.sendall(b"GET /heal")
        assert health(*server, timeout=5) == 200  # the others are answered meanwhile
        took = closed_within(slow, HEADER_TIMEOUT + 3)
    assert took is not None, "the server kept a connection that never finished its request line"


def test_headers_sent_a_byte_at_a_time_lose_their_connection(server):
    with socket.create_connection(server, timeout=5) as slow:
        started = time.monotonic()
        for byte in b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 40:
            if time.monotonic() - started > HEADER_TIMEOUT + 3:
                break
            try:
                slow.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.1)
        assert closed_within(slow, HEADER_TIMEOUT + 3) is not None
    assert time.monotonic() - started < 2 * HEADER_TIMEOUT + 3


def test_an_http2_connection_is_refused_at_once(server):
    """Granian's cleartext HTTP/2 kept a connection that opened no stream past the header timeout, and held up shutdown."""
    with socket.create_connection(server, timeout=5) as h2:
        h2.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        took = closed_within(h2, HEADER_TIMEOUT - 0.5)
    assert took is not None


def test_an_idle_kept_alive_connection_is_closed_after_the_header_timeout(server):
    with socket.create_connection(server, timeout=5) as idle:
        idle.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert idle.recv(4096).startswith(b"HTTP/1.1 200")
        took = closed_within(idle, HEADER_TIMEOUT + 3)
    assert took is not None and took >= HEADER_TIMEOUT - 0.5


def test_a_thousand_silent_connections_leave_room_for_new_clients(server):
    """With granian's former backlog of 1,024, the 1,025th connection waited until one of these closed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < IDLE + 100:
        pytest.skip(f"this test needs {IDLE + 100} open files, and the hard limit is {hard}")
    if soft != resource.RLIM_INFINITY and soft < IDLE + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (IDLE + 100, hard))
    held = []
    try:
        for _ in range(IDLE):
            held.append(socket.create_connection(server, timeout=5))
        started = time.monotonic()
        assert health(*server, timeout=5) == 200
        assert time.monotonic() - started < 3
    finally:
        for sock in held:
            sock.close()


def test_a_second_server_on_a_busy_port_exits_2_naming_the_address(server):
    host, port = server
    second = subprocess.run([sys.executable, "-m", "autokg.cli", "serve", "--port", str(port), "--workers", "1"],
                            capture_output=True, text=True, timeout=120)
    assert second.returncode == 2
    errors = [line for line in second.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and f"{host}:{port}" in errors[0], second.stderr[-2000:]
    assert health(host, port, timeout=5) == 200


def serve_briefly(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`autokg serve ARGS` on a free port, which must end by itself within two minutes."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return subprocess.run([sys.executable, "-m", "autokg.cli", "serve", "--port", str(port), *args],
                          capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize("flag,value", [("--timeout", "nan"), ("--timeout", "-1"), ("--timeout", "inf"),
                                        ("--header-timeout", "nan"), ("--header-timeout", "0"), ("--backlog", "5")])
def test_unusable_settings_are_refused_before_anything_starts(flag, value):
    result = serve_briefly(flag, value)
    setting = flag[2:].replace("-", "_").upper()
    assert result.returncode == 2 and f"setting {setting}" in result.stderr, result.stderr[-2000:]


@pytest.mark.parametrize("value", ["nan", "-1"])
def test_unusable_settings_in_the_environment_are_refused_too(value):
    result = serve_briefly(env={**os.environ, "AUTOKG_TIMEOUT": value})
    assert result.returncode == 2 and "setting TIMEOUT" in result.stderr, result.stderr[-2000:]
