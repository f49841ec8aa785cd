"""The entrywise prover: the issue-2 table, wrong variants, witnesses, and the command line."""

import json
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

import symderiv
from symderiv.backends.numeric import finite_difference_gradient
from symderiv.core.errors import NameKindError, OptionError, SymderivError, UnsupportedError
from symderiv.syntax.language import parse

SQ = {"A": (3, 3), "X": (3, 3)}
# (expression, wrt, right claim, shapes, wrong claims)
TABLE = [
    ("W @ X", "W", "G @ X.T", {"W": (3, 2), "X": (2, 4)}, ["X.T @ G", "G @ X.T * 2"]),
    ("W @ X", "X", "W.T @ G", {"W": (3, 2), "X": (2, 4)}, ["G.T @ W", "W.T @ G + W.T @ G"]),
    ("X @ W", "W", "X.T @ G", {"X": (4, 2), "W": (2, 3)}, ["G @ X.T", "X.T @ G * 0.5"]),
    ("W @ X + b", "b", "sum(G, axis=1)", {"W": (3, 2), "X": (2, 4), "b": (3, 1)}, ["sum(G, axis=0).T", "G @ ones(4, 1) * 2"]),
    ("relu(W @ X + b)", "W", "(G * step(W @ X + b)) @ X.T", {"W": (3, 2), "X": (2, 4), "b": (3, 1)}, ["G @ X.T"]),
    ("trace(A @ X @ B)", "X", "A.T @ B.T", {"A": (2, 3), "X": (3, 4), "B": (4, 2)}, ["B @ A", "(B @ A).T * 2"]),
    ("x.T @ A @ x", "x", "(A + A.T) @ x", {"x": (3, 1), "A": (3, 3)}, ["2 * A @ x", "A @ x"]),
    ("det(X)", "X", "det(X) * inv(X).T", {"X": (3, 3)}, ["det(X) * inv(X)", "inv(X).T"]),
    ("logdet(X)", "X", "inv(X).T", {"X": (3, 3)}, ["inv(X)", "det(X) * inv(X).T"]),
    ("sum((W @ X - Y) ** 2)", "W", "2 * (W @ X - Y) @ X.T", {"W": (2, 3), "X": (3, 4), "Y": (2, 4)},
     ["(W @ X - Y) @ X.T", "2 * (W @ X - Y) @ X"[:0] + "2 * X @ (W @ X - Y).T".replace("X @ (W @ X - Y).T", "(W @ X + Y) @ X.T")]),
    ("W2 @ relu(W1 @ X + b1)", "W1", "((W2.T @ G) * step(W1 @ X + b1)) @ X.T",
     {"W2": (2, 3), "W1": (3, 4), "X": (4, 5), "b1": (3, 1)}, ["(W2.T @ G) @ X.T", "((W2.T @ G) * step(W1 @ X)) @ X.T"]),
    ("W2 @ relu(W1 @ X + b1)", "b1", "sum((W2.T @ G) * step(W1 @ X + b1), axis=1)",
     {"W2": (2, 3), "W1": (3, 4), "X": (4, 5), "b1": (3, 1)}, ["sum(W2.T @ G, axis=1)"]),
    ("exp(trace(X))", "X", "exp(trace(X)) * eye(3)", {"X": (3, 3)}, ["exp(trace(X)) * ones(3, 3)"]),
    ("sigmoid(W @ x)", "W", "(G * sigmoid(W @ x) * (1 - sigmoid(W @ x))) @ x.T", {"W": (2, 3), "x": (3, 1)},
     ["(G * sigmoid(W @ x)) @ x.T"]),
    ("tanh(X @ W) @ V", "W", "X.T @ ((G @ V.T) * (1 - tanh(X @ W) ** 2))", {"X": (4, 3), "W": (3, 2), "V": (2, 2)},
     ["X.T @ (G @ V.T)"]),
    ("inv(X)", "X", "-(inv(X).T @ G @ inv(X).T)", {"X": (2, 2)}, ["-(inv(X) @ G @ inv(X))"]),
    ("W / (1 + exp(W))", "W", "G * (1 / (1 + exp(W)) - W * exp(W) / (1 + exp(W)) ** 2)", {"W": (2, 2)},
     ["G / (1 + exp(W))"]),
    ("matpow(A, 2)", "A", "G @ A.T + A.T @ G", {"A": (3, 3)}, ["2 * G @ A.T"]),
]


