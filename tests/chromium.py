"""Headless Debian Chromium for the browser tests (tests/test_web_browser.py, tests/test_html_browser.py).

Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them), driven by Selenium with the driver given
by path, so nothing is downloaded. ``needs_chromium`` skips a module, with the reason, when either is missing.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
needs_chromium = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="headless Chromium needs Debian's chromium and "
                                    "chromium-driver (apt-get install -y chromium chromium-driver)")


def headless(width: int, height: int) -> Iterator[Any]:
    """A headless Chromium window of ``width`` × ``height`` pixels, quit when the generator is closed (a fixture's
    body: ``yield from headless(800, 1000)``)."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    service = pytest.importorskip("selenium.webdriver.chrome.service").Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
