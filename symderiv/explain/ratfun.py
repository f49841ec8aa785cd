"""Exact rational functions of commuting atoms, for collecting elementwise terms (:mod:`symderiv.explain.collect`).

A polynomial is a mapping from exponent vectors (one exponent per atom) to ``Fraction`` coefficients; a rational
function is a numerator over a list of non-constant denominator factors. Products cancel a factor whenever it
divides the numerator exactly (multivariate division in the lexicographic order), which is all the collection of
a backward pass needs: ``(-y / s + (1 - y) / (1 - s)) * s * (1 - s)`` is ``s - y``. Pure Python on purpose: no
SymPy (whose simplifiers sympify internally, which symderiv does not allow during a call).

>>> s, y = atom(0, 2), atom(1, 2)
>>> one = constant(1, 2)
>>> f = add(neg(div(y, s)), div(sub(one, y), sub(one, s)))
>>> g = mul(mul(f, s), sub(one, s))
>>> g.den, sorted(g.num.items())
([], [((0, 1), Fraction(-1, 1)), ((1, 0), Fraction(1, 1))])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

Monomial = tuple[int, ...]
Poly = dict[Monomial, Fraction]


@dataclass
class Rational:
    """``num / (den[0] * den[1] * ...)``: each factor a non-constant polynomial; ``width`` atoms in all."""

    num: Poly
    width: int
    den: list[Poly] = field(default_factory=list)


def _clean(p: Poly) -> Poly:
    return {m: c for m, c in p.items() if c != 0}


def p_add(a: Poly, b: Poly) -> Poly:
    out = dict(a)
    for m, c in b.items():
        out[m] = out.get(m, Fraction(0)) + c
    return _clean(out)


def p_scale(a: Poly, k: Fraction) -> Poly:
    return _clean({m: c * k for m, c in a.items()})


def p_mul(a: Poly, b: Poly) -> Poly:
    out: Poly = {}
    for m1, c1 in a.items():
        for m2, c2 in b.items():
            m = tuple(x + y for x, y in zip(m1, m2, strict=True))
            out[m] = out.get(m, Fraction(0)) + c1 * c2
    return _clean(out)


def p_divide(a: Poly, b: Poly) -> Poly | None:
    """``a / b`` when ``b`` divides ``a`` exactly, else None (division by leading terms, lexicographic order)."""
    if not b:
        return None
    lead_b = max(b)
    quotient: Poly = {}
    rest = dict(a)
    for _ in range(10_000):  # the leading monomial falls at every pass; the bound only guards the loop
        if not rest:
            return quotient
        lead = max(rest)
        if any(x < y for x, y in zip(lead, lead_b, strict=True)):
            return None
        m = tuple(x - y for x, y in zip(lead, lead_b, strict=True))
        k = rest[lead] / b[lead_b]
        quotient[m] = quotient.get(m, Fraction(0)) + k
        rest = p_add(rest, p_scale(p_mul({m: Fraction(1)}, b), -k))
    return None  # pragma: no cover - see the bound above


def is_constant(p: Poly) -> bool:
    return all(not any(m) for m in p)


def _product(factors: list[Poly], width: int) -> Poly:
    out: Poly = {(0,) * width: Fraction(1)}
    for f in factors:
        out = p_mul(out, f)
    return out


def atom(index: int, width: int) -> Rational:
    """The ``index``-th atom of ``width`` as a rational function."""
    return Rational({tuple(1 if n == index else 0 for n in range(width)): Fraction(1)}, width)


def constant(value: Fraction | int, width: int) -> Rational:
    return Rational(_clean({(0,) * width: Fraction(value)}), width)


def _cancel(num: Poly, den: list[Poly], width: int) -> Rational:
    left: list[Poly] = []
    for f in den:
        q = p_divide(num, f)
        if q is None:
            left.append(f)
        else:
            num = q
    return Rational(num, width, left)


def add(a: Rational, b: Rational) -> Rational:
    shared = list(a.den)
    only_b: list[Poly] = []
    for f in b.den:
        if f in shared:
            shared.remove(f)
        else:
            only_b.append(f)
    width = a.width
    na = p_mul(a.num, _product(only_b, width)) if only_b else a.num
    nb = p_mul(b.num, _product(shared, width)) if shared else b.num
    return _cancel(p_add(na, nb), a.den + only_b, width)


def neg(a: Rational) -> Rational:
    return Rational(p_scale(a.num, Fraction(-1)), a.width, list(a.den))


def sub(a: Rational, b: Rational) -> Rational:
    return add(a, neg(b))


def mul(a: Rational, b: Rational) -> Rational:
    return _cancel(p_mul(a.num, b.num), a.den + b.den, a.width)


def div(a: Rational, b: Rational) -> Rational:
    """``a / b``; a constant divisor scales, another joins the denominator (None-free: ``b`` must not be 0)."""
    if not b.num:
        raise ZeroDivisionError("division by zero in an elementwise region")
    width = a.width
    if is_constant(b.num):
        k = b.num[(0,) * width]
        return _cancel(p_mul(p_scale(a.num, 1 / k), _product(b.den, width)), list(a.den), width)
    return _cancel(p_mul(a.num, _product(b.den, width)), a.den + [b.num], width)


def power(a: Rational, k: int) -> Rational:
    width = a.width
    out = constant(1, width)
    for _ in range(abs(k)):
        out = mul(out, a)
    return out if k >= 0 else div(constant(1, width), out)


__all__ = ["Poly", "Rational", "add", "atom", "constant", "div", "is_constant", "mul", "neg", "p_add", "p_divide",
           "p_mul", "power", "sub"]
