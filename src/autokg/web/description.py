"""The SPARQL Service Description served at /sparql without a query, and its HTML face for browsers."""

from __future__ import annotations

from functools import lru_cache
from html import escape

from flask import Response, current_app, request
from rdflib import RDF, BNode, Graph, Literal, Namespace, URIRef

from autokg.errors import BadRequest, NotAcceptable
from autokg.web.failures import error_response
from autokg.web.negotiation import GRAPH_TYPES, RESULT_TYPES, best_type
from autokg.web.pages import query_page

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
FORMATS = Namespace("http://www.w3.org/ns/formats/")
VOID = Namespace("http://rdfs.org/ns/void#")
#: media type -> W3C format IRI, for sd:resultFormat
FORMAT_IRIS = {
    "application/sparql-results+json": FORMATS.SPARQL_Results_JSON,
    "application/sparql-results+xml": FORMATS.SPARQL_Results_XML,
    "text/csv": FORMATS.SPARQL_Results_CSV,
    "text/tab-separated-values": FORMATS.SPARQL_Results_TSV,
    "text/turtle": FORMATS.Turtle,
    "application/n-triples": FORMATS["N-Triples"],
    "application/rdf+xml": FORMATS.RDF_XML,
    "application/ld+json": FORMATS["JSON-LD"],
    "application/n-quads": FORMATS["N-Quads"],
}
DESCRIPTION_TYPES = {"text/turtle": "turtle", "application/rdf+xml": "xml", "application/n-triples": "nt", "application/ld+json": "json-ld"}


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
        graph.add((service, SD.resultFormat, FORMAT_IRIS[media_type]))
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
    offered = {t: t for t in ("text/turtle", "application/rdf+xml", "application/n-triples", "application/ld+json", "text/html")}
    format_name = request.args.get("format")
    names = {"turtle": "text/turtle", "ttl": "text/turtle", "rdfxml": "application/rdf+xml", "xml": "application/rdf+xml",
             "ntriples": "application/n-triples", "jsonld": "application/ld+json", "html": "text/html"}
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
