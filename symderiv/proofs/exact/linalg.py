"""Exact determinants and inverses of matrices of Ratios, and a cheap exact test of non-singularity."""

from __future__ import annotations

import random
from fractions import Fraction
from typing import Protocol

from symderiv.proofs.exact.algebra import Poly, Ratio, Variables

Matrix = list[list[Ratio]]


class _Tick(Protocol):
    def __call__(self) -> None: ...


def determinant(a: Matrix, deadline: _Tick | None = None) -> Ratio:
    """Laplace expansion with memoised minors: O(2^n · n) products."""
    n = len(a)
    memo: dict[tuple[int, frozenset[int]], Ratio] = {}

    def minor(row: int, cols: frozenset[int]) -> Ratio:
        if row == n:
            return Ratio.const(1)
        key = (row, cols)
        found = memo.get(key)
        if found is not None:
            return found
        total = Ratio({})
        sign = 1
        for col in sorted(cols):
            entry = a[row][col]
            if not entry.is_zero():
                term = entry * minor(row + 1, cols - {col})
                total = total + term if sign > 0 else total - term
            sign = -sign
        if deadline is not None:
            deadline()
        memo[key] = total
        return total

    return minor(0, frozenset(range(n)))


def inverse(a: Matrix, deadline: _Tick | None = None) -> Matrix:
    n = len(a)
    det = determinant(a, deadline)
    if det.is_zero():
        raise ZeroDivisionError("inverse of a matrix that is identically singular")
    inv_det = det.reciprocal()
    out: Matrix = [[Ratio({}) for _ in range(n)] for _ in range(n)]
    for i in range(n):
        for j in range(n):
            sub = [[a[r][c] for c in range(n) if c != j] for r in range(n) if r != i]
            cof = determinant(sub, deadline) if sub else Ratio.const(1)
            if (i + j) % 2:
                cof = -cof
            out[j][i] = cof * inv_det
    return out


def nonsingular_somewhere(m: Matrix, vars_: Variables, tries: int = 3) -> bool:
    """True when ``det(m)`` is non-zero at some integer point, so not identically zero (exact, cheap);
    False when that is not shown (atoms in the entries, or zero at every point tried).

    >>> vs = Variables()
    >>> x = Ratio.var(vs.entry("X", 0, 0))
    >>> nonsingular_somewhere([[x]], vs), nonsingular_somewhere([[x, x], [x, x]], vs)
    (True, False)
    """
    names = {v for row in m for x in row for v in x.variables()}
    if any(v in vars_.atoms for v in names):
        return False
    rng = random.Random(len(names))
    for _ in range(tries):
        point = {v: Fraction(rng.randint(-9, 9)) for v in names}
        try:
            rows = [[_value(x, point) for x in row] for row in m]
        except ZeroDivisionError:
            continue
        if _det_value(rows) != 0:
            return True
    return False


def _value(r: Ratio, point: dict[int, Fraction]) -> Fraction:
    def poly(p: Poly) -> Fraction:
        total = Fraction(0)
        for mono, c in p.items():
            term = Fraction(c)
            for v in mono:
                term *= point[v]
            total += term
        return total

    value = poly(r.num)
    for factor, e in r.factors():
        value /= poly(factor) ** e
    return value


def _det_value(rows: list[list[Fraction]]) -> Fraction:
    """The determinant of a matrix of numbers, by Gaussian elimination."""
    a = [list(row) for row in rows]
    n, det = len(a), Fraction(1)
    for c in range(n):
        pivot = next((r for r in range(c, n) if a[r][c]), None)
        if pivot is None:
            return Fraction(0)
        if pivot != c:
            a[c], a[pivot] = a[pivot], a[c]
            det = -det
        det *= a[c][c]
        for r in range(c + 1, n):
            f = a[r][c] / a[c][c]
            if f:
                a[r] = [x - f * y for x, y in zip(a[r], a[c], strict=True)]
    return det
