"""Number literals, read and written exactly.

A literal is read from its source text, never through a Python ``float``:
``0.1`` is ``1/10``, ``1e-400`` is ``10**-400`` and ``0.30000000000000001``
is not ``0.3``. Limits keep hostile literals cheap, and are checked before any
number is built:

* at most :data:`MAX_LITERAL_DIGITS` (60) digits before the exponent (the exact
  decimal value of the double nearest 0.1 has 55);
* an exponent (the part after ``e``) of at most :data:`MAX_LITERAL_EXPONENT`
  (1000) in absolute value, so ``1e999999999`` is refused at once;
* the constants an expression can build (``1e-400 ** 64``, products of
  literals) stay below :data:`MAX_CONSTANT_DIGITS` (4000) digits, by the
  estimate :func:`constant_digits`. 4000 stays below Python's 4300-digit limit
  on converting integers to text, so every constant can be printed.

:func:`number_text` writes a value back as text that the parser reads as the
same exact value.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

MAX_LITERAL_DIGITS = 60
MAX_LITERAL_EXPONENT = 1000
MAX_CONSTANT_DIGITS = 4000

_DECIMAL = re.compile(r"(?P<int>[0-9_]*)(?:\.(?P<frac>[0-9_]*))?(?:[eE](?P<exp>[+-]?[0-9_]+))?\Z")
_PREFIXED = re.compile(r"0[xXoObB]_?[0-9a-fA-F_]+\Z")


class LiteralError(ValueError):
    """A literal the language refuses: ``message`` says why, ``hint`` what to write instead."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def read_literal(text: str) -> Fraction:
    """The exact value of a real number literal, as Python's tokenizer accepted it.

    Underscores are allowed where Python allows them; ``0x``, ``0o`` and ``0b``
    integers too. Raises :class:`LiteralError` past the limits.

    >>> read_literal("1e-400") == Fraction(1, 10**400)
    True
    >>> read_literal("0.30000000000000001") == Fraction(3, 10)
    False
    >>> read_literal("1_000.5")
    Fraction(2001, 2)
    >>> read_literal("1e999999999")
    Traceback (most recent call last):
    ...
    symderiv.core.literals.LiteralError: the exponent of `1e999999999` is out of range
    """
    if _PREFIXED.match(text):
        digits = text[2:].replace("_", "")
        _check_digits(text, len(digits))
        return Fraction(int(text.replace("_", ""), 0))
    match = _DECIMAL.match(text)
    whole = match.group("int").replace("_", "") if match else ""
    frac = (match.group("frac") or "").replace("_", "") if match else ""
    if match is None or not (whole or frac):
        raise LiteralError(f"`{text}` is not a number literal", "write a number such as 2, 0.5 or 1e-3")
    _check_digits(text, len(whole) + len(frac))
    exponent = 0
    if match.group("exp") is not None:
        raw = match.group("exp").replace("_", "")
        sign = -1 if raw.startswith("-") else 1
        body = raw.lstrip("+-").lstrip("0") or "0"
        # The length is checked before int() so that a thousand-digit exponent costs nothing.
        if len(body) > len(str(MAX_LITERAL_EXPONENT)) or int(body) > MAX_LITERAL_EXPONENT:
            raise LiteralError(f"the exponent of `{text}` is out of range",
                               f"exponents are at most {MAX_LITERAL_EXPONENT} in absolute value")
        exponent = sign * int(body)
    mantissa = int(whole + frac or "0")
    scale = exponent - len(frac)
    return mantissa * Fraction(10) ** scale


def _check_digits(text: str, count: int) -> None:
    if count > MAX_LITERAL_DIGITS:
        shown = text[:37] + "..."  # more than MAX_LITERAL_DIGITS digits: always longer than that
        raise LiteralError(f"the number literal `{shown}` has {count} digits",
                           f"a literal has at most {MAX_LITERAL_DIGITS} digits; write 1.5e-7 rather than 0.00000015")


def _digits(n: int) -> str:
    """``str(n)`` for ``n >= 0``, also past Python's 4300-digit conversion limit (divide and conquer)."""
    if n.bit_length() < 10_000:
        return str(n)
    half = int(n.bit_length() * 0.30103) // 2
    high, low = divmod(n, 10**half)
    return _digits(high) + _digits(low).rjust(half, "0")


def _decimal_parts(value: Fraction) -> tuple[int, int] | None:
    """``(m, e)`` with ``|value| == m * 10**e`` and ``m`` not a multiple of 10 (``(0, 0)`` for zero), or None."""
    num, den = abs(value.numerator), value.denominator
    places = den.bit_length()  # enough: den = 2^a·5^b has a, b below its bit length, so it divides 10^places
    if 10**places % den:
        return None  # a prime other than 2 and 5 divides den
    m = num * 10**places // den
    if m == 0:
        return (0, 0)
    text = _digits(m)
    stripped = text.rstrip("0")
    return int(stripped), len(text) - len(stripped) - places


