"""Witnesses of refutations: points of the domain where the gradient and the claim differ, confirmed.

A refutation names a point. That point must lie in the domain of the expression
*and* of the claim (every ``log`` argument positive, no zero divisor, no singular
``inv``, no function at its kink), checked by evaluating both trees there
(:class:`symderiv.proofs.exact.domain.PointDomain`). The two sides are then evaluated exactly where they are
rational, and otherwise with mpmath at two precisions: a difference counts only
when both precisions agree on it and it is far above the working precision.

For a difference without function atoms (a rational function of the entries),
equality of the exact representation is decided, so a non-zero difference is
certainly non-zero: :func:`polynomial_witness` draws integer points from a range
larger than its degree (Schwartz–Zippel) until one is found.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from symderiv.backends.numbers import (
    CONFIRM_DPS,
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
    to_mp,
)
from symderiv.core.errors import SymderivError
from symderiv.proofs.exact.algebra import Poly, Ratio, Variables

SMALL_VALUES = [Fraction(v) for v in (1, -1, 2, -2, 3, -3)] + [
    Fraction(1, 2), Fraction(-1, 2), Fraction(3, 2), Fraction(-3, 2), Fraction(1, 3), Fraction(-2, 3)]
#: Tuning: the polynomial witness search draws integers up to at least MIN_RANGE in size, and RANGE_FACTOR times
#: the degree bound (a factor ≥ 2 is what its success probability of 1/2 per draw needs; more only helps).
MIN_RANGE = 64  # pragma: no mutate - tuning (above)
RANGE_FACTOR = 4  # pragma: no mutate - tuning (above)
#: Tuning: point draws of one polynomial witness search (each succeeds with probability ≥ 1/2 in a non-empty
#: domain, so any count near this gives up as rarely; a witness found is exact at any count).
POLYNOMIAL_ATTEMPTS = 200  # pragma: no mutate - tuning (above)

Point = dict[int, Any]
NumMatrix = list[list[Any]]


def evaluate(vars_: Variables, r: Ratio, point: Point, cache: dict[int, Any] | None = None) -> Any:
    """The value of ``r`` at ``point`` (base variable → number): exact where possible, else mpmath.

    >>> vs = Variables(); x = vs.entry("W", 0, 0)
    >>> evaluate(vs, Ratio({(x, x): 1}, {(): 2}), {x: Fraction(3)})
    Fraction(9, 2)
    """
    cache = {} if cache is None else cache

    def var_value(v: int) -> Any:
        if v in point:
            return point[v]
        if v in cache:
            return cache[v]
        atom = vars_.atoms.get(v)
        if atom is None:
            raise OutOfDomain(f"no value for {vars_.names[v]}")
        cache[v] = value = apply_fn(atom.fn, evaluate(vars_, atom.arg, point, cache))
        return value

    def poly_value(p: Poly) -> Any:
        total: Any = Fraction(0)
        for mono, c in p.items():
            term: Any = Fraction(c)
            for x in mono:
                term = mul(term, var_value(x))
            total = add(total, term)
        return total

    num = poly_value(r.num)
    if r.fac is None:
        return num
    den: Any = Fraction(1)
    for factor, e in r.factors():
        value = poly_value(factor)
        if value == 0:
            raise OutOfDomain("a denominator vanishes")
        den = mul(den, power(value, e))
    return div(num, den)


# --------------------------------------------------------------------------
# Searching and confirming


@dataclass
class Witness:
    """A confirmed point: the matrices' values there and both sides' values at the failing entry."""

    values: dict[str, list[list[str]]]
    point: Point
    gradient_value: str
    claim_value: str


def _confirm(vars_: Variables, a: Ratio, b: Ratio, point: Point) -> tuple[Any, Any] | None:
    """Both sides at ``point`` if they certainly differ there (exactly, or at two precisions), else None."""
    import mpmath  # type: ignore[import-untyped]

    values = []
    for dps in (WORKING_DPS, CONFIRM_DPS):
        with mpmath.workdps(dps):
            va, vb = evaluate(vars_, a, point), evaluate(vars_, b, point)
        if is_exact(va) and is_exact(vb):
            return (va, vb) if va != vb else None
        values.append((va, vb))
        if dps == WORKING_DPS and _negligible(va, vb):  # the same test as below, without the costly precision
            return None
    (la, lb), (ha, hb) = values
    with mpmath.workdps(CONFIRM_DPS):
        low, high = to_mp(la) - to_mp(lb), to_mp(ha) - to_mp(hb)
        # Far above both precisions, and the same at both: a cancellation would show as a disagreement.
        if _negligible(ha, hb) or abs(high - low) > abs(high) / 1000:
            return None
    return ha, hb


def _negligible(va: Any, vb: Any) -> bool:
    """Whether ``va − vb`` is within 10^(−WORKING_DPS/2) of the larger of 1, |va| and |vb|: too small to tell
    from the rounding of the working precision (the subtraction is made at CONFIRM_DPS digits).

    >>> tiny = [Fraction(1, 10**k) for k in (31, 29)]
    >>> [_negligible(1, 1 + t) for t in tiny], [_negligible(10**9, 10**9 + 10**9 * t) for t in tiny]
    ([True, False], [True, False])
    >>> _negligible(Fraction(1, 2), Fraction(1, 2) + Fraction(15, 10**31))  # against 1, not against |va|
    False
    """
    import mpmath  # type: ignore[import-untyped]

    with mpmath.workdps(CONFIRM_DPS):
        a, b = to_mp(va), to_mp(vb)
        return bool(abs(a - b) <= max(1, abs(a), abs(b)) * mpmath.mpf(10) ** -(WORKING_DPS // 2))


def _witness(instance: Any, point: Point, values: tuple[Any, Any]) -> Witness:
    vars_ = instance.vars
    shown = {name: [[format_number(evaluate(vars_, x, point)) for x in row] for row in m]
             for name, m in instance.bound.items()}
    return Witness(shown, point, format_number(values[0]), format_number(values[1]))


def _base_variables(instance: Any, ratios: Iterable[Ratio]) -> list[int]:
    vars_ = instance.vars
    base: set[int] = set()
    for r in ratios:
        for v in r.variables():
            base |= vars_.base_dependencies(v)
    for m in instance.bound.values():
        for row in m:
            for x in row:
                base.update(x.variables())
    return sorted(base)


#: Tuning: how many small points a search tries before it gives up. A witness found is checked exactly, so any
#: count is as sound: only how often a search gives up, and the time spent, change.
ATTEMPTS = 60  # pragma: no mutate - tuning (above)


def search(instance: Any, a: Ratio, b: Ratio, *, domain: Callable[[Point], None] | None = None, seed: int,
           attempts: int = ATTEMPTS) -> Witness | None:
    """Small rational points (in the domain) where ``a`` and ``b`` certainly differ, or None.

    Points whose numbers are too large to evaluate are skipped, and the values
    are then scaled down, so ``exp(exp(999999 * W))`` is searched near 0.
    """
    rng = random.Random(seed)
    ordered = _base_variables(instance, (a, b))
    scale = Fraction(1)
    for attempt in range(attempts):
        instance.deadline()
        point: Point = {v: rng.choice(SMALL_VALUES) * scale for v in ordered}
        if attempt % 3 == 2:  # every third point all positive: logs and square roots of the inputs need it
            point = {v: abs(x) for v, x in point.items()}
        point = instance.constrain(point)  # onto the assumptions (assume=): a witness must satisfy them
        try:
            values = _confirm(instance.vars, a, b, point)
            if values is not None and domain is not None:
                domain(point)  # only for a candidate: evaluating both whole trees costs more than one entry
        except OutOfRange:
            # Tuning: how fast and how far the points shrink (any such steps find the same witnesses, or others).
            scale = max(scale / 1000, Fraction(1, 10 ** 15))  # pragma: no mutate - tuning (above)
            continue
        except SymderivError:  # the deadline
            raise
        except Exception:  # noqa: BLE001 - OutOfDomain, and mpmath's overflow, domain or convergence errors
            continue
        if values is not None:
            return _witness(instance, point, values)
    return None


def degree(r: Ratio) -> int:
    """A bound on the total degree of the numerator of any sum involving ``r``: the degrees of its numerator
    and of its denominator factors (with their powers), added.

    >>> vs = Variables(); x = vs.entry("W", 0, 0)
    >>> degree(Ratio({(x, x): 1}, {(x,): 1, (): 1}))
    3
    """
    def poly_degree(p: Poly) -> int:
        return max((len(m) for m in p), default=0)

    return poly_degree(r.num) + sum(poly_degree(f) * e for f, e in r.factors())


def polynomial_witness(instance: Any, a: Ratio, b: Ratio, *, domain: Callable[[Point], None] | None = None,
                       seed: int, attempts: int = POLYNOMIAL_ATTEMPTS) -> Witness | None:
    """A point where ``a - b`` (a non-zero rational function, no atoms) is not zero, found by Schwartz–Zippel.

    Integers from ``[-R, R]`` with ``R ≥ RANGE_FACTOR·deg ≥ 2·deg`` (``deg`` bounds the degree of the numerator
    of ``a - b``): each draw misses a root of the numerator with probability ≥ 1/2 (Schwartz–Zippel: at most
    deg/(2R + 1)), so the search only fails when the domain is (nearly) empty or the deadline comes first.
    """
    import mpmath  # type: ignore[import-untyped]

    diff = a - b
    if diff.is_zero():
        return None
    bound = max(MIN_RANGE, RANGE_FACTOR * (degree(a) + degree(b)))
    rng = random.Random(seed)
    ordered = _base_variables(instance, (a, b))
    for attempt in range(attempts):
        instance.deadline()
        low = 1 if attempt % 2 else -bound  # every other point all positive, for the domains of log and sqrt
        point: Point = instance.constrain({v: Fraction(rng.randint(low, bound)) for v in ordered})
        try:
            exact = evaluate(instance.vars, diff, point)
            if not is_exact(exact) or exact == 0:
                continue
            if domain is not None:
                domain(point)
            with mpmath.workdps(WORKING_DPS):
                values = _confirm(instance.vars, a, b, point) or (evaluate(instance.vars, a, point),
                                                                  evaluate(instance.vars, b, point))
        except SymderivError:  # the deadline
            raise
        except Exception:  # noqa: BLE001 - OutOfDomain, and mpmath's overflow, domain or convergence errors
            continue
        return _witness(instance, point, values)
    return None


__all__ = ["evaluate", "Witness", "Point", "NumMatrix", "search", "polynomial_witness", "degree", "SMALL_VALUES"]
