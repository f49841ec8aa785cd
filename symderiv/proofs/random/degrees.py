"""Degree and height bounds of the entries of every node and of its tangent (for :mod:`.random_bound`).

An entry is a rational function ``P/Q`` of the random values (matrix entries, ``G``, atoms as free
variables) with integer coefficients; :class:`Deg` bounds the degrees of ``P`` and ``Q`` and the base-2
logarithm of the sum of the absolute values of their coefficients (the "height"). :class:`DegreeWalk`
computes them node by node; an elementwise function's derivative is bounded from its registry row
(:class:`FactorDegree`), a registered matrix operation through its expansion (and, for a scalar one,
its gradient: :mod:`symderiv.proofs.random.calls`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from symderiv.backends.walk import Interpreter
from symderiv.core import expr as ex
from symderiv.ops import Elementwise
from symderiv.proofs.random.calls import gradients, tangent_nodes
from symderiv.syntax.derivatives import ARGUMENT, derivative_tree
from symderiv.syntax.shapes import Typing

if TYPE_CHECKING:  # pragma: no cover
    from symderiv.proofs.problem import Problem


class Deg:
    """Entries ``P/Q`` with ``deg P ≤ n``, ``deg Q ≤ d``, ``log2 ‖P‖₁ ≤ hn``, ``log2 ‖Q‖₁ ≤ hd``.

    ``common``: all entries share one denominator ``Q``.
    """

    __slots__ = ("n", "d", "common", "hn", "hd")

    def __init__(self, n: int, d: int = 0, common: bool = True, hn: float = 0.0, hd: float = 0.0):
        self.n, self.d, self.common, self.hn, self.hd = n, d, common or d == 0, hn, hd

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Deg({self.n}, {self.d}, {self.common}, {self.hn:.1f}, {self.hd:.1f})"


def _log2(k: int) -> float:
    return math.log2(k) if k > 1 else 0.0


def dadd(a: Deg | None, b: Deg | None) -> Deg | None:
    if a is None or b is None:
        return a or b
    hn = max(a.hn + b.hd, b.hn + a.hd) + 1
    if a.d == 0 and b.d == 0:
        return Deg(max(a.n, b.n), 0, True, hn, a.hd + b.hd)
    return Deg(max(a.n + b.d, b.n + a.d), a.d + b.d, a.common and b.common, hn, a.hd + b.hd)


def dmul(a: Deg | None, b: Deg | None) -> Deg | None:
    if a is None or b is None:
        return None
    return Deg(a.n + b.n, a.d + b.d, a.common and b.common, a.hn + b.hn, a.hd + b.hd)


def dsum(a: Deg | None, count: int) -> Deg | None:
    """A sum of ``count`` entries."""
    if a is None or count <= 1:
        return a
    if a.common:
        return Deg(a.n, a.d, True, a.hn + _log2(count), a.hd)
    return Deg(a.n + (count - 1) * a.d, count * a.d, False, a.hn + (count - 1) * a.hd + _log2(count), count * a.hd)


def dcommon(a: Deg, count: int) -> Deg:
    """The entries of a matrix of ``count`` entries over one common denominator."""
    if a.common:
        return a
    return Deg(a.n + (count - 1) * a.d, count * a.d, True, a.hn + (count - 1) * a.hd, count * a.hd)


def drecip(a: Deg, scalar: bool) -> Deg:
    return Deg(a.d, a.n, scalar or a.n == 0, a.hd, a.hn)


def dpow(a: Deg, k: int) -> Deg:
    return Deg(a.n * k, a.d * k, a.common, a.hn * k, a.hd * k)


Shapes = dict[ex.Expr, tuple[int, int]]
#: The bounds of a node's entries and of its tangent's (None: the node does not depend on ``wrt``).
Pair = tuple[Deg, "Deg | None"]


class Shaped(Interpreter[Any]):
    """An interpreter over one problem's concrete typing (``G`` included)."""

    def __init__(self, problem: Problem, typing: Typing, shapes: Shapes | None = None) -> None:
        super().__init__()
        self.typing = typing
        self.extra = {problem.upstream: typing.shape_of(problem.expression)}
        #: Shapes found so far, shared by the walks of one problem and typing (``shape_of`` walks a subtree).
        self._shapes: Shapes = {} if shapes is None else shapes

    def shape(self, node: ex.Expr) -> tuple[int, int]:
        found = self._shapes.get(node)
        if found is None:
            r, c = self.typing.shape_of(node, self.extra)
            found = self._shapes[node] = int(r), int(c)  # type: ignore[arg-type]
        return found


