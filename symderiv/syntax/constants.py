"""Constant parts of an expression: exact folding, and the size limit on constants (SPEC section 6).

``1/3``, ``2 ** -1`` and ``relu(-2)`` are exact rationals; ``exp(5)`` stays an exact atom. Constants whose
exact value could have more than :data:`~symderiv.core.literals.MAX_CONSTANT_DIGITS` digits are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from symderiv.core import expr as ex
from symderiv.core.errors import ParseError
from symderiv.core.literals import MAX_CONSTANT_DIGITS
from symderiv.ops import elementwise, matrix_op


def fold_function(fn: str, c: Fraction) -> Fraction | None:
    """The exact value of an elementwise function at a rational constant, when it is rational; else None
    (``exp(5)`` stays an exact atom, never a float). The values are the ``fold`` of each row of the registry.

    >>> fold_function("relu", Fraction(-2)), fold_function("cos", Fraction(0)), fold_function("exp", Fraction(5))
    (Fraction(0, 1), Fraction(1, 1), None)
    """
    row = elementwise(fn)
    return None if row.generic else row.fold(c)


_FOLD_BINARY: dict[type[ex.Expr], Callable[[Fraction, Fraction], Fraction | None]] = {ex.Add: lambda a, b: a + b, ex.Sub: lambda a, b: a - b, ex.Mul: lambda a, b: a * b,
                ex.MatMul: lambda a, b: a * b, ex.Div: lambda a, b: a / b if b else None}


def constant_value(node: ex.Expr) -> Fraction | None:
    """The exact value of a 1×1 constant part (numbers, ``+ - * @ /``, ``**``, ``.T`` and the functions
    :func:`fold_function` evaluates), or None when it has a matrix, a symbol or an atom such as ``exp(5)``.

    >>> from symderiv.syntax.language import parse
    >>> constant_value(parse("2 ** -1 + relu(-2) * 3")), constant_value(parse("exp(5)")), constant_value(parse("W"))
    (Fraction(1, 2), None, None)
    """
    if isinstance(node, ex.Number):
        return node.value
    if isinstance(node, (ex.Neg, ex.Transpose, ex.Power, ex.Apply)):
        inner = constant_value(node.operand)
        if inner is None:
            return None
        if isinstance(node, ex.Neg):
            return -inner
        if isinstance(node, ex.Power):
            return inner**node.exponent if inner or node.exponent >= 0 else None
        if isinstance(node, ex.Apply):
            return fold_function(node.fn, inner)
        return inner
    fold = _FOLD_BINARY.get(type(node))
    if fold is None:
        return None
    assert isinstance(node, ex.Binary)
    left = constant_value(node.left)
    right = constant_value(node.right) if left is not None else None
    return None if left is None or right is None else fold(left, right)


def constant_digits(node: ex.Expr) -> int:
    """An estimate of the decimal digits of the constants that ``node`` can build (a guard, not a bound).

    A number counts the digits of its numerator and denominator; sums and
    products add up (plus one), ``A ** k`` and ``matpow(A, k)`` multiply by
    ``|k|``. Parts without numbers count 0.

    >>> from symderiv.syntax.language import parse
    >>> constant_digits(parse("W * 0.25")), constant_digits(parse("(2 * W) ** 3")), constant_digits(parse("W @ X"))
    (3, 9, 0)
    """
    return _oversized(node, None)[1]


def oversized_constant(node: ex.Expr, limit: int | None = None) -> ex.Expr | None:
    """The smallest part of ``node`` whose constants could pass ``limit`` digits (default
    :data:`MAX_CONSTANT_DIGITS`), or None.

    >>> from symderiv.syntax.language import parse
    >>> oversized_constant(parse("W * 2")) is None
    True
    """
    return _oversized(node, MAX_CONSTANT_DIGITS if limit is None else limit)[0]


def check_constants(node: ex.Expr, text: str | None = None) -> ex.Expr:
    """``node`` itself, or a :class:`~symderiv.core.errors.ParseError` at the part whose constants could
    pass :data:`MAX_CONSTANT_DIGITS` digits (``text`` is the source, for the column).

    >>> from symderiv.syntax.language import parse
    >>> parse("W * 1e-300 ** 16")
    Traceback (most recent call last):
    ...
    symderiv.core.errors.ParseError: the constants of this part could have more than 4000 digits at column 5
        W * 1e-300 ** 16
            ^^^^^^^^^^^^
    hint: use smaller exponents or powers; numbers are exact, so 1e-300 ** 64 has 19200 digits
    """
    big = oversized_constant(node)
    if big is None:
        return node
    start, width = getattr(big, "span", None) or (None, 1)
    raise ParseError(f"the constants of this part could have more than {MAX_CONSTANT_DIGITS} digits",
                     text=text, column=start, width=width,
                     hint="use smaller exponents or powers; numbers are exact, so 1e-300 ** 64 has 19200 digits")


def _oversized(node: ex.Expr, limit: int | None) -> tuple[ex.Expr | None, int]:
    if isinstance(node, ex.Number):
        size = sum(int(abs(n).bit_length() * 0.30103) + 1 for n in (node.value.numerator, node.value.denominator))
    else:
        sizes = []
        for child in node.children():
            found, child_size = _oversized(child, limit)
            if found is not None:
                return found, child_size
            sizes.append(child_size)
        size = sum(sizes) + (len(sizes) - 1 if len(sizes) > 1 and any(sizes) else 0)
        if isinstance(node, ex.Power):
            size *= max(1, abs(node.exponent))
        elif isinstance(node, ex.Call):
            size *= matrix_op(node.op).growth(dict(node.params))
    return (node if limit is not None and size > limit else None), size


__all__ = ["fold_function", "constant_value", "constant_digits", "oversized_constant", "check_constants"]
