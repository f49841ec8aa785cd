"""Index forms: entries, Kronecker deltas, terms and sums, and their canonical keys.

An entry of an expression is written as a sum of :class:`Term` s, each a coefficient, a tuple of
summed indices and a product of factors: :class:`Ent` (the entry of a matrix-level expression at two
indices) and :class:`Delta` (Kronecker's δ). Index ranges are dimension names (``H``, ``m``) or
numbers; a dimension of size 1 has the single index ``0``, written as the int ``0``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import lru_cache

from symderiv.core import expr as ex
from symderiv.proofs.index.orient import self_transposed

# ---------------------------------------------------------------------------
# Data


@dataclass(frozen=True, order=True)
class Idx:
    """A named index running over the dimension ``dim`` (a name such as ``"m"`` or a size)."""

    name: str
    dim: ex.Dim = field(compare=False)

    def __str__(self) -> str:
        return self.name


Index = Idx | int


@dataclass(frozen=True)
class Ent:
    """The entry ``expr[row, col]`` of a matrix-level expression."""

    expr: ex.Expr
    row: Index
    col: Index

    def indices(self) -> tuple[Index, Index]:
        return (self.row, self.col)


@dataclass(frozen=True)
class Delta:
    """Kronecker's δ: 1 when the two indices are equal, else 0."""

    a: Index
    b: Index


@dataclass(frozen=True)
class Partial:
    """An unevaluated derivative ``∂num/∂den``; ``num`` None means the loss ``L``."""

    num: Ent | IndexSum | None
    den: Ent


Factor = Ent | Delta | Partial


@dataclass(frozen=True)
class Term:
    """``coeff · Σ_{sums} Π factors``."""

    coeff: Fraction
    sums: tuple[Idx, ...]
    factors: tuple[Factor, ...]


@dataclass(frozen=True)
class IndexSum:
    """A sum of terms: one entry of a matrix, in index notation."""

    terms: tuple[Term, ...]

    @staticmethod
    def of(*factors: Factor, coeff: Fraction | int = 1, sums: Iterable[Idx] = ()) -> IndexSum:
        """A single term.

        >>> IndexSum.of(Delta(0, 0)).terms[0].coeff
        Fraction(1, 1)
        """
        return IndexSum((Term(Fraction(coeff), tuple(sums), tuple(factors)),))

    def __add__(self, other: IndexSum) -> IndexSum:
        return IndexSum(self.terms + other.terms)

    def scale(self, c: Fraction | int) -> IndexSum:
        return IndexSum(tuple(replace(t, coeff=t.coeff * c) for t in self.terms if t.coeff * c))

    def __mul__(self, other: IndexSum) -> IndexSum:
        return IndexSum(tuple(Term(a.coeff * b.coeff, a.sums + b.sums, a.factors + b.factors)
                              for a in self.terms for b in other.terms if a.coeff * b.coeff))

    def free_indices(self) -> list[Idx]:
        seen: dict[Idx, None] = {}
        for t in self.terms:
            bound = set(t.sums)
            for i in term_indices(t):
                if isinstance(i, Idx) and i not in bound:
                    seen.setdefault(i, None)
        return list(seen)


ZERO_SUM = IndexSum(())
ONE_SUM = IndexSum((Term(Fraction(1), (), ()),))


def factor_indices(f: Factor) -> list[Index]:
    """The indices a factor mentions (a partial derivative's summed ones left out).

    >>> factor_indices(Delta(Idx("a", "n"), 0))
    [Idx(name='a', dim='n'), 0]
    """
    if isinstance(f, Ent):
        return [f.row, f.col]
    if isinstance(f, Delta):
        return [f.a, f.b]
    out = [] if f.num is None else (f.num.indices() if isinstance(f.num, Ent) else
                                    [i for t in f.num.terms for i in term_indices(t) if i not in t.sums])
    return list(out) + [f.den.row, f.den.col]


