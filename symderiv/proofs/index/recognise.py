"""From index notation back to matrices: recognising contractions, and tidying transposes.

Sums over an index shared by two entries become products (``Σ_j A_dj B_cj = (A Bᵀ)_dc``), entries at
the same position elementwise products, a lone summed index a row or column sum, ``Σ_k A_kk`` a trace
and ``δ_dc`` the identity.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from fractions import Fraction

from symderiv.core import expr as ex
from symderiv.proofs.index.forms import Delta, Ent, Idx, Index, IndexSum, Term

#: A matrix-level expression standing at a pair of indices (0 for a dimension of size 1).
Placed = tuple[ex.Expr, Index, Index]


def recognise(s: IndexSum, d: Index, c: Index, symmetric: Iterable[str] = ()) -> ex.Expr | None:
    """A matrix-level expression ``M`` with ``M[d, c]`` equal to ``s``, or None.

    >>> from symderiv.syntax.printing import to_text
    >>> A, B = ex.Symbol("A"), ex.Symbol("B")
    >>> d, c, j = Idx("d", "n"), Idx("c", "n"), Idx("j", "m")
    >>> to_text(recognise(IndexSum.of(Ent(A, d, j), Ent(B, c, j), sums=[j]), d, c))
    'A @ B.T'
    """
    parts: list[ex.Expr] = []
    for t in s.terms:
        m = recognise_term(t, d, c)
        if m is None:
            return None
        parts.append(m)
    if not parts:
        return ex.ConstMatrix("zeros", _dim(d), _dim(c))
    total = parts[0]
    for p in parts[1:]:
        if isinstance(p, ex.Neg):
            total = ex.Sub(total, p.operand)
        else:
            total = ex.Add(total, p)
    return tidy(total, symmetric)


def _dim(i: Index) -> ex.Dim:
    return i.dim if isinstance(i, Idx) else 1


def recognise_term(t: Term, d: Index, c: Index) -> ex.Expr | None:
    """One term as a matrix-level expression at ``[d, c]``, or None."""
    mats = _placed_factors(t, d, c)
    if mats is None:
        return None
    sums = list(t.sums)
    while _merge_elementwise(mats) or _contract_one(mats, sums):
        pass
    if sums:
        return None
    scalars = [m[0] for m in mats if m[1] == 0 and m[2] == 0]
    mats = _outer_product([m for m in mats if not (m[1] == 0 and m[2] == 0)])
    if len(mats) > 1:
        return None
    result: ex.Expr | None = None
    if mats:
        result = _at_entry(mats[0], d, c)
        if result is None:
            return None
    for sc in scalars:
        result = sc if result is None else ex.Mul(sc, result)
    return _scaled(result, t.coeff, (_dim(d), _dim(c)), broadcast=not mats)


def _placed_factors(t: Term, d: Index, c: Index) -> list[Placed] | None:
    mats: list[Placed] = []
    for f in t.factors:
        if isinstance(f, Ent):
            mats.append((f.expr, f.row, f.col))
        elif isinstance(f, Delta) and {f.a, f.b} == {d, c} and isinstance(d, Idx):
            mats.append((ex.ConstMatrix("eye", d.dim, d.dim), d, c))
        else:
            return None
    return mats


def _merge_elementwise(mats: list[Placed]) -> bool:
    """Entries at the same pair of indices: an elementwise product (one merge; whether one was made)."""
    for x, y in itertools.combinations(range(len(mats)), 2):
        (ea, ra, ca), (eb, rb, cb) = mats[x], mats[y]
        if (ra, ca) == (rb, cb) or ((ra, ca) == (cb, rb) and ra != ca):
            other = eb if (ra, ca) == (rb, cb) else ex.Transpose(eb)
            mats[x] = (ex.Mul(ea, other), ra, ca)
            del mats[y]
            return True
    return False


def _contract_one(mats: list[Placed], sums: list[Idx]) -> bool:
    """Sum out one summed index: a product, a trace or a row/column sum (whether one was)."""
    for k in list(sums):
        where = [(n, pos) for n, m in enumerate(mats) for pos in (1, 2) if m[pos] == k]
        if _contract_at(mats, where):
            sums.remove(k)
            return True
    return False


def _contract_at(mats: list[Placed], where: list[tuple[int, int]]) -> bool:
    if len(where) == 2 and where[0][0] != where[1][0]:
        (n1, p1), (n2, p2) = where
        e1, r1, c1 = mats[n1]
        e2, r2, c2 = mats[n2]
        if p1 == 1:  # k is the row of the first: transpose it so k is its column
            e1, r1, c1 = ex.Transpose(e1), c1, r1
        if p2 == 2:
            e2, r2, c2 = ex.Transpose(e2), c2, r2
        mats[n1] = (ex.MatMul(e1, e2), r1, c2)
        del mats[n2]
    elif len(where) == 2:  # Σ_k A_kk
        n1 = where[0][0]
        mats[n1] = (ex.Trace(mats[n1][0]), 0, 0)
    elif len(where) == 1:
        n1, p1 = where[0]
        e1, r1, c1 = mats[n1]
        mats[n1] = (ex.Sum(e1, axis=1), r1, 0) if p1 == 2 else (ex.Sum(e1, axis=0), 0, c1)
    else:
        return False
    return True


def _outer_product(mats: list[Placed]) -> list[Placed]:
    """Two vectors at the entry's two indices: an outer product ``u vᵀ``."""
    if len(mats) != 2:
        return mats
    (ea, ra, ca), (eb, rb, cb) = mats
    if ca == 0 and rb == 0:
        return [(ex.MatMul(ea, eb), ra, cb)]
    if ra == 0 and cb == 0:
        return [(ex.MatMul(eb, ea), rb, ca)]
    if ra == 0 and rb == 0:
        return [(ex.MatMul(ex.Transpose(ea), eb), ca, cb)]
    if ca == 0 and cb == 0:
        return [(ex.MatMul(ea, ex.Transpose(eb)), ra, rb)]
    return mats


