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
from fractions import Fraction

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
    contains,
    factor_indices,
    merge_terms,
)
from symderiv.proofs.index import substitute as substitute_index
from symderiv.syntax.derivatives import derivative_of
from symderiv.syntax.shapes import Typing

from . import prose as say
from . import shortened
from .steps import Draft, Equation, Grad, Matrix, Prose, Side, StepKind

#: Names for summed indices, in order of first appearance, as one would write them by hand.
_READABLE = ("k", "l", "p", "q", "r", "s", "t", "u", "v")
#: The default index names: the entry ``V_dc`` we differentiate by, the entry ``D_ij`` of a block, then summed ones.
INDICES = ("d", "c", "i", "j", *_READABLE)
#: More letters, for when a range has taken a letter above in another block (one letter, one range).
_MORE = ("e", "f", "g", "h", "a", "b", "m", "o", "w", "x", "y", "z")


def mentioned(item: object) -> list[Idx]:
    """Every index a side or a piece of prose mentions (a partial's summed ones too)."""
    if isinstance(item, Idx):
        return [item]
    if isinstance(item, Equation):
        return [i for side in item.sides for i in mentioned(side)]
    if isinstance(item, Ent):
        return [i for i in (item.row, item.col) if isinstance(i, Idx)]
    if not isinstance(item, IndexSum):
        return []
    out: list[Idx] = []
    for t in item.terms:
        out += [i for i in t.sums if isinstance(i, Idx)]
        for f in t.factors:
            out += [i for i in factor_indices(f) if isinstance(i, Idx)]
            if isinstance(f, Partial) and isinstance(f.num, IndexSum):
                out += mentioned(f.num)
    return out


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


def _routine(form: IndexSum, wrt: str) -> bool:
    """Whether ``wrt`` enters the entry ``form`` entry by entry and without a sum: an elementwise function, a
    bias, a scaling (not a product such as ``W X``, whose sum is the heart of the derivation, nor ``inv``)."""
    with_wrt = [t for t in form.terms if any(contains(_factor_expr(f), wrt) for f in t.factors)]
    return bool(with_wrt) and all(not t.sums and all(_entrywise(_factor_expr(f), wrt) for f in t.factors)
                                  for t in with_wrt)


def _entrywise(node: ex.Expr, wrt: str) -> bool:
    """``V``, ``Vᵀ``, ``f(V)`` or anything without ``V``: one entry of it involves one entry of ``V``."""
    if not contains(node, wrt) or node == ex.Symbol(wrt):
        return True
    return isinstance(node, (ex.Transpose, ex.Apply)) and _entrywise(node.operand, wrt)


def _factor_expr(f: Factor) -> ex.Expr:
    return f.expr if isinstance(f, Ent) else ex.Number(Fraction(0))


