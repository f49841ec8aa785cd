"""Every backward rule, checked against the entrywise prover and NumPy central finite differences.

The helpers here (``check_finite_differences``, ``hygiene_problems``, ``random_env``)
are shared with test_gradient.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pytest

import symderiv
from symderiv.autodiff.rules import RULES, Context, backward, unbroadcast
from symderiv.backends.numeric import evaluate, finite_difference_gradient
from symderiv.core import expr as ex
from symderiv.core.errors import UnsupportedError
from symderiv.proofs.gradient import gradient
from symderiv.syntax.language import parse
from symderiv.syntax.shapes import infer_shapes

# -- shared oracles -------------------------------------------------------------


def random_env(shapes: Mapping[str, tuple[int, int]], seed: int, positive: bool = False) -> dict[str, np.ndarray]:
    """Values away from 0 (relu, abs and sign have their kink there), positive on request (log, sqrt)."""
    rng = np.random.default_rng(seed)
    env = {}
    for name, (r, c) in shapes.items():
        values = rng.uniform(0.5, 1.5, size=(r, c))
        if not positive:
            values *= rng.choice([-1.0, 1.0], size=(r, c))
        env[name] = values
    return env


def concrete_shapes(expression: str, shapes, sizes: Mapping[str, int], functions=()) -> dict[str, tuple[int, int]]:
    typing = infer_shapes(parse(expression, functions=functions), shapes)
    return {k: (int(r), int(c)) for k, (r, c) in typing.substitute(dict(sizes)).symbols.items()}


def check_finite_differences(expression: str, wrt: str, formula: str, shapes: Mapping[str, tuple[int, int]], *,
                             sizes: Mapping[str, int] | None = None, functions=(), layout: str = "denominator",
                             seed: int = 0, positive: bool = False, upstream: str = "G",
                             env: Mapping[str, np.ndarray] | None = None) -> None:
    """Assert that ``formula`` agrees with central finite differences of L at a random point."""
    node = parse(expression, functions=functions, upstream=upstream)
    claim = parse(formula, functions=functions, upstream=upstream, allow_upstream=True)
    env = dict(env) if env is not None else random_env(shapes, seed, positive)
    value = evaluate(node, env, sizes=sizes)
    scalar = value.shape == (1, 1)
    g = None if scalar else np.random.default_rng(seed + 1).uniform(-1, 1, size=value.shape)
    numeric = finite_difference_gradient(node, wrt, env, g, sizes=sizes)
    if layout == "numerator":
        numeric = numeric.T
    claimed = evaluate(claim, {**env, **({} if g is None else {upstream: g})}, sizes=sizes)
    assert claimed.shape == numeric.shape, (formula, claimed.shape, numeric.shape)
    scale = max(1.0, float(np.abs(numeric).max()))
    assert np.allclose(claimed, numeric, rtol=1e-4, atol=1e-5 * scale), (
        f"{expression} wrt {wrt}: formula {formula}\nformula:\n{claimed}\nfinite differences:\n{numeric}")


def hygiene_problems(formula: str, functions=(), upstream: str = "G") -> list[str]:
    """What a canonical formula must not contain: `.T.T`, transposed products, products with eye, `+ 0`, `* 1`."""
    problems = []
    if ".T.T" in formula:
        problems.append(".T.T")
    if re.search(r"[+-] 0(?![.\d])|\* 1(?![.\d])|\b1 \*", formula):
        problems.append("a neutral number")
    node = parse(formula, functions=functions, upstream=upstream, allow_upstream=True)
    for n in node.walk():
        if isinstance(n, ex.Transpose) and isinstance(n.operand, (ex.MatMul, ex.Transpose)):
            problems.append("a transpose of a product or of a transpose")
        if isinstance(n, ex.MatMul) and any(isinstance(s, ex.ConstMatrix) and s.kind == "eye"
                                            for s in (n.left, n.right)):
            problems.append("a product with eye")
        if isinstance(n, (ex.Add, ex.Sub)) and any(
                (isinstance(s, ex.ConstMatrix) and s.kind == "zeros") or (isinstance(s, ex.Number) and s.value == 0)
                for s in (n.left, n.right)):
            problems.append("+ 0")
    return problems


# -- the rules, one case (or more) per table entry --------------------------------

# (expression, wrt, symbolic shapes, expected canonical formula, options)
RULE_CASES = [
    ("W @ X", "W", None, "G @ X.T", {}),
    ("W @ X", "X", None, "W.T @ G", {}),
    ("A + B", "A", None, "G", {}),
    ("A + b", "b", {"b": ("n", 1)}, "sum(G, axis=1)", {}),
    ("A + b", "b", {"b": (1, "m")}, "sum(G, axis=0)", {}),
    ("A + s", "s", {"s": (1, 1)}, "sum(G)", {}),
    ("A - b", "b", {"b": ("n", 1)}, "-sum(G, axis=1)", {}),
    ("A - B", "B", None, "-G", {}),
    ("A * B", "A", None, "G * B", {}),
    ("A * r", "r", {"r": (1, "m")}, "sum(A * G, axis=0)", {}),
    ("s * A", "s", {"s": (1, 1)}, "sum(G * A)", {}),
    ("2 * A", "A", None, "2 * G", {}),
    ("A * A", "A", None, "2 * G * A", {}),
    ("A / B", "A", None, "G / B", {}),
    ("A / B", "B", None, "-G * A / B ** 2", {}),
    ("A / s", "s", {"s": (1, 1)}, "-sum(G * A / s ** 2)", {}),
    ("-A", "A", None, "-G", {}),
    ("A.T", "A", None, "G.T", {}),
    ("A ** 3", "A", None, "3 * G * A ** 2", {}),
    ("A ** -1", "A", None, "-G * A ** -2", {}),
    ("A ** 1", "A", None, "G", {}),
    ("exp(A)", "A", None, "G * exp(A)", {}),
    ("log(A)", "A", None, "G / A", {"positive": True}),
    ("sqrt(A)", "A", None, "0.5 * G / sqrt(A)", {"positive": True}),
    ("abs(A)", "A", None, "G * sign(A)", {}),
    ("sin(A)", "A", None, "G * cos(A)", {}),
    ("cos(A)", "A", None, "-G * sin(A)", {}),
    ("tan(A)", "A", None, "G * (1 + tan(A) ** 2)", {}),
    ("tanh(A)", "A", None, "G * (1 - tanh(A) ** 2)", {}),
    ("sigmoid(A)", "A", None, "G * sigmoid(A) * (1 - sigmoid(A))", {}),
    ("relu(A)", "A", None, "G * step(A)", {}),
    ("phi(A)", "A", None, "G * phi_prime(A)", {"functions": ("phi",)}),
    ("trace(X)", "X", None, "eye(n)", {}),
    ("det(X)", "X", None, "det(X) * inv(X).T", {}),
    ("logdet(X)", "X", None, "inv(X).T", {}),
    ("inv(X)", "X", None, "-inv(X).T @ G @ inv(X).T", {}),
    ("matpow(X, 2)", "X", None, "G @ X.T + X.T @ G", {}),
    ("matpow(X, 3)", "X", None, "G @ matpow(X, 2).T + X.T @ G @ X.T + matpow(X, 2).T @ G", {}),
    ("matpow(X, 0) + X", "X", None, "G", {}),
    ("sum(A)", "A", None, "ones(n, m)", {}),
    ("sum(A, axis=0)", "A", None, "ones(n, 1) @ G", {}),
    ("sum(A, axis=1)", "A", None, "G @ ones(1, m)", {}),
    ("A + ones(2, 3) + zeros(2, 3) + 2", "A", {"A": (2, 3)}, "G", {}),
    ("A @ eye(3)", "A", {"A": (2, 3)}, "G", {}),
]

SIZES = {"n": 3, "m": 2, "p": 4}


def _options(opts: dict) -> dict:
    return {k: v for k, v in opts.items() if k in ("functions", "symmetric")}


@pytest.mark.parametrize("expression, wrt, shapes, expected, opts", RULE_CASES,
                         ids=[f"{c[0]}|{c[1]}" for c in RULE_CASES])
def test_rule_formula_is_proved_and_matches_finite_differences(expression, wrt, shapes, expected, opts):
    g = gradient(expression, wrt, shapes, **_options(opts))
    assert g.formula == expected
    assert parse(g.formula, allow_upstream=True, functions=opts.get("functions", ())) == g.expr
    # The prover, called again here (gradient() already checked on its own shapes): on the symbolic shapes,
    # and on other concrete sizes when the formula names no dimension.
    functions = opts.get("functions", ())
    concrete = concrete_shapes(expression, shapes, SIZES, functions)
    verdict = symderiv.verify(expression, wrt, g.formula, shapes, **_options(opts))
    # Symbolic shapes the all-shapes engine cannot prove are checked at sample sizes: undecided, never refuted.
    assert verdict.holds or verdict.checked_at_sizes, verdict.report()
    if not g.expr.dim_names():
        verdict = symderiv.verify(expression, wrt, g.formula, concrete, **_options(opts))
        assert verdict.holds, verdict.report()
    check_finite_differences(expression, wrt, g.formula, concrete, sizes=SIZES, functions=opts.get("functions", ()),
                             positive=opts.get("positive", False))
    assert hygiene_problems(g.formula, opts.get("functions", ())) == []


def test_every_node_type_has_a_rule():
    node_types = {cls for cls in vars(ex).values()
                  if isinstance(cls, type) and issubclass(cls, ex.Expr) and cls not in (ex.Expr, ex.Unary, ex.Binary)}
    assert node_types <= set(RULES), node_types - set(RULES)


@pytest.mark.parametrize("expression", ["step(A)", "sign(A)", "phi_prime(A)", "relu(step(A) * A)"])
def test_non_differentiable_functions_are_refused_clearly(expression):
    with pytest.raises(UnsupportedError, match="cannot differentiate through"):
        gradient(expression, "A", functions=("phi",))


def test_step_is_fine_where_the_wrt_is_not_inside_it():
    g = gradient("W * step(X)", "W")
    assert g.formula == "G * step(X)"


def test_unbroadcast_sums_back_a_stretched_operand():
    shapes = {"b": ("H", 1), "s": (1, 1), "r": (1, "n")}
    ctx = Context(shape=lambda node: shapes.get(getattr(node, "name", ""), ("H", "n")))
    g, out = ex.Symbol("G"), ex.Symbol("D")
    assert unbroadcast(g, ex.Symbol("b"), out, ctx) == ex.Sum(g, axis=1)
    assert unbroadcast(g, ex.Symbol("r"), out, ctx) == ex.Sum(g, axis=0)
    assert unbroadcast(g, ex.Symbol("s"), out, ctx) == ex.Sum(g)
    assert unbroadcast(g, ex.Symbol("X"), out, ctx) == g


def test_product_rule_is_the_contraction_with_the_other_factor():
    a, b, g = ex.Symbol("A"), ex.Symbol("B"), ex.Symbol("G")
    da, db = backward(ex.MatMul(a, b), g, Context(shape=lambda n: (2, 2)))
    assert da == ex.MatMul(g, ex.Transpose(b))
    assert db == ex.MatMul(ex.Transpose(a), g)


def test_repeated_symbol_contributions_are_accumulated():
    g = gradient("W @ X @ W", "W")
    assert g.formula == "G @ W.T @ X.T + X.T @ W.T @ G"
    check_finite_differences("W @ X @ W", "W", g.formula, {"W": (3, 3), "X": (3, 3)}, sizes={"n": 3})
