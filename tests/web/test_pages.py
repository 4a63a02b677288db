"""Browsing with the Flask test client: dereferencing, negotiation on resource paths, pages and escaping."""

from __future__ import annotations

import re

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDFS

from autokg.config import ONTOLOGY_NS, RESOURCE_NS
from support.pages import BROWSER, Elements, page

IM_MOTORS = URIRef(RESOURCE_NS + "im-motors")


@pytest.mark.parametrize(
    ("accept", "status", "media_type", "rdflib_format"),
    [
        (BROWSER, 200, "text/html", None),
        ("text/html", 200, "text/html", None),
        ("*/*", 200, "text/html", None),
        (None, 200, "text/html", None),
        ("text/turtle", 200, "text/turtle", "turtle"),
        ("application/ld+json", 200, "application/ld+json", "json-ld"),
        ("application/n-triples", 200, "application/n-triples", "nt"),
        ("application/rdf+xml", 200, "application/rdf+xml", "xml"),
        ("application/n-quads", 200, "application/n-quads", "nquads"),
        ("text/turtle;q=0.5, application/ld+json", 200, "application/ld+json", "json-ld"),
        ("image/png", 406, "text/plain", None),
        ("application/sparql-results+json", 406, "text/plain", None),
    ],
)
def test_resource_negotiation(client, accept, status, media_type, rdflib_format):
    headers = {"Accept": accept} if accept else {}
    response = client.get("/id/im-motors", headers=headers)
    assert response.status_code == status
    assert response.mimetype == media_type
    if status == 200:
        assert "Accept" in response.headers.get("Vary", "")
    if rdflib_format:
        graph = Graph()
        graph.parse(data=response.data, format=rdflib_format)
        assert (IM_MOTORS, RDFS.label, Literal("IM Motors", lang="en")) in graph


def test_resource_description_has_relationships_with_qualifiers_and_evidence(client):
    graph = Graph().parse(data=client.get("/id/im-motors?format=turtle").data, format="turtle")
    akg = ONTOLOGY_NS
    ventures = set(graph.subjects(URIRef(akg + "resultingOrganization"), IM_MOTORS))
    assert ventures, "the joint ventures that created IM Motors are part of its description"
    for venture in ventures:
        evidence = set(graph.objects(venture, URIRef(akg + "evidence")))
        assert evidence and all(graph.value(e, URIRef(akg + "quote")) for e in evidence)
        for stake in graph.objects(venture, URIRef(akg + "stake")):
            assert graph.value(stake, URIRef(akg + "stakePercent")) is not None


@pytest.mark.parametrize("name", ["turtle", "jsonld", "ntriples", "rdfxml", "nquads", "html"])
def test_format_parameter_on_resources(client, name):
    response = client.get(f"/id/im-motors?format={name}", headers={"Accept": "image/png"})
    assert response.status_code == 200


def test_unknown_format_parameter_is_406(client):
    response = client.get("/id/im-motors?format=pdf")
    assert response.status_code == 406 and b"format=" in response.data


def test_unknown_slug_suggests_near_matches(client):
    status, html = page(client, "/id/im-motorz")
    assert status == 404
    assert "/id/im-motors" in Elements(html).links()
    response = client.get("/id/im-motorz", headers={"Accept": "text/turtle"})
    assert response.status_code == 404 and response.mimetype == "text/plain"


@pytest.mark.parametrize("slug", ["IM-Motors", "a b", "x%2Fy", "-"])
def test_malformed_slugs_are_404(client, slug):
    assert page(client, f"/id/{slug}")[0] == 404


def test_ontology_dereferences_to_docs_and_rdf(client, project):
    status, html = page(client, "/ontology")
    assert status == 200
    ids = Elements(html).ids()
    terms = [str(t) for t in set(project.ontology.subjects()) if str(t).startswith(ONTOLOGY_NS)]
    missing = sorted(t for t in terms if t[len(ONTOLOGY_NS):] not in ids)
    assert not missing, f"terms without an anchor on /ontology: {missing[:5]}"
    graph = Graph().parse(data=client.get("/ontology", headers={"Accept": "text/turtle"}).data, format="turtle")
    assert (URIRef(ONTOLOGY_NS + "Company"), RDFS.label, Literal("company", lang="en")) in graph


