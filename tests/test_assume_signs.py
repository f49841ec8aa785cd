"""The ``signs`` assumption (alias ``pm1``): every entry of a symbol is +1 or -1, as logistic labels are.

The exact prover decides identities modulo ``y² = 1``; witnesses of refutations have ±1 entries; gradient(),
hvp() and hessian() rewrite ``y ** 2`` to ones; check_backward draws ±1 inputs; the command line takes
``--assume y=signs``. Every proof is checked against finite differences at ±1 inputs (no false proofs).
"""

from __future__ import annotations

import os
from fractions import Fraction

import numpy as np
import pytest

import symderiv
from symderiv.backends.numeric import evaluate
from symderiv.cli import main
from symderiv.core.errors import OptionError
from symderiv.proofs.exact.assumed import normalise
from symderiv.syntax.language import parse
from symderiv.testing import assert_gradient, check_backward
from symderiv.testing.structure import draw

LOGISTIC = "sum(log(1 + exp(-y * (X @ w))))"
SHAPES = {"X": (3, 2), "w": (2, 1), "y": (3, 1)}
S = "sigmoid(-y * (X @ w))"
TEXTBOOK = f"X.T @ ({S} * (1 - {S}) * X)"
SIGNS = {"y": "signs"}


def _numbers(rows: list[list[str]]) -> np.ndarray:
    return np.array([[float(Fraction(x)) for x in row] for row in rows])


def _fd(expression: str, wrt: str, env: dict[str, np.ndarray], h: float = 1e-6) -> np.ndarray:
    """Central finite differences of a scalar expression."""
    node = parse(expression)
    grad = np.zeros_like(env[wrt])
    for idx in np.ndindex(*env[wrt].shape):
        plus, minus = env[wrt].copy(), env[wrt].copy()
        plus[idx] += h
        minus[idx] -= h
        grad[idx] = (evaluate(node, {**env, wrt: plus}).item() - evaluate(node, {**env, wrt: minus}).item()) / (2 * h)
    return grad


def _env(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"X": rng.standard_normal((3, 2)), "w": rng.standard_normal((2, 1)), "y": draw("signs", (3, 1), rng)}


# -- the done-when example -----------------------------------------------------------------------------------

def test_the_logistic_hessian_under_signs_is_the_textbook_one_and_proved():
    h = symderiv.hessian(LOGISTIC, "w", SHAPES, assume=SIGNS)
    assert h.formula == f"X.T @ (X * {S} * (1 - {S}))"
    assert h.proof_status == "proved" and "under the assumption y signs" in h.proof_reason
    assert "y" in h.expr.symbols() and "**" not in h.formula
    symbolic = symderiv.hessian(LOGISTIC, "w", {"X": ("N", "D"), "w": ("D", 1), "y": ("N", 1)}, assume=SIGNS)
    assert symbolic.formula == h.formula and symbolic.proof_status == "proved"
    assert "for all shapes" in symbolic.proof_reason and "y ** 2 = ones(N, 1)" in symbolic.proof_reason
    # without the assumption the y ** 2 stays
    assert "y ** 2" in symderiv.hessian(LOGISTIC, "w", SHAPES).formula


def test_the_textbook_claim_is_proved_under_signs_and_refuted_without():
    v = symderiv.hessian(LOGISTIC, "w", SHAPES, claim=TEXTBOOK, assume={"y": "pm1"})
    assert v.status == "proved" and v.reason.endswith("under the assumption y signs")
    plain = symderiv.hessian(LOGISTIC, "w", SHAPES, claim=TEXTBOOK)
    assert plain.status == "refuted"
    y = _numbers(plain.counterexample.values["y"])
    assert not np.all(np.abs(y) == 1)  # the witness's labels are not ±1 (y = 1/2 somewhere)


