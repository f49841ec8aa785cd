"""Matrix-function lemmas and scalar intermediates: the normal form both sides of a proof are compared in.

After differentiation and δ-collapse, an entry may still spell one value in several ways:
``det(X)·(1/det(X))``, ``(1/(2·sqrt(s)))·2``, ``inv(A X B)`` beside ``inv(X)``, ``X_ik inv(X)_kj``.
:func:`normalise` rewrites every term by textbook lemmas, each valid wherever both sides are defined:

- ``det(A B) = det(A) det(B)`` and ``det(Aᵀ) = det(A)`` for square factors (``"det-product"``);
- ``(A B)⁻¹ = B⁻¹ A⁻¹`` and ``(Aᵀ)⁻¹ = (A⁻¹)ᵀ`` for square factors (``"inverse-product"``);
- ``Σ_k M_ik (M⁻¹)_kj = δ_ij`` (``"inverse-cancel"``, the identity ``M M⁻¹ = I``);
- broadcast quotients split by position, and ``Σ_k A_ik`` folded back into ``sum(A, axis=1)_i`` beside a quotient
  by it (``"quotient-split"``, ``"sum-fold"``: :mod:`~symderiv.proofs.index.folds`), so a softmax's rows sum to 1;
- scalar and elementwise powers: entries of one base at one position multiply by adding exponents
  (``s · s⁻¹ = 1``, ``sqrt(s)² = s`` for ``s > 0``, the domain of ``sqrt``).

Scalar-valued subexpressions (``det(M)``, ``sum(A)``, ``xᵀy`` kept as one entry) are atoms of these
monomials, so ``log ∘ det``, norms ``sqrt(sum(W * W))`` and quotients by sums follow the scalar chain rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

from symderiv.core import expr as ex
from symderiv.proofs.index.folds import fold_sums, free_deltas, split_quotients
from symderiv.proofs.index.forms import (
    Delta,
    Ent,
    Factor,
    Idx,
    Index,
    IndexSum,
    Term,
    collapse_term,
    factor_indices,
    merge_terms,
)
from symderiv.proofs.index.orient import chain, oriented, self_transposed

#: What the proof record and the verdict say each lemma is.
LEMMA_NAMES = {
    "jacobi": "Jacobi's formula",
    "inverse": "the derivative of the inverse",
    "det-product": "det(AB) = det(A) det(B)",
    "inverse-product": "(AB)⁻¹ = B⁻¹A⁻¹",
    "inverse-cancel": "M M⁻¹ = I",
    "quotient-split": "(A / s)ᵢⱼ = Aᵢⱼ / sᵢ for a broadcast column s",
    "sum-fold": "the definition of sum, Σₖ Aᵢₖ = sum(A, axis=1)ᵢ",
}

Monomial = tuple[Fraction, dict[ex.Expr, Fraction]]


class Normaliser:
    """Rewrites collapsed index sums by the lemmas above; ``used`` collects the names of those applied."""

    def __init__(self, shape: object, fresh: object, symmetric: Iterable[str] = ()) -> None:
        self.shape = shape  # node -> Shape
        self.fresh = fresh  # dim -> Index
        self.sym = frozenset(symmetric)
        self.used: list[str] = []

    def _note(self, name: str) -> None:
        if name not in self.used:
            self.used.append(name)

    def _squarechain(self, node: ex.Expr) -> list[ex.Expr] | None:
        factors = chain(node)
        if len(factors) < 2:
            return None
        n = self.shape(node)[0]  # type: ignore[operator]
        return factors if all(self.shape(f) == (n, n) for f in factors) else None  # type: ignore[operator]

    # -- inverses -----------------------------------------------------------------
    def _inverse(self, node: ex.Expr, a: Index, b: Index) -> list[tuple[list[Idx], list[Factor]]]:
        """The entry ``inv(node)[a, b]`` as summed indices and factors (square products split, transposes moved)."""
        if isinstance(node, ex.Inv):  # inv(inv(M)) = M
            return [([], [Ent(node.operand, a, b)])]
        e, flipped, _ = oriented(node, self.sym)
        if flipped:
            a, b = b, a
        factors = self._squarechain(e)
        if factors is None:
            return [([], [Ent(ex.Inv(e), a, b)])]
        self._note("inverse-product")
        n = self.shape(e)[0]  # type: ignore[operator]
        idx = [a] + [self.fresh(n) for _ in factors[:-1]] + [b]  # type: ignore[operator]
        sums: list[Idx] = [i for i in idx[1:-1] if isinstance(i, Idx)]
        out: list[Factor] = []
        for f, i, j in zip(reversed(factors), idx, idx[1:], strict=False):
            for inner_sums, inner in self._inverse(f, i, j):
                sums += inner_sums
                out += inner
        return [(sums, out)]

    def _inverses(self, t: Term) -> Term:
        sums, factors = list(t.sums), []
        for f in t.factors:
            if isinstance(f, Ent) and isinstance(f.expr, ex.Inv):
                for extra, fs in self._inverse(f.expr.operand, f.row, f.col):
                    sums += extra
                    factors += fs
            else:
                factors.append(f)
        return Term(t.coeff, tuple(sums), tuple(factors))

    # -- M M⁻¹ = I ------------------------------------------------------------------
    def _cancel(self, t: Term | None) -> Term | None:
        changed = True
        while changed and t is not None:
            changed = False
            for k in t.sums:
                where = [(n, f) for n, f in enumerate(t.factors) if k in factor_indices(f)]
                pair = _inverse_pair(where, k)
                if pair is None:
                    continue
                (n1, n2), delta = pair
                rest = tuple(f for n, f in enumerate(t.factors) if n not in (n1, n2)) + (delta,)
                t = collapse_term(Term(t.coeff, tuple(i for i in t.sums if i != k), rest))
                self._note("inverse-cancel")
                changed = True
                break
        return t

    # -- scalar and elementwise monomials -------------------------------------------
    def _monomial(self, e: ex.Expr) -> Monomial:
        """``e`` as ``coeff · Π base^exponent`` (entries at one position; an unsplittable ``e`` is its own base)."""
        if isinstance(e, ex.Number):
            return Fraction(e.value), {}
        if isinstance(e, ex.Neg):
            c, m = self._monomial(e.operand)
            return -c, m
        if isinstance(e, (ex.Mul, ex.Div)) and self._splittable(e):
            (c1, m1), (c2, m2) = self._monomial(e.left), self._monomial(e.right)
            if isinstance(e, ex.Div):
                if not c2:
                    return Fraction(1), {e: Fraction(1)}
                c2, m2 = 1 / c2, {k: -v for k, v in m2.items()}
            return c1 * c2, _add_powers(m1, m2)
        if isinstance(e, ex.Power):
            c, m = self._monomial(e.operand)
            if c or e.exponent > 0:
                return c ** e.exponent, {k: v * e.exponent for k, v in m.items()}
        if isinstance(e, ex.Apply) and e.fn == "sqrt":
            c, m = self._monomial(e.operand)
            if c == 1 and len(m) == 1 and all(not (v.denominator == 1 and v.numerator % 2 == 0) for v in m.values()):
                return Fraction(1), {k: v / 2 for k, v in m.items()}
        if isinstance(e, ex.Det):
            return Fraction(1), self._det(e.operand)
        return Fraction(1), {e: Fraction(1)}

    def _det(self, operand: ex.Expr) -> dict[ex.Expr, Fraction]:
        """``det(operand)`` as a product of determinants: ``det(AB) = det A det B``, ``det Aᵀ = det A``,
        ``det A⁻¹ = 1 / det A``."""
        if isinstance(operand, ex.Inv):
            self._note("det-product")
            return {k: -v for k, v in self._det(operand.operand).items()}
        e, _, _ = oriented(operand, self.sym)
        factors = self._squarechain(e)
        if factors is None:
            return {ex.Det(e): Fraction(1)}
        self._note("det-product")
        out: dict[ex.Expr, Fraction] = {}
        for f in factors:
            out = _add_powers(out, self._det(f))
        return out

    def _splittable(self, e: ex.Mul | ex.Div) -> bool:
        """Both operands stand at the entry's position: same shape, or one is a number."""
        if isinstance(e.left, ex.Number) or isinstance(e.right, ex.Number):
            return True
        return bool(self.shape(e.left) == self.shape(e.right))  # type: ignore[operator]

    def _powers(self, t: Term) -> Term | None:
        coeff = t.coeff
        groups: dict[tuple[Index, Index], dict[ex.Expr, Fraction]] = {}
        others: list[Factor] = []
        for f in t.factors:
            if not isinstance(f, Ent) or isinstance(f.expr, ex.Symbol):
                others.append(f)
                continue
            c, m = self._monomial(f.expr)
            coeff *= c
            key = (f.row, f.col)
            groups[key] = _add_powers(groups.get(key, {}), m)
        if not coeff:
            return None
        out = list(others)
        for (row, col), m in groups.items():
            out += [Ent(_power_expr(base, q), row, col) for base, q in sorted(m.items(), key=lambda x: repr(x[0])) if q]
        return Term(coeff, t.sums, tuple(out))

    # -- broadcast quotients and sums (symderiv.proofs.index.folds) -------------------
    def _split(self, t: Term) -> Term:
        t, used = split_quotients(t, self.shape)  # type: ignore[arg-type]
        if used:
            self._note("quotient-split")
        return t

    def _fold(self, t: Term) -> Term:
        t, used = fold_sums(t, self.shape)  # type: ignore[arg-type]
        if used:
            self._note("sum-fold")
        t, used = free_deltas(t)
        if used:
            self._note("delta-free")
        return t

    # -- the whole normal form -----------------------------------------------------
    def normalise(self, s: IndexSum) -> IndexSum:
        """Every term rewritten by the lemmas, δ collapsed, equal terms merged."""
        out: list[Term] = []
        for t in s.terms:
            t1 = self._cancel(collapse_term(self._inverses(self._split(t))))
            t2 = None if t1 is None else self._powers(self._fold(t1))
            if t2 is not None:
                out.append(t2)
        return merge_terms(out, self.sym)


