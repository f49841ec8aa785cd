"""The syntax of the deep-learning operations (SPEC section 6): keyword and optional parameters read from
the registry's ``Param`` entries, constant exponents of ``**``, printing back, and refusals with a column
and a hint."""

from __future__ import annotations

from fractions import Fraction

import pytest

import symderiv
from symderiv.core import expr as ex
from symderiv.core.errors import ParseError, ShapeError, SymderivError
from symderiv.syntax.language import parse
from symderiv.syntax.printing import to_latex, to_text
from symderiv.syntax.shapes import infer_shapes

X, A = ex.Symbol("X"), ex.Symbol("A")


@pytest.mark.parametrize("text, node", [
    ("softmax(X, axis=1)", ex.Call("softmax", (X,), (("axis", 1),))),
    ("softmax(X, axis=-2)", ex.Call("softmax", (X,), (("axis", 0),))),
    ("log_softmax(X, axis=0)", ex.Call("log_softmax", (X,), (("axis", 0),))),
    ("logsumexp(X)", ex.Call("logsumexp", (X,))),
    ("logsumexp(X, axis=1)", ex.Call("logsumexp", (X,), (("axis", 1),))),
    ("mean(X)", ex.Call("mean", (X,))),
    ("mean(X, axis=0)", ex.Call("mean", (X,), (("axis", 0),))),
    ("norm(X)", ex.Call("norm", (X,))),
    ("diag(A)", ex.Call("diag", (A,))),
    ("diagflat(X)", ex.Call("diagflat", (X,))),
    ("X ** 0.5", ex.Call("pow", (X,), (("p", Fraction(1, 2)),))),
    ("X ** -0.5", ex.Call("pow", (X,), (("p", Fraction(-1, 2)),))),
    ("X ** (1/2)", ex.Call("pow", (X,), (("p", Fraction(1, 2)),))),
    ("X ** (-3/2)", ex.Call("pow", (X,), (("p", Fraction(-3, 2)),))),
    ("X ** (2 ** -1)", ex.Call("pow", (X,), (("p", Fraction(1, 2)),))),
    ("X ** (1/3)", ex.Call("pow", (X,), (("p", Fraction(1, 3)),))),
    # integer powers stay the primitive, also when written as a constant expression
    ("X ** 2", ex.Power(X, exponent=2)),
    ("X ** -1", ex.Power(X, exponent=-1)),
    ("X ** (4/2)", ex.Power(X, exponent=2)),
    # Python's precedence: W**1/2 is (W**1)/2
    ("X**1/2", ex.Div(ex.Power(X, exponent=1), ex.Number(Fraction(2)))),
])
def test_forms(text, node):
    assert parse(text) == node


@pytest.mark.parametrize("text", [
    "softmax(X, axis=1)", "log_softmax(X, axis=0)", "logsumexp(X)", "logsumexp(X, axis=0)", "mean(X)",
    "mean(X, axis=1)", "norm(W @ X - Y)", "diag(A)", "diagflat(x)", "X ** 0.5", "X ** -1.5", "X ** (1/3)",
    "(A + B) ** 0.5", "-X ** 0.5", "softmax((Q @ K.T) / sqrt(d), axis=1) @ V", "sum(X ** -0.5)",
    "X ** 0.5 @ Y", "(X ** 0.5).T",
])
def test_printing_round_trips(text):
    assert to_text(parse(text)) == text
    assert parse(to_text(parse(text))) == parse(text)
    assert to_latex(parse(text))


def test_latex():
    assert to_latex(parse("X ** -0.5")) == r"X^{\circ -0.5}"
    assert to_latex(parse("norm(X)")) == r"\left\lVert X \right\rVert_{F}"
    assert "softmax" in to_latex(parse("softmax(X, axis=1)")) and "axis" in to_latex(parse("softmax(X, axis=1)"))