def test_ontology_docs_show_domains_ranges_alignments_and_schemes(client):
    html = page(client, "/ontology")[1]
    assert "Domain" in html and "Range" in html
    assert "skos:closeMatch" in html or "skos:exactMatch" in html
    assert 'id="v-rumoured"' in html and 'id="v-status"' in html


def test_vocabulary_concepts_dereference(client):
    response = client.get("/vocab/rumoured", headers={"Accept": BROWSER})
    assert response.status_code == 303 and response.headers["Location"].endswith("/ontology#v-rumoured")
    graph = Graph().parse(data=client.get("/vocab/rumoured", headers={"Accept": "text/turtle"}).data, format="turtle")
    assert len(graph) > 0
    assert client.get("/vocab/no-such-concept", headers={"Accept": "text/turtle"}).status_code == 404


def test_home_page_lists_counts_organizations_sources_and_questions(client):
    status, html = page(client, "/")
    assert status == 200
    assert "CC BY 4.0" in html and "triples" in html
    links = Elements(html).links()
    assert "/id/im-motors" in links and "/id/source-000" in links
    assert any(link.startswith("/query?example=") for link in links)
    assert 'type="search"' in html


@pytest.mark.parametrize("words,slug", [("IM Motors", "im-motors"), ("im motors", "im-motors"), ("Zhiji", "zhiji-motor"),
                                        ("腾讯", "tencent"), ("腾讯控股有限公司", "tencent")])
def test_search_finds_entities_by_english_and_chinese_names(client, words, slug):
    status, html = page(client, "/search?q=" + words)
    assert status == 200 and f"/id/{slug}" in Elements(html).links()


def test_search_without_a_match_says_so(client):
    assert "Nothing matches" in page(client, "/search?q=qqqzzz")[1]


def test_entity_page_shows_names_type_wikidata_diagram_and_evidence(client):
    status, html = page(client, "/id/tencent")
    assert status == 200
    assert "<h1>Tencent" in html and 'lang="zh-Hans"' in html
    assert any(link.startswith("http://www.wikidata.org/entity/Q") for link in Elements(html).links())
    assert "Company" in html
    assert html.count('class="edge') >= 3, "the neighbourhood diagram draws an edge per relationship"
    assert "<blockquote>" in html and "/id/source-" in html


def test_rumours_are_drawn_differently(client, app):
    from autokg.query.entities import relationships

    store = app.extensions["autokg"].store
    ties = relationships(store, RESOURCE_NS + "apple")
    assert any(t.rumour for t in ties), "the data has rumours about Apple"
    html = page(client, "/id/apple")[1]
    groups = {(p, t.type_label, t.status, t.rumour) for t in ties for p, _, _ in t.parties}
    assert html.count('class="edge rumour"') == sum(1 for g in groups if g[3])
    assert html.count('class="edge"') == sum(1 for g in groups if not g[3])
    assert "stroke-dasharray" in client.get("/static/autokg.css").get_data(as_text=True)


def test_figures_over_time_are_charted(client, app):
    from autokg.query.entities import figures

    store = app.extensions["autokg"].store
    charted = [slug for slug in ("saic-motor", "im-motors", "ford", "alibaba-group")
               if any(len({f.when for f in series if f.value is not None}) > 1 for series in figures(store, RESOURCE_NS + slug).values())]
    assert charted, "some organization has a metric over several periods"
    assert 'class="chart"' in page(client, f"/id/{charted[0]}")[1]


def test_source_page_lists_its_facts_in_text_order(client, files):
    status, html = page(client, "/id/source-002")
    assert status == 200
    quotes = re.findall(r"<blockquote>“(.*?)”</blockquote>", html, re.S)
    assert len(quotes) >= 3
    text = next(files.source_texts.glob("002_*.txt")).read_text(encoding="utf-8")
    from html import unescape

    positions = [text.find(unescape(q)) for q in quotes]
    assert -1 not in positions and positions == sorted(positions)


