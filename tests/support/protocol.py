"""One query of each form, and sending them through the Flask test client by each protocol method."""

from __future__ import annotations

SELECT = "SELECT ?s WHERE { ?s a <https://w3id.org/autokg/ontology#Brand> } ORDER BY ?s"
ASK = "ASK { <https://w3id.org/autokg/id/ford> ?p ?o }"
CONSTRUCT = "CONSTRUCT { ?o <https://w3id.org/autokg/ontology#hasBrand> ?b } WHERE { ?o <https://w3id.org/autokg/ontology#hasBrand> ?b }"
DESCRIBE = "DESCRIBE <https://w3id.org/autokg/id/polestar>"


def send(client, method: str, query: str, headers: dict | None = None, extra: dict | None = None):
    """One query by GET, form POST or direct POST."""
    headers = headers or {}
    if method == "get":
        return client.get("/sparql", query_string={"query": query, **(extra or {})}, headers=headers)
    if method == "form":
        return client.post("/sparql", data={"query": query, **(extra or {})}, headers=headers)
    return client.post("/sparql", data=query.encode(), content_type="application/sparql-query", headers=headers,
                       query_string=extra or {})
