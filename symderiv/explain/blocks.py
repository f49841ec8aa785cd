"""One block of a derivation, by the six moves of the source derivation, as unchecked steps (drafts).

For ``name = definition`` and one of its inputs ``V``: the chain rule over every entry of ``name``
(or, for the scalar loss, its index form), the sparsity of ``∂name_ij/∂V_dc``, the derivative of one
entry, the pieces put together, entries transposed so each summed index sits between neighbours, and
the matrix form. The index engine (:mod:`symderiv.proofs.index`) does the math; this module chooses
the steps and their sentences (:mod:`symderiv.explain.prose`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from symderiv.autodiff.backprop import differentiate
from symderiv.core import expr as ex
from symderiv.core.errors import SymderivError, UnsupportedError
from symderiv.proofs.index import (
    Delta,
    Ent,
    Factor,
    Idx,
    Index,
    IndexEngine,
    IndexSum,
    Partial,
    Term,
    collapse_term,
    factor_indices,
    merge_terms,
)
from symderiv.proofs.index import substitute as substitute_index
from symderiv.syntax.derivatives import derivative_of
from symderiv.syntax.shapes import Typing

from . import prose as say
from .steps import Draft, Equation, Grad, Matrix, Prose, Side, StepKind

#: Names for summed indices, in order of first appearance, as one would write them by hand.
_READABLE = ("k", "l", "p", "q", "r", "s", "t", "u", "v")
#: The default index names: the entry ``V_dc`` we differentiate by, the entry ``D_ij`` of a block, then summed ones.
INDICES = ("d", "c", "i", "j", *_READABLE)


@dataclass(frozen=True)
class BlockSpec:
    """Which block: ``name = definition`` differentiated with respect to ``wrt``; ``upstream`` stands for
    ``∂L/∂name`` (None for the scalar loss); ``partial``: ``wrt`` feeds other blocks too."""

    number: int
    name: str
    definition: ex.Expr
    wrt: str
    upstream: str | None
    partial: bool


def _transposed(e: Ent, symmetric: frozenset[str]) -> Ent:
    """The same entry with its indices in the other order: ``X_cj = (Xᵀ)_jc``."""
    node = e.expr
    if isinstance(node, ex.Symbol) and node.name in symmetric:
        return Ent(node, e.col, e.row)
    inner = node.operand if isinstance(node, ex.Transpose) else ex.Transpose(node)
    return Ent(inner, e.col, e.row)


def _chain(t: Term, d: Index, c: Index, symmetric: frozenset[str],
           rewrites: list[tuple[Ent, Ent]]) -> tuple[list[Ent], list[Ent]]:
    """The entries of ``t`` that link ``d`` to ``c`` (transposed where needed), and the others."""
    rest = [f for f in t.factors if isinstance(f, Ent) and not (f.row == 0 and f.col == 0)]
    chain: list[Ent] = []
    cur: Index = d
    while isinstance(cur, Idx):
        pick = next((e for e in rest if e.row == cur), None)
        if pick is None:
            found = next((e for e in rest if e.col == cur), None)
            if found is None:
                break
            pick = _transposed(found, symmetric)
            rewrites.append((found, pick))
            rest = [x if x is not found else pick for x in rest]
        rest = [x for x in rest if x is not pick]
        chain.append(pick)
        if pick.col == c or pick.col not in t.sums:
            break
        cur = pick.col
    return chain, rest


def orient(s: IndexSum, d: Index, c: Index, symmetric: frozenset[str]) -> tuple[IndexSum, list[tuple[Ent, Ent]]]:
    """Order and transpose the entries of each term into a chain ``d → k → … → c``.

    Returns the new sum and the rewrites made (``X_cj`` → ``(Xᵀ)_jc``).

    >>> X, G = ex.Symbol("X"), ex.Symbol("G")
    >>> d, c, j = Idx("d", "H"), Idx("c", "m"), Idx("j", "n")
    >>> s, rewrites = orient(IndexSum.of(Ent(G, d, j), Ent(X, c, j), sums=[j]), d, c, frozenset())
    >>> s.terms[0].factors[1], len(rewrites)
    (Ent(expr=Transpose(operand=Symbol(name='X')), row=Idx(name='j', dim='n'), col=Idx(name='c', dim='m')), 1)
    """
    rewrites: list[tuple[Ent, Ent]] = []
    terms = []
    for t in s.terms:
        scalars: list[Factor] = [f for f in t.factors if isinstance(f, Ent) and f.row == 0 and f.col == 0]
        others: list[Factor] = [f for f in t.factors if not isinstance(f, Ent)]
        chain, rest = _chain(t, d, c, symmetric, rewrites)
        terms.append(Term(t.coeff, t.sums, tuple([*scalars, *chain, *rest, *others])))
    return IndexSum(tuple(terms)), rewrites


def _pins(s: IndexSum, outer: Sequence[Idx], targets: tuple[Index, Index]) -> dict[Idx, Index]:
    """The outer indices that a Kronecker delta pins to ``d`` or ``c`` in every term."""
    if not s.terms:
        return {}
    common: dict[Idx, Index] | None = None
    for t in s.terms:
        found: dict[Idx, Index] = {}
        for f in t.factors:
            if isinstance(f, Delta):
                for a, b in ((f.a, f.b), (f.b, f.a)):
                    if isinstance(a, Idx) and a in outer and b in targets:
                        found[a] = b
        common = found if common is None else {k: v for k, v in common.items() if found.get(k) == v}
    return common or {}


class BlockDeriver:
    """Derives one block: :meth:`run` gives its drafts and its matrix contribution to ``∂L/∂wrt``."""

    def __init__(self, engine: IndexEngine, symmetric: frozenset[str], text: str, spec: BlockSpec,
                 indices: Sequence[str] = INDICES) -> None:
        self.names = tuple(indices) + tuple(n for n in INDICES[4:] if n not in indices) if len(indices) >= 4 \
            else INDICES
        self.eng = engine
        self.sym = symmetric
        self.text = text
        self.spec = spec
        self.drafts: list[Draft] = []

    def step(self, kind: StepKind, sides: Iterable[Side], prose: Prose, indices: Iterable[Index] = ()) -> None:
        clean: list[Side] = []
        for s in sides:
            if not clean or clean[-1] != s:
                clean.append(s)
        names = tuple(dict.fromkeys(str(i) for i in indices if isinstance(i, Idx)))
        self.drafts.append(Draft(kind, Equation(tuple(clean)), prose, names, self.spec.number))

    def run(self) -> tuple[list[Draft], ex.Expr]:
        eng, P = self.eng, self.spec.wrt
        eng.reset_names()
        eng.rules = []
        pshape = eng.shape(ex.Symbol(P))
        d, c = eng.fresh(pshape[0], self.names[0]), eng.fresh(pshape[1], self.names[1])
        ve = Ent(ex.Symbol(P), d, c)
        lhs = IndexSum.of(Partial(None, ve))
        if self.spec.upstream is not None:
            total = self._through_upstream(ve, lhs, self.spec.upstream)
        else:
            total = self._scalar_loss(ve, lhs)
        oriented, rewrites = orient(total, d, c, self.sym)
        if oriented != total:
            self.step(StepKind.TRANSPOSE, [lhs, oriented], say.transpose(rewrites, oriented),
                      [d, c, *[k for t in oriented.terms for k in t.sums]])
        matrix = eng.recognise(oriented, d, c, self.sym)
        if matrix is None:
            # Not a pattern of products and sums: the node's backward rule (VJP) as a lemma, checked like every step.
            matrix = self._vjp()
            self.step(StepKind.MATRIX_FORM, [Grad(P), Matrix(matrix)],
                      say.vjp_lemma(ex.Symbol(self.spec.name), self.spec.definition, matrix, d, c), [d, c])
            return self.drafts, matrix
        self.step(StepKind.MATRIX_FORM, [Grad(P), Matrix(matrix)], say.matrix_form(matrix, d, c, eng.shape), [d, c])
        return self.drafts, matrix

    def _vjp(self) -> ex.Expr:
        """``∂L/∂wrt`` of this block by the backward rules of its nodes (symderiv's VJP sweep)."""
        typing = self.eng.typing
        shapes = {**typing.symbols, **self.eng.extra}
        names = set(self.spec.definition.symbols()) | ({self.spec.upstream} if self.spec.upstream else set())
        local = Typing({k: v for k, v in shapes.items() if k in names}, typing.symmetric, None, dict(typing.sizes),
                       dict(typing.aliases))
        try:
            (grad,) = differentiate(self.spec.definition, local, [self.spec.wrt], upstream=self.spec.upstream or "G")
        except SymderivError as err:  # pragma: no cover - gradient() refuses these too
            raise UnsupportedError(f"the entries of ∂L/∂{self.spec.wrt} in `{self.text}` have no matrix formula "
                                   f"that symderiv can write ({err.message})",
                                   hint="symderiv.gradient gives the formula without the steps") from None
        return grad.expr

    def _through_upstream(self, ve: Ent, lhs: IndexSum, upstream: str) -> IndexSum:
        """Chain rule, sparsity, differentiate, substitute: ``Σ_ij ∂L/∂D_ij ∂D_ij/∂V_dc`` collapsed."""
        eng, P, d, c = self.eng, self.spec.wrt, ve.row, ve.col
        E, name = self.spec.definition, ex.Symbol(self.spec.name)
        rows, cols = eng.shape(E)
        i, j = eng.fresh(rows, self.names[2]), eng.fresh(cols, self.names[3])
        outer = [x for x in (i, j) if isinstance(x, Idx)]
        up = ex.Symbol(upstream)
        chain = IndexSum.of(Ent(up, i, j), Partial(Ent(name, i, j), ve), sums=outer)
        self.step(StepKind.CHAIN_RULE, [lhs, chain], say.chain_rule(ve, name, i, j, outer), [d, c, *outer])
        # sparsity: which outer indices are pinned to d, c in every term of ∂D_ij/∂V_dc
        form_ij = eng.entry(E, i, j)
        pins = _pins(eng.collapse(eng.differentiate(form_ij, P, d, c)), outer, (d, c))
        at_i, at_j = pins.get(i, i) if isinstance(i, Idx) else i, pins.get(j, j) if isinstance(j, Idx) else j
        left = [x for x in outer if x not in pins]
        if pins:
            reduced = IndexSum.of(Ent(up, at_i, at_j), Partial(Ent(name, at_i, at_j), ve), sums=left)
            self.step(StepKind.SPARSITY, [lhs, reduced],
                      say.sparsity(name, form_ij, i, j, ve, pins, eng.shape(ex.Symbol(P))), [d, c, *outer])
        eng.reset_names({x.name for x in (d, c, i, j) if isinstance(x, Idx)})
        form = self._readable(eng.entry(E, at_i, at_j), {d, c, at_i, at_j})
        raw = eng.differentiate(form, P, d, c)
        log: list[Index] = []
        col = self._collapse(raw, log)
        sides = [IndexSum.of(Partial(Ent(name, at_i, at_j), ve)), IndexSum.of(Partial(form, ve)), raw, col]
        if isinstance(E, ex.Apply) and E.operand == ex.Symbol(P) and {at_i, at_j} <= {d, c}:
            # f'(Z) at one entry as the registry writes it, with the block's name: A ⊙ (1 − A), not σ(Z) − σ(Z)·σ(Z)
            col = IndexSum.of(Ent(derivative_of(E.fn, E.operand, name), at_i, at_j))
            sides.append(col)
        self.step(StepKind.DIFFERENTIATE, sides,
                  self._differentiate_prose(name, at_i, at_j, form, ve, log),
                  [d, c, at_i, at_j, *form.terms[0].sums] if form.terms else [d, c])
        together = IndexSum.of(Ent(up, at_i, at_j), sums=left) * col
        killed: list[Index] = []
        total = self._collapse(together, killed)
        gone = list(dict.fromkeys(k for k in killed if isinstance(k, Idx)))
        self.step(StepKind.SUBSTITUTE, [lhs, together, total], say.substitute(bool(pins), gone), [d, c, *left])
        return total

    def _scalar_loss(self, ve: Ent, lhs: IndexSum) -> IndexSum:
        """Index form and differentiate: the loss written out entry by entry, then differentiated."""
        eng, d, c = self.eng, ve.row, ve.col
        name = ex.Symbol(self.spec.name)
        form = self._readable(eng.entry(self.spec.definition, 0, 0), {d, c})
        self.step(StepKind.INDEX_FORM, [IndexSum.of(Ent(name, 0, 0)), form], say.index_form(name),
                  [i for t in form.terms for i in t.sums])
        raw = eng.differentiate(form, self.spec.wrt, d, c)
        log: list[Index] = []
        total = self._collapse(raw, log)
        self.step(StepKind.DIFFERENTIATE, [lhs, IndexSum.of(Partial(form, ve)), raw, total],
                  self._differentiate_prose(None, 0, 0, form, ve, log), [d, c])
        return total

    def _differentiate_prose(self, name: ex.Symbol | None, a: Index, b: Index, form: IndexSum, ve: Ent,
                             log: Sequence[Index]) -> Prose:
        killed = list(dict.fromkeys(k for k in log if isinstance(k, Idx)))
        taken = set(self.eng.reserved) | {x.name for x in (a, b) if isinstance(x, Idx)}
        return say.differentiate(name, a, b, form, ve, self.eng.shape(ve.expr), self.eng.rules, killed, taken)

    # -- helpers -----------------------------------------------------------------
    def _readable(self, s: IndexSum, keep: set[Index]) -> IndexSum:
        """Rename summed indices in order of first appearance (k, l, p, ...), as one would by hand."""
        taken = {x.name for x in keep if isinstance(x, Idx)}
        ranges: dict[str, ex.Dim] = {}  # a letter means one range in the whole sum
        out = []
        for t in s.terms:
            order = [i for i in dict.fromkeys(i for f in t.factors for i in factor_indices(f)) if i in t.sums]
            order += [i for i in t.sums if i not in order]
            fresh: list[str] = []
            for i in order:
                assert isinstance(i, Idx)
                pick = next((n for n in self.names[4:] if n not in taken and n not in self.eng.reserved
                             and n not in fresh and ranges.get(n, i.dim) == i.dim), None)
                if pick is None:
                    break
                fresh.append(pick)
            if len(fresh) < len(order):
                out.append(t)
                continue
            ranges.update((n, i.dim) for n, i in zip(fresh, order, strict=True) if isinstance(i, Idx))
            out.append(self._renamed(t, order, fresh))
            self.eng.used.update(fresh)
        return IndexSum(tuple(out))

    @staticmethod
    def _renamed(t: Term, order: Sequence[Index], fresh: Sequence[str]) -> Term:
        placeholders = [Idx(f"_{n}", i.dim) for n, i in enumerate(order) if isinstance(i, Idx)]
        temp = t
        for old, new in zip(order, placeholders, strict=True):
            assert isinstance(old, Idx)
            temp = substitute_index(temp, old, new)
        temp = Term(temp.coeff, tuple(placeholders), temp.factors)
        for ph, name in zip(placeholders, fresh, strict=False):  # fresh may be longer
            new = Idx(name, ph.dim)
            temp = substitute_index(temp, ph, new)
            temp = Term(temp.coeff, temp.sums + (new,), temp.factors)
        return temp

    def _collapse(self, s: IndexSum, log: list[Index]) -> IndexSum:
        out = []
        for t in s.terms:
            before = set(t.sums)
            t2 = collapse_term(t)
            if t2 is None:
                continue
            log.extend(k for k in t.sums if k in before and k not in t2.sums)  # in order: output is deterministic
            out.append(t2)
        return merge_terms(out, self.sym)


__all__ = ["INDICES", "BlockDeriver", "BlockSpec", "orient"]
