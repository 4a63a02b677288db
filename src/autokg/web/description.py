"""The SPARQL Service Description served at /sparql without a query, and its HTML face for browsers."""

from __future__ import annotations

from functools import lru_cache
from html import escape

from flask import Response, current_app, request
from rdflib import RDF, BNode, Graph, Literal, Namespace, URIRef

from autokg.errors import BadRequest, NotAcceptable
from autokg.rdf.formats import BY_MEDIA_TYPE, BY_NAME
from autokg.web.failures import error_response
from autokg.web.negotiation import GRAPH_TYPES, RESULT_TYPES, best_type
from autokg.web.pages import query_page

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
VOID = Namespace("http://rdfs.org/ns/void#")
#: the syntaxes the description itself is offered in
DESCRIPTION_FORMATS = [BY_NAME[name] for name in ("turtle", "rdfxml", "ntriples", "jsonld")]
DESCRIPTION_TYPES = {f.media_type: f.rdflib for f in DESCRIPTION_FORMATS}


def describe_service(endpoint: str, graphs: dict[str, str], triples: int) -> Graph:
    """The service description graph: endpoint, language, formats, features and the default dataset."""
    graph = Graph()
    graph.bind("sd", SD)
    graph.bind("void", VOID)
    service = URIRef(endpoint)
    graph.add((service, RDF.type, SD.Service))
    graph.add((service, SD.endpoint, service))
    graph.add((service, SD.supportedLanguage, SD.SPARQL11Query))
    graph.add((service, SD.feature, SD.UnionDefaultGraph))
    graph.add((service, SD.feature, SD.BasicFederatedQuery))
    for media_type in sorted(set(RESULT_TYPES.values()) | set(GRAPH_TYPES.values())):
        graph.add((service, SD.resultFormat, URIRef(BY_MEDIA_TYPE[media_type].iri)))
    dataset = URIRef(endpoint.rsplit("/", 1)[0] + "/void#dataset")
    graph.add((service, SD.defaultDataset, dataset))
    graph.add((dataset, RDF.type, SD.Dataset))
    graph.add((dataset, RDF.type, VOID.Dataset))
    graph.add((dataset, VOID.triples, Literal(triples)))
    graph.add((dataset, URIRef("http://www.w3.org/2000/01/rdf-schema#seeAlso"), URIRef(endpoint.rsplit("/", 1)[0] + "/void")))
    default = BNode("default-graph")
    graph.add((dataset, SD.defaultGraph, default))
    graph.add((default, RDF.type, SD.Graph))
    for part, iri in sorted(graphs.items()):
        named = BNode(f"graph-{part}")
        graph.add((dataset, SD.namedGraph, named))
        graph.add((named, RDF.type, SD.NamedGraph))
        graph.add((named, SD.name, URIRef(iri)))
    return graph


@lru_cache(maxsize=16)
def serialized_description(endpoint: str, graphs: tuple[tuple[str, str], ...], triples: int, fmt: str) -> bytes:
    """The description in one syntax, computed once per endpoint URL."""
    return describe_service(endpoint, dict(graphs), triples).serialize(format=fmt, encoding="utf-8")


def service_description_response() -> Response:
    """The description in Turtle (default), RDF/XML, N-Triples or JSON-LD; an HTML page for browsers; 406 otherwise."""
    dataset = current_app.extensions["autokg"]
    endpoint = request.base_url
    offered = {t: t for t in (*DESCRIPTION_TYPES, "text/html")}
    format_name = request.args.get("format")
    names = {name: f.media_type for f in DESCRIPTION_FORMATS for name in (f.name, *f.names)} | {"html": "text/html"}
    if format_name:
        chosen = names.get(format_name)
        if chosen is None:
            return error_response(BadRequest(f"Parameter 'format': unknown value '{escape(format_name)}'"))
    else:
        chosen = best_type(request.headers.get("Accept"), offered)
    if chosen is None:
        return error_response(NotAcceptable("Not Acceptable: the service description is offered as " + ", ".join(offered)))
    if chosen == "text/html":
        response = query_page()
    else:
        body = serialized_description(endpoint, tuple(sorted(dataset.graphs.items())), dataset.triples, DESCRIPTION_TYPES[chosen])
        response = Response(body, content_type=f"{chosen}; charset=utf-8")
    response.vary.add("Accept")
    return response
