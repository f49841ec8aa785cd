"""Real arithmetic for confirming a refutation: exact rationals, or rigorous high-precision intervals.

Both work on numpy object arrays of shape ``(1, rows, cols)`` with the interface of
:class:`symderiv.backends.field.Field`, so :class:`symderiv.proofs.random.random_eval.Walker` evaluates
values and exact forward-mode tangents with them.

- :class:`ExactArith`: ``Fraction`` entries. Elementwise functions are exact where
  the value is rational (``relu``, ``abs``, ``step``, ``sign`` away from 0,
  ``exp(0) = 1``, …); anything else raises :class:`NotRational`.
- :class:`IntervalArith`: mpmath ``iv`` intervals at 256 bits. Every result
  encloses the true value, so a difference whose interval excludes 0 is a real
  difference.

A point outside a function's domain (``log`` of a non-positive number, a kink of
``relu``/``abs``/``step``/``sign``, a zero divisor, a singular matrix, an argument
too large to evaluate) raises :class:`OffDomain`: the caller tries another point.

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
from symderiv.proofs.random.random_eval import Walker, algebraic_derivative

#: Working precision of the interval arithmetic, in bits (77 decimal digits).
PRECISION = 256
#: Arguments of exp, tanh, sigmoid larger than this in magnitude are not evaluated (the point is skipped);
#: sin, cos and tan take arguments up to MAX_ARGUMENT**16 (mpmath reduces them with that many extra bits).
MAX_ARGUMENT = 2**64
#: Exact rationals whose numerator or denominator has more bits are abandoned for intervals.
MAX_BITS = 20_000
_KINKED = ("relu", "step", "abs", "sign")


class OffDomain(Degenerate):
    """The point is outside the domain of some part of the expression, or too large to evaluate."""


class NotRational(ArithmeticError):
    """An exact evaluation met a value that is not rational (``exp(1)``): use intervals."""


def generic(fn: str) -> bool:
    """Whether ``fn`` is a user-declared function (``phi``) or its derivative (``phi_prime``)."""
    return fn not in ex.ELEMENTWISE and fn != "logabs"


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

    def check(self, a: np.ndarray) -> np.ndarray:
        return a

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

    def sign(self, x: Any) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def func(self, fn: str, u: np.ndarray) -> np.ndarray:
        """``fn`` applied to every entry."""
        out = np.empty(u.shape, dtype=object)
        for idx, x in np.ndenumerate(u):
            out[idx] = self.func1(fn, x)
        return out

    def func1(self, fn: str, x: Any) -> Any:
        if fn in _KINKED:
            s = self.sign(x)
            zero = self.scalar(0)
            if s == 0:
                # relu and abs are continuous: their value at (or around) 0 is exact; step and sign jump there.
                if fn in ("step", "sign"):
                    raise OffDomain(f"{fn} at its jump 0")
                return self.around_zero(fn, x)
            one = self.scalar(1)
            return {"relu": x if s > 0 else zero, "step": one if s > 0 else zero, "abs": x if s > 0 else -x,
                    "sign": one if s > 0 else -one}[fn]
        return self.transcendental(fn, x)

    def around_zero(self, fn: str, x: Any) -> Any:
        """relu or abs of a value that is 0 or (an interval) contains 0."""
        return self.scalar(0)

    def transcendental(self, fn: str, x: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


def _fraction_fold(fn: str, c: Fraction) -> Fraction | None:
    """Exact values of the functions at the rational points where they are rational."""
    if c == 0:
        return {"exp": Fraction(1), "cos": Fraction(1), "sin": Fraction(0), "tan": Fraction(0),
                "tanh": Fraction(0), "sqrt": Fraction(0), "sigmoid": Fraction(1, 2)}.get(fn)
    if c == 1 and fn == "log":
        return Fraction(0)
    if fn == "logabs" and abs(c) == 1:
        return Fraction(0)
    return None


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
    def sign(x: Fraction) -> int:
        return (x > 0) - (x < 0)

    @staticmethod
    def zero(a: np.ndarray) -> bool:
        return all(x == 0 for x in a.ravel())

    def check(self, a: np.ndarray) -> np.ndarray:
        for x in a.ravel():
            if max(x.numerator.bit_length(), x.denominator.bit_length()) > MAX_BITS:
                raise NotRational("the exact rationals grow too long")
        return a

    def transcendental(self, fn: str, x: Fraction) -> Fraction:
        if fn == "sqrt" and x > 0:
            num, den = _isqrt_exact(x.numerator), _isqrt_exact(x.denominator)
            if num is not None and den is not None:
                return Fraction(num, den)
        folded = _fraction_fold(fn, x)
        if folded is None:
            raise NotRational(f"{fn}({x}) is not rational")
        return folded


def _isqrt_exact(n: int) -> int | None:
    import math

    r = math.isqrt(n)
    return r if r * r == n else None


class IntervalArith(_Arith):
    """mpmath interval arithmetic at :data:`PRECISION` bits (rigorous enclosures)."""

    exact = False

    def __init__(self) -> None:
        import mpmath  # type: ignore[import-untyped]

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

    def sign(self, x: Any) -> int:
        return 1 if x.a > 0 else -1 if x.b < 0 else 0

    def around_zero(self, fn: str, x: Any) -> Any:
        top = max(x.b, -x.a) if fn == "abs" else max(x.b, 0)
        return self.iv.mpf([0, top])

    def zero(self, a: np.ndarray) -> bool:
        return all(x.a == 0 and x.b == 0 for x in a.ravel())

    def check(self, a: np.ndarray) -> np.ndarray:
        import mpmath  # type: ignore[import-untyped]

        for x in a.ravel():
            if not (mpmath.isfinite(x.a) and mpmath.isfinite(x.b)):
                raise OffDomain("a value overflowed")
        return a

    def transcendental(self, fn: str, x: Any) -> Any:
        iv = self.iv
        if fn in ("log", "sqrt", "logabs"):
            if fn == "logabs":
                x = x if x.a > 0 else -x
            if not x.a > 0:
                raise OffDomain(f"{'log' if fn == 'logabs' else fn} of a value that is not positive")
            return iv.log(x) if fn != "sqrt" else iv.sqrt(x)
        cap = MAX_ARGUMENT ** 16 if fn in ("sin", "cos", "tan") else MAX_ARGUMENT
        if x.b > cap or x.a < -cap:
            raise OffDomain(f"{fn} of a number too large to evaluate")
        if fn == "exp":
            return iv.exp(x)
        if fn in ("sin", "cos"):
            return iv.sin(x) if fn == "sin" else iv.cos(x)
        if fn == "tan":
            c = iv.cos(x)
            if not self.nonzero(c):
                raise OffDomain("tan at a pole")
            return iv.sin(x) / c
        if fn == "tanh":
            return 1 - 2 / (iv.exp(2 * x) + 1)
        if fn == "sigmoid":
            return 1 / (1 + iv.exp(-x))
        # A generic function is instantiated as strict mode does: phi(z) = sin(z) + z/3.
        if fn.endswith("_prime"):
            return iv.cos(x) + self.scalar(Fraction(1, 3))
        return iv.sin(x) + x * self.scalar(Fraction(1, 3))


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

    def logdet_value(self, node: ex.LogDet, det: np.ndarray) -> np.ndarray:
        return self.f.func("logabs", det)

    def fprime(self, node: ex.Apply, u: np.ndarray, me: np.ndarray) -> np.ndarray:
        f, fn = self.f, node.fn
        known = algebraic_derivative(f, fn, u, me)
        if known is not None:
            return known
        if fn in ("sin", "cos"):
            return f.func("cos", u) if fn == "sin" else f.neg(f.func("sin", u))
        if fn in ("relu", "abs"):
            return f.func("step" if fn == "relu" else "sign", u)
        return f.func(fn + "_prime", u)


__all__ = ["ExactArith", "IntervalArith", "RealWalker", "OffDomain", "NotRational", "generic"]
