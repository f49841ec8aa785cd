"""The two oracles agree: the exact entrywise prover and NumPy central finite differences.

Random expressions come from tests/strategies.py. For each, the prover's exact
gradient (a matrix of rational functions with atoms) is evaluated at a random
point and compared with finite differences of L = Σ G∘E there. Random claims of
the right shape are then verified: any claim the prover accepts must agree with
finite differences too (a wrong "proved" would be caught here).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import cases

import symderiv
from symderiv.entrywise import Instance
from symderiv.errors import SymderivError
from symderiv.numeric import evaluate, finite_difference_gradient
from symderiv.prover import evaluate as exact_value
from symderiv.prover import loss_gradient
from symderiv.verification import prepare

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def _random_env(shapes, seed):
    # Multiples of 1/8 away from 0: exact in binary, so the exact evaluation stays small and kinks are avoided.
    rng = np.random.default_rng(seed)
    return {n: rng.choice([-1, 1], s) * rng.integers(1, 9, s) / 8 for n, s in shapes.items()}


def _prover_gradient_at(case, env, upstream_value):
    problem = prepare(case.text, [case.wrt], case.shapes, functions=case.functions)
    instance = Instance(problem.typing)
    grad, scalar = loss_gradient(instance, problem.expression, case.wrt, "G")
    point = {}
    for name, matrix in instance.bound.items():
        values = upstream_value if name == "G" else env[name]
        for i, row in enumerate(matrix):
            for j, x in enumerate(row):
                (mono,) = x.num
                point[mono[0]] = Fraction(float(values[i][j]))
    return problem, scalar, np.array([[float(exact_value(instance.vars, x, point)) for x in row] for row in grad])


@SETTINGS
@given(cases(max_depth=3), st.integers(0, 2**16))
def test_prover_agrees_with_finite_differences(case, seed):
    env = _random_env(case.shapes, seed)
    try:
        problem = prepare(case.text, [case.wrt], case.shapes, functions=case.functions)
    except SymderivError:
        raise AssertionError(f"strategy produced a bad case: {case.text}") from None
    shape = problem.typing.shape_of(problem.expression)
    upstream = None if shape == (1, 1) else _random_env({"G": shape}, seed + 1)["G"]
    _, scalar, exact = _prover_gradient_at(case, env, upstream)
    fd = finite_difference_gradient(problem.expression, case.wrt, env, upstream, sizes=case.sizes)
    assert np.allclose(exact, fd, rtol=1e-4, atol=1e-5), (case.text, case.wrt, exact, fd)


@SETTINGS
@given(cases(max_depth=2), cases(max_depth=2), st.integers(0, 2**16))
def test_random_claims_are_never_falsely_proved(case, other, seed):
    """Use another random expression (renamed onto this one's symbols) as a claim of the right shape."""
    problem = prepare(case.text, [case.wrt], case.shapes, functions=case.functions)
    want = case.shapes[case.wrt]
    same_shape = [n for n, s in case.shapes.items() if s == want]
    result_shape = problem.typing.shape_of(problem.expression)
    upstream_ok = result_shape == want and result_shape != (1, 1)
    pool = same_shape + (["G"] if upstream_ok else [])
    claim = " + ".join(f"{c} * {n}" for c, n in zip([1, 2, -1], pool, strict=False)) or "zeros(1, 1)"
    if not pool:
        claim = f"zeros({want[0]}, {want[1]})"
    try:
        verdict = symderiv.verify(case.text, wrt=case.wrt, claim=claim, shapes=case.shapes, functions=case.functions)
    except SymderivError as err:
        raise AssertionError(f"{case.text} / {claim}: {err}") from None
    if verdict.holds:
        env = _random_env(case.shapes, seed)
        shape = problem.typing.shape_of(problem.expression)
        upstream = None if shape == (1, 1) else _random_env({"G": shape}, seed)["G"]
        fd = finite_difference_gradient(problem.expression, case.wrt, env, upstream, sizes=case.sizes)
        claimed = evaluate(symderiv.parse(claim, allow_upstream=True, functions=case.functions),
                           {**env, "G": upstream} if upstream is not None else env, sizes=case.sizes)
        assert np.allclose(claimed, fd, rtol=1e-4, atol=1e-5), (case.text, claim)
    else:
        assert verdict.status in ("refuted", "shape", "undecided")
