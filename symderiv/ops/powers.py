"""``A ** p`` for a constant ``p`` that is not an integer (integer powers are the primitive ``Power``).

A non-integer power needs positive entries; there ``x ** p = x ** q * exp(f * log(x))`` with ``q = floor(p)``
and ``f = p - q`` in ``(0, 1)``. That is the expansion every engine evaluates. Its form is canonical: the
derivative of ``x ** q * exp(f log x)`` is ``(q + f) x ** (q - 1) * exp(f log x)``, the expansion of
``p * x ** (p - 1)`` again, so the exact prover compares powers with the same atoms ``exp(f log x)``
(``sum(X ** -0.5)`` and its gradient ``-0.5 * X ** -1.5`` share ``exp(log(x) / 2)``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

from symderiv.core import expr as ex
from symderiv.core.literals import number_text
from symderiv.ops.base import LatexPrinter, MatrixOp, Param, Params

#: The largest |p| of ``A ** p`` (that of integer powers).
MAX_EXPONENT = 64


def power(a: ex.Expr, p: Fraction) -> ex.Expr:
    """``a ** p``: the primitive for an integer ``p``, else the ``pow`` call.

    >>> power(ex.Symbol("X"), Fraction(2)), power(ex.Symbol("X"), Fraction(1, 2)).op
    (Power(operand=Symbol(name='X'), exponent=2), 'pow')
    """
    if p.denominator == 1:
        return a if p == 1 else ex.Power(a, exponent=int(p))
    return ex.Call("pow", (a,), (("p", p),))


def _pow_expand(args: Sequence[ex.Expr], shapes: Sequence[ex.Shape], params: Params) -> ex.Expr:
    a, p = args[0], Fraction(params["p"])
    if p.denominator == 1:  # pow(A, 2), written as a call: the primitive, for every sign of the entries
        return power(a, p)
    q = math.floor(p)
    root = ex.Apply(ex.Mul(ex.Number(p - q), ex.Apply(a, fn="log")), fn="exp")
    return root if q == 0 else ex.Mul(ex.Power(a, exponent=q), root)


def _pow_vjp(node: ex.Call, g: ex.Expr) -> tuple[ex.Expr | None, ...]:
    # d(A ** p) = p * A ** (p - 1) * dA.
    p = Fraction(node.param("p") or 0)
    return (ex.Mul(g, ex.Mul(ex.Number(p), power(node.args[0], p - 1))),)


def _pow_latex(p: LatexPrinter, node: ex.Call) -> tuple[str, int]:
    value = Fraction(node.param("p") or 0)
    text = number_text(value).strip("()")
    # An elementwise power of a matrix is a Hadamard power, A^{∘p}, as for integer powers.
    return p.superscript(node.args[0], text if isinstance(node.args[0], ex.Number) else rf"\circ {text}")


POW = MatrixOp(
    "pow", "A ** p for a constant p that is not an integer (entries must be positive)", arity=1,
    params=(Param("p", -MAX_EXPONENT, MAX_EXPONENT, kind="number", what="the exponent of `**`",
                  hint="`A ** p` takes a constant p: 2, 0.5, -1.5 or (1/3)"),),
    form="A ** p with a constant p", shape=lambda rule, shapes, params: shapes[0],
    expand=_pow_expand, vjp=_pow_vjp, latex=_pow_latex, noun="the power", infix="**",
    numpy=lambda np, args, params: np.power(args[0], float(params["p"])),
    growth=lambda params: max(1, math.ceil(abs(Fraction(params["p"])))),
)

OPS = (POW,)

__all__ = ["MAX_EXPONENT", "OPS", "POW", "power"]
