"""docs/nginx/autokg.conf, run by Debian's nginx in front of a live `autokg serve`, all on 127.0.0.1.

Each test starts nginx afresh (its own prefix, temporary folders and log in a tmp folder, free ports, a
self-signed certificate, no daemon) with the configuration file as shipped, only its ports and certificate
paths swapped, and checks what the file promises: TLS in front of autokg, plain HTTP redirected, foreign host
names refused, slow bodies cut off (logged as 408), bodies over the cap refused with 413, and per-client connection and
request-rate limits answered with 503 and 429. Without nginx the tests are skipped, unless
AUTOKG_REQUIRE_NGINX=1 (set by .ci/run), which turns a missing nginx into a failure.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.paths import TESTS
from support.servers import free_port, wait_until

pytestmark = pytest.mark.live

CONFIG = TESTS.parent / "docs" / "nginx" / "autokg.conf"
HOST = "autokg.example.org"
LOOKUP = "SELECT ?o WHERE { <https://w3id.org/autokg/id/ford> <http://www.w3.org/2000/01/rdf-schema#label> ?o }"


def nginx_binary() -> str | None:
    """Debian's nginx (in /usr/sbin, which may be off a user's PATH), or None."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")


def swapped(text: str, old: str, new: str, count: int) -> str:
    """`text` with `old` replaced by `new`, which must occur exactly `count` times (the file's shape is tested)."""
    assert text.count(old) == count, f"{CONFIG} no longer has {count} x {old!r}"
    return text.replace(old, new)


@dataclass
class Proxy:
    """nginx on 127.0.0.1: its TLS and plain ports, and its folder."""

    tls_port: int
    http_port: int
    folder: Path

    def connect(self, server_name: str = HOST, timeout: float = 15) -> ssl.SSLSocket:
        """A TLS connection that names `server_name` (SNI), trusting the test certificate only."""
        context = ssl.create_default_context(cafile=str(self.folder / "cert.pem"))
        sock = socket.create_connection(("127.0.0.1", self.tls_port), timeout=timeout)
        return context.wrap_socket(sock, server_hostname=server_name)


def start_nginx(folder: Path, upstream_port: int) -> tuple[Proxy, subprocess.Popen]:
    """nginx with the shipped configuration, proxying to autokg on `upstream_port`, listening on free ports."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={HOST}",
                    "-addext", f"subjectAltName=DNS:{HOST}", "-keyout", str(folder / "key.pem"),
                    "-out", str(folder / "cert.pem")], check=True, capture_output=True)
    proxy = Proxy(free_port(), free_port(), folder)
    site = CONFIG.read_text()
    site = swapped(site, "server 127.0.0.1:7878;", f"server 127.0.0.1:{upstream_port};", 1)
    site = swapped(site, "listen 443 ssl", f"listen 127.0.0.1:{proxy.tls_port} ssl", 2)
    site = swapped(site, "listen 80 ", f"listen 127.0.0.1:{proxy.http_port} ", 1)
    site = swapped(site, f"/etc/letsencrypt/live/{HOST}/fullchain.pem", str(folder / "cert.pem"), 1)
    site = swapped(site, f"/etc/letsencrypt/live/{HOST}/privkey.pem", str(folder / "key.pem"), 1)
    (folder / "autokg.conf").write_text(site)
    temps = "".join(f"    {kind}_temp_path {folder / kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers of a root master would run as nobody, locked out of tmp
    (folder / "nginx.conf").write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'} info;\n"
        f"events {{ worker_connections 512; }}\n"
        f"http {{\n    access_log {folder / 'access.log'};\n{temps}    include {folder / 'autokg.conf'};\n}}\n"
    )
    binary = nginx_binary()
    check = subprocess.run([binary, "-t", "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(folder / "nginx.conf")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen([binary, "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(folder / "nginx.conf")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", proxy.tls_port), timeout=1).close()
            return True
        except OSError:
            return False

    if not wait_until(listening, 15, every=0.05):
        process.kill()
        raise RuntimeError(f"nginx did not start: {(folder / 'error.log').read_text()[-2000:]}")
    return proxy, process


@pytest.fixture
def proxy(tmp_path, live_server):
    """nginx in front of the live autokg server; stopped (with its workers) after the test."""
    if nginx_binary() is None:
        if os.environ.get("AUTOKG_REQUIRE_NGINX") == "1":
            pytest.fail("nginx is required here: apt-get install nginx")
        pytest.skip("nginx is not installed (apt-get install nginx)")
    started, process = start_nginx(tmp_path, urllib.parse.urlsplit(live_server).port)
    yield started
    os.killpg(process.pid, signal.SIGQUIT)  # graceful stop of the master and its worker
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def request(method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    """An HTTP/1.1 request for the proxied host."""
    head = {"Host": HOST, "Connection": "close", **(headers or {})}
    if body and "Transfer-Encoding" not in head:
        head.setdefault("Content-Length", str(len(body)))
    return (f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items()) + "\r\n").encode() + body


def answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and body of the answer on `sock`, read until the server closes."""
    response = http.client.HTTPResponse(sock)
    response.begin()
    body = response.read()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def exchange(proxy: Proxy, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    with proxy.connect() as sock:
        sock.sendall(raw)
        return answer(sock)


def lookup_request() -> bytes:
    return request("GET", "/sparql?" + urllib.parse.urlencode({"query": LOOKUP}),
                   {"Accept": "application/sparql-results+json"})


def test_a_query_through_the_proxy_answers_right(proxy):
    status, headers, body = exchange(proxy, lookup_request())
    assert status == 200, body[:300]
    labels = {row["o"]["value"] for row in json.loads(body)["results"]["bindings"]}
    assert "Ford Motor Company" in labels
    assert headers["strict-transport-security"].startswith("max-age=")
    assert "server" not in headers or "nginx/" not in headers["server"]
    # a POST body is buffered by nginx and passed on whole
    status, _, body = exchange(proxy, request("POST", "/sparql", {"Content-Type": "application/sparql-query",
                                                                  "Accept": "text/csv"}, b"ASK { ?s ?p ?o }"))
    assert (status, body.strip()) == (200, b"true")


def test_plain_http_redirects_and_foreign_names_are_refused(proxy):
    with socket.create_connection(("127.0.0.1", proxy.http_port), timeout=10) as sock:
        sock.sendall(request("GET", "/id/ford"))
        status, headers, _ = answer(sock)
    assert (status, headers["location"]) == (301, f"https://{HOST}/id/ford")
    # another SNI name gets no TLS session at all, so a forged Host never reaches autokg
    with pytest.raises(ssl.SSLError):
        proxy.connect("attacker.example.net").close()
    # the right SNI name with another Host header: nginx closes the connection without an answer
    with pytest.raises(http.client.RemoteDisconnected):
        exchange(proxy, request("GET", "/health", {"Host": "attacker.example.net"}))


def test_a_slow_body_is_cut_off_with_408(proxy):
    with proxy.connect(timeout=30) as sock:
        sock.sendall(request("POST", "/sparql", {"Content-Type": "application/sparql-query", "Content-Length": "100"}))
        sock.sendall(b"ASK { ?s ?p")  # and then nothing, for longer than client_body_timeout (10 s)
        started = time.monotonic()
        # nginx ends a request that timed out without an answer (ngx_http_terminate_request) and resets it
        with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError, ssl.SSLError)):
            answer(sock)
    assert 9 < time.monotonic() - started < 20
    assert wait_until(lambda: '"POST /sparql HTTP/1.1" 408 ' in (proxy.folder / "access.log").read_text(), 5)