def _literal(digits: str, e: int, limit: int | None) -> str:
    """``int(digits) * 10**e`` (``digits`` without trailing zeros) as one literal: plain at ordinary sizes, else
    the shorter of plain and ``1.5e-7``; past an exponent of ``limit``, a bracketed product with ``1e±limit``."""
    adjusted = e + len(digits) - 1
    if e >= 0:
        plain = digits + "0" * e
    elif -e < len(digits):
        plain = digits[:e] + "." + digits[e:]
    else:
        plain = "0." + "0" * (-e - len(digits)) + digits
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    # Plain at ordinary sizes (and when shorter: 3433683820292512484657849089281), if it is a literal the parser takes.
    if len(plain) - ("." in plain) <= MAX_LITERAL_DIGITS and (
            digits == "0" or -4 <= adjusted < 21 or ("." in plain and not plain.startswith("0."))
            or len(plain) <= len(mantissa) + 1 + len(str(adjusted))):
        return plain
    if limit is None or abs(adjusted) <= limit:
        return f"{mantissa}e{adjusted}"
    step = int(math.copysign(limit, adjusted))  # adjusted ≠ 0 here: |adjusted| > limit ≥ 0
    factors = []
    while abs(adjusted) > limit:
        factors.append(f"1e{step}")
        adjusted -= step
    return "(" + " * ".join([f"{mantissa}e{adjusted}", *factors]) + ")"


def _decimal_text(m: int, e: int, limit: int | None) -> str:
    """``m * 10**e`` as one literal, or, past :data:`MAX_LITERAL_DIGITS` digits, a bracketed sum of literals."""
    digits = _digits(m)
    if len(digits) <= MAX_LITERAL_DIGITS:
        return _literal(digits, e, limit)
    # Past the exponent limit, 10**e is factored out, so that each chunk's exponent stays small.
    scale = 0 if limit is None or abs(e) + len(digits) <= limit else e
    chunks = []
    for start in range(0, len(digits), MAX_LITERAL_DIGITS):
        piece = digits[start:start + MAX_LITERAL_DIGITS]
        shift = len(digits) - start - len(piece)
        kept = piece.rstrip("0")
        if kept:
            chunks.append(_literal(kept.lstrip("0"), e - scale + shift + len(piece) - len(kept), limit))
    total = "(" + " + ".join(chunks) + ")"
    return f"({total} * {_literal('1', scale, limit)})" if scale else total


def number_text(value: Fraction | int, *, exponent_limit: int | None = MAX_LITERAL_EXPONENT) -> str:
    """Text of the language that the parser reads back as exactly ``value``.

    A decimal is one literal: plain at ordinary sizes, ``1.5e-7`` when that is
    shorter outside them; other fractions are ``(p/q)``. A number with more
    digits than a literal may have is written as a bracketed sum of literals,
    and one with a larger exponent than ``exponent_limit`` as a bracketed
    product (``None``: no limit, for display only).

    >>> number_text(Fraction(1, 2)), number_text(Fraction(-3)), number_text(Fraction(1, 3))
    ('0.5', '-3', '(1/3)')
    >>> number_text(Fraction(1, 10**400)), number_text(Fraction(10**300)), number_text(Fraction(-15, 10**8))
    ('1e-400', '1e300', '-1.5e-7')
    >>> number_text(Fraction(1, 3 * 10**400)), number_text(1 + Fraction(1, 10**400))
    ('(1/3e400)', '(1 + 1e-400)')
    >>> number_text(Fraction(1, 10**1800)), number_text(Fraction(1, 10**1800), exponent_limit=None)
    ('(1e-800 * 1e-1000)', '1e-1800')
    """
    value = Fraction(value)
    sign = "-" if value < 0 else ""
    parts = _decimal_parts(value)
    if parts is not None:
        return sign + _decimal_text(*parts, exponent_limit)
    num, den = _decimal_parts(Fraction(abs(value.numerator))), _decimal_parts(Fraction(value.denominator))
    assert num is not None and den is not None  # integers are decimals
    return f"({sign}{_decimal_text(*num, exponent_limit)}/{_decimal_text(*den, exponent_limit)})"


__all__ = ["MAX_LITERAL_DIGITS", "MAX_LITERAL_EXPONENT", "MAX_CONSTANT_DIGITS", "LiteralError", "read_literal",
           "number_text"]
