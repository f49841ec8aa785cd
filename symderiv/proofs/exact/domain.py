"""The domain of a point: both trees of a comparison evaluated there, numerically (:class:`PointDomain`).

A witness must lie in the domain of the expression *and* of the claim: every ``log`` argument positive, no zero
divisor, no singular ``inv``, no function at its kink. Each node is evaluated from the values of the instance's
matrices at the point (exactly where it can, else with mpmath); :class:`OutOfDomain` says where it leaves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fractions import Fraction
from typing import Any

from symderiv.backends.numbers import OutOfDomain, add, apply_fn, div, is_exact, mul, power, sub, to_mp
from symderiv.backends.walk import Interpreter
from symderiv.core import expr as ex
from symderiv.ops import Elementwise
from symderiv.proofs.exact.witness import NumMatrix, Point, evaluate


class PointDomain(Interpreter[NumMatrix]):
    """Raises :class:`OutOfDomain` when a point is outside the domain of any of ``nodes``.

    A backend of the one tree walk: each node is evaluated numerically from the values of the
    instance's bound matrices at the point (exactly where it can, else with mpmath); a registered
    matrix operation through its expansion. A symbol that is not bound, or a constant matrix, is
    evaluated through the instance (exact algebra) and then at the point. ``values`` holds every
    node's value after a call.
    """

    def __init__(self, instance: Any, nodes: Iterable[ex.Expr]):
        super().__init__()
        self.instance = instance
        self.nodes = list(nodes)
        self.values = self.memo

    def __call__(self, point: Point) -> None:
        self.point, self.cache = point, dict[int, Any]()
        self.memo = self.values = {}
        for node in self.nodes:
            self.evaluate(node)

    def value(self, node: ex.Expr) -> NumMatrix:
        """The value of ``node`` at the current point."""
        return self.evaluate(node)

    def visit(self, node: ex.Expr, args: list[NumMatrix]) -> NumMatrix:
        self.instance.deadline()
        return super().visit(node, args)

    def shape(self, node: ex.Expr) -> ex.Shape:
        m = self.evaluate(node)
        return len(m), len(m[0])

    def _fallback(self, node: ex.Expr) -> NumMatrix:
        m = self.instance.evaluate(node)
        return [[evaluate(self.instance.vars, x, self.point, self.cache) for x in row] for row in m]

    def symbol(self, node: ex.Symbol) -> NumMatrix:
        return self._fallback(node)

    def number(self, node: ex.Number) -> NumMatrix:
        return [[Fraction(node.value)]]  # exact: a Number's value is a Fraction (symderiv.core.expr)

    def constant(self, node: ex.ConstMatrix) -> NumMatrix:
        return self._fallback(node)

    def add(self, node: ex.Add, a: NumMatrix, b: NumMatrix) -> NumMatrix:
        return _broadcast(a, b, add)

    def sub(self, node: ex.Sub, a: NumMatrix, b: NumMatrix) -> NumMatrix:
        return _broadcast(a, b, sub)

    def mul(self, node: ex.Mul, a: NumMatrix, b: NumMatrix) -> NumMatrix:
        return _broadcast(a, b, mul)

    def div(self, node: ex.Div, a: NumMatrix, b: NumMatrix) -> NumMatrix:
        return _broadcast(a, b, div)

    def matmul(self, node: ex.MatMul, a: NumMatrix, b: NumMatrix) -> NumMatrix:
        return _matmul(a, b, self.instance.deadline)

    def neg(self, node: ex.Neg, a: NumMatrix) -> NumMatrix:
        return [[sub(Fraction(0), x) for x in row] for row in a]

    def transpose(self, node: ex.Transpose, a: NumMatrix) -> NumMatrix:
        return [list(col) for col in zip(*a, strict=True)]

    def power(self, node: ex.Power, a: NumMatrix) -> NumMatrix:
        return [[power(x, node.exponent) for x in row] for row in a]

    def apply(self, node: ex.Apply, row: Elementwise, a: NumMatrix) -> NumMatrix:
        return [[apply_fn(row.name, x) for x in r] for r in a]

    def trace(self, node: ex.Trace, a: NumMatrix) -> NumMatrix:
        total: Any = Fraction(0)
        for i in range(len(a)):
            total = add(total, a[i][i])
        return [[total]]

    def sum(self, node: ex.Sum, a: NumMatrix) -> NumMatrix:
        if node.axis is None:
            return [[_total(x for row in a for x in row)]]
        if node.axis == 0:
            return [[_total(row[j] for row in a) for j in range(len(a[0]))]]
        return [[_total(row)] for row in a]

    def det(self, node: ex.Det, a: NumMatrix) -> NumMatrix:
        return [[_solve(a, tick=self.instance.deadline)[0]]]

    def inv(self, node: ex.Inv, a: NumMatrix) -> NumMatrix:
        return _solve(a, nonsingular=True, tick=self.instance.deadline)[1]


def _broadcast(a: NumMatrix, b: NumMatrix, op: Callable[[Any, Any], Any]) -> NumMatrix:
    rows, cols = max(len(a), len(b)), max(len(a[0]), len(b[0]))
    return [[op(a[i if len(a) > 1 else 0][j if len(a[0]) > 1 else 0],
                b[i if len(b) > 1 else 0][j if len(b[0]) > 1 else 0]) for j in range(cols)] for i in range(rows)]


def _total(items: Iterable[Any]) -> Any:
    total: Any = Fraction(0)
    for x in items:
        total = add(total, x)
    return total


def _matmul(a: NumMatrix, b: NumMatrix, tick: Callable[[], None]) -> NumMatrix:
    out = []
    for row in a:
        tick()
        out.append([_total(mul(row[k], b[k][j]) for k in range(len(b))) for j in range(len(b[0]))])
    return out


def _solve(a: NumMatrix, tick: Callable[[], None], nonsingular: bool = False) -> tuple[Any, NumMatrix]:
    """(det a, inverse of a) by Gauss–Jordan; a (nearly) singular ``a`` is outside the domain when it must not be."""
    import mpmath  # type: ignore[import-untyped]

    n = len(a)
    m = [list(row) + [Fraction(int(i == j)) for j in range(n)] for i, row in enumerate(a)]
    det: Any = Fraction(1)
    # Numbers: a pivot within 10^(-dps/2) of the largest entry counts as 0 (relative: the matrix's scale).
    exact = all(is_exact(x) for row in a for x in row)
    tiny = None if exact else max(abs(to_mp(x)) for row in a for x in row) * mpmath.mpf(10) ** (-mpmath.mp.dps // 2)
    for col in range(n):
        tick()
        pivot = max(range(col, n), key=lambda r: abs(to_mp(m[r][col]))) if tiny is not None else \
            next((r for r in range(col, n) if m[r][col] != 0), None)
        if pivot is None or (tiny is not None and abs(m[pivot][col]) <= tiny):
            if nonsingular:
                raise OutOfDomain("a singular matrix")
            return Fraction(0), []
        if pivot != col:
            m[col], m[pivot] = m[pivot], m[col]
            det = sub(Fraction(0), det)
        p = m[col][col]
        det = mul(det, p)
        m[col] = [div(x, p) for x in m[col]]
        for r in range(n):
            if r != col and m[r][col] != 0:
                f = m[r][col]
                m[r] = [sub(x, mul(f, y)) for x, y in zip(m[r], m[col], strict=True)]
    return det, [row[n:] for row in m]


__all__ = ["PointDomain"]
