"""Real arithmetic for confirming a refutation: exact rationals, or rigorous high-precision intervals.

Both work on numpy object arrays of shape ``(1, rows, cols)`` with the interface of
:class:`symderiv.backends.field.Field`, so :class:`symderiv.proofs.random.random_eval.Walker` evaluates
values and exact forward-mode tangents with them.

- :class:`ExactArith`: ``Fraction`` entries. Elementwise functions are exact where
  the value is rational (their registry row's ``fold``, or ``rational``: ``relu(-3) = 0``,
  ``exp(0) = 1``, ``sqrt(9/4) = 3/2``); anything else raises :class:`NotRational`.
- :class:`IntervalArith`: mpmath ``iv`` intervals at 256 bits. Every result
  encloses the true value (the row's ``mpmath`` callable, or ``interval``, run on
  ``mpmath.iv``), so a difference whose interval excludes 0 is a real difference.

A point outside a function's domain (the row's ``domain``, the jump of a function
that jumps at its kink, a zero divisor, a singular matrix, an argument too large to
evaluate) raises :class:`OffDomain`: the caller tries another point.

>>> a = IntervalArith()
>>> x = a.func("exp", a.const(1))[0, 0, 0]
>>> str(x)[:23]
'[2.71828182845904523536'

>>> ExactArith().func("relu", ExactArith().const(-3))[0, 0, 0]
Fraction(0, 1)
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from symderiv.backends.field import Degenerate
from symderiv.core import expr as ex
from symderiv.ops import Elementwise, elementwise
from symderiv.proofs.random.random_eval import Walker
from symderiv.syntax.constants import fold_function

#: Working precision of the interval arithmetic, in bits (77 decimal digits). Tuning: intervals enclose the true
#: values at any precision, so a difference they confirm is real; more bits confirm smaller differences.
PRECISION = 256  # pragma: no mutate - tuning (above)
#: Arguments of ``limited`` functions larger than this in magnitude are not evaluated (the point is skipped);
#: ``periodic`` ones take arguments up to MAX_ARGUMENT**16 (mpmath reduces them with that many extra bits).
MAX_ARGUMENT = 2**64  # pragma: no mutate - tuning: a time budget (a point skipped is no verdict)
#: Exact rationals whose numerator or denominator has more bits are abandoned for intervals.
MAX_BITS = 20_000  # pragma: no mutate - tuning: past it, intervals take over (as sound)


class OffDomain(Degenerate):
    """The point is outside the domain of some part of the expression, or too large to evaluate."""


class NotRational(ArithmeticError):
    """An exact evaluation met a value that is not rational (``exp(1)``): use intervals."""


class _Arith:
    """Shared array plumbing (object arrays with one lane)."""

    exact = True
    real = True

    def scalar(self, c: Fraction | int) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def const(self, c: Fraction | int) -> np.ndarray:
        out = np.empty((1, 1, 1), dtype=object)
        out[0, 0, 0] = self.scalar(c)
        return out

    def matrix(self, rows: list[list[Fraction]]) -> np.ndarray:
        out = np.empty((1, len(rows), len(rows[0])), dtype=object)
        for i, row in enumerate(rows):
            for j, x in enumerate(row):
                out[0, i, j] = self.scalar(x)
        return out

    def ones(self, rows: int, cols: int) -> np.ndarray:
        return self.matrix([[Fraction(1)] * cols for _ in range(rows)])

    def zeros(self, rows: int, cols: int) -> np.ndarray:
        return self.matrix([[Fraction(0)] * cols for _ in range(rows)])

    def eye(self, n: int) -> np.ndarray:
        return self.matrix([[Fraction(int(i == j)) for j in range(n)] for i in range(n)])

    @staticmethod
    def add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a + b

    @staticmethod
    def sub(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a - b

    @staticmethod
    def neg(a: np.ndarray) -> np.ndarray:
        return -a

    def mul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self.check(a * b)

    def scale(self, a: np.ndarray, c: int | Fraction) -> np.ndarray:
        return a * self.scalar(c)

    def pow_elem(self, a: np.ndarray, e: int) -> np.ndarray:
        result = None
        base = a
        while e:
            if e & 1:
                result = base if result is None else self.mul(result, base)
            e >>= 1
            if e:
                base = self.mul(base, base)
        return self.ones(*a.shape[1:]) if result is None else result

    def nonzero(self, x: Any) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def inv_elem(self, a: np.ndarray) -> np.ndarray:
        if not all(self.nonzero(x) for x in a.ravel()):
            raise OffDomain("a divisor is 0 (or not provably non-zero) at this point")
        one = self.scalar(1)
        out = np.empty(a.shape, dtype=object)
        for idx, x in np.ndenumerate(a):
            out[idx] = one / x
        return self.check(out)

    def total(self, a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        return np.sum(a, axis=axes, keepdims=True)

    @staticmethod
    def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.matmul(a, b)

    def check(self, a: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def magnitude(self, x: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def inverse_det(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gauss–Jordan elimination with the largest pivot (by magnitude) in each column."""
        n = a.shape[-1]
        m = [list(a[0, i]) + [self.scalar(int(i == j)) for j in range(n)] for i in range(n)]
        det = self.scalar(1)
        for col in range(n):
            piv = max(range(col, n), key=lambda r: self.magnitude(m[r][col]))
            if not self.nonzero(m[piv][col]):
                raise OffDomain("a matrix is singular (or not provably regular) at this point")
            if piv != col:
                m[col], m[piv] = m[piv], m[col]
                det = -det
            pv = m[col][col]
            det = det * pv
            m[col] = [x / pv for x in m[col]]
            for r in range(n):
                if r != col:
                    factor = m[r][col]
                    m[r] = [x - factor * y for x, y in zip(m[r], m[col], strict=True)]
        inv = np.empty((1, n, n), dtype=object)
        for i in range(n):
            for j in range(n):
                inv[0, i, j] = m[i][n + j]
        out = np.empty((1, 1, 1), dtype=object)
        out[0, 0, 0] = det
        return self.check(inv), out

    def func(self, fn: str, u: np.ndarray) -> np.ndarray:
        """``fn`` applied to every entry."""
        out = np.empty(u.shape, dtype=object)
        for idx, x in np.ndenumerate(u):
            out[idx] = self.func1(fn, x)
        return out

    def func1(self, fn: str, x: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


class ExactArith(_Arith):
    """Exact rational arithmetic (``Fraction`` entries)."""

    @staticmethod
    def scalar(c: Fraction | int) -> Fraction:
        return Fraction(c)

    @staticmethod
    def nonzero(x: Fraction) -> bool:
        return x != 0

    @staticmethod
    def magnitude(x: Fraction) -> Fraction:
        return abs(x)

    @staticmethod
    def zero(a: np.ndarray) -> bool:
        return all(x == 0 for x in a.ravel())

    def check(self, a: np.ndarray) -> np.ndarray:
        for x in a.ravel():
            if max(x.numerator.bit_length(), x.denominator.bit_length()) > MAX_BITS:
                raise NotRational("the exact rationals grow too long")
        return a

    def func1(self, fn: str, x: Fraction) -> Fraction:
        """``fn(x)`` exactly: the row's exact value where it is rational; OffDomain on a jump."""
        row = elementwise(fn)
        if row.jump and x == 0:
            raise OffDomain(f"{fn} at its jump 0")
        value = row.rational(x) if row.rational is not None else fold_function(fn, x)
        if value is None:
            raise NotRational(f"{fn}({x}) is not rational")
        return value


class IntervalArith(_Arith):
    """mpmath interval arithmetic at :data:`PRECISION` bits (rigorous enclosures)."""

    exact = False

    def __init__(self) -> None:
        import mpmath  # type: ignore[import-untyped]

        self.mpmath = mpmath
        self.iv = mpmath.iv
        self.iv.prec = PRECISION

    def scalar(self, c: Any) -> Any:
        if isinstance(c, Fraction):
            return self.iv.mpf(c.numerator) / self.iv.mpf(c.denominator)
        return self.iv.mpf(c)

    def nonzero(self, x: Any) -> bool:
        return bool(x.a > 0 or x.b < 0)

    def magnitude(self, x: Any) -> Any:
        return max(x.a, -x.b, self.iv.mpf(0))  # the smallest |value| in the interval

    def zero(self, a: np.ndarray) -> bool:
        return all(x.a == 0 and x.b == 0 for x in a.ravel())

    def check(self, a: np.ndarray) -> np.ndarray:
        isfinite = self.mpmath.isfinite
        for x in a.ravel():
            if not (isfinite(x.a) and isfinite(x.b)):
                raise OffDomain("a value overflowed")
        return a

    def func1(self, fn: str, x: Any) -> Any:
        """An enclosure of ``fn`` over the interval ``x``; OffDomain where the interval leaves the domain."""
        row = elementwise(fn)
        if not self.nonzero(x):
            if row.domain != "real" or row.jump:
                raise OffDomain(f"{fn} of an interval that meets 0")
            if row.kink:  # monotone on each side of its kink: the hull of the values at the ends and at 0
                ends = [self._at(row, self.iv.mpf(t)) for t in (x.a, x.b, 0)]
                return self.iv.mpf([min(e.a for e in ends), max(e.b for e in ends)])
        elif row.domain == "positive" and not x.a > 0:
            raise OffDomain(f"{fn} of a value that is not positive")
        cap = MAX_ARGUMENT ** 16 if row.periodic else MAX_ARGUMENT
        if row.limited and (x.b > cap or x.a < -cap):
            raise OffDomain(f"{fn} of a number too large to evaluate")
        return self._at(row, x)

    def _at(self, row: Elementwise, x: Any) -> Any:
        assert row.mpmath is not None
        value = (row.interval or row.mpmath)(self.iv, x)
        if isinstance(value, Fraction):
            return self.scalar(value)
        if not (self.mpmath.isfinite(value.a) and self.mpmath.isfinite(value.b)):
            raise OffDomain(f"{row.name} at a pole, or overflowed")
        return value


class RealWalker(Walker):
    """Values and tangents at one real (rational) point, with real elementwise functions."""

    def __init__(self, problem: Any, wrt: str, typing: Any, arith: _Arith, point: dict[str, list[list[Fraction]]],
                 deadline: Any = None):
        super().__init__(problem, wrt, typing, arith, deadline)
        self.point = point
        self.exact_zero = arith.exact

    def symbol_value(self, node: ex.Symbol) -> np.ndarray:
        return self.f.matrix(self.point[node.name])

    def apply_value(self, node: ex.Apply, u: np.ndarray) -> np.ndarray:
        return self.f.check(self.f.func(node.fn, u))

    def derived(self, fn: str, u: np.ndarray, operand: ex.Expr) -> np.ndarray:
        return self.f.func(fn, u)


__all__ = ["ExactArith", "IntervalArith", "RealWalker", "OffDomain", "NotRational"]
