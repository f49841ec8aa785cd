"""The randomized test's error bound: degrees, heights (the chance that the prime divides a constant), lanes."""

from __future__ import annotations

import math

from symderiv.proofs.random.random_bound import Bounds, degree_walk, error_bound, lane_error, stated_exponent
from symderiv.proofs.random.randomized import TARGET_BITS, lanes_needed
from symderiv.proofs.verification import parse_claim, prepare, verify


def _bounds(expr: str, wrt: str, claim: str, shapes: dict) -> Bounds:
    pr = prepare(expr, [wrt], shapes)
    return degree_walk(pr, wrt, pr.typing, parse_claim(pr, claim))


def test_heights_count_constants_and_folded_functions_of_constants():
    small = _bounds("W * 3", "W", "G * 3", {"W": (2, 2)})
    big = _bounds("W * (2**60 * 2**60 * 3)", "W", "G * 5", {"W": (2, 2)})
    folded = _bounds("W * relu(2**60 * 2**60 * 3)", "W", "G * 5", {"W": (2, 2)})
    assert small.height < 60 <= big.height
    assert folded.height >= 121  # relu(c) folds to c itself
    assert lane_error(small) < lane_error(folded)


def test_divisibility_is_counted_only_for_large_coefficients():
    base = Bounds(3, 0, 59.0, 0, 0.0, 0)
    assert lane_error(base) == lane_error(Bounds(3, 0, 1.0, 0, 0.0, 0))
    assert lane_error(Bounds(3, 0, 600.0, 0, 0.0, 0)) > lane_error(base)
    # at most ⌊600/60⌋ = 10 primes ≥ 2^60 divide it, out of more than 2^56
    assert math.isclose(lane_error(Bounds(0, 0, 600.0, 0, 0.0, 0)), math.log2(2**-60 + 10 * 2**-56))


def test_determinants_have_factorial_heights():
    b = _bounds("det(X)", "X", "det(X) * inv(X).T", {"X": (25, 25)})
    assert b.height > math.log2(math.factorial(25))


def test_lanes_reach_the_target_for_every_case():
    for expr, wrt, claim, shapes in [
        ("W @ X", "W", "G @ X.T", {"W": (64, 64), "X": (64, 64)}),
        ("relu(W @ X)", "W", "(G * step(W @ X)) @ X.T", {"W": (64, 64), "X": (64, 64)}),
        ("logdet(X)", "X", "inv(X).T", {"X": (40, 40)}),
        ("sum(log(W @ X))", "W", "(1 / (W @ X)) @ X.T", {"W": (8, 6), "X": (6, 9)}),
    ]:
        b = _bounds(expr, wrt, claim, shapes)
        lanes = lanes_needed(b)
        assert lanes is not None and lanes >= 2
        assert error_bound(b, lanes, 64) <= -TARGET_BITS
        if b.atoms == 0:
            small = lanes_needed(b, 21)
            assert small is not None and error_bound(b, small, 21) <= -TARGET_BITS


def test_a_run_states_the_bound_it_reached():
    v = verify("W * (2**60 * 2**60 * 3)", "W", "G * (2**60 * 2**60 * 3)", {"W": (2, 2)}, method="random")
    b = _bounds("W * (2**60 * 2**60 * 3)", "W", "G * (2**60 * 2**60 * 3)", {"W": (2, 2)})
    assert v.status == "probabilistic" and 60 <= v.proof.error_exponent
    lanes = lanes_needed(b, 21)
    assert v.proof.error_exponent == stated_exponent(error_bound(b, lanes, 21))


def test_the_bound_uses_the_primes_actually_drawn():
    b = _bounds("relu(W @ X)", "W", "(G * step(W @ X)) @ X.T", {"W": (3, 4), "X": (4, 5)})
    lanes = lanes_needed(b)
    assert error_bound(b, lanes, 64, [2**62 - 57] * lanes) < error_bound(b, lanes, 64)
    v = verify("relu(W @ X)", "W", "(G * step(W @ X)) @ X.T", {"W": (3, 4), "X": (4, 5)}, method="random")
    assert v.proof.error_exponent >= stated_exponent(error_bound(b, lanes, 64)) >= TARGET_BITS
