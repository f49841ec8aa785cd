"""Named tests for the surviving mutants of the verdict logic (issue 11, mutation wave).

Each test asserts a behaviour a user relies on -- a status, an exit code, a witness, a message with its
figures -- and names in its docstring the mutant (``module:line#index`` of ``tools/mutation.py``) that it
kills. Run ``python tools/mutation.py --module status.py --jobs 1`` (and so on) to see them at work.
"""

from __future__ import annotations

import json
import time
from fractions import Fraction

import mpmath
import numpy as np
import pytest

import symderiv
from symderiv import cli
from symderiv.backends.numbers import (
    WORKING_DPS,
    OutOfDomain,
    OutOfRange,
    add,
    apply_fn,
    div,
    format_number,
    is_exact,
    mul,
    power,
    sub,
    to_mp,
)
from symderiv.backends.numeric import evaluate
from symderiv.core.errors import BudgetError, TimeoutError
from symderiv.core.status import Status
from symderiv.proofs import verification
from symderiv.proofs.exact import prover
from symderiv.proofs.exact.algebra import Variables
from symderiv.proofs.exact.domain import PointDomain
from symderiv.proofs.exact.entrywise import Deadline, Instance
from symderiv.proofs.exact.polynomial import Ratio
from symderiv.proofs.exact.prover import _sympy_equal, compare
from symderiv.proofs.exact.witness import _confirm, degree, polynomial_witness, search
from symderiv.proofs.exact.witness import evaluate as exact_value
from symderiv.proofs.exact.witness import evaluate as witness_evaluate
from symderiv.syntax.language import parse
from symderiv.syntax.shapes import infer_shapes

# -- status.py: exit codes and the printed status ---------------------------------------------------------


def test_a_command_line_usage_error_exits_2(capsys):
    """status.py:16#8 (EXIT_USAGE 2 → 3): a missing required option is a usage error, exit 2 (SPEC 6)."""
    assert cli.main(["verify", "W @ X", "--claim", "G @ X.T"]) == 2
    assert "--wrt" in capsys.readouterr().err
    assert cli.main([]) == 2  # no subcommand: the help, and a usage exit


def test_an_internal_error_exits_3_with_a_bug_report(monkeypatch, capsys):
    """status.py:16#9 (EXIT_BUG 3 → 4): an unexpected exception is a bug, exit 3, never 4 (undecided)."""
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(verification, "verify", broken)
    assert cli.main(["verify", "W", "--wrt", "W", "--claim", "G", "--shape", "W=1,2"]) == 3
    err = capsys.readouterr().err
    assert "internal error (RuntimeError: boom)" in err and "This is a bug" in err


def test_a_status_prints_as_its_name():
    """status.py:28#11 (``__str__`` returns None): ``str`` and f-strings of a status give its plain name."""
    assert [str(s) for s in Status] == ["proved", "probabilistic", "refuted", "undecided"]
    assert f"status {Status.UNDECIDED}" == "status undecided"


# -- prover.py: counterexamples as printed, the witness helpers, the SymPy second chance ------------------


def _instance(text: str, shapes: dict):
    node = parse(text)
    instance = Instance(infer_shapes(node, shapes, text=text))
    return node, instance


def test_a_refutation_prints_both_entries_in_full_and_the_witness():
    """prover.py:284#66 (the printing of an entry stops after its first term): a counterexample shows every term
    of both entries, the factored denominator with its power, and both values at the witness."""
    v = symderiv.verify("sum(W*W)/sum(W)", wrt="W", claim="W", shapes={"W": (1, 2)})
    assert v.status == "refuted"
    assert v.counterexample is not None and v.counterexample.entry == (0, 0)
    assert v.report().splitlines()[2:] == [
        "at entry [0,0]: ∂L/∂W[0,0] = (W[0,0]**2 + 2*W[0,0]*W[0,1] - W[0,1]**2) / (W[0,0] + W[0,1])**2",
        "              but the claim gives W[0,0]",
        "witness: W = [[1, 3]]",
        "         there ∂L/∂W[0,0] = -1/8 but the claim gives 1"]
    # The printed values are right: (1 + 6 - 9) / 16 = -1/8 at W = [[1, 3]].
    v = symderiv.verify("W * W", wrt="W", claim="G * W - 3", shapes={"W": (1, 2)})
    assert v.counterexample.gradient_entry == "2*W[0,0]*G[0,0]"
    assert v.counterexample.claim_entry == "-3 + W[0,0]*G[0,0]"


def test_log_of_an_absolute_value_prints_with_bars():
    """prover.py:249#59, 250#60 (logabs printed as ``logabs(...)``, or not at all): logdet in an entry prints as
    ``log|…|``, the function it is."""
    v = symderiv.verify("logdet(X)", wrt="X", claim="inv(X).T + logdet(X) - logdet(X.T)*2", shapes={"X": (1, 1)})
    assert v.status == "refuted"
    assert v.counterexample.claim_entry == "(1 - X[0,0]*log|X[0,0]|) / (X[0,0])"
    assert "log|X[0,0]|" in v.report()


