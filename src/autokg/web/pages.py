"""Browsing: the home page, search, dereferenceable entities, source pages, the query page and the ontology docs.

Every resource path answers browsers with HTML and RDF clients with RDF, from the same route (the
`pages` blueprint). Pages are rendered on the server and need no JavaScript; the query page's editor
only adds highlighting on top of a plain form.
"""

from __future__ import annotations

import itertools
from urllib.parse import urlencode

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from markupsafe import Markup, escape

from autokg.build.release import published, schema_org_dataset
from autokg.config import ONTOLOGY_NS, PREFIXES, RESOURCE_NS, VOCAB_NS, prologue
from autokg.engine.jobs import Outcome
from autokg.errors import BadRequest, NotAcceptable, NotFound, RefusedQuery
from autokg.query import entities, matching
from autokg.query.names import MAX_QUERY, NameIndex
from autokg.query.running import Queryable, short
from autokg.rdf.formats import BY_MEDIA_TYPE, names_of
from autokg.stores.embedded import PART_GRAPHS
from autokg.web.answers import run_checked
from autokg.web.api import catalog, once_per_process
from autokg.web.diagram import charts, neighbourhood
from autokg.web.documentation import VOCAB_ANCHOR, ontology_docs
from autokg.web.failures import error_response
from autokg.web.negotiation import FORMAT_NAMES, GRAPH_TYPES, HTML_TYPES, best_type

bp = Blueprint("pages", __name__)

#: what a resource path offers: a page for browsers first (the default), then every RDF syntax
PAGE_TYPES = HTML_TYPES | GRAPH_TYPES
#: format= values on resource paths
RESOURCE_FORMATS = {"html": "text/html"} | {name: graph for name, (_, graph) in FORMAT_NAMES.items() if graph}
#: downloads offered under a query's results
DOWNLOADS = {"SELECT": names_of("results"), "ASK": ("json", "xml"), "GRAPH": names_of("graph")}


def store() -> Queryable:
    """The served store of this process."""
    return current_app.extensions["autokg"].store


def names() -> NameIndex:
    """The index of the served dataset's names, built when the app was."""
    return current_app.extensions["autokg.names"]


#: the schemes of the IRIs that pages link to; any other (javascript:, data:, file: …) is shown as text
LINKED_SCHEMES = ("http:", "https:")


def href(iri: str) -> str:
    """Where a link to `iri` points: the local route, or the IRI itself behind a public base (PUBLIC_BASE).

    "" (no link) for an IRI whose scheme is not http or https: a query's answer or a backend's data can hold any.
    """
    if not iri.lower().startswith(LINKED_SCHEMES):
        return ""
    if current_app.config.get("PUBLIC_BASE") or entities.local_path(iri) is None:
        return iri
    return request.script_root + entities.local_path(iri)


def link(iri: str, label: str) -> Markup:
    """`label` as a link to `iri`, or as plain text when `iri` gets no link (see href); both escaped."""
    url = href(iri)
    return Markup('<a href="{}">{}</a>').format(url, label) if url else escape(label)


@bp.app_context_processor
def helpers() -> dict[str, object]:
    """Functions the templates use."""
    return {"href": href, "link": link, "format_number": entities.format_number}


def chosen_type() -> str | None:
    """The media type to answer a resource request with (format= wins over Accept), or None for 406."""
    name = request.args.get("format")
    if name:
        return RESOURCE_FORMATS.get(name)
    return best_type(request.headers.get("Accept"), PAGE_TYPES)


def not_acceptable() -> Response:
    """406 listing what is on offer."""
    offered = ", ".join(dict.fromkeys(PAGE_TYPES.values()))
    return error_response(NotAcceptable(f"Not Acceptable: this resource is offered as {offered} (or use format=)"))


def rdf_response(triples: list[ox.Triple], media_type: str) -> Response:
    """Triples in the chosen RDF syntax, sorted and serialized by Oxigraph."""
    fmt = BY_MEDIA_TYPE[media_type]
    body = ox.serialize(sorted(triples, key=str), format=fmt.oxigraph, prefixes=PREFIXES if fmt.prefixed else None)
    response = Response(body, content_type=f"{media_type}; charset=utf-8")
    response.vary.add("Accept")
    return response


