"""`autokg serve` against hostile clients, live on 127.0.0.1: slow and oversized bodies, floods of heavy queries,
memory and nesting bombs. Every loop here is bounded in count and time."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest

from support.queries import doubling
from support.servers import OTHER_CLIENT, raw, serving, wait_until

pytestmark = pytest.mark.live

CROSS_PRODUCT = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n2 ?o . ?p ?q ?r }"
LOOKUP = "SELECT ?p ?o WHERE { <https://w3id.org/autokg/id/ford-motor-company> ?p ?o } LIMIT 5"
SLOW_SECONDS = 2
#: the loopback address of a proxy the server trusts to name its clients in X-Forwarded-For
PROXY = "127.0.0.3"


@pytest.fixture(scope="module")
def server():
    """The defaults of a small deployment: 2 workers of 4 threads, 2 query slots, 2 queue places, one slot for
    heavy queries (here, those that took half a second)."""
    with serving("--workers", "2", "--threads", "4", "--query-slots", "2", "--query-queue", "2", "--timeout", "4",
                 "--query-memory", "64", "--query-heavy-seconds", "0.5", "--trusted-proxy", PROXY,
                 log_name="hostile-server.log") as base:
        yield base


def connect(base: str, source: str | None = None) -> socket.socket:
    """A raw TCP connection to the server (from the loopback address `source`, if given)."""
    url = urllib.parse.urlsplit(base)
    return socket.create_connection((url.hostname, url.port), timeout=10, source_address=(source, 0) if source else None)


def reply(sock: socket.socket, within: float = 10) -> bytes:
    """What the server sent on a raw connection until it closed it or `within` seconds passed."""
    sock.settimeout(0.2)
    data = b""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            if b"\r\n\r\n" in data and b"content-length" in data.lower():
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                if len(body) >= length:
                    return data
            continue
        if not chunk:
            break
        data += chunk
    return data


def timed_lookup(base: str) -> tuple[int, float]:
    """A lookup's status and how long it took."""
    started = time.monotonic()
    status, _, _ = raw(base, "GET", "/sparql?" + urllib.parse.urlencode({"query": LOOKUP}), timeout=30)
    return status, time.monotonic() - started


SLOW_BODY = b"Content-Type: application/sparql-query\r\nContent-Length: 400\r\n\r\nSELECT"


def slow_body(base: str, source: str, headers: bytes = b"") -> socket.socket:
    """A POST whose body is still to come, from the loopback address `source`."""
    sock = connect(base, source)
    sock.sendall(b"POST /sparql HTTP/1.1\r\nHost: x\r\n" + headers + SLOW_BODY)
    return sock


def hold_share(base: str, source: str, headers: bytes = b"") -> list[socket.socket]:
    """Slow bodies from one client until it holds its share of both workers' threads for long requests (2 of 3
    each), wherever the kernel sends its connections: those being received. The others get 429 at once."""
    held: list[socket.socket] = []
    for _ in range(24):
        sock = slow_body(base, source, headers)
        refused = reply(sock, within=0.3)
        if refused:
            assert refused.startswith(b"HTTP/1.1 429") and b"retry-after: 2" in refused.lower(), refused
            assert b"as many as one client may" in refused
            sock.close()
        else:
            held.append(sock)
        if len(held) == 4:
            return held
    for sock in held:
        sock.close()
    raise AssertionError(f"one client held {len(held)} places for long requests, not the 2 of each worker")