def test_the_search_returns_a_point_where_the_difference_is_not_zero():
    """witness.search (prover.py's find_witness, a test-only wrapper, is gone): a non-zero difference has a
    witness, and zero has none."""
    node, instance = _instance("W", {"W": (1, 2)})
    w = instance.evaluate(node)
    diff = w[0][0] * w[0][1] - Ratio.const(1)  # W[0,0]*W[0,1] - 1: not zero, but zero at (1, 1)
    found = search(instance, diff, Ratio({}), seed=0)
    assert found is not None
    assert exact_value(instance.vars, diff, found.point) != 0
    x, y = (Fraction(s) for s in found.values["W"][0])
    assert x * y != 1
    assert search(instance, w[0][0] - w[0][0], Ratio({}), seed=0) is None


def test_compare_refuses_matrices_of_different_shapes():
    """prover.py:109#34 (the shape outcome replaced by None): ``compare`` of a 1×2 gradient with a 2×1 claim
    is a ``shape`` outcome naming both shapes, not a crash."""
    node, instance = _instance("W", {"W": (1, 2)})
    w = instance.evaluate(node)
    outcome = compare(instance, w, [[w[0][0]], [w[0][1]]], "W")
    assert outcome.status == "shape"
    assert outcome.detail == "shape: the claim is 2×1 but ∂L/∂W is 1×2"


def test_the_sympy_second_chance_proves_a_function_identity_and_uses_up_its_allowance():
    """prover.py:211#16 (the allowance is never used up, and a call without one crashes): SymPy decides
    sqrt(W)**2 = W with or without a shared allowance; the allowance shrinks by the time spent; none left
    means no second chance."""
    node, instance = _instance("sqrt(W) * sqrt(W)", {"W": (1, 1)})
    a = instance.evaluate(node)[0][0]
    b = instance.evaluate(parse("W"))[0][0]
    assert not a.equals(b)
    assert _sympy_equal(instance.vars, a, b)  # as derivation.py calls it: no allowance
    allowance = [60.0]
    assert _sympy_equal(instance.vars, a, b, None, allowance)
    assert allowance[0] < 60.0
    assert not _sympy_equal(instance.vars, a, b, None, [0.0])


def test_the_sympy_second_chance_never_equates_two_different_rational_functions():
    """prover.py:186#77 (the guard for differences without function atoms returns True): W[0,0] and W[0,0] + 1
    are not equal, even in an instance that has function atoms elsewhere (as derivation.py calls it)."""
    node, instance = _instance("sqrt(W)", {"W": (1, 2)})
    instance.evaluate(node)  # registers the atoms sqrt(W[0,0]), sqrt(W[0,1])
    w = instance.evaluate(parse("W"))[0]
    assert instance.vars.atoms
    assert not _sympy_equal(instance.vars, w[0], w[0] + Ratio.const(1))
    assert not _sympy_equal(instance.vars, w[0] * w[1], w[1] * w[1])


SIGMOID_IDENTITY = "G + (tanh(W) - 2 * sigmoid(2 * W) + 1)"  # true (tanh(x) = 2 sigmoid(2x) - 1), but undecidable here


def test_an_undecided_verdict_names_the_entries_and_shows_the_first_one():
    """prover.py:132#99 (the first undecided entry is dropped): an undecided verdict lists the entries that
    differ formally and prints the first of them in full, with no witness line."""
    v = symderiv.verify("W", wrt="W", claim=SIGMOID_IDENTITY, shapes={"W": (1, 2)})
    assert v.status == "undecided"
    assert v.reason.startswith("entries [(0, 0), (0, 1)] differ as formal expressions but agree at every point")
    assert v.reason.endswith("on {W: 1×2}")
    cx = v.counterexample
    assert cx is not None and cx.entry == (0, 0) and cx.gradient_value is None
    assert v.report().splitlines()[2:] == [
        "at entry [0,0]: ∂L/∂W[0,0] = G[0,0]",
        "              but the claim gives 1 + G[0,0] + tanh(W[0,0]) - 2*sigmoid(2*W[0,0])"]


def test_an_entry_whose_search_runs_out_of_time_is_undecided_never_proved(monkeypatch):
    """prover.py:122#139 (an entry cut off by the time limit counts as equal): when the deadline stops the
    witness search of a differing entry, the verdict is undecided, names that entry, and says why."""
    def out_of_time(*args, **kwargs):
        raise TimeoutError("stopped after the time limit of 1 s")

    monkeypatch.setattr(prover, "search", out_of_time)
    v = symderiv.verify("W", wrt="W", claim=SIGMOID_IDENTITY, shapes={"W": (1, 2)})
    assert v.status == "undecided" and not v.holds
    assert v.reason.startswith("entry (0, 0) differs as a formal expression; the time limit ran out")
    assert v.counterexample is not None and v.counterexample.entry == (0, 0)


def test_compare_checks_every_row():
    """prover.py:135#36 (the comparison stops after the first row): a difference in the last row only is
    refuted there. (Through ``verify`` rows are interchangeable, so ``compare`` is called directly.)"""
    node, instance = _instance("x", {"x": (2, 1)})
    x = instance.evaluate(node)
    outcome = compare(instance, x, [x[0], [x[1][0] * x[1][0]]], "x")
    assert outcome.status == "refuted" and outcome.detail == "differs at entry [1,0]"
    assert outcome.counterexample is not None and outcome.counterexample.entry == (1, 0)
    assert outcome.counterexample.gradient_value != outcome.counterexample.claim_value
    assert compare(instance, x, [x[0], x[1]], "x").status == "proved"