@pytest.mark.parametrize("expression, wrt, claim, shapes, wrongs", TABLE, ids=[f"{r[0]} wrt {r[1]}" for r in TABLE])
def test_table_right_claim_is_proved_and_wrong_ones_refuted(expression, wrt, claim, shapes, wrongs):
    verdict = symderiv.verify(expression, wrt=wrt, claim=claim, shapes=shapes)
    assert verdict.holds, verdict.report()
    assert verdict.status == "proved" and "proved entrywise" in verdict.reason
    for wrong in wrongs:
        refuted = symderiv.verify(expression, wrt=wrt, claim=wrong, shapes=shapes)
        assert not refuted.holds, wrong
        assert refuted.status in ("refuted", "shape"), refuted.report()


def _number(text):
    # An exact value ("-3/2"), or a rounded display of a huge or irrational one ("≈ -0.0549142377378179").
    text = text.strip().removeprefix("≈").strip()
    try:
        return float(Fraction(text))
    except (ValueError, ZeroDivisionError, OverflowError):
        return float(text)


def _point(verdict, shapes):
    return {name: np.array([[_number(x) for x in row] for row in rows])
            for name, rows in verdict.counterexample.values.items()}


@pytest.mark.parametrize("expression, wrt, claim, shapes, wrongs", TABLE[:12], ids=[r[0] for r in TABLE[:12]])
def test_witness_is_confirmed_by_finite_differences(expression, wrt, claim, shapes, wrongs):
    """The refutation's numbers, re-evaluated by NumPy: the claim's value there is not the gradient's."""
    from symderiv.backends.numeric import evaluate

    for wrong in wrongs:
        v = symderiv.verify(expression, wrt=wrt, claim=wrong, shapes=shapes)
        if v.counterexample is None:  # a shape refutation has no witness
            assert v.reason.startswith("shape")
            continue
        env = _point(v, shapes)
        upstream = env.pop("G", None)
        node = parse(expression)
        fd = finite_difference_gradient(node, wrt, env, upstream)
        claim_value = evaluate(parse(wrong, allow_upstream=True), {**env, "G": upstream} if upstream is not None else env)
        d, c = v.counterexample.entry
        gradient_value, claimed = _number(v.counterexample.gradient_value), _number(v.counterexample.claim_value)
        assert abs(fd[d, c] - gradient_value) < 1e-5 * max(1, abs(fd[d, c]))
        assert abs(claim_value[d, c] - claimed) < 1e-9 * max(1, abs(claim_value[d, c]))
        assert abs(fd[d, c] - claim_value[d, c]) > 1e-6


def test_shape_refusal_and_reason():
    v = symderiv.verify("W @ X", wrt="W", claim="X.T @ G", shapes={"W": (3, 2), "X": (2, 4)})
    assert not v and v.reason.startswith("shape") and v.counterexample is None
    v = symderiv.verify("W @ X", wrt="W", claim="G", shapes={"W": (3, 2), "X": (2, 4)})
    assert not v and "3×4" in v.reason and "3×2" in v.reason


def test_refutation_names_entry_and_witness():
    v = symderiv.verify("W @ X", wrt="W", claim="G @ X", shapes={"W": (3, 3), "X": (3, 3)})
    assert not v.holds and v.counterexample is not None
    cx = v.counterexample
    # The first entry in row-major order is already wrong: (G @ X.T)[0,0] and (G @ X)[0,0] differ as polynomials.
    assert cx.entry == (0, 0)
    assert set(cx.values) == {"W", "X", "G"}
    point = _point(v, None)
    i, j = cx.entry
    assert abs((point["G"] @ point["X"].T)[i, j] - _number(cx.gradient_value)) < 1e-12
    assert abs((point["G"] @ point["X"])[i, j] - _number(cx.claim_value)) < 1e-12
    assert abs(_number(cx.gradient_value) - _number(cx.claim_value)) > 1e-9


def test_symbolic_shapes_are_checked_on_two_distinct_assignments():
    v = symderiv.verify("W @ X", wrt="W", claim="G @ X.T", shapes={"W": ("H", "m"), "X": ("m", "n")})
    assert v.holds
    shapes = v.proof.shapes
    assert len(shapes) >= 2 and shapes[0] != shapes[1]
    assert all(isinstance(d, int) for s in shapes for shape in s.values() for d in shape)


def test_layout_numerator_is_the_transpose():
    shapes = {"W": (3, 2), "X": (2, 4)}
    assert symderiv.verify("W @ X", wrt="W", claim="X @ G.T", shapes=shapes, layout="numerator").holds
    assert not symderiv.verify("W @ X", wrt="W", claim="G @ X.T", shapes=shapes, layout="numerator").holds


def test_symmetric_inputs_share_entries():
    v = symderiv.verify("x.T @ S @ x", wrt="x", claim="2 * S @ x", shapes={"x": (3, 1)}, symmetric=["S"])
    assert v.holds
    assert not symderiv.verify("x.T @ A @ x", wrt="x", claim="2 * A @ x", shapes={"x": (3, 1)}).holds


