"""Tests that kill the mutants of the randomized check (``method="random"``): error bound, lanes, verdicts,
confirmation of refutations. Each docstring names the mutants (module:line#index) it was written against.

The error bound is checked against an independent calculation of the formula documented in
:func:`symderiv.random_bound.lane_error` and :func:`symderiv.random_bound.error_bound`, done here in
high-precision linear arithmetic (mpmath), not in the module's log2 domain.
"""

from __future__ import annotations

import math

import mpmath
import pytest

from symderiv.random_bound import Bounds, error_bound, lane_error
from symderiv.randomized import MAX_LANES, lanes_needed

mpmath.mp.prec = 200


def _divides(height: float) -> mpmath.mpf:
    """The chance that a random prime in [2^60, 2^62) divides a non-zero integer below 2^height:
    at most ⌊height/60⌋ such primes divide it, out of more than 2^56 primes."""
    return mpmath.mpf(math.floor(height / 60)) / mpmath.mpf(2) ** 56


def _lane(b: Bounds, size: float) -> mpmath.mpf:
    """One lane: (num + den + 1)/|S| + P(prime | content) + atoms·2^-130, at most 1."""
    p = mpmath.mpf(b.num + b.den + 1) / mpmath.mpf(2) ** size + _divides(b.height)
    p += b.atoms * mpmath.mpf(2) ** -130
    return min(mpmath.mpf(1), p)


def _independent(b: Bounds, lanes: int, sample_bits: float = 64, primes: list[int] | None = None) -> float:
    """log2 of: Π_lanes lane + atoms²/2 · Π_lanes min(1, max(arg_degree, 1)/|S| + P(prime | arg difference)),
    at most 1; |S| = min(2^sample_bits, p) with p ≥ 2^60 (or the prime drawn)."""
    sizes = [min(sample_bits, 60.0)] * lanes if primes is None else \
        [min(sample_bits, float(mpmath.log(p, 2))) for p in primes]
    total = mpmath.mpf(1)
    for s in sizes:
        total *= _lane(b, s)
    if b.atoms:
        pairs = mpmath.mpf(b.atoms) ** 2 / 2
        for s in sizes:
            pairs *= min(mpmath.mpf(1), mpmath.mpf(max(b.arg_degree, 1)) / mpmath.mpf(2) ** s +
                         _divides(b.arg_height))
        total += pairs
    return float(mpmath.log(min(mpmath.mpf(1), total), 2))


BOUNDS = [
    Bounds(3, 0, 5.0, 0, 0.0, 0),
    Bounds(3, 2, 5.0, 0, 0.0, 0),
    Bounds(1, 0, 0.0, 0, 0.0, 0),
    Bounds(40, 7, 59.9, 0, 0.0, 0),
    Bounds(40, 7, 60.0, 0, 0.0, 0),
    Bounds(40, 7, 250.0, 0, 0.0, 0),
    Bounds(1000, 30, 1300.0, 0, 0.0, 0),
    Bounds(3, 0, 5.0, 2, 3.0, 2**21),
    Bounds(7, 1, 10.0, 5, 61.0, 12),
    Bounds(7, 1, 10.0, 0, 200.0, 1),
    Bounds(2**20, 2**10, 700.0, 2**18, 900.0, 2**30),
    Bounds(2**58, 0, 5.0, 0, 0.0, 0),  # one lane alone says nothing: each lane is capped at 1
    Bounds(5, 0, 5.0, 2**62, 0.0, 4),  # a pair term capped at 1
]


@pytest.mark.parametrize("b", BOUNDS, ids=lambda b: f"num{b.num}-den{b.den}-h{b.height}-atoms{b.atoms}")
@pytest.mark.parametrize("lanes,sample_bits", [(1, 64), (2, 64), (3, 21), (5, 60), (7, 40)])
def test_the_error_bound_is_the_documented_formula(b, lanes, sample_bits):
    """The stated bound 2^-k is exactly the documented one: never smaller (overclaiming), never needlessly larger.

    Kills random_bound.py mutants of lane_error, error_bound, _divisible and _log2sum (e.g. the ``+ 1`` of
    ``num + den + 1``, ``- 130``, ``2 * log2(atoms) - 1``, the floor's divisor, the caps at 0)."""
    got = error_bound(b, lanes, sample_bits)
    want = _independent(b, lanes, sample_bits)
    assert got == pytest.approx(want, abs=1e-9), (got, want)