def test_the_sympy_second_chance_does_not_run_past_the_deadline():
    """prover.py:192#105 (the time left is end + now, not end - now): once the caller's deadline has passed,
    SymPy is not run and the entries are not shown equal."""
    node, instance = _instance("sqrt(W) * sqrt(W)", {"W": (1, 1)})
    a = instance.evaluate(node)[0][0]
    b = instance.evaluate(parse("W"))[0][0]
    deadline = Deadline(0.001)
    time.sleep(0.01)
    assert not _sympy_equal(instance.vars, a, b, deadline, [60.0])
    assert _sympy_equal(instance.vars, a, b, Deadline(60.0), [60.0])


# -- numbers.py: values, domains and the bounded printing of the numbers at a witness ---------------------


@pytest.mark.parametrize(("fn", "x"), [("log", 0), ("log", -1), ("sqrt", 0), ("sqrt", Fraction(-1, 4)),
                                       ("relu", 0), ("step", 0), ("abs", 0), ("sign", 0), ("logabs", 0)])
def test_a_function_outside_its_domain_or_at_its_kink_is_out_of_domain(fn, x):
    """numbers.py: the domain checks of apply_fn (log and sqrt need x > 0, no function at its kink)."""
    with pytest.raises(OutOfDomain):
        apply_fn(fn, Fraction(x))


def test_piecewise_functions_have_their_exact_values():
    """numbers.py: relu, step, abs and sign are exact at a witness, on both sides of 0."""
    values = {fn: (apply_fn(fn, Fraction(-3, 2)), apply_fn(fn, Fraction(5, 2))) for fn in ("relu", "step", "abs", "sign")}
    assert values == {"relu": (0, Fraction(5, 2)), "step": (0, 1), "abs": (Fraction(3, 2), Fraction(5, 2)),
                      "sign": (-1, 1)}
    assert all(is_exact(v) for pair in values.values() for v in pair)
    # numbers.py:99#108, 105#113 (the threshold 0 moved to 1): between 0 and 1 too.
    half = Fraction(1, 2)
    assert [apply_fn(fn, half) for fn in ("relu", "step", "abs", "sign")] == [half, 1, half, 1]


def test_smooth_functions_have_their_values():
    """numbers.py: exp, log, sqrt, sin, cos, tan, tanh, sigmoid, log|x| and the generic phi (sin z + z/3) and its
    derivative, at the working precision."""
    with mpmath.workdps(WORKING_DPS):
        got = {fn: apply_fn(fn, Fraction(-1, 2) if fn == "logabs" else Fraction(1, 2))
               for fn in ("exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid", "logabs", "phi", "phi_prime")}
        h = mpmath.mpf(1) / 2
        want = {"exp": mpmath.exp(h), "log": mpmath.log(h), "sqrt": mpmath.sqrt(h), "sin": mpmath.sin(h),
                "cos": mpmath.cos(h), "tan": mpmath.tan(h), "tanh": mpmath.tanh(h), "sigmoid": 1 / (1 + mpmath.exp(-h)),
                "logabs": mpmath.log(h), "phi": mpmath.sin(h) + h / 3, "phi_prime": mpmath.cos(h) + mpmath.mpf(1) / 3}
        for fn in want:
            assert abs(got[fn] - want[fn]) < mpmath.mpf(10) ** -55, fn


def test_tan_at_its_pole_is_out_of_domain():
    """numbers.py: tan at pi/2 (to the working precision) is outside the domain, tan at 1 is not."""
    with mpmath.workdps(WORKING_DPS):
        with pytest.raises(OutOfDomain, match="pole"):
            apply_fn("tan", mpmath.pi / 2)
        assert abs(apply_fn("tan", mpmath.mpf(1)) - mpmath.tan(1)) < mpmath.mpf(10) ** -55


def test_arguments_beyond_the_limit_are_out_of_range_but_the_limit_itself_is_evaluated():
    """numbers.py: exp(2**20) is evaluated; exp(2**20 + 1) and sin(-(2**20 + 1)) are out of range (a search then
    tries smaller values); log and sqrt take any size."""
    assert apply_fn("exp", Fraction(2 ** 20)) > 0
    for fn, x in (("exp", 2 ** 20 + 1), ("sin", -(2 ** 20) - 1)):
        with pytest.raises(OutOfRange, match=f"{fn} of a number of size"):
            apply_fn(fn, Fraction(x))
    assert apply_fn("log", Fraction(2) ** 30) > 20 and apply_fn("sqrt", Fraction(2) ** 40) == 2 ** 20