@pytest.mark.parametrize("text, column, message, hint", [
    ("softmax(X)", 1, "needs axis=", "softmax(A, axis=0|1)"),
    ("log_softmax(X)", 1, "needs axis=", "axis is 0"),
    ("softmax(X, axis=2)", 17, "axis", "axis is 0"),
    ("softmax(X, axis=0.5)", 17, "axis", "axis is 0"),
    ("softmax(X, 1)", 1, "takes 1 argument", "softmax(A, axis=0|1)"),
    ("mean(X, 1)", 1, "takes 1 argument", "mean(A) or mean(A, axis=0|1)"),
    ("mean(X, keepdims=1)", 18, "keyword argument `keepdims=`", "mean(A) or mean(A, axis=0|1)"),
    ("norm(X, axis=0)", 14, "keyword argument `axis=`", "takes no keyword"),
    ("logsumexp(X, axis=1, axis=0)", 27, "repeated", None),
    ("X ** B", 6, "constant number", "constant p"),
    ("X ** exp(1)", 6, "constant number", "constant p"),
    ("X ** 64.5", 6, "between -64 and 64", "constant p"),
    ("X ** 1.0", 6, "integer literal", "write 1"),
    ("X ** (1/0)", 7, "constant number", "constant p"),
])
def test_refusals_name_the_column_and_hint(text, column, message, hint):
    with pytest.raises(SymderivError) as info:
        parse(text)
    err = info.value
    assert isinstance(err, ParseError) and err.column == column, str(err)
    assert message in str(err), str(err)
    if hint is not None:
        assert hint in (err.hint or ""), str(err)


@pytest.mark.parametrize("text, shapes, expected", [
    ("softmax(X, axis=0)", {"X": (2, 3)}, (2, 3)),
    ("logsumexp(X, axis=0)", {"X": (2, 3)}, (1, 3)),
    ("logsumexp(X, axis=1)", {"X": (2, 3)}, (2, 1)),
    ("mean(X)", {"X": (2, 3)}, (1, 1)),
    ("norm(X)", {"X": (2, 3)}, (1, 1)),
    ("diag(A)", {"A": (3, 3)}, (3, 1)),
    ("diagflat(x)", {"x": (3, 1)}, (3, 3)),
    ("X ** 0.5", {"X": (2, 3)}, (2, 3)),
])
def test_shapes(text, shapes, expected):
    node = parse(text)
    assert infer_shapes(node, shapes).shape_of(node) == expected


@pytest.mark.parametrize("text, shapes, fragment", [
    ("diag(A)", {"A": (2, 3)}, "square"),
    ("diagflat(x)", {"x": (3, 2)}, "diagflat needs a column n×1, but its argument is 3×2"),
])
def test_shape_refusals(text, shapes, fragment):
    with pytest.raises(ShapeError) as info:
        infer_shapes(parse(text), shapes)
    assert fragment in str(info.value)


def test_new_names_are_functions_not_matrices():
    for name in ("softmax", "mean", "norm", "diag", "diagflat", "logsumexp", "log_softmax"):
        with pytest.raises(SymderivError, match="is a function, not a matrix"):
            parse(f"{name} + X")


@pytest.mark.parametrize(("k", "claim"), [(0, "zeros(3, 3)"), (1, "G"), (2, "G @ X.T + X.T @ G")])
def test_matpow_edge_powers_are_differentiated_and_evaluated(k, claim):
    """matpow(X, 0) = I (no dependence on X) and matpow(X, 1) = X: the expansion and the backward rule at the
    edges (a mutant that treated k = 1 like k = 0 dropped the gradient of matpow(X, 1))."""
    import numpy as np

    from symderiv.backends.numeric import evaluate

    shapes = {"X": (3, 3)}
    assert symderiv.verify(f"matpow(X, {k})", wrt="X", claim=claim, shapes=shapes).status == "proved"
    assert symderiv.verify(f"matpow(X, {k})", wrt="X", claim="G + 1", shapes=shapes).status == "refuted"
    derived = symderiv.gradient(f"matpow(X, {k})", wrt="X", shapes=shapes)  # the backward rule, re-proved
    assert derived.proof_status == "proved"
    assert symderiv.verify(f"matpow(X, {k})", wrt="X", claim=derived.formula, shapes=shapes).status == "proved"
    x = np.arange(9.0).reshape(3, 3) / 7
    assert np.allclose(evaluate(parse(f"matpow(X, {k})"), {"X": x}), np.linalg.matrix_power(x, k))
