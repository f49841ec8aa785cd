"""The operations of deep-learning courses (issue 14, item 1): softmax, log_softmax, logsumexp, mean, norm,
diag, diagflat and non-integer powers, each one registry entry in symderiv/ops/.

Each right backward rule is proved by the exact entrywise engine on concrete shapes and by the randomized
engine, and each wrong variant (transposed, wrong axis, a dropped term) is refuted by both; the right rule
agrees with NumPy finite differences at a random point of the domain, through the stable NumPy overrides;
and the operations that the all-shapes engine can expand are proved for all shapes.
"""

from __future__ import annotations

import numpy as np
import pytest

import symderiv
from symderiv.backends.numeric import evaluate, finite_difference_gradient
from symderiv.syntax.language import parse

# expression, wrt, shapes, the right rule, wrong variants
TABLE = [
    ("softmax(X, axis=1)", "X", {"X": (2, 3)}, "softmax(X, axis=1) * (G - sum(G * softmax(X, axis=1), axis=1))",
     ["softmax(X, axis=1) * (G - sum(G * softmax(X, axis=1), axis=0))",
      "softmax(X, axis=0) * (G - sum(G * softmax(X, axis=0), axis=0))",
      "softmax(X, axis=1) * G", "G - sum(G * softmax(X, axis=1), axis=1)"]),
    ("softmax(X, axis=0)", "X", {"X": (3, 2)}, "softmax(X, axis=0) * (G - sum(G * softmax(X, axis=0), axis=0))",
     ["softmax(X, axis=0) * (G - sum(G * softmax(X, axis=0), axis=1))", "softmax(X, axis=0) * G"]),
    ("log_softmax(X, axis=0)", "X", {"X": (3, 2)}, "G - softmax(X, axis=0) * sum(G, axis=0)",
     ["G - softmax(X, axis=1) * sum(G, axis=1)", "G", "G - softmax(X, axis=0) * G"]),
    ("log_softmax(X, axis=1)", "X", {"X": (2, 3)}, "G - softmax(X, axis=1) * sum(G, axis=1)",
     ["G - softmax(X, axis=0) * sum(G, axis=0)", "G - softmax(X, axis=1)"]),
    ("logsumexp(X, axis=0)", "X", {"X": (2, 3)}, "G * softmax(X, axis=0)", ["G * softmax(X, axis=1)", "G * exp(X)"]),
    ("logsumexp(X, axis=1)", "X", {"X": (2, 3)}, "G * softmax(X, axis=1)", ["G * softmax(X, axis=0)", "G"]),
    ("logsumexp(X)", "X", {"X": (2, 3)}, "exp(X) / sum(exp(X))", ["exp(X) / sum(exp(X), axis=0)", "exp(X)"]),
    ("mean(X, axis=1)", "X", {"X": (2, 3)}, "G @ ones(1, 3) / 3", ["G @ ones(1, 3)", "G @ ones(1, 3) / 2"]),
    ("mean(X, axis=0)", "X", {"X": (2, 3)}, "ones(2, 1) @ G / 2", ["ones(2, 1) @ G / 3", "ones(2, 1) @ G"]),
    ("mean(X)", "X", {"X": (2, 3)}, "ones(2, 3) / 6", ["ones(2, 3)", "ones(2, 3) / 3"]),
    ("norm(X)", "X", {"X": (2, 3)}, "X / norm(X)", ["X / norm(X) ** 2", "X", "2 * X / norm(X)"]),
    ("diag(A)", "A", {"A": (3, 3)}, "diagflat(G)",
     ["G @ ones(1, 3)", "diagflat(G) + 0.01 * ones(3, 3)", "ones(3, 1) @ G.T"]),
    ("diag(A @ B)", "A", {"A": (3, 3), "B": (3, 3)}, "diagflat(G) @ B.T", ["diagflat(G) @ B", "B.T @ diagflat(G)"]),
    ("diagflat(x)", "x", {"x": (3, 1)}, "diag(G)", ["sum(G, axis=1)", "diag(G) * 2"]),
    ("X ** -0.5", "X", {"X": (2, 2)}, "-0.5 * G * X ** -1.5",
     ["-0.5 * G * X ** -0.5", "0.5 * G * X ** -1.5", "-0.5 * G.T * X ** -1.5"]),
    ("X ** 1.5", "X", {"X": (2, 2)}, "1.5 * G * X ** 0.5", ["1.5 * G * X", "G * X ** 0.5"]),
    ("X ** (1/3)", "X", {"X": (2, 2)}, "G * X ** (-2/3) / 3", ["G * X ** (-1/3) / 3", "G * X ** (-2/3) / 2"]),
    ("W ** 0.5 @ X", "W", {"W": (2, 3), "X": (3, 2)}, "0.5 * (G @ X.T) * W ** -0.5",
     ["0.5 * (G @ X.T) * W ** 0.5", "0.5 * (G @ X.T) / W ** 0.5 / W"]),
]
IDS = [f"{e}|{w}" for e, w, *_ in TABLE]


