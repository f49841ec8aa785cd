"""Soundness of second order over random expressions (tests/strategies.py): never a false "proved".

For each random well-shaped expression, ``hvp`` either refuses with a clear SymderivError (a function
differentiable only once, a budget, a time limit) or returns a formula the oracle proved; a proved formula
must then agree with NumPy central finite differences of the proved gradient along a random direction, and
a corrupted claim (scaled by 2, or with the direction transposed into a different term) must not be proved
unless it is numerically the same.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symderiv
from symderiv.core.errors import DerivationError, SymderivError
from symderiv.syntax.language import parse
from symderiv.syntax.shapes import infer_shapes

numeric = pytest.importorskip("symderiv.backends.numeric")
strategies = pytest.importorskip("strategies")

EXAMPLES = int(os.environ.get("SYMDERIV_SECOND_EXAMPLES", 120))
COUNTS = {"cases": 0, "proved": 0, "refused": 0, "fd checked": 0, "corruptions refuted": 0}


def _direction_name(case) -> str:
    name = "V"
    while name in case.shapes:
        name += "V"
    return name


def _finite(*arrays: np.ndarray) -> bool:
    return all(np.all(np.isfinite(a)) and np.max(np.abs(a), initial=0) < 1e6 for a in arrays)


def _fd_check(case, result, direction: str, rng: np.random.Generator) -> float:
    """Compare with finite differences at a random point; the largest entry of the formula there (0 if unusable)."""
    node = parse(case.text, functions=case.functions)
    typing = infer_shapes(node, case.shapes)
    env = {name: rng.uniform(-1, 1, shape) for name, shape in typing.symbols.items()}
    extra = {direction: rng.uniform(-1, 1, typing.symbols[case.wrt])}
    if not result.scalar:
        extra["G"] = rng.uniform(-1, 1, typing.shape_of(node))
    gradient = symderiv.gradient(case.text, case.wrt, shapes=case.shapes, functions=case.functions, check=False)
    h = 1e-6

    def grad_at(t: float) -> np.ndarray:
        moved = {**env, **extra, case.wrt: env[case.wrt] + t * extra[direction]}
        return numeric.evaluate(gradient.expr, moved)

    with np.errstate(all="ignore"):
        want = (grad_at(h) - grad_at(-h)) / (2 * h)
        got = numeric.evaluate(result.expr, {**env, **extra})
    if not _finite(want, got):
        return 0.0
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * (1 + np.max(np.abs(want), initial=0)))
    COUNTS["fd checked"] += 1
    return float(np.max(np.abs(got), initial=0))


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(case=strategies.cases(max_depth=3, max_size=2), seed=st.integers(0, 2**32 - 1))
def test_hvp_of_random_expressions_is_proved_and_matches_finite_differences(case, seed):
    COUNTS["cases"] += 1
    direction = _direction_name(case)
    try:
        result = symderiv.hvp(case.text, case.wrt, direction=direction, shapes=case.shapes,
                              functions=case.functions, timeout=10)
    except DerivationError:
        raise  # the derived formula was not confirmed by the oracle: a bug
    except SymderivError:
        COUNTS["refused"] += 1
        return
    assert result.proof_status == "proved", (case.text, result.proof_reason)
    COUNTS["proved"] += 1
    size = _fd_check(case, result, direction, np.random.default_rng(seed))
    if size < 1e-6:  # zero (or unusable) there: twice it may well be the same
        return
    try:
        verdict = symderiv.hvp(case.text, case.wrt, direction=direction, shapes=case.shapes, functions=case.functions,
                               claim=f"2 * ({result.formula})", timeout=10)
    except SymderivError:
        return
    assert verdict.status != "proved", (case.text, result.formula)
    COUNTS["corruptions refuted"] += verdict.status == "refuted"


def test_counts_are_reported():
    print("second-order soundness:", COUNTS)


SYMBOLIC = {"cases": 0, "proved for all shapes": 0, "checked": 0, "refused": 0, "corruptions not proved": 0}


@settings(max_examples=max(EXAMPLES // 3, 10), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(case=strategies.cases(max_depth=2, max_size=2))
def test_hvp_with_symbolic_shapes_never_proves_a_wrong_claim(case):
    """The all-shapes route (two index-notation gradient proofs and the Hessian's symmetry) on random expressions:
    the derived HVP is proved or checked, never refuted; a corrupted claim is never proved."""
    SYMBOLIC["cases"] += 1
    direction = _direction_name(case)
    options = {"direction": direction, "shapes": case.symbolic_shapes, "functions": case.functions, "timeout": 10}
    try:
        result = symderiv.hvp(case.symbolic_text, case.wrt, **options)
    except DerivationError:
        raise
    except SymderivError:
        SYMBOLIC["refused"] += 1
        return
    assert result.proof_status in ("proved", "checked"), (case.symbolic_text, result.proof_reason)
    SYMBOLIC["proved for all shapes" if result.proof_status == "proved" else "checked"] += 1
    if direction not in result.expr.symbols() or "zeros" in result.formula:  # a zero HVP may equal twice itself
        return
    for wrong in (f"2 * ({result.formula})", f"({result.formula}) + {direction}"):
        try:
            verdict = symderiv.hvp(case.symbolic_text, case.wrt, claim=wrong, **options)
        except SymderivError:
            continue
        assert verdict.status != "proved", (case.symbolic_text, wrong, verdict.reason)
        SYMBOLIC["corruptions not proved"] += 1


def test_symbolic_counts_are_reported():
    print("second-order soundness, symbolic shapes:", SYMBOLIC)
