"""``diag`` and ``diagflat``: between a square matrix's diagonal and a column vector.

``diag(A)`` is ``sum(A * eye(n), axis=1)`` (``n×n`` to ``n×1``) and ``diagflat(x)`` is ``eye(n) * x``
(``x`` broadcast along the rows: ``n×1`` to ``n×n``). Each is the other's backward rule.
"""

from __future__ import annotations

from collections.abc import Sequence

from symderiv.core import expr as ex
from symderiv.ops.base import MatrixOp, Params, ShapeRule, call


def _diag_shape(rule: ShapeRule, shapes: Sequence[ex.Shape], params: Params) -> ex.Shape:
    return (rule.square(shapes[0], "diag"), 1)


def _diagflat_shape(rule: ShapeRule, shapes: Sequence[ex.Shape], params: Params) -> ex.Shape:
    n = rule.column(shapes[0], "diagflat")
    return (n, n)


def _diag_expand(args: Sequence[ex.Expr], shapes: Sequence[ex.Shape], params: Params) -> ex.Expr:
    n = shapes[0][0]
    return ex.Sum(ex.Mul(args[0], ex.ConstMatrix("eye", n, n)), axis=1)


def _diagflat_expand(args: Sequence[ex.Expr], shapes: Sequence[ex.Shape], params: Params) -> ex.Expr:
    n = shapes[0][0]
    return ex.Mul(ex.ConstMatrix("eye", n, n), args[0])


DIAG = MatrixOp(
    "diag", "the diagonal of a square matrix, as a column n×1", arity=1, params=(), shape=_diag_shape,
    expand=_diag_expand, vjp=lambda node, g: (call("diagflat", g),),
    latex=lambda p, node: (rf"\operatorname{{diag}}\left({p.doprint(node.args[0])}\right)", p.POSTFIX),
    noun="the diagonal", numpy=lambda np, args, params: np.diag(args[0]).reshape(-1, 1).astype(float),
)

DIAGFLAT = MatrixOp(
    "diagflat", "the n×n diagonal matrix with the column x on its diagonal", arity=1, params=(),
    shape=_diagflat_shape, expand=_diagflat_expand, vjp=lambda node, g: (call("diag", g),), form="diagflat(x)",
    latex=lambda p, node: (rf"\operatorname{{diagflat}}\left({p.doprint(node.args[0])}\right)", p.POSTFIX),
    noun="the diagonal matrix", numpy=lambda np, args, params: np.diagflat(args[0]).astype(float),
)

OPS = (DIAG, DIAGFLAT)

__all__ = ["DIAG", "DIAGFLAT", "OPS"]