@pytest.mark.parametrize("expression, wrt, shapes, right, wrong", TABLE, ids=IDS)
@pytest.mark.parametrize("method", ["exact", "random"])
def test_the_rule_is_proved_and_wrong_variants_refuted(expression, wrt, shapes, right, wrong, method):
    verdict = symderiv.verify(expression, wrt=wrt, claim=right, shapes=shapes, method=method)
    assert verdict.status == ("proved" if method == "exact" else "probabilistic"), verdict.reason
    for claim in wrong:
        verdict = symderiv.verify(expression, wrt=wrt, claim=claim, shapes=shapes, method=method)
        assert verdict.status == "refuted", (claim, verdict.status, verdict.reason)


@pytest.mark.parametrize("expression, wrt, shapes, right, wrong", TABLE, ids=IDS)
def test_gradient_derives_a_proved_rule(expression, wrt, shapes, right, wrong):
    g = symderiv.gradient(expression, wrt=wrt, shapes=shapes)
    assert g.proof_status == "proved", g.proof_reason
    assert symderiv.verify(expression, wrt=wrt, claim=g.formula, shapes=shapes).status == "proved"


def _point(shapes, rng, positive):
    return {n: (rng.uniform(0.3, 2.0, size=s) if positive else rng.normal(size=s)) for n, s in shapes.items()}


@pytest.mark.parametrize("expression, wrt, shapes, right, wrong", TABLE, ids=IDS)
def test_the_rule_agrees_with_numpy_finite_differences(expression, wrt, shapes, right, wrong):
    rng = np.random.default_rng(14)
    node = parse(expression)
    env = _point(shapes, rng, positive="**" in expression)
    value = evaluate(node, env)
    upstream = None if value.shape == (1, 1) else rng.normal(size=value.shape)
    fd = finite_difference_gradient(node, wrt, env, upstream)
    claim = evaluate(parse(right, allow_upstream=True), {**env, **({} if upstream is None else {"G": upstream})})
    assert np.allclose(np.broadcast_to(claim, fd.shape), fd, atol=1e-5), (claim, fd)
    for wrong_claim in wrong:  # the wrong variants are wrong in floating point too
        other = evaluate(parse(wrong_claim, allow_upstream=True),
                         {**env, **({} if upstream is None else {"G": upstream})})
        assert not np.allclose(np.broadcast_to(other, fd.shape), fd, atol=1e-5), wrong_claim


ALL_SHAPES = [
    ("log_softmax(X, axis=1)", "X", "G - softmax(X, axis=1) * sum(G, axis=1)", None),
    ("logsumexp(X, axis=0)", "X", "G * softmax(X, axis=0)", None),
    ("logsumexp(X)", "X", "exp(X) / sum(exp(X))", None),
    ("diag(A)", "A", "diagflat(G)", None),
    ("diagflat(x)", "x", "diag(G)", {"x": ("n", 1)}),
    ("trace(diagflat(x) @ A)", "x", "diag(A)", {"x": ("n", 1)}),
    ("mean(W @ X)", "W", "ones(n, p) @ X.T / sum(ones(n, p))", {"W": ("n", "m"), "X": ("m", "p")}),
    ("mean(X, axis=1)", "X", "G @ ones(1, m) / sum(ones(1, m))", {"X": ("n", "m")}),
]


