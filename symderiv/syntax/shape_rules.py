"""Shape rules, node by node: unification of dimensions (numbers, names and unknowns) and broadcasting.

:func:`symderiv.syntax.shapes.infer_shapes` is the entry point; this module holds the machinery.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from symderiv.core import expr as ex
from symderiv.core.errors import ShapeError
from symderiv.ops import matrix_op


@dataclass
class Unifier:
    text: str | None
    parent: dict[object, object] = field(default_factory=dict)
    #: dimension names of ones/zeros/eye → the term they stand for
    dim_alias: dict[str, object] = field(default_factory=dict)

    def find(self, term: object) -> object:
        root = term
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while self.parent.get(term, term) != root:
            self.parent[term], term = root, self.parent[term]
        return root

    def value(self, term: object) -> object:
        return self.find(term)

    @staticmethod
    def is_fresh(term: object) -> bool:
        return isinstance(term, tuple)

    def unify(self, a: object, b: object, node: ex.Expr | None, what: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self.is_fresh(ra):
            self.parent[ra] = rb
        elif self.is_fresh(rb):
            self.parent[rb] = ra
        else:
            span = getattr(node, "span", None) if node is not None else None
            hint = ("dimension names are distinct symbols; use the same name where sizes must agree"
                    if isinstance(ra, str) or isinstance(rb, str) else None)
            raise ShapeError(f"{what}: {ra} ≠ {rb}", text=self.text,
                             column=span[0] if span else None, width=span[1] if span else 1, hint=hint)


def _broadcast(u: Unifier, a: ex.Shape, b: ex.Shape, node: ex.Expr, op: str) -> ex.Shape:
    out: list[ex.Dim] = []
    for axis, (da, db) in enumerate(zip(a, b, strict=True)):
        va, vb = u.value(da), u.value(db)
        if va == vb:
            out.append(da)  # type: ignore[arg-type]
        elif va == 1:
            out.append(db)  # type: ignore[arg-type]
        elif vb == 1:
            out.append(da)  # type: ignore[arg-type]
        elif u.is_fresh(va) or u.is_fresh(vb):
            u.unify(da, db, node, "")
            out.append(da)  # type: ignore[arg-type]
        else:
            span = getattr(node, "span", None)
            raise ShapeError(
                f"cannot {op} a {show(u, a)} and a {show(u, b)} matrix: "
                f"{'rows' if axis == 0 else 'columns'} {va} and {vb} differ and neither is 1",
                text=u.text, column=span[0] if span else None, width=span[1] if span else 1,
                hint="broadcasting stretches a dimension of size 1 only (as in NumPy)")
    return (out[0], out[1])


def show(u: Unifier, shape: ex.Shape) -> str:
    """A shape as ``3×n``, with ``?`` for a dimension still unknown."""
    vals = [u.value(d) for d in shape]
    return "×".join("?" if u.is_fresh(v) else str(v) for v in vals)


def shape_of_node(node: ex.Expr, env: Mapping[str, ex.Shape], u: Unifier) -> ex.Shape:
    """The shape of ``node`` given the symbols' shapes ``env``, unifying unknown dimensions in ``u``."""
    return _ShapeWalk(env, u).of(node)


