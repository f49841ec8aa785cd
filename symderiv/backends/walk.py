"""One tree walk: a memoised interpreter that evaluates an expression against a backend.

A backend implements the primitives (about fifteen methods, one per node kind of
:mod:`symderiv.core.expr`); a registered matrix operation (:class:`~symderiv.core.expr.Call`) is
evaluated through its expansion over the primitives unless the backend has its own way
(:meth:`Interpreter.call`). Elementwise functions arrive with their registry row.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from symderiv.core import expr as ex
from symderiv.ops import Elementwise, elementwise, matrix_op

V = TypeVar("V")


class Interpreter(Generic[V]):
    """Evaluate trees bottom-up, each distinct subtree once. Subclasses implement the primitives.

    >>> class Count(Interpreter[int]):
    ...     def symbol(self, node): return 1
    ...     def matmul(self, node, a, b): return a + b
    >>> Count().evaluate(ex.MatMul(ex.Symbol("W"), ex.Symbol("X")))
    2
    """

    def __init__(self) -> None:
        self.memo: dict[ex.Expr, V] = {}

    def evaluate(self, node: ex.Expr) -> V:
        """The value of ``node`` (iterative, so deep trees do not exhaust the stack)."""
        stack: list[tuple[ex.Expr, bool]] = [(node, False)]
        memo = self.memo
        while stack:
            current, ready = stack.pop()
            if current in memo:
                continue
            if not ready:
                stack.append((current, True))
                stack.extend((child, False) for child in reversed(current.children()) if child not in memo)
                continue
            memo[current] = self.visit(current, [memo[c] for c in current.children()])
        return memo[node]

    def visit(self, node: ex.Expr, args: list[V]) -> V:
        """One node, given the values of its children."""
        if isinstance(node, ex.Symbol):
            return self.symbol(node)
        if isinstance(node, ex.Number):
            return self.number(node)
        if isinstance(node, ex.ConstMatrix):
            return self.constant(node)
        if isinstance(node, ex.Apply):
            return self.apply(node, elementwise(node.fn), args[0])
        if isinstance(node, ex.Call):
            return self.call(node, args)
        method = getattr(self, _METHODS[type(node)])
        return method(node, *args)  # type: ignore[no-any-return]

    def call(self, node: ex.Call, args: list[V]) -> V:
        """A registered matrix operation: by default, its expansion over the primitives."""
        op = matrix_op(node.op)
        return self.evaluate(op.expand(node.args, [self.shape(a) for a in node.args], dict(node.params)))

    # -- the primitives ------------------------------------------------------------------------------
    def shape(self, node: ex.Expr) -> ex.Shape:
        raise NotImplementedError(f"{type(self).__name__} does not know shapes")

    def symbol(self, node: ex.Symbol) -> V:
        raise NotImplementedError

    def number(self, node: ex.Number) -> V:
        raise NotImplementedError

    def constant(self, node: ex.ConstMatrix) -> V:
        raise NotImplementedError

    def apply(self, node: ex.Apply, row: Elementwise, a: V) -> V:
        raise NotImplementedError

    def matmul(self, node: ex.MatMul, a: V, b: V) -> V:
        raise NotImplementedError

    def add(self, node: ex.Add, a: V, b: V) -> V:
        raise NotImplementedError

    def sub(self, node: ex.Sub, a: V, b: V) -> V:
        raise NotImplementedError

    def mul(self, node: ex.Mul, a: V, b: V) -> V:
        raise NotImplementedError

    def div(self, node: ex.Div, a: V, b: V) -> V:
        raise NotImplementedError

    def neg(self, node: ex.Neg, a: V) -> V:
        raise NotImplementedError

    def transpose(self, node: ex.Transpose, a: V) -> V:
        raise NotImplementedError

    def power(self, node: ex.Power, a: V) -> V:
        raise NotImplementedError

    def trace(self, node: ex.Trace, a: V) -> V:
        raise NotImplementedError

    def det(self, node: ex.Det, a: V) -> V:
        raise NotImplementedError

    def inv(self, node: ex.Inv, a: V) -> V:
        raise NotImplementedError

    def sum(self, node: ex.Sum, a: V) -> V:
        raise NotImplementedError


_METHODS: dict[type[ex.Expr], str] = {
    ex.MatMul: "matmul", ex.Add: "add", ex.Sub: "sub", ex.Mul: "mul", ex.Div: "div", ex.Neg: "neg",
    ex.Transpose: "transpose", ex.Power: "power", ex.Trace: "trace", ex.Det: "det", ex.Inv: "inv", ex.Sum: "sum",
}

__all__ = ["Interpreter"]