@pytest.mark.parametrize("expression, wrt, claim, shapes", ALL_SHAPES)
def test_all_shapes(expression, wrt, claim, shapes):
    verdict = symderiv.verify(expression, wrt=wrt, claim=claim, shapes=shapes)
    assert verdict.status == "proved" and "all shapes" in verdict.reason, verdict.reason
    swap = {"axis=1": "axis=0", "axis=0": "axis=1"}
    wrong = " ".join(swap.get(w.rstrip(")"), w) + ")" * (len(w) - len(w.rstrip(")"))) if w.rstrip(")") in swap
                     else w for w in claim.split(" ")) if "axis" in claim else f"2 * {claim}"
    assert wrong != claim
    assert symderiv.verify(expression, wrt=wrt, claim=wrong, shapes=shapes).status == "refuted", wrong


def test_numpy_overrides_are_stable_where_the_expansion_overflows():
    big = np.array([[1000.0, 1001.0, 999.0]])
    for name, expected in [("softmax", np.exp([[0.0, 1.0, -1.0]]) / np.exp([[0.0, 1.0, -1.0]]).sum()),
                           ("log_softmax", np.array([[0.0, 1.0, -1.0]]) - np.log(np.exp([[0.0, 1.0, -1.0]]).sum()))]:
        got = evaluate(parse(f"{name}(X, axis=1)"), {"X": big})
        assert np.allclose(got, expected), name
    assert np.allclose(evaluate(parse("logsumexp(X)"), {"X": big}), 1000 + np.log(np.exp([0.0, 1.0, -1.0]).sum()))
    assert np.allclose(evaluate(parse("logsumexp(X, axis=1)"), {"X": big}).shape, (1, 1))
    assert evaluate(parse("mean(X, axis=0)"), {"X": np.ones((2, 3))}).shape == (1, 3)


def test_strict_mode_agrees_on_softmax_and_powers():
    for expression, wrt, shapes, right in [
        ("softmax(X, axis=1)", "X", {"X": (2, 2)}, "softmax(X, axis=1) * (G - sum(G * softmax(X, axis=1), axis=1))"),
        ("X ** -0.5", "X", {"X": (2, 1)}, "-0.5 * G * X ** -1.5"),
    ]:
        verdict = symderiv.verify(expression, wrt=wrt, claim=right, shapes=shapes, strict=True)
        assert verdict.status == "proved", verdict.reason


@pytest.mark.parametrize("expression, claim, status", [
    ("W * 2 ** 0.5", "2 ** 0.5 * G", "proved"),
    ("W * 2 ** 0.5", "sqrt(2) * G", "proved"),
    ("W * 2 ** 0.5", "1.4142135623730951 * G", "refuted"),  # the float is not the root
    ("pow(W, 2)", "2 * G * W", "proved"),  # an integer p written as a call is the primitive power
    ("(-W) ** 0.5", "-0.5 * G * (-W) ** -0.5", "proved"),  # the domain is where -W > 0
    ("(-W) ** 0.5", "0.5 * G * (-W) ** -0.5", "refuted"),
    ("W ** 0.5 * W ** 0.5", "G", "proved"),
    ("W ** 0.5 * W ** 0.5", "2 * G", "refuted"),
    ("W ** 0.5", "0.5 * G / sqrt(W)", "proved"),
    ("W ** 0.5", "0.5 * G * sqrt(W)", "refuted"),
])
def test_powers_meet_roots_and_constants_exactly(expression, claim, status):
    verdict = symderiv.verify(expression, wrt="W", claim=claim, shapes={"W": (2, 1)})
    assert verdict.status == status, verdict.reason
