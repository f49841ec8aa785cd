"""Printers: the text printer round-trips through the parser; the LaTeX printer writes the usual notation."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import cases, well_formed

from symderiv.core import expr as ex
from symderiv.syntax.language import parse
from symderiv.syntax.printing import number_text, to_latex, to_text

# (input text, minimal text)
TEXT = [
    ("(A @ B) @ C", "A @ B @ C"),
    ("A @ (B @ C)", "A @ (B @ C)"),
    ("(A + B) + C", "A + B + C"),
    ("A - (B - C)", "A - (B - C)"),
    ("A - (B + C)", "A - (B + C)"),
    ("(A * B) @ C", "(A * B) @ C"),
    ("A * (B @ C)", "A * (B @ C)"),
    ("(A @ B) * C", "(A @ B) * C"),
    ("(A * B) / C", "A * B / C"),
    ("2 * (A - B) @ C", "2 * (A - B) @ C"),
    ("-(A ** 2)", "-A ** 2"),
    ("(-A) ** 2", "(-A) ** 2"),
    ("(-2) ** 3", "(-2) ** 3"),
    ("(A ** 2) ** 3", "(A ** 2) ** 3"),
    ("A ** -1", "A ** -1"),
    ("-(A @ B)", "-(A @ B)"),
    ("(-A) @ B", "-A @ B"),
    ("A * -B", "A * (-B)"),
    ("((A @ B).T)", "(A @ B).T"),
    ("(A.T).T", "A.T.T"),
    ("(2).T", "(2).T"),
    ("(A + B).T", "(A + B).T"),
    ("sum((A), axis=1)", "sum(A, axis=1)"),
    ("matpow((A @ B), 3)", "matpow(A @ B, 3)"),
    ("ones(n, 1) @ eye(3)", "ones(n, 1) @ eye(3)"),
    ("0.25 * A - 1.5", "0.25 * A - 1.5"),
    ("logdet(inv(X).T)", "logdet(inv(X).T)"),
]


@pytest.mark.parametrize("source, expected", TEXT)
def test_text_is_minimal_and_round_trips(source, expected):
    node = parse(source)
    assert to_text(node) == expected
    assert parse(expected) == node


def test_number_text():
    assert [number_text(Fraction(v)) for v in ("3", "-3", "1/2", "-1/8", "1/3", "5/2")] == \
        ["3", "-3", "0.5", "-0.125", "(1/3)", "2.5"]


LATEX = [
    ("W @ X", r"W X"),
    ("X.T", r"X^{\top}"),
    ("(A @ B).T", r"\left(A B\right)^{\top}"),
    ("A * B", r"A \odot B"),
    ("2 * A", r"2 A"),
    ("trace(A @ B)", r"\operatorname{tr}\left(A B\right)"),
    ("det(X) * inv(X).T", r"\det\left(X\right) X^{-\top}"),
    ("logdet(X)", r"\log\left\lvert\det X\right\rvert"),
    ("inv(A @ B)", r"\left(A B\right)^{-1}"),
    ("ones(n, 1)", r"\mathbf{1}_{n \times 1}"),
    ("eye(n)", r"I_{n}"),
    ("relu(Z)", r"\operatorname{relu}\left(Z\right)"),
    ("sigmoid(Z)", r"\sigma\left(Z\right)"),
    ("phi_prime(Z)", r"\phi'\left(Z\right)"),
    ("sqrt(Z)", r"\sqrt{Z}"),
    ("abs(Z)", r"\left\lvert Z \right\rvert"),
    ("A ** 2", r"A^{\circ 2}"),
    ("matpow(A, 3).T", r"\left(A^{3}\right)^{\top}"),
    ("sum(A, axis=0)", r"\mathbf{1}^{\top} A"),
    ("sum(A, axis=1)", r"A \mathbf{1}"),
    ("W_1 @ X2 + alpha", r"W_{1} X_{2} + \alpha"),
    ("A - (B + C)", r"A - \left(B + C\right)"),
]


@pytest.mark.parametrize("source, expected", LATEX)
def test_latex(source, expected):
    assert to_latex(parse(source, functions=["phi"])) == expected


def test_latex_upstream():
    node = parse("(G * step(Z)) @ X.T", allow_upstream=True)
    assert to_latex(node) == r"\left(G \odot \operatorname{step}\left(Z\right)\right) X^{\top}"
    assert to_latex(node, upstream_latex=r"\frac{\partial L}{\partial D}") == \
        r"\left(\frac{\partial L}{\partial D} \odot \operatorname{step}\left(Z\right)\right) X^{\top}"
    assert to_latex(parse("G.T", allow_upstream=True), upstream_latex=r"\frac{\partial L}{\partial D}") == \
        r"\left(\frac{\partial L}{\partial D}\right)^{\top}"


# -- random trees, including shapes the parser's strategies rarely build -----------------

_names = st.sampled_from(["A", "B", "x", "W_1"]).map(ex.Symbol)
_numbers = st.sampled_from(["0", "2", "0.5", "-3", "-0.25", "10"]).map(lambda v: ex.Number(Fraction(v)))
_consts = st.one_of(st.builds(lambda r, c: ex.ConstMatrix("ones", r, c), st.sampled_from([1, 3, "n"]),
                              st.sampled_from([1, "m"])),
                    st.sampled_from([2, "n"]).map(lambda n: ex.ConstMatrix("eye", n, n)))


def _extend(children):
    binary = st.sampled_from([ex.MatMul, ex.Add, ex.Sub, ex.Mul, ex.Div])
    return st.one_of(
        st.builds(lambda cls, a, b: cls(a, b), binary, children, children),
        children.filter(lambda n: not isinstance(n, ex.Number)).map(ex.Neg),  # the parser folds -2 into a number
        children.map(ex.Transpose),
        st.builds(lambda a, k: ex.Power(a, exponent=k), children, st.sampled_from([2, 3, -1])),
        st.builds(lambda a, fn: ex.Apply(a, fn=fn), children, st.sampled_from(["exp", "relu", "phi", "phi_prime"])),
        st.builds(lambda cls, a: cls(a), st.sampled_from([ex.Trace, ex.Det, lambda a: ex.Call("logdet", (a,)), ex.Inv]), children),
        st.builds(lambda a, axis: ex.Sum(a, axis=axis), children, st.sampled_from([None, 0, 1])),
        st.builds(lambda a, k: ex.Call("matpow", (a,), (("k", k),)), children, st.sampled_from([0, 2])),
    )


trees = st.recursive(st.one_of(_names, _numbers, _consts), _extend, max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(trees)
def test_random_trees_round_trip(tree):
    text = to_text(tree)
    assert parse(text, functions=["phi"]) == tree, text
    latex = to_latex(tree)
    assert latex.count("{") == latex.count("}") and latex.count(r"\left(") == latex.count(r"\right)")


@settings(max_examples=100, deadline=None)
@given(cases(max_depth=4))
def test_random_expressions_round_trip(case):
    assert well_formed(case), f"strategy produced an invalid case: {case.text}"
    node = parse(case.text, functions=case.functions)
    assert parse(to_text(node), functions=case.functions) == node
