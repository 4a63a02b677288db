"""The access log and the CORS headers that every response carries, whichever path answered it."""

from __future__ import annotations

import logging

log = logging.getLogger("autokg.access")

#: any origin may read the answers, without credentials
CORS_HEADERS = (("Access-Control-Allow-Origin", "*"),)


def log_request(method: str, path: str, status: int, duration_ms: float, rows: object, query_hash: str) -> None:
    """Write the one access-log line of a request: method, path, status, duration, rows and the query's hash."""
    log.info("%s %s %s %.1fms rows=%s query=%s", method, path, status, duration_ms, rows, query_hash)