def test_exact_arithmetic_stays_exact_and_mixes_with_floats():
    """numbers.py: add, sub, mul, div and power of Fractions are exact; with an mpmath number they are mpmath;
    division by zero and a non-integer power of a non-positive number are out of the domain."""
    a, b = Fraction(1, 3), Fraction(-2, 5)
    assert (add(a, b), sub(a, b), mul(a, b), div(a, b)) == (Fraction(-1, 15), Fraction(11, 15), Fraction(-2, 15),
                                                           Fraction(-5, 6))
    assert power(Fraction(2), -2) == Fraction(1, 4) and power(Fraction(-2), 3) == -8 and power(b, 0) == 1
    with mpmath.workdps(WORKING_DPS):
        m = mpmath.mpf(2)
        assert (add(a, m), sub(a, m), mul(a, m), div(a, m)) == (to_mp(a) + 2, to_mp(a) - 2, to_mp(a) * 2, to_mp(a) / 2)
        assert (add(m, a), sub(m, a), mul(m, a), div(m, a)) == (2 + to_mp(a), 2 - to_mp(a), 2 * to_mp(a), 2 / to_mp(a))
        assert power(m, 3) == 8 and power(Fraction(9), Fraction(1, 2)) == 3
        assert power(Fraction(1, 4), Fraction(1, 2)) == mpmath.mpf(1) / 2  # numbers.py:85#77: 0 < x < 1 is fine
    for x, y in ((a, 0), (a, Fraction(0))):
        with pytest.raises(OutOfDomain):
            div(x, y)
    for x in (Fraction(0), Fraction(-4)):
        with pytest.raises(OutOfDomain):
            power(x, Fraction(1, 2))


def test_numbers_print_in_full_up_to_3000_bits_then_from_their_logarithm():
    """numbers.py: format_number writes a Fraction of up to 3000 bits digit by digit, a larger one (or an
    mpmath number of magnitude above 2**3000) as ≈ mantissa e exponent, with its sign."""
    assert format_number(Fraction(2 ** 3000 - 1)) == str(2 ** 3000 - 1)
    assert format_number(Fraction(-3, 2)) == "-3/2" and format_number(7) == "7"
    assert format_number(Fraction(2 ** 3000)) == "≈ 1.230232e+903"
    assert format_number(Fraction(-(2 ** 3001))) == "≈ -2.460464e+903"
    assert format_number(Fraction(1, 2 ** 3001)) == "≈ 4.064274e-904"
    with mpmath.workdps(WORKING_DPS):
        assert format_number(to_mp(2) ** 2999) == mpmath.nstr(to_mp(2) ** 2999, 12)
        assert format_number(-to_mp(2) ** 3001) == "≈ -2.460464e+903"
        assert format_number(to_mp(2) ** -3001) == mpmath.nstr(to_mp(2) ** -3001, 12)
        assert format_number(to_mp(2) ** -3002) == "≈ 2.032137e-904"
        assert format_number(mpmath.mpf(0)) == "0.0" and format_number(mpmath.inf) == "+inf"
        assert format_number(mpmath.mpf(1) / 3) == "0.333333333333"


# -- witness.py: the domain's numeric evaluation, confirmation, the searches ------------------------------

A_VALUES = [[Fraction(0), Fraction(2), Fraction(1, 2)], [Fraction(3), Fraction(1), Fraction(-1)],
            [Fraction(1, 3), Fraction(-2), Fraction(5)]]  # A[0,0] = 0: Gauss-Jordan must swap rows
B_VALUES = [[Fraction(1), Fraction(-1, 2), Fraction(2)], [Fraction(2), Fraction(3), Fraction(1)],
            [Fraction(-1), Fraction(1), Fraction(4)]]


def _domain_at(text: str, values: dict):
    """The PointDomain of ``text`` evaluated at ``values`` (name → rows of Fractions), and the node."""
    node = parse(text)
    values = {k: v for k, v in values.items() if k in node.symbols()}
    instance = Instance(infer_shapes(node, {k: (len(v), len(v[0])) for k, v in values.items()}, text=text))
    point = {}
    for name, rows in values.items():
        for r, row in enumerate(instance.symbol(name)):
            for c, entry in enumerate(row):
                (var,) = entry.variables()
                point[var] = rows[r][c]
    domain = PointDomain(instance, [node])
    domain(point)
    return domain, node


@pytest.mark.parametrize("text", [
    "A + B", "A - B", "A * B", "A / B", "A @ B.T", "-A", "A ** 3", "A.T", "exp(A) - sin(B)", "trace(A @ B)",
    "sum(A)", "sum(A, axis=0)", "sum(A, axis=1)", "det(A)", "det(B)", "logdet(A)", "inv(A)", "inv(B) @ A",
    "matpow(A, 3)", "matpow(A, 0)", "A + sum(B)", "A * sum(A, axis=0)", "A - sum(B, axis=1)", "sum(A, axis=1) / B",
    "2 * A", "A / 3", "0.5 * A + ones(3, 3) - eye(3)", "sqrt(B * B) + abs(A - 7)"])
def test_the_domain_evaluates_every_node_to_its_value(text):
    """domain.py PointDomain (formerly in witness.py) (every ``_v_`` rule, the broadcasting, Gauss–Jordan with a row swap): the numbers
    the domain computes at a point are the node's values, as NumPy computes them."""
    domain, node = _domain_at(text, {"A": A_VALUES, "B": B_VALUES})
    got = np.array([[float(x) for x in row] for row in domain.values[node]])
    env = {"A": np.array(A_VALUES, dtype=float), "B": np.array(B_VALUES, dtype=float)}
    want = evaluate(node, env)
    assert got.shape == want.shape and np.allclose(got, want, rtol=1e-12, atol=1e-12), (got, want)