class DegreeWalk(Shaped):
    """Degree and height bounds of every node's entries and of its tangent's, and the atoms met."""

    def __init__(self, problem: Problem, wrt: str, typing: Typing, shapes: Shapes | None = None) -> None:
        super().__init__(problem, typing, shapes)
        self.wrt = wrt
        self.arg_degree = 0
        self.arg_height = 0.0

    def atoms(self, roots: list[ex.Expr]) -> int:
        """The atoms a walker may draw for the nodes walked: each entry of an elementwise function's value,
        and one derivative atom per entry where its tangent may be computed (the walk of ``roots``)."""
        tangents = tangent_nodes(roots, self.shape)
        return sum(r * c * (2 if n in tangents else 1) for n in self.memo if isinstance(n, ex.Apply)
                   for r, c in [self.shape(n)])

    def symbol(self, node: ex.Symbol) -> Pair:
        return Deg(1), (Deg(1) if node.name == self.wrt else None)

    def number(self, node: ex.Number) -> Pair:
        v = node.value
        return Deg(0, 0, True, _log2(abs(v.numerator)), _log2(v.denominator)), None

    def constant(self, node: ex.ConstMatrix) -> Pair:
        return Deg(0), None

    def matmul(self, node: ex.MatMul, a: Pair, b: Pair) -> Pair:
        k = self.shape(node.left)[1]
        return dsum(dmul(a[0], b[0]), k), dsum(dadd(dmul(a[1], b[0]), dmul(a[0], b[1])), k)  # type: ignore[return-value]

    def add(self, node: ex.Add, a: Pair, b: Pair) -> Pair:
        return dadd(a[0], b[0]), dadd(a[1], b[1])  # type: ignore[return-value]

    sub = add  # type: ignore[assignment]

    def mul(self, node: ex.Mul, a: Pair, b: Pair) -> Pair:
        return dmul(a[0], b[0]), dadd(dmul(a[1], b[0]), dmul(a[0], b[1]))  # type: ignore[return-value]

    def div(self, node: ex.Div, a: Pair, b: Pair) -> Pair:
        rb = drecip(b[0], self.shape(node.right) == (1, 1))
        value = dmul(a[0], rb)
        return value, dadd(dmul(a[1], rb), dmul(dmul(value, b[1]), rb))  # type: ignore[return-value]

    def neg(self, node: ex.Neg, a: Pair) -> Pair:
        return a

    def transpose(self, node: ex.Transpose, a: Pair) -> Pair:
        return a

    def power(self, node: ex.Power, a: Pair) -> Pair:
        k = int(node.exponent)
        base = a[0] if k >= 0 else drecip(a[0], self.shape(node) == (1, 1))
        factor = dpow(base, abs(k - 1))  # k·a^(k−1): |k − 1| factors of a (k ≥ 1) or of 1/a (k ≤ 0)
        factor.hn += _log2(abs(k))
        return dpow(base, abs(k)), dmul(factor, a[1])

    def apply(self, node: ex.Apply, row: Elementwise, a: Pair) -> Pair:
        r, c = self.shape(node)
        self.arg_degree = max(self.arg_degree, a[0].n + a[0].d)
        self.arg_height = max(self.arg_height, a[0].hn + a[0].hd)
        if not any(isinstance(m, ex.Symbol) for m in node.operand.walk()):
            # A constant argument may fold to an exact value as large as itself (relu(c) = c) or to 1/2
            # (step(0)): count its height (an atom is degree 1, height 0, so this bound covers both).
            return Deg(1, 0, True, a[0].hn, max(a[0].hd, 1.0)), None
        tree = derivative_tree(row.name)
        if a[1] is None:
            return Deg(1), None
        factor = Deg(1) if tree is None else FactorDegree(a[0], (r, c) == (1, 1)).evaluate(tree)
        return Deg(1), dmul(factor, a[1])

    def trace(self, node: ex.Trace, a: Pair) -> Pair:
        k = self.shape(node.operand)[0]
        return dsum(a[0], k), dsum(a[1], k)  # type: ignore[return-value]

    def sum(self, node: ex.Sum, a: Pair) -> Pair:
        rr, cc = self.shape(node.operand)
        k = rr * cc if node.axis is None else (rr if node.axis == 0 else cc)
        return dsum(a[0], k), dsum(a[1], k)  # type: ignore[return-value]

    def _det_inv(self, operand: ex.Expr, a: Pair) -> tuple[Deg, Deg, Deg | None, Deg | None]:
        """(det, inv, the common-denominator tangent of the operand, trace(inv(A) dA))."""
        k = self.shape(operand)[0]
        ac = dcommon(a[0], k * k)
        lf, lf1 = math.lgamma(k + 1) / math.log(2), math.lgamma(k) / math.log(2)
        det = Deg(k * ac.n, k * ac.d, True, k * ac.hn + lf, k * ac.hd)
        inv = Deg((k - 1) * ac.n + ac.d, k * ac.n, True, (k - 1) * ac.hn + lf1 + ac.hd, k * ac.hn + lf)
        dac = None if a[1] is None else dcommon(a[1], k * k)
        return det, inv, dac, dsum(dmul(inv, dac), k * k)

    def det(self, node: ex.Det, a: Pair) -> Pair:
        det, _, _, dtrace = self._det_inv(node.operand, a)
        return det, dmul(det, dtrace)

    def inv(self, node: ex.Inv, a: Pair) -> Pair:
        _, inv, dac, _ = self._det_inv(node.operand, a)
        return inv, dmul(dmul(inv, dac), inv) if dac is not None else None

    def call(self, node: ex.Call, args: list[Pair]) -> Pair:
        value = super().call(node, args)
        grads = gradients(node)
        if grads is None:
            return value
        tangent: Deg | None = None  # a scalar operation: Σ ⟨∂f/∂A, dA⟩ over its arguments
        for arg, grad, (_, da) in zip(node.args, grads, args, strict=True):
            if grad is not None and da is not None:
                r, c = self.shape(arg)
                part = dsum(dmul(self.evaluate(grad)[0], dcommon(da, r * c)), r * c)
                tangent = dadd(tangent, part)
        return value[0], tangent


