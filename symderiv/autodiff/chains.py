"""Matrix-product identities of the simplifier: inverses cancel, powers collect, ``sum(eye * A)`` is a trace.

- ``inv(M) @ M = M @ inv(M) = I`` and, transposed, ``inv(M).T @ M.T = M.T @ inv(M).T = I``
  (the simplifier spells ``inv(M.T)`` as ``inv(M).T``), for adjacent factors of a ``@`` chain;
- a run of equal factors is a matrix power: the *power form* of ``X.T @ X.T`` is ``matpow(X, 2).T``,
  so like terms of a sum are recognised across the two spellings
  (``2 * matpow(X, 2).T + X.T @ X.T = 3 * matpow(X, 2).T``);
- ``sum(eye(n) * A) = trace(A)`` for an ``n×n`` matrix ``A``.
"""

from __future__ import annotations

from symderiv.autodiff.canon import Canonical
from symderiv.core import expr as ex
from symderiv.ops import call


def _inverse_pair(a: ex.Expr, b: ex.Expr) -> bool:
    if isinstance(a, ex.Transpose) and isinstance(b, ex.Transpose):
        a, b = a.operand, b.operand
    return (isinstance(a, ex.Inv) and a.operand == b) or (isinstance(b, ex.Inv) and b.operand == a)


def cancel_inverse(canon: Canonical, node: ex.MatMul) -> ex.Expr | None:
    """``P @ inv(M) @ M → P`` (and the other three spellings); None when the last two factors are no such pair.

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.printing import to_text
    >>> to_text(cancel_inverse(Canonical(lambda n: ("n", "n")), parse("B @ X.T @ inv(X).T")))
    'B'
    """
    left = node.left
    last = left.right if isinstance(left, ex.MatMul) else left
    if not _inverse_pair(last, node.right):
        return None
    if isinstance(left, ex.MatMul):
        return left.left
    shape = canon.shape(node.right)
    if shape is None:
        return None
    return ex.ConstMatrix("eye", shape[0], shape[0])


def _chain(node: ex.Expr) -> list[ex.Expr]:
    if isinstance(node, ex.MatMul):
        return _chain(node.left) + _chain(node.right)
    return [node]


def _as_power(node: ex.Expr) -> tuple[ex.Expr, int]:
    if isinstance(node, ex.Call) and node.op == "matpow" and isinstance(k := node.param("k"), int) and k > 0:
        return node.args[0], k
    if isinstance(node, ex.Transpose):
        base, k = _as_power(node.operand)
        if k > 1:
            return ex.Transpose(base), k
    return node, 1


def _spell_power(base: ex.Expr, k: int) -> ex.Expr:
    if k == 1:
        return base
    if isinstance(base, ex.Transpose):
        return ex.Transpose(call("matpow", base.operand, k=k))
    return call("matpow", base, k=k)


def power_form(node: ex.Expr) -> ex.Expr:
    """``node`` with each run of equal ``@`` factors written as one matrix power (transposes outside).

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.printing import to_text
    >>> to_text(power_form(parse("A @ X.T @ X.T @ matpow(X, 2).T")))
    'A @ matpow(X, 4).T'
    """
    if not isinstance(node, (ex.MatMul, ex.Transpose, ex.Call)):
        return node
    runs: list[tuple[ex.Expr, int]] = []
    for factor in _chain(node):
        base, k = _as_power(factor)
        if runs and runs[-1][0] == base:
            runs[-1] = (base, runs[-1][1] + k)
        else:
            runs.append((base, k))
    out = _spell_power(*runs[0])
    for base, k in runs[1:]:
        out = ex.MatMul(out, _spell_power(base, k))
    return out


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


__all__ = ["cancel_inverse", "eye_sum", "power_form"]
