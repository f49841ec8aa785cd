"""Exact matrices of Ratios: products, broadcasting and sums, determinants and inverses, and a cheap exact
test of non-singularity."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from fractions import Fraction
from typing import Protocol

from symderiv.core.errors import ShapeError
from symderiv.core.meter import NEXT, WORK, tick
from symderiv.proofs.exact.algebra import Poly, Ratio, Variables, pclean, pmul_items_into

Matrix = list[list[Ratio]]


class _Tick(Protocol):
    def __call__(self) -> None: ...


def shape_of(m: Matrix) -> tuple[int, int]:
    """(rows, columns) of a matrix of entries (never empty: every size is at least 1)."""
    return (len(m), len(m[0]))


def broadcast(a: Matrix, b: Matrix, op: Callable[[Ratio, Ratio], Ratio], deadline: _Tick | None = None) -> Matrix:
    """``op`` entry by entry, a ``1×…`` or ``…×1`` side repeated along the other's rows or columns.

    >>> x, y = Ratio.var(0), Ratio.var(1)
    >>> [[r.num for r in row] for row in broadcast([[x], [y]], [[y]], lambda p, q: p * q)]
    [[{(0, 1): 1}], [{(1, 1): 1}]]
    """
    (ra, ca), (rb, cb) = shape_of(a), shape_of(b)
    rows, cols = max(ra, rb), max(ca, cb)
    if ra not in (1, rows) or rb not in (1, rows) or ca not in (1, cols) or cb not in (1, cols):
        raise ShapeError(f"cannot broadcast {ra}×{ca} with {rb}×{cb}")
    out = []
    for i in range(rows):
        row_a, row_b = a[i if ra > 1 else 0], b[i if rb > 1 else 0]
        out.append([op(row_a[j if ca > 1 else 0], row_b[j if cb > 1 else 0]) for j in range(cols)])
        if deadline is not None:
            deadline()
    return out


def ratio_sum(items: Iterable[Ratio]) -> Ratio:
    """The sum of exact entries, polynomial parts added in one dict."""
    polys: list[Poly] = []
    rest = Ratio({})
    for x in items:
        if x.fac is None:
            polys.append(x.num)
        else:
            rest = rest + x
    acc: Poly = {}
    for p in polys:
        WORK[0] += len(p)
        for m, c in p.items():
            acc[m] = acc.get(m, 0) + c
    total = Ratio(pclean(acc))
    return total + rest if not rest.is_zero() else total


def transpose(m: Matrix) -> Matrix:
    """The transposed matrix (new rows, the same entries)."""
    return [list(col) for col in zip(*m, strict=True)] if m else m


def matmul(a: Matrix, b: Matrix, deadline: _Tick | None = None) -> Matrix:
    """The exact matrix product; polynomial entries are multiplied in one flat loop.

    >>> x, y = Ratio.var(0), Ratio.var(1)
    >>> matmul([[x, y]], [[y], [x]])[0][0].num
    {(0, 1): 2}
    """
    (ra, ca), (rb, cb) = shape_of(a), shape_of(b)
    if ca != rb:
        raise ShapeError(f"cannot multiply {ra}×{ca} @ {rb}×{cb}")
    # Polynomial entries as item lists, zeros as None, rational entries left as Ratio:
    # the hot loop then touches only tuples and ints.
    def prepare(m: Matrix) -> list[list]:
        return [[(list(x.num.items()) if x.num else None) if x.fac is None else x for x in row] for row in m]

    a_rows = prepare(a)
    b_prepared = prepare(b)
    b_cols = [list(col) for col in zip(*b_prepared, strict=True)] if b else []
    # The work counter: Σ_ij Σ_k |a_ik|·|b_kj| = Σ_i Σ_k |a_ik|·(Σ_j |b_kj|) over polynomial pairs, once per row.
    b_terms = [sum(len(y) for y in row if y.__class__ is list) for row in b_prepared]
    out: Matrix = []
    for i in range(ra):
        row = []
        ai = a_rows[i]
        for j in range(cb):
            acc: Poly = {}
            rest = None
            for x, y in zip(ai, b_cols[j], strict=True):
                if x is None or y is None:
                    continue
                if x.__class__ is list and y.__class__ is list:
                    pmul_items_into(acc, x, y)
                else:
                    rx = x if isinstance(x, Ratio) else Ratio(dict(x))
                    ry = y if isinstance(y, Ratio) else Ratio(dict(y))
                    term = rx * ry
                    rest = term if rest is None else rest + term
            value = Ratio({m: c for m, c in acc.items() if c})
            row.append(value if rest is None else value + rest)
        out.append(row)
        WORK[0] += sum(len(x) * t for x, t in zip(ai, b_terms, strict=True) if x.__class__ is list)
        if WORK[0] >= NEXT[0]:
            tick()
        if deadline is not None:
            deadline()
    return out


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
        positive = True  # the sign of the cofactor alternates along the row
        for col in sorted(cols):
            entry = a[row][col]
            if not entry.is_zero():
                term = entry * minor(row + 1, cols - {col})
                total = total + term if positive else total - term
            positive = not positive
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
            if (i ^ j) & 1:  # the checkerboard sign (-1)^(i+j)
                cof = -cof
            out[j][i] = cof * inv_det
    return out


#: Tuning: nonsingular_somewhere tries this many integer points with entries in [-SPREAD, SPREAD]. "Not shown"
#: is a sound answer at any count (the callers then take the general path), so only how often it is given changes.
POINTS_TRIED = 3  # pragma: no mutate - tuning (above)
SPREAD = 9  # pragma: no mutate - tuning (above)


def nonsingular_somewhere(m: Matrix, vars_: Variables, tries: int = POINTS_TRIED) -> bool:
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
        point = {v: Fraction(rng.randint(-SPREAD, SPREAD)) for v in names}
        try:
            rows = [[_value(x, point) for x in row] for row in m]
        except ZeroDivisionError:
            continue
        if _nonsingular(rows):
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


def _nonsingular(rows: list[list[Fraction]]) -> bool:
    """Whether a square matrix of numbers has full rank, by Gaussian elimination (each pivot row is used once,
    in place: no row swaps to track)."""
    a = [list(row) for row in rows]
    free = list(range(len(a)))
    for c in range(len(a)):
        pivot = next((r for r in free if a[r][c]), None)
        if pivot is None:
            return False
        free.remove(pivot)
        for r in free:
            f = a[r][c] / a[pivot][c]
            a[r] = [x - f * y for x, y in zip(a[r], a[pivot], strict=True)]
    return True
