"""Two more identities of the normal form: broadcast quotients split by position, and sums folded back.

- ``"quotient-split"``: the entry of a broadcasting product or quotient is the product of its operands' entries,
  each at its own position: ``(A / s)[i, j] = A[i, j] · (1/s)[i, 0]`` for a column ``s``, and
  ``(1 / (A / s))[i, j] = (1/A)[i, j] · s[i, 0]``, wherever both sides are defined. The engine writes such a
  product out when it meets one; this is for the ones inside an opaque entry (``log(exp(X) / s)``'s ``1/z``).
- ``"sum-fold"``: the definition of ``sum`` read backwards, ``Σ_k A[k, j] = sum(A, axis=0)[0, j]`` (and over
  the columns with ``axis=1``), when ``k`` occurs in that one factor only and the same ``sum`` node stands in
  another factor of the term (a quotient by it). Then scalar powers of one base add up: ``Σ_k e_kj / (Σ_l
  e_lj)²`` is ``1 / Σ_l e_lj``.

- ``"delta-free"``: ``δ_dc f(d, c) = δ_dc f(d, d)`` for two free indices (``D * eye(n)``'s entry).

The first two together prove a softmax's normalisation, ``Σ_k softmax(Z)[i, k] = 1`` for all sizes, from the definition
of ``sum`` and ``s · s⁻¹ = 1``: nothing about softmax is assumed (``tests/test_index_folds.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from symderiv.core import expr as ex
from symderiv.proofs.index.forms import Delta, Ent, Factor, Idx, Index, Term, factor_indices, substitute

Shape = Callable[[ex.Expr], ex.Shape]

_ONE = ex.Number(Fraction(1))


def _reciprocal(node: ex.Expr) -> ex.Expr:
    if isinstance(node, ex.Div) and node.left == _ONE:
        return node.right
    return ex.Div(_ONE, node)


def _at(shape: Shape, node: ex.Expr, row: Index, col: Index) -> tuple[Index, Index]:
    r, c = shape(node)
    return (0 if r == 1 else row, 0 if c == 1 else col)


def _parts(shape: Shape, node: ex.Expr) -> tuple[ex.Expr, ex.Expr] | None:
    """The two factors of a broadcasting product or quotient (operands of different shapes), else None."""
    if isinstance(node, ex.Div) and node.left == _ONE:
        inner = _parts(shape, node.right)
        return None if inner is None else (_reciprocal(inner[0]), _reciprocal(inner[1]))
    if isinstance(node, (ex.Mul, ex.Div)) and not isinstance(node.left, ex.Number) \
            and not isinstance(node.right, ex.Number) and shape(node.left) != shape(node.right):
        right = _reciprocal(node.right) if isinstance(node, ex.Div) else node.right
        return node.left, right
    return None


def split_quotients(t: Term, shape: Shape) -> tuple[Term, bool]:
    """``t`` with every broadcasting product or quotient entry split into its operands' entries, and whether any
    was (``"quotient-split"``).

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.printing import to_text
    >>> def shape(node): return ("n", 1) if node == parse("s") else ("n", "m")
    >>> i, j = Idx("i", "n"), Idx("j", "m")
    >>> term, used = split_quotients(Term(Fraction(1), (), (Ent(parse("1 / (A / s)"), i, j),)), shape)
    >>> [(to_text(f.expr), str(f.row), str(f.col)) for f in term.factors if isinstance(f, Ent)], used
    ([('1 / A', 'i', 'j'), ('s', 'i', '0')], True)
    """
    out: list[Factor] = []
    used = False
    todo = list(t.factors)
    while todo:
        f = todo.pop(0)
        parts = _parts(shape, f.expr) if isinstance(f, Ent) else None
        if parts is None or not isinstance(f, Ent):
            out.append(f)
            continue
        used = True
        todo[:0] = [Ent(p, *_at(shape, p, f.row, f.col)) for p in parts]
    return Term(t.coeff, t.sums, tuple(out)), used


def free_deltas(t: Term) -> tuple[Term, bool]:
    """``δ_dc f(d, c)`` written ``δ_dc f(d, d)`` for two free indices (the later name replaced by the earlier one in the
    other factors; the δ stays): one spelling of ``D_dd δ_dc`` and ``D_dc δ_dc``. Whether any δ did (``"delta-free"``).

    >>> d, c = Idx("d", "n"), Idx("c", "n")
    >>> t, used = free_deltas(Term(Fraction(1), (), (Ent(ex.Symbol("D"), d, c), Delta(d, c))))
    >>> t.factors[0] == Ent(ex.Symbol("D"), c, c), used
    (True, True)
    """
    used = False
    for f in t.factors:
        if not (isinstance(f, Delta) and isinstance(f.a, Idx) and isinstance(f.b, Idx) and f.a != f.b
                and f.a not in t.sums and f.b not in t.sums):
            continue
        keep, old = sorted((f.a, f.b), key=lambda i: i.name)
        others = Term(t.coeff, t.sums, tuple(g for g in t.factors if g is not f))
        if not any(old in factor_indices(g) for g in others.factors):
            continue
        renamed = substitute(others, old, keep)
        t, used = Term(renamed.coeff, renamed.sums, renamed.factors + (f,)), True
    return t, used


def _bases(node: ex.Expr) -> set[ex.Expr]:
    return {n for n in node.walk() if isinstance(n, ex.Sum)}


def fold_sums(t: Term, shape: Shape) -> tuple[Term, bool]:
    """``t`` with ``Σ_k A[k, j]`` written ``sum(A, axis=0)[0, j]`` (``Σ_k A[i, k]`` as ``sum(A, axis=1)[i, 0]``)
    where that ``sum`` node also stands in another factor of ``t``; and whether any sum was folded (``"sum-fold"``).

    >>> from symderiv.syntax.language import parse
    >>> k, j = Idx("k", "n"), Idx("j", "m")
    >>> t = Term(Fraction(1), (k,), (Ent(parse("E"), k, j), Ent(parse("1 / sum(E, axis=0)"), 0, j)))
    >>> folded, used = fold_sums(t, lambda node: ("n", "m"))
    >>> folded.sums, folded.factors[0] == Ent(parse("sum(E, axis=0)"), 0, j), used
    ((), True, True)
    """
    used = False
    changed = True
    while changed:
        changed = False
        for k in t.sums:
            where = [(n, f) for n, f in enumerate(t.factors) if k in factor_indices(f)]
            n, f = where[0] if len(where) == 1 else (0, None)
            folded = _fold(f, k, shape) if isinstance(f, Ent) else None
            if folded is None:
                continue
            others = set().union(*(_bases(g.expr) for m, g in enumerate(t.factors) if m != n and isinstance(g, Ent)))
            if folded.expr not in others:
                continue
            factors = t.factors[:n] + (folded,) + t.factors[n + 1:]
            t = Term(t.coeff, tuple(i for i in t.sums if i != k), factors)
            used = changed = True
            break
    return t, used


def _fold(f: Ent, k: Idx, shape: Shape) -> Ent | None:
    """The folded factor, when ``k`` runs over the whole row (column) range of ``f``'s matrix."""
    rows, cols = shape(f.expr)
    if f.row == k and f.col != k and k.dim == rows:
        return Ent(ex.Sum(f.expr, axis=0), 0, f.col)
    if f.col == k and f.row != k and k.dim == cols:
        return Ent(ex.Sum(f.expr, axis=1), f.row, 0)
    return None


__all__ = ["fold_sums", "free_deltas", "split_quotients"]
