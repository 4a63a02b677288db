"""Merging with Wikidata: export, QuickStatements, the diff, links and federation, against a local fixture endpoint."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import re
import threading
import urllib.parse

import pytest
from rdflib import Graph, Namespace, URIRef

from autokg.config import project_files
from autokg.errors import AutokgError
from autokg.query.catalog import load_catalog
from autokg.query.entities import select, text
from autokg.settings import BY_NAME, split_list
from autokg.stores.embedded import open_store
from autokg.stores.remote import WIKIDATA_ENDPOINT, select_remote
from support.paths import TESTS

GOLDEN = TESTS / "golden"
UPDATE = os.environ.get("AUTOKG_UPDATE_FIXTURES") == "1"
WD = Namespace("http://www.wikidata.org/entity/")
P = Namespace("http://www.wikidata.org/prop/")
FEDERATED = {name: q for name, q in load_catalog(project_files().queries).items() if q.federated}


def golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"no golden file {name}: run with AUTOKG_UPDATE_FIXTURES=1 and review it"
    assert actual == path.read_text(encoding="utf-8")


# --- export -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exported(runner, tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    result = runner("export", "wikidata", "--output", str(out / "wd.ttl"), "--report", str(out / "report.tsv"))
    assert result.status == 0
    graph = Graph().parse(out / "wd.ttl", format="turtle")
    report = [line.split("\t") for line in (out / "report.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    return graph, report


def test_export_uses_statement_nodes_qualifiers_and_references(exported):
    graph, _ = exported
    statement = next(graph.objects(WD.Q215293, P.P1716))
    assert (statement, URIRef("http://www.wikidata.org/prop/statement/P1716"), None) in graph
    references = list(graph.objects(statement, URIRef("http://www.w3.org/ns/prov#wasDerivedFrom")))
    assert references
    assert all(graph.value(r, URIRef("http://www.wikidata.org/prop/reference/P1683")) for r in references)
    # linked entities by Q-number, unlinked ones by our IRIs
    assert (WD.Q3082637, URIRef("http://www.wikidata.org/prop/direct/P127"), URIRef("https://w3id.org/autokg/id/saic-motor")) in graph


def test_export_references_carry_url_date_and_publisher(exported):
    graph, _ = exported
    ref_props = {p for _, p, _ in graph if str(p).startswith("http://www.wikidata.org/prop/reference/")}
    assert {str(P) + "reference/" + p for p in ("P854", "P577", "P123", "P1683")} <= {str(p) for p in ref_props}


def test_export_leaves_out_rumours_unestablished_facts_and_unmapped_types(exported):
    graph, report = exported
    subjects = {str(s) for s in graph.subjects()}
    reasons = {row[0]: row[1] for row in report}
    assert reasons["https://w3id.org/autokg/id/agreement--apple--kia"].startswith("rumour")
    assert reasons["https://w3id.org/autokg/id/agreement--alibaba-group--shanghai-general-motors"] == "not an established fact: status announced"
    assert any(r.startswith("no Wikidata property for") for r in reasons.values())
    assert not any(s.startswith("https://w3id.org/autokg/id/agreement--apple--kia") for s in subjects)
    store = open_store(project_files())
    rumoured = {text(r, "r") for r in select(store, """SELECT ?r WHERE { ?r akg:evidence/akg:certainty akgv:rumoured
        FILTER NOT EXISTS { ?r akg:evidence/akg:certainty ?c FILTER (?c IN (akgv:confirmed, akgv:reported)) } }""")}
    assert rumoured and not any(s.startswith(tuple(rumoured)) for s in subjects)


def test_export_never_says_more_than_the_fact(exported):
    """A letter of intent is no P2652 partnership, a unit or a reporting line no P749/P355, a derived date no qualifier."""
    graph, report = exported
    reasons = {row[0]: row[1] for row in report}
    assert reasons["https://w3id.org/autokg/id/agreement--alibaba-group--ford"].startswith("a letter of intent")
    assert reasons["https://w3id.org/autokg/id/affiliation--baic-group--chinese-central-government"] == "no Wikidata property for Affiliation"
    assert reasons["https://w3id.org/autokg/id/affiliation--alios--alibaba-group"] == "no Wikidata property for Affiliation"
    assert (WD.Q44294, URIRef("http://www.wikidata.org/prop/direct/P2652"), WD.Q1359568) not in graph
    assert (WD.Q3884, URIRef("http://www.wikidata.org/prop/direct/P2652"), WD.Q27597) not in graph
    store = open_store(project_files())
    derived = {text(r, "r") for r in select(store, "SELECT ?r WHERE { ?r akg:dateDerivation ?d }")}
    qualified = {str(s) for s, p, _ in graph if str(p).startswith("http://www.wikidata.org/prop/qualifier/P5")}
    assert derived and not any(q.startswith(tuple(derived)) for q in qualified)


DERIVED = """
@prefix akg: <https://w3id.org/autokg/ontology#> . @prefix akgv: <https://w3id.org/autokg/vocab/> .
@prefix akr: <https://w3id.org/autokg/id/> . @prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
akr:ford skos:exactMatch <http://www.wikidata.org/entity/Q44294> .
akr:apple skos:exactMatch <http://www.wikidata.org/entity/Q312> .
akr:agreement--apple--ford a akg:Agreement ; akg:partner akr:apple , akr:ford ; akg:status akgv:signed ;
    akg:agreementType akgv:strategic-partnership ; akg:signedOn "2015-03-12"^^xsd:date ; akg:startDate "2016"^^xsd:gYear ;
    akg:dateDerivation akr:agreement--apple--ford--derived-signed-on ; akg:evidence akr:agreement--apple--ford--ev-000 .