@pytest.mark.parametrize("text", ["C * D", "C - sum(D, axis=1)", "C / sum(D, axis=0)", "C + D.T", "C @ D - D"])
def test_the_domain_broadcasts_two_by_two_matrices(text):
    """witness.py:142#206 (a dimension of 2 broadcast as if it were 1): elementwise operations of 2×2
    matrices and their broadcasts take every entry."""
    c = [[Fraction(1), Fraction(-2)], [Fraction(3, 2), Fraction(5)]]
    d = [[Fraction(2), Fraction(7)], [Fraction(-1, 3), Fraction(4)]]
    domain, node = _domain_at(text, {"C": c, "D": d})
    got = np.array([[float(x) for x in row] for row in domain.values[node]])
    want = evaluate(node, {"C": np.array(c, dtype=float), "D": np.array(d, dtype=float)})
    assert np.allclose(got, want, rtol=1e-12, atol=1e-12), (got, want)


def test_det_and_inverse_are_exact_at_a_rational_point():
    """witness.py _solve: det and inv of a rational matrix are exact Fractions (the sign of a row swap kept)."""
    domain, node = _domain_at("det(A)", {"A": [[Fraction(0), Fraction(1)], [Fraction(1), Fraction(0)]]})
    assert domain.values[node] == [[Fraction(-1)]]
    domain, node = _domain_at("inv(A)", {"A": [[Fraction(0), Fraction(2)], [Fraction(4), Fraction(0)]]})
    assert domain.values[node] == [[0, Fraction(1, 4)], [Fraction(1, 2), 0]]


@pytest.mark.parametrize("text", ["inv(A)", "logdet(A)", "A / det(A)"])
def test_a_singular_matrix_is_outside_the_domain_of_inv_and_logdet(text):
    """witness.py _solve: inv and logdet need a non-singular matrix (det alone may be 0, then only its
    division fails)."""
    singular = {"A": [[Fraction(1), Fraction(2)], [Fraction(2), Fraction(4)]]}
    with pytest.raises(OutOfDomain):
        _domain_at(text, singular)
    domain, node = _domain_at("det(A)", singular)
    assert domain.values[node] == [[0]]


def test_a_nearly_singular_float_matrix_is_outside_the_domain_of_inv():
    """witness.py _solve: a matrix of mpmath numbers that is singular to the working precision is outside the
    domain of inv; a well-conditioned one is inverted."""
    with mpmath.workdps(WORKING_DPS):
        e = mpmath.exp(1)
        with pytest.raises(OutOfDomain):
            _domain_at("inv(exp(A))", {"A": [[Fraction(1), Fraction(1)], [Fraction(1), Fraction(1)]]})
        domain, node = _domain_at("inv(exp(A))", {"A": [[Fraction(0), Fraction(1)], [Fraction(1), Fraction(0)]]})
        inv = domain.values[node]
        want = mpmath.inverse(mpmath.matrix([[1, e], [e, 1]]))
        assert all(abs(inv[i][j] - want[i, j]) < mpmath.mpf(10) ** -50 for i in range(2) for j in range(2))


# -- verification.py ----------------------------------------------------------------------------------------


def test_a_randomized_pass_at_sample_sizes_is_never_more_than_undecided(monkeypatch):
    """verification.py:318#101 (the downgraded verdict keeps holds=True): whatever the randomized engine
    says at the sample sizes of symbolic shapes, verify reports undecided, not holding, exit 4, and says why."""
    from symderiv.proofs.random import randomized

    def probabilistic(problem, wrt, claim, claim_node, **kwargs):
        record = verification.ProofRecord("random", [{"W": (2, 3), "X": (3, 4)}], error_exponent=70)
        return verification.Verdict(True, "probabilistic", "probabilistic: holds", problem.text, wrt, claim,
                                    None, record)

    monkeypatch.setattr(randomized, "verify_random", probabilistic)
    v = symderiv.verify("W @ X", wrt="W", claim="G @ X.T", shapes={"W": ("m", "n"), "X": ("n", "k")},
                        method="random")
    assert v.status == "undecided" and v.holds is False and not bool(v) and v.exit_code == 4
    assert v.checked_at_sizes
    assert v.reason == ("undecided: probabilistic: holds; it holds at the sample sizes {W: 2×3, X: 3×4}, but "
                        "that is a check, not a proof for all shapes")
    assert v.report().startswith("UNDECIDED")


def _scalar_instance(shapes=None):
    vs = Variables()
    instance = Instance(infer_shapes(parse("W"), shapes or {"W": (1, 2)}), vs)
    w = [x for row in instance.symbol("W") for x in row]
    return vs, instance, w


def test_exact_evaluation_refuses_a_vanishing_denominator_and_a_missing_value():
    """witness.py evaluate: x*y / (x - y)**2 is exact at a point, outside the domain where x = y, and a point
    without a value for y is refused."""
    vs, instance, (x, y) = _scalar_instance()
    (vx,), (vy,) = x.variables(), y.variables()
    d = x - y
    r = x * y / (d * d)
    assert degree(r) == 2 + 2
    assert witness_evaluate(vs, r, {vx: Fraction(3), vy: Fraction(1)}) == Fraction(3, 4)
    with pytest.raises(OutOfDomain, match="denominator"):
        witness_evaluate(vs, r, {vx: Fraction(2), vy: Fraction(2)})
    with pytest.raises(OutOfDomain, match="no value"):
        witness_evaluate(vs, r, {vx: Fraction(2)})


