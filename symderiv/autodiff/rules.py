"""Backward (vector-Jacobian) rules, one per node type, in matrix form, in one table.

A rule receives the node, the upstream gradient ``G = ∂L/∂node`` (an Expr with the
node's shape) and a :class:`Context` that knows shapes; it returns one
contribution ``∂L/∂child`` per child, or ``None`` where there is none. Each primitive
node type has one entry in :data:`RULES`; everything else comes from the registry
(:mod:`symderiv.ops`): an elementwise function's derivative from its row, an operation's
backward rule from its ``vjp``. The sweep in ``backprop.py`` never changes (the JAX
``primitive_transposes`` model).

The product rule is the contraction of the upstream with the other factor:
for ``A @ B``, ``∂L/∂A = G @ B.T`` and ``∂L/∂B = A.T @ G``. An operand that was
broadcast gets its gradient summed back to its own shape (``b: H×1`` gets
``sum(G, axis=1)``). Rules build plain trees; ``simplify`` makes them readable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from symderiv.core import expr as ex
from symderiv.core.errors import UnsupportedError
from symderiv.ops import matrix_op
from symderiv.syntax.derivatives import derivative_of

Contribution = ex.Expr | None
#: A rule takes its own node type (``_matmul`` a MatMul), the upstream and the context.
Rule = Callable[[Any, ex.Expr, "Context"], tuple[Contribution, ...]]


@dataclass
class Context:
    """What a rule may ask: the shape of a node of the forward expression."""

    shape: Callable[[ex.Expr], ex.Shape]


def _num(value: int | Fraction) -> ex.Number:
    return ex.Number(Fraction(value))


def _T(node: ex.Expr) -> ex.Expr:
    return ex.Transpose(node)


def unbroadcast(upstream: ex.Expr, operand: ex.Expr, result: ex.Expr, ctx: Context) -> ex.Expr:
    """Sum ``upstream`` (shaped like ``result``) back to the shape of a broadcast ``operand``.

    >>> ctx = Context(shape=lambda n: {"b": (1, "M")}.get(getattr(n, "name", ""), ("N", "M")))
    >>> unbroadcast(ex.Symbol("G"), ex.Symbol("b"), ex.Symbol("D"), ctx)
    Sum(operand=Symbol(name='G'), axis=0)
    """
    rows, cols = ctx.shape(operand)
    out_rows, out_cols = ctx.shape(result)
    stretched_rows = rows == 1 and out_rows != 1
    stretched_cols = cols == 1 and out_cols != 1
    if stretched_rows and stretched_cols:
        return ex.Sum(upstream)
    if stretched_rows:
        return ex.Sum(upstream, axis=0)
    if stretched_cols:
        return ex.Sum(upstream, axis=1)
    return upstream


# -- linear and product rules -------------------------------------------------

def _matmul(node: ex.MatMul, g: ex.Expr, ctx: Context) -> tuple[Contribution, ...]:
    return ex.MatMul(g, _T(node.right)), ex.MatMul(_T(node.left), g)


def _add(node: ex.Add, g: ex.Expr, ctx: Context) -> tuple[Contribution, ...]:
    return unbroadcast(g, node.left, node, ctx), unbroadcast(g, node.right, node, ctx)


def _sub(node: ex.Sub, g: ex.Expr, ctx: Context) -> tuple[Contribution, ...]:
    return unbroadcast(g, node.left, node, ctx), unbroadcast(ex.Neg(g), node.right, node, ctx)


def _mul(node: ex.Mul, g: ex.Expr, ctx: Context) -> tuple[Contribution, ...]:
    return (unbroadcast(ex.Mul(g, node.right), node.left, node, ctx),
            unbroadcast(ex.Mul(node.left, g), node.right, node, ctx))


def _div(node: ex.Div, g: ex.Expr, ctx: Context) -> tuple[Contribution, ...]:
    a, b = node.left, node.right
    return (unbroadcast(ex.Div(g, b), a, node, ctx),
            unbroadcast(ex.Neg(ex.Div(ex.Mul(g, a), ex.Power(b, exponent=2))), b, node, ctx))


def _neg(node: ex.Neg, g: ex.Expr, ctx: Context) -> tuple[Contribution, ...]:
    return (ex.Neg(g),)


def _transpose(node: ex.Transpose, g: ex.Expr, ctx: Context) -> tuple[Contribution, ...]:
    return (_T(g),)


def _power(node: ex.Power, g: ex.Expr, ctx: Context) -> tuple[Contribution, ...]:
    k = node.exponent
    if k == 0:
        return (None,)
    if k == 1:
        return (g,)
    return (ex.Mul(g, ex.Mul(_num(k), ex.Power(node.operand, exponent=k - 1))),)


# -- elementwise functions: f'(A) from the function's registry row ------------

def _apply(node: ex.Apply, g: ex.Expr, ctx: Context) -> tuple[Contribution, ...]:
    # f' comes from the row, with f(A) (the node itself) where the row writes y.
    derivative = derivative_of(node.fn, node.operand, node)
    if isinstance(derivative, ex.Div) and derivative.left == _num(1):
        return (ex.Div(g, derivative.right),)  # G / A rather than G * (1 / A)
    return (ex.Mul(g, derivative),)


# -- matrix functions ----------------------------------------------------------

def _trace(node: ex.Trace, g: ex.Expr, ctx: Context) -> tuple[Contribution, ...]:
    n = ctx.shape(node.operand)[0]
    return (ex.Mul(g, ex.ConstMatrix("eye", n, n)),)


def _det(node: ex.Det, g: ex.Expr, ctx: Context) -> tuple[Contribution, ...]:
    # Jacobi's formula: ∂det(A)/∂A = det(A) * inv(A).T.
    return (ex.Mul(ex.Mul(g, node), _T(ex.Inv(node.operand))),)


def _inv(node: ex.Inv, g: ex.Expr, ctx: Context) -> tuple[Contribution, ...]:
    # d(A⁻¹) = -A⁻¹ dA A⁻¹, so the contraction with G is -A⁻ᵀ G A⁻ᵀ.
    inv_t = _T(node)
    return (ex.Neg(ex.MatMul(ex.MatMul(inv_t, g), inv_t)),)


def _call(node: ex.Call, g: ex.Expr, ctx: Context) -> tuple[Contribution, ...]:
    # An operation of the registry brings its own backward rule (given the shapes when it needs them).
    op = matrix_op(node.op)
    if op.vjp_shaped is not None:
        return op.vjp_shaped(node, g, [ctx.shape(a) for a in node.args])
    return op.vjp(node, g)


def _sum(node: ex.Sum, g: ex.Expr, ctx: Context) -> tuple[Contribution, ...]:
    rows, cols = ctx.shape(node.operand)
    if node.axis is None:
        return (ex.Mul(g, ex.ConstMatrix("ones", rows, cols)),)
    if node.axis == 0:  # column sums, G is 1×cols: every row gets G
        return (ex.MatMul(ex.ConstMatrix("ones", rows, 1), g),)
    return (ex.MatMul(g, ex.ConstMatrix("ones", 1, cols)),)


def _leaf(node: ex.Expr, g: ex.Expr, ctx: Context) -> tuple[Contribution, ...]:
    return ()


#: The one table from node type to backward rule.
RULES: dict[type[ex.Expr], Rule] = {
    ex.MatMul: _matmul,
    ex.Add: _add,
    ex.Sub: _sub,
    ex.Mul: _mul,
    ex.Div: _div,
    ex.Neg: _neg,
    ex.Transpose: _transpose,
    ex.Power: _power,
    ex.Apply: _apply,
    ex.Trace: _trace,
    ex.Det: _det,
    ex.Inv: _inv,
    ex.Call: _call,
    ex.Sum: _sum,
    ex.Symbol: _leaf,
    ex.Number: _leaf,
    ex.ConstMatrix: _leaf,
}


def backward(node: ex.Expr, upstream: ex.Expr, ctx: Context) -> tuple[Contribution, ...]:
    """The contributions of ``node``'s children to ∂L/∂child, given ``upstream = ∂L/∂node``.

    >>> W, X = ex.Symbol("W"), ex.Symbol("X")
    >>> backward(ex.MatMul(W, X), ex.Symbol("G"), Context(shape=lambda n: (2, 2)))[0]
    MatMul(left=Symbol(name='G'), right=Transpose(operand=Symbol(name='X')))
    """
    rule = RULES.get(type(node))
    if rule is None:  # pragma: no cover - every node type of expr.py is in the table
        raise UnsupportedError(f"no backward rule for {type(node).__name__}")
    return rule(node, upstream, ctx)


__all__ = ["RULES", "Context", "backward", "unbroadcast"]