def html_response(template: str, status: int = 200, **context: object) -> Response:
    """A rendered page."""
    response = Response(render_template(template, **context), status=status, content_type="text/html; charset=utf-8")
    response.vary.add("Accept")
    return response


@bp.get("/")
def home() -> Response:
    """What the dataset is, its licence and counts, a search box, and lists of organizations, sources and questions."""
    return html_response("home.html", **once_per_process("autokg.home", home_context))


def home_context() -> dict[str, object]:
    """What the home page shows; it depends only on the served dataset, so it is computed once per process."""
    dataset = current_app.extensions["autokg"]
    counts = entities.select(store(), """
SELECT (COUNT(DISTINCT ?o) AS ?organizations) (COUNT(DISTINCT ?r) AS ?relationships) (COUNT(DISTINCT ?e) AS ?evidence) WHERE {
  { ?o a ?c . ?c rdfs:subClassOf* akg:Organization } UNION { ?r akg:evidence ?e }
}""")[0]
    return {
        "triples": dataset.triples,
        "version": dataset.version,
        "counts": {k: int(v.value) for k, v in counts.items()},
        "organizations": entities.organizations(store()),
        "sources": entities.sources(store()),
        "questions": list(catalog().values()),
        "schema_org": schema_org_dataset(published(current_app.extensions["autokg.files"].root / "dist")),
    }


@bp.get("/search")
def search() -> Response:
    """Resources whose English or Chinese label or alias contains the words."""
    words = request.args.get("q", "")
    if len(words) > MAX_QUERY:
        return error_response(BadRequest(f"Parameter 'q': give at most {MAX_QUERY} characters to search for, not {len(words)}"))
    hits, more = matching.search(store(), names(), words)
    return html_response("search.html", words=words, hits=hits, more=more)


def negotiate_resource(iri: str, slug: str) -> tuple[str | None, Response | None]:
    """The media type for a resource path, and the 406 or 404 answer when there is nothing to serve."""
    media_type = chosen_type()
    if media_type is None:
        return None, not_acceptable()
    if not entities.SLUG.match(slug) or not entities.exists(store(), iri):
        return media_type, error_response(NotFound(f"No resource {iri} in this dataset"))
    return media_type, None


@bp.get("/id/<slug>")
def resource(slug: str) -> Response:
    """A resource: its page for browsers, its description in RDF for RDF clients, 404 with near matches if unknown."""
    iri = RESOURCE_NS + slug
    media_type, refusal = negotiate_resource(iri, slug)
    if refusal is not None:
        if refusal.status_code == 404 and media_type == "text/html":
            return html_response("not_found.html", 404, iri=iri, near=matching.near_matches(store(), names(), slug))
        return refusal
    if media_type != "text/html":
        return rdf_response(entities.description(store(), iri), media_type)
    card = entities.card(store(), iri)
    if any(t == ONTOLOGY_NS + "SourceDocument" for t, _ in card.types):
        files = current_app.extensions["autokg.files"]
        return html_response("source.html", card=card, facts=entities.source_facts(store(), iri, files.root))
    ties = entities.relationships(store(), iri)
    grouped = entities.figures(store(), iri)
    return html_response(
        "entity.html", card=card, ties=ties, diagram=neighbourhood(iri, card.label, ties),
        figures=grouped, charts=charts(grouped),
    )


@bp.get("/ontology")
def ontology() -> Response:
    """The ontology: its documentation for browsers, its RDF (with vocabularies and alignment) for RDF clients."""
    media_type = chosen_type()
    if media_type is None:
        return not_acceptable()
    if media_type != "text/html":
        return rdf_response([q.triple for q in store().quads_for_pattern(None, None, None, PART_GRAPHS["ontology"])], media_type)
    return html_response("ontology.html", docs=once_per_process("autokg.ontology-docs", lambda: ontology_docs(store())))


