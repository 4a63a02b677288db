"""Queries built to be hostile."""

from __future__ import annotations


def doubling(times: int) -> str:
    """A 700-byte query whose string doubles `times` times: 2 ** times bytes (24 grew a child to 2.6 GB)."""
    binds = " ".join(f"BIND(CONCAT(?v{i}, ?v{i}) AS ?v{i + 1})" for i in range(times))
    return f"SELECT (STRLEN(?v{times}) AS ?n) WHERE {{ ?s ?p ?v0 FILTER(isLiteral(?v0)) {binds} }} LIMIT 1"