def test_query_page_runs_a_query_and_offers_downloads(client):
    query = 'PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> SELECT ?x ?label WHERE { ?x rdfs:label ?label } LIMIT 5'
    status, html = page(client, "/query?" + __import__("urllib.parse").parse.urlencode({"query": query}))
    assert status == 200
    assert html.count("<tr>") >= 6
    downloads = [link for link in Elements(html).links() if "format=" in link]
    assert {re.search(r"format=(\w+)", d).group(1) for d in downloads} == {"json", "xml", "csv", "tsv"}
    assert client.get(downloads[2].replace("&amp;", "&")).status_code == 200


def test_query_page_loads_examples_and_refuses_updates(client):
    html = page(client, "/query?example=joint-ventures")[1]
    assert "JointVentureFormation" in html
    status, html = page(client, "/query?query=DROP+ALL")
    assert status == 403 or status == 400
    assert "read-only" in html or "Update" in html


def test_public_base_makes_links_canonical(app):
    app.config["PUBLIC_BASE"] = "https://w3id.org/autokg/"
    try:
        html = app.test_client().get("/", headers={"Accept": BROWSER}).get_data(as_text=True)
    finally:
        app.config["PUBLIC_BASE"] = ""
    assert RESOURCE_NS + "im-motors" in Elements(html).links()


def test_pages_render_without_javascript_and_load_assets_locally(client):
    for path in ("/", "/id/im-motors", "/id/source-000", "/query", "/ontology"):
        elements = Elements(page(client, path)[1])
        for tag, attrs in elements.tags:
            for key in ("src", "href"):
                value = attrs.get(key, "")
                if tag in ("script", "link", "img") and value:
                    assert value.startswith("/"), f"{path} loads {value} from elsewhere"
                    assert client.get(value).status_code == 200
        # a JSON-LD data block (the home page's schema.org Dataset) is data, not JavaScript
        scripts = [a for t, a in elements.tags if t == "script" and a.get("type") != "application/ld+json"]
        assert path == "/query" or not scripts


SCRIPT = "<script>alert('x')</script>"


@pytest.fixture(scope="module")
def hostile_client(tmp_path_factory, files, app):
    """An app over a copy of the dataset (built for `app`) plus an organization whose labels carry a script tag."""
    from autokg.web.app import create_app

    nquads = tmp_path_factory.mktemp("hostile") / "data.nq"
    extra = (
        f'<{RESOURCE_NS}evil-corp> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{ONTOLOGY_NS}Company> <https://w3id.org/autokg/graph/data> .\n'
        f'<{RESOURCE_NS}evil-corp> <http://www.w3.org/2000/01/rdf-schema#label> "{SCRIPT}"@en <https://w3id.org/autokg/graph/data> .\n'
        f'<{RESOURCE_NS}evil-corp> <http://www.w3.org/2004/02/skos/core#altLabel> "{SCRIPT}"@zh-Hans <https://w3id.org/autokg/graph/data> .\n'
    )
    nquads.write_text((files.root / "dist" / "autokg.nq").read_text(encoding="utf-8") + extra, encoding="utf-8")
    return create_app({"TESTING": True, "DATASET": str(nquads)}).test_client()


@pytest.mark.parametrize("path", ["/", "/id/evil-corp", "/search?q=script", "/search?q=" + SCRIPT, "/id/" + SCRIPT,
                                  "/query?query=" + SCRIPT, "/query?query=SELECT+*+WHERE+{?s+?p+'" + SCRIPT + "'}"])
def test_labels_and_queries_are_escaped(hostile_client, path):
    response = hostile_client.get(path, headers={"Accept": BROWSER})
    body = response.get_data(as_text=True)
    assert SCRIPT not in body
    assert "<script>alert" not in body
