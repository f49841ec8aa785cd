"""Sample sizes under which an expression is defined: no identically singular ``XᵀX``.

Symbolic shapes are checked at small concrete sizes. ``inv(XᵀX)`` with ``X`` of 2×3 is singular for every
value of ``X`` (its rank is at most 2 < 3), so a check there says nothing about the identity. The sizes
chosen here keep every matrix that is inverted or whose determinant is taken (``inv``, ``det``,
``logdet``) of full rank as far as the shapes decide it: the rank of a product is bounded by its
inner dimensions.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

from symderiv.core import expr as ex
from symderiv.syntax.shapes import Typing

#: How many orderings of the sizes are tried at most (the names' permutations, then larger sizes).
MAX_TRIES = 2000


def rank_bound(node: ex.Expr, typing: Typing) -> int:
    """An upper bound of the rank of ``node`` on the concrete ``typing`` that the shapes alone decide.

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.shapes import infer_shapes
    >>> t = infer_shapes(parse("X.T @ X"), {"X": (2, 3)})
    >>> rank_bound(parse("X.T @ X"), t)
    2
    """
    rows, cols = typing.shape_of(node)
    full = min(int(rows), int(cols))
    if isinstance(node, ex.MatMul):
        return min(full, rank_bound(node.left, typing), rank_bound(node.right, typing))
    if isinstance(node, (ex.Transpose, ex.Neg)):
        return min(full, rank_bound(node.operand, typing))
    return full


def _inverted(nodes: Iterable[ex.Expr]) -> list[ex.Expr]:
    """The operands of ``inv``, ``det`` and of registry operations with a determinant lemma (``logdet``)."""
    out: list[ex.Expr] = []
    for root in nodes:
        for n in root.walk():
            if isinstance(n, (ex.Inv, ex.Det)):
                out.append(n.operand)
            elif isinstance(n, ex.Call) and n.op == "logdet":
                out.extend(n.args[:1])
    return out


def defined_at(typing: Typing, operands: list[ex.Expr]) -> bool:
    """Whether no operand is singular for all values at the (concrete) ``typing``."""
    for m in operands:
        rows, _ = typing.shape_of(m)
        if rank_bound(m, typing) < int(rows):
            return False
    return True


def _candidates(typing: Typing) -> Iterator[dict[str, int]]:
    names = typing.dim_names
    n = len(names)
    yield from typing.assignments(max(n, 2))
    tries = 0
    for shift in range(6):
        for perm in itertools.permutations(range(2 + shift, 2 + shift + n)):
            tries += 1
            if tries > MAX_TRIES:
                return
            yield dict(zip(names, perm, strict=True))


def sensible_assignments(typing: Typing, nodes: Iterable[ex.Expr], count: int = 2) -> list[dict[str, int]]:
    """``count`` assignments of small sizes under which every inverted matrix of ``nodes`` can be invertible.

    The usual rotations (:meth:`Typing.assignments`) when they are fine; else other orderings of the sizes
    (then larger ones), preferring assignments that give every name a new size. When none is found, the usual
    ones (the expression is then singular at every size, or the bound is too coarse to tell).

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.shapes import infer_shapes
    >>> e = parse("inv(X.T @ X)")
    >>> sensible_assignments(infer_shapes(e, {"X": ("m", "n")}), [e])
    [{'m': 3, 'n': 2}, {'m': 4, 'n': 3}]
    """
    default = typing.assignments(count)
    operands = _inverted(nodes)
    if not operands or all(defined_at(typing.substitute(a), operands) for a in default):
        return default
    chosen: list[dict[str, int]] = []
    for a in _candidates(typing):
        if a in chosen or not defined_at(typing.substitute(a), operands):
            continue
        if any(a[k] == b[k] for b in chosen for k in a):
            continue  # prefer a new size for every name; fall back below
        chosen.append(a)
        if len(chosen) == count:
            return chosen
    for a in _candidates(typing):  # fewer than count with all-new sizes: any other defined one
        if len(chosen) == count:
            break
        if a not in chosen and defined_at(typing.substitute(a), operands):
            chosen.append(a)
    return chosen or default


__all__ = ["defined_at", "rank_bound", "sensible_assignments"]
