"""The worked numeric example (issue 16, section 2): ``derive(..., worked=True)`` / ``--worked-example``.

Every number is recomputed here independently with NumPy from the integer inputs the example shows: the forward
values, each block's entries and the result (and, for nonlinear functions, finite differences of the loss).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from fractions import Fraction

import numpy as np
import pytest

import symderiv
from symderiv.cli import main
from symderiv.core.errors import DerivationError
from symderiv.explain import derivation as derivation_module
from symderiv.explain.derivation import derive
from symderiv.syntax.language import parse


def arrays(worked):
    """The example's inputs and upstream gradient as float arrays (G under its symbol)."""
    out = {name: np.array(m, dtype=float) for name, m in worked.inputs}
    if worked.upstream is not None:
        out[worked.upstream[0]] = np.array(worked.upstream[2], dtype=float)
    return out


def as_float(m):
    return np.array([[float(x) for x in row] for row in m])


def test_w_at_x_every_entry_is_a_row_of_g_times_a_row_of_x():
    w = derive("W @ X", "W", {"W": (2, 3), "X": (3, 2)}, worked=True).worked
    v = arrays(w)
    assert w.exact and all(isinstance(x, Fraction) and x.denominator == 1 and abs(x) <= 4
                           for _, m in w.inputs for row in m for x in row)
    assert np.array_equal(as_float(w.result), v["G"] @ v["X"].T)
    (block,) = w.blocks
    assert len(block.entries) == 6
    for n, entry in enumerate(block.entries):
        d, c = divmod(n, 3)
        # ∂L/∂W_dc = Σ_j G_dj X_cj, one product per j, in order
        assert [tuple(map(float, f)) for _, f in entry.products] == [(v["G"][d, j], v["X"][c, j]) for j in range(2)]
        assert float(entry.value) == (v["G"] @ v["X"].T)[d, c]
    text = symderiv.derive("W @ X", "W", {"W": (2, 3), "X": (3, 2)}, worked=True).to_text()
    first = block.entries[0]
    line = " + ".join("·".join(str(int(x)).replace("-", "−") if x >= 0 else f"(−{int(-x)})" for x in f)
                      for _, f in first.products)
    assert f"∂L/∂W_11 = {line} = {str(int(first.value)).replace('-', '−')}" in text


def test_a_relu_layer_block_by_block():
    w = derive("relu(W @ X + b)", "W", {"b": ("H", 1)}, worked=True).worked
    v = arrays(w)
    z = v["W"] @ v["X"] + v["b"]
    assert (z != 0).all()  # never at relu's kink
    forward = {name: as_float(m) for name, _, m in w.forward}
    assert np.array_equal(forward["Z"], z) and np.array_equal(forward["A"], np.maximum(z, 0))
    dz = v["G"] * (z > 0)
    assert [b.wrt for b in w.blocks] == ["Z", "W"]
    assert np.array_equal(as_float(w.blocks[0].value), dz)
    assert np.array_equal(as_float(w.result), dz @ v["X"].T)
    for entry, expected in zip(w.blocks[1].entries, (dz @ v["X"].T).ravel(), strict=True):
        assert float(entry.value) == expected


def test_the_bias_sums_over_the_columns():
    d = derive("relu(W @ X + b)", "b", {"b": ("H", 1)}, worked=True)
    v = arrays(d.worked)
    z = v["W"] @ v["X"] + v["b"]
    assert np.array_equal(as_float(d.worked.result), (v["G"] * (z > 0)).sum(axis=1, keepdims=True))
    assert "∂L/∂b_1 = " in d.to_text()


def test_a_two_layer_network():
    shapes = {"b1": ("H", 1), "b2": ("O", 1)}
    w = derive("W2 @ relu(W1 @ X + b1) + b2", "W1", shapes, worked=True).worked
    v = arrays(w)
    z = v["W1"] @ v["X"] + v["b1"]
    assert np.array_equal(as_float(w.result), ((v["W2"].T @ v["G"]) * (z > 0)) @ v["X"].T)


def _finite_differences(loss, x, h=1e-6):
    grad = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        up, down = x.copy(), x.copy()
        up[idx] += h
        down[idx] -= h
        grad[idx] = (loss(up) - loss(down)) / (2 * h)
    return grad


def test_sigmoid_numbers_are_rounded_and_match_finite_differences():
    d = derive("sum(sigmoid(X @ w))", "w", {"w": ("n", 1)}, worked=True)
    w = d.worked
    v = arrays(w)
    assert not w.exact

    def loss(wv):
        return (1 / (1 + np.exp(-(v["X"] @ wv)))).sum()

    assert np.allclose(as_float(w.result), _finite_differences(loss, v["w"]), rtol=1e-6, atol=1e-9)
    s = 1 / (1 + np.exp(-(v["X"] @ v["w"])))
    assert np.allclose(as_float(w.result), v["X"].T @ (s * (1 - s)), rtol=1e-13, atol=0)
    text = d.to_text()
    assert "shown rounded to 4 significant digits" in text and " ≈ " in text


def test_log_draws_positive_integers():
    w = derive("sum(log(X))", "X", worked=True).worked
    x = arrays(w)["X"]
    assert (x > 0).all() and np.allclose(as_float(w.result), 1 / x)


