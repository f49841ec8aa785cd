"""The derivative of an elementwise function in the arithmetic of a walker, read from its registry row.

Each row writes ``f'`` once, in the language, over ``z`` (the argument) and ``y`` (the value ``f(z)``):
``"1 - y ** 2"`` for the hyperbolic tangent. :class:`Factor` evaluates that tree with any arithmetic of
:mod:`symderiv.proofs.random.random_eval` (modulo primes, exact rationals, intervals); the functions
``f'`` is written with (``cos`` for ``sin``) are evaluated by the walker: as random atoms modulo
primes, as real functions at a real point.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from symderiv.backends.walk import Interpreter
from symderiv.core import expr as ex
from symderiv.ops import Elementwise
from symderiv.syntax.derivatives import ARGUMENT

Array = Any


class FieldArithmetic(Interpreter[Array]):
    """The primitives that are the same in every walker over an arithmetic ``self.f`` (modular or real)."""

    f: Any

    def number(self, node: ex.Number) -> Array:
        return self.f.const(node.value)

    def add(self, node: ex.Add, a: Array, b: Array) -> Array:
        return self.f.add(a, b)

    def sub(self, node: ex.Sub, a: Array, b: Array) -> Array:
        return self.f.sub(a, b)

    def mul(self, node: ex.Mul, a: Array, b: Array) -> Array:
        return self.f.mul(a, b)

    def neg(self, node: ex.Neg, a: Array) -> Array:
        return self.f.neg(a)


class Factor(FieldArithmetic):
    """``f'(u)`` from the tree of the row's derivative, given ``u`` and ``me = f(u)``.

    >>> from fractions import Fraction
    >>> from symderiv.proofs.random.random_real import ExactArith
    >>> from symderiv.syntax.language import parse
    >>> f = ExactArith()
    >>> Factor(f, f.func, f.const(0), f.const(Fraction(1, 2))).evaluate(parse("1 - y ** 2"))[0, 0, 0]
    Fraction(3, 4)
    """

    def __init__(self, f: Any, derived: Callable[[str, Array], Array], u: Array, me: Array):
        super().__init__()
        self.f, self.derived, self.u, self.me = f, derived, u, me

    def symbol(self, node: ex.Symbol) -> Array:
        return self.u if node.name == ARGUMENT else self.me

    def apply(self, node: ex.Apply, row: Elementwise, a: Array) -> Array:
        return self.derived(row.name, a)

    def div(self, node: ex.Div, a: Array, b: Array) -> Array:
        return self.f.mul(a, self.f.inv_elem(b))

    def power(self, node: ex.Power, a: Array) -> Array:
        k = int(node.exponent)
        return self.f.pow_elem(a if k >= 0 else self.f.inv_elem(a), abs(k))


__all__ = ["Factor", "FieldArithmetic"]