class _ShapeWalk:
    """The shape of every node, by unification; one small rule per node kind."""

    def __init__(self, env: Mapping[str, ex.Shape], u: Unifier) -> None:
        self.env, self.u = env, u

    def of(self, node: ex.Expr) -> ex.Shape:
        return getattr(self, "_" + type(node).__name__)(node)  # type: ignore[no-any-return]

    def err(self, node: ex.Expr, message: str, hint: str | None = None) -> ShapeError:
        span = getattr(node, "span", None)
        return ShapeError(message, text=self.u.text, column=span[0] if span else None,
                          width=span[1] if span else 1, hint=hint)

    def square(self, node: ex.Expr, inner: ex.Shape, fn: str) -> None:
        try:
            self.u.unify(inner[0], inner[1], node, "")
        except ShapeError:
            raise self.err(node, f"{fn} needs a square matrix, but its argument is {show(self.u, inner)}") from None

    def column(self, node: ex.Expr, inner: ex.Shape, fn: str) -> None:
        try:
            self.u.unify(inner[1], 1, node, "")
        except ShapeError:
            raise self.err(node, f"{fn} needs a column n×1, but its argument is {show(self.u, inner)}") from None

    def _Symbol(self, node: ex.Symbol) -> ex.Shape:
        if node.name not in self.env:
            raise self.err(node, f"unknown matrix `{node.name}`")
        return self.env[node.name]

    def _Number(self, node: ex.Number) -> ex.Shape:
        return (1, 1)

    def _ConstMatrix(self, node: ex.ConstMatrix) -> ex.Shape:
        alias = self.u.dim_alias
        return (alias.get(node.rows, node.rows) if isinstance(node.rows, str) else node.rows,  # type: ignore[return-value]
                alias.get(node.cols, node.cols) if isinstance(node.cols, str) else node.cols)

    def _MatMul(self, node: ex.MatMul) -> ex.Shape:
        for side in (node.left, node.right):
            if isinstance(side, ex.Number):
                raise self.err(node, "`@` needs matrices on both sides", hint="use `*` to scale by a number")
        a, b = self.of(node.left), self.of(node.right)
        try:
            self.u.unify(a[1], b[0], node, "")
        except ShapeError:
            raise self.err(node, f"cannot multiply {show(self.u, a)} @ {show(self.u, b)}: the inner dimensions "
                           f"{self.u.value(a[1])} and {self.u.value(b[0])} differ",
                           hint="for A @ B, A's column count must equal B's row count; "
                           "`*` is the elementwise product") from None
        return (a[0], b[1])

    def _elementwise(self, node: ex.Binary, op: str) -> ex.Shape:
        return _broadcast(self.u, self.of(node.left), self.of(node.right), node, op)

    def _Add(self, node: ex.Add) -> ex.Shape:
        return self._elementwise(node, "add")

    def _Sub(self, node: ex.Sub) -> ex.Shape:
        return self._elementwise(node, "subtract")

    def _Mul(self, node: ex.Mul) -> ex.Shape:
        return self._elementwise(node, "multiply elementwise")

    def _Div(self, node: ex.Div) -> ex.Shape:
        return self._elementwise(node, "divide")

    def _operand(self, node: ex.Unary) -> ex.Shape:
        return self.of(node.operand)

    _Neg = _Power = _Apply = _operand

    def _Transpose(self, node: ex.Transpose) -> ex.Shape:
        a = self.of(node.operand)
        return (a[1], a[0])

    def _Trace(self, node: ex.Unary, what: str = "trace") -> ex.Shape:
        self.square(node, self.of(node.operand), what)
        return (1, 1)

    def _Det(self, node: ex.Det) -> ex.Shape:
        return self._Trace(node, "det")

    def _Inv(self, node: ex.Inv) -> ex.Shape:
        a = self.of(node.operand)
        self.square(node, a, "inv")
        return a

    def _Call(self, node: ex.Call) -> ex.Shape:
        shapes = [self.of(arg) for arg in node.args]
        return matrix_op(node.op).shape(_SquareRule(lambda shape, what: self.square(node, shape, what),
                                                    lambda shape, what: self.column(node, shape, what)), shapes,
                                        dict(node.params))

    def _Sum(self, node: ex.Sum) -> ex.Shape:
        a = self.of(node.operand)
        if node.axis is None:
            return (1, 1)
        return (1, a[1]) if node.axis == 0 else (a[0], 1)


class _SquareRule:
    """The shape checker as a registry entry's shape rule sees it."""

    def __init__(self, square: Callable[[ex.Shape, str], None], column: Callable[[ex.Shape, str], None]) -> None:
        self._square = square
        self._column = column

    def square(self, shape: ex.Shape, what: str) -> ex.Dim:
        self._square(shape, what)
        return shape[0]

    def column(self, shape: ex.Shape, what: str) -> ex.Dim:
        self._column(shape, what)
        return shape[0]


__all__ = ["Unifier", "shape_of_node", "show"]
