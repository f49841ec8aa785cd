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

#: Working precision (decimal digits) of a witness search, and the precision of its confirmation.
WORKING_DPS = 60
CONFIRM_DPS = 130
#: Largest |argument| of exp, sin, ... evaluated (exp(2**20) already has 455,000 digits).
ARG_LIMIT = 2 ** 20
#: Numbers beyond 2**FORMAT_BITS in size are written from their logarithm, not digit by digit.
FORMAT_BITS = 3000

_POSITIVE_ONLY = {"log", "sqrt"}
_KINKED = {"relu", "step", "abs", "sign", "logabs"}
_UNBOUNDED_OK = {"log", "logabs", "sqrt"}


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
    """One elementwise function at ``x``, with its domain checked (and its kink avoided)."""
    import mpmath  # type: ignore[import-untyped]

    if fn in _KINKED and x == 0:
        raise OutOfDomain(f"{fn} at its kink 0")
    if fn in _POSITIVE_ONLY and x <= 0:
        raise OutOfDomain(f"{fn} of a non-positive number")
    if fn == "relu":
        return x if x > 0 else Fraction(0)
    if fn == "step":
        return Fraction(1) if x > 0 else Fraction(0)
    if fn == "abs":
        return abs(x)
    if fn == "sign":
        return Fraction(1) if x > 0 else Fraction(-1)
    y = to_mp(x)
    if fn not in _UNBOUNDED_OK and abs(y) > ARG_LIMIT:
        raise OutOfRange(f"{fn} of a number of size {format_number(y)}")
    table = {"exp": mpmath.exp, "log": mpmath.log, "sqrt": mpmath.sqrt, "sin": mpmath.sin, "cos": mpmath.cos,
             "tan": mpmath.tan, "tanh": mpmath.tanh, "sigmoid": lambda t: 1 / (1 + mpmath.exp(-t)),
             "logabs": lambda t: mpmath.log(abs(t))}
    if fn in table:
        if fn == "tan" and abs(mpmath.cos(y)) < mpmath.mpf(10) ** (-mpmath.mp.dps // 2):
            raise OutOfDomain("tan at a pole")
        return table[fn](y)
    # A generic function: one fixed smooth instance, phi(z) = sin z + z/3, with its true derivative, the same
    # stand-in as symderiv.backends.numeric; a claim that fails for this phi fails for generic phi.
    if fn.endswith("_prime"):
        return mpmath.cos(y) + mpmath.mpf(1) / 3
    return mpmath.sin(y) + y / 3


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
        with mpmath.workdps(30):
            return _from_log(to_mp(x))
    if not mpmath.isfinite(x) or x == 0 or abs(mpmath.mag(x)) <= FORMAT_BITS:
        return mpmath.nstr(x, digits)
    return _from_log(x)


def _from_log(x: Any) -> str:
    import mpmath  # type: ignore[import-untyped]

    with mpmath.workdps(30):
        exponent = mpmath.log10(abs(x))
        k = int(mpmath.floor(exponent))
        mantissa = float(mpmath.power(10, exponent - k))
    return f"≈ {'-' if x < 0 else ''}{mantissa:.6f}e{k:+d}"


__all__ = ["OutOfDomain", "OutOfRange", "apply_fn", "format_number", "to_mp", "add", "sub", "mul", "div", "power",
           "is_exact", "WORKING_DPS", "CONFIRM_DPS", "ARG_LIMIT"]
