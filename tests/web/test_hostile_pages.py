"""The browsing pages under hostile requests: work bounded whatever the data's size, links and headers that no
result or Host header can turn against the reader."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from autokg.query import entities
from autokg.query.names import MAX_HITS, MAX_QUERY, NameIndex
from support.pages import Elements, page

import gen


@pytest.fixture(scope="module")
def synthetic_app(tmp_path_factory):
    """The app on 20,000 synthetic triples: about 2,000 names, many of them sharing their words."""
    from autokg.web.app import create_app

    data = tmp_path_factory.mktemp("synthetic") / "data.nq"
    gen.write_dataset(gen.generate(20_000, seed=3), data)
    return create_app({"TESTING": True, "DATASET": str(data), "LOG_LEVEL": "warning"})


@pytest.fixture
def rows_read(monkeypatch):
    """The number of solutions the pages' own queries read from the store, counted as they are read."""
    read = [0]
    original = entities.execute

    def counting(store, query):
        results = original(store, query)
        if not hasattr(results, "variables"):
            return results

        class Counted:
            variables = results.variables

            def __iter__(self):
                for solution in results:
                    read[0] += 1
                    yield solution

        return Counted()

    monkeypatch.setattr(entities, "execute", counting)
    return read


def test_the_synthetic_data_has_many_names(synthetic_app):
    assert len(synthetic_app.extensions["autokg.names"]) > 20 * MAX_HITS


@pytest.mark.parametrize("words", ["a", "motor", "syn", "agreement", "qqqzzz", "智己"])
def test_a_search_reads_a_bounded_number_of_rows(synthetic_app, rows_read, words):
    """Without the index, a search read every label of the dataset (about 2,000 rows here)."""
    status, html = page(synthetic_app.test_client(), "/search?q=" + words)
    assert status == 200
    assert rows_read[0] <= 2 * MAX_HITS


@pytest.mark.parametrize("slug", ["syn-org-16710", "mount-star-1x", "no-such-thing-at-all", "x" * 2000])
def test_near_matches_read_a_bounded_number_of_rows(synthetic_app, rows_read, slug):
    status, html = page(synthetic_app.test_client(), "/id/" + slug)
    assert status == 404
    assert rows_read[0] <= 2 * 5 + 1  # the ASK that the resource exists, and the labels of 5 suggestions


def test_a_frequent_word_lists_the_first_hits_and_says_there_are_more(synthetic_app):
    status, html = page(synthetic_app.test_client(), "/search?q=agreement")
    hits = [link for link in Elements(html).links() if link.startswith("/id/")]
    assert status == 200 and len(hits) == MAX_HITS
    assert f"More than {MAX_HITS} names match" in html


def test_a_search_longer_than_the_bound_is_refused_naming_the_parameter(client):
    assert page(client, "/search?q=" + "a" * MAX_QUERY)[0] == 200
    response = client.get("/search?q=" + "a" * (MAX_QUERY + 1))
    assert response.status_code == 400 and response.mimetype == "text/plain"
    assert b"'q'" in response.data and str(MAX_QUERY).encode() in response.data


@pytest.mark.parametrize("words, expected", [
    ("汽车", "/id/saic-gm-wuling"),  # inside 上汽通用五菱汽车股份有限公司, the verified Wikidata label
    ("Motors", "/id/im-motors"), ("IM-Motors", "/id/im-motors"), ("afp", "/id/afp"), ("zhiji mo", "/id/zhiji-motor"),
    ("motors im", None),
])
def test_words_match_at_the_start_of_any_word_and_chinese_at_any_character(client, words, expected):
    links = Elements(page(client, "/search?q=" + words)[1]).links()
    if expected is None:
        assert "/id/im-motors" not in links
    else:
        assert expected in links


def test_the_index_ranks_whole_names_then_starts_then_later_words():
    index = NameIndex([("r:b", "Motor B", True), ("r:a", "Big Motor", True), ("r:c", "motor", True), ("r:d", "Motorway", True)])
    assert [(h.iri, h.score) for h in index.search("motor")] == [("r:c", 0), ("r:b", 1), ("r:d", 1), ("r:a", 2)]
    assert [h.iri for h in index.search("motor", limit=2)] == ["r:c", "r:b"]
    assert index.search("   ") == [] and index.search("otor") == []


def test_a_resource_is_listed_once_under_its_best_name():
    index = NameIndex([("r:a", "Alpha Motor", True), ("r:a", "Motor", False), ("r:a", "motor alpha", False)])
    assert [(h.iri, h.name, h.score) for h in index.search("motor")] == [("r:a", "Motor", 0)]


def test_near_matches_find_a_typo_anywhere_in_the_slug():
    index = NameIndex([(f"r:/org-{n}", f"Mount Star {n}", True) for n in range(5000)] + [("r:/im-motors", "IM Motors", True)])
    assert index.near("im-motorz")[0] == "r:/im-motors"
    assert index.near("mount-star-4321x")[0] == "r:/org-4321"
    assert index.near("org-43210")[0] == "r:/org-4321"
    assert index.near("x" * (MAX_QUERY + 1)) == []


