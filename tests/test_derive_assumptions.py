"""derive explains assumptions and symmetric conventions (SPEC section 6: derivations name the assumptions they use).

The blocks derive the general gradient; the assumptions enter in one last step whose sentence states each identity
the structure gives (from the rewriter's data), checked exactly under the assumption; a symmetric wrt is derived
as a general matrix, then the convention's step, checked and proved by the exact prover. Derive's result is
gradient()'s formula in every case.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import symderiv
from symderiv.backends.numeric import evaluate
from symderiv.cli import main
from symderiv.core.errors import DerivationError
from symderiv.explain import assumptions, symmetric

CE = "-sum(Y * (X - log(sum(exp(X), axis=1)) @ ones(1, C)))"
CE_SHAPES = {"X": ("N", "C")}
ONEHOT = {"Y": "onehot_rows"}


def test_the_assumption_is_a_checked_last_step_and_the_result_is_gradients():
    d = symderiv.derive(CE, "X", CE_SHAPES, assume=ONEHOT)
    assert d.result.formula == symderiv.gradient(CE, "X", CE_SHAPES, assume=ONEHOT).formula == "softmax(X, axis=1) - Y"
    last = d.final[-1]
    assert last.checked and last.justification.startswith("Now the assumption is used: Y is onehot_rows")
    assert "Y @ ones(C, 1) = ones(N, 1) because each row of Y sums to 1" in last.justification
    assert last.equation_text == "∂L/∂X = softmax(X, axis=1) - Y"
    # the step before is the general formula, which the conclusion also gives
    assert d.final[-2].equation_text == "∂L/∂X = (Y @ ones(C, 1)) * softmax(X, axis=1) - Y"
    text = d.to_text(width=1000)
    assert "Assumption: Y is onehot_rows: one-hot rows" in text
    assert "Without the assumption, the gradient is ∂L/∂X = (Y @ ones(C, 1)) * softmax(X, axis=1) - Y." in text
    assert d.result.proof_status == "proved" and "under the assumption Y onehot_rows" in d.result.proof_reason
    for rendered in (d.to_markdown(), d.to_latex(), d.to_html()):
        assert "Now the assumption is used" in rendered and "sums to 1" in rendered


def test_signs_and_an_assumption_the_gradient_does_not_need():
    d = symderiv.derive("sum((y * (X @ w)) ** 2)", "w", {"X": ("N", "D"), "y": ("N", 1)}, assume={"y": "signs"})
    assert d.result.formula == "2 * X.T @ X @ w"
    assert "y ** 2 = ones(N, 1) because the entries of y are +1 or -1" in d.final[-1].justification
    unused = symderiv.derive("sum(log(1 + exp(-y * (X @ w))))", "w", {"X": ("N", "D"), "y": ("N", 1)},
                             assume={"y": "signs"})
    assert "The gradient does not need it" in unused.to_text(width=1000)
    assert all("assumption is used" not in s.justification for s in unused.steps)


def test_a_wrong_step_under_the_assumption_is_caught(monkeypatch):
    real = assumptions.AssumedRewriter.rewrite

    def wrong(self, node):
        return symderiv.core.expr.Mul(symderiv.core.expr.Number(2), real(self, node))

    monkeypatch.setattr(assumptions.AssumedRewriter, "rewrite", wrong)
    with pytest.raises(DerivationError, match="does not hold"):
        symderiv.derive(CE, "X", CE_SHAPES, assume=ONEHOT)


def test_command_line_formats(capsys):
    args = ["derive", CE, "--wrt", "X", "--shape", "X=N,C", "--assume", "Y=onehot_rows"]
    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["result"]["formula"] == "softmax(X, axis=1) - Y"
    assert data["steps"][-1]["justification"].startswith("Now the assumption is used")
    for fmt in ("text", "markdown", "latex", "html"):
        assert main([*args, "--format", fmt]) == 0
        assert "sums to 1" in capsys.readouterr().out


# -- a symmetric wrt ----------------------------------------------------------------------------------------

SYMMETRIC = [
    ("logdet(S)", {"S": (3, 3)}),
    ("x.T @ S @ x", {"x": (3, 1), "S": (3, 3)}),
    ("trace(A @ S)", {"A": (3, 3), "S": (3, 3)}),
    ("sum(S * S * B)", {"B": (2, 2), "S": (2, 2)}),
]


@pytest.mark.parametrize(("expression", "shapes"), SYMMETRIC)
@pytest.mark.parametrize("convention", ["projection", "entries"])
def test_a_symmetric_wrt_ends_with_the_conventions_step(expression, shapes, convention):
    d = symderiv.derive(expression, "S", shapes, symmetric=["S"], symmetric_convention=convention)
    g = symderiv.gradient(expression, "S", shapes, symmetric=["S"], symmetric_convention=convention)
    assert d.result.formula == g.formula and d.result.proof_status == "proved"
    last = d.final[-1]
    assert last.checked and f"symmetric_convention={convention!r}" in last.justification
    assert "unconstrained gradient" in last.justification
    # the blocks derive the unconstrained gradient, which the convention's formula starts from
    unconstrained = symderiv.gradient(expression, "S", shapes).formula
    first = last.equation_text.split(" = ")[1]
    assert first.startswith((unconstrained, f"({unconstrained}")), first
    rng = np.random.default_rng(5)
    env = {k: rng.standard_normal(v) for k, v in shapes.items()}
    env["S"] = env["S"] @ env["S"].T + np.eye(shapes["S"][0])
    assert np.allclose(evaluate(d.result.expr, env), evaluate(g.expr, env))


def test_symbolic_shapes_with_a_symmetric_wrt_are_checked():
    d = symderiv.derive("x.T @ S @ x", "S", {"x": ("n", 1)}, symmetric=["S"], symmetric_convention="entries")
    assert d.result.formula == "2 * x @ x.T - eye(n) * (x @ x.T)" and d.result.proof_status == "checked"
    assert "not a proof for all shapes" in d.to_text(width=1000)


def test_a_wrong_convention_step_is_caught(monkeypatch):
    monkeypatch.setattr(symmetric, "convention_formula", lambda gs, convention, n, transposed=None: gs)
    with pytest.raises(DerivationError, match="convention"):
        symderiv.derive("trace(A @ S)", "S", {"A": (3, 3), "S": (3, 3)}, symmetric=["S"])


def test_command_line_symmetric(capsys):
    assert main(["derive", "logdet(S)", "--wrt", "S", "--shape", "S=3,3", "--symmetric", "S",
                 "--symmetric-convention", "entries"]) == 0
    out = capsys.readouterr().out
    assert "2 * inv(S) - eye(3) * inv(S)" in out and "symmetric_convention='entries'" in out