def test_the_searches_find_no_witness_of_an_identity():
    """witness.py search, polynomial_witness: equal sides (exp(x)*exp(-x) and 1; x*y and y*x) have no witness."""
    vs, instance, (x, y) = _scalar_instance()
    one = Ratio.var(vs.atom("exp", x)) * Ratio.var(vs.atom("exp", Ratio.const(-1) * x))
    assert search(instance, one, Ratio.const(1), seed=0) is None
    assert polynomial_witness(instance, x * y, y * x, seed=0) is None


def test_a_polynomial_witness_respects_a_domain_of_positive_values():
    """witness.py polynomial_witness: when the domain needs every entry positive, the witness is positive, and
    both values there are exact and differ by the difference's value."""
    vs, instance, (x, y) = _scalar_instance()

    def positive(point):
        if any(v <= 0 for v in point.values()):
            raise OutOfDomain("log of a non-positive number")

    a, b = x * x * y, x * y + Ratio.const(5)
    found = polynomial_witness(instance, a, b, domain=positive, seed=1)
    assert found is not None
    px, py = (Fraction(s) for s in found.values["W"][0])
    assert px > 0 and py > 0
    assert Fraction(found.gradient_value) == px * px * py and Fraction(found.claim_value) == px * py + 5
    assert px * px * py != px * py + 5
    found = search(instance, a, b, domain=positive, seed=1)
    assert found is not None and all(Fraction(s) > 0 for s in found.values["W"][0])
    assert Fraction(found.gradient_value) != Fraction(found.claim_value)


def test_a_proved_verdict_as_a_dict_and_as_json():
    """verification.py:109#41, 110#42 (ProofRecord defaults), 248#62 (strict by default), to_dict/to_json
    (169#50, 178#51, 178#131, 178#132): the machine-readable result of an exact proof, field by field."""
    v = symderiv.verify("W @ X", wrt="W", claim="G @ X.T", shapes={"W": (3, 2), "X": (2, 4)})
    assert v.to_dict() == {
        "holds": True, "status": "proved", "reason": "proved entrywise on {W: 3×2, X: 2×4}", "expression": "W @ X",
        "wrt": "W", "claim": "G @ X.T", "counterexample": None,
        "proof": {"method": "exact", "all_shapes": False, "strict": False, "error_exponent": None,
                  "shapes": [{"W": [3, 2], "X": [2, 4]}]}}
    text = v.to_json()
    assert json.loads(text) == v.to_dict()
    assert text.startswith('{\n  "holds": true,\n  "status": "proved",\n') and "{W: 3×2, X: 2×4}" in text


def test_a_refuted_verdict_as_a_dict_carries_its_counterexample():
    """verification.py to_dict: a refutation's dict has status refuted, holds false and the witness values."""
    v = symderiv.verify("sum(W*W)/sum(W)", wrt="W", claim="W", shapes={"W": (1, 2)})
    d = v.to_dict()
    assert (d["holds"], d["status"]) == (False, "refuted")
    assert d["counterexample"] == {"entry": [0, 0], "gradient_entry": v.counterexample.gradient_entry,
                                   "claim_entry": "W[0,0]", "values": {"W": [["1", "3"]]},
                                   "gradient_value": "-1/8", "claim_value": "1"}


def test_an_all_shapes_proof_says_where_it_was_checked():
    """verification.py:371#125, 372#110, 374#79 (the record and reason of an all-shapes proof): the proof is
    for all shapes, exact, and names the sample sizes of its concrete second opinion."""
    v = symderiv.verify("W @ X", wrt="W", claim="G @ X.T", shapes={"W": ("H", "m"), "X": ("m", "n")})
    assert v.status == "proved" and v.holds
    assert v.reason == ("proved for all shapes (index notation) and checked entrywise on {W: 2×3, X: 3×4} and "
                        "{W: 3×4, X: 4×2}")
    assert (v.proof.method, v.proof.all_shapes, v.proof.strict) == ("exact", True, False)
    assert v.proof.describe() == ("for all shapes (index notation), and checked entrywise on {W: 2×3, X: 3×4} and "
                                  "{W: 3×4, X: 4×2}")


def test_an_all_shapes_proof_whose_second_opinion_is_skipped_says_so():
    """verification.py:362#152 (the skipped second opinion's record): still proved for all shapes, with no
    sample shapes, and the reason names the budget figure."""
    v = symderiv.verify("W @ X", wrt="W", claim="G @ X.T", shapes={"W": ("H", "m"), "X": ("m", "n")}, budget=1)
    assert v.status == "proved"
    assert (v.proof.method, v.proof.all_shapes, v.proof.shapes) == ("exact", True, [])
    assert v.proof.describe() == "for all shapes (index notation)"
    assert v.reason.startswith("proved for all shapes (index notation); the concrete second opinion was skipped "
                               "(an exact entrywise proof of `W @ X` on W: 2×3, X: 3×4 needs about ")