def test_wrt_symmetric_follows_a_convention_not_the_plain_gradient():
    # 0.2: no longer refused; the plain gradient A.T is neither convention's (tests/test_symmetric_wrt.py)
    shapes = {"S": (3, 3), "A": (3, 3)}
    for convention in ("projection", "entries"):
        assert symderiv.verify("trace(S @ A)", wrt="S", claim="A.T", shapes=shapes, symmetric=["S"],
                               symmetric_convention=convention).status == "refuted"
    assert symderiv.verify("trace(S @ A)", wrt="S", claim="(A + A.T) / 2", shapes=shapes, symmetric=["S"]).holds


def test_generic_functions():
    assert symderiv.verify("phi(W @ X)", wrt="W", claim="(G * phi_prime(W @ X)) @ X.T", functions=["phi"]).holds
    assert not symderiv.verify("phi(W @ X)", wrt="W", claim="(G * phi(W @ X)) @ X.T", functions=["phi"]).holds


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"expression": "W @ X", "wrt": "Q", "claim": "G"}, OptionError),
        ({"expression": "W @ X", "wrt": "W", "claim": "G @ Z.T"}, NameKindError),
        ({"expression": "trace(W)", "wrt": "W", "claim": "G"}, NameKindError),
        ({"expression": "step(W)", "wrt": "W", "claim": "G"}, UnsupportedError),
        ({"expression": "W @ X", "wrt": "W", "claim": "G @ X.T", "layout": "sideways"}, OptionError),
        ({"expression": "W @ X", "wrt": "W", "claim": "G @ X.T", "method": "guess"}, OptionError),
        ({"expression": "W @ X", "wrt": "W", "claim": "G @ X.T", "upstream": "__g"}, SymderivError),
        ({"expression": "W @ X", "wrt": "W", "claim": "G @ ones(q, 1)"}, SymderivError),
    ],
)
def test_bad_requests_raise_symderiv_errors(kwargs, error):
    with pytest.raises(error):
        symderiv.verify(**kwargs)


def test_budget_refuses_before_working():
    with pytest.raises(symderiv.BudgetError, match="budget"):
        symderiv.verify("W @ X", wrt="W", claim="G @ X.T", shapes={"W": (10**4, 10**4), "X": (10**4, 10**4)})


def test_timeout_stops_cleanly():
    with pytest.raises(symderiv.TimeoutError):
        symderiv.verify("W @ X", wrt="W", claim="G @ X.T", shapes={"W": (60, 60), "X": (60, 60)}, timeout=0.001,
                        budget=10**12)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "symderiv.cli", *args], capture_output=True, text=True, timeout=120)


def test_cli_exit_codes():
    ok = run_cli("verify", "W @ X", "--wrt", "W", "--claim", "G @ X.T", "--shape", "W=3,2", "--shape", "X=2,4")
    assert ok.returncode == 0 and "proved" in ok.stdout and "3×2" in ok.stdout
    shape = run_cli("verify", "W @ X", "--wrt", "W", "--claim", "X.T @ G", "--shape", "W=3,2", "--shape", "X=2,4")
    assert shape.returncode == 1 and "shape" in shape.stdout
    entry = run_cli("verify", "W @ X", "--wrt", "W", "--claim", "G @ X", "--shape", "W=3,3", "--shape", "X=3,3")
    assert entry.returncode == 1 and "entry [" in entry.stdout and "witness" in entry.stdout


def test_cli_json():
    out = run_cli("verify", "W @ X", "--wrt", "W", "--claim", "G @ X", "--shape", "W=3,3", "--shape", "X=3,3", "--json")
    data = json.loads(out.stdout)
    assert out.returncode == 1 and data["holds"] is False and data["counterexample"]["entry"]


def test_cli_refuses_code_and_runs_nothing(tmp_path):
    marker = tmp_path / "p"
    out = run_cli("verify", f"__import__('os').system('touch {marker}')", "--wrt", "W", "--claim", "G")
    assert out.returncode == 2 and "Traceback" not in out.stderr and not marker.exists()
    assert "column" in out.stderr


def test_demo_runs():
    out = run_cli("demo")
    assert out.returncode == 0 and "G @ X.T" in out.stdout


def test_subtracting_zero_is_not_negation():
    """Regression: padd(a, {}, -1) once returned -a, which 'proved' ∂(W - zeros)/∂W = -G."""
    shapes = {"W": (2, 2)}
    assert symderiv.verify("W - zeros(2, 2)", wrt="W", claim="G", shapes=shapes).holds
    assert not symderiv.verify("W - zeros(2, 2)", wrt="W", claim="-G", shapes=shapes).holds
    assert symderiv.verify("A / B", wrt="A", claim="G / B", shapes={"A": (2, 2), "B": (2, 2)}).holds