akr:agreement--apple--ford--derived-signed-on akg:derivedProperty akg:signedOn .
akr:agreement--apple--ford--ev-000 akg:certainty akgv:reported ; akg:quote "They signed on Thursday."@en ; akg:source akr:source-000 .
"""


def test_a_derived_date_is_no_qualifier_and_a_stated_one_is():
    from pyoxigraph import RdfFormat, Store

    from autokg.wikidata.export import exportable_facts

    store = Store()
    store.load(DERIVED, format=RdfFormat.TURTLE)
    statements = exportable_facts(store).statements
    assert len(statements) == 2 and all(s.property == "P2652" for s in statements)
    assert all([q for q, _ in s.qualifiers] == ["P580"] for s in statements), "signedOn (derived) is left out, startDate kept"


def test_time_values_keep_their_precision():
    import pyoxigraph as ox

    from autokg.wikidata.export import XSD, time_value

    assert time_value(ox.Literal("2015-03", datatype=ox.NamedNode(XSD + "gYearMonth"))) == ("+2015-03-00T00:00:00Z", 10)


# --- the diff ---------------------------------------------------------------------------------------


@pytest.mark.live
def test_diff_against_the_fixture_endpoint(runner, wikidata_endpoint):
    result = runner("diff-wikidata", "--endpoint", wikidata_endpoint, "--format", "csv")
    assert result.status == 0, result.err
    golden("diff-wikidata.csv", result.out)
    import csv
    import io

    verdicts = {row["verdict"] for row in csv.DictReader(io.StringIO(result.out))}
    assert verdicts == {"agree", "missing in Wikidata", "missing in autokg", "conflict"}


@pytest.mark.live
def test_diff_verdicts(runner, wikidata_endpoint):
    rows = json.loads(runner("diff-wikidata", "--endpoint", wikidata_endpoint, "--format", "json").out)
    by_key = {(r["entity"], r["property"], r["autokg"] or r["wikidata"]): r for r in rows}
    assert by_key[("Q215293", "P1716", "Q4047174")]["verdict"] == "agree"
    assert by_key[("Q215293", "P1716", "Q27555283")]["verdict"] == "missing in Wikidata"
    assert by_key[("Q860580", "P1716", "Q283233")]["verdict"] == "missing in autokg"
    conflict = by_key[("Q215293", "P749", "Q739000")]
    assert conflict["verdict"] == "conflict" and conflict["wikidata"] == "Q156578"
    assert conflict["evidence"], "our evidence is shown beside the verdict"
    assert by_key[("Q478214", "P571", "2003-07-01")]["verdict"] == "missing in autokg"


@pytest.mark.live
def test_diff_table_has_counts(runner, wikidata_endpoint):
    out = runner("diff-wikidata", "--endpoint", wikidata_endpoint).out
    assert re.search(r"\d+ agree, \d+ missing in Wikidata, \d+ missing in autokg, \d+ conflict", out)


def test_unreachable_endpoint_is_a_clear_error(runner):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = runner("diff-wikidata", "--endpoint", f"http://127.0.0.1:{port}/sparql", "--timeout", "2")
    assert result.status == 2 and "cannot reach the SPARQL endpoint" in result.err and "Traceback" not in result.err


# --- QuickStatements --------------------------------------------------------------------------------

QS_LINE = re.compile(r'^Q\d+\tP\d+\tQ\d+(\tP\d+\t(?:[\d.]+|\+\d{4}-\d\d-\d\dT00:00:00Z/(?:9|10|11)))*'
                     r'(\tS854\t"[^"\t]+")?(\tS577\t\+\d{4}-\d\d-\d\dT00:00:00Z/(?:9|10|11))?(\tS123\tQ\d+)?(\tS1683\ten:"[^"\t\n]*")?$')


@pytest.mark.live
def test_quickstatements_text_format(runner, wikidata_endpoint, tmp_path):
    result = runner("export", "quickstatements", "--endpoint", wikidata_endpoint, "--report", str(tmp_path / "r.tsv"))
    assert result.status == 0, result.err
    golden("quickstatements.txt", result.out)
    lines = result.out.splitlines()
    assert lines and all(QS_LINE.match(line) for line in lines), [line for line in lines if not QS_LINE.match(line)]
    # only what Wikidata lacks: the agreeing brand is not proposed again; the missing one is
    assert "Q215293\tP1716\tQ4047174" not in result.out
    assert result.out.count("Q215293\tP1716\tQ27555283\t") == 1
    report = (tmp_path / "r.tsv").read_text(encoding="utf-8")
    assert "already in Wikidata" in report and "unlinked entity" in report


# --- links ------------------------------------------------------------------------------------------


def test_links_ranks_unlinked_entities(runner):
    out = runner("links").out.splitlines()
    counts = [int(line.split()[0]) for line in out if line.strip()]
    assert counts == sorted(counts, reverse=True)
    assert "SAIC Motor" in out[0]


@pytest.mark.live
def test_links_proposes_candidates_and_writes_nothing(runner, wikidata_endpoint, files):
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files.data}
    out = runner("links", "--endpoint", wikidata_endpoint).out
    assert "candidate Q3817853 'Wuling Motors'" in out and "(label match: 'Wuling')" in out
    assert "confirm each by hand" in out
    assert before == {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files.data}


# --- the polite client ------------------------------------------------------------------------------


class Flaky(http.server.BaseHTTPRequestHandler):
    """Answers 429 (Retry-After: 0) and 503 before a result, and records the User-Agent."""

    script: list[int] = []
    agents: list[str] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Flaky.agents.append(self.headers.get("User-Agent", ""))
        status = Flaky.script.pop(0) if Flaky.script else 200
        body = json.dumps({"head": {"vars": ["x"]}, "results": {"bindings": [{"x": {"type": "literal", "value": "ok"}}]}}).encode()
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "0")
        self.send_header("Content-Type", "application/sparql-results+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def flaky():
    server = http.server.HTTPServer(("127.0.0.1", 0), Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Flaky.agents.clear()
    yield f"http://127.0.0.1:{server.server_port}/sparql"
    server.shutdown()


def test_client_retries_on_429_and_5xx_and_says_who_it_is(flaky):
    Flaky.script = [429, 503, 502]
    assert select_remote(flaky, "SELECT ?x {}", backoff=0.01) == [{"x": {"type": "literal", "value": "ok"}}]
    assert len(Flaky.agents) == 4 and all(a.startswith("autokg/") and "w3id.org/autokg" in a for a in Flaky.agents)


def test_client_gives_up_after_its_retries(flaky):
    Flaky.script = [503] * 10
    with pytest.raises(AutokgError, match="HTTP 503"):
        select_remote(flaky, "SELECT ?x {}", retries=2, backoff=0.01)
    assert len(Flaky.agents) == 3


def test_client_does_not_retry_a_bad_request(flaky):
    Flaky.script = [400]
    with pytest.raises(AutokgError, match="HTTP 400"):
        select_remote(flaky, "SELECT ?x {}", backoff=0.01)
    assert len(Flaky.agents) == 1


# --- federation -------------------------------------------------------------------------------------


def test_default_allow_list_is_wikidata_alone():
    assert split_list(BY_NAME["SERVICE_ALLOW_LIST"].default) == (WIKIDATA_ENDPOINT,)


def test_federated_queries_list_exactly_the_linked_organizations(files):
    store = open_store(files)
    linked = {text(r, "q") for r in select(store, """SELECT DISTINCT ?q WHERE { ?o skos:exactMatch ?q ; a ?c .
        ?c rdfs:subClassOf* akg:Organization . FILTER (STRSTARTS(STR(?q), "http://www.wikidata.org/entity/Q")) }""")}
    assert len(FEDERATED) >= 2
    for name, query in FEDERATED.items():
        listed = {"http://www.wikidata.org/entity/" + q for q in re.findall(r"wd:(Q\d+)", query.text.split("VALUES ?item", 1)[1].split("}", 1)[0])}
        assert listed == linked, f"{name}: update the VALUES list to the linked organizations"


@pytest.fixture
def federating_client(app, wikidata_endpoint):
    saved = app.config["SERVICE_ALLOW_LIST"]
    app.config["SERVICE_ALLOW_LIST"] = (wikidata_endpoint,)
    yield app.test_client()
    app.config["SERVICE_ALLOW_LIST"] = saved


def run_federated(client, endpoint: str, name: str) -> list[dict[str, str]]:
    query = FEDERATED[name].text.replace(WIKIDATA_ENDPOINT, endpoint)
    response = client.get("/sparql?" + urllib.parse.urlencode({"query": query}), headers={"Accept": "application/sparql-results+json"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return [{k: v["value"] for k, v in b.items()} for b in response.get_json()["results"]["bindings"]]


@pytest.mark.live
def test_founding_and_headquarters_through_service(federating_client, wikidata_endpoint):
    rows = run_federated(federating_client, wikidata_endpoint, "wikidata-founding-and-headquarters")
    tesla = [r for r in rows if r["item"].endswith("/Q478214")]
    assert tesla and tesla[0]["inception"].startswith("2003-07-01")
    tencent = [r for r in rows if r["item"].endswith("/Q860580")]
    assert tencent and tencent[0]["headquartersLabel"] == "Shanghai"


@pytest.mark.live
def test_parents_side_by_side_through_service(federating_client, wikidata_endpoint):
    rows = run_federated(federating_client, wikidata_endpoint, "wikidata-parents")
    volvo = [r for r in rows if r["item"].endswith("/Q215293")]
    assert volvo and volvo[0]["ourParentLabel"] == "Geely" and volvo[0]["wikidataParentLabel"] == "Volkswagen Group"
    assert volvo[0]["agree"] == "false"


def test_service_outside_the_allow_list_is_refused(client):
    response = client.get("/sparql?" + urllib.parse.urlencode({"query": "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }"}))
    assert response.status_code == 400 and b"allow-list" in response.data
    assert WIKIDATA_ENDPOINT.encode() in response.data, "the refusal names what is allowed"


def test_qualifiers_in_rdf_and_quickstatements():
    import pyoxigraph as ox

    from autokg.wikidata.export import XSD, Export, Reference, Statement, quickstatements, wikibase_rdf

    share = ox.Literal("0.5", datatype=ox.NamedNode(XSD + "decimal"))
    start = ox.Literal("2015-03", datatype=ox.NamedNode(XSD + "gYearMonth"))
    statement = Statement("https://w3id.org/autokg/id/r", "a", "P127", "b", [("P1107", share), ("P580", start)],
                          [Reference("https://example.org/1", None, "", "quoted")])
    export = Export([statement], [], {"a": str(WD.Q1), "b": str(WD.Q2)})
    graph = Graph()
    for triple in wikibase_rdf(export):
        graph.add(tuple(URIRef(t.value) if isinstance(t, ox.NamedNode) else __import__("rdflib").Literal(
            t.value, lang=t.language, datatype=None if t.language else URIRef(t.datatype.value)) for t in triple))
    node = next(graph.objects(WD.Q1, P.P127))
    assert float(graph.value(node, URIRef(str(P) + "qualifier/P1107"))) == 0.5
    time_node = graph.value(node, URIRef(str(P) + "qualifier/value/P580"))
    assert int(graph.value(time_node, URIRef("http://wikiba.se/ontology#timePrecision"))) == 10
    line = quickstatements(export)[0]
    assert line == 'Q1\tP127\tQ2\tP1107\t0.5\tP580\t+2015-03-00T00:00:00Z/10\tS854\t"https://example.org/1"\tS1683\ten:"quoted"\n'


# --- a catalogue query on another endpoint (the start of issue 7) -------------------------------------


OFFLINE = sorted(name for name, q in load_catalog(project_files().queries).items() if not q.federated and q.form in ("SELECT", "ASK"))


@pytest.mark.live
@pytest.mark.parametrize("name", OFFLINE)
def test_query_endpoint_gives_the_embedded_answer(runner, autokg_on_oxigraph, name):
    local = runner("query", name, "--format", "json")
    remote = runner("query", name, "--format", "json", "--endpoint", autokg_on_oxigraph)
    assert local.status == remote.status == 0, remote.err
    mine, theirs = json.loads(local.out), json.loads(remote.out)
    assert mine["head"] == theirs["head"] and mine.get("boolean") == theirs.get("boolean")
    if "boolean" in mine:
        return
    key = lambda b: json.dumps(b, sort_keys=True)  # noqa: E731
    assert sorted(map(key, mine["results"]["bindings"])) == sorted(map(key, theirs["results"]["bindings"]))


@pytest.mark.live
@pytest.mark.parametrize("fmt", ["csv", "tsv", "table"])
def test_query_endpoint_formats(runner, autokg_on_oxigraph, fmt):
    remote = runner("query", "group-brands", "--format", fmt, "--endpoint", autokg_on_oxigraph)
    assert remote.status == 0 and "SAIC" in remote.out
