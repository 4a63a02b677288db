"""A polite client for remote SPARQL endpoints: a descriptive User-Agent, timeouts, and backoff on 429 and 5xx.

Wikimedia asks clients of the Wikidata Query Service to say who they are and to slow down when told to.
Every request autokg sends goes through `http_request`: Wikidata queries through `select_remote`, queries to
a store holding autokg through backend.RemoteStore, Graph Store requests through push.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import Message

from autokg import __version__
from autokg.errors import AutokgError, UnreachableError

WIKIDATA_ENDPOINT = "https://query.wikidata.org/sparql"
USER_AGENT = f"autokg/{__version__} (https://w3id.org/autokg; linked-data tools for an automotive-industry dataset) Python-urllib"
RETRY_STATUSES = {429, 500, 502, 503, 504}


class Unreachable(UnreachableError):
    """A server that cannot be reached: refused connection, unknown host, broken answer."""

    def __init__(self, url: str, reason: object) -> None:
        super().__init__(f"cannot reach {url}: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, headers and (at most the asked-for part of) the body."""

    status: int
    headers: Message
    body: bytes


def http_request(url: str, data: bytes | None = None, headers: dict[str, str] | None = None, method: str = "GET",
                 timeout: float = 60.0, auth: tuple[str, str] | None = None, max_bytes: int | None = None) -> Reply:
    """Send one request and return the answer, whatever its status; with `auth`, answer Basic or Digest challenges.

    Reads at most `max_bytes` + 1 bytes of the body, so a caller can tell an oversized answer.
    Raises AutokgError when the server cannot be reached, and TimeoutError when it does not answer in time.
    """
    handlers: list[urllib.request.BaseHandler] = []
    if auth is not None:
        passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        passwords.add_password(None, url, auth[0], auth[1])
        handlers = [urllib.request.HTTPBasicAuthHandler(passwords), urllib.request.HTTPDigestAuthHandler(passwords)]
    request = urllib.request.Request(url, data=data, headers={"User-Agent": USER_AGENT, **(headers or {})}, method=method)
    if auth is not None and data:
        # answer the challenge before sending the body: a server that refuses a large unauthenticated
        # body may reset the connection before the client can read its 401 (Virtuoso does, past a few MB)
        header = authorization(request, auth, timeout)
        if header:
            request.add_unredirected_header("Authorization", header)
    limit = None if max_bytes is None else max_bytes + 1
    try:
        with urllib.request.build_opener(*handlers).open(request, timeout=timeout) as response:
            return Reply(response.status, response.headers, response.read(limit))
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.headers, error.read(limit or 64 * 1024))
    except (TimeoutError, socket.timeout):
        raise TimeoutError(f"{url} did not answer within {timeout:g} s") from None
    except (urllib.error.URLError, ConnectionError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", error)
        if isinstance(reason, (TimeoutError, socket.timeout)):
            raise TimeoutError(f"{url} did not answer within {timeout:g} s") from None
        raise Unreachable(url, reason) from None


def authorization(request: urllib.request.Request, auth: tuple[str, str], timeout: float) -> str | None:
    """The Authorization header for `request`, made from the challenge that a bodiless GET of its URL receives.

    None when the server asks for no credentials or for a scheme other than Basic and Digest.
    """
    probe = urllib.request.Request(request.full_url, headers={"User-Agent": USER_AGENT}, method="GET")
    try:
        with urllib.request.urlopen(probe, timeout=timeout):
            return None
    except urllib.error.HTTPError as error:
        challenges = error.headers.get_all("WWW-Authenticate") or [] if error.code == 401 else []
    except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException):
        return None  # the request itself will say what is wrong
    for challenge in challenges:
        scheme, _, parameters = challenge.partition(" ")
        if scheme.lower() == "basic":
            return "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode("utf-8")).decode("ascii")
        if scheme.lower() == "digest":
            passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
            passwords.add_password(None, request.full_url, auth[0], auth[1])
            fields = urllib.request.parse_keqv_list(urllib.request.parse_http_list(parameters))
            return "Digest " + urllib.request.HTTPDigestAuthHandler(passwords).get_authorization(request, fields)
    return None


def error_detail(reply: Reply) -> str:
    """The first 300 characters of an error answer's body, on one line."""
    return " ".join(reply.body[:2000].decode("utf-8", "replace").split())[:300]


def post_query(endpoint: str, query: str, accept: str, timeout: float = 60.0, retries: int = 4, backoff: float = 2.0) -> bytes:
    """The body of a remote endpoint's answer to `query`, asked for as `accept`.

    Retries on 429 and 5xx answers, waiting Retry-After seconds when the server gives them, else
    `backoff` doubled each time. Raises AutokgError when the endpoint cannot be reached, answers with
    another error, or keeps failing after `retries` retries.
    """
    body = urllib.parse.urlencode({"query": query}).encode("utf-8")
    headers = {"Accept": accept, "Content-Type": "application/x-www-form-urlencoded"}
    wait = backoff
    for attempt in range(retries + 1):
        try:
            reply = http_request(endpoint, body, headers, "POST", timeout)
        except TimeoutError as error:
            raise AutokgError(f"cannot reach the SPARQL endpoint {endpoint}: {error}") from None
        except Unreachable as error:
            raise AutokgError(f"cannot reach the SPARQL endpoint {endpoint}: {error.reason}") from None
        if reply.status < 300:
            return reply.body
        if reply.status not in RETRY_STATUSES or attempt == retries:
            raise AutokgError(f"{endpoint} answered HTTP {reply.status}: {error_detail(reply) or 'no message'}")
        time.sleep(retry_after(reply.headers.get("Retry-After"), wait))
        wait *= 2
    raise AutokgError(f"{endpoint} kept failing")  # not reached: the loop returns or raises


def select_remote(endpoint: str, query: str, timeout: float = 60.0, retries: int = 4, backoff: float = 2.0) -> list[dict[str, dict[str, str]]]:
    """The bindings of a SELECT query on a remote endpoint (SPARQL JSON results); raises AutokgError as post_query does."""
    data = post_query(endpoint, query, "application/sparql-results+json", timeout, retries, backoff)
    try:
        return json.loads(data.decode("utf-8"))["results"]["bindings"]
    except (ValueError, KeyError) as error:
        raise AutokgError(f"{endpoint} did not answer with SPARQL JSON results: {error}") from None


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