def test_the_hvp_under_signs_and_numerically():
    r = symderiv.hvp(LOGISTIC, "w", shapes=SHAPES, assume=SIGNS)
    assert r.formula == f"X.T @ ((X @ V) * {S} * (1 - {S}))" and r.proof_status == "proved"
    rng = np.random.default_rng(3)
    gradient = "-X.T @ (y * sigmoid(-y * (X @ w)))"
    for _ in range(3):
        env = _env(rng)
        got = evaluate(symderiv.hessian(LOGISTIC, "w", SHAPES, assume=SIGNS).expr, env)
        for j in range(2):  # column j of the Hessian: the derivative of the gradient along e_j
            fd = _fd(f"sum(({gradient}) * e)", "w", {**env, "e": np.eye(2)[:, [j]]})
            np.testing.assert_allclose(got[:, [j]], fd, rtol=1e-5, atol=1e-7)


def test_a_claim_wrong_even_under_signs_is_refuted_with_a_sign_witness():
    wrong = f"X.T @ ({S} * (1 + {S}) * X)"
    v = symderiv.hessian(LOGISTIC, "w", SHAPES, claim=wrong, assume=SIGNS)
    assert v.status == "refuted"
    assert np.all(np.abs(_numbers(v.counterexample.values["y"])) == 1)


def test_hvp_takes_the_other_kinds_too():
    ce = "-sum(Y * log_softmax(X, axis=1))"
    shapes = {"X": (2, 3), "Y": (2, 3)}
    h = symderiv.hvp(ce, "X", shapes=shapes, assume={"Y": "onehot_rows"})
    assert h.formula == "softmax(X, axis=1) * (V - sum(V * softmax(X, axis=1), axis=1))"
    assert h.proof_status == "proved" and h.proof_reason.endswith("under the assumption Y onehot_rows")
    assert "sum(Y, axis=1)" in symderiv.hvp(ce, "X", shapes=shapes).formula
    claim = "softmax(X, axis=1) * V"
    assert symderiv.hvp(ce, "X", shapes=shapes, claim=claim, assume={"Y": "onehot_rows"}).status == "refuted"


# -- gradients, verify, the alias, errors --------------------------------------------------------------------

def test_gradient_rewrites_even_and_odd_powers():
    shapes = {"x": ("n", 1), "y": ("n", 1)}
    assert symderiv.gradient("sum(y ** 2 * x)", "x", shapes, assume=SIGNS).formula == "ones(n, 1)"
    g = symderiv.gradient("sum(y ** 3 * x)", "x", shapes, assume=SIGNS)
    assert g.formula == "y" and g.proof_status == "proved"
    assert symderiv.gradient("sum(y ** 2 * x)", "x", shapes).formula == "y ** 2"
    ls = symderiv.gradient("sum((y * (X @ w)) ** 2)", "w", SHAPES, assume=SIGNS)
    assert "y" not in ls.expr.symbols() and ls.proof_status == "proved"


def test_alias_and_unknown_kinds():
    assert normalise({"y": "pm1"}) == {"y": "signs"}
    with pytest.raises(OptionError, match="signs"):
        normalise({"y": "plusminus"})


def test_symbolic_shapes_are_not_proved_by_the_signs_alone():
    v = symderiv.verify("sum(y ** 2 * x)", "x", "ones(n, 1)", {"x": ("n", 1), "y": ("n", 1)}, assume=SIGNS)
    assert v.status == "undecided" and v.checked_at_sizes  # the index engine proves plain identities only


def test_the_randomized_engine_refuses_honestly():
    with pytest.raises(symderiv.SymderivError, match="does not implement"):
        symderiv.verify("sum(y ** 2 * x)", "x", "ones(3, 1)", {"x": (3, 1), "y": (3, 1)}, assume=SIGNS,
                        method="random")


def logistic_backward(dout, X, w, y):
    """The textbook gradient of the squared margin sum((y * (X @ w)) ** 2), valid for labels ±1."""
    return {"w": dout * 2 * X.T @ (X @ w)}