def test_slow_bodies_stall_no_request_without_a_body(server):
    # as many as the server has request threads, from four clients: every place for long requests is taken
    slow = [slow_body(server, f"127.0.0.{10 + n % 4}") for n in range(8)]
    try:
        started = time.monotonic()
        while time.monotonic() - started < SLOW_SECONDS:  # the slow bodies are still coming
            for sock in slow:
                with contextlib.suppress(OSError):
                    sock.sendall(b" ")
            status, took = timed_lookup(server)
            assert status == 200 and took < 0.5, f"a lookup took {took:.2f} s beside slow bodies"
            time.sleep(0.1)
        # a query shares the allowance with the bodies: in a worker whose long-wait threads all receive bodies it
        # is turned away (elsewhere it runs to its timeout); either way the last thread stays free for lookups
        heavy = "/sparql?" + urllib.parse.urlencode({"query": CROSS_PRODUCT})
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(raw, server, "GET", heavy, None, {"Accept": "text/csv"}, 10)
            time.sleep(0.2)
            status, took = timed_lookup(server)
            assert status == 200 and took < 0.5
            assert pending.result()[0] == 503
        for sock in slow:  # the bodies end: those being received are answered, the others were turned away
            with contextlib.suppress(OSError):
                sock.sendall(b" " * (400 - len("SELECT")))
        answers = [reply(sock, within=3) for sock in slow]
        # each worker receives 3 bodies at once (4 threads, one kept free): the others were turned away at once,
        # with 503, or 429 where their client held its share of a worker's places
        turned_away = sum(answer.startswith((b"HTTP/1.1 503", b"HTTP/1.1 429")) and b"retry-after: 2" in answer.lower()
                          for answer in answers)
        assert turned_away >= 2, answers
        assert all(answer.startswith((b"HTTP/1.1 503", b"HTTP/1.1 429", b"HTTP/1.1 400")) for answer in answers), answers
    finally:
        for sock in slow:
            sock.close()


def test_one_client_s_slow_bodies_leave_a_place_to_other_clients(server):
    slow = hold_share(server, OTHER_CLIENT)
    try:
        # the slow client's query is turned away with 429 at once, on either worker
        heavy = "/sparql?" + urllib.parse.urlencode({"query": CROSS_PRODUCT})
        for _ in range(2):
            status, _, body = raw(server, "GET", heavy, None, {"Accept": "text/csv"}, 10, source=OTHER_CLIENT)
            assert status == 429 and b"as many as one client may" in body, (status, body)
        for _ in range(4):  # while another client's pages get a thread of either worker
            page, _, html = raw(server, "GET", "/id/ford", None, {"Accept": "text/html"}, 10)
            assert page == 200 and b"Ford" in html, (page, html[:200])
        assert timed_lookup(server)[0] == 200
    finally:
        for sock in slow:
            sock.close()


def test_behind_a_trusted_proxy_the_client_is_the_one_it_names(server):
    # the proxy relays one client's slow bodies (the first entry of the header is that client's own word)
    slow = hold_share(server, PROXY, b"X-Forwarded-For: 203.0.113.9, 192.0.2.1\r\n")
    try:
        for forwarded, expected in (("198.51.100.2", 200), ("192.0.2.1", 429)) * 2:
            status, _, html = raw(server, "GET", "/id/ford", None, {"Accept": "text/html", "X-Forwarded-For": forwarded},
                                  10, source=PROXY)
            assert status == expected, (forwarded, status, html[:200])
    finally:
        for sock in slow:
            sock.close()


def test_a_declared_body_past_what_is_drained_is_refused_before_it_is_sent(server):
    sock = connect(server)
    try:
        started = time.monotonic()
        sock.sendall(b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
                     b"Content-Length: 200000000\r\n\r\n")
        answer = reply(sock, within=5)
        assert answer.startswith(b"HTTP/1.1 413") and b"at most 1048576 bytes" in answer
        assert time.monotonic() - started < 2
    finally:
        sock.close()


def test_expect_100_continue_over_the_cap_gets_413_not_continue(server):
    sock = connect(server)
    try:
        sock.sendall(b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
                     b"Content-Length: 50000000\r\nExpect: 100-continue\r\n\r\n")
        answer = reply(sock, within=5)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:80]
        assert b"100 Continue" not in answer
    finally:
        sock.close()


def chunked(body: bytes, size: int = 8192) -> bytes:
    """A body in chunked transfer coding."""
    pieces = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size]) for i in range(0, len(body), size)]
    return b"".join(pieces) + b"0\r\n\r\n"