def _inverse_pair(where: list[tuple[int, Factor]], k: Idx) -> tuple[tuple[int, int], Delta] | None:
    """``M_ik (M⁻¹)_kj`` or ``(M⁻¹)_ik M_kj`` over the summed ``k`` (and nothing else on ``k``): ``δ_ij``."""
    if len(where) != 2:
        return None
    (n1, f1), (n2, f2) = where
    if not (isinstance(f1, Ent) and isinstance(f2, Ent)):
        return None
    for (na, fa), (nb, fb) in (((n1, f1), (n2, f2)), ((n2, f2), (n1, f1))):
        if fa.col == k and fb.row == k and fa.row != k and fb.col != k and (
                ex.Inv(fa.expr) == fb.expr or ex.Inv(fb.expr) == fa.expr):
            return (na, nb), Delta(fa.row, fb.col)
    return None


def _add_powers(a: dict[ex.Expr, Fraction], b: dict[ex.Expr, Fraction]) -> dict[ex.Expr, Fraction]:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, Fraction(0)) + v
    return out


def _power_expr(base: ex.Expr, q: Fraction) -> ex.Expr:
    """``base ** q`` spelled with the language's nodes (``q`` a multiple of 1/2)."""
    if q.denominator != 1:
        base, q = ex.Apply(base, fn="sqrt"), q * 2
    k = int(q)
    body = base if abs(k) == 1 else ex.Power(base, exponent=abs(k))
    return body if k > 0 else ex.Div(ex.Number(Fraction(1)), body)


def describe_lemmas(rules: Iterable[str]) -> str:
    """The lemmas a proof rests on, in words ("" when none of the named ones was used).

    >>> describe_lemmas(["delta", "jacobi", "inverse"])
    "from Jacobi's formula and the derivative of the inverse"
    """
    names = [LEMMA_NAMES[r] for r in dict.fromkeys(rules) if r in LEMMA_NAMES]
    if not names:
        return ""
    return "from " + (names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1])


__all__ = ["LEMMA_NAMES", "Normaliser", "describe_lemmas", "oriented", "self_transposed"]
