"""/reconcile: the Reconciliation Service API 0.2 as OpenRefine uses it, checked against the specification's schemas."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

import jsonschema
import pytest

from autokg.web import reconciliation
from support.paths import TESTS

SCHEMAS = TESTS / "fixtures" / "reconciliation"


def conforms(payload: object, schema: str) -> None:
    """Fail unless `payload` is valid against one of the specification's schemas."""
    jsonschema.validate(payload, json.loads((SCHEMAS / schema).read_text(encoding="utf-8")))


def reconcile(client, queries: dict) -> dict:
    response = client.post("/reconcile", data={"queries": json.dumps(queries)})
    assert response.status_code == 200, response.get_data(as_text=True)
    conforms(response.get_json(), "reconciliation-result-batch.json")
    return response.get_json()


def test_the_schemas_reject_what_the_specification_forbids():
    """The schemas can fail: a result without a score, a manifest without versions, an extension cell of a wrong shape."""
    for payload, schema in (({"q0": {"result": [{"id": "x", "name": "X"}]}}, "reconciliation-result-batch.json"),
                            ({"name": "x", "identifierSpace": "a", "schemaSpace": "b"}, "manifest.json"),
                            ({"meta": [], "rows": {"x": {"p": [{"id": "y"}]}}}, "data-extension-response.json")):
        with pytest.raises(jsonschema.ValidationError):
            conforms(payload, schema)


def test_manifest(client):
    manifest = client.get("/reconcile").get_json()
    conforms(manifest, "manifest.json")
    assert manifest["identifierSpace"] == "https://w3id.org/autokg/id/" and "0.2" in manifest["versions"]
    assert manifest["view"]["url"] == "http://localhost/id/{{id}}", "a local deployment's own entity pages"
    assert client.get(manifest["view"]["url"].replace("{{id}}", "saic-motor").removeprefix("http://localhost")).status_code == 200
    assert client.get("/reconcile").headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("words, expected", [
    ("SAIC Motor", "saic-motor"), ("saic motor corp., ltd.", "saic-motor"), ("SAIC Motors", "saic-motor"),
    ("IM Motors", "im-motors"), ("Zhiji Motor", "zhiji-motor"), ("腾讯控股有限公司", "tencent"), ("Alibaba", "alibaba-group"),
    ("CATL", "catl"), ("Contemporary Amperex Technology Co., Limited.", "catl"),
])
def test_names_aliases_and_chinese_names_match(client, words, expected):
    best = reconcile(client, {"q0": {"query": words, "type": "Organization"}})["q0"]["result"][0]
    assert best["id"] == expected and best["match"] is True and best["score"] == 100


def test_near_names_are_candidates_but_no_match(client):
    results = reconcile(client, {"q0": {"query": "Alibaba Grp", "limit": 3}})["q0"]["result"]
    assert results[0]["id"] == "alibaba-group" and results[0]["match"] is False and results[0]["score"] < 100
    assert len(results) <= 3 and [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)


def test_types_restrict_the_candidates(client):
    people = reconcile(client, {"q0": {"query": "Alibaba Group", "type": "Person"}})["q0"]["result"]
    assert all(any(t["id"] == "Person" for t in r["type"]) for r in people)
    brands = reconcile(client, {"q0": {"query": "MG", "type": "Brand"}})["q0"]["result"]
    assert brands[0]["id"] == "mg" and {"id": "Brand", "name": "brand"} in brands[0]["type"]


def test_a_wikidata_property_makes_a_match(client):
    best = reconcile(client, {"q0": {"query": "Tencent Holdings", "properties": [{"pid": "wikidata", "v": "Q860580"}]}})
    assert best["q0"]["result"][0]["id"] == "tencent" and best["q0"]["result"][0]["match"] is True


def test_queries_by_get_as_well(client):
    response = client.get("/reconcile?queries=" + urllib.parse.quote(json.dumps({"a": {"query": "Ford"}})))
    assert response.status_code == 200 and response.get_json()["a"]["result"][0]["id"] == "ford"


