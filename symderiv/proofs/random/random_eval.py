"""Forward-mode evaluation of an expression and its tangent, over any exact or interval arithmetic.

:class:`Walker` computes values (lazily, memoised) and tangents in a direction ``V``
of ``wrt``'s shape, node by node. It is written once against an arithmetic object
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
>>> from symderiv.proofs.verification import prepare
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
from symderiv.core import expr as ex
from symderiv.core.errors import UnsupportedError
from symderiv.ops import Elementwise, elementwise, language_functions
from symderiv.proofs.random.calls import expansion, gradients
from symderiv.proofs.random.factor import Factor
from symderiv.syntax.derivatives import derivative_tree
from symderiv.syntax.shapes import Typing

if TYPE_CHECKING:  # pragma: no cover
    from symderiv.proofs.exact.entrywise import Deadline
    from symderiv.proofs.verification import Problem

Array = Any


def _no_deadline() -> None:
    return None


class Walker:
    """Values and tangents of the nodes of one problem, on one concrete typing."""

    #: Whether a singular matrix has determinant exactly 0 here (exact arithmetic), or is a failed point.
    exact_zero = True

    def __init__(self, problem: Problem, wrt: str, typing: Typing, f: Any, deadline: Deadline | None = None):
        self.problem = problem
        self.wrt = wrt
        self.typing = typing
        self.f = f
        self.deadline = deadline if deadline is not None else _no_deadline
        self.extra = {problem.upstream: typing.shape_of(problem.expression)}
        self.values: dict[ex.Expr, Array] = {}
        self.tangents: dict[ex.Expr, Array | None] = {}
        self.fprimes: dict[ex.Expr, Array] = {}
        self.direction: Array | None = None
        self._depends: dict[ex.Expr, bool] = {}
        self._expansions: dict[ex.Call, ex.Expr] = {}

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
        r, c = self.typing.shape_of(node, self.extra)
        return int(r), int(c)  # type: ignore[arg-type]

    def depends(self, node: ex.Expr) -> bool:
        found = self._depends.get(node)
        if found is None:
            found = any(isinstance(n, ex.Symbol) and n.name == self.wrt for n in node.walk())
            self._depends[node] = found
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
        found = self.values.get(node)
        if found is None:
            self.deadline()
            method = getattr(self, "_v_" + type(node).__name__, None)
            if method is None:
                raise UnsupportedError(f"method='random' does not handle {type(node).__name__} yet")
            found = method(node)
            self.values[node] = found
        return found

    def _v_Symbol(self, node: ex.Symbol) -> Array:
        return self.symbol_value(node)

    def _v_Number(self, node: ex.Number) -> Array:
        return self.f.const(node.value)

    def _v_ConstMatrix(self, node: ex.ConstMatrix) -> Array:
        rows, cols = self.shape(node)
        return {"ones": self.f.ones, "zeros": self.f.zeros}[node.kind](rows, cols) if node.kind != "eye" \
            else self.f.eye(rows)

    def _v_MatMul(self, node: ex.MatMul) -> Array:
        return self.f.matmul(self.value(node.left), self.value(node.right))

    def _v_Add(self, node: ex.Add) -> Array:
        return self.f.add(self.value(node.left), self.value(node.right))

    def _v_Sub(self, node: ex.Sub) -> Array:
        return self.f.sub(self.value(node.left), self.value(node.right))

    def _v_Mul(self, node: ex.Mul) -> Array:
        return self.f.mul(self.value(node.left), self.value(node.right))

    def _v_Div(self, node: ex.Div) -> Array:
        return self.f.mul(self.value(node.left), self.reciprocal(node.right))

    def reciprocal(self, node: ex.Expr) -> Array:
        key = ex.Power(node, exponent=-1)
        found = self.values.get(key)
        if found is None:
            found = self.f.inv_elem(self.value(node))
            self.values[key] = found
        return found

    def _v_Neg(self, node: ex.Neg) -> Array:
        return self.f.neg(self.value(node.operand))

    def _v_Transpose(self, node: ex.Transpose) -> Array:
        return self.value(node.operand).swapaxes(1, 2)

    def _v_Power(self, node: ex.Power) -> Array:
        k = self.exponent(node)
        base = self.reciprocal(node.operand) if k < 0 else self.value(node.operand)
        return self.f.pow_elem(base, abs(k))

    def _v_Apply(self, node: ex.Apply) -> Array:
        return self.apply_value(node, self.value(node.operand))

    def _v_Trace(self, node: ex.Trace) -> Array:
        a = self.value(node.operand)
        return self.f.total(a.diagonal(axis1=1, axis2=2)[:, :, None], (1, 2))

    def _v_Sum(self, node: ex.Sum) -> Array:
        axes = (1, 2) if node.axis is None else ((1,) if node.axis == 0 else (2,))
        return self.f.total(self.value(node.operand), axes)

    def inverse_det(self, node: ex.Expr) -> tuple[Array, Array]:
        key = ex.Inv(node)
        if key not in self.values:
            inv, det = self.f.inverse_det(self.value(node))
            self.values[key] = inv
            self.values[ex.Det(node)] = det
        return self.values[key], self.values[ex.Det(node)]

    def _v_Inv(self, node: ex.Inv) -> Array:
        return self.inverse_det(node.operand)[0]

    def _v_Det(self, node: ex.Det) -> Array:
        try:
            return self.inverse_det(node.operand)[1]
        except Degenerate:
            if not self.exact_zero:
                raise
            # A singular matrix has determinant 0; only its derivative needs the inverse.
            return self.f.zeros(1, 1)

    def _v_Call(self, node: ex.Call) -> Array:
        return self.value(self.expansion(node))

    # -- tangents (forward mode in direction V) --------------------------------
    def tangent(self, node: ex.Expr) -> Array | None:
        if not self.depends(node):
            return None
        if node in self.tangents:
            return self.tangents[node]
        self.deadline()
        found = getattr(self, "_t_" + type(node).__name__)(node)
        self.tangents[node] = found
        return found

    def _tadd(self, a: Array | None, b: Array | None, shape: tuple[int, int]) -> Array | None:
        if a is None and b is None:
            return None
        if a is None:
            return self.full(b, shape)
        if b is None:
            return self.full(a, shape)
        return self.f.add(a, b)

    def _t_Symbol(self, node: ex.Symbol) -> Array:
        assert self.direction is not None
        return self.direction

    def _t_MatMul(self, node: ex.MatMul) -> Array | None:
        f = self.f
        da, db = self.tangent(node.left), self.tangent(node.right)
        left = None if da is None else f.matmul(da, self.value(node.right))
        right = None if db is None else f.matmul(self.value(node.left), db)
        return self._tadd(left, right, self.shape(node))

    def _t_Add(self, node: ex.Add) -> Array | None:
        return self._tadd(self.tangent(node.left), self.tangent(node.right), self.shape(node))

    def _t_Sub(self, node: ex.Sub) -> Array | None:
        db = self.tangent(node.right)
        return self._tadd(self.tangent(node.left), None if db is None else self.f.neg(db), self.shape(node))

    def _t_Mul(self, node: ex.Mul) -> Array | None:
        f = self.f
        da, db = self.tangent(node.left), self.tangent(node.right)
        left = None if da is None else f.mul(da, self.value(node.right))
        right = None if db is None else f.mul(self.value(node.left), db)
        return self._tadd(left, right, self.shape(node))

    def _t_Div(self, node: ex.Div) -> Array | None:
        f = self.f
        da, db = self.tangent(node.left), self.tangent(node.right)
        rb = self.reciprocal(node.right)
        left = None if da is None else f.mul(da, rb)
        right = None if db is None else f.neg(f.mul(f.mul(self.value(node), db), rb))
        return self._tadd(left, right, self.shape(node))

    def _t_Neg(self, node: ex.Neg) -> Array | None:
        d = self.tangent(node.operand)
        return None if d is None else self.f.neg(d)

    def _t_Transpose(self, node: ex.Transpose) -> Array | None:
        d = self.tangent(node.operand)
        return None if d is None else d.swapaxes(1, 2)

    def _t_Power(self, node: ex.Power) -> Array | None:
        f = self.f
        d = self.tangent(node.operand)
        k = self.exponent(node)
        if d is None or k == 0:
            return None
        factor = self.fprimes.get(node)
        if factor is None:
            if k > 0:
                factor = f.scale(f.pow_elem(self.value(node.operand), k - 1), k)
            else:
                factor = f.scale(f.pow_elem(self.reciprocal(node.operand), 1 - k), k)
            self.fprimes[node] = factor
        return f.mul(factor, d)

    def _t_Apply(self, node: ex.Apply) -> Array | None:
        d = self.tangent(node.operand)
        if d is None:
            return None
        factor = self.fprimes.get(node)
        if factor is None:
            tree = derivative_tree(node.fn)
            if tree is None:
                raise self._not_differentiable(elementwise(node.fn))
            if getattr(self.f, "real", False) and self.f.zero(d):
                return d  # the factor does not matter (and may not exist: relu(W - W) sits on its kink)
            u = self.value(node.operand)
            operand = node.operand
            factor = Factor(self.f, lambda fn, a: self.derived(fn, a, operand), u, self.value(node)).evaluate(tree)
            self.fprimes[node] = factor
        return self.f.mul(factor, d)

    def _not_differentiable(self, row: Elementwise) -> UnsupportedError:
        if row.generic:
            return UnsupportedError(f"cannot differentiate with respect to {self.wrt}: {row.name} is already a "
                                    "derivative; second derivatives are not supported")
        jumps = "/".join(name for name in language_functions() if elementwise(name).jump)
        return UnsupportedError(f"cannot differentiate with respect to {self.wrt}: {row.name} jumps at 0; its "
                                "derivative is a Dirac delta, which symderiv does not represent",
                                hint=f"rewrite the expression without differentiating through {jumps}")

    def _t_Trace(self, node: ex.Trace) -> Array | None:
        d = self.tangent(node.operand)
        return None if d is None else self.f.total(d.diagonal(axis1=1, axis2=2)[:, :, None], (1, 2))

    def _t_Sum(self, node: ex.Sum) -> Array | None:
        d = self.tangent(node.operand)
        if d is None:
            return None
        axes = (1, 2) if node.axis is None else ((1,) if node.axis == 0 else (2,))
        return self.f.total(d, axes)

    def _t_Inv(self, node: ex.Inv) -> Array | None:
        d = self.tangent(node.operand)
        if d is None:
            return None
        inv = self.value(node)
        return self.f.neg(self.f.matmul(self.f.matmul(inv, d), inv))

    def _dtrace_inv(self, node: ex.Expr) -> Array | None:
        """trace(inv(A) dA) = Σ inv(A)ᵀ ∘ dA."""
        d = self.tangent(node)
        if d is None:
            return None
        inv, _ = self.inverse_det(node)
        return self.f.total(self.f.mul(inv.swapaxes(1, 2), d), (1, 2))

    def _t_Det(self, node: ex.Det) -> Array | None:
        t = self._dtrace_inv(node.operand)
        return None if t is None else self.f.mul(self.value(node), t)

    def _t_Call(self, node: ex.Call) -> Array | None:
        grads = gradients(node)
        if grads is None:
            return self.tangent(self.expansion(node))
        total: Array | None = None  # a scalar operation: d f(A)[dA] = Σ ⟨∂f/∂A, dA⟩ over its arguments
        for arg, grad in zip(node.args, grads, strict=True):
            d = None if grad is None else self.tangent(arg)
            if grad is not None and d is not None:
                part = self.f.total(self.f.mul(self.full(self.value(grad), self.shape(arg)), d), (1, 2))
                total = part if total is None else self.f.add(total, part)
        return total

    # -- the pairing -----------------------------------------------------------
    def pairing(self, claim_value: Array, direction: Array) -> tuple[Array, Array]:
        """(⟨claim, V⟩, ⟨G, dD[V]⟩) per lane, as arrays of shape ``(lanes, 1, 1)``."""
        f = self.f
        problem = self.problem
        self.direction = direction
        self.tangents = {}
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


__all__ = ["Walker"]
