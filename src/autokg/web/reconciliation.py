"""The W3C Reconciliation Service API (version 0.2, the one OpenRefine speaks) at /reconcile.

A sheet of company names is matched against autokg's entities by their English and Chinese names and aliases,
and can pull in parents, owners, ventures and partners, each with the quote and source it rests on. The names
are the server's one name index (query/names.py), scored by query/matching.py; the entities' types and links
beside them are read once per process. Every request is bounded (batch size, query length, ids, properties).
"""

from __future__ import annotations

import json
import re
from html import escape

from flask import Blueprint, Response, current_app, request

from autokg.build.shortcuts import BACKED, RULES
from autokg.config import ONTOLOGY_NS, RESOURCE_NS
from autokg.errors import BadRequest, NotFound, TooLarge
from autokg.query.entities import select, text
from autokg.query.matching import EXACT, TYPES, Entity, candidates, entities
from autokg.query.names import normal
from autokg.web.api import once_per_process

bp = Blueprint("reconciliation", __name__, url_prefix="/reconcile")

#: bounds on one request
MAX_QUERIES = 100
MAX_QUERY_CHARS = 300
MAX_LIMIT = 25
MAX_IDS = 500
MAX_PROPERTIES = 20
DEFAULT_LIMIT = 5
#: the relationships a sheet can pull in: property id -> (name, pattern from ?a to its value ?b through ?rel);
#: the shortcut rules, so a value here is a value of the shortcut layer
EXTENSIONS = {
    "parent": ("parent organization (subsidiary or unit of)", RULES["parentOrganization"]),
    "owners": ("owned by (equity stake, or a joint venture's partner with a stated stake)", RULES["ownedBy"]),
    "ventures": ("joint ventures formed (as a partner)",
                 "?rel a akg:JointVentureFormation ; akg:partner ?a ; akg:resultingOrganization ?b ."),
    "partners": ("partners (agreements and joint ventures)", RULES["partnerOf"]),
}
SOURCE_SUFFIX = "-source"
SLUG = re.compile(r"^[a-z0-9]+(?:--?[a-z0-9]+)*$")


def type_list(entity: Entity) -> list[dict[str, str]]:
    """Its types, most specific first, as reconciliation type objects."""
    return [{"id": t, "name": type_name(t)} for t in reversed(TYPES) if t in entity.types]


def description(entity: Entity) -> str:
    """A one-line description for disambiguation: kind, industries, Wikidata item."""
    kind = next((type_name(t) for t in reversed(TYPES) if t in entity.types), "")
    parts = [kind] + sorted(entity.industries) + [f"Wikidata {q}" for q in sorted(entity.wikidata)]
    return "; ".join(p for p in parts if p)


def type_name(local: str) -> str:
    """'JointVenture' -> 'joint venture'."""
    return re.sub(r"(?<!^)([A-Z])", r" \1", local).lower()


def index() -> dict[str, Entity]:
    """The entities of this process, read on first use, their names from the server's name index."""
    return once_per_process("autokg.reconciliation",
                            lambda: entities(current_app.extensions["autokg"].store, current_app.extensions["autokg.names"]))


def reconcile(query: dict) -> dict:
    """One query's candidates, best first, with `match` on a sole exact name of the wanted type."""
    words = query.get("query")
    if not isinstance(words, str) or not words.strip():
        raise BadRequest("Each query needs a non-empty string 'query'")
    if len(words) > MAX_QUERY_CHARS:
        raise BadRequest(f"A query is at most {MAX_QUERY_CHARS} characters; this one has {len(words)}")
    limit = query.get("limit", DEFAULT_LIMIT)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise BadRequest("'limit' must be a positive integer")
    wanted_types = query.get("type")
    if isinstance(wanted_types, str):
        wanted_types = [wanted_types]
    if wanted_types is not None and not (isinstance(wanted_types, list) and all(isinstance(t, str) for t in wanted_types)):
        raise BadRequest("'type' must be a type id or a list of them")
    wikidata = {str(p.get("v", "")).strip() for p in query.get("properties", []) or []
                if isinstance(p, dict) and p.get("pid") == "wikidata"}
    found = candidates(index(), words, wanted_types, wikidata)
    exact = [e for v, e in found if v == EXACT]
    results = []
    for value, entity in found[: min(limit, MAX_LIMIT)]:
        results.append({"id": entity.id, "name": entity.name, "type": type_list(entity), "score": value,
                        "match": value == EXACT and len(exact) == 1, "description": description(entity)})
    return {"result": results}