def _at_entry(placed: Placed, d: Index, c: Index) -> ex.Expr | None:
    """The matrix whose ``[d, c]`` entry is the placed expression (transposed or broadcast), or None."""
    e, r, cc = placed
    if (r, cc) == (c, d) and (r, cc) != (d, c):
        e, r, cc = ex.Transpose(e), cc, r
    elif r == c and cc == 0 and c != 0:
        e, r, cc = ex.Transpose(e), 0, c
    elif r == 0 and cc == d and d != 0:
        e, r, cc = ex.Transpose(e), d, 0
    if (r, cc) == (d, c):
        return e
    if (r, cc) == (d, 0):
        return ex.MatMul(e, ex.ConstMatrix("ones", 1, _dim(c)))
    if (r, cc) == (0, c):
        return ex.MatMul(ex.ConstMatrix("ones", _dim(d), 1), e)
    return None


def _scaled(result: ex.Expr | None, coeff: Fraction, shape: ex.Shape, broadcast: bool) -> ex.Expr:
    """``coeff · result``, a scalar broadcast to ``shape`` when no matrix stands at the entry."""
    if result is None:
        result = ex.Number(abs(coeff))
        coeff = Fraction(1) if coeff > 0 else Fraction(-1)
    if shape != (1, 1) and broadcast:
        result = ex.Mul(result, ex.ConstMatrix("ones", *shape))
    if abs(coeff) != 1:
        result = ex.Mul(ex.Number(abs(coeff)), result)
    return ex.Neg(result) if coeff < 0 else result


def _transposed(n: ex.Expr, sym: frozenset[str]) -> ex.Expr:
    """``nᵀ`` with the transpose pushed down products and sums (a symmetric matrix is its own transpose)."""
    if isinstance(n, ex.Transpose):
        return n.operand
    if isinstance(n, ex.MatMul):
        return ex.MatMul(_transposed(n.right, sym), _transposed(n.left, sym))
    if isinstance(n, (ex.Add, ex.Sub, ex.Mul)):
        return type(n)(_transposed(n.left, sym), _transposed(n.right, sym))
    if isinstance(n, ex.Neg):
        return ex.Neg(_transposed(n.operand, sym))
    if isinstance(n, ex.Number) or (isinstance(n, ex.Symbol) and n.name in sym):
        return n
    if isinstance(n, ex.ConstMatrix):
        return ex.ConstMatrix(n.kind, n.cols, n.rows)
    return ex.Transpose(n)


def tidy(node: ex.Expr, symmetric: Iterable[str] = ()) -> ex.Expr:
    """Push transposes down products and cancel double transposes: ``(A Bᵀ)ᵀ → B Aᵀ``.

    >>> from symderiv.syntax.printing import to_text
    >>> from symderiv.syntax.language import parse
    >>> to_text(tidy(parse("(X.T @ G.T).T", allow_upstream=True)))
    'G @ X'
    """
    sym = frozenset(symmetric)

    def walk(n: ex.Expr) -> ex.Expr:
        if isinstance(n, ex.Transpose):
            inner = walk(n.operand)
            return _transposed(inner, sym) if not isinstance(inner, (ex.Inv, ex.Apply, ex.Sum)) else ex.Transpose(inner)
        if isinstance(n, ex.Mul) and isinstance(n.left, ex.Number) and n.left.value == 1:
            return walk(n.right)
        if isinstance(n, ex.Binary):
            return type(n)(walk(n.left), walk(n.right))
        if isinstance(n, ex.Neg):
            return ex.Neg(walk(n.operand))
        return n

    return walk(node)


__all__ = ["recognise", "recognise_term", "tidy"]
