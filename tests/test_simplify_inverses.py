"""Inverses of products of square factors split (issue 17): ``det(A @ X @ B)`` gives ``det(A @ X @ B) * inv(X).T``,
and a product with a non-square factor keeps its inverse whole."""

from __future__ import annotations

import numpy as np

import symderiv
from symderiv.backends.numeric import evaluate
from symderiv.syntax.language import parse

SQUARE = {"A": ("n", "n"), "X": ("n", "n"), "B": ("n", "n")}


def test_det_of_a_square_product_gives_the_textbook_form_proved_for_all_shapes():
    g = symderiv.gradient("det(A @ X @ B)", "X", SQUARE)
    assert g.formula == "det(A @ X @ B) * inv(X).T"
    assert g.proof_status == "proved" and "for all shapes" in g.proof_reason


def test_the_split_form_matches_finite_differences():
    rng = np.random.default_rng(17)
    values = {k: rng.normal(size=(3, 3)) + 3 * np.eye(3) for k in "AXB"}
    formula = symderiv.gradient("det(A @ X @ B)", "X", {k: (3, 3) for k in "AXB"}).formula
    got = evaluate(parse(formula), values)
    h, fd = 1e-6, np.zeros((3, 3))
    for i in range(3):
        for j in range(3):
            plus, minus = dict(values), dict(values)
            plus["X"] = values["X"].copy()
            minus["X"] = values["X"].copy()
            plus["X"][i, j] += h
            minus["X"][i, j] -= h
            fd[i, j] = (np.linalg.det(plus["A"] @ plus["X"] @ plus["B"])
                        - np.linalg.det(minus["A"] @ minus["X"] @ minus["B"])) / (2 * h)
    assert np.allclose(got, fd, rtol=1e-5, atol=1e-6)


def test_a_non_square_factor_keeps_the_inverse_whole():
    g = symderiv.gradient("log(det(X.T @ X))", "X", {"X": (4, 2)})
    assert g.formula == "2 * X @ inv(X.T @ X)"
    g = symderiv.gradient("det(A @ X @ B)", "X", {"A": ("m", "n"), "X": ("n", "k"), "B": ("k", "m")})
    assert "inv(A @ X @ B)" in g.formula
    assert g.proof_status == "proved"


def test_square_x_gives_the_shorter_form():
    g = symderiv.gradient("log(det(X.T @ X))", "X", {"X": ("n", "n")})
    assert g.formula == "2 * inv(X).T"
    assert g.proof_status == "proved"
