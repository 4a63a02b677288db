"""The pages in headless Chromium under their Content-Security-Policy: nothing they need is blocked, and no frame of
another site can hold them."""

from __future__ import annotations

import contextlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import pytest

from support.browser import browser, wait_for  # noqa: F401 (fixtures)

pytestmark = pytest.mark.live

#: records every violation of the policy the page reports, from before its first script runs
WATCH = ("window.violations = [];"
         "document.addEventListener('securitypolicyviolation', e => window.violations.push(e.violatedDirective + ' ' + e.blockedURI));")
PAGES = ["/", "/search?q=im", "/id/im-motors", "/id/source-000", "/id/no-such-thing", "/ontology",
         "/query?example=joint-ventures", "/query?query=" + quote("SELECT * WHERE { ?s ?p ?o } LIMIT 3")]


@pytest.fixture(scope="module")
def watched(browser):  # noqa: F811
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH})
    return browser


@pytest.mark.parametrize("path", PAGES)
def test_no_page_breaks_its_own_policy(watched, live_server, path):
    watched.get(live_server + path)
    wait_for(watched, "footer")
    assert watched.execute_script("return window.violations") == []
    # the style sheet applied: the header is laid out by autokg.css, not as a plain block
    assert watched.execute_script("return document.styleSheets.length && document.styleSheets[0].cssRules.length") > 0


def test_the_query_editor_script_runs_under_the_policy(watched, live_server):
    watched.get(live_server + "/query?example=joint-ventures")
    assert wait_for(watched, "#highlight .tok-keyword")
    assert watched.execute_script("return window.violations") == []


@contextlib.contextmanager
def framing_site(target: str):
    """Another origin on 127.0.0.1 (another port) whose page frames `target`; yields its URL."""
    body = f'<!doctype html><iframe id="f" src="{target}"></iframe>'.encode()

    class Framing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    site = ThreadingHTTPServer(("127.0.0.1", 0), Framing)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{site.server_address[1]}/"
    finally:
        site.shutdown()
        site.server_close()
        thread.join(10)


def framed_text(driver) -> str:
    """The text of the frame "f" of the current page."""
    driver.switch_to.frame("f")
    try:
        return driver.execute_script("return document.body ? document.body.innerText : ''")
    finally:
        driver.switch_to.default_content()


def test_another_site_cannot_frame_a_page(watched, live_server):
    """A page of another origin that frames one of ours gets Chromium's error page in the frame instead."""
    with framing_site(live_server + "/id/im-motors") as site:
        watched.get(site)
        wait_for(watched, "#f")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and "IM Motors" not in framed_text(watched):
            time.sleep(0.5)
        assert "IM Motors" not in framed_text(watched)