def test_extension_brings_parent_owners_ventures_and_partners_with_sources(client):
    properties = [{"id": p} for p in reconciliation.proposed_ids()]
    response = client.post("/reconcile", data={"extend": json.dumps(
        {"ids": ["alios", "saic-alibaba-internet-car-jv", "saic-motor", "baic-group", "unknown"], "properties": properties})})
    assert response.status_code == 200
    body = response.get_json()
    conforms(body, "data-extension-response.json")
    rows = body["rows"]
    assert rows["alios"]["parent"] == [{"id": "alibaba-group", "name": "Alibaba Group"}]
    assert rows["alios"]["parent-source"][0]["str"].startswith("source-004: \u201cAlibaba\u2019s four business units")
    assert {v["id"] for v in rows["saic-alibaba-internet-car-jv"]["owners"]} == {"alibaba-group", "saic-motor"}
    assert {"id": "saic-alibaba-internet-car-jv", "name": "SAIC Motor\u2013Alibaba internet car joint venture"} in rows["saic-motor"]["ventures"]
    assert {"alibaba-group", "general-motors", "volkswagen-group"} <= {v["id"] for v in rows["saic-motor"]["partners"]}
    assert len(rows["saic-motor"]["partners"]) == len(rows["saic-motor"]["partners-source"])
    # a reporting line is not a parent, and an unknown id gets empty cells
    assert rows["baic-group"]["parent"] == [] and all(v == [] for v in rows["unknown"].values())


def test_suggest_preview_and_property_proposals(client):
    for path, schema in (("/reconcile/suggest/entity?prefix=zhi", "suggest-response.json"),
                         ("/reconcile/suggest/type?prefix=comp", "suggest-response.json"),
                         ("/reconcile/suggest/property?prefix=par", "suggest-response.json"),
                         ("/reconcile/properties?type=Organization", "propose-properties-response.json")):
        response = client.get(path)
        assert response.status_code == 200
        conforms(response.get_json(), schema)
    assert client.get("/reconcile/suggest/entity?prefix=zhi").get_json()["result"][0]["id"] == "zhiji-motor"
    assert {"id": "Company", "name": "company"} in client.get("/reconcile/suggest/type?prefix=comp").get_json()["result"]
    preview = client.get("/reconcile/preview?id=tencent")
    assert preview.status_code == 200 and "腾讯控股有限公司" in preview.get_data(as_text=True)
    assert "default-src 'none'" in preview.headers["Content-Security-Policy"]


@pytest.mark.parametrize("data, status, words", [
    ({"queries": "{not json"}, 400, "not valid JSON"),
    ({"queries": json.dumps([1, 2])}, 400, "JSON object"),
    ({"queries": json.dumps({"q0": {"query": ""}})}, 400, "non-empty"),
    ({"queries": json.dumps({"q0": {"query": "x" * (reconciliation.MAX_QUERY_CHARS + 1)}})}, 400, "at most"),
    ({"queries": json.dumps({f"q{i}": {"query": "Ford"} for i in range(reconciliation.MAX_QUERIES + 1)})}, 413, "At most 100 queries"),
    ({"queries": json.dumps({"q0": {"query": "Ford", "limit": "3"}})}, 400, "positive integer"),
    ({"extend": json.dumps({"ids": ["ford"] * (reconciliation.MAX_IDS + 1), "properties": []})}, 413, "At most"),
    ({"extend": json.dumps({"ids": ["ford"], "properties": [{"id": "ceo"}]})}, 400, "Unknown property"),
    ({"extend": json.dumps({"ids": "ford"})}, 400, "list 'ids'"),
    ({"queries": "[" * 100_000 + "]" * 100_000}, 400, "too deeply"),
    ({"extend": '{"ids": ' + "[" * 100_000}, 400, "too deeply"),
])
def test_bad_requests_get_a_clear_status_and_message(client, data, status, words):
    response = client.post("/reconcile", data=data)
    assert response.status_code == status and words in response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain")


