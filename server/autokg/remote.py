"""A polite client for remote SPARQL endpoints: a descriptive User-Agent, timeouts, and backoff on 429 and 5xx.

Wikimedia asks clients of the Wikidata Query Service to say who they are and to slow down when told to;
every remote query autokg makes goes through `select_remote`.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request

import pyoxigraph as ox

from autokg import __version__
from autokg.errors import AutokgError

WIKIDATA_ENDPOINT = "https://query.wikidata.org/sparql"
USER_AGENT = f"autokg/{__version__} (https://w3id.org/autokg; linked-data tools for an automotive-industry dataset) Python-urllib"
RETRY_STATUSES = {429, 500, 502, 503, 504}


def post_query(endpoint: str, query: str, accept: str, timeout: float = 60.0, retries: int = 4, backoff: float = 2.0) -> bytes:
    """The body of a remote endpoint's answer to `query`, asked for as `accept`.

    Retries on 429 and 5xx answers, waiting Retry-After seconds when the server gives them, else
    `backoff` doubled each time. Raises AutokgError when the endpoint cannot be reached, answers with
    another error, or keeps failing after `retries` retries.
    """
    body = urllib.parse.urlencode({"query": query}).encode("utf-8")
    headers = {"User-Agent": USER_AGENT, "Accept": accept, "Content-Type": "application/x-www-form-urlencoded"}
    wait = backoff
    for attempt in range(retries + 1):
        request = urllib.request.Request(endpoint, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.read()
        except urllib.error.HTTPError as error:
            detail = error.read(500).decode("utf-8", "replace").strip()
            if error.code not in RETRY_STATUSES or attempt == retries:
                raise AutokgError(f"{endpoint} answered HTTP {error.code}: {detail[:300] or error.reason}") from None
            time.sleep(retry_after(error.headers.get("Retry-After"), wait))
            wait *= 2
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", error)
            raise AutokgError(f"cannot reach the SPARQL endpoint {endpoint}: {reason}") from None
    raise AutokgError(f"{endpoint} kept failing")  # not reached: the loop returns or raises


def select_remote(endpoint: str, query: str, timeout: float = 60.0, retries: int = 4, backoff: float = 2.0) -> list[dict[str, dict[str, str]]]:
    """The bindings of a SELECT query on a remote endpoint (SPARQL JSON results); raises AutokgError as post_query does."""
    data = post_query(endpoint, query, "application/sparql-results+json", timeout, retries, backoff)
    try:
        return json.loads(data.decode("utf-8"))["results"]["bindings"]
    except (ValueError, KeyError) as error:
        raise AutokgError(f"{endpoint} did not answer with SPARQL JSON results: {error}") from None


def query_remote(endpoint: str, query: str, form: str, timeout: float = 60.0) -> ox.QuerySolutions | ox.QueryBoolean | list[ox.Triple]:
    """Any query on a remote endpoint, parsed by Oxigraph: solutions or a boolean, or triples for CONSTRUCT/DESCRIBE."""
    try:
        if form in ("CONSTRUCT", "DESCRIBE"):
            return list(ox.parse(post_query(endpoint, query, "application/n-triples", timeout), format=ox.RdfFormat.N_TRIPLES))
        return ox.parse_query_results(post_query(endpoint, query, "application/sparql-results+json", timeout), format=ox.QueryResultsFormat.JSON)
    except SyntaxError as error:
        raise AutokgError(f"{endpoint} answered with something that does not parse: {error}") from None


def retry_after(header: str | None, default: float) -> float:
    """Seconds to wait from a Retry-After header (capped at 60), else `default`.

    >>> retry_after("3", 1.0), retry_after(None, 1.5), retry_after("soon", 2.0)
    (3.0, 1.5, 2.0)
    """
    try:
        return min(float(header), 60.0) if header else default
    except ValueError:
        return default


def values_block(variable: str, iris: list[str]) -> str:
    """A VALUES block of IRIs.

    >>> values_block("item", ["http://www.wikidata.org/entity/Q95"])
    'VALUES ?item { <http://www.wikidata.org/entity/Q95> }'
    """
    return f"VALUES ?{variable} {{ " + " ".join(f"<{i}>" for i in iris) + " }"


def batches(items: list[str], size: int = 50) -> list[list[str]]:
    """`items` in chunks of at most `size`.

    >>> batches(["a", "b", "c"], 2)
    [['a', 'b'], ['c']]
    """
    return [items[i:i + size] for i in range(0, len(items), size)]