def test_the_budget_refusals_name_their_costs():
    """verification.py:22#0, 197#90, 197#115 (the strict cost factor 60 × the entries of wrt), 337 (both refusals
    joined): the estimated work is in the message, and strict mode costs 60·rows·cols times more."""
    shapes = {"W": (3, 2), "X": (2, 4)}
    with pytest.raises(BudgetError) as plain:
        symderiv.verify("W @ X", wrt="W", claim="G @ X.T", shapes=shapes, budget=10)
    assert plain.value.message.startswith("an exact entrywise proof of `W @ X` on W: 3×2, X: 2×4 needs about 120 "
                                          "term operations")
    assert "over the budget of 10; and the randomized check needs about" in plain.value.message
    with pytest.raises(BudgetError) as strict:
        symderiv.verify("W @ X", wrt="W", claim="G @ X.T", shapes=shapes, budget=100, strict=True)
    assert strict.value.message.startswith("an exact entrywise proof of `W @ X` on W: 3×2, X: 2×4 in strict mode "
                                           "needs about 4.32e+04 term operations")  # 120 × 60 × 3 × 2


def test_a_probabilistic_verdict_as_a_dict():
    """verification.py:110#42 (ProofRecord strict by default): a randomized verdict's record is not strict,
    and carries its method and error exponent."""
    v = symderiv.verify("W @ X", wrt="W", claim="G @ X.T", shapes={"W": (3, 2), "X": (2, 4)}, method="random")
    proof = v.to_dict()["proof"]
    assert v.status == "probabilistic" and v.holds
    assert (proof["method"], proof["all_shapes"], proof["strict"]) == ("random", False, False)
    assert proof["error_exponent"] == v.proof.error_exponent and proof["error_exponent"] >= 60
    assert v.report().startswith(f"PROVED (probabilistic, error ≤ 2^-{proof['error_exponent']})  ∂L/∂W = G @ X.T")


def test_a_long_entry_is_printed_cut_at_300_characters():
    """prover.py:236#55 (the limit 300 → 301), 241, 284 (cutting the terms): a counterexample's entry is at most
    300 characters and a mark, however long the polynomial."""
    v = symderiv.verify("sum((W @ X) ** 4)", wrt="W", claim="W", shapes={"W": (3, 3), "X": (3, 3)})
    entry = v.counterexample.gradient_entry
    assert v.status == "refuted" and len(entry) == 302 and entry.endswith(" …")
    assert entry.startswith("4*W[0,0]**3*X[0,0]**4 + ")
    assert v.counterexample.claim_entry == "W[0,0]"


def test_an_undecided_verdict_names_at_most_four_entries():
    """prover.py:143 (the first four undecided entries): five formally different entries, four named."""
    v = symderiv.verify("W", wrt="W", claim=SIGMOID_IDENTITY, shapes={"W": (1, 5)})
    assert v.status == "undecided"
    assert v.reason.startswith("entries [(0, 0), (0, 1), (0, 2), (0, 3)] differ as formal expressions")


def test_an_entry_of_exactly_300_characters_is_printed_whole():
    """prover.py:241#86 (``<=`` → ``<``): the 300-character limit is inclusive; five terms with 48- and
    49-digit coefficients print to exactly 300 characters, with no cut mark."""
    coefficients = ["1" * 49, "2" * 48, "3" * 48, "4" * 48, "5" * 48]
    claim = " + ".join(f"{c} * W ** {k}" for k, c in enumerate(coefficients, start=1))
    v = symderiv.verify("sum(W)", wrt="W", claim=claim, shapes={"W": (1, 1)})
    entry = v.counterexample.claim_entry
    assert v.status == "refuted" and len(entry) == 300
    assert entry == " + ".join(f"{c}*W[0,0]" + (f"**{k}" if k > 1 else "") for k, c in enumerate(coefficients, 1))


def test_every_third_search_point_is_all_positive():
    """witness.py:323#121 (``attempt % 3`` → ``attempt // 3``): the third point of a search is all positive,
    so a witness inside a domain that needs every entry positive (log, sqrt of the inputs) is found within three
    points even for nine entries."""
    vs, instance, _ = _scalar_instance({"W": (3, 3)})
    w = [x for row in instance.symbol("W") for x in row]

    def positive(point):
        if any(v <= 0 for v in point.values()):
            raise OutOfDomain("log of a non-positive number")

    total = w[0]
    for x in w[1:]:
        total = total + x
    found = search(instance, total, Ratio.const(0), domain=positive, seed=0, attempts=3)
    assert found is not None
    assert all(Fraction(s) > 0 for row in found.values["W"] for s in row)
    # witness.py:323#150, 323#52: points 2, 5, 8, ... are all positive, and only they are forced to be.
    seen = []

    def nowhere(point):
        seen.append(point)
        raise OutOfDomain("an empty domain")

    assert search(instance, total + Ratio.const(1000), Ratio.const(0), domain=nowhere, seed=0,
                  attempts=12) is None
    assert len(seen) == 12
    positive_points = [k for k, point in enumerate(seen) if all(v > 0 for v in point.values())]
    assert positive_points == [2, 5, 8, 11]


