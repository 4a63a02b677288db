"""Headless Chromium for the browser tests: the `browser` fixture and waiting for elements."""

from __future__ import annotations

import os
import shutil

import pytest

from support.paths import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SHOTS = ROOT / "dist" / "screenshots"


# flags that keep Chromium off the (closed) network and working as root in CI
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,1600"]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A headless Chromium session, closed after the module."""
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        if os.environ.get("AUTOKG_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium is required here: apt-get install chromium chromium-driver")
        pytest.skip("Chromium is not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def wait_for(driver, css: str, seconds: float = 15):
    """The elements matching `css`, once the page shows at least one (clicks do not wait for navigation)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds).until(lambda d: d.find_elements(By.CSS_SELECTOR, css))
