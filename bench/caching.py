"""HTTP caching: what the ETag middleware costs a 200, and what a 304 saves, in process, on the project's data.

    .venv/bin/python bench/caching.py                 # 300 requests per row
    .venv/bin/python bench/caching.py --requests 500

For a small answer (a lookup, 3 rows) and a larger one (an entity page; a 500-row SELECT) it times, one after
the other in the same process (paired): the request without the middleware (the app behind it, called
directly), with it (a 200 that gets an ETag), a 304 found by answering the request (If-None-Match, the 200 not
seen by this process), and a 304 from the headers the process kept (the 200 seen before). Prints µs per request
(median of 5 rounds).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from autokg.web.app import create_app, layer  # noqa: E402
from autokg.web.caching import ConditionalGets  # noqa: E402

CASES = {
    "lookup (3 rows)": ("/sparql", urlencode({"query": "SELECT ?p ?o WHERE { <https://w3id.org/autokg/id/saic-motor> ?p ?o } LIMIT 3"}),
                        "application/sparql-results+json"),
    "entity page": ("/id/saic-motor", "", "text/html"),
    "SELECT, 500 rows": ("/sparql", urlencode({"query": "SELECT ?s ?p ?o WHERE { ?s ?p ?o } LIMIT 500"}), "text/csv"),
}


def environ(path: str, query: str, accept: str, tag: str | None = None) -> dict:
    """A WSGI environ for a GET."""
    env = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "SCRIPT_NAME": "", "SERVER_NAME": "127.0.0.1",
           "SERVER_PORT": "7878", "HTTP_HOST": "127.0.0.1:7878", "HTTP_ACCEPT": accept, "wsgi.url_scheme": "http",
           "wsgi.input": None, "wsgi.errors": sys.stderr, "SERVER_PROTOCOL": "HTTP/1.1"}
    if tag:
        env["HTTP_IF_NONE_MATCH"] = tag
    return env


def call(app, env: dict) -> tuple[str, dict]:
    """Run one request; its status and headers."""
    seen: dict = {}

    def start(status, headers, exc_info=None):
        seen.update(status=status, headers=dict(headers))

    body = app(dict(env), start)
    b"".join(body)
    return seen["status"], seen["headers"]


def timed(make, requests: int) -> float:
    """µs per request, median of 5 rounds; `make()` runs one request."""
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(requests):
            make()
        rounds.append((time.perf_counter() - started) / requests * 1e6)
    return statistics.median(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    app = create_app({"LOG_LEVEL": "warning"})
    conditional = layer(app, ConditionalGets)
    inner = conditional.wsgi_app
    print(f"{'answer':<20} {'no middleware':>14} {'200 + ETag':>11} {'304 answered':>13} {'304 kept':>9}  (µs per request)")
    for name, (path, query, accept) in CASES.items():
        env = environ(path, query, accept)
        status, headers = call(conditional, env)
        assert status.startswith("200"), status
        tag = headers["ETag"]
        revalidate = environ(path, query, accept, tag)
        without = timed(lambda: call(inner, env), args.requests)
        with_tag = timed(lambda: call(conditional, env), args.requests)

        def answered() -> None:
            conditional.remembered.clear()
            assert call(conditional, revalidate)[0].startswith("304")

        found = timed(answered, args.requests)
        kept = timed(lambda: call(conditional, revalidate), args.requests)
        print(f"{name:<20} {without:>14.0f} {with_tag:>11.0f} {found:>13.0f} {kept:>9.0f}")


if __name__ == "__main__":
    main()
