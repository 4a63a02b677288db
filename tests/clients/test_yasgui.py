"""YASGUI (@zazuko/yasgui from npm) in headless Chromium, on a page of another origin, querying the endpoint.

The page is served from another port of 127.0.0.1, so every request is cross-origin; with a configured
request header (Authorization, as for a proxy in front of the endpoint) the browser first sends a CORS
preflight that must allow it. Oxigraph's server with --cors is the anchor. Without Chromium or the npm
packages the tests are skipped, unless AUTOKG_REQUIRE_BROWSER=1 / AUTOKG_REQUIRE_NODE_CLIENTS=1 (.ci/run).
"""

from __future__ import annotations

import functools
import http.server
import json
import threading

import pytest

from support.browser import browser  # noqa: F401 (fixtures)
from support.clients import QUERIES, expected  # noqa: F401 (fixtures)
from support.paths import TESTS
from support.servers import oxigraph_server, required

pytestmark = [pytest.mark.live, pytest.mark.slow]

YASGUI = TESTS / "clients" / "node_modules" / "@zazuko" / "yasgui" / "build"
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><link rel="stylesheet" href="yasgui.min.css"><script src="yasgui.min.js"></script></head>
<body><div id="yasgui"></div><script>
  window.yasgui = new Yasgui(document.getElementById("yasgui"), {copyEndpointOnNewTab: false, persistenceId: null});
  // what YASR parsed from the answer, once it has one
  window.outcome = () => {
    const results = window.yasgui.getTab().getYasr().results;
    if (!results) return null;
    return {status: results.getStatus(), type: results.getType(), error: results.getError(),
            boolean: results.getBoolean(), bindings: results.getBindings(),
            statements: results.getType() === "ttl" ? results.getStatements().length : null};
  };
</script></body></html>
"""


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """YASGUI on a page served from another port of 127.0.0.1; yields its URL."""
    if not (YASGUI / "yasgui.min.js").is_file():
        required("AUTOKG_REQUIRE_NODE_CLIENTS", "YASGUI", "npm install --prefix tests/clients")
    folder = tmp_path_factory.mktemp("yasgui")
    for name in ("yasgui.min.js", "yasgui.min.css"):
        (folder / name).write_bytes((YASGUI / name).read_bytes())
    (folder / "index.html").write_text(PAGE, encoding="utf-8")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def oxigraph_cors(tmp_path_factory, files, expected):
    """Oxigraph's server on the built dataset with --cors, the anchor; yields its query URL."""
    url, process = oxigraph_server(files.root / "dist" / "autokg.nq", tmp_path_factory.mktemp("oxigraph-cors"),
                                   "--union-default-graph", "--cors")
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(params=["autokg", "oxigraph"])
def endpoint(request) -> str:
    if request.param == "autokg":
        return request.getfixturevalue("live_server") + "/sparql"
    return request.getfixturevalue("oxigraph_cors")


def run_in_yasgui(driver, page: str, endpoint: str, query: str, method: str, headers: dict[str, str]) -> dict:
    """Load the page, point YASGUI's tab at the endpoint, run the query and return what YASR parsed."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(page)
    WebDriverWait(driver, 20).until(lambda d: d.execute_script("return !!(window.yasgui && window.yasgui.getTab())"))
    driver.execute_script("""
        const [endpoint, query, method, headers] = arguments;
        const tab = window.yasgui.getTab();
        tab.setRequestConfig({endpoint: endpoint, method: method, headers: headers});
        tab.setQuery(query);
        tab.getYasr().results = undefined;
        tab.query();
    """, endpoint, query, method, headers)
    return WebDriverWait(driver, 30).until(lambda d: d.execute_script("return window.outcome()"))


CASES = [("SELECT", "POST", {}), ("SELECT", "GET", {}), ("SELECT", "POST", {"Authorization": "Bearer proxy-token"}),
         ("SELECT", "GET", {"X-Requested-By": "yasgui"}), ("ASK", "POST", {"Authorization": "Bearer proxy-token"}),
         ("CONSTRUCT", "POST", {"Authorization": "Bearer proxy-token"})]


@pytest.mark.parametrize("form, method, headers", CASES, ids=[f"{f}-{m}-{'-'.join(h) or 'plain'}" for f, m, h in CASES])
def test_yasgui(browser, page, endpoint, expected, form, method, headers):  # noqa: F811
    outcome = run_in_yasgui(browser, page, endpoint, QUERIES[form], method, headers)
    assert outcome["status"] == 200 and not outcome["error"], json.dumps(outcome)[:500]
    if form == "SELECT":
        assert {b["s"]["value"] for b in outcome["bindings"]} == expected["SELECT"]
    elif form == "ASK":
        assert outcome["boolean"] is expected["ASK"]
    else:
        assert outcome["statements"] == len(expected["CONSTRUCT"])
