"""assume= (SPEC section 6): proofs under the structure of a symbol, witnesses that have it, check_backward and
assert_gradient on structured inputs, gradient() rewritten with the assumption, the command line."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import symderiv
from symderiv.backends.numeric import evaluate
from symderiv.cli import main
from symderiv.core.errors import SymderivError
from symderiv.syntax.language import parse
from symderiv.testing import assert_gradient, check_backward
from symderiv.testing.structure import draw

# Cross-entropy with the log-softmax written out: the gradient is softmax(X) * rowsum(Y) - Y in general.
CE = "-sum(Y * (X - log(sum(exp(X), axis=1)) @ ones(1, C)))"
SOFTMAX_MINUS_Y = "exp(X) / sum(exp(X), axis=1) - Y"
#: The same, as the simplifier writes it: it recognises softmax from its registry expansion.
RECOGNISED = "softmax(X, axis=1) - Y"
SHAPES = {"X": (2, 3), "Y": (2, 3)}

# (expression, wrt, claim, shapes, the kinds under which the claim holds, kinds under which it is false)
TABLE = [
    (CE, "X", SOFTMAX_MINUS_Y, SHAPES, ["onehot_rows", "stochastic_rows"], ["onehot_cols", "positive", "diagonal"]),
    ("sum(Y * Y * X)", "X", "Y", SHAPES, ["onehot_rows", "onehot_cols"], ["stochastic_rows", "positive"]),
    ("sum((Y @ ones(3, 1)) * c)", "c", "ones(2, 1)", {"Y": (2, 3), "c": (2, 1)},
     ["onehot_rows", "stochastic_rows"], ["onehot_cols", "stochastic_cols", "positive"]),
    ("sum((ones(1, 2) @ Y) * r)", "r", "ones(1, 3)", {"Y": (2, 3), "r": (1, 3)},
     ["onehot_cols", "stochastic_cols"], ["onehot_rows", "stochastic_rows"]),
    ("sum(Y * X)", "X", "eye(3) * Y", {"X": (3, 3), "Y": (3, 3)}, ["diagonal"], ["symmetric", "positive"]),
    ("trace(Y @ X)", "X", "Y", {"X": (3, 3), "Y": (3, 3)}, ["symmetric", "diagonal"], ["positive", "onehot_rows"]),
    ("sum(abs(Y) * X)", "X", "Y", {"X": (2, 2), "Y": (2, 2)}, ["positive"], ["stochastic_rows"]),
]


def _numbers(rows: list[list[str]]) -> np.ndarray:
    return np.array([[float(Fraction(x)) for x in row] for row in rows])


def _has(kind: str, m: np.ndarray) -> bool:
    """Whether the matrix ``m`` (a witness) has the structure ``kind``."""
    binary = bool(np.all((m == 0) | (m == 1)))
    square = m.shape[0] == m.shape[1]
    checks = {
        "onehot_rows": lambda: binary and np.allclose(m.sum(axis=1), 1),
        "onehot_cols": lambda: binary and np.allclose(m.sum(axis=0), 1),
        "stochastic_rows": lambda: np.allclose(m.sum(axis=1), 1),
        "stochastic_cols": lambda: np.allclose(m.sum(axis=0), 1),
        "positive": lambda: bool(np.all(m > 0)), "symmetric": lambda: square and np.allclose(m, m.T),
        "diagonal": lambda: np.allclose(m, m * np.eye(*m.shape))}
    return bool(checks[kind]())


def _gradient_fd(expression: str, wrt: str, env: dict[str, np.ndarray], h: float = 1e-6) -> np.ndarray:
    """Central finite differences of a scalar expression (an independent oracle)."""
    node = parse(expression)
    sizes = {"N": env["X"].shape[0], "C": env["X"].shape[1]} if "X" in env else {}
    base = env[wrt]
    grad = np.zeros_like(base)
    for idx in np.ndindex(*base.shape):
        plus, minus = base.copy(), base.copy()
        plus[idx] += h
        minus[idx] -= h
        grad[idx] = (evaluate(node, {**env, wrt: plus}, sizes=sizes).item()
                     - evaluate(node, {**env, wrt: minus}, sizes=sizes).item()) / (2 * h)
    return grad


@pytest.mark.parametrize(("expression", "wrt", "claim", "shapes", "true_under", "false_under"), TABLE)
def test_claims_true_only_under_the_assumption(expression, wrt, claim, shapes, true_under, false_under):
    plain = symderiv.verify(expression, wrt, claim, shapes)
    assert plain.status == "refuted", "the claim must be false without the assumption, or the test proves nothing"
    symbol = "Y"
    for kind in true_under:
        v = symderiv.verify(expression, wrt, claim, shapes, assume={symbol: kind})
        assert v.status == "proved", (kind, v.reason)
        assert f"Y {kind}" in v.reason or kind == "symmetric"
        # the second oracle: NumPy finite differences on inputs drawn with the structure
        rng = np.random.default_rng(1)
        env = {n: draw(kind if n == symbol else None, s, rng) for n, s in shapes.items()}
        assert np.allclose(_gradient_fd(expression, wrt, env), evaluate(parse(claim), env), atol=1e-5)
    for kind in false_under:
        v = symderiv.verify(expression, wrt, claim, shapes, assume={symbol: kind})
        assert v.status != "proved", kind
        if v.status == "refuted" and v.counterexample is not None and v.counterexample.gradient_value is not None:
            witness = _numbers(v.counterexample.values[symbol])
            assert _has(kind, witness), (kind, witness)


def test_a_refutation_under_onehot_rows_has_a_one_hot_witness():
    v = symderiv.verify(CE, "X", "2 * " + SOFTMAX_MINUS_Y, SHAPES, assume={"Y": "onehot_rows"})
    assert v.status == "refuted"
    y = _numbers(v.counterexample.values["Y"])
    assert _has("onehot_rows", y)
    x = _numbers(v.counterexample.values["X"])
    # the witness really separates the two sides: finite differences at it
    fd = _gradient_fd(CE, "X", {"X": x, "Y": y})
    i, j = v.counterexample.entry
    claimed = evaluate(parse("2 * " + SOFTMAX_MINUS_Y), {"X": x, "Y": y})
    assert abs(fd[i, j] - claimed[i, j]) > 1e-3


def test_symbolic_shapes_are_never_proved_by_the_assumption_alone():
    v = symderiv.verify("sum(Y * Y * X)", "X", "Y", {"X": ("N", "C")}, assume={"Y": "onehot_rows"})
    assert v.status == "undecided" and v.checked_at_sizes
    wrong = symderiv.verify("sum(Y * Y * X)", "X", "Y", {"X": ("N", "C")}, assume={"Y": "stochastic_rows"})
    assert wrong.status == "refuted"


def test_gradient_collapses_the_row_sums_and_proves_the_result():
    for kind in ("onehot_rows", "stochastic_rows"):
        g = symderiv.gradient(CE, wrt="X", shapes={"X": ("N", "C")}, assume={"Y": kind})
        assert g.formula == RECOGNISED
        assert g.proof_status == "proved"
        assert f"Y {kind}" in g.proof_reason and "sum(Y, axis=1) = ones(N, 1)" in g.proof_reason
        g = symderiv.gradient(CE, wrt="X", shapes={"X": (2, 3)}, assume={"Y": kind})
        assert (g.formula, g.proof_status) == (RECOGNISED, "proved")
    plain = symderiv.gradient(CE, wrt="X", shapes={"X": ("N", "C")})
    assert "Y @ ones(C, 1)" in plain.formula  # without the assumption the row sums stay
    cols = symderiv.gradient(CE, wrt="X", shapes={"X": ("N", "C")}, assume={"Y": "onehot_cols"})
    assert cols.formula == plain.formula  # a structure that does not apply changes nothing


def test_one_hot_entries_are_idempotent_in_gradients():
    g = symderiv.gradient("sum(Y * Y * X)", wrt="X", shapes={"X": (2, 3)}, assume={"Y": "onehot_rows"})
    assert (g.formula, g.proof_status) == ("Y", "proved")
    assert symderiv.gradient("sum(Y * Y * X)", wrt="X", shapes={"X": (2, 3)}).formula == "Y ** 2"


def test_bad_assumptions_are_refused():
    with pytest.raises(SymderivError, match="not a kind"):
        symderiv.verify(CE, "X", "Y", SHAPES, assume={"Y": "unit"})
    with pytest.raises(SymderivError, match="does not have"):
        symderiv.verify(CE, "X", "Y", SHAPES, assume={"Z": "positive"})
    with pytest.raises(SymderivError, match="differentiated"):
        symderiv.verify(CE, "X", "Y", SHAPES, assume={"X": "positive"})
    with pytest.raises(SymderivError, match="randomized test"):
        symderiv.verify(CE, "X", SOFTMAX_MINUS_Y, SHAPES, assume={"Y": "onehot_rows"}, method="random")
    with pytest.raises(SymderivError, match="strict mode"):
        symderiv.verify(CE, "X", SOFTMAX_MINUS_Y, SHAPES, assume={"Y": "onehot_rows"}, strict=True)
    # derive explains assumptions now: tests/test_derive_assumptions.py


def test_draw_has_each_structure():
    rng = np.random.default_rng(0)
    for kind in ("onehot_rows", "onehot_cols", "stochastic_rows", "stochastic_cols", "positive", "symmetric",
                 "diagonal"):
        assert _has(kind, draw(kind, (4, 4), rng)), kind


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy_backward(dout, X, Y):
    """cs231n style: the gradient of the mean-free softmax cross-entropy, softmax(X) - Y."""
    return {"X": dout * (_softmax(X) - Y)}


def test_check_backward_cross_entropy_needs_the_one_hot_assumption():
    shapes = {"X": ("N", "C"), "Y": ("N", "C")}
    check_backward(cross_entropy_backward, CE, "X", shapes, inputs=["X", "Y"], assume={"Y": "onehot_rows"})
    check_backward(cross_entropy_backward, CE, "X", shapes, inputs=["X", "Y"], assume={"Y": "stochastic_rows"})
    with pytest.raises(AssertionError) as err:
        check_backward(cross_entropy_backward, CE, "X", shapes, inputs=["X", "Y"])
    text = str(err.value)
    assert "missing assumption" in text and "assume={'Y': 'onehot_rows'}" in text

    def wrong(dout, X, Y):
        return {"X": dout * (_softmax(X) - 2 * Y)}

    with pytest.raises(AssertionError) as err:
        check_backward(wrong, CE, "X", shapes, inputs=["X", "Y"], assume={"Y": "onehot_rows"})
    assert "missing assumption" not in str(err.value)


def test_assert_gradient_under_an_assumption_and_the_diagnosis_without():
    assert assert_gradient(CE, "X", SOFTMAX_MINUS_Y, SHAPES, assume={"Y": "onehot_rows"}).status == "proved"
    with pytest.raises(AssertionError) as err:
        assert_gradient(CE, "X", SOFTMAX_MINUS_Y, SHAPES)
    assert "missing assumption" in str(err.value) and "'onehot_rows'" in str(err.value)


def test_command_line(capsys):
    args = ["verify", CE, "--wrt", "X", "--claim", SOFTMAX_MINUS_Y, "--shape", "X=2,3"]
    assert main(args + ["--assume", "Y=onehot_rows"]) == 0
    assert "under the assumption Y onehot_rows" in capsys.readouterr().out
    assert main(args) == 1
    capsys.readouterr()
    assert main(args + ["--assume", "Y"]) == 2
    assert main(args + ["--assume", "Y=unit"]) == 2
    assert main(["gradient", CE, "--wrt", "X", "--shape", "X=N,C", "--assume", "Y=onehot_rows"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == RECOGNISED


SOUNDNESS_EXPRESSIONS = [
    CE,
    "sum(Y * Y * X)",
    "sum((Y @ ones(3, 1)) * (X @ ones(3, 1)))",
    "sum(exp(X) * (ones(1, 2) @ Y))",
    "sum(Y * X * X) + sum(sum(Y, axis=0) * sum(X, axis=0))",
]
SOUNDNESS_KINDS = ["onehot_rows", "stochastic_rows", "onehot_cols", "stochastic_cols", "positive", "diagonal"]


@pytest.mark.parametrize("expression", SOUNDNESS_EXPRESSIONS)
def test_no_false_proof_under_any_assumption(expression):
    """Every verdict under every kind against finite differences on inputs drawn with that kind: a proof must agree
    with them, a refutation must have a witness with the structure at which the two sides differ."""
    shapes = {"X": (2, 3), "Y": (2, 3)}
    claims = {"Y", "Y * Y", "ones(2, 3)", "2 * Y"}
    for kind in [None, *SOUNDNESS_KINDS]:
        assume = {"Y": kind} if kind else None
        claims.add(symderiv.gradient(expression, "X", shapes, assume=assume, check=False).formula)
    rng = np.random.default_rng(7)
    for kind in SOUNDNESS_KINDS:
        for claim in sorted(claims):
            v = symderiv.verify(expression, "X", claim, shapes, assume={"Y": kind})
            if v.status == "proved":
                for _ in range(3):
                    env = {"X": rng.standard_normal((2, 3)), "Y": draw(kind, (2, 3), rng)}
                    assert np.allclose(_gradient_fd(expression, "X", env), evaluate(parse(claim), env, sizes={"C": 3}),
                                       atol=1e-5), (kind, claim)
            elif v.status == "refuted" and v.counterexample is not None and v.counterexample.gradient_value is not None:
                env = {n: _numbers(v.counterexample.values[n]) for n in ("X", "Y")}
                assert _has(kind, env["Y"]), (kind, claim, env["Y"])
                fd = _gradient_fd(expression, "X", env)
                i, j = v.counterexample.entry
                assert abs(fd[i, j] - evaluate(parse(claim), env, sizes={"C": 3})[i, j]) > 1e-4, (kind, claim)
