"""symderiv serve in a real browser: headless Chromium (Debian's ``chromium`` and ``chromium-driver``) via Selenium.

Skipped, with the reason, when Selenium, Chromium or its driver is missing (``.ci/run`` installs them). With
``SYMDERIV_SCREENSHOTS=1`` the screenshot of the source derivation is written to ``docs/images/`` (the README's).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from urllib.parse import quote

import pytest
from chromium import headless, needs_chromium

from symderiv.web import server as web_server

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

pytestmark = needs_chromium
IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"
WAIT = 120  # seconds: the derivations are checked exactly, on a machine that may be busy


@pytest.fixture(scope="module")
def base():
    server = web_server.make_server("127.0.0.1", 0, workers=2, limit=60.0, quiet=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    server.app.pool.close()


@pytest.fixture(scope="module")
def browser():
    yield from headless(1400, 1000)


def link(base, **fields):
    parts = [f"{k}={quote(v, safe='')}" for k, values in fields.items() for v in ([values] if isinstance(values, str) else values)]
    return base + "/?" + "&".join(parts)


def wait_for(driver, css, text=None):
    condition = (ec.text_to_be_present_in_element((By.CSS_SELECTOR, css), text) if text
                 else ec.visibility_of_element_located((By.CSS_SELECTOR, css)))
    WebDriverWait(driver, WAIT).until(condition)
    return driver.find_element(By.CSS_SELECTOR, css)


def test_a_share_link_shows_the_source_derivation_at_once(base, browser):
    browser.get(link(base, expr="W @ X", wrt="W", shape=["W=H,m", "X=m,n"]))
    assert wait_for(browser, ".gradient[data-wrt='W'] .formula").text == "∂L/∂W = G @ X.T"
    pair = wait_for(browser, "#wrt-W .pair")
    assert browser.find_element(By.ID, "expr").get_attribute("value") == "W @ X"
    assert pair.find_elements(By.CSS_SELECTOR, "menclose[notation='box']"), "the boxed result"
    titles = [h.text for h in pair.find_elements(By.CSS_SELECTOR, "h3")]
    assert titles == ["W @ X", "X @ W (transposed layout)"]
    assert "PROVED" in browser.find_element(By.CSS_SELECTOR, ".gradient").text
    assert len(pair.find_elements(By.CSS_SELECTOR, "details.block")) >= 2
    downloads = [a.text for a in pair.find_elements(By.CSS_SELECTOR, ".downloads a")][:4]
    assert downloads == ["LaTeX", "Markdown", "HTML", "Text"]
    target = IMAGES if os.environ.get("SYMDERIV_SCREENSHOTS") == "1" else None
    path = (target or Path(os.environ.get("TMPDIR", "/tmp"))) / "source-derivation.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    browser.set_window_size(1400, 1900)
    browser.execute_script("document.getElementById('wrt-W').scrollIntoView()")
    browser.save_screenshot(str(path))
    browser.set_window_size(1400, 1000)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_layer_and_its_transposed_layout(base, browser):
    browser.get(link(base, expr="relu(W @ X + b)", wrt=["W", "b"], shape="b=H,1"))
    assert wait_for(browser, ".gradient[data-wrt='W'] .formula").text == "∂L/∂W = (G * step(W @ X + b)) @ X.T"
    assert browser.find_element(By.CSS_SELECTOR, ".gradient[data-wrt='b'] .formula").text == (
        "∂L/∂b = sum(G * step(W @ X + b), axis=1)")
    for wrt in ("W", "b"):
        pair = wait_for(browser, f"#wrt-{wrt} .pair")
        assert pair.find_elements(By.CSS_SELECTOR, "h3")[1].text == "relu(X @ W + b) (transposed layout)"
    assert "with every matrix transposed" in browser.find_element(By.CSS_SELECTOR, "#wrt-W .relation").text
    code = browser.find_element(By.CSS_SELECTOR, "#gradients .code")
    links = code.find_elements(By.CSS_SELECTOR, ".downloads a")
    assert [a.text for a in links] == ["NumPy", "PyTorch", "JAX"]
    assert [a.get_attribute("download") for a in links] == [
        f"symderiv_grad_W_b_{t}.py" for t in ("numpy", "torch", "jax")]
    assert all(a.get_attribute("href").startswith("blob:") for a in links)
    panel = code.find_element(By.CSS_SELECTOR, "details.code-torch")
    panel.find_element(By.TAG_NAME, "summary").click()
    text = panel.find_element(By.TAG_NAME, "pre").text
    assert text.startswith("import torch") and "def forward(W, X, b)" in text and "def grad_W_b(G, W, X, b)" in text


def test_a_syntax_error_marks_its_column(base, browser):
    browser.get(base + "/")
    expr = wait_for(browser, "#expr")
    expr.clear()
    expr.send_keys("W @ (X + * Y)")
    browser.find_element(By.ID, "wrt").send_keys("W")
    browser.find_element(By.ID, "go").click()
    mark = wait_for(browser, "#expr-error mark")
    assert mark.get_attribute("data-column") == "10"
    assert "column 10" in browser.find_element(By.ID, "expr-error").text
    assert expr.get_attribute("aria-invalid") == "true"
    assert mark.text == "*" and "expr=W+%40+%28X+%2B+*+Y%29" in browser.current_url  # the state is in the URL


def test_switching_the_layout(base, browser):
    browser.get(link(base, expr="W @ X", wrt="W"))
    wait_for(browser, ".gradient[data-wrt='W'] .formula", "G @ X.T")
    Select(browser.find_element(By.ID, "layout")).select_by_value("numerator")
    assert wait_for(browser, ".gradient[data-wrt='W'] .formula", "X @ G.T").text == "∂L/∂Wᵀ = X @ G.T"
    assert "layout=numerator" in browser.current_url


@pytest.mark.parametrize("field, text", [("expr", "<script>window.pwned=1</script>"),
                                         ("shape", "<script>window.pwned=1</script>=2,2"),
                                         ("expr", "<img src=x onerror=window.pwned=1>")])
def test_script_in_user_text_is_shown_not_run(base, browser, field, text):
    fields = {"expr": "W @ X", "wrt": "W", field: text}
    browser.get(link(base, **fields))
    error = wait_for(browser, f"#{field}-error")
    assert "<" in error.text and (text.split("=")[0][:8] in error.text)
    assert browser.execute_script("return window.pwned === undefined")
    assert len(browser.find_elements(By.TAG_NAME, "script")) == 1
    assert not browser.find_elements(By.CSS_SELECTOR, "#form-error img, #expr-error img, #shape-error img")
