"""Numbers at a witness point: exact ``Fraction`` where possible, ``mpmath`` otherwise, never unbounded.

Every elementwise function checks its domain here (``log`` of a non-positive
number, ``relu`` at its kink, ...) and raises :class:`OutOfDomain`; an argument
too large to evaluate in bounded time (``sin`` of ``exp(exp(exp(3)))`` needs
millions of digits) raises :class:`OutOfRange`, so a search tries smaller
values instead of hanging or overflowing.

>>> apply_fn("relu", Fraction(-2)), apply_fn("step", Fraction(1, 2))
(Fraction(0, 1), Fraction(1, 1))
>>> try:
...     apply_fn("log", Fraction(-1))
... except OutOfDomain:
...     print("outside the domain of log")
outside the domain of log
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from symderiv.ops import elementwise

#: Working precision (decimal digits) of a witness search, and the precision of its confirmation. Tuning: a
#: witness needs its difference above 10^(-WORKING_DPS/2) and the same at both precisions, which any such pair
#: of precisions decides soundly; they set how small a difference can be shown, and the time spent.
WORKING_DPS = 60  # pragma: no mutate - tuning (above)
CONFIRM_DPS = 130  # pragma: no mutate - tuning (above)
#: Tuning: the digits a huge number's logarithm is taken with, for its 7 shown digits (any ample number will do).
_LOG_DPS = 30  # pragma: no mutate - tuning (above)
#: Largest |argument| of exp, sin, ... evaluated (exp(2**20) already has 455,000 digits).
ARG_LIMIT = 2 ** 20
#: Numbers beyond 2**FORMAT_BITS in size are written from their logarithm, not digit by digit.
FORMAT_BITS = 3000



class OutOfDomain(ArithmeticError):
    """The point is outside the domain of a function of the expression or of the claim."""


class OutOfRange(OutOfDomain):
    """The point is in the domain, but its numbers are too large to evaluate in bounded time."""


def is_exact(x: Any) -> bool:
    return isinstance(x, (Fraction, int))


def to_mp(x: Any) -> Any:
    """``x`` as an mpmath number at the current precision."""
    import mpmath  # type: ignore[import-untyped]

    if is_exact(x):
        x = Fraction(x)
        return mpmath.mpf(x.numerator) / x.denominator
    return x


def add(a: Any, b: Any) -> Any:
    return a + b if is_exact(a) == is_exact(b) else to_mp(a) + to_mp(b)


def sub(a: Any, b: Any) -> Any:
    return a - b if is_exact(a) == is_exact(b) else to_mp(a) - to_mp(b)


def mul(a: Any, b: Any) -> Any:
    return a * b if is_exact(a) == is_exact(b) else to_mp(a) * to_mp(b)


def div(a: Any, b: Any) -> Any:
    if b == 0:
        raise OutOfDomain("division by zero")
    if is_exact(a) and is_exact(b):
        return Fraction(a) / Fraction(b)
    return to_mp(a) / to_mp(b)


def power(x: Any, e: Any) -> Any:
    """``x ** e`` for a constant exponent; a non-integer exponent needs ``x > 0``."""
    e = Fraction(e)
    if e.denominator == 1:
        if e < 0:
            return div(Fraction(1), power(x, -e))
        return Fraction(x) ** int(e) if is_exact(x) else x ** int(e)
    if x <= 0:
        raise OutOfDomain("a non-integer power of a non-positive number")
    return to_mp(x) ** to_mp(e)


def apply_fn(fn: str, x: Any) -> Any:
    """One elementwise function at ``x``, with its domain checked (and its kink avoided), from its registry row.

    Exact results (a kinked function's value) stay exact; the rest are mpmath numbers. A generic
    function takes the registry's fixed smooth stand-in, the same as the NumPy backend's.
    """
    import mpmath  # type: ignore[import-untyped]

    row = elementwise(fn)
    if row.kink and x == 0:
        raise OutOfDomain(f"{fn} at its kink 0")
    if row.domain == "positive" and x <= 0:
        raise OutOfDomain(f"{fn} of a non-positive number")
    if row.domain == "nonzero" and x == 0:
        raise OutOfDomain(f"{fn} at 0, outside its domain")
    if row.mpmath is None:  # pragma: no cover - every row has an mpmath value
        raise OutOfDomain(f"no value for {fn}")
    if row.kink and row.domain == "real":
        return row.mpmath(mpmath, x)  # piecewise (relu-like): exact at an exact x, defined at any size
    y = to_mp(x)
    if row.limited and abs(y) > ARG_LIMIT:
        raise OutOfRange(f"{fn} of a number of size {format_number(y)}")
    if row.pole is not None and row.pole(mpmath, y):
        raise OutOfDomain(f"{fn} at a pole")
    return row.mpmath(mpmath, y)


def format_number(x: Any, digits: int = 12) -> str:
    """A number for a report, in bounded time however large it is.

    >>> format_number(Fraction(-3, 2)), format_number(to_mp(2) ** 10**6)
    ('-3/2', '≈ 9.900656e+301029')
    """
    import mpmath  # type: ignore[import-untyped]

    if is_exact(x):
        x = Fraction(x)
        if max(x.numerator.bit_length(), x.denominator.bit_length()) <= FORMAT_BITS:
            return str(x)
        with mpmath.workdps(_LOG_DPS):
            return _from_log(to_mp(x))
    if not mpmath.isfinite(x) or x == 0 or abs(mpmath.mag(x)) <= FORMAT_BITS:
        return mpmath.nstr(x, digits)
    return _from_log(x)


def _from_log(x: Any) -> str:
    import mpmath  # type: ignore[import-untyped]

    with mpmath.workdps(_LOG_DPS):
        exponent = mpmath.log10(abs(x))
        k = int(mpmath.floor(exponent))
        mantissa = float(mpmath.power(10, exponent - k))
    return f"≈ {'-' if x < 0 else ''}{mantissa:.6f}e{k:+d}"


__all__ = ["OutOfDomain", "OutOfRange", "apply_fn", "format_number", "to_mp", "add", "sub", "mul", "div", "power",
           "is_exact", "WORKING_DPS", "CONFIRM_DPS", "ARG_LIMIT"]
