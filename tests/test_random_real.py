"""Real arithmetic of the confirmation: exact rationals and intervals agree, domains and kinks, bounded printing."""

from __future__ import annotations

import time
from fractions import Fraction

import pytest

from symderiv.proofs.random.random_confirm import fmt_value
from symderiv.proofs.random.random_eval import Walker
from symderiv.proofs.random.random_real import ExactArith, IntervalArith, NotRational, OffDomain, RealWalker
from symderiv.proofs.verification import parse_claim, prepare

POINT = {"W": [[Fraction(3, 8), Fraction(-5, 4)], [Fraction(7, 2), Fraction(1, 16)]],
         "X": [[Fraction(1, 2), Fraction(2)], [Fraction(-3, 4), Fraction(5, 8)]],
         "G": [[Fraction(1), Fraction(-1, 2)], [Fraction(3, 2), Fraction(1, 4)]]}


def _pair(expr: str, claim: str, arith, entry=(0, 1)):
    pr = prepare(expr, ["W"], {"W": (2, 2), "X": (2, 2)})  # every expression here has W and X
    walker = RealWalker(pr, "W", pr.typing, arith, POINT)
    unit = arith.matrix([[Fraction(int((i, j) == entry)) for j in range(2)] for i in range(2)])
    left, right = walker.pairing(walker.value(parse_claim(pr, claim)), unit)
    return left[0, 0, 0], right[0, 0, 0]


@pytest.mark.parametrize("expr,claim", [("W @ X", "G @ X.T"), ("inv(W) @ X", "-(inv(W).T @ G @ X.T @ inv(W).T)"),
                                        ("relu(W @ X)", "(G * step(W @ X)) @ X.T"),
                                        ("W * abs(W) + 0 * X", "G * (abs(W) + W * sign(W))")])
def test_exact_tangents_match_the_formulas(expr, claim):
    left, right = _pair(expr, claim, ExactArith())
    assert left == right


def test_intervals_enclose_the_exact_values():
    exact = _pair("W @ X", "2 * G @ X.T", ExactArith())
    enclosed = _pair("W @ X", "2 * G @ X.T", IntervalArith())
    for e, i in zip(exact, enclosed, strict=True):
        assert i.a <= IntervalArith().scalar(e) <= i.b
    left, right = _pair("exp(W @ X)", "G * exp(W @ X) @ X.T", IntervalArith())
    assert 0 in (left - right)  # equal: the interval of the difference contains 0


def test_domains_kinks_and_irrational_values():
    exact, iv = ExactArith(), IntervalArith()
    assert exact.func1("relu", Fraction(0)) == 0 and exact.func1("abs", Fraction(-2)) == 2
    with pytest.raises(OffDomain):
        exact.func1("step", Fraction(0))
    with pytest.raises(NotRational):
        exact.func1("exp", Fraction(1))
    assert exact.func1("sqrt", Fraction(9, 4)) == Fraction(3, 2)
    for fn, x in [("log", -1), ("sqrt", 0), ("exp", 2**70), ("tanh", -(2**70)), ("sign", 0)]:
        with pytest.raises(OffDomain):
            iv.func1(fn, iv.scalar(x))
    with pytest.raises(OffDomain):
        iv.inv_elem(iv.matrix([[Fraction(0)]]))
    with pytest.raises(OffDomain):
        exact.inverse_det(exact.matrix([[Fraction(1), Fraction(2)], [Fraction(2), Fraction(4)]]))


def test_printing_is_bounded():
    iv = IntervalArith()
    start = time.monotonic()
    text = fmt_value(iv.func1("exp", iv.scalar(2**40)))
    assert time.monotonic() - start < 1 and text.startswith("≈ 2^") and len(text) < 40
    assert fmt_value(Fraction(3, 7)) == "3/7"
    assert len(fmt_value(Fraction(10**5000 + 1, 3))) < 40


def test_walker_is_abstract():
    assert issubclass(RealWalker, Walker)