def term_indices(t: Term) -> list[Index]:
    return [i for f in t.factors for i in factor_indices(f)]


def contains(node: ex.Expr, name: str) -> bool:
    """Whether the matrix ``name`` occurs in ``node``.

    >>> from symderiv.syntax.language import parse
    >>> contains(parse("W @ X"), "X"), contains(parse("W @ X"), "b")
    (True, False)
    """
    return any(isinstance(n, ex.Symbol) and n.name == name for n in node.walk())


def _substitute_index(f: Factor, old: Idx, new: Index) -> Factor:
    def s(i: Index) -> Index:
        return new if i == old else i

    if isinstance(f, Ent):
        return Ent(f.expr, s(f.row), s(f.col))
    if isinstance(f, Delta):
        return Delta(s(f.a), s(f.b))
    num = f.num
    if isinstance(num, Ent):
        num = Ent(num.expr, s(num.row), s(num.col))
    elif isinstance(num, IndexSum):
        num = IndexSum(tuple(Term(t.coeff, t.sums, tuple(_substitute_index(g, old, new) for g in t.factors))
                             for t in num.terms))
    return Partial(num, Ent(f.den.expr, s(f.den.row), s(f.den.col)))


def substitute(t: Term, old: Idx, new: Index) -> Term:
    """Rename the index ``old`` to ``new`` in every factor (``old`` leaves the summed indices).

    >>> k = Idx("k", "m")
    >>> substitute(Term(Fraction(1), (k,), (Delta(k, 0),)), k, 0).factors
    (Delta(a=0, b=0),)
    """
    return Term(t.coeff, tuple(i for i in t.sums if i != old),
                tuple(_substitute_index(f, old, new) for f in t.factors))


def bind(s: IndexSum, k: Index) -> IndexSum:
    """Sum each term over ``k`` (nothing to do for the constant index 0).

    >>> bind(ONE_SUM, Idx("k", "m")).terms[0].sums
    (Idx(name='k', dim='m'),)
    """
    if not isinstance(k, Idx):
        return s
    return IndexSum(tuple(Term(t.coeff, t.sums + (k,), t.factors) for t in s.terms))


# ---------------------------------------------------------------------------
# δ-collapse and canonical keys


def _collapse_delta(t: Term, pos: int, f: Delta) -> Term | None:
    """The term with the δ at ``pos`` summed out; ``t`` itself when it cannot be (two free indices)."""
    a, b = f.a, f.b
    rest = Term(t.coeff, t.sums, t.factors[:pos] + t.factors[pos + 1:])
    if a == b:
        return rest
    if isinstance(a, Idx) and a in t.sums:
        return substitute(rest, a, b)
    if isinstance(b, Idx) and b in t.sums:
        return substitute(rest, b, a)
    if not isinstance(a, Idx) and not isinstance(b, Idx):
        return None
    return t


def collapse_term(t: Term) -> Term | None:
    """Collapse the δ of one term; None when a δ between two different constants makes it 0.

    >>> k = Idx("k", "m")
    >>> collapse_term(Term(Fraction(1), (k,), (Delta(k, Idx("c", "m")),))).factors
    ()
    """
    changed = True
    while changed:
        changed = False
        for pos, f in enumerate(t.factors):
            if not isinstance(f, Delta):
                continue
            collapsed = _collapse_delta(t, pos, f)
            if collapsed is None:
                return None
            if collapsed is not t:
                t, changed = collapsed, True
                break
    # A Σ_k over an index no factor uses multiplies by the range; it stays (recognition refuses it).
    return _cancel_reciprocals(t) if t.coeff else None


def _cancel_reciprocals(t: Term) -> Term:
    """``E[r,c] · (1/E)[r,c]`` is 1 wherever the term is defined: both factors go (rational cancellation)."""
    factors = list(t.factors)
    for f in factors:
        if isinstance(f, Ent) and isinstance(f.expr, ex.Div) and f.expr.left == ex.Number(Fraction(1)):
            partner = Ent(f.expr.right, f.row, f.col)
            if partner in factors:
                factors.remove(partner)
                factors.remove(f)
                return _cancel_reciprocals(Term(t.coeff, t.sums, tuple(factors)))
    return t