class FactorDegree(Interpreter[Deg]):
    """Bounds of ``f'`` from the derivative its registry row writes over ``z`` (bounded by ``arg``) and
    ``y`` (an atom); functions in it are atoms too.

    >>> from symderiv.syntax.language import parse
    >>> FactorDegree(Deg(1), True).evaluate(parse("1 - y ** 2"))
    Deg(2, 0, True, 1.0, 0.0)
    """

    def __init__(self, arg: Deg, scalar: bool) -> None:
        super().__init__()
        self.arg, self.scalar = arg, scalar

    def symbol(self, node: ex.Symbol) -> Deg:
        return self.arg if node.name == ARGUMENT else Deg(1)

    def number(self, node: ex.Number) -> Deg:
        v = node.value
        return Deg(0, 0, True, _log2(abs(v.numerator)), _log2(v.denominator))

    def apply(self, node: ex.Apply, row: Elementwise, a: Deg) -> Deg:
        return Deg(1)

    def add(self, node: ex.Add, a: Deg, b: Deg) -> Deg:
        return dadd(a, b)  # type: ignore[return-value]

    sub = add  # type: ignore[assignment]

    def mul(self, node: ex.Mul, a: Deg, b: Deg) -> Deg:
        return dmul(a, b)  # type: ignore[return-value]

    def div(self, node: ex.Div, a: Deg, b: Deg) -> Deg:
        return dmul(a, drecip(b, self.scalar))  # type: ignore[return-value]

    def neg(self, node: ex.Neg, a: Deg) -> Deg:
        return a

    def power(self, node: ex.Power, a: Deg) -> Deg:
        k = int(node.exponent)
        return dpow(a if k >= 0 else drecip(a, self.scalar), abs(k))


__all__ = ["Deg", "DegreeWalk", "FactorDegree", "Shaped", "Shapes", "dadd", "dcommon", "dmul", "dpow", "drecip", "dsum"]