def post_chunked(base: str, body: bytes) -> bytes:
    sock = connect(base)
    try:
        sock.sendall(b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
                     b"Accept: application/sparql-results+json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(body))
        return reply(sock, within=10)
    finally:
        sock.close()


def test_a_chunked_body_over_the_cap_is_refused_never_cut_and_run(server):
    # cut at the cap, this was a syntax error answered `true`, or a query that lost its OFFSET
    query = b"ASK { ?s ?p ?o }" + b" " * (1024 * 1024) + b"FILTER(false)"
    answer = post_chunked(server, query)
    assert answer.startswith(b"HTTP/1.1 413") and b"at most 1048576 bytes" in answer


def test_a_chunked_body_under_the_cap_is_read_whole(server):
    answer = post_chunked(server, b"ASK { ?s ?p ?o }" + b" " * 100_000 + b"FILTER(false) }"[:0] + b"")
    assert answer.startswith(b"HTTP/1.1 200")
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["boolean"] is True


def test_a_flood_of_heavy_queries_sheds_load_and_leaves_cheap_requests_answered(server):
    heavy = "/sparql?" + urllib.parse.urlencode({"query": CROSS_PRODUCT})
    with ThreadPoolExecutor(max_workers=12) as pool:
        started = time.monotonic()
        flood = [pool.submit(raw, server, "GET", heavy, None, {"Accept": "text/csv"}, 30) for _ in range(12)]
        time.sleep(0.5)
        for _ in range(5):
            status, took = timed_lookup(server)
            assert status == 200 and took < 1, f"a lookup took {took:.2f} s under the flood"
            health, _, _ = raw(server, "GET", "/health", timeout=10)
            assert health == 200
        outcomes = [future.result() for future in flood]
        elapsed = time.monotonic() - started
    statuses = sorted(status for status, _, _ in outcomes)
    # stopped at the timeout, or turned away at once: the slots and their queue are full (503), or this client's
    # queries hold its share of a worker's threads (429)
    assert set(statuses) <= {429, 503}, statuses
    turned_away = [body for status, _, body in outcomes if status == 429 or b"try again in a few seconds" in body]
    assert len(turned_away) >= 4, "no query was turned away although the slots and the queue were full"
    assert elapsed < 4 + 2 + 2, f"the flood took {elapsed:.1f} s: time queued did not count toward the timeout"


def test_a_flood_of_queries_known_to_be_heavy_leaves_a_slot_to_pages_and_cheap_queries(server):
    heavy = "/sparql?" + urllib.parse.urlencode({"query": CROSS_PRODUCT + " # learned", "timeout": "3"})
    first, _, body = raw(server, "GET", heavy.replace("timeout=3", "timeout=1"), None, {"Accept": "text/csv"}, 30)
    assert first == 503 and b"ran longer than 1 s" in body  # now known to take a second: heavy, on every worker
    cheap = "/sparql?" + urllib.parse.urlencode({"query": "SELECT ?o WHERE { ?s a ?t . ?s ?p ?o } LIMIT 3"})
    stop = time.monotonic() + 4
    with ThreadPoolExecutor(max_workers=8) as pool:

        def flood() -> list[int]:
            statuses = []
            while time.monotonic() < stop and len(statuses) < 200:
                statuses.append(raw(server, "GET", heavy, None, {"Accept": "text/csv"}, 30, source=OTHER_CLIENT)[0])
            return statuses

        floods = [pool.submit(flood) for _ in range(6)]
        time.sleep(0.5)
        for _ in range(3):
            started = time.monotonic()
            page, _, html = raw(server, "GET", "/id/ford", None, {"Accept": "text/html"}, 30)
            query, _, rows = raw(server, "GET", cheap, None, {"Accept": "text/csv"}, 30)
            assert page == 200 and b"Ford" in html, (page, html[:200])
            assert query == 200 and rows.count(b"\n") == 4, (query, rows[:200])
            assert time.monotonic() - started < 2
        statuses = [status for future in floods for status in future.result()]
    # one at a time, stopped at its timeout; the others turned away (429 past the flooding client's share)
    assert set(statuses) <= {429, 503} and 503 in statuses, statuses


def test_retry_after_comes_with_a_shed_query(server):
    heavy = "/sparql?" + urllib.parse.urlencode({"query": CROSS_PRODUCT})
    url = urllib.parse.urlsplit(server)
    import http.client

    def one() -> tuple[int, str | None, bytes]:
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        connection.request("GET", heavy, headers={"Accept": "text/csv"})
        response = connection.getresponse()
        body = response.read()
        connection.close()
        return response.status, response.getheader("Retry-After"), body

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: one(), range(8)))
    # a query stopped at its timeout would run as long again: only a query turned away is asked to come back,
    # by 429 once this client's requests hold their share of the threads
    assert all(status in (429, 503) for status, _, _ in answers)
    assert all((status == 429) == body.startswith(b"Your ") for status, _, body in answers), answers
    assert all((retry == "2") != (b"ran longer than" in body) for _, retry, body in answers), answers
    assert sum(retry == "2" for _, retry, _ in answers) >= 4