@pytest.mark.parametrize("b", BOUNDS[:9], ids=lambda b: f"num{b.num}-h{b.height}-atoms{b.atoms}")
def test_the_error_bound_with_the_primes_drawn_is_the_documented_formula(b):
    """With the primes actually drawn, |S| is the smaller of 2^sample_bits and the lane's prime.
    Kills random_bound.py mutants of the ``primes`` branch of error_bound."""
    primes = [2**60 + 33, 2**61 - 1, 2**62 - 57]
    for sample_bits in (64, 21, 60.5):
        got = error_bound(b, 3, sample_bits, primes)
        assert got == pytest.approx(_independent(b, 3, sample_bits, primes), abs=1e-9)


@pytest.mark.parametrize("b", BOUNDS[:8], ids=lambda b: f"num{b.num}-h{b.height}-atoms{b.atoms}")
@pytest.mark.parametrize("sample_bits", [60, 21, 33.5])
def test_one_lane_error_is_the_documented_formula(b, sample_bits):
    """lane_error: log2((num + den + 1)/|S| + ⌊height/60⌋/2^56 + atoms·2^-130), at most 0."""
    assert lane_error(b, sample_bits) == pytest.approx(_independent(Bounds(b.num, b.den, b.height, 0, 0.0, 0), 1,
                                                                    sample_bits)
                                                       if not b.atoms else
                                                       float(mpmath.log(_lane(b, sample_bits), 2)), abs=1e-9)


def _lanes_independent(b: Bounds, sample_bits: float = 64) -> int | None:
    for lanes in range(2, 200):
        if _independent(b, lanes, sample_bits) <= -60:
            return lanes if lanes <= 64 else None
    return None


@pytest.mark.parametrize("num", [3, 2**20, 2**40, 2**50 + 2**47, 2**57, 2**58 + 2**57, 2**59 - 2**52])
@pytest.mark.parametrize("sample_bits", [64, 21])
def test_lanes_needed_are_the_fewest_that_reach_2_to_the_minus_60(num, sample_bits):
    """At least 2 lanes, the fewest whose bound is ≤ 2^-60, and None (undecided) beyond 64 lanes.
    Kills randomized.py mutants of lanes_needed, TARGET_BITS and MAX_LANES."""
    b = Bounds(num, 0, 5.0, 0, 0.0, 0)
    assert lanes_needed(b, sample_bits) == _lanes_independent(b, sample_bits)


def test_at_most_64_lanes_are_used():
    """A degree bound that needs exactly 64 lanes is tested; one that needs 65 is not (randomized.py MAX_LANES)."""
    assert MAX_LANES == 64
    # one lane erring with probability (num + 1)/2^60 just below 2^(-60/64) needs 64 lanes; 2^(-60/65): 65
    at64 = Bounds(int(2 ** (60 - 60 / 64) * (1 - 1e-9)), 0, 5.0, 0, 0.0, 0)
    at65 = Bounds(int(2 ** (60 - 60 / 65) * (1 - 1e-9)), 0, 5.0, 0, 0.0, 0)
    assert _independent(at64, 64) <= -60 < _independent(at64, 63)
    assert lanes_needed(at64) == 64
    assert _independent(at65, 65) <= -60 < _independent(at65, 64)
    assert lanes_needed(at65) is None


# -- verdicts of method="random" -------------------------------------------------------------------------------

import re  # noqa: E402
from fractions import Fraction  # noqa: E402

from symderiv.errors import BudgetError, OptionError, SymderivError  # noqa: E402
from symderiv.field import is_prime  # noqa: E402
from symderiv.randomized import verify_random  # noqa: E402
from symderiv.verification import parse_claim, prepare, verify  # noqa: E402

WX = {"W": (3, 2), "X": (2, 4)}


def test_verify_random_itself_refutes_a_claim_of_the_wrong_shape():
    """verify_random, called directly, gives the same ``shape:`` refutation as verify() (randomized.py:114)."""
    pr = prepare("W @ X", ["W"], WX)
    bad = verify_random(pr, "W", "X.T", parse_claim(pr, "X.T"), seed=1)
    assert bad.status == "refuted" and bad.reason == "shape: the claim is 4×2 but ∂L/∂W is 3×2"
    assert bad.counterexample is None
    num = prepare("W @ X", ["W"], WX, layout="numerator")
    assert verify_random(num, "W", "X @ G.T", parse_claim(num, "X @ G.T"), seed=1).status == "probabilistic"


