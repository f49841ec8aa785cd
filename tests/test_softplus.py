"""softplus was added as one row of symderiv/ops/elementwise.py and nothing else under symderiv/.

These tests take it through every engine: the gradient rules, the exact entrywise prover, the strict
(SymPy) mode, the all-shapes index engine, the randomized engine, derivations, NumPy finite differences
and the testing helpers. If an engine still kept its own table of functions, one of them would fail.
"""

from __future__ import annotations

import numpy as np
import pytest

import symderiv
from symderiv.backends.numeric import evaluate, finite_difference_gradient
from symderiv.syntax.language import parse
from symderiv.testing import check_backward

SHAPES = {"W": (3, 2), "X": (2, 4)}
RIGHT = "(G * sigmoid(W @ X)) @ X.T"
WRONG = ["G @ X.T", "(G * sigmoid(W @ X)).T @ X.T", "(G * softplus(W @ X)) @ X.T", "(G * sigmoid(-(W @ X))) @ X.T"]


def test_the_gradient_is_the_sigmoid():
    assert symderiv.gradient("sum(softplus(W @ X))", wrt="W").formula == "sigmoid(W @ X) @ X.T"


@pytest.mark.parametrize("method", ["exact", "random"])
def test_right_claim_is_proved_and_wrong_ones_refuted(method):
    assert symderiv.verify("softplus(W @ X)", wrt="W", claim=RIGHT, shapes=SHAPES, method=method).holds
    for claim in WRONG:
        verdict = symderiv.verify("softplus(W @ X)", wrt="W", claim=claim, shapes=SHAPES, method=method)
        assert verdict.status == "refuted", (claim, verdict.reason)


def test_strict_mode_and_all_shapes():
    assert symderiv.verify("softplus(W @ X)", wrt="W", claim=RIGHT, shapes=SHAPES, strict=True).status == "proved"
    verdict = symderiv.verify("softplus(W @ X)", wrt="W", claim=RIGHT)
    assert verdict.status == "proved" and "all shapes" in verdict.reason


def test_derivation_uses_the_derivative_row():
    derivation = symderiv.derive("softplus(W @ X)", wrt="W")
    assert derivation.result.formula == RIGHT
    assert any("sigmoid" in step.equation_text for step in derivation.steps)
    assert "softplus" in derivation.to_latex()


def test_numpy_value_and_finite_differences():
    rng = np.random.default_rng(0)
    env = {"W": rng.normal(size=(3, 2)), "X": rng.normal(size=(2, 4))}
    z = env["W"] @ env["X"]
    assert np.allclose(evaluate(parse("softplus(W @ X)"), env), np.log1p(np.exp(z)))
    upstream = rng.normal(size=(3, 4))
    fd = finite_difference_gradient(parse("softplus(W @ X)"), "W", env, upstream)
    assert np.allclose(fd, (upstream / (1 + np.exp(-z))) @ env["X"].T, atol=1e-6)


def test_check_backward_accepts_a_right_backward_and_rejects_a_wrong_one():
    def right(G, W, X):
        return (G / (1 + np.exp(-(W @ X)))) @ X.T

    def forgot_the_sigmoid(G, W, X):
        return G @ X.T

    check_backward(right, "softplus(W @ X)", wrt="W", shapes=SHAPES)
    with pytest.raises(AssertionError):
        check_backward(forgot_the_sigmoid, "softplus(W @ X)", wrt="W", shapes=SHAPES)
