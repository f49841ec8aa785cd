"""The randomized check reads every fact about a function or an operation from the registry (symderiv.ops)."""

from __future__ import annotations

from fractions import Fraction

import mpmath
import pytest

from symderiv.core.errors import SymderivError
from symderiv.ops import elementwise, language_functions
from symderiv.proofs.random.random_bound import degree_walk
from symderiv.proofs.random.random_real import ExactArith, IntervalArith, NotRational, OffDomain
from symderiv.proofs.random.randomized import verify_random
from symderiv.proofs.verification import parse_claim, prepare

ROWS = sorted(language_functions()) + ["logabs", "phi", "phi_prime"]


def _mp(row, x: Fraction):
    """The row's value at ``x`` as an mpf (piecewise rows return Fractions)."""
    value = row.mpmath(mpmath, mpmath.mpf(x.numerator) / x.denominator)
    return mpmath.mpf(value.numerator) / value.denominator if isinstance(value, Fraction) else mpmath.mpf(value)
POINTS = [Fraction(k, 7) for k in range(-40, 41, 3)] + [Fraction(3, 1000)]


@pytest.mark.parametrize("fn", [n for n in ROWS if elementwise(n).kink])
def test_kinked_functions_are_monotone_on_each_side(fn):
    """Intervals around a kink are enclosed by the hull of the values at the ends and at 0, which needs this."""
    row = elementwise(fn)
    for side in (1, -1):
        xs = sorted(side * Fraction(k, 16) for k in range(1, 200))
        ys = [_mp(row, x) for x in xs]
        steps = [b - a for a, b in zip(ys, ys[1:], strict=False)]
        assert all(s >= 0 for s in steps) or all(s <= 0 for s in steps), fn


@pytest.mark.parametrize("fn", ROWS)
def test_intervals_enclose_the_mpmath_value_and_exact_values_are_exact(fn):
    """Every row in intervals (its ``mpmath`` on mpmath.iv, or its ``interval``) encloses the value at 60 digits;
    where exact rationals give a value, it is the same."""
    row, iv, exact = elementwise(fn), IntervalArith(), ExactArith()
    inside = 0
    for x in POINTS:
        try:
            enclosure = iv.func1(fn, iv.scalar(x))
        except OffDomain:
            assert x == 0 or row.domain == "positive" and x < 0, (fn, x)
            continue
        inside += 1
        with mpmath.workdps(120):
            value = _mp(row, x)
            assert enclosure.a <= value <= enclosure.b, (fn, x)
            try:
                got = exact.func1(fn, x)
            except NotRational:
                continue
            assert abs(mpmath.mpf(got.numerator) / got.denominator - value) < mpmath.mpf(10) ** -50, (fn, x)
    assert inside > len(POINTS) // 3


def test_exact_values_come_from_fold_and_rational():
    exact = ExactArith()
    assert exact.func1("sqrt", Fraction(49, 25)) == Fraction(7, 5)
    assert exact.func1("sigmoid", Fraction(0)) == Fraction(1, 2)
    with pytest.raises(NotRational):
        exact.func1("sqrt", Fraction(2))
    with pytest.raises(OffDomain):
        exact.func1("sign", Fraction(0))


def test_logdet_counts_one_atom_and_the_bound_of_its_gradient():
    """logdet's tangent is read from its gradient inv(X).T, so its bound is trace(inv(X) dX)'s and it draws no
    derivative atom; its expansion logabs(det X) would multiply and divide by det X."""
    pr = prepare("logdet(X)", ["X"], {"X": (5, 5)})
    b = degree_walk(pr, "X", pr.typing, parse_claim(pr, "inv(X).T"))
    assert (b.num, b.den, b.atoms) == (10, 10, 1)


def test_logabs_is_even_at_constants():
    """log|det(-2I)| = log|det(2I)|: one atom (the row is ``even``), so the claim holds, not merely undecided."""
    pr = prepare("logdet(-2 * eye(3)) * W", ["W"], {"W": (2, 2)})
    v = verify_random(pr, "W", "G * logdet(2 * eye(3))", parse_claim(pr, "G * logdet(2 * eye(3))"), seed=3)
    assert v.status == "probabilistic"


def test_matpow_goes_through_its_expansion():
    pr = prepare("matpow(X, 3)", ["X"], {"X": (3, 3)})
    claim = "G @ X.T @ X.T + X.T @ G @ X.T + X.T @ X.T @ G"
    assert verify_random(pr, "X", claim, parse_claim(pr, claim), seed=1).status == "probabilistic"
    wrong = verify_random(pr, "X", "G @ X.T @ X.T", parse_claim(pr, "G @ X.T @ X.T"), seed=1)
    assert wrong.status == "refuted"


@pytest.mark.parametrize("expr", ["logdet(A - A) * W", "logdet(zeros(2, 2)) * W", "logdet(A @ B) * W"])
def test_a_log_determinant_that_is_singular_everywhere_is_an_error(expr):
    """logabs has the domain "nonzero": a determinant that vanishes at every point is no verdict."""
    shapes = {"A": (2, 1), "B": (1, 2), "W": (2, 2)} if "B" in expr else {"A": (2, 2), "W": (2, 2)}
    pr = prepare(expr, ["W"], {k: v for k, v in shapes.items() if k in expr})
    claim = "G * " + expr[: -len(" * W")]
    with pytest.raises(SymderivError, match="vanishing denominator at every random point"):
        verify_random(pr, "W", claim, parse_claim(pr, claim), seed=5)