def json_response(payload: object, status: int = 200) -> Response:
    """JSON, UTF-8, not cached by shared caches."""
    return Response(json.dumps(payload, ensure_ascii=False, sort_keys=True), status=status,
                    content_type="application/json; charset=utf-8")


def json_parameter(name: str) -> object | None:
    """A JSON parameter from the query string or the form, or None when absent."""
    raw = request.values.get(name)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError as error:
        raise BadRequest(f"Parameter '{name}' is not valid JSON: {error}") from None
    except RecursionError:
        raise BadRequest(f"Parameter '{name}' nests its JSON too deeply") from None


def service_url() -> str:
    """This service's own URL, for the manifest's suggest, preview and extension links."""
    return request.url_root.rstrip("/") + bp.url_prefix


def entity_url(slug: str) -> str:
    """Where an entity's page is: its IRI behind a public base (PUBLIC_BASE), else this server's /id/ route."""
    if current_app.config.get("PUBLIC_BASE"):
        return RESOURCE_NS + slug
    return request.url_root.rstrip("/") + "/id/" + slug


def manifest() -> dict:
    """The service manifest (spec §4)."""
    base = service_url()
    return {
        "versions": ["0.2"], "name": "autokg", "serviceVersion": current_app.extensions["autokg"].version,
        "identifierSpace": RESOURCE_NS, "schemaSpace": ONTOLOGY_NS,
        "documentation": "https://w3id.org/autokg/",
        "defaultTypes": [{"id": "Organization", "name": "organization"}, {"id": "Company", "name": "company"}],
        "view": {"url": entity_url("{{id}}")},
        "preview": {"url": base + "/preview?id={{id}}", "width": 400, "height": 120},
        "suggest": {kind: {"service_url": base, "service_path": f"/suggest/{kind}"} for kind in ("entity", "type", "property")},
        "extend": {"propose_properties": {"service_url": base, "service_path": "/properties"}, "property_settings": []},
    }


@bp.route("", methods=["GET", "POST"])
def service() -> Response:
    """The manifest without parameters; a batch of queries (`queries=`) or a data extension (`extend=`)."""
    queries, extend = json_parameter("queries"), json_parameter("extend")
    if queries is not None:
        if not isinstance(queries, dict):
            raise BadRequest("'queries' must be a JSON object of query ids to queries")
        if len(queries) > MAX_QUERIES:
            raise TooLarge(f"At most {MAX_QUERIES} queries per batch; this one has {len(queries)}")
        answers = {}
        for key, query in queries.items():
            if not isinstance(query, dict):
                raise BadRequest(f"Query '{key}' must be a JSON object")
            try:
                answers[key] = reconcile(query)
            except BadRequest as error:
                raise BadRequest(f"Query '{key}': {error}") from None
        return json_response(answers)
    if extend is not None:
        return json_response(extension(extend))
    return json_response(manifest())


def extension(request_body: object) -> dict:
    """Data extension (spec §6): the wanted properties of the given entities, with sources beside them."""
    if not isinstance(request_body, dict) or not isinstance(request_body.get("ids"), list) \
            or not isinstance(request_body.get("properties"), list):
        raise BadRequest("'extend' must be an object with a list 'ids' and a list 'properties'")
    ids, properties = request_body["ids"], request_body["properties"]
    if len(ids) > MAX_IDS or len(properties) > MAX_PROPERTIES:
        raise TooLarge(f"At most {MAX_IDS} ids and {MAX_PROPERTIES} properties per extension")
    if not all(isinstance(i, str) for i in ids):
        raise BadRequest("Every id must be a string")
    wanted = []
    for prop in properties:
        pid = prop.get("id") if isinstance(prop, dict) else None
        if pid not in proposed_ids():
            raise BadRequest(f"Unknown property {pid!r}; the service proposes {', '.join(proposed_ids())}")
        wanted.append(pid)
    known = {i for i in ids if i in index()}
    rows: dict[str, dict[str, list]] = {i: {pid: [] for pid in wanted} for i in ids}
    for base in sorted({pid.removesuffix(SOURCE_SUFFIX) for pid in wanted}):
        for entity, value, sources in related(base, sorted(known)):
            if base in wanted:
                target = index().get(value)
                rows[entity][base].append({"id": value, "name": target.name if target else value})
            if base + SOURCE_SUFFIX in wanted:
                rows[entity][base + SOURCE_SUFFIX].append({"str": sources})
    return {"meta": [property_meta(pid) for pid in wanted], "rows": rows}


