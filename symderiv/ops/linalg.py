"""Matrix functions defined over the primitives: the log-determinant and integer matrix powers.

Each entry is the whole story of one operation: its shape, its value (a macro over the primitives,
which every backend evaluates), its backward rule, its printing and its noun in derivations.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from symderiv.core import expr as ex
from symderiv.ops.base import Elementwise, LatexPrinter, MatrixOp, Param, Params, ShapeRule, call

#: The largest k of matpow(A, k).
MAX_MATPOW = 64


def _logdet_shape(rule: ShapeRule, shapes: Sequence[ex.Shape], params: Params) -> ex.Shape:
    rule.square(shapes[0], "logdet")
    return (1, 1)


def _logdet_vjp(node: ex.Call, g: ex.Expr) -> tuple[ex.Expr | None, ...]:
    # d log|det A| = tr(A⁻¹ dA), so the contraction with g is g A⁻ᵀ.
    return (ex.Mul(g, ex.Transpose(ex.Inv(node.args[0]))),)


def _logdet_latex(p: LatexPrinter, node: ex.Call) -> tuple[str, int]:
    return rf"\log\left\lvert\det {p.wrap(node.args[0], p.POSTFIX)}\right\rvert", p.POSTFIX


#: log |z|, the atom of logdet: internal (not a name of the language), with its own row so that every engine
#: evaluates and differentiates it like any elementwise function.
LOGABS = Elementwise(
    "logabs", "log |z|, the atom of logdet", "1 / z", latex=r"\log\left\lvert {} \right\rvert",
    domain="nonzero", even=True, limited=False, internal=True, text="log|{}|",
    zero_error="logdet of a matrix whose determinant is identically zero",
    code={"numpy": "np.log(np.abs({}))", "torch": "torch.log(torch.abs({}))", "jax": "jnp.log(jnp.abs({}))"},
    numpy=lambda np, z: np.log(np.abs(z)), mpmath=lambda mp, z: mp.log(abs(z)),
    fold=lambda c: Fraction(0) if abs(c) == 1 else None)

ROWS = (LOGABS,)

LOGDET = MatrixOp(
    "logdet", "log |det A|, the log-determinant", arity=1, params=(),
    shape=_logdet_shape,
    expand=lambda args, shapes, params: ex.Apply(ex.Det(args[0]), fn="logabs"),
    vjp=_logdet_vjp, latex=_logdet_latex, noun="the log-determinant", scalar=True, index="lemma", lemma="jacobi",
    numpy=lambda np, args, params: np.array([[np.linalg.slogdet(args[0])[1]]]),
    code={"numpy": "np.linalg.slogdet({0})[1]", "torch": "torch.linalg.slogdet({0})[1]",
          "jax": "jnp.linalg.slogdet({0})[1]"},
)


def _matpow_shape(rule: ShapeRule, shapes: Sequence[ex.Shape], params: Params) -> ex.Shape:
    rule.square(shapes[0], "matpow")
    return shapes[0]


def _matpow_expand(args: Sequence[ex.Expr], shapes: Sequence[ex.Shape], params: Params) -> ex.Expr:
    a, k = args[0], int(params["k"])
    if k == 0:  # A⁰ = I
        return ex.ConstMatrix("eye", *shapes[0])  # A is square
    out = a
    for _ in range(k - 1):
        out = ex.MatMul(out, a)
    return out


def _matpow_vjp(node: ex.Call, g: ex.Expr) -> tuple[ex.Expr | None, ...]:
    # d(A^k) = Σ_i A^i dA A^(k-1-i): one product-rule term per factor.
    a, k = node.args[0], int(node.param("k") or 0)
    if k == 0:
        return (None,)

    def power_t(i: int) -> ex.Expr | None:
        if i == 0:
            return None
        return ex.Transpose(a if i == 1 else call("matpow", a, k=i))

    total: ex.Expr | None = None
    for i in range(k):
        left, right = power_t(i), power_t(k - 1 - i)
        term = g
        if left is not None:
            term = ex.MatMul(left, term)
        if right is not None:
            term = ex.MatMul(term, right)
        total = term if total is None else ex.Add(total, term)
    return (total,)


MATPOW = MatrixOp(
    "matpow", "the matrix power A @ A @ ... @ A (k factors)", arity=1,
    params=(Param("k", 0, MAX_MATPOW, what="the power of matpow"),), form="matpow(A, k) with an integer literal k ≥ 0",
    shape=_matpow_shape, expand=_matpow_expand, vjp=_matpow_vjp,
    latex=lambda p, node: p.superscript(node.args[0], str(node.param("k"))), noun="the matrix power",
    numpy=lambda np, args, params: np.linalg.matrix_power(args[0], int(params["k"])),
    growth=lambda params: max(1, int(params["k"])),
    code={"numpy": "np.linalg.matrix_power({0}, {k})", "torch": "torch.linalg.matrix_power({0}, {k})",
          "jax": "jnp.linalg.matrix_power({0}, {k})"},
)

OPS = (LOGDET, MATPOW)

__all__ = ["LOGABS", "LOGDET", "ROWS", "MATPOW", "MAX_MATPOW", "OPS"]
