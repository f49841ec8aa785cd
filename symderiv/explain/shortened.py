"""The sentences of the shortened steps: a routine block in one step, and the last simplification.

Like :mod:`symderiv.explain.prose`, every sentence is built from its step's data (the indices the sparsity pins,
the lemmas the index engine used, the regions the simplifier changed); ``tests/test_prose_claims.py`` checks them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from symderiv.core import expr as ex
from symderiv.proofs.index import Ent, Idx, Index, IndexSum

from .prose import index_list, rule_sentence
from .steps import Equation, Math, Matrix, Prose


def _only_through(P: ex.Expr, d: Index, c: Index, pins: Mapping[Idx, Index], pshape: ex.Shape) -> list[Any]:
    """``only through the entry W_ic`` / ``row i of W`` / ``column j of W``: which entries of ``P`` one entry of
    the block involves, from the indices the sparsity pins."""
    rows = [k for k, v in pins.items() if v == d]
    cols = [k for k, v in pins.items() if v == c]
    if rows and cols:
        return ["only through the entry ", Ent(P, rows[0], cols[0])]
    if rows and pshape[1] == 1:
        return ["only through the entry ", Ent(P, rows[0], 0)]
    if cols and pshape[0] == 1:
        return ["only through the entry ", Ent(P, 0, cols[0])]
    if rows:
        return ["only through row ", rows[0], " of ", Matrix(P)]
    if cols:
        return ["only through column ", cols[0], " of ", Matrix(P)]
    return ["through every entry of ", Matrix(P)]


def entrywise(name: ex.Symbol, form: IndexSum, a: Index, b: Index, ve: Ent, pins: Mapping[Idx, Index],
              pshape: ex.Shape, rules: Sequence[str], left: Sequence[Idx]) -> Prose:
    """A routine block in one sentence: which entries of the block involve the entry we picked, and the
    derivative of each (``detail="compact"``)."""
    prose: list[Any] = ["By the chain rule through ", Matrix(name), ", where ",
                        Equation((IndexSum.of(Ent(name, a, b)), form))]
    if pins:
        pinned = {v: v for v in pins.values() if isinstance(v, Idx)}
        prose += [" involves ", Matrix(ve.expr), " ", *_only_through(ve.expr, ve.row, ve.col, pinned, pshape),
                  ", so only the entr" + ("ies " if left else "y "), Ent(name, a, b), " of ", Matrix(name),
                  " contribut" + ("e, summed over " if left else "es")]
        prose += index_list(left) if left else []
    elif left:
        prose += [", summed over ", *index_list(left)]
    sentences = [x for rule in rules if (x := rule_sentence(rule)) is not None]
    for n, sentence in enumerate(dict.fromkeys(tuple(x) for x in sentences)):
        prose += ["; " if n or pins or left else ", "] + list(sentence)
    prose += [":"]
    return tuple(prose)


def simplify(regions: Sequence[tuple[ex.Expr, ex.Expr]], printed: Callable[[ex.Expr], str] = str) -> Prose:
    """The last step: which elementwise parts were multiplied out and collected, each as ``before = after``
    (only ``after`` when ``before``, as ``printed`` writes it, is too long to quote: it is the line above)."""
    parts: list[str | Math] = []
    for n, (before, after) in enumerate(regions):
        shown = Equation((Matrix(before), Matrix(after))) if len(printed(before)) <= 60 else Matrix(after)
        parts += ["; " if n else "", shown]
    quoted = any(isinstance(p, Equation) for p in parts)
    noun = "part" if len(regions) == 1 else "parts"
    verb = f"simplifies the elementwise {noun}, " if quoted else f"turns the elementwise {noun} into "
    return ("Multiplying out the elementwise products and collecting like terms " + verb, *parts, ":")


__all__ = ["entrywise", "simplify"]