def test_every_format_has_the_section_and_the_latex_compiles(tmp_path):
    d = derive("relu(W @ X + b)", "W", {"b": ("H", 1)}, worked=True)
    assert "A worked example" in d.to_text()
    assert "\\subsection*{A worked example}" in d.to_latex() and "\\begin{pmatrix}" in d.to_latex()
    assert "## A worked example" in d.to_markdown() and "\\frac{\\partial L}{\\partial W_{11}} &= " in d.to_markdown()
    page = d.to_html()
    assert "<h2>A worked example</h2>" in page and page.count("<mtable") > 20
    assert "A worked example" not in derive("relu(W @ X + b)", "W", {"b": ("H", 1)}).to_text()
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed (apt: texlive-latex-base)")
    (tmp_path / "w.tex").write_text(d.to_latex(), encoding="utf-8")
    run = subprocess.run(["pdflatex", "-halt-on-error", "-interaction=nonstopmode", "w.tex"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]


def test_markdown_of_the_worked_example_keeps_its_math():
    markdown_it = pytest.importorskip("markdown_it", reason="markdown-it-py is a test dependency")
    dollarmath = pytest.importorskip("mdit_py_plugins.dollarmath", reason="mdit-py-plugins is a test dependency")
    text = derive("W @ X", "W", worked=True).to_markdown()
    parser = markdown_it.MarkdownIt("commonmark").use(dollarmath.dollarmath_plugin, double_inline=True)
    blocks = [t.content for t in parser.parse(text) if t.type == "math_block"]
    assert len(blocks) == text.count("$$\n\\begin{aligned}")
    assert any("\\begin{pmatrix}" in b and "\\\\" in b for b in blocks)


def test_the_command_line_option(capsys):
    assert main(["derive", "W @ X", "--wrt", "W", "--worked-example", "--shape", "W=2,3", "--shape", "X=3,2"]) == 0
    out = capsys.readouterr().out
    assert "A worked example" in out and "∂L/∂W_23 = " in out
    assert main(["derive", "X @ W + b", "--wrt", "W", "--wrt", "b", "--shape", "b=1,H", "--worked-example",
                 "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out.count("## A worked example") == 1 and out.count("### The gradient") == 2  # the numbers once


def test_several_gradients_share_the_numbers_and_the_shared_blocks():
    d = derive("relu(W @ X + b)", ["W", "b"], {"b": ("H", 1)}, worked=True)
    w, b = (p.worked for p in d.parts)
    assert w.inputs == b.inputs and w.forward == b.forward
    # the blocks carry the document's numbers: the shared block 1, then W's block 2 and b's block 3
    assert [x.number for x in w.blocks] == [1, 2] and [x.number for x in b.blocks] == [1, 3]
    text = d.to_text()
    worked = text[text.index("A worked example"):]
    assert worked.count("Block 1, for ∂L/∂Z") == 1 and "Block 3, for ∂L/∂b" in worked
    assert len(re.findall(r"^ +W = \[", worked, flags=re.M)) == 1 and worked.count("Cross-check") == 2
    v = arrays(w)
    z = v["W"] @ v["X"] + v["b"]
    assert np.array_equal(as_float(b.result), (v["G"] * (z > 0)).sum(axis=1, keepdims=True))


def test_the_numbers_are_deterministic():
    first = derive("W @ X", "W", worked=True).worked
    assert derive("W @ X", "W", worked=True).worked == first


def test_a_wrong_formula_is_caught_by_the_cross_check(monkeypatch):
    real = derivation_module.worked_example
    monkeypatch.setattr(derivation_module, "worked_example",
                        lambda builder, blocks, formula: real(builder, blocks, parse("2 * G @ X.T", allow_upstream=True)))
    with pytest.raises(DerivationError, match="worked example"):
        derive("W @ X", "W", worked=True)


def test_a_scalar_loss_is_worked_from_its_differentiated_index_form():
    w = derive("trace(A @ X @ B)", "X", worked=True).worked
    v = arrays(w)
    assert w.upstream is None and w.blocks[0].rule is not None and len(w.blocks[0].entries) == 12
    assert np.array_equal(as_float(w.result), v["A"].T @ v["B"].T)
    for entry, expected in zip(w.blocks[0].entries, (v["A"].T @ v["B"].T).ravel(), strict=True):
        assert sum(float(c) * np.prod([float(x) for x in f]) for c, f in entry.products) == expected


def test_a_generic_function_has_no_numbers(capsys):
    with pytest.raises(symderiv.SymderivError, match="generic function"):
        derive("phi(W @ X)", "W", functions=["phi"], worked=True)
    assert main(["derive", "phi(W @ X)", "--wrt", "W", "--fn", "phi", "--worked-example"]) == 2


def test_numerator_layout_says_the_formula_gives_the_transpose():
    d = derive("W @ X", "W", layout="numerator", worked=True)
    v = arrays(d.worked)
    assert np.array_equal(as_float(d.worked.result), v["G"] @ v["X"].T)  # ∂L/∂W itself, entry by entry
    assert "(∂L/∂W).T = X @ (∂L/∂D).T, evaluated exactly at these matrices, gives its transpose" in " ".join(
        d.to_text().split())


@pytest.mark.parametrize(("expression", "wrt", "shapes"), [
    ("W2 @ relu(W1 @ X + b1) + b2", ["W1", "b1", "W2"], {"b1": ("H", 1), "b2": ("O", 1)}),
    ("sum(sigmoid(X @ w))", "w", {"w": ("n", 1)}),
    ("(exp(Q @ K.T) / sum(exp(Q @ K.T), axis=1)) @ V", "Q", None),
])
def test_no_internal_name_and_no_empty_slot_in_any_format(expression, wrt, shapes):
    d = derive(expression, wrt, shapes, worked=True)
    for text in (d.to_text(), d.to_markdown(), d.to_latex(), d.to_html()):
        assert "dL_d" not in text and "dL\\_d" not in text
        assert "A worked example" in text
    assert not re.search(r"\(\s*\)|, ,|for ,", d.to_text())
