"""Orientation of matrix products: ``(AB)ᵀ = BᵀAᵀ`` flattened, so ``inv(XᵀAX)`` and ``inv(XᵀAᵀX)ᵀ`` meet."""

from __future__ import annotations

from functools import lru_cache

from symderiv.core import expr as ex


def chain(node: ex.Expr) -> list[ex.Expr]:
    """The factors of a matrix product, flattened, with transposes pushed onto them.

    >>> A, B = ex.Symbol("A"), ex.Symbol("B")
    >>> chain(ex.Transpose(ex.MatMul(A, B))) == [ex.Transpose(B), ex.Transpose(A)]
    True
    """
    if isinstance(node, ex.MatMul):
        return chain(node.left) + chain(node.right)
    if isinstance(node, ex.Transpose):
        inner = node.operand
        if isinstance(inner, ex.Transpose):
            return chain(inner.operand)
        if isinstance(inner, ex.MatMul):
            return [f for part in reversed(chain(inner)) for f in chain(ex.Transpose(part))]
    return [node]


def _canon(node: ex.Expr, sym: frozenset[str]) -> ex.Expr:
    """A matrix product re-associated to the left, transposes on its factors; ``Sᵀ = S`` for symmetric ``S``."""
    factors = []
    for f in chain(node):
        if isinstance(f, ex.Transpose) and isinstance(f.operand, ex.Symbol) and f.operand.name in sym:
            f = f.operand
        factors.append(f)
    out = factors[0]
    for f in factors[1:]:
        out = ex.MatMul(out, f)
    return out


@lru_cache(maxsize=4096)
def oriented(node: ex.Expr, sym: frozenset[str]) -> tuple[ex.Expr, bool, bool]:
    """``(E, flipped, symmetric)``: ``node`` is ``E`` (or ``Eᵀ`` when flipped); ``symmetric`` when ``E = Eᵀ``.

    >>> X = ex.Symbol("X")
    >>> oriented(ex.MatMul(ex.Transpose(X), X), frozenset())[2]
    True
    """
    a, b = _canon(node, sym), _canon(ex.Transpose(node), sym)
    if a == b:
        return a, False, True
    return (a, False, False) if repr(a) <= repr(b) else (b, True, False)


def self_transposed(node: ex.Expr, sym: frozenset[str]) -> bool:
    """Whether an opaque entry's matrix equals its transpose (``inv(XᵀX)``, ``exp(S)`` for symmetric ``S``)."""
    if isinstance(node, ex.Symbol):
        return node.name in sym
    if isinstance(node, (ex.Inv, ex.Apply)):
        return oriented(node.operand, sym)[2] or self_transposed(node.operand, sym)
    return False



__all__ = ["chain", "oriented", "self_transposed"]