def test_check_backward_draws_signs_and_assert_gradient_takes_them():
    check_backward(logistic_backward, "sum((y * (X @ w)) ** 2)", "w", SHAPES, inputs=["X", "w", "y"], assume=SIGNS)
    with pytest.raises(AssertionError) as err:
        check_backward(logistic_backward, "sum((y * (X @ w)) ** 2)", "w", SHAPES, inputs=["X", "w", "y"])
    assert "missing assumption: it holds when `y` is signs (every entry is +1 or -1)" in str(err.value)
    assert "assume={'y': 'signs'}" in str(err.value)
    assert assert_gradient("sum((y * (X @ w)) ** 2)", "w", "2 * X.T @ X @ w", SHAPES, assume=SIGNS)
    with pytest.raises(AssertionError):
        assert_gradient("sum((y * (X @ w)) ** 2)", "w", "2 * X.T @ X @ w", SHAPES)


def test_command_line(capsys):
    args = ["hessian", LOGISTIC, "--wrt", "w", "--shape", "X=3,2", "--shape", "w=2,1", "--shape", "y=3,1"]
    assert main([*args, "--assume", "y=signs"]) == 0
    assert capsys.readouterr().out.strip() == f"X.T @ (X * {S} * (1 - {S}))"
    assert main([*args, "--assume", "y=pm1", "--claim", TEXTBOOK]) == 0
    out = capsys.readouterr().out
    assert out.startswith("PROVED") and "under the assumption y signs" in out
    assert main([*args, "--claim", TEXTBOOK]) == 1
    capsys.readouterr()
    assert main(["verify", "sum(y ** 2 * x)", "--wrt", "x", "--claim", "ones(3, 1)", "--shape", "x=3,1",
                 "--shape", "y=3,1", "--assume", "y=signs"]) == 0
    assert main([*args, "--assume", "y=signz"]) == 2


# -- soundness: no false proofs against finite differences at ±1 inputs --------------------------------------

SWEEP = [
    LOGISTIC,
    "sum(y ** 2 * (X @ w))",
    "sum((y * (X @ w)) ** 2)",
    "sum(exp(y * (X @ w)) * y)",
    "sum(y ** 3 * (X @ w) ** 2)",
    "sum(tanh(y * y * (X @ w)))",
    "sum(y * (X @ w)) ** 2",
]
CLAIMS = ["X.T @ y", "X.T @ ones(3, 1)", "X.T @ (y * y)", "-X.T @ (y * sigmoid(-y * (X @ w)))",
          "2 * X.T @ X @ w", "X.T @ (1 - tanh(X @ w) ** 2)", "X.T @ exp(X @ w)"]


@pytest.mark.parametrize("expression", SWEEP)
def test_no_false_proof_under_signs(expression):
    claims = set(CLAIMS)
    for assume in (None, SIGNS):
        claims.add(symderiv.gradient(expression, "w", SHAPES, assume=assume, check=False).formula)
    rng = np.random.default_rng(11)
    statuses = set()
    for claim in sorted(claims):
        v = symderiv.verify(expression, "w", claim, SHAPES, assume=SIGNS)
        statuses.add(v.status.value)
        if v.status == "proved":
            for _ in range(4):
                env = _env(rng)
                np.testing.assert_allclose(_fd(expression, "w", env), evaluate(parse(claim), env), rtol=1e-5,
                                           atol=1e-6, err_msg=claim)
        elif v.status == "refuted" and v.counterexample is not None and v.counterexample.gradient_value is not None:
            env = {n: _numbers(v.counterexample.values[n]) for n in ("X", "w", "y")}
            assert np.all(np.abs(env["y"]) == 1), (claim, env["y"])
            i, j = v.counterexample.entry
            assert abs(_fd(expression, "w", env)[i, j] - evaluate(parse(claim), env)[i, j]) > 1e-5, claim
    assert "proved" in statuses and "refuted" in statuses


# -- soundness over random expressions: a held-fixed symbol y replaced by y ** 3, assumed signs ---------------

