"""HTTP caching: ETags from the dataset version, Cache-Control, 304 Not Modified, and none of it for a backend."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.parse
import urllib.request

import pytest

from autokg.web.app import layer
from autokg.web.caching import CACHE_CONTROL, NOT_CACHED, ConditionalGets

SELECT = "/sparql?" + urllib.parse.urlencode({"query": "SELECT ?s WHERE { ?s a ?c } LIMIT 3"})
#: (path, Accept) of GETs that answer the same on the same dataset
CACHED = [
    (SELECT, "application/sparql-results+json"),
    (SELECT, "text/csv"),
    ("/sparql?" + urllib.parse.urlencode({"query": "SELECT ?s WHERE { ?s a ?c } LIMIT 3", "format": "xml"}), None),
    ("/sparql", "text/turtle"),
    ("/", "text/html"),
    ("/id/saic-motor", "text/html"),
    ("/id/saic-motor", "text/turtle"),
    ("/search?q=saic", "text/html"),
    ("/queries/joint-ventures?partner=akr:ford", "text/csv"),
    ("/void", None),
    ("/dcat", None),
    ("/reconcile", None),
]
REPEATED = ("ETag", "Cache-Control", "Vary", "Access-Control-Allow-Origin")


def get(client, path: str, accept: str | None, **headers: str):
    return client.get(path, headers={**({"Accept": accept} if accept else {}), **headers})


@pytest.mark.parametrize("path, accept", CACHED)
def test_answers_carry_an_etag_and_304_repeats_their_headers(client, app, path, accept):
    first = get(client, path, accept)
    assert first.status_code == 200, first.get_data(as_text=True)
    tag = first.headers["ETag"]
    assert tag.startswith(f'W/"{app.extensions["autokg"].version}.'), "derived from the dataset's version"
    assert first.headers["Cache-Control"] == CACHE_CONTROL
    for _ in range(2):  # found by answering, then from the headers this process keeps
        again = get(client, path, accept, **{"If-None-Match": tag})
        assert again.status_code == 304 and again.data == b""
        assert [again.headers.get(h) for h in REPEATED] == [first.headers.get(h) for h in REPEATED]
        assert "Content-Type" not in again.headers or again.headers["Content-Type"] == first.headers["Content-Type"]


def test_each_representation_has_its_own_etag(client):
    tags = {get(client, path, accept).headers["ETag"] for path, accept in CACHED}
    assert len(tags) == len(CACHED)
    turtle, html = (get(client, "/id/saic-motor", a).headers for a in ("text/turtle", "text/html"))
    assert turtle["Vary"] == html["Vary"] == "Accept"
    # a client holding the Turtle's tag that now asks for HTML gets the page
    assert get(client, "/id/saic-motor", "text/html", **{"If-None-Match": turtle["ETag"]}).status_code == 200


def test_if_none_match_is_compared_weakly_and_as_a_list(client):
    tag = get(client, SELECT, None).headers["ETag"]
    opaque = tag.removeprefix("W/")
    assert get(client, SELECT, None, **{"If-None-Match": f'"other", {opaque}'}).status_code == 304
    assert get(client, SELECT, None, **{"If-None-Match": '"other", W/"0.1+x-y"'}).status_code == 200
    assert get(client, SELECT, None, **{"If-None-Match": "*"}).status_code == 304


@pytest.mark.parametrize("query", [
    'SELECT ("the letters of SERVICE, as Oxigraph would read them" AS ?x) WHERE {}',  # no call: nothing leaves 127.0.0.1
    "SELECT (NOW() AS ?t) WHERE {}",
    "SELECT (RAND() AS ?r) WHERE {}",
    "SELECT (STRUUID() AS ?r) WHERE {}",
])
def test_a_query_that_can_answer_otherwise_is_not_cached(client, query):
    for path in ("/sparql", "/query"):
        response = client.get(path, query_string={"query": query}, headers={"If-None-Match": "*"})
        assert response.status_code == 200, response.get_data(as_text=True)
        assert "ETag" not in response.headers and response.headers["Cache-Control"] == NOT_CACHED


def test_canned_queries_that_call_wikidata_are_not_cached(client, app):
    from autokg.web.app import canned_query

    assert "SERVICE" in canned_query(app, "wikidata-parents")
    assert "ETag" not in client.get("/queries/wikidata-parents").headers
    assert canned_query(app, "no-such-query") is None


def test_errors_posts_and_health_carry_no_etag(client):
    for response in (client.get("/id/no-such-thing-here", headers={"Accept": "text/html"}),
                     client.get("/sparql", query_string={"query": "SELECT nonsense"}),
                     client.post("/sparql", data={"query": "SELECT ?s WHERE { ?s ?p ?o } LIMIT 1"}),
                     client.get("/health")):
        assert "ETag" not in response.headers, response.status_code


def test_release_files_are_served_with_their_sha256_as_a_strong_etag(client, files):
    sums = dict(reversed(line.split("  ", 1)) for line in (files.dist / "SHA256SUMS").read_text().splitlines())
    for name in ("autokg.nt", "void.ttl", "datapackage/datapackage.json"):
        response = client.get(f"/dist/{name}")
        assert response.status_code == 200
        assert response.data == (files.dist / name).read_bytes()
        assert response.headers["ETag"] == f'"{sums[name]}"' == f'"{hashlib.sha256(response.data).hexdigest()}"'
        assert "max-age" in response.headers["Cache-Control"]
        assert client.get(f"/dist/{name}", headers={"If-None-Match": response.headers["ETag"]}).status_code == 304
    assert client.get("/dist/autokg.nt").headers["Content-Type"].startswith("application/n-triples")
    assert client.get("/dist/SHA256SUMS").status_code == 200
    part = client.get("/dist/autokg.nt", headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.data == (files.dist / "autokg.nt").read_bytes()[:10]
    for name in ("store/CURRENT", "../pyproject.toml", "%2e%2e/pyproject.toml", "no-such-file.nt"):
        assert client.get(f"/dist/{name}").status_code == 404, name


def test_a_dataset_file_is_versioned_by_its_content(tmp_path):
    from autokg.web.app import create_app

    data = tmp_path / "data.nq"
    tags = []
    for label in ("one", "two", "two"):
        data.write_text(f'<https://w3id.org/autokg/id/x> <http://www.w3.org/2000/01/rdf-schema#label> "{label}"@en .\n')
        app = create_app({"TESTING": True, "DATASET": str(data), "LOG_LEVEL": "warning"})
        tags.append(app.test_client().get(SELECT).headers["ETag"])
    assert tags[0] != tags[1] == tags[2]


@pytest.mark.live
def test_a_backend_store_is_not_immutable_so_gets_no_etag(autokg_on_oxigraph):
    from autokg.web.app import create_app

    client = create_app({"TESTING": True, "BACKEND": autokg_on_oxigraph, "LOG_LEVEL": "warning"}).test_client()
    for path, accept in ((SELECT, None), ("/id/saic-motor", "text/html"), ("/void", None)):
        response = get(client, path, accept, **{"If-None-Match": "*"})
        assert response.status_code == 200 and "ETag" not in response.headers
        assert response.headers["Cache-Control"] == NOT_CACHED


@pytest.mark.live
def test_a_real_client_revalidates_against_a_live_server(live_server):
    url = live_server + SELECT
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "text/csv"}), timeout=30) as reply:
        tag, body = reply.headers["ETag"], reply.read()
        assert reply.headers["Cache-Control"] == CACHE_CONTROL and reply.headers["Vary"] == "Accept" and body
    for _ in range(3):  # whichever worker answers
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "text/csv", "If-None-Match": tag}), timeout=30)
        assert caught.value.code == 304 and caught.value.read() == b""
        assert caught.value.headers["ETag"] == tag and caught.value.headers["Vary"] == "Accept"
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "application/sparql-results+json",
                                                                     "If-None-Match": tag}), timeout=30) as reply:
        assert reply.status == 200 and reply.headers["ETag"] != tag


def test_a_process_keeps_the_headers_of_at_most_remembered_answers(app, client, monkeypatch):
    from autokg.web import caching

    conditional = layer(app, ConditionalGets)
    monkeypatch.setattr(caching, "REMEMBERED", 3)
    monkeypatch.setattr(conditional, "remembered", type(conditional.remembered)())
    paths = [f"/sparql?{urllib.parse.urlencode({'query': f'SELECT ?s WHERE {{ ?s ?p ?o }} LIMIT {n}'})}" for n in range(1, 6)]
    tags = [client.get(path).headers["ETag"] for path in paths]
    assert list(conditional.remembered) == tags[2:], "the oldest went first"
    # one no longer kept is still answered 304, found by answering the request
    assert client.get(paths[0], headers={"If-None-Match": tags[0]}).status_code == 304
    assert len(conditional.remembered) == 3


@pytest.mark.parametrize("path, accept", [(SELECT, "application/sparql-results+json"), ("/id/saic-motor", "text/html")])
def test_a_304_found_by_answering_is_logged_as_304(app, client, capfd, path, accept):
    conditional = layer(app, ConditionalGets)
    tag = get(client, path, accept).headers["ETag"]
    conditional.remembered.clear()  # as after a restart: the 304 is found by answering the request again
    capfd.readouterr()
    assert get(client, path, accept, **{"If-None-Match": tag}).status_code == 304
    lines = [line for line in capfd.readouterr().err.splitlines() if " rows=" in line]
    assert [line.split()[1:4] for line in lines] == [["GET", path.split("?")[0], "304"]]