def test_one_clients_queries_hold_at_most_client_queries_of_the_slots_in_every_worker():
    cheap = "/sparql?" + urllib.parse.urlencode({"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"})
    heavy = "/sparql?" + urllib.parse.urlencode({"query": CROSS_PRODUCT})

    def ask(base: str, path: str, client: str):
        return raw(base, "GET", path, None, {"Accept": "text/csv", "X-Forwarded-For": client}, 15, source=PROXY)

    with serving("--workers", "2", "--query-slots", "2", "--query-queue", "2", "--timeout", "4", "--client-queries", "1",
                 "--trusted-proxy", PROXY, log_name="client-queries-server.log") as base:
        with ThreadPoolExecutor(max_workers=1) as pool:
            running = pool.submit(ask, base, heavy, "192.0.2.1")
            threading.Event().wait(0.5)
            # whichever worker takes it, the first query holds the client's one place
            status, headers, body = ask(base, cheap, "192.0.2.1")
            assert status == 429 and b"Your queries already hold 1 of this server's 2 query slots" in body
            assert ask(base, cheap, "198.51.100.2")[0] == 200  # another client's query is answered meanwhile
            assert running.result()[0] == 503  # the cross product ran to its timeout
        assert ask(base, cheap, "192.0.2.1")[0] == 200  # and its place came back


def slots_free(base: str) -> bool:
    """Whether a query that needs a slot is answered now (the floods before have drained)."""
    query = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    return raw(base, "GET", "/sparql?" + urllib.parse.urlencode({"query": query}), headers={"Accept": "text/csv"})[0] == 200


def test_a_memory_bomb_is_stopped_at_the_limit_with_a_message(server):
    assert wait_until(lambda: slots_free(server), 15, every=0.5)
    status, content_type, body = raw(server, "GET", "/sparql?" + urllib.parse.urlencode({"query": doubling(28)}),
                                     headers={"Accept": "text/csv"})
    assert status == 422 and content_type.startswith("text/plain")
    assert b"limit of 64 MiB of working memory" in body
    assert timed_lookup(server)[0] == 200


def test_deep_nesting_is_a_400_not_a_dead_child(server):
    query = "SELECT * WHERE { ?s ?p ?o FILTER(" + "(" * 5000 + "true" + ")" * 5000 + ") }"
    status, _, body = raw(server, "POST", "/sparql", query.encode(), {"Content-Type": "application/sparql-query"})
    assert status == 400 and b"levels deep" in body


def test_backtracking_bait_is_answered_at_once(server):
    started = time.monotonic()
    status, _, _ = raw(server, "GET", "/sparql?" + urllib.parse.urlencode({"query": "# " * 40}))
    assert status == 400 and time.monotonic() - started < 1
