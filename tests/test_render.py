"""Printers: LaTeX (compiles), Markdown, HTML (MathML, no script), text; dispatch on step kind."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

import symderiv
from symderiv.core.errors import OptionError
from symderiv.explain.derivation import derive
from symderiv.render import FORMATS, render
from symderiv.render.html import HtmlDerivationPrinter
from symderiv.render.latex import LatexDerivationPrinter, LatexPrinter, escape
from symderiv.render.text import TextPrinter

SOURCE = {"W": ("H", "m"), "X": ("m", "n")}


@pytest.fixture(scope="module")
def source():
    return derive("W @ X", wrt="W", shapes=SOURCE)


@pytest.fixture(scope="module")
def layer():
    return derive("relu(W @ X + b)", wrt="W", shapes={"W": ("H", "m"), "X": ("m", "n"), "b": ("H", 1)})


def test_latex_is_a_standalone_article_with_the_source_notation(source):
    tex = source.to_latex()
    assert tex.startswith("\\documentclass") and "\\usepackage{amsmath" in tex and tex.rstrip().endswith(
        "\\end{document}")
    for needle in ["\\frac{\\partial L}{\\partial W_{dc}}", "\\sum_{i,j}", "X^{\\top}", "\\delta_{kc}",
                   "\\begin{align*}", "\\frac{\\partial L}{\\partial D_{ij}}"]:
        assert needle in tex, needle
    # prose sits between the align* blocks, one paragraph per step
    assert tex.count("\\paragraph{Step") == 6 == tex.count("\\begin{align*}")
    assert "only through row $i$ of $W$" in tex


def test_latex_fragment_has_no_preamble(source):
    frag = source.to_latex(standalone=False)
    assert "\\documentclass" not in frag and "\\begin{document}" not in frag and "\\begin{align*}" in frag


def test_jupyter_latex_is_one_mathjax_block(source):
    jup = source._repr_latex_()
    assert jup.startswith("$$\\begin{align*}") and jup.endswith("\\end{align*}$$")
    assert "\\text{(6) matrix form}" in jup and "\\paragraph" not in jup


def test_latex_prose_is_escaped():
    assert escape("a_b & 50% #1 {x}") == "a\\_b \\& 50\\% \\#1 \\{x\\}"
    assert escape("2×3") == "2$\\times$3"


def test_markdown_uses_dollar_inline_and_dollar_display_blocks(source):
    md = source.to_markdown()
    assert md.startswith("# Derivation of $")
    assert md.count("\n$$\n\\begin{aligned}") == 6 and md.count("\\end{aligned}\n$$\n") == 6
    assert "\\[" not in md
    assert "$W_{dc}$" in md and "**Step 1.**" in md
    assert source._repr_markdown_() == md


def test_html_is_self_contained_mathml_without_script(source, layer):
    for d in (source, layer):
        page = d.to_html()
        assert page.startswith("<!DOCTYPE html>") and "<math" in page and "</html>" in page
        assert "<script" not in page.lower()
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
        assert "<mfrac>" in page and "<mtable" in page


def test_text_is_plain_unicode(source):
    text = source.to_text()
    assert "∂L/∂W_dc = Σ_{i,j} ∂L/∂D_ij · ∂D_ij/∂W_dc" in text
    assert "\\" not in text and "$" not in text
    assert text.count("Step ") == 6
    assert str(source) == text


def test_blocks_get_headings_in_every_format(layer):
    assert "Block 1: A = relu(Z), for ∂L/∂Z" in layer.to_text()
    assert "\\subsection*{Block 2: $Z = W X + b$" in layer.to_latex()
    assert "## Block 1:" in layer.to_markdown()
    assert layer.to_html().count("<h2>") == 3  # two blocks and "Putting it together"


def test_printers_dispatch_on_step_kind(source):
    class Shouting(LatexDerivationPrinter):
        def _step_sparsity(self, step, last):
            return "SPARSITY"

    doc = Shouting(source).document(standalone=False)
    assert "SPARSITY" in doc and doc.count("\\paragraph{Step") == 5


def test_math_printers_dispatch_on_data_class(source):
    eq = source.steps[2].equation
    assert TextPrinter(source.upstreams).doprint(eq) == source.steps[2].equation_text
    assert LatexPrinter(source.upstreams).doprint(eq).startswith("\\frac{\\partial D_{dj}}{\\partial W_{dc}}")
    with pytest.raises(TypeError):
        TextPrinter().doprint(object())


def test_html_printer_converts_each_display(source):
    page = HtmlDerivationPrinter(source).document()
    assert page.count('<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">') == 6


def test_rendering_is_deterministic(source):
    again = derive("W @ X", wrt="W", shapes=SOURCE)
    for method in ("to_text", "to_latex", "to_markdown", "to_html"):
        assert getattr(source, method)() == getattr(again, method)()


def test_render_formats_a_derivation_by_name(source):
    for fmt in FORMATS:
        assert render(source, fmt) == getattr(source, "to_" + fmt)()
    assert render(source, "latex", standalone=False) == source.to_latex(standalone=False)
    with pytest.raises(OptionError):
        render(source, "pdf")


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed (apt: texlive-latex-base)")
def test_the_source_latex_compiles(source, tmp_path):
    (tmp_path / "wx.tex").write_text(source.to_latex(), encoding="utf-8")
    run = subprocess.run(["pdflatex", "-halt-on-error", "-interaction=nonstopmode", "wx.tex"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    log = (tmp_path / "wx.log").read_text(encoding="utf-8", errors="replace")
    assert "Undefined control sequence" not in log
    assert (tmp_path / "wx.pdf").exists()


def test_text_follows_the_width_it_is_given():
    d = symderiv.derive("W2 @ relu(W1 @ X + b1) + b2", "W1", shapes={"b1": ("H", 1), "b2": ("O", 1)})
    default, narrow = d.to_text(), d.to_text(width=60)
    assert max(map(len, default.splitlines())) > 60
    prose = [line for line in narrow.splitlines() if not line.startswith("    ")]
    assert max(map(len, prose)) <= 60
    assert d.to_text(width=10) == d.to_text(width=40)  # a floor of 40 columns


def test_html_aligns_the_equals_signs_with_css():
    page = symderiv.derive("W @ X", "W").to_html()
    assert 'mtd columnalign="right"' in page and 'mtd columnalign="left"' in page
    assert 'mtd[columnalign="right"] { text-align: right; }' in page
    assert 'mtd[columnalign="left"] { text-align: left; }' in page
