"""The HTML derivation page in a real browser (issue 16, section 3): headless Chromium via Selenium.

Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them), as in tests/test_web_browser.py; skipped,
with the reason, when Selenium, Chromium or its driver is missing. Each page is written to a temporary file and
loaded from there; the layout is measured with ``getBoundingClientRect`` and a screenshot is kept next to it.
"""

from __future__ import annotations

import pytest
from chromium import headless, needs_chromium

import symderiv

pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
pytestmark = needs_chromium
LOGISTIC = "sum(-(Y * log(sigmoid(w.T @ X)) + (1 - Y) * log(1 - sigmoid(w.T @ X))))"

# For each multi-row equation: the left edge of the `=` in each row's last cell.
EQUALS = """
const out = [];
for (const table of document.querySelectorAll('math[display=block] mtable')) {
  const xs = [];
  for (const row of table.querySelectorAll(':scope > mtr')) {
    const cells = row.querySelectorAll(':scope > mtd');
    // the relation's =, not one inside a script or fraction (mean_{axis=1})
    const eq = [...cells[cells.length - 1].querySelectorAll('mo')].find(m => m.textContent.trim() === '='
      && !m.closest('msub, msup, msubsup, munder, mover, munderover, mfrac, msqrt, mroot'));
    if (eq) xs.push(eq.getBoundingClientRect().left);
  }
  if (xs.length > 1) out.push(xs);
}
return out;
"""

# For each function name applied to a bracket: the gap from the name's end to the first thing inside, in ems.
BRACKETS = """
const out = [];
for (const name of document.querySelectorAll('mi')) {
  if (!/^[a-z]{2,}$/.test(name.textContent)) continue;
  let next = name.nextElementSibling;
  if (next && next.textContent === '\\u2061') next = next.nextElementSibling;
  if (!next || next.tagName !== 'mrow' || next.firstElementChild.textContent !== '(') continue;
  const inner = next.children[1];
  const em = parseFloat(getComputedStyle(name).fontSize);
  out.push([name.textContent, (inner.getBoundingClientRect().left - name.getBoundingClientRect().right) / em]);
}
return out;
"""

# Display equations wider than their box: whether they scroll, and whether their last piece can be reached.
LAYER_NORM = "g * (X - mean(X, axis=1)) / sqrt(mean((X - mean(X, axis=1)) ** 2, axis=1) + 0.00001) + b"
OVERFLOW = """
const out = [];
for (const m of document.querySelectorAll('math[display=block]')) {
  if (m.scrollWidth <= m.clientWidth + 1) continue;
  m.scrollLeft = m.scrollWidth;
  let right = 0;
  for (const e of m.querySelectorAll('mi, mo, mn')) right = Math.max(right, e.getBoundingClientRect().right);
  out.push([getComputedStyle(m).overflowX, right - m.getBoundingClientRect().right]);
}
return [out, document.documentElement.scrollWidth, document.documentElement.clientWidth];
"""


@pytest.fixture(scope="module")
def browser():
    yield from headless(800, 1000)


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("html")
    out = {}
    for stem, expression, wrt, shapes in (
            ("layer", "relu(W @ X + b)", "W", {"b": ("H", 1)}),
            ("logistic", LOGISTIC, "w", {"w": ("n", 1), "X": ("n", "m"), "Y": (1, "m")}),
            # a layer norm: its backward rule's matrix form has long stretches with no + or - to break at
            ("layer_norm", LAYER_NORM, "X", {"X": ("n", "d"), "g": (1, "d"), "b": (1, "d")}),
            ("worked", "relu(W @ X + b)", ["W", "b"], {"b": ("H", 1)})):
        path = folder / f"{stem}.html"
        # the logistic regression in full detail: its long chains of index sums are wider than the window
        doc = symderiv.derive(expression, wrt, shapes, check=stem == "worked", worked=stem == "worked",
                              detail="full" if stem == "logistic" else "compact")
        path.write_text(doc.to_html(), encoding="utf-8")
        out[stem] = path
    return out


def test_the_equals_signs_of_multi_line_equations_line_up(browser, pages, tmp_path):
    rows = 0
    for path in (pages[stem] for stem in ("layer", "logistic", "worked", "layer_norm")):
        browser.get(path.as_uri())
        tables = browser.execute_script(EQUALS)
        assert tables, path.name
        for xs in tables:
            assert max(xs) - min(xs) <= 1.0, (path.name, xs)
            rows = max(rows, len(xs))
        shot = tmp_path / f"{path.stem}.png"
        browser.save_screenshot(str(shot))
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert rows >= 8  # the worked example's eight entries of ∂L/∂Z, and the chains of three equal sides


def test_a_function_name_sits_next_to_its_bracket(browser, pages):
    browser.get(pages["layer"].as_uri())
    gaps = browser.execute_script(BRACKETS)
    assert {name for name, _ in gaps} >= {"relu", "step"}
    # relu(Z): the name, a text-size bracket, then Z; no thick operator spaces, no stretched bracket.
    assert all(gap < 0.5 for _, gap in gaps), gaps


def test_long_equations_scroll_inside_their_box_and_nothing_is_clipped(browser, pages):
    wide: list = []
    for stem in ("logistic", "layer_norm"):
        browser.get(pages[stem].as_uri())
        some, page_width, window_width = browser.execute_script(OVERFLOW)
        assert page_width <= window_width, stem  # the page itself does not overflow (headings, paragraphs scroll)
        wide += some
    assert wide, "no equation is wider than 800 px"
    for overflow, past in wide:
        assert overflow in ("auto", "scroll")
        assert past <= 1.0  # scrolled to the end, the last symbol is inside the box
