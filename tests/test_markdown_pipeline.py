"""Markdown output through a real CommonMark pipeline: markdown-it-py with mdit-py-plugins' dollarmath.

Every display equation must reach the math renderer intact (``$$`` blocks on lines of their own), every
inline ``$...$`` must stay one math token (CommonMark would otherwise read ``_`` and ``*`` as emphasis),
and no backslash may be eaten. The examples of docs/examples, docs/cookbook.md and a few derivations of the suite are run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import symderiv

markdown_it = pytest.importorskip("markdown_it", reason="markdown-it-py is a test dependency (pip install -e '.[test]')")
dollarmath = pytest.importorskip("mdit_py_plugins.dollarmath", reason="mdit-py-plugins is a test dependency")

DOCS = Path(__file__).parent.parent / "docs"
EXAMPLES = sorted(p for p in (DOCS / "examples").glob("*.md") if p.name != "README.md") + [DOCS / "cookbook.md"]
DERIVATIONS = [("W @ X", "W", None), ("relu(W @ X + b)", "b", {"b": ("H", 1)}), ("sum(sigmoid(X @ w))", "w", None),
               ("logdet(X)", "X", None), ("trace(A @ X @ B)", "X", None)]


def _pipeline():  # noqa: ANN202
    return markdown_it.MarkdownIt("commonmark").use(dollarmath.dollarmath_plugin, double_inline=True)


def _walk(tokens):  # noqa: ANN001, ANN202
    for token in tokens:
        yield token
        yield from _walk(token.children or [])


def _check(text: str) -> tuple[int, int]:
    tokens = list(_walk(_pipeline().parse(text)))
    blocks = [t.content for t in tokens if t.type == "math_block"]
    inline = [t.content for t in tokens if t.type == "math_inline"]
    # Every $$ block of the source arrives whole, byte for byte.
    expected = [chunk.split("\n$$", 1)[0] for chunk in text.split("$$\n")[1::2]]
    assert [b.strip("\n") for b in blocks] == [e.strip("\n") for e in expected]
    for math in blocks:
        assert "\\begin{aligned}" in math and "\\end{aligned}" in math
    # No math leaks into the prose as text, and no prose was read as emphasis inside math.
    leftover = [t.content for t in tokens if t.type == "text" and ("\\frac" in t.content or "\\partial" in t.content)]
    assert leftover == []
    return len(blocks), len(inline)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_page_keeps_its_math(path: Path) -> None:
    blocks, inline = _check(path.read_text(encoding="utf-8"))
    assert blocks >= 1 and inline >= 1


@pytest.mark.parametrize(("expression", "wrt", "shapes"), DERIVATIONS)
def test_derivations_keep_their_math(expression, wrt, shapes) -> None:
    text = symderiv.derive(expression, wrt=wrt, shapes=shapes).to_markdown()
    blocks, _ = _check(text)
    assert blocks == text.count("$$\n\\begin{aligned}")


def test_the_old_bracket_delimiters_would_have_failed() -> None:
    # The check above can fail: CommonMark turns \[ into [ and \\ into \, so such a page loses its math.
    broken = "\\[\n\\begin{aligned}\na &= b \\\\\n&= c\n\\end{aligned}\n\\]\n"
    tokens = list(_walk(_pipeline().parse(broken)))
    assert not any(t.type == "math_block" for t in tokens)
    assert any(t.type == "text" and "[" in t.content and "\\[" not in t.content for t in tokens)
