"""Forward-mode evaluation of an expression and its tangent, over any exact or interval arithmetic.

:class:`Walker` computes values (on demand, memoised) and tangents in a direction ``V``
of ``wrt``'s shape, node by node: both are backends of the one tree walk
(:class:`~symderiv.backends.walk.Interpreter`). It is written once against an arithmetic object
``f`` (``add``, ``mul``, ``matmul``, ``inverse_det``, …, on arrays of shape
``(lanes, rows, cols)``), so the same rules serve the randomized test modulo
primes (:class:`symderiv.backends.field.Field`) and the confirmation at real points (exact
rationals or high-precision intervals, :mod:`symderiv.proofs.random.random_real`). Subclasses
say how symbols get values and what an elementwise function is
(:meth:`Walker.symbol_value`, :meth:`Walker.apply_value`, :meth:`Walker.derived`). The derivative of an
elementwise function is its registry row's, evaluated in the same arithmetic
(:class:`~symderiv.proofs.random.factor.Factor`); a
registered matrix operation is evaluated generically (:mod:`symderiv.proofs.random.calls`).

>>> from fractions import Fraction
>>> from symderiv.proofs.random.random_real import ExactArith, RealWalker
>>> from symderiv.proofs.problem import prepare
>>> pr = prepare("W * W", ["W"], {"W": (1, 1)})
>>> w = RealWalker(pr, "W", pr.typing, ExactArith(), {"W": [[Fraction(3)]]})
>>> w.direction = w.f.ones(1, 1)
>>> w.tangent(pr.expression)[0, 0, 0]
Fraction(6, 1)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from symderiv.backends.field import Degenerate
from symderiv.backends.walk import Interpreter
from symderiv.core import expr as ex
from symderiv.core.errors import UnsupportedError
from symderiv.ops import Elementwise, elementwise, language_functions
from symderiv.proofs.random.calls import expansion, gradients
from symderiv.proofs.random.factor import Factor, FieldArithmetic
from symderiv.syntax.derivatives import derivative_tree
from symderiv.syntax.shapes import Typing

if TYPE_CHECKING:  # pragma: no cover
    from symderiv.proofs.exact.entrywise import Deadline
    from symderiv.proofs.problem import Problem

Array = Any


def _no_deadline() -> None:
    return None


def _axes(node: ex.Sum) -> tuple[int, ...]:
    return (1, 2) if node.axis is None else ((1,) if node.axis == 0 else (2,))


class Walker(FieldArithmetic):
    """Values and tangents of the nodes of one problem, on one concrete typing."""

    #: Whether a singular matrix has determinant exactly 0 here (exact arithmetic), or is a failed point.
    exact_zero = True

    def __init__(self, problem: Problem, wrt: str, typing: Typing, f: Any, deadline: Deadline | None = None):
        super().__init__()
        self.problem = problem
        self.wrt = wrt
        self.typing = typing
        self.f = f
        self.deadline = deadline if deadline is not None else _no_deadline
        self.extra = {problem.upstream: typing.shape_of(problem.expression)}
        self.fprimes: dict[ex.Expr, Array] = {}
        self.direction: Array | None = None
        self._expansions: dict[ex.Call, ex.Expr] = {}
        self._shapes: dict[ex.Expr, tuple[int, int]] = {}

    @property
    def values(self) -> dict[ex.Expr, Array]:
        """The values computed so far (the walk's memo)."""
        return self.memo

    @values.setter
    def values(self, values: dict[ex.Expr, Array]) -> None:
        self.memo = values

    def expansion(self, node: ex.Call) -> ex.Expr:
        """The value of a registered operation as an expression over the primitives."""
        found = self._expansions.get(node)
        if found is None:
            found = self._expansions[node] = expansion(node, self.shape)
        return found

    # -- hooks -----------------------------------------------------------------
    def symbol_value(self, node: ex.Symbol) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def apply_value(self, node: ex.Apply, u: Array) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def derived(self, fn: str, u: Array, operand: ex.Expr) -> Array:  # pragma: no cover - abstract
        """The value at ``u`` (the value of ``operand``) of a function that a derivative is written with."""
        raise NotImplementedError

    # -- helpers ---------------------------------------------------------------
    def shape(self, node: ex.Expr) -> tuple[int, int]:
        found = self._shapes.get(node)
        if found is None:
            r, c = self.typing.shape_of(node, self.extra)
            found = self._shapes[node] = int(r), int(c)  # type: ignore[arg-type]
        return found

    def full(self, a: Array, shape: tuple[int, int]) -> Array:
        return np.broadcast_to(a, (a.shape[0], *shape)) if a.shape[1:] != shape else a

    @staticmethod
    def exponent(node: ex.Power) -> int:
        k = node.exponent
        if int(k) != k:
            raise UnsupportedError("method='random' handles integer powers only")
        return int(k)

    # -- values ----------------------------------------------------------------
    def value(self, node: ex.Expr) -> Array:
        found = self.memo.get(node)
        return found if found is not None else self.evaluate(node)

    def visit(self, node: ex.Expr, args: list[Array]) -> Array:
        self.deadline()
        return super().visit(node, args)

    def symbol(self, node: ex.Symbol) -> Array:
        return self.symbol_value(node)

    def constant(self, node: ex.ConstMatrix) -> Array:
        rows, cols = self.shape(node)
        return {"ones": self.f.ones, "zeros": self.f.zeros}[node.kind](rows, cols) if node.kind != "eye" \
            else self.f.eye(rows)

    def apply(self, node: ex.Apply, row: Elementwise, a: Array) -> Array:
        return self.apply_value(node, a)

    def matmul(self, node: ex.MatMul, a: Array, b: Array) -> Array:
        return self.f.matmul(a, b)

    def div(self, node: ex.Div, a: Array, b: Array) -> Array:
        return self.f.mul(a, self.reciprocal(node.right))

    def reciprocal(self, node: ex.Expr) -> Array:
        key = ex.Power(node, exponent=-1)
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = self.f.inv_elem(self.value(node))
        return found

    def transpose(self, node: ex.Transpose, a: Array) -> Array:
        return a.swapaxes(1, 2)

    def power(self, node: ex.Power, a: Array) -> Array:
        k = self.exponent(node)
        return self.f.pow_elem(self.reciprocal(node.operand) if k < 0 else a, abs(k))

    def trace(self, node: ex.Trace, a: Array) -> Array:
        return self.f.total(a.diagonal(axis1=1, axis2=2)[:, :, None], (1, 2))

    def sum(self, node: ex.Sum, a: Array) -> Array:
        return self.f.total(a, _axes(node))

    def inverse_det(self, node: ex.Expr) -> tuple[Array, Array]:
        key = ex.Inv(node)
        if key not in self.memo:
            inv, det = self.f.inverse_det(self.value(node))
            self.memo[key] = inv
            self.memo[ex.Det(node)] = det
        return self.memo[key], self.memo[ex.Det(node)]

    def inv(self, node: ex.Inv, a: Array) -> Array:
        return self.inverse_det(node.operand)[0]

    def det(self, node: ex.Det, a: Array) -> Array:
        try:
            return self.inverse_det(node.operand)[1]
        except Degenerate:
            if not self.exact_zero:
                raise
            # A singular matrix has determinant 0; only its derivative needs the inverse.
            return self.f.zeros(1, 1)

    def call(self, node: ex.Call, args: list[Array]) -> Array:
        return self.value(self.expansion(node))

    # -- tangents (forward mode in direction V) --------------------------------
    def tangent(self, node: ex.Expr) -> Array | None:
        """The tangent of ``node`` in the current ``direction`` (None where it does not depend on ``wrt``)."""
        return Tangents(self).evaluate(node)

    def factor(self, node: ex.Apply, d: Array) -> Array | None:
        """``f'`` at the operand of ``node`` (memoised); None where the tangent ``d`` is exactly 0 at a real point."""
        factor = self.fprimes.get(node)
        if factor is None:
            tree = derivative_tree(node.fn)
            if tree is None:
                raise self._not_differentiable(elementwise(node.fn))
            if getattr(self.f, "real", False) and self.f.zero(d):
                return None  # the factor does not matter (and may not exist on a kink)
            operand = node.operand
            factor = Factor(self.f, lambda fn, a: self.derived(fn, a, operand), self.value(operand),
                            self.value(node)).evaluate(tree)
            self.fprimes[node] = factor
        return factor

    def _not_differentiable(self, row: Elementwise) -> UnsupportedError:
        if row.generic:
            return UnsupportedError(f"cannot differentiate with respect to {self.wrt}: {row.name} is already a "
                                    "derivative; second derivatives are not supported")
        jumps = "/".join(name for name in language_functions() if elementwise(name).jump)
        return UnsupportedError(f"cannot differentiate with respect to {self.wrt}: {row.name} jumps at 0; its "
                                "derivative is a Dirac delta, which symderiv does not represent",
                                hint=f"rewrite the expression without differentiating through {jumps}")

    def power_factor(self, node: ex.Power, k: int) -> Array:
        """``k · a^(k−1)`` for ``node = a ** k`` (memoised)."""
        factor = self.fprimes.get(node)
        if factor is None:
            f = self.f
            if k >= 1:  # k ≠ 0: a zeroth power has no tangent (power() below)
                factor = f.scale(f.pow_elem(self.value(node.operand), k - 1), k)
            else:
                factor = f.scale(f.pow_elem(self.reciprocal(node.operand), 1 - k), k)
            self.fprimes[node] = factor
        return factor

    # -- the pairing -----------------------------------------------------------
    def pairing(self, claim_value: Array, direction: Array) -> tuple[Array, Array]:
        """(⟨claim, V⟩, ⟨G, dD[V]⟩) per lane, as arrays of shape ``(lanes, 1, 1)``."""
        f = self.f
        problem = self.problem
        self.direction = direction
        dd = self.tangent(problem.expression)
        rows, cols = self.shape(problem.expression)
        if dd is None:
            right = f.zeros(1, 1)
        elif (rows, cols) == (1, 1):
            right = dd
        else:
            g = self.value(ex.Symbol(problem.upstream))
            right = f.total(f.mul(g, self.full(dd, (rows, cols))), (1, 2))
        c = claim_value if problem.layout == "denominator" else claim_value.swapaxes(1, 2)
        left = f.total(f.mul(self.full(c, direction.shape[1:]), direction), (1, 2))
        return left, right


Tangent = Array | None


class Tangents(Interpreter[Tangent]):
    """Forward-mode tangents in the walker's direction; None for a node that does not depend on ``wrt``
    (its value is then never needed)."""

    def __init__(self, walker: Walker) -> None:
        super().__init__()
        self.w, self.f = walker, walker.f

    def shape(self, node: ex.Expr) -> tuple[int, int]:
        return self.w.shape(node)

    def visit(self, node: ex.Expr, args: list[Tangent]) -> Tangent:
        """A node all of whose children have no tangent has none; the unary rules below get a tangent."""
        if isinstance(node, ex.Symbol):
            return self.w.direction if node.name == self.w.wrt else None
        if all(a is None for a in args):
            return None
        self.w.deadline()
        return super().visit(node, args)

    def _plus(self, a: Tangent, b: Tangent, shape: tuple[int, int]) -> Tangent:
        if a is None or b is None:
            found = a if b is None else b
            return None if found is None else self.w.full(found, shape)
        return self.f.add(a, b)

    def matmul(self, node: ex.MatMul, da: Tangent, db: Tangent) -> Tangent:
        left = None if da is None else self.f.matmul(da, self.w.value(node.right))
        right = None if db is None else self.f.matmul(self.w.value(node.left), db)
        return self._plus(left, right, self.shape(node))

    def add(self, node: ex.Add, da: Tangent, db: Tangent) -> Tangent:
        return self._plus(da, db, self.shape(node))

    def sub(self, node: ex.Sub, da: Tangent, db: Tangent) -> Tangent:
        return self._plus(da, None if db is None else self.f.neg(db), self.shape(node))

    def mul(self, node: ex.Mul, da: Tangent, db: Tangent) -> Tangent:
        left = None if da is None else self.f.mul(da, self.w.value(node.right))
        right = None if db is None else self.f.mul(self.w.value(node.left), db)
        return self._plus(left, right, self.shape(node))

    def div(self, node: ex.Div, da: Tangent, db: Tangent) -> Tangent:
        f, rb = self.f, self.w.reciprocal(node.right)
        left = None if da is None else f.mul(da, rb)
        right = None if db is None else f.neg(f.mul(f.mul(self.w.value(node), db), rb))
        return self._plus(left, right, self.shape(node))

    def neg(self, node: ex.Neg, d: Array) -> Tangent:
        return self.f.neg(d)

    def transpose(self, node: ex.Transpose, d: Array) -> Tangent:
        return d.swapaxes(1, 2)

    def power(self, node: ex.Power, d: Array) -> Tangent:
        k = self.w.exponent(node)
        return None if k == 0 else self.f.mul(self.w.power_factor(node, k), d)

    def apply(self, node: ex.Apply, row: Elementwise, d: Array) -> Tangent:
        factor = self.w.factor(node, d)
        return d if factor is None else self.f.mul(factor, d)

    def trace(self, node: ex.Trace, d: Array) -> Tangent:
        return self.f.total(d.diagonal(axis1=1, axis2=2)[:, :, None], (1, 2))

    def sum(self, node: ex.Sum, d: Array) -> Tangent:
        return self.f.total(d, _axes(node))

    def inv(self, node: ex.Inv, d: Array) -> Tangent:
        inv = self.w.value(node)
        return self.f.neg(self.f.matmul(self.f.matmul(inv, d), inv))

    def det(self, node: ex.Det, d: Array) -> Tangent:
        inv, _ = self.w.inverse_det(node.operand)  # d det(A) = det(A) · trace(inv(A) dA) = det(A) Σ inv(A)ᵀ ∘ dA
        return self.f.mul(self.w.value(node), self.f.total(self.f.mul(inv.swapaxes(1, 2), d), (1, 2)))

    def call(self, node: ex.Call, args: list[Tangent]) -> Tangent:
        grads = gradients(node)
        if grads is None:
            return self.evaluate(self.w.expansion(node))
        total: Tangent = None  # a scalar operation: d f(A)[dA] = Σ ⟨∂f/∂A, dA⟩ over its arguments
        for arg, grad, d in zip(node.args, grads, args, strict=True):
            if grad is not None and d is not None:
                part = self.f.total(self.f.mul(self.w.full(self.w.value(grad), self.shape(arg)), d), (1, 2))
                total = part if total is None else self.f.add(total, part)
        return total


__all__ = ["Tangents", "Walker"]