def test_a_refutation_carries_a_real_witness_whose_values_are_right():
    """The witness point and both values are exact: ∂L/∂W[i,j] = Σ_k G[i,k]·X[j,k], and the claim adds 1
    (randomized.py _refuted: the entry, the point, the two values)."""
    v = verify("W @ X", "W", "G @ X.T + 1", WX, method="random")
    assert v.status == "refuted" and not v.holds and v.exit_code == 1
    cx = v.counterexample
    i, j = cx.entry
    point = {n: [[Fraction(x) for x in row] for row in m] for n, m in cx.values.items()}
    assert set(point) == {"W", "X", "G"}
    want = sum(point["G"][i][k] * point["X"][j][k] for k in range(4))
    assert Fraction(cx.gradient_value) == want and Fraction(cx.claim_value) == want + 1
    assert f"differs at entry [{i},{j}] on {{W: 3×2, X: 2×4}}" in v.reason
    assert f"∂L/∂W[{i},{j}] = {cx.gradient_value} but the claim gives {cx.claim_value}" in v.reason
    assert "at entry [" in v.reason.split("found the difference")[1]


def _located(reason: str) -> tuple[int, int]:
    found = re.search(r"found the difference at entry \[(\d+),(\d+)\] modulo the prime (\d+)$", reason)
    assert found, reason
    assert is_prime(int(found.group(3))) and 2**60 <= int(found.group(3)) < 2**62
    return int(found.group(1)), int(found.group(2))


@pytest.mark.parametrize("seed", range(4))
def test_the_bisection_locates_an_entry_that_differs(seed):
    """A claim wrong on the diagonal only is located on the diagonal, one wrong off it off it, and the
    confirmed entry is the located one (randomized.py _locate, _evaluate)."""
    pr = prepare("W @ X", ["W"], {"W": (4, 4), "X": (4, 3)})
    for claim, on_diagonal in [("G @ X.T + eye(4)", True), ("G @ X.T + ones(4, 4) - eye(4)", False)]:
        v = verify_random(pr, "W", claim, parse_claim(pr, claim), seed=seed)
        i, j = _located(v.reason)
        assert v.status == "refuted" and (i == j) == on_diagonal, v.reason
        assert v.counterexample.entry == (i, j)


def test_a_degree_beyond_64_primes_is_undecided_with_its_figures():
    """W^(2^60) needs more than 64 lanes: undecided, stating the degree bound 2^60 + 1 (randomized.py _check_one)."""
    e = "W"
    for _ in range(10):
        e = f"({e}) ** 64"
    v = verify(e, "W", "G", {"W": (2, 1)}, method="random")
    assert v.status == "undecided" and v.exit_code == 4
    assert v.reason == (f"undecided: the degree bound ({2**60 + 1}) is too large for a randomized test to reach an "
                        "error bound of 2^-60 within 64 primes on {W: 2×1}")


def test_the_budget_is_the_cost_of_all_lanes_and_a_budget_equal_to_it_runs():
    """``budget=`` bounds lanes × the cost of one lane; exactly that much is enough (randomized.py _check_one)."""
    with pytest.raises(BudgetError) as err:
        verify("W @ X", "W", "G @ X.T", WX, method="random", budget=100)
    assert str(err.value).startswith("the randomized check needs about 984 field operations (4 random primes and "
                                     "points), over the budget of 100")
    assert "budget=" in err.value.hint
    with pytest.raises(BudgetError):
        verify("W @ X", "W", "G @ X.T", WX, method="random", budget=983)
    assert verify("W @ X", "W", "G @ X.T", WX, method="random", budget=984).status == "probabilistic"


def test_an_identically_singular_expression_is_an_error_not_a_verdict():
    """A denominator that vanishes at every point: SymderivError after six draws (randomized.py _check_one)."""
    with pytest.raises(SymderivError) as err:
        verify("sum(inv(X @ Y))", "X", "zeros(3, 1)", {"X": (3, 1), "Y": (1, 3)}, method="random")
    assert "vanishing denominator at every random point" in str(err.value)
    assert "singular" in err.value.hint


@pytest.mark.parametrize("kwargs", [{"budget": 0}, {"budget": -5}, {"budget": True}, {"budget": 2.5},
                                    {"seed": -1}, {"seed": True}, {"seed": 1.0}])
def test_verify_random_refuses_bad_budgets_and_seeds(kwargs):
    """randomized.py _check_options."""
    pr = prepare("W @ X", ["W"], WX)
    with pytest.raises(OptionError):
        verify_random(pr, "W", "G @ X.T", parse_claim(pr, "G @ X.T"), **kwargs)


def test_good_budgets_and_seeds_are_accepted():
    """budget 1e12 and seed 0 are fine (randomized.py _check_options)."""
    pr = prepare("W @ X", ["W"], WX)
    assert verify_random(pr, "W", "G @ X.T", parse_claim(pr, "G @ X.T"), budget=10**12, seed=0).holds
