"""Rational normal form of elementwise products: cancel common factors, lift quotients.

A chain of ``*``, ``/``, unary ``-`` and integer ``**`` over any subexpressions is a rational
coefficient times a product of *bases* with integer exponents (``Factors``). Equal bases add their
exponents, so ``1 / det(X) * det(X) * inv(X).T`` is ``inv(X).T`` and ``ones(n, 1) / v * u`` is
``u / v``. Elementwise products (with broadcasting) commute, so this is an identity of the values
wherever the original is defined; a rewrite that would change the shape (a cancelled factor that
broadcast the rest) is not made.
"""

from __future__ import annotations

from fractions import Fraction

from symderiv.autodiff.canon import ONE, Canonical
from symderiv.core import expr as ex

#: base → exponent, in order of first appearance.
Factors = dict[ex.Expr, int]


def factors(node: ex.Expr, sign: int = 1, out: Factors | None = None) -> tuple[Fraction, Factors]:
    """``node == coefficient * prod(base ** exponent)``; ``ones`` factors are dropped (shapes are checked later).

    >>> from symderiv.syntax.language import parse
    >>> c, f = factors(parse("-2 * A / B * A"))
    >>> c, [(b.name, e) for b, e in f.items()]
    (Fraction(-2, 1), [('A', 2), ('B', -1)])
    """
    out = {} if out is None else out
    coefficient = ONE
    if isinstance(node, ex.Number) and (sign > 0 or node.value != 0):
        return (node.value if sign > 0 else 1 / node.value), out
    if isinstance(node, ex.Neg):
        c, _ = factors(node.operand, sign, out)
        return -c, out
    if isinstance(node, (ex.Mul, ex.Div)):
        ca, _ = factors(node.left, sign, out)
        cb, _ = factors(node.right, sign if isinstance(node, ex.Mul) else -sign, out)
        return ca * cb, out
    if isinstance(node, ex.ConstMatrix) and node.kind == "ones":
        return coefficient, out
    if isinstance(node, ex.Power) and not isinstance(node.operand, ex.Number):
        out[node.operand] = out.get(node.operand, 0) + sign * node.exponent
        return coefficient, out
    out[node] = out.get(node, 0) + sign
    return coefficient, out


def _power(base: ex.Expr, k: int) -> ex.Expr:
    return base if k == 1 else ex.Power(base, exponent=k)


def build(canon: Canonical, coefficient: Fraction, parts: Factors, like: ex.Expr) -> ex.Expr | None:
    """``coefficient * prod(parts)``, scalars first, the denominator last; shaped like ``like`` (None: cannot)."""
    whole = canon.shape(like)
    if coefficient == 0:
        return canon.zeros(like)
    scalars = [b for b in parts if canon.is_scalar(b)]
    order = scalars + [b for b in parts if b not in scalars]
    top = [_power(b, parts[b]) for b in order if parts[b] > 0]
    bottom = [_power(b, -parts[b]) for b in order if parts[b] < 0]
    for filler in (None, "ones"):
        if filler == "ones":
            if whole is None:
                return None
            top = [ex.ConstMatrix("ones", whole[0], whole[1]), *top]
        numerator: ex.Expr = top[0] if top else ex.Number(ONE)
        for f in top[1:]:
            numerator = ex.Mul(numerator, f)
        result = numerator
        if bottom:
            denominator = bottom[0]
            for f in bottom[1:]:
                denominator = ex.Mul(denominator, f)
            result = ex.Div(numerator, denominator)
        if whole is None or canon.shape(result) == whole:
            return canon.join(coefficient, result)
    return None


def _is_chain(node: ex.Expr) -> bool:
    return isinstance(node, (ex.Mul, ex.Div))


def worth_normalising(node: ex.Expr, parts: Factors) -> bool:
    """Whether the normal form can say more: a base cancels or merges, or a quotient sits inside a product."""
    if any(e == 0 for e in parts.values()):
        return True
    if isinstance(node, (ex.Mul, ex.Div)) and any(isinstance(n, ex.ConstMatrix) and n.kind == "ones"
                                                  for n in (node.left, node.right)):
        return True  # ones(n, m) / X → 1 / X when X has the shape
    if isinstance(node, ex.Mul) and any(isinstance(n, ex.Div) for n in (node.left, node.right)):
        return True
    if isinstance(node, ex.Div) and (_is_chain(node.left) and isinstance(node.left, ex.Div)
                                     or _is_chain(node.right)):
        return True
    seen = 0
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, (ex.Mul, ex.Div, ex.Neg)):
            stack.extend(n.children())
        elif isinstance(n, ex.Power):
            seen += 1 if n.operand in parts else 0
        elif n in parts:
            seen += 1
    return seen > len(parts)


def size(node: ex.Expr) -> int:
    """The number of nodes of the tree (the cost the rewrites lower).

    >>> from symderiv.syntax.language import parse
    >>> size(parse("A * B"))
    3
    """
    return sum(1 for _ in node.walk())


def normalise(canon: Canonical, node: ex.Expr) -> ex.Expr:
    """The product ``node`` in rational normal form when that is no larger; else ``node`` itself."""
    coefficient, parts = factors(node)
    if not worth_normalising(node, parts):
        return node
    kept = {b: e for b, e in parts.items() if e != 0}
    rebuilt = build(canon, coefficient, kept, node)
    if rebuilt is None:
        return node
    # A quotient inside a product is lifted (one canonical spelling, so equal terms merge) unless that grows it.
    lifts = isinstance(node, ex.Mul) and any(isinstance(n, ex.Div) for n in (node.left, node.right))
    if _cost(rebuilt) < _cost(node) or (lifts and size(rebuilt) <= size(node)):
        return rebuilt
    return node


def _cost(node: ex.Expr) -> tuple[int, int]:
    # Fewer nodes, then fewer ones(...) (``1 / X`` over ``ones(n, m) / X``); a mere reordering is no gain.
    return size(node), sum(isinstance(n, ex.ConstMatrix) and n.kind == "ones" for n in node.walk())


__all__ = ["Factors", "build", "factors", "normalise", "size", "worth_normalising"]