@pytest.mark.parametrize(("layout", "proved", "refuted"), [
    ("denominator", "-inv(W).T @ x @ y.T @ inv(W).T", "-inv(W) @ y @ x.T @ inv(W)"),
    ("numerator", "-inv(W) @ y @ x.T @ inv(W)", "-inv(W).T @ x @ y.T @ inv(W).T"),
])
def test_the_layout_decides_which_transpose_is_proved_through_an_inverse(layout, proved, refuted):
    """verification.py:202#134, 210#57 (the layout given to the inverse-atom route and to the entrywise proof):
    ∂(x.T inv(W) y)/∂W is proved in its own layout and refuted, with a witness, in the other."""
    shapes = {"W": (2, 2), "x": (2, 1), "y": (2, 1)}
    v = symderiv.verify("x.T @ inv(W) @ y", wrt="W", claim=proved, shapes=shapes, layout=layout)
    assert v.status == "proved", v.report()
    assert not v.checked_at_sizes  # verification.py:146#45
    v = symderiv.verify("x.T @ inv(W) @ y", wrt="W", claim=refuted, shapes=shapes, layout=layout)
    assert v.status == "refuted" and v.counterexample.gradient_value is not None, v.report()


def _vanishing_on(w, values):
    p = Ratio.const(1)
    for k in values:
        p = p * (w - Ratio.const(k))
    return p


def test_the_polynomial_search_range_counts_the_degree_of_both_sides():
    """witness.py:369#155 (the degrees of the two sides subtracted): 0 against a polynomial of degree 129 that
    vanishes at every integer of [-64, 64] still has a witness, outside that range."""
    vs, instance, _ = _scalar_instance({"W": (1, 1)})
    (w,) = instance.symbol("W")[0]
    p = _vanishing_on(w, range(-64, 65))
    found = polynomial_witness(instance, Ratio.const(0), p, seed=0)
    assert found is not None
    x = Fraction(found.values["W"][0][0])
    assert abs(x) > 64 and Fraction(found.claim_value) != 0 and Fraction(found.gradient_value) == 0


def test_a_polynomial_that_vanishes_on_the_whole_domain_has_no_witness():
    """witness.py:378#128 (a root of the difference taken as a witness): when the domain is
    the integers 1..64 and the difference vanishes at each of them, the claim holds there and no witness is
    returned."""
    vs, instance, _ = _scalar_instance({"W": (1, 1)})
    (w,) = instance.symbol("W")[0]
    p = _vanishing_on(w, range(1, 65))

    def one_to_64(point):
        (x,) = point.values()
        if not (1 <= x <= 64):
            raise OutOfDomain("outside 1..64")

    assert polynomial_witness(instance, p, Ratio.const(0), domain=one_to_64, seed=0) is None


def test_an_exact_difference_is_refuted_even_between_sides_too_large_to_tell_apart():
    """witness.py:383#160 (the exact fallback dropped): W[0,0] + exp(200·W[0,1]) against exp(200·W[0,1]) differ
    by exactly W[0,0]; at positive points both sides are near e^200 and agree to the working precision, but
    the exact difference is not zero, so the point is still a witness."""
    vs, instance, (x, y) = _scalar_instance()
    big = Ratio.var(vs.atom("exp", Ratio.const(200) * y))

    def positive(point):
        if any(v <= 0 for v in point.values()):
            raise OutOfDomain("log of a non-positive number")

    found = polynomial_witness(instance, x + big, big, domain=positive, seed=0)
    assert found is not None
    assert all(Fraction(s) > 0 for s in found.values["W"][0])


def test_a_stable_difference_below_half_the_working_precision_is_not_a_witness():
    """witness.py:284 (``or`` → ``and`` in the final check of _confirm): exp(x) against exp(x) + 10^-35 differs
    stably at both precisions, but by less than 10^-30 of its size: not far enough above the working precision
    to count. 10^-25 does count."""
    vs = Variables()
    x = vs.entry("W", 0, 0)
    e = Ratio.var(vs.atom("exp", Ratio.var(x)))
    assert _confirm(vs, e, e + Ratio.const(Fraction(1, 10 ** 35)), {x: Fraction(1)}) is None
    assert _confirm(vs, e, e + Ratio.const(Fraction(1, 10 ** 25)), {x: Fraction(1)}) is not None


def test_a_failed_sympy_simplification_never_shows_entries_equal(monkeypatch):
    """prover.py:206#132 (an exception in SymPy counted as equal): when SymPy fails, the entries are not shown
    equal, and a true but undecidable claim stays undecided."""
    from symderiv.backends import to_sympy

    def broken(*args, **kwargs):
        raise RuntimeError("SymPy failed")

    node, instance = _instance("sqrt(W) * sqrt(W)", {"W": (1, 1)})
    a = instance.evaluate(node)[0][0]
    b = instance.evaluate(parse("W"))[0][0]
    monkeypatch.setattr(to_sympy, "ratio_to_sympy", broken)
    assert not _sympy_equal(instance.vars, a, b)
    v = symderiv.verify("W", wrt="W", claim="G + (sqrt(W) * sqrt(W) - W)", shapes={"W": (1, 2)})
    assert v.status == "undecided" and not v.holds, v.report()


def test_fractional_coefficients_print_with_their_signs():
    """prover.py:280#146, 282#147 (the sign tests ``c < 0`` moved to ``c < 1``): coefficients between 0 and 1 print
    without a minus sign, negative ones with it."""
    v = symderiv.verify("sum(W)", wrt="W", claim="W / 2 + W ** 2 / 3 - 3 * W ** 3 / 4", shapes={"W": (1, 1)})
    assert v.counterexample.claim_entry == "1/2*W[0,0] + 1/3*W[0,0]**2 - 3/4*W[0,0]**3"
    assert v.counterexample.gradient_entry == "1"