class BlockDeriver:
    """Derives one block: :meth:`run` gives its drafts and its matrix contribution to ``∂L/∂wrt``."""

    def __init__(self, engine: IndexEngine, symmetric: frozenset[str], text: str, spec: BlockSpec,
                 indices: Sequence[str] = INDICES, ranges: dict[str, ex.Dim] | None = None,
                 detail: str = "compact", shown: set[str] | None = None) -> None:
        self.names = tuple(indices) + tuple(n for n in INDICES[4:] if n not in indices) if len(indices) >= 4 \
            else INDICES
        self.eng = engine
        self.sym = symmetric
        self.text = text
        self.spec = spec
        self.drafts: list[Draft] = []
        #: Each index letter's range in the whole document (shared by its blocks): one letter, one range.
        self.ranges: dict[str, ex.Dim] = {} if ranges is None else ranges
        self.detail = detail
        self.local: set[str] = set()  # the letters picked in this block
        #: The scalar losses whose index form an earlier block wrote out (compact: not repeated).
        self.shown: set[str] = set() if shown is None else shown

    def step(self, kind: StepKind, sides: Iterable[Side], prose: Prose, indices: Iterable[Index] = ()) -> None:
        clean: list[Side] = []
        for s in sides:
            if not clean or clean[-1] != s:
                clean.append(s)
        names = tuple(dict.fromkeys(str(i) for i in indices if isinstance(i, Idx)))
        self.drafts.append(Draft(kind, Equation(tuple(clean)), prose, names, self.spec.number))
        for item in (*prose, *clean):
            for i in mentioned(item):
                self.ranges.setdefault(i.name, i.dim)

    def pick(self, position: int, dim: ex.Dim) -> Index:
        """The index for a role (0: ``d``, 1: ``c``, 2: ``i``, 3: ``j``) over ``dim``: the preferred letter unless
        the document already uses it over another range, then the next free letter (0 for a dimension of 1)."""
        if dim == 1:
            return 0
        for name in (self.names[position], *self.names[4:], *_MORE):
            if name in self.eng.reserved or name in self.local or self.ranges.get(name, dim) != dim:
                continue
            if name in self.eng.used and name not in self.ranges:  # the engine's own name in this block
                continue
            self.local.add(name)
            self.eng.used.add(name)
            self.ranges[name] = dim
            return Idx(name, dim)
        return self.eng.fresh(dim)  # pragma: no cover - two dozen letters taken

    def run(self) -> tuple[list[Draft], ex.Expr]:
        eng, P = self.eng, self.spec.wrt
        eng.reset_names(self._elsewhere())
        eng.rules = []
        pshape = eng.shape(ex.Symbol(P))
        d, c = self.pick(0, pshape[0]), self.pick(1, pshape[1])
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

    def _elsewhere(self) -> set[str]:
        """The letters other blocks of the document use: the index engine's own fresh names avoid them."""
        return set(self.ranges)

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
        start = len(self.drafts)
        rows, cols = eng.shape(E)
        i, j = self.pick(2, rows), self.pick(3, cols)
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
        eng.reset_names(self._elsewhere() | {x.name for x in (d, c, i, j) if isinstance(x, Idx)})
        form = self._readable(eng.entry(E, at_i, at_j), {d, c, at_i, at_j})
        raw = eng.differentiate(form, P, d, c)
        log: list[Index] = []
        col = self._collapse(raw, log)
        sides = [IndexSum.of(Partial(Ent(name, at_i, at_j), ve)), IndexSum.of(Partial(form, ve)), raw, col]
        if isinstance(E, ex.Apply) and E.operand == ex.Symbol(P) and {at_i, at_j} <= {d, c}:
            # f'(Z) at one entry as the registry writes it, with the block's name: A ⊙ (1 − A), not σ(Z) − σ(Z)·σ(Z)
            col = IndexSum.of(Ent(derivative_of(E.fn, E.operand, name), at_i, at_j))
            sides[2:] = [col]  # f' at the entry, not the engine's expansion σ(Z) − σ(Z)·σ(Z)
        self.step(StepKind.DIFFERENTIATE, sides,
                  self._differentiate_prose(name, at_i, at_j, form, ve, log),
                  [d, c, at_i, at_j, *form.terms[0].sums] if form.terms else [d, c])
        together = IndexSum.of(Ent(up, at_i, at_j), sums=left) * col
        killed: list[Index] = []
        total = self._collapse(together, killed)
        gone = list(dict.fromkeys(k for k in killed if isinstance(k, Idx)))
        self.step(StepKind.SUBSTITUTE, [lhs, together, total], say.substitute(bool(pins), gone), [d, c, *left])
        if self.detail == "compact" and _routine(form, P):
            # a routine block (an elementwise function, a bias, a scaling): the four moves as one step
            del self.drafts[start:]
            self.step(StepKind.ENTRYWISE, [lhs, together, total],
                      shortened.entrywise(name, form, at_i, at_j, ve, pins, eng.shape(ex.Symbol(P)), eng.rules, left),
                      [d, c, *left])
        return total

    def _scalar_loss(self, ve: Ent, lhs: IndexSum) -> IndexSum:
        """Index form and differentiate: the loss written out entry by entry, then differentiated."""
        eng, d, c = self.eng, ve.row, ve.col
        name = ex.Symbol(self.spec.name)
        form = self._readable(eng.entry(self.spec.definition, 0, 0), {d, c})
        if self.detail != "compact" or self.spec.name not in self.shown:
            self.step(StepKind.INDEX_FORM, [IndexSum.of(Ent(name, 0, 0)), form], say.index_form(name),
                      [i for t in form.terms for i in t.sums])
            self.shown.add(self.spec.name)
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
        return say.differentiate(name, a, b, form, ve, self.eng.shape(ve.expr), self.eng.rules, killed, taken,
                                 self.ranges)

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
                pick = next((n for n in (*self.names[4:], *_MORE) if n not in taken and n not in self.eng.reserved
                             and n not in fresh and ranges.get(n, self.ranges.get(n, i.dim)) == i.dim
                             and self.ranges.get(n, i.dim) == i.dim), None)
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
