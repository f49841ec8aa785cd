"""Identities of sums along an axis and of stretched vectors, for the simplifier.

- a factor that is constant along the summed axis comes out of the sum: ``sum(A / b, axis=1)`` is
  ``sum(A, axis=1) / b`` for a column ``b`` (and a scalar factor for either axis), so the rational normal form
  can cancel it against the rest (``sum(exp(Z), axis=0) / sum(exp(Z), axis=0) ** 2`` is ``1 / sum(...)``);
- a vector stretched by ``ones`` is the vector where broadcasting stretches it the same way:
  ``(b @ ones(1, C)) * A`` is ``b * A`` when ``A`` already has the shape of the result.

Both are identities of the values for every shape (the elementwise product of the language broadcasts a
column along the rows and a row along the columns); the simplified result is proved like any gradient.
"""

from __future__ import annotations

from fractions import Fraction

from symderiv.autodiff.canon import Canonical
from symderiv.autodiff.products import build, factors
from symderiv.core import expr as ex
from symderiv.core.errors import SymderivError
from symderiv.ops import matrix_op
from symderiv.syntax.derivatives import substitute
from symderiv.syntax.language import parse


def _shape(canon: Canonical, node: ex.Expr) -> ex.Shape | None:
    try:
        return canon.shape(node)
    except SymderivError:  # a candidate that does not broadcast: not made
        return None


def pull_constant(canon: Canonical, node: ex.Sum) -> ex.Expr | None:
    """``node`` with the factors of its operand that are constant along its axis taken out (None: none are).

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.printing import to_text
    >>> from symderiv.syntax.shapes import infer_shapes
    >>> e = parse("sum(2 * A / b, axis=1)")
    >>> typing = infer_shapes(e, {"A": ("N", "C"), "b": ("N", 1)})
    >>> to_text(pull_constant(Canonical(typing.shape_of), e))
    '2 * sum(A, axis=1) / b'
    """
    if node.axis is None or not isinstance(node.operand, (ex.Mul, ex.Div, ex.Neg)):
        return None
    whole = _shape(canon, node.operand)
    if whole is None or whole[node.axis] == 1:
        return None
    coefficient, parts = factors(node.operand)
    outside: dict[ex.Expr, int] = {}
    inside: dict[ex.Expr, int] = {}
    for base, exponent in parts.items():
        shape = _shape(canon, base)
        if shape is None:
            return None
        (outside if shape[node.axis] == 1 else inside)[base] = exponent
    if not outside or not inside or all(e == 0 for e in outside.values()):
        return None
    kept = build(canon, Fraction(1), {b: e for b, e in inside.items() if e != 0}, node.operand)
    if kept is None:
        return None
    summed = ex.Sum(kept, axis=node.axis)
    outside[summed] = outside.get(summed, 0) + 1  # it may be a factor already (a softmax's denominator)
    return build(canon, coefficient, {b: e for b, e in outside.items() if e != 0}, node)


def _narrow(canon: Canonical, node: ex.Expr) -> ex.Expr | None:
    """``b`` for ``b @ ones(1, C)`` (``b`` a column) or ``ones(N, 1) @ b`` (``b`` a row)."""
    if not isinstance(node, ex.MatMul):
        return None
    if _is_ones(node.right) and (_shape(canon, node.left) or (0, 0))[1] == 1:
        return node.left
    if _is_ones(node.left) and (_shape(canon, node.right) or (0, 0))[0] == 1:
        return node.right
    return None


def unspread(canon: Canonical, node: ex.Mul | ex.Div) -> ex.Expr | None:
    """``node`` with an operand ``b @ ones(1, C)`` written ``b`` when the other operand has the result's shape
    (broadcasting stretches ``b`` the same way); None: nothing to do.

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.printing import to_text
    >>> from symderiv.syntax.shapes import infer_shapes
    >>> e = parse("(b @ ones(1, C)) * A")
    >>> typing = infer_shapes(e, {"A": ("N", "C"), "b": ("N", 1)})
    >>> to_text(unspread(Canonical(typing.shape_of), e))
    'b * A'
    """
    whole = _shape(canon, node)
    if whole is None:
        return None
    left, right = node.left, node.right
    if _shape(canon, right) == whole and (narrow := _narrow(canon, left)) is not None:
        return type(node)(narrow, right)
    if _shape(canon, left) == whole and (narrow := _narrow(canon, right)) is not None:
        return type(node)(left, narrow)
    return None


def stretch_ones(canon: Canonical, node: ex.Add | ex.Sub) -> ex.Expr | None:
    """``node`` with an operand ``ones(N, 1)`` (or ``ones(1, C)``, ``ones(1, 1)``) that broadcasting stretches
    written ``ones(N, C)``, the result's shape, so that like terms merge (``ones(N, C) - ones(N, 1)`` is zeros).

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.printing import to_text
    >>> from symderiv.syntax.shapes import infer_shapes
    >>> e = parse("A - ones(N, 1)")
    >>> to_text(stretch_ones(Canonical(infer_shapes(e, {"A": ("N", "C")}).shape_of), e))
    'A - ones(N, C)'
    """
    whole = _shape(canon, node)
    if whole is None:
        return None
    kids = [ex.ConstMatrix("ones", whole[0], whole[1]) if _is_ones(k) and _shape(canon, k) != whole else k
            for k in (node.left, node.right)]
    return None if kids == [node.left, node.right] else type(node)(kids[0], kids[1])


def _is_ones(node: ex.Expr) -> bool:
    return isinstance(node, ex.ConstMatrix) and node.kind == "ones"




def written_out(node: ex.Expr) -> ex.Expr | None:
    """A call of a matrix operation written by its registry expansion for the call's parameters (None: it lists
    none), so that a sum along its lines can simplify (``sum(softmax(A, axis=1), axis=1)`` is ``ones``).

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.printing import to_text
    >>> to_text(written_out(parse("softmax(W @ X, axis=0)")))
    'exp(W @ X) / sum(exp(W @ X), axis=0)'
    """
    if not isinstance(node, ex.Call) or len(node.args) != 1:
        return None
    given = dict(node.params)
    for text, params in matrix_op(node.op).expansions:
        if dict(params) == given:
            return substitute(parse(text), {"A": node.args[0]})
    return None


__all__ = ["pull_constant", "stretch_ones", "unspread", "written_out"]