SAFE_LINK = ("/", "#", "?", "http://", "https://")
EVIL_IRIS = ("javascript:alert(1)", "JavaScript:alert(2)", "data:text/html,hello", "file:///etc/passwd", "vbscript:x")


def hrefs(html: str) -> list[str]:
    """Every URL an element of the page points at."""
    return [a[name] for _, a in Elements(html).tags for name in ("href", "src", "action") if name in a]


def test_a_query_answer_links_only_its_http_iris(client):
    values = " ".join(f"<{iri}>" for iri in EVIL_IRIS + ("https://example.org/ok",))
    status, html = page(client, "/query?query=" + quote(f"SELECT ?x WHERE {{ VALUES ?x {{ {values} }} }}"))
    assert status == 200 and "https://example.org/ok" in Elements(html).links()
    assert all(url.startswith(SAFE_LINK) for url in hrefs(html)), hrefs(html)
    assert "javascript:alert(1)" in html  # shown, as text


def test_a_construct_answer_links_only_its_http_iris(client):
    query = "CONSTRUCT { <javascript:alert(1)> <data:p> <file:///etc/passwd> } WHERE {}"
    status, html = page(client, "/query?query=" + quote(query))
    assert status == 200 and "file:///etc/passwd" in html
    assert all(url.startswith(SAFE_LINK) for url in hrefs(html)), hrefs(html)


@pytest.fixture(scope="module")
def evil_app(tmp_path_factory, files, built):
    """The app on the project's data plus an organization whose type, statements and alignment point at other schemes."""
    from autokg.web.app import create_app

    evil = "https://w3id.org/autokg/id/evil-corp"
    lines = [f'<{evil}> <http://www.w3.org/2000/01/rdf-schema#label> "Evil Corp"@en <https://w3id.org/autokg/graph/data> .',
             f"<{evil}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://w3id.org/autokg/ontology#Company> <https://w3id.org/autokg/graph/data> ."]
    for number, iri in enumerate(EVIL_IRIS):
        lines += [f"<{evil}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{iri}> <https://w3id.org/autokg/graph/data> .",
                  f"<{evil}> <https://example.org/p{number}> <{iri}> <https://w3id.org/autokg/graph/data> .",
                  f"<{iri}> <http://www.w3.org/2000/01/rdf-schema#label> \"evil {number}\"@en <https://w3id.org/autokg/graph/data> ."]
    data = tmp_path_factory.mktemp("evil") / "evil.nq"
    data.write_text((files.root / "dist" / "autokg.nq").read_text(encoding="utf-8") + "\n".join(lines) + "\n", encoding="utf-8")
    return create_app({"TESTING": True, "DATASET": str(data), "LOG_LEVEL": "warning"})


@pytest.mark.parametrize("path", ["/id/evil-corp", "/search?q=evil", "/id/evil-corq", "/", "/ontology"])
def test_pages_link_only_http_iris_whatever_the_data_holds(evil_app, path):
    response = evil_app.test_client().get(path, headers={"Accept": "text/html"})
    html = response.get_data(as_text=True)
    assert response.status_code in (200, 404) and "<html" in html
    assert all(url.startswith(SAFE_LINK) for url in hrefs(html)), [u for u in hrefs(html) if not u.startswith(SAFE_LINK)]
    if path == "/id/evil-corp":
        assert "javascript:alert(1)" in html or "evil 0" in html  # the statements are shown, unlinked


PAGES = ["/", "/search?q=im", "/id/im-motors", "/id/source-000", "/id/no-such-thing", "/ontology",
         "/query", "/query?example=joint-ventures", "/query?query=" + quote("SELECT * WHERE { ?s ?p ?o } LIMIT 3")]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_the_security_headers(client, path):
    response = client.get(path, headers={"Accept": "text/html"})
    assert response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("path,headers", [
    ("/sparql?query=" + quote("ASK {}"), {"Accept": "application/sparql-results+json"}),  # the fast path, below Flask
    ("/sparql?query=" + quote("ASK {}") + "&format=csv", {}),
    ("/sparql", {}), ("/health", {}), ("/queries", {}), ("/void", {}), ("/id/im-motors", {"Accept": "text/turtle"}),
    ("/static/query.js", {}), ("/static/autokg.css", {}), ("/no/such/path", {}), ("/search?q=" + "a" * 500, {}),
])
def test_every_response_says_nosniff(client, path, headers):
    response = client.get(path, headers=headers)
    assert response.headers.get("X-Content-Type-Options") == "nosniff", (response.status_code, dict(response.headers))


@pytest.mark.parametrize("path", ["/id//im-motors", "/id//im-motors?format=turtle", "/id///im-motors", "/vocab/rumoured"])
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "w3id.org.evil.example"])
def test_redirects_stay_on_this_site_whatever_the_host_header(client, path, host):
    response = client.get(path, headers={"Host": host, "Accept": "text/html"})
    assert 300 <= response.status_code < 400
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\")), location
    assert "evil" not in location


def test_redirects_may_point_under_the_public_base(files):
    from autokg.web.security import on_this_site

    assert on_this_site("https://w3id.org/autokg/id/x", "https://w3id.org/autokg/") == "https://w3id.org/autokg/id/x"
    assert on_this_site("https://evil.example/autokg/id/x", "https://w3id.org/autokg/") == "/autokg/id/x"
