"""Conversions to SymPy: prover values (Ratio) and expressions on concrete shapes.

SymPy is imported lazily, only when these are used.
"""

from __future__ import annotations

from typing import Any

from symderiv.proofs.exact.algebra import Ratio, Variables


def sympy_functions() -> dict[str, Any]:
    """SymPy functions for the language's elementwise names, with the derivative rules of the SPEC."""
    import sympy

    class sigmoid(sympy.Function):  # noqa: N801 - the language's name
        def fdiff(self, argindex=1):
            s = sigmoid(self.args[0])
            return s * (1 - s)

    class relu(sympy.Function):  # noqa: N801
        def fdiff(self, argindex=1):
            return sympy.Heaviside(self.args[0])

    class logabs(sympy.Function):  # noqa: N801
        def fdiff(self, argindex=1):
            return 1 / self.args[0]

    return {"exp": sympy.exp, "log": sympy.log, "sqrt": sympy.sqrt, "abs": sympy.Abs, "sin": sympy.sin,
            "cos": sympy.cos, "tan": sympy.tan, "tanh": sympy.tanh, "sigmoid": sigmoid, "relu": relu,
            "step": sympy.Heaviside, "sign": sympy.sign, "logabs": logabs}


_FUNCTIONS: dict[str, Any] = {}


def function(name: str) -> Any:
    """The SymPy function for an elementwise name (generic names become undefined functions
    whose derivative is ``name_prime``)."""
    import sympy

    if not _FUNCTIONS:
        _FUNCTIONS.update(sympy_functions())
    found = _FUNCTIONS.get(name)
    if found is None:
        prime = name + "_prime"

        def fdiff(self, argindex=1):
            return function(prime)(self.args[0])

        found = type(name, (sympy.Function,), {"fdiff": fdiff})
        _FUNCTIONS[name] = found
    return found


def symbol_for(vars_: Variables, v: int) -> Any:
    import sympy

    return sympy.Symbol(vars_.names[v].replace("[", "_").replace(",", "_").replace("]", ""), real=True)


def ratio_to_sympy(vars_: Variables, r: Ratio) -> Any:
    """A prover value as a SymPy expression (atoms become function applications)."""
    import sympy

    def var(v: int) -> Any:
        atom = vars_.atoms.get(v)
        if atom is None:
            return symbol_for(vars_, v)
        return function(atom.fn)(ratio_to_sympy(vars_, atom.arg))

    def poly(p: dict) -> Any:
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
