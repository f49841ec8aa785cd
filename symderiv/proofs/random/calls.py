"""Registered matrix operations (:class:`~symderiv.core.expr.Call` nodes) in the randomized check, generically.

Every engine of :mod:`symderiv.proofs.random` evaluates a call by its expansion over the primitives
(the log-determinant is ``log |det A|``). The forward tangent of a *scalar* operation is read from its
backward rule instead: ``d f(A)[dA] = ⟨vjp(f, 1), dA⟩``, which keeps the degree bound of the
log-determinant that of ``trace(inv(A) dA)`` (its expansion would multiply and divide it by ``det A``).

>>> from symderiv.ops import call, matrix_ops
>>> from symderiv.syntax.printing import to_text
>>> SCALAR = next(name for name, op in matrix_ops().items() if op.scalar and not op.params)
>>> to_text(expansion(call(SCALAR, ex.Symbol("X")), lambda a: (2, 2))) == f"{SCALAR}(X)"
False
>>> [to_text(g) for g in gradients(call(SCALAR, ex.Symbol("X")))]
['inv(X).T']
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from symderiv.core import expr as ex
from symderiv.ops import matrix_op

Shape = Callable[[ex.Expr], tuple[int, int]]


def expansion(node: ex.Call, shape: Shape) -> ex.Expr:
    """The value of ``node`` as an expression over the primitives (its registry expansion)."""
    return matrix_op(node.op).expand(node.args, [shape(a) for a in node.args], dict(node.params))


def gradients(node: ex.Call) -> tuple[ex.Expr | None, ...] | None:
    """For a scalar operation, ``∂f/∂A`` for each argument ``A`` (None: no contribution); None for other ops."""
    if not matrix_op(node.op).scalar:
        return None
    return tuple(None if g is None else _without_ones(g) for g in matrix_op(node.op).vjp(node, _ONE))


_ONE = ex.Number(Fraction(1))


def _without_ones(node: ex.Expr) -> ex.Expr:
    """``1 * A`` is ``A``: the upstream 1 of a gradient costs a product of whole matrices otherwise."""
    while isinstance(node, ex.Mul) and _ONE in (node.left, node.right):
        node = node.right if node.left == _ONE else node.left
    return node


def expanded_nodes(roots: list[ex.Expr], shape: Shape) -> set[ex.Expr]:
    """Every node a walker may hold a value of: the nodes of ``roots``, of the expansions of their calls,
    and of the gradients of the scalar ones.

    >>> from symderiv.ops import call, matrix_ops
    >>> scalar = next(name for name, op in matrix_ops().items() if op.scalar and not op.params)
    >>> len(expanded_nodes([call(scalar, ex.Symbol("X"))], lambda a: (2, 2)))
    6
    """
    def extra(node: ex.Call) -> list[ex.Expr]:
        return [expansion(node, shape), *(g for g in gradients(node) or () if g is not None)]

    return _reachable(roots, extra)


def tangent_nodes(roots: list[ex.Expr], shape: Shape) -> set[ex.Expr]:
    """The nodes whose tangent a walker may compute: those of ``roots`` and of the expansions of their
    calls, except inside the expansion of a scalar operation (its tangent is read from its gradients).

    >>> from symderiv.ops import call, matrix_ops
    >>> scalar = next(name for name, op in matrix_ops().items() if op.scalar and not op.params)
    >>> sorted(type(n).__name__ for n in tangent_nodes([call(scalar, ex.Symbol("X"))], lambda a: (2, 2)))
    ['Call', 'Symbol']
    """
    return _reachable(roots, lambda node: [expansion(node, shape)] if gradients(node) is None else [])


def _reachable(roots: list[ex.Expr], extra: Callable[[ex.Call], list[ex.Expr]]) -> set[ex.Expr]:
    """The nodes of ``roots``, plus, for every call met, the nodes of what ``extra`` adds for it."""
    seen: set[ex.Expr] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(node.children())
        if isinstance(node, ex.Call):
            stack.extend(extra(node))
    return seen


__all__ = ["expansion", "expanded_nodes", "gradients", "tangent_nodes"]