def test_preview_of_an_unknown_id_is_404(client):
    assert client.get("/reconcile/preview?id=%3Cscript%3E").status_code == 404


@pytest.mark.live
def test_openrefine_request_sequence_on_a_live_server(live_server):
    """What OpenRefine sends: the manifest, form-encoded query batches, a property proposal, an extension, a preview."""
    def call(path: str, form: dict | None = None):
        data = urllib.parse.urlencode(form).encode() if form else None
        request = urllib.request.Request(live_server + path, data=data, headers={"User-Agent": "OpenRefine 3.8"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()

    status, kind, body = call("/reconcile")
    manifest = json.loads(body)
    conforms(manifest, "manifest.json")
    # OpenRefine first guesses types from a few rows, then sends batches of 10 with the chosen type
    status, _, body = call("/reconcile", {"queries": json.dumps({"q0": {"query": "SAIC Motor", "limit": 6}})})
    conforms(json.loads(body), "reconciliation-result-batch.json")
    batch = {f"q{i}": {"query": name, "type": "Company", "type_strict": "should"}
             for i, name in enumerate(["Alibaba Group", "Ford Motor Company", "Tencent", "Zhiji Motor", "No Such Company Ltd"])}
    status, kind, body = call("/reconcile", {"queries": json.dumps(batch)})
    answers = json.loads(body)
    conforms(answers, "reconciliation-result-batch.json")
    assert status == 200 and kind.startswith("application/json")
    assert [answers[f"q{i}"]["result"][0]["id"] for i in range(4)] == ["alibaba-group", "ford", "tencent", "zhiji-motor"]
    assert not any(r["match"] for r in answers["q4"]["result"])
    status, _, body = call(manifest["extend"]["propose_properties"]["service_path"].join(["/reconcile", "?type=Company"]))
    conforms(json.loads(body), "propose-properties-response.json")
    status, _, body = call("/reconcile", {"extend": json.dumps({"ids": ["alibaba-group", "ford"], "properties": [{"id": "partners"}, {"id": "partners-source"}]})})
    extension = json.loads(body)
    conforms(extension, "data-extension-response.json")
    partners = extension["rows"]["alibaba-group"]
    assert "ford" in {v["id"] for v in partners["partners"]} and len(partners["partners-source"]) == len(partners["partners"])
    status, kind, body = call(manifest["preview"]["url"].replace("{{id}}", "ford").removeprefix(manifest["preview"]["url"].split("/reconcile")[0]))
    assert status == 200 and kind.startswith("text/html") and b"Ford Motor Company" in body
    with pytest.raises(urllib.error.HTTPError) as refused:
        call("/reconcile", {"queries": "x" * (2 * 1024 * 1024)})
    assert refused.value.code == 413


def test_behind_a_public_base_entities_are_viewed_at_their_iris(app, client):
    app.config["PUBLIC_BASE"] = "https://w3id.org/autokg/"
    try:
        assert client.get("/reconcile").get_json()["view"]["url"] == "https://w3id.org/autokg/id/{{id}}"
    finally:
        app.config["PUBLIC_BASE"] = ""


def test_search_near_matches_and_reconciliation_share_one_name_index(app, client):
    """/reconcile scores the names of the server's one index, in the same normal form /search looks them up in."""
    assert reconcile(client, {"q0": {"query": "ＳＡＩＣ　Ｍｏｔｏｒ"}})["q0"]["result"][0]["id"] == "saic-motor"
    assert "/id/saic-motor" in client.get("/search", query_string={"q": "ＳＡＩＣ"}).get_data(as_text=True)
    names, found = app.extensions["autokg.names"], reconciliation_entities(app)
    for slug in ("saic-motor", "im-motors", "tencent"):
        assert found[slug].names == names.names_of("https://w3id.org/autokg/id/" + slug)


def reconciliation_entities(app) -> dict:
    with app.test_request_context("/reconcile"):
        return reconciliation.index()
