"""Matrix-product identities of the simplifier: inverses cancel, powers collect, ``sum(eye * A)`` is a trace.

- ``inv(M) @ M = M @ inv(M) = I`` and, transposed, ``inv(M).T @ M.T = M.T @ inv(M).T = I``
  (the simplifier spells ``inv(M.T)`` as ``inv(M).T``), for adjacent factors of a ``@`` chain;
- matrix powers are compared written out, so like terms of a sum are recognised across spellings
  (``2 * matpow(X, 2).T + X.T @ X.T = 3 * matpow(X, 2).T``, the shortest spelling kept);
- ``sum(eye(n) * A) = trace(A)`` for an ``n×n`` matrix ``A``;
- ``inv(A @ B) = inv(B) @ inv(A)`` when every factor is square (tried as a whole, kept when shorter).
"""

from __future__ import annotations

from collections.abc import Callable

from symderiv.autodiff.canon import Canonical
from symderiv.core import expr as ex

#: The largest power written out to compare spellings.
_MAX_EXPANDED = 8


Canonicalise = Callable[[ex.Expr], ex.Expr]


def chain(node: ex.Expr) -> list[ex.Expr]:
    """The factors of a ``@`` chain, left to right.

    >>> from symderiv.syntax.language import parse
    >>> len(chain(parse("A @ (B @ C) @ D")))
    4
    """
    if isinstance(node, ex.MatMul):
        return chain(node.left) + chain(node.right)
    return [node]


def _inverse_of(factor: ex.Expr, canonicalise: Canonicalise) -> list[ex.Expr] | None:
    """The chain ``M`` (or ``M.T``, canonical) that cancels ``factor`` = ``inv(M)`` (or ``inv(M).T``)."""
    if isinstance(factor, ex.Inv):
        return chain(factor.operand)
    if isinstance(factor, ex.Transpose) and isinstance(factor.operand, ex.Inv):
        return chain(canonicalise(ex.Transpose(factor.operand.operand)))
    return None


def cancel_inverse(canon: Canonical, node: ex.MatMul, canonicalise: Canonicalise) -> ex.Expr | None:
    """``P @ inv(M) @ M @ Q → P @ Q`` (also ``M @ inv(M)`` and the transposes, ``M`` itself a chain);
    None when no inverse meets its matrix.

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.printing import to_text
    >>> to_text(cancel_inverse(Canonical(lambda n: ("n", "n")), parse("B @ inv(A @ C) @ A @ C @ D"), lambda n: n))
    'B @ D'
    """
    factors = chain(node)
    for i, factor in enumerate(factors):
        target = _inverse_of(factor, canonicalise)
        if target is None:
            continue
        k = len(target)
        for lo, hi in ((i + 1, i + 1 + k), (i - k, i)):
            if lo >= 0 and factors[lo:hi] == target:
                rest = factors[:min(lo, i)] + factors[max(hi, i + 1):]
                if rest:
                    out = rest[0]
                    for f in rest[1:]:
                        out = ex.MatMul(out, f)
                    return out
                shape = canon.shape(node)
                return None if shape is None else ex.ConstMatrix("eye", shape[0], shape[0])
    return None


def _square_chain(canon: Canonical, node: ex.Expr) -> list[ex.Expr] | None:
    """The factors of a ``@`` chain when each is square of the product's own size (else None)."""
    factors = chain(node)
    shape = canon.shape(node)
    if len(factors) < 2 or shape is None or shape[0] != shape[1]:
        return None
    return factors if all(canon.shape(f) == shape for f in factors) else None


