"""Issue 17, the softmax rows: ``MatrixOp.expansions`` recognised by the simplifier, the line-sum identities
(symderiv.autodiff.lines), and the results re-proved by the exact prover, wrong variants refuted, and checked
against NumPy finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import symderiv
from symderiv.autodiff.canon import Canonical
from symderiv.autodiff.lines import pull_constant, stretch_ones, unspread, written_out
from symderiv.autodiff.recognise import patterns
from symderiv.autodiff.simplify import Simplifier
from symderiv.backends.numeric import evaluate
from symderiv.cli import main
from symderiv.ops import matrix_op
from symderiv.syntax.language import parse
from symderiv.syntax.printing import to_text
from symderiv.syntax.shapes import infer_shapes

NC = {"X": ("N", "C"), "Y": ("N", "C")}
CE_WRITTEN = "-sum(Y * log(exp(X) / sum(exp(X), axis=1)))"
COLUMNS = "sum(exp(W @ X) / sum(exp(W @ X), axis=0))"
RNG = np.random.default_rng(17)


def _shape_fn(node, shapes: dict):
    return infer_shapes(node, {k: v for k, v in shapes.items() if k in node.symbols()}).shape_of


def _simplify(text: str, shapes: dict) -> str:
    node = parse(text)
    return to_text(Simplifier(_shape_fn(node, shapes)).simplify(node))


def _finite_difference(loss: str, wrt: str, values: dict[str, np.ndarray], h: float = 1e-6) -> np.ndarray:
    node = parse(loss)
    out = np.zeros_like(values[wrt])
    for idx in np.ndindex(*values[wrt].shape):
        up, down = dict(values), dict(values)
        up[wrt] = values[wrt].copy()
        down[wrt] = values[wrt].copy()
        up[wrt][idx] += h
        down[wrt][idx] -= h
        out[idx] = (float(np.sum(evaluate(node, up))) - float(np.sum(evaluate(node, down)))) / (2 * h)
    return out


def test_softmax_lists_its_expansions_and_each_is_an_identity():
    op = matrix_op("softmax")
    assert [dict(p) for _, p in op.expansions] == [{"axis": 0}, {"axis": 1}]
    a = RNG.normal(size=(3, 4))
    for text, params in op.expansions:
        want = evaluate(parse(f"softmax(A, axis={params['axis']})"), {"A": a})
        assert np.allclose(evaluate(parse(text), {"A": a}), want)
    assert {p.fn for p in patterns(Simplifier(recognise=False).simplify)} >= {"softmax", "sigmoid"}


@pytest.mark.parametrize("text, want", [
    ("exp(Z) / sum(exp(Z), axis=1)", "softmax(Z, axis=1)"),
    ("exp(Z) / sum(exp(Z), axis=0)", "softmax(Z, axis=0)"),
    ("V * exp(W @ Z) / sum(exp(W @ Z), axis=0)", "V * softmax(W @ Z, axis=0)"),
])
def test_the_simplifier_recognises_softmax_from_the_registry(text, want):
    assert _simplify(text, {"Z": ("N", "C"), "W": ("N", "N"), "V": ("N", "C")}) == want


@pytest.mark.parametrize("text", [
    "exp(Z) / sum(exp(V), axis=1)",  # another matrix in the denominator
    "exp(Z) / sum(exp(Z))",  # the sum of all entries is no softmax
    "exp(Z) / sum(exp(-Z), axis=1)",
])
def test_near_misses_are_not_recognised(text):
    assert "softmax" not in _simplify(text, {"Z": ("N", "C"), "V": ("N", "C")})


def test_line_identities_hold_numerically_and_keep_what_varies_inside():
    shapes = {"A": ("N", "C"), "b": ("N", 1), "r": (1, "C")}
    values = {"A": RNG.normal(size=(3, 4)), "b": RNG.normal(size=(3, 1)) + 3, "r": RNG.normal(size=(1, 4)),
              "C": 4}
    cases = [("sum(2 * A / b, axis=1)", pull_constant), ("sum(A * r * b, axis=0)", pull_constant),
             ("(b @ ones(1, C)) * A", unspread), ("A / (ones(N, 1) @ r)", unspread),
             ("A - ones(N, 1)", stretch_ones), ("ones(1, C) + A", stretch_ones)]
    for text, rule in cases:
        node = parse(text)
        canon = Canonical(_shape_fn(node, shapes))
        rewritten = rule(canon, node)
        assert rewritten is not None, text
        vals = {k: v for k, v in values.items() if k != "C"}
        sizes = {"N": 3, "C": 4}
        assert np.allclose(evaluate(rewritten, vals, sizes=sizes), evaluate(node, vals, sizes=sizes)), text
    node = parse("sum(A * r, axis=1)")  # r varies along axis 1: it stays inside
    assert pull_constant(Canonical(_shape_fn(node, shapes)), node) is None
    assert to_text(written_out(parse("softmax(Z, axis=1)"))) == "exp(Z) / sum(exp(Z), axis=1)"
    assert written_out(parse("exp(Z)")) is None


def test_cross_entropy_written_out_gives_the_textbook_form():
    g = symderiv.gradient(CE_WRITTEN, "X", NC)
    assert g.formula == "sum(Y, axis=1) * softmax(X, axis=1) - Y"
    assert g.proof_status in ("proved", "checked")
    concrete = symderiv.gradient(CE_WRITTEN, "X", {"X": (3, 4), "Y": (3, 4)})
    assert (concrete.formula, concrete.proof_status) == ("sum(Y, axis=1) * softmax(X, axis=1) - Y", "proved")
    x, y = RNG.normal(size=(3, 4)), RNG.random(size=(3, 4))
    assert np.allclose(evaluate(concrete.expr, {"X": x, "Y": y}),
                       _finite_difference(CE_WRITTEN, "X", {"X": x, "Y": y}), atol=1e-5)


@pytest.mark.parametrize("claim, status", [
    ("sum(Y, axis=1) * softmax(X, axis=1) - Y", "proved"),
    ("softmax(X, axis=1) * sum(Y, axis=1) - Y", "proved"),
    ("softmax(X, axis=1) - Y", "refuted"),  # only for rows summing to 1
    ("sum(Y, axis=1) * softmax(X, axis=0) - Y", "refuted"),
    ("sum(Y, axis=0) * softmax(X, axis=1) - Y", "refuted"),
])
def test_recognised_forms_are_reproved_and_wrong_variants_refuted(claim, status):
    assert symderiv.verify(CE_WRITTEN, "X", claim, {"X": (3, 4), "Y": (3, 4)}).status == status


def test_columns_of_a_softmax_sum_to_one_so_the_gradient_is_zero():
    g = symderiv.gradient(COLUMNS, "W", {"W": ("H", "m"), "X": ("m", "n")})
    assert g.formula == "zeros(H, m)" and g.proof_status in ("proved", "checked")
    concrete = symderiv.gradient(COLUMNS, "W", {"W": (3, 2), "X": (2, 4)})
    assert (concrete.formula, concrete.proof_status) == ("zeros(3, 2)", "proved")
    w, x = RNG.normal(size=(3, 2)), RNG.normal(size=(2, 4))
    assert np.allclose(_finite_difference(COLUMNS, "W", {"W": w, "X": x}), 0, atol=1e-6)
    assert symderiv.verify(COLUMNS, "W", "softmax(W @ X, axis=0) @ X.T", {"W": (3, 2), "X": (2, 4)}).status \
        == "refuted"
    for text in ("sum(softmax(W @ X, axis=0))", "sum(softmax(Z, axis=1))"):
        wrt = "W" if "W" in text else "Z"
        shapes = {"W": (3, 2), "X": (2, 4)} if wrt == "W" else {"Z": (2, 3)}
        got = symderiv.gradient(text, wrt, shapes)
        assert got.formula.startswith("zeros(") and got.proof_status == "proved"


def test_the_other_axis_or_a_weighted_sum_is_not_zero():
    """The identity is about the summed axis only: these losses do depend on W."""
    for loss in ("sum(exp(W @ X) / sum(exp(W @ X), axis=1) * V)", "sum(V * softmax(W @ X, axis=0))"):
        g = symderiv.gradient(loss, "W", {"W": (3, 2), "X": (2, 4), "V": (3, 4)})
        assert "zeros" not in g.formula and g.proof_status == "proved"
        w, x, v = RNG.normal(size=(3, 2)), RNG.normal(size=(2, 4)), RNG.normal(size=(3, 4))
        fd = _finite_difference(loss, "W", {"W": w, "X": x, "V": v})
        assert np.allclose(evaluate(g.expr, {"W": w, "X": x, "V": v}), fd, atol=1e-5)
        assert not np.allclose(fd, 0)


@pytest.mark.parametrize("loss", ["-sum(Y * log_softmax(X, axis=1))", CE_WRITTEN])
def test_one_hot_labels_give_softmax_minus_y_proved(loss):
    g = symderiv.gradient(loss, "X", NC, assume={"Y": "onehot_rows"})
    assert g.formula == "softmax(X, axis=1) - Y"
    assert "Y onehot_rows" in g.proof_reason and g.proof_status in ("proved", "checked")
    if "log_softmax" in loss:  # the plain gradient is proved for all shapes, and the rewrite carries it over
        assert g.proof_status == "proved" and "sum(Y, axis=1) = ones(N, 1)" in g.proof_reason
    concrete = symderiv.gradient(loss, "X", {"X": (2, 3), "Y": (2, 3)}, assume={"Y": "onehot_rows"})
    assert (concrete.formula, concrete.proof_status) == ("softmax(X, axis=1) - Y", "proved")
    wrong = symderiv.verify(loss, "X", "softmax(X, axis=0) - Y", {"X": (2, 3), "Y": (2, 3)},
                            assume={"Y": "onehot_rows"})
    assert wrong.status == "refuted"


def test_command_line_prints_the_recognised_form(capsys):
    assert main(["gradient", CE_WRITTEN, "--wrt", "X", "--shape", "X=3,4"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "sum(Y, axis=1) * softmax(X, axis=1) - Y"
