"""The browsing path in headless Chromium (Debian's chromium and chromium-driver, driven by Selenium).

Each step checks what the page shows and saves a screenshot under dist/screenshots/. Without Chromium the
tests are skipped, unless AUTOKG_REQUIRE_BROWSER=1 (set by .ci/run), which turns a missing browser into a failure.
"""

from __future__ import annotations

import pytest

from support.browser import SHOTS, browser, wait_for  # noqa: F401 (fixtures)

pytestmark = pytest.mark.live


def shot(driver, name: str) -> None:
    """Save a full-page screenshot of the current page as a test artefact."""
    height = driver.execute_script("return Math.min(document.body.scrollHeight, 6000)")
    driver.set_window_size(1280, max(800, height))
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


def test_browse_search_entity_source_and_query(browser, live_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    # home page, then search for IM Motors
    browser.get(live_server + "/")
    assert "who is tied to whom" in browser.find_element(By.TAG_NAME, "h1").text
    shot(browser, "1-home")
    box = browser.find_element(By.ID, "home-search")
    box.send_keys("IM Motors", Keys.ENTER)
    hits = wait_for(browser, "ul.hits a")
    assert "IM Motors" in [h.text for h in hits]
    shot(browser, "2-search")

    # the entity page: diagram and evidence quotes
    next(h for h in hits if h.text == "IM Motors").click()
    wait_for(browser, "figure.diagram")
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("IM Motors")
    # no article and no verified Wikidata item gives IM Motors a Chinese name, so the page shows none
    assert "智己汽车" not in browser.find_element(By.TAG_NAME, "h1").text
    diagram = browser.find_element(By.CSS_SELECTOR, "figure.diagram svg")
    assert diagram.size["height"] > 200
    labels = [n.text for n in browser.find_elements(By.CSS_SELECTOR, "figure.diagram .node text")]
    assert "SAIC Motor" in labels and "Alibaba Group" in labels
    quotes = browser.find_elements(By.CSS_SELECTOR, "td.evidence blockquote")
    assert quotes and all(q.text.startswith("“") for q in quotes)
    shot(browser, "3-entity")

    # a source page, from the first evidence link
    quotes[0].find_element(By.CSS_SELECTOR, "footer a").click()
    wait_for(browser, "article.source")
    assert "/id/source-" in browser.current_url
    facts = wait_for(browser, "ol.facts li")
    assert len(facts) >= 3
    shot(browser, "4-source")

    # the query page: load a competency query and run it
    browser.find_element(By.LINK_TEXT, "Query").click()
    highlighted = wait_for(browser, "#highlight .tok-keyword")
    assert highlighted, "the editor highlights SPARQL keywords"
    browser.find_element(By.CSS_SELECTOR, 'a.example[data-name="joint-ventures"]').click()
    wait_for(browser, "#highlight .tok-comment")
    assert "JointVentureFormation" in browser.find_element(By.ID, "query").get_attribute("value")
    browser.find_element(By.ID, "run").click()
    rows = wait_for(browser, "table.results tbody tr")
    assert len(rows) >= 2
    assert any("SAIC" in r.text for r in rows)
    shot(browser, "5-query")


def test_ontology_page_and_anchor(browser, live_server):
    from selenium.webdriver.common.by import By

    browser.get(live_server + "/ontology#JointVentureFormation")
    term = browser.find_element(By.ID, "JointVentureFormation")
    assert "joint venture" in term.text.lower()
    shot(browser, "6-ontology")
