"""Gradients with respect to a symmetric matrix (SPEC section 6): symmetric_convention="projection" (default) and
"entries", each proved entrywise and checked against finite differences of its own definition."""

from __future__ import annotations

import numpy as np
import pytest

import symderiv
from symderiv.backends.numeric import evaluate
from symderiv.cli import main
from symderiv.core.errors import SymderivError
from symderiv.syntax.language import parse

# (expression, shapes, projection, entries)
CASES = [
    ("logdet(S)", {"S": (3, 3)}, "inv(S)", "2 * inv(S) - eye(3) * inv(S)"),
    ("trace(A @ S)", {"A": (3, 3), "S": (3, 3)}, "(A + A.T) / 2", "A + A.T - eye(3) * A"),
    ("x.T @ S @ x", {"x": (3, 1), "S": (3, 3)}, "x @ x.T", "2 * x @ x.T - eye(3) * (x @ x.T)"),
    ("sum(S * S * B)", {"B": (2, 2), "S": (2, 2)}, "S * (B + B.T)", "2 * S * (B + B.T) - eye(2) * (2 * S * B)"),
]


def _fd(expression: str, env: dict[str, np.ndarray], convention: str, h: float = 1e-6) -> np.ndarray:
    """The convention's gradient by finite differences: the derivative with respect to each independent entry
    s_ij = s_ji (entries), and its off-diagonal halves (projection)."""
    node = parse(expression)
    s = env["S"]
    n = s.shape[0]
    out = np.zeros_like(s)
    for i in range(n):
        for j in range(i, n):
            step = np.zeros_like(s)
            step[i, j] = step[j, i] = h
            value = (evaluate(node, {**env, "S": s + step}).item() - evaluate(node, {**env, "S": s - step}).item())
            d = value / (2 * h)
            out[i, j] = out[j, i] = d if (convention == "entries" or i == j) else d / 2
    return out


def _env(shapes: dict, seed: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    env = {k: rng.standard_normal(v) for k, v in shapes.items()}
    s = env["S"]
    env["S"] = s @ s.T + np.eye(s.shape[0])  # symmetric positive definite, so logdet is defined
    return env


@pytest.mark.parametrize(("expression", "shapes", "projection", "entries"), CASES)
def test_both_conventions_proved_and_the_other_refuted(expression, shapes, projection, entries):
    env = _env(shapes)
    for convention, claim, other in (("projection", projection, entries), ("entries", entries, projection)):
        v = symderiv.verify(expression, "S", claim, shapes, symmetric=["S"], symmetric_convention=convention)
        assert v.status == "proved", (convention, v.reason)
        assert symderiv.verify(expression, "S", other, shapes, symmetric=["S"],
                               symmetric_convention=convention).status == "refuted"
        assert np.allclose(_fd(expression, env, convention), evaluate(parse(claim), env), atol=1e-5)
        strict = symderiv.verify(expression, "S", claim, shapes, symmetric=["S"], symmetric_convention=convention,
                                 strict=True)
        assert strict.status == "proved", strict.reason  # SymPy's own chain rule agrees
        g = symderiv.gradient(expression, "S", shapes, symmetric=["S"], symmetric_convention=convention)
        assert g.proof_status == "proved"
        assert np.allclose(evaluate(g.expr, env), evaluate(parse(claim), env))


def test_the_default_is_projection_and_the_logdet_formulas():
    assert symderiv.gradient("logdet(S)", "S", {"S": (3, 3)}, symmetric=["S"]).formula == "inv(S)"
    entries = symderiv.gradient("logdet(S)", "S", {"S": (3, 3)}, assume={"S": "symmetric"},
                                symmetric_convention="entries")
    assert entries.formula == "2 * inv(S) - eye(3) * inv(S)"
    # the unconstrained gradient, inv(S).T, is symmetric's projection too, but not the entries convention
    assert symderiv.verify("logdet(S)", "S", "inv(S).T", {"S": (3, 3)}, symmetric=["S"]).status == "proved"


def test_symbolic_shapes_are_checked_not_claimed():
    g = symderiv.gradient("logdet(S)", "S", {"S": ("n", "n")}, symmetric=["S"], symmetric_convention="entries")
    assert g.formula == "2 * inv(S) - eye(n) * inv(S)"
    assert g.proof_status == "checked"  # the all-shapes engine knows only the plain gradient


def test_refusals():
    with pytest.raises(SymderivError, match="symmetric_convention"):
        symderiv.gradient("logdet(S)", "S", {"S": (3, 3)}, symmetric=["S"], symmetric_convention="plain")
    with pytest.raises(SymderivError, match="randomized test"):
        symderiv.verify("logdet(S)", "S", "inv(S)", {"S": (3, 3)}, symmetric=["S"], method="random")
    # derive explains a symmetric wrt now: tests/test_derive_assumptions.py


def test_command_line(capsys):
    base = ["gradient", "logdet(S)", "--wrt", "S", "--symmetric", "S", "--shape", "S=3,3"]
    assert main(base) == 0
    assert capsys.readouterr().out.strip() == "inv(S)"
    assert main(base + ["--symmetric-convention", "entries"]) == 0
    assert capsys.readouterr().out.strip() == "2 * inv(S) - eye(3) * inv(S)"
    verify = ["verify", "logdet(S)", "--wrt", "S", "--symmetric", "S", "--shape", "S=3,3", "--claim", "inv(S)"]
    assert main(verify + ["--symmetric-convention", "entries"]) == 1
