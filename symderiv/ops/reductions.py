"""Reductions beyond ``sum``: ``logsumexp``, ``mean`` and the Frobenius ``norm``.

Each is a macro over the primitives (``log(sum(exp(A), axis))``, ``sum(A, axis) / count``,
``sqrt(sum(A ** 2))``), so every engine evaluates it exactly as the quotient or root it is; the backward
rules are the textbook ones (``softmax``, ``G / count``, ``A / norm(A)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from symderiv.core import expr as ex
from symderiv.core.errors import UnsupportedError
from symderiv.ops.base import LatexPrinter, MatrixOp, Param, Params, ShapeRule, call

#: ``axis=0|1``, optional: left out, the reduction is over every entry.
OPTIONAL_AXIS = Param("axis", 0, 1, positional=False, kind="axis", optional=True, what="axis",
                      hint="axis is 0 (down each column) or 1 (along each row)")
#: ``axis=0|1``, required (softmax).
AXIS = Param("axis", 0, 1, positional=False, kind="axis", what="axis",
             hint="axis is 0 (down each column) or 1 (along each row)")


def reduced_shape(shape: ex.Shape, axis: Any) -> ex.Shape:
    """The shape of a reduction like ``sum``: ``1×1``, ``1×c`` (axis 0) or ``r×1`` (axis 1).

    >>> reduced_shape(("m", "n"), 0), reduced_shape(("m", "n"), None)
    ((1, 'n'), (1, 1))
    """
    if axis is None:
        return (1, 1)
    return (1, shape[1]) if axis == 0 else (shape[0], 1)


def _reduce_shape(rule: ShapeRule, shapes: Sequence[ex.Shape], params: Params) -> ex.Shape:
    return reduced_shape(shapes[0], params.get("axis"))


def axis_latex(p: LatexPrinter, name: str, node: ex.Call) -> tuple[str, int]:
    """``\\operatorname{name}(A)`` with the axis, when given, as a subscript ``_{\\mathrm{axis}=1}``."""
    axis = dict(node.params).get("axis")
    sub = "" if axis is None else rf"_{{\mathrm{{axis}}={axis}}}"
    return rf"\operatorname{{{name}}}{sub}\left({p.doprint(node.args[0])}\right)", p.POSTFIX


def _exp(a: ex.Expr) -> ex.Expr:
    return ex.Apply(a, fn="exp")


# -- logsumexp -------------------------------------------------------------------------------------

def _logsumexp_vjp(node: ex.Call, g: ex.Expr) -> tuple[ex.Expr | None, ...]:
    # ∂ log Σ exp(a) / ∂a = exp(a) / Σ exp(a): the softmax along the reduced axis.
    a, axis = node.args[0], dict(node.params).get("axis")
    if axis is None:
        return (ex.Mul(g, ex.Div(_exp(a), ex.Sum(_exp(a)))),)
    return (ex.Mul(g, call("softmax", a, axis=axis)),)


def _logsumexp_numpy(np: Any, args: Sequence[Any], params: Params) -> Any:
    a, axis = args[0], params.get("axis")
    top = np.max(a, axis=axis, keepdims=True) if a.size else np.zeros((1, 1))
    out = np.log(np.sum(np.exp(a - top), axis=axis, keepdims=True)) + top
    return out.reshape(reduced_shape(a.shape, axis))


LOGSUMEXP = MatrixOp(
    "logsumexp", "log(sum(exp(A))), over all entries or along an axis", arity=1, params=(OPTIONAL_AXIS,),
    form="logsumexp(A) or logsumexp(A, axis=0|1)", shape=_reduce_shape,
    expand=lambda args, shapes, params: ex.Apply(ex.Sum(_exp(args[0]), axis=params.get("axis")), fn="log"),
    vjp=_logsumexp_vjp, latex=lambda p, node: axis_latex(p, "logsumexp", node), noun="the log-sum-exp",
    numpy=_logsumexp_numpy,
)


# -- mean --------------------------------------------------------------------------------------------

def count(shape: ex.Shape, axis: Any) -> ex.Expr:
    """How many entries a reduction adds up: a number for concrete sizes, else ``sum(ones(r, c))``.

    >>> count((3, 4), None), count(("m", 4), 0)
    (Number(value=Fraction(12, 1)), Sum(operand=ConstMatrix(kind='ones', rows='m', cols=1), axis=None))
    """
    rows, cols = shape
    if axis == 0:
        cols = 1
    elif axis == 1:
        rows = 1
    if isinstance(rows, int) and isinstance(cols, int):
        return ex.Number(Fraction(rows * cols))
    return ex.Sum(ex.ConstMatrix("ones", rows, cols))


def _mean_expand(args: Sequence[ex.Expr], shapes: Sequence[ex.Shape], params: Params) -> ex.Expr:
    axis = params.get("axis")
    return ex.Div(ex.Sum(args[0], axis=axis), count(shapes[0], axis))


def _mean_vjp_shaped(node: ex.Call, g: ex.Expr, shapes: Sequence[ex.Shape]) -> tuple[ex.Expr | None, ...]:
    # Every entry counts 1/count: the upstream spread back over what was averaged.
    rows, cols = shapes[0]
    axis = dict(node.params).get("axis")
    share = ex.Div(g, count(shapes[0], axis))
    if axis is None:
        return (ex.Mul(share, ex.ConstMatrix("ones", rows, cols)),)
    if axis == 0:
        return (ex.MatMul(ex.ConstMatrix("ones", rows, 1), share),)
    return (ex.MatMul(share, ex.ConstMatrix("ones", 1, cols)),)


def _mean_vjp(node: ex.Call, g: ex.Expr) -> tuple[ex.Expr | None, ...]:
    raise UnsupportedError("the backward rule of mean needs the argument's shape")


MEAN = MatrixOp(
    "mean", "the mean of the entries, over all of them or along an axis", arity=1, params=(OPTIONAL_AXIS,),
    form="mean(A) or mean(A, axis=0|1)", shape=_reduce_shape, expand=_mean_expand, vjp=_mean_vjp,
    vjp_shaped=_mean_vjp_shaped, latex=lambda p, node: axis_latex(p, "mean", node), noun="the mean",
    numpy=lambda np, args, params: np.mean(args[0], axis=params.get("axis"), keepdims=True).reshape(
        reduced_shape(args[0].shape, params.get("axis"))),
)


# -- norm --------------------------------------------------------------------------------------------

NORM = MatrixOp(
    "norm", "the Frobenius norm sqrt(sum(A ** 2)) (the 2-norm of a vector)", arity=1, params=(),
    shape=lambda rule, shapes, params: (1, 1),
    expand=lambda args, shapes, params: ex.Apply(ex.Sum(ex.Power(args[0], exponent=2)), fn="sqrt"),
    vjp=lambda node, g: (ex.Mul(g, ex.Div(node.args[0], node)),),
    latex=lambda p, node: (rf"\left\lVert {p.doprint(node.args[0])} \right\rVert_{{F}}", p.POSTFIX + 1),
    # Not ``scalar``: the randomized engine differentiates scalar ops by their vjp, and this one names the
    # node itself (A / norm(A)); through the expansion it is a root of a sum like any other.
    noun="the Frobenius norm",
    numpy=lambda np, args, params: np.array([[np.linalg.norm(args[0])]]),
)

OPS = (LOGSUMEXP, MEAN, NORM)

__all__ = ["AXIS", "LOGSUMEXP", "MEAN", "NORM", "OPTIONAL_AXIS", "OPS", "axis_latex", "count", "reduced_shape"]