@bp.get("/vocab/<slug>")
def concept(slug: str) -> Response:
    """A vocabulary concept or scheme: its place in the ontology docs for browsers, its triples for RDF clients."""
    iri = VOCAB_NS + slug
    media_type, refusal = negotiate_resource(iri, slug)
    if refusal is not None:
        return refusal
    if media_type == "text/html":
        return redirect(url_for("pages.ontology") + "#" + VOCAB_ANCHOR + slug, 303)
    node = ox.NamedNode(iri)
    return rdf_response([q.triple for q in store().quads_for_pattern(node, None, None, None)], media_type)


def run_for_page(query: str) -> tuple[Outcome | None, str]:
    """Run a query from the query page like /sparql does: (outcome, or the guards' refusal message)."""
    try:
        outcome = run_checked(query, "application/sparql-results+json", "application/n-triples", float(current_app.config["TIMEOUT"]))
    except RefusedQuery as error:
        return None, str(error)
    return outcome, ""


#: rows shown on the query page; the downloads have all of them
SHOWN_ROWS = 1000


def result_table(outcome: Outcome) -> tuple[str, list[str], list[list[dict[str, str]]], bool | None]:
    """The answer's form (SELECT, ASK or GRAPH), column names, rows of cells (text and link) and the ASK answer."""
    if outcome.content_type.startswith("application/n-triples"):
        triples = itertools.islice(ox.parse(outcome.body, format=ox.RdfFormat.N_TRIPLES), SHOWN_ROWS)
        return "GRAPH", ["subject", "predicate", "object"], [[cell(t.subject), cell(t.predicate), cell(t.object)] for t in triples], None
    results = ox.parse_query_results(outcome.body, format=ox.QueryResultsFormat.JSON)
    if isinstance(results, ox.QueryBoolean):
        return "ASK", [], [], bool(results)
    columns = [v.value for v in results.variables]
    rows = [[cell(solution[c]) for c in columns] for solution in itertools.islice(results, SHOWN_ROWS)]
    return "SELECT", columns, rows, None


def cell(node: ox.NamedNode | ox.BlankNode | ox.Literal | None) -> dict[str, str]:
    """A table cell for an RDF term (or an unbound variable): its text, a link for IRIs, and a tooltip."""
    if isinstance(node, ox.NamedNode):
        return {"text": short(node), "link": href(node.value), "title": node.value}
    if isinstance(node, ox.Literal):
        suffix = f"@{node.language}" if node.language else ""
        return {"text": node.value + suffix, "link": "", "title": node.datatype.value}
    return {"text": short(node), "link": "", "title": ""}


STARTER_PREFIXES = ("akg", "akgv", "akr", "rdfs", "schema", "skos", "xsd")
STARTER = """
SELECT ?venture ?label WHERE {
  ?venture a akg:JointVentureFormation ;
           rdfs:label ?label .
  FILTER (lang(?label) = "en")
}
ORDER BY ?label
LIMIT 20
"""


@bp.get("/query")
def query_page() -> Response:
    """The query page: an editor with the project's prefixes, the competency queries as examples, results as a table."""
    text = request.args.get("query", "")
    example = catalog().get(request.args.get("example", ""))
    if not text and example is not None:
        text = example.text
    elif not text:
        text = prologue(STARTER_PREFIXES) + STARTER
    ran = bool(request.args.get("query", "").strip())
    context: dict[str, object] = {"query": text, "examples": list(catalog().values()), "prefixes": PREFIXES, "ran": False}
    if ran:
        outcome, refusal = run_for_page(text)
        context["ran"] = True
        if outcome is None:
            return html_response("query.html", 400, error=refusal, **context)
        if outcome.status != 200:
            return html_response("query.html", outcome.status, error=outcome.body.decode("utf-8", "replace"), **context)
        kind, columns, rows, boolean = result_table(outcome)
        downloads = [(name, url_for("protocol.sparql") + "?" + urlencode({"query": text, "format": name})) for name in DOWNLOADS[kind]]
        context.update(columns=columns, rows=rows, boolean=boolean, total=outcome.rows, downloads=downloads, shown=SHOWN_ROWS)
    return html_response("query.html", **context)