def _index_key(i: Index, names: Mapping[Idx, str]) -> str:
    if isinstance(i, Idx):
        return names.get(i, i.name)
    return str(i)


@lru_cache(maxsize=8192)
def _expr_key(node: ex.Expr) -> str:
    return repr(node)


def _factor_key(f: Factor, names: Mapping[Idx, str], symmetric: frozenset[str]) -> tuple:
    if isinstance(f, Ent):
        idx = [_index_key(f.row, names), _index_key(f.col, names)]
        if self_transposed(f.expr, symmetric):
            idx.sort()
        return ("E", _expr_key(f.expr), tuple(idx))
    if isinstance(f, Delta):
        return ("D", tuple(sorted((_index_key(f.a, names), _index_key(f.b, names)))))
    return ("P", repr(f))


def _namings(bound: list[Idx]) -> Iterable[dict[Idx, str]]:
    """Every renaming of the summed indices to ``#dim:n`` that keeps each index's range (at most 720 of them; past
    that, one fixed order: it may miss equalities, never invents them)."""
    groups: dict[str, list[Idx]] = {}
    for i in bound:
        groups.setdefault(str(i.dim), []).append(i)
    keys = sorted(groups)
    count = 1
    for k in keys:
        count *= math.factorial(len(groups[k]))
    options = [list(itertools.permutations(groups[k])) if count <= 720 else [tuple(groups[k])] for k in keys]
    for choice in itertools.product(*options):
        yield {idx: f"#{k}:{n}" for k, perm in zip(keys, choice, strict=True) for n, idx in enumerate(perm)}


def canonical_term(t: Term, symmetric: frozenset[str] = frozenset()) -> tuple:
    """A key equal for terms that differ only in the names of summed indices and the order of factors."""
    bound = list(dict.fromkeys(t.sums))
    best: tuple | None = None
    for names in _namings(bound):
        key = tuple(sorted(_factor_key(f, names, symmetric) for f in t.factors))
        if best is None or key < best:
            best = key
    dims = tuple(sorted(str(i.dim) for i in bound))
    return (dims, best)


def merge_terms(terms: Iterable[Term], symmetric: frozenset[str] = frozenset()) -> IndexSum:
    """Add up terms with equal canonical keys; drop zeros; keep the first spelling of each."""
    order: dict[tuple, Term] = {}
    coeff: dict[tuple, Fraction] = {}
    for t in terms:
        key = canonical_term(t, symmetric)
        if key in order:
            coeff[key] += t.coeff
        else:
            order[key] = t
            coeff[key] = t.coeff
    return IndexSum(tuple(replace(order[k], coeff=coeff[k]) for k in order if coeff[k]))


def canonical(s: IndexSum, symmetric: frozenset[str] = frozenset()) -> frozenset:
    """A key of the whole sum: equal keys mean the same entry for all shapes.

    >>> W = ex.Symbol("W")
    >>> a = IndexSum.of(Ent(W, Idx("d", "H"), Idx("k", "m")), sums=[Idx("k", "m")])
    >>> b = IndexSum.of(Ent(W, Idx("d", "H"), Idx("q", "m")), sums=[Idx("q", "m")])
    >>> canonical(a) == canonical(b)
    True
    """
    merged = merge_terms([t for t in (collapse_term(t) for t in s.terms) if t is not None], symmetric)
    return frozenset((canonical_term(t, symmetric), t.coeff) for t in merged.terms)


__all__ = ["ONE_SUM", "ZERO_SUM", "Delta", "Ent", "Factor", "Idx", "Index", "IndexSum", "Partial", "Term", "bind",
           "canonical", "canonical_term", "collapse_term", "contains", "factor_indices", "merge_terms", "substitute",
           "term_indices"]