def related(base: str, ids: list[str]) -> list[tuple[str, str, str]]:
    """(entity, related entity, its sources as text) for one extension property, in a stable order."""
    if not ids:
        return []
    values = " ".join(f"<{RESOURCE_NS}{i}>" for i in ids if SLUG.match(i))
    found: dict[tuple[str, str], set[str]] = {}
    for row in select(current_app.extensions["autokg"].store, f"""
SELECT ?a ?b ?quote ?source WHERE {{
  VALUES ?a {{ {values} }}
  {EXTENSIONS[base][1]}
  {BACKED}
  ?rel akg:evidence ?ev . ?ev akg:quote ?quote ; akg:source ?source ; akg:certainty ?certainty .
  FILTER (?certainty IN (akgv:confirmed, akgv:reported))
}}"""):
        entity, value = text(row, "a")[len(RESOURCE_NS):], text(row, "b")[len(RESOURCE_NS):]
        source = text(row, "source")[len(RESOURCE_NS):]
        found.setdefault((entity, value), set()).add(f"{source}: \u201c{text(row, 'quote')}\u201d")
    return [(e, v, " | ".join(sorted(s))) for (e, v), s in sorted(found.items())]


def proposed_ids() -> list[str]:
    """Every property id that extension accepts."""
    return [pid for base in EXTENSIONS for pid in (base, base + SOURCE_SUFFIX)]


def property_meta(pid: str) -> dict:
    """A property's column header for OpenRefine."""
    base = pid.removesuffix(SOURCE_SUFFIX)
    if pid.endswith(SOURCE_SUFFIX):
        return {"id": pid, "name": f"{base}: sources (article and quote)"}
    return {"id": pid, "name": EXTENSIONS[base][0], "type": {"id": "Organization", "name": "organization"}}


@bp.get("/properties")
def propose_properties() -> Response:
    """The properties a sheet of entities of `type` can pull in (spec §6.1)."""
    kind = request.args.get("type", "Organization")
    limit = request.args.get("limit", type=int) or len(proposed_ids())
    return json_response({"type": kind, "limit": limit,
                          "properties": [{"id": pid, "name": property_meta(pid)["name"]} for pid in proposed_ids()][:limit]})


def prefix_parameter() -> str:
    """The bounded `prefix` of a suggest request."""
    prefix = request.args.get("prefix", "")
    if len(prefix) > MAX_QUERY_CHARS:
        raise BadRequest(f"'prefix' is at most {MAX_QUERY_CHARS} characters")
    return normal(prefix)


@bp.get("/suggest/entity")
def suggest_entity() -> Response:
    """Entities with a name that starts with (or contains a word starting with) the prefix (spec §5)."""
    prefix = prefix_parameter()
    hits = []
    for entity in index().values():
        names = list(entity.names)
        if prefix and any(n.startswith(prefix) or f" {prefix}" in f" {n}" for n in names):
            hits.append(entity)
    hits.sort(key=lambda e: (not any(n.startswith(prefix) for n in e.names), -e.mentions, e.name))
    return json_response({"result": [{"id": e.id, "name": e.name, "description": description(e)} for e in hits[:MAX_LIMIT]]})


@bp.get("/suggest/type")
def suggest_type() -> Response:
    """The types whose name starts with the prefix."""
    prefix = prefix_parameter()
    return json_response({"result": [{"id": t, "name": type_name(t)} for t in TYPES
                                     if normal(type_name(t)).startswith(prefix) or normal(t).startswith(prefix)]})


@bp.get("/suggest/property")
def suggest_property() -> Response:
    """The extension properties whose id or name starts with the prefix."""
    prefix = prefix_parameter()
    return json_response({"result": [{"id": pid, "name": property_meta(pid)["name"]} for pid in proposed_ids()
                                     if pid.startswith(prefix) or normal(property_meta(pid)["name"]).startswith(prefix)]})


@bp.get("/preview")
def preview() -> Response:
    """A small HTML card of one entity, for OpenRefine's hover preview (spec §7)."""
    entity = index().get(request.args.get("id", ""))
    if entity is None:
        raise NotFound("No entity with this id; give an id that reconciliation returned")
    others = sorted(n for n in entity.names.values() if n != entity.name)
    body = (f'<!doctype html><html lang="en"><meta charset="utf-8"><title>{escape(entity.name)}</title>'
            f'<body style="font: 14px sans-serif; margin: 6px"><strong><a href="{escape(entity_url(entity.id))}" '
            f'target="_blank">{escape(entity.name)}</a></strong>'
            f'<p style="margin: 4px 0">{escape(description(entity))}</p>'
            + (f'<p style="margin: 4px 0">Also: {escape(", ".join(others))}</p>' if others else "")
            + "</body></html>")
    response = Response(body, content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response