strategies = pytest.importorskip("strategies")
import test_soundness  # noqa: E402
from guards import CaseTooSlow, cpu_guard  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from symderiv.core import expr as ex  # noqa: E402
from symderiv.core.errors import SymderivError  # noqa: E402
from symderiv.syntax.derivatives import substitute  # noqa: E402
from symderiv.syntax.printing import to_text  # noqa: E402
from symderiv.syntax.shapes import infer_shapes  # noqa: E402

SIGN_EXAMPLES = int(os.environ.get("SYMDERIV_SIGNS_EXAMPLES", 80))
SWEPT = {"cases": 0, "proved": 0, "proved only under signs": 0, "refuted": 0, "fd checked": 0}


def _verdict(text: str, wrt: str, claim: str, shapes: dict, assume: dict | None):
    try:
        return symderiv.verify(text, wrt, claim, shapes, functions=test_soundness.FUNCTIONS, assume=assume,
                               timeout=test_soundness.TIMEOUT)
    except SymderivError:
        return None


def _sweep_case(case, seed: int) -> None:
    others = sorted(set(case.shapes) - {case.wrt})
    if not others:
        return
    y = others[seed % len(others)]
    try:
        node = parse(case.text, functions=test_soundness.FUNCTIONS)
        cubed = substitute(node, {y: ex.Power(ex.Symbol(y), 3)})  # under y = ±1 the same function as node
        text = to_text(cubed)
        plain = symderiv.gradient(case.text, case.wrt, case.shapes, functions=test_soundness.FUNCTIONS, check=False)
    except SymderivError:
        return
    SWEPT["cases"] += 1
    right = parse(plain.formula, functions=test_soundness.FUNCTIONS, allow_upstream=True)
    claims = {"the gradient of the uncubed expression": plain.formula,
              **{k: to_text(v) for k, v in test_soundness.corruptions(right).items()}}
    rng = np.random.default_rng(seed)
    upstream_shape = _upstream_shape(node, case)
    for kind, claim in claims.items():
        v = _verdict(text, case.wrt, claim, case.shapes, {y: "signs"})
        if v is None or v.status == "undecided":
            continue
        if v.status == "proved":
            SWEPT["proved"] += 1
            without = _verdict(text, case.wrt, claim, case.shapes, None)
            SWEPT["proved only under signs"] += without is not None and without.status == "refuted"
            for _ in range(4):  # finite differences of the cubed expression at ±1 values of y
                env, upstream = test_soundness._random_env(case, rng, upstream_shape)
                env[y] = draw("signs", case.shapes[y], rng)
                fd = test_soundness._stable_fd(cubed, env, case.sizes, case.wrt, upstream)
                if fd is None:
                    continue
                value = test_soundness._claim_value(parse(claim, functions=test_soundness.FUNCTIONS,
                                                          allow_upstream=True), env, case.sizes, upstream)
                assert test_soundness._close(np.broadcast_to(value, fd.shape), fd), \
                    f"FALSE PROOF under signs ({kind}): {text} wrt {case.wrt}, {y} signs: {claim}"
                SWEPT["fd checked"] += 1
                break
        elif v.counterexample is not None and v.counterexample.values.get(y) is not None:
            SWEPT["refuted"] += 1
            assert np.all(np.abs(_numbers(v.counterexample.values[y])) == 1), (text, claim)


def _upstream_shape(node, case):  # the upstream's shape, as test_soundness computes it
    return infer_shapes(node, case.shapes).shape_of(node)


@settings(max_examples=SIGN_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(case=strategies.cases(max_depth=2, max_size=2), seed=st.integers(0, 2**32 - 1))
def test_no_false_proof_over_random_expressions_under_signs(case, seed):
    try:
        with cpu_guard(3 * test_soundness.CASE_CPU_SECONDS):
            _sweep_case(case, seed)
    except CaseTooSlow:
        pass


def test_zz_the_random_sweep_did_something():
    if SWEPT["cases"] == 0:
        pytest.skip("the random sweep did not run in this session")
    assert SWEPT["proved"] > 0 and SWEPT["fd checked"] > 0, SWEPT