def split_inverses(canon: Canonical, node: ex.Expr) -> ex.Expr | None:
    """Every ``inv(A @ B @ C)`` of square factors written ``inv(C) @ inv(B) @ inv(A)``; None when there is none.

    An identity wherever the left side is defined: a product of square matrices is invertible exactly when
    each factor is (``det(ABC) = det A det B det C``). A product with a non-square factor (``X.T @ X``) stays.

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.printing import to_text
    >>> to_text(split_inverses(Canonical(lambda n: ("n", "n")), parse("2 * inv(A @ X @ B).T")))
    '2 * (inv(B) @ inv(X) @ inv(A)).T'
    >>> split_inverses(Canonical(lambda n: ("m", "n") if n == parse("X") else ("n", "n")), parse("inv(X.T @ X)"))
    """
    kids = node.children()
    new_kids = [split_inverses(canon, c) for c in kids]
    changed = any(k is not None for k in new_kids)
    if changed:
        node = ex.with_children(node, [k if k is not None else c for k, c in zip(new_kids, kids, strict=True)])
    if isinstance(node, ex.Inv) and (factors := _square_chain(canon, node.operand)) is not None:
        out: ex.Expr = ex.Inv(factors[-1])
        for f in reversed(factors[:-1]):
            out = ex.MatMul(out, ex.Inv(f))
        return out
    return node if changed else None


def pull_scalars(canon: Canonical, node: ex.Expr) -> ex.Expr | None:
    """``P @ (s * M) → s * (P @ M)`` (and ``(s * M) @ P``) for every ``1×1`` factor ``s`` of a product's operand,
    so the factors of a ``@`` chain meet (an identity: a ``1×1`` factor is scaling); None when there is none.

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.printing import to_text
    >>> to_text(pull_scalars(Canonical(lambda n: (1, 1) if n == parse("s") else ("n", "n")), parse("A @ (s * B) @ C")))
    's * (A @ B @ C)'
    """
    kids = node.children()
    new_kids = [pull_scalars(canon, c) for c in kids]
    changed = any(k is not None for k in new_kids)
    if changed:
        node = ex.with_children(node, [k if k is not None else c for k, c in zip(new_kids, kids, strict=True)])
    if isinstance(node, ex.MatMul):
        for side in ("left", "right"):
            operand = getattr(node, side)
            if not isinstance(operand, ex.Mul):
                continue
            for s, m in ((operand.left, operand.right), (operand.right, operand.left)):
                if not isinstance(s, ex.Number) and canon.shape(s) == (1, 1) and canon.shape(m) not in (None, (1, 1)):
                    inner: ex.Expr = ex.MatMul(m, node.right) if side == "left" else ex.MatMul(node.left, m)
                    return ex.Mul(s, pull_scalars(canon, inner) or inner)
    return node if changed else None


def _expand_powers(node: ex.Expr) -> ex.Expr:
    if isinstance(node, ex.Call) and node.op == "matpow" and isinstance(k := node.param("k"), int) \
            and 1 <= k <= _MAX_EXPANDED:
        base = _expand_powers(node.args[0])
        out = base
        for _ in range(k - 1):
            out = ex.MatMul(out, base)
        return out
    kids = node.children()
    return ex.with_children(node, [_expand_powers(c) for c in kids]) if kids else node


def power_key(node: ex.Expr, canonicalise: Canonicalise) -> ex.Expr:
    """A key equal for two spellings of one product of matrix powers: ``matpow`` written out, canonically
    (``matpow(X, 2).T`` and ``X.T @ X.T`` have one key); ``node`` itself when it has no ``matpow``.

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.autodiff.simplify import Simplifier
    >>> plain = Simplifier(recognise=False).simplify
    >>> power_key(parse("matpow(A @ B, 2).T"), plain) == power_key(parse("B.T @ A.T @ B.T @ A.T"), plain)
    True
    """
    if not any(isinstance(n, ex.Call) and n.op == "matpow" for n in node.walk()):
        return node
    return canonicalise(_expand_powers(node))


def eye_sum(canon: Canonical, node: ex.Sum) -> ex.Expr | None:
    """``sum(eye(n) * A) → trace(A)`` when ``A`` is ``n×n`` (None otherwise).

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.printing import to_text
    >>> to_text(eye_sum(Canonical(lambda n: (3, 3)), parse("sum(eye(3) * A)")))
    'trace(A)'
    """
    a = node.operand
    if node.axis is not None or not isinstance(a, ex.Mul):
        return None
    for eye, other in ((a.left, a.right), (a.right, a.left)):
        if isinstance(eye, ex.ConstMatrix) and eye.kind == "eye" and canon.shape(other) == (eye.rows, eye.rows):
            return ex.Trace(other)
    return None


__all__ = ["cancel_inverse", "chain", "eye_sum", "power_key", "pull_scalars", "split_inverses"]
