"""Conversions to SymPy: elementwise functions from their registry rows, and prover values (Ratio).

A row with a SymPy value (``row.sympy``) is that SymPy function; a row without one (a function SymPy
lacks, an internal one, a generic ``phi``) becomes an undefined SymPy function of its name whose
derivative is the row's derivative, evaluated in SymPy. SymPy is imported lazily, only when these are
used.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from functools import cache
from typing import TYPE_CHECKING, Any

from symderiv.backends.walk import Interpreter
from symderiv.core import expr as ex
from symderiv.ops import Elementwise, elementwise, language_functions
from symderiv.syntax.derivatives import ARGUMENT, VALUE, derivative_tree
from symderiv.syntax.language import parse

if TYPE_CHECKING:
    from symderiv.proofs.exact.algebra import Ratio, Variables

_FUNCTIONS: dict[str, Any] = {}
_NAMES: dict[Any, str] = {}
_SCANNED: list[bool] = []


class _Scalar(Interpreter[Any]):
    """A derivative tree (over ``z`` and ``y``) evaluated as a SymPy scalar."""

    def __init__(self, values: dict[str, Any]) -> None:
        super().__init__()
        self.values = values

    def symbol(self, node: ex.Symbol) -> Any:
        return self.values[node.name]

    def number(self, node: ex.Number) -> Any:
        import sympy  # type: ignore[import-untyped]

        v = Fraction(node.value)
        return sympy.Rational(v.numerator, v.denominator)

    def apply(self, node: ex.Apply, row: Elementwise, a: Any) -> Any:
        return function(row.name)(a)

    def add(self, node: ex.Add, a: Any, b: Any) -> Any:
        return a + b

    def sub(self, node: ex.Sub, a: Any, b: Any) -> Any:
        return a - b

    def mul(self, node: ex.Mul, a: Any, b: Any) -> Any:
        return a * b

    def div(self, node: ex.Div, a: Any, b: Any) -> Any:
        return a / b

    def neg(self, node: ex.Neg, a: Any) -> Any:
        return -a

    def power(self, node: ex.Power, a: Any) -> Any:
        import sympy  # type: ignore[import-untyped]

        e = Fraction(node.exponent)
        return a ** sympy.Rational(e.numerator, e.denominator)


def _undefined(row: Elementwise) -> Any:
    """An undefined SymPy function named like the row, differentiated by the row's derivative."""
    import sympy  # type: ignore[import-untyped]

    tree = derivative_tree(row.name)
    name = row.name

    def fdiff(self: Any, argindex: int = 1) -> Any:
        z = self.args[0]
        if tree is None:  # a generic function's derivative: its own ``_prime``
            return function(name + "_prime")(z)
        return _Scalar({ARGUMENT: z, VALUE: self}).evaluate(tree)

    return type(name, (sympy.Function,), {"fdiff": fdiff})


def _builtin(row: Elementwise, value: Callable[[Any, Any], Any]) -> Any:
    """The SymPy class of a row's SymPy value when it is one (``sympy.exp``), else a callable (``sqrt``)."""
    import sympy  # type: ignore[import-untyped]

    z = sympy.Dummy("z", real=True)
    probe = value(sympy, z)
    if isinstance(probe, sympy.Function) and probe.args[0] == z and probe.func(z) == probe:
        return probe.func
    return lambda arg: value(sympy, arg)


def function(name: str) -> Any:
    """The SymPy function of an elementwise name (generic names become undefined functions whose
    derivative is ``name_prime``).

    >>> import sympy
    >>> x = sympy.Symbol("x")
    >>> function("relu")(x).diff(x), function("phi")(x).diff(x)
    (Heaviside(x), phi_prime(x))
    """
    found = _FUNCTIONS.get(name)
    if found is None:
        row = elementwise(name)
        found = _undefined(row) if row.sympy is None else _builtin(row, row.sympy)
        _FUNCTIONS[name] = found
        if isinstance(found, type):
            _NAMES.setdefault(found, name)
    return found


def name_of(cls: Any) -> str | None:
    """The elementwise name whose SymPy function is the class ``cls``, if any (the built-in rows are
    looked at; an undefined generic function is known once :func:`function` made it).

    >>> import sympy
    >>> name_of(sympy.Heaviside), name_of(sympy.Abs), name_of(sympy.Max)
    ('step', 'abs', None)
    """
    if not _SCANNED:
        for name in language_functions():
            function(name)
        _SCANNED.append(True)
    return _NAMES.get(cls)


@cache
def name_of_power(exponent: Any) -> str | None:
    """The elementwise name whose SymPy value is the power ``z ** exponent`` (SymPy writes ``sqrt`` so).

    >>> import sympy
    >>> name_of_power(sympy.Rational(1, 2)), name_of_power(sympy.Integer(3))
    ('sqrt', None)
    """
    import sympy  # type: ignore[import-untyped]

    z = sympy.Dummy("z", positive=True)
    for name in language_functions():
        found = function(name)
        if not isinstance(found, type) and found(z) == z ** exponent:
            return name
    return None


def symbol_for(vars_: Variables, v: int) -> Any:
    import sympy  # type: ignore[import-untyped]

    return sympy.Symbol(vars_.names[v].replace("[", "_").replace(",", "_").replace("]", ""), real=True)


def ratio_to_sympy(vars_: Variables, r: Ratio) -> Any:
    """A prover value as a SymPy expression (atoms become function applications)."""
    import sympy  # type: ignore[import-untyped]

    def var(v: int) -> Any:
        atom = vars_.atoms.get(v)
        if atom is None:
            return symbol_for(vars_, v)
        return function(atom.fn)(ratio_to_sympy(vars_, atom.arg))

    def poly(p: dict[Any, Any]) -> Any:
        terms = []
        for mono, c in p.items():
            term = sympy.Rational(c.numerator, c.denominator) if hasattr(c, "denominator") else sympy.Integer(c)
            for x in mono:
                term = term * var(x)
            terms.append(term)
        return sympy.Add(*terms)

    num = poly(r.num)
    den = sympy.Integer(1)
    for factor, e in r.factors():
        den = den * poly(factor) ** e
    return num / den


def write_out_expansions(value: Any) -> Any:
    """``value`` with each function SymPy lacks written by its registry expansion (sigmoid as exp's quotient),
    so that SymPy can decide identities between a function and its expansion.

    >>> import sympy
    >>> u = sympy.Symbol("u")
    >>> sympy.simplify(write_out_expansions(function("sigmoid")(u) - 1 / (1 + sympy.exp(-u))))
    0
    """
    for name in language_functions():
        row = elementwise(name)
        if row.sympy is None and row.expansions:
            tree = parse(row.expansions[0])
            value = value.replace(function(name), lambda arg, tree=tree: _Scalar({ARGUMENT: arg}).evaluate(tree))
    return value


__all__ = ["function", "name_of", "write_out_expansions", "name_of_power", "ratio_to_sympy", "symbol_for"]