def test_bodies_over_the_cap_get_413_from_nginx(proxy):
    cap = 1024 * 1024
    status, headers, body = exchange(proxy, request("POST", "/sparql", {"Content-Type": "application/sparql-query",
                                                                        "Content-Length": str(50 * cap)}))
    assert status == 413 and b"<center>nginx</center>" in body  # nginx's page: autokg never saw it
    text = b"ASK { ?s ?p ?o }" + b" " * cap + b" not SPARQL }"
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(text[i:i + 65536]), text[i:i + 65536]) for i in range(0, len(text), 65536))
    with proxy.connect() as sock:
        sock.sendall(request("POST", "/sparql", {"Content-Type": "application/sparql-query",
                                                 "Transfer-Encoding": "chunked"}))
        try:
            sock.sendall(chunks + b"0\r\n\r\n")
        except OSError:  # nginx may answer and close before the last chunk
            pass
        status, _, _ = answer(sock)
    assert status == 413


def test_connections_past_the_limit_get_503(proxy):
    held = []
    try:
        # 16 requests in progress (bodies still coming), under the rate limit (10/s): the 17th is refused
        for _ in range(16):
            sock = proxy.connect(timeout=30)
            sock.sendall(request("POST", "/sparql", {"Content-Type": "application/sparql-query", "Content-Length": "100"}))
            held.append(sock)
            time.sleep(0.12)
        time.sleep(0.3)
        status, _, _ = exchange(proxy, lookup_request())
        assert status == 503
    finally:
        for sock in held:
            sock.close()
    assert wait_until(lambda: exchange(proxy, lookup_request())[0] == 200, 5, every=0.2)


def test_requests_past_the_rate_limit_get_429(proxy):
    statuses: list[int] = []

    def one() -> None:
        statuses.append(exchange(proxy, lookup_request())[0])

    # 100 lookups from one address, 10 at a time: the burst of 30 passes, and then 10 a second
    started = time.monotonic()
    for _ in range(10):
        batch = [threading.Thread(target=one) for _ in range(10)]
        for thread in batch:
            thread.start()
        for thread in batch:
            thread.join(timeout=30)
    elapsed = time.monotonic() - started
    assert len(statuses) == 100 and set(statuses) <= {200, 429}, statuses
    assert 30 <= statuses.count(200) <= 31 + 10 * elapsed + 2, (elapsed, statuses)
    assert statuses.count(429) > 0, elapsed
