"""The index engine: an expression's entry in index notation, its derivative, δ-collapse and recognition.

Non-polynomial nodes (elementwise functions, ``1/B``, ``inv``, ``det``, and the registry's scalar
operations whose ``index`` is ``"lemma"``) stay opaque entries; their derivatives are the textbook
lemmas (``f'`` entrywise, read from the function's registry row; ``∂A⁻¹ = -A⁻¹ ∂A A⁻¹``; Jacobi's
formula for ``det``; an operation's own backward rule). Other registry operations are written out
through their expansion over the primitives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from fractions import Fraction

from symderiv.core import expr as ex
from symderiv.core.errors import SymderivError, UnsupportedError
from symderiv.ops import matrix_op
from symderiv.proofs.index.forms import (
    ONE_SUM,
    ZERO_SUM,
    Delta,
    Ent,
    Factor,
    Idx,
    Index,
    IndexSum,
    Partial,
    Term,
    bind,
    collapse_term,
    contains,
    merge_terms,
)
from symderiv.proofs.index.recognise import recognise
from symderiv.syntax.constants import constant_value
from symderiv.syntax.derivatives import derivative_of, derivative_tree
from symderiv.syntax.shapes import Typing


def _n(value: int | Fraction) -> ex.Number:
    return ex.Number(Fraction(value))


def elementwise_derivative(fn: str, arg: ex.Expr) -> ex.Expr:
    """``f'(arg)`` as an expression, so that ``∂f(Z)_ab = f'(Z)_ab ∂Z_ab`` (from the function's registry row).

    >>> from symderiv.syntax.printing import to_text
    >>> to_text(elementwise_derivative("phi", ex.Symbol("Z")))
    'phi_prime(Z)'
    >>> elementwise_derivative("phi_prime", ex.Symbol("Z"))
    Traceback (most recent call last):
    symderiv.core.errors.UnsupportedError: cannot differentiate through `phi_prime`: its derivative is not a function of the language (a Dirac delta, or a second derivative)
    """
    if derivative_tree(fn) is None:
        raise UnsupportedError(f"cannot differentiate through `{fn}`: its derivative is not a function of the "
                               "language (a Dirac delta, or a second derivative)")
    return derivative_of(fn, arg)


_POOL = ("k", "l", "p", "q", "r", "s", "t", "u", "v", "a", "e", "g", "h", "o", "w", "y", "z")

_OPAQUE = (ex.Symbol, ex.Apply, ex.Inv, ex.Det)


def is_opaque(node: ex.Expr) -> bool:
    """Whether an entry of ``node`` stays one factor (it is not a polynomial of other entries)."""
    if isinstance(node, ex.Call):
        return matrix_op(node.op).index == "lemma"
    return isinstance(node, _OPAQUE) or (isinstance(node, ex.Div) and node.left == _n(1))


def _product_chain(node: ex.Expr, args: Sequence[ex.Expr]) -> list[ex.Expr]:
    """The factors of an expansion's own matrix products (an argument stays one factor)."""
    if isinstance(node, ex.MatMul) and node not in args:
        return _product_chain(node.left, args) + _product_chain(node.right, args)
    return [node]


class IndexEngine:
    """Index forms, derivatives, δ-collapse and recognition over one typing.

    ``extra`` gives the shapes of names that are not symbols of the typing
    (the upstream ``G``, intermediate names). ``reserved`` are letters never used
    for fresh indices (dimension names, the entry's ``d``/``c``, symbols).

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.shapes import infer_shapes
    >>> e = parse("W @ X")
    >>> eng = IndexEngine(infer_shapes(e, {"W": ("H", "m"), "X": ("m", "n")}))
    >>> d, c = Idx("d", "H"), Idx("c", "m")
    >>> entry = eng.entry(e, d, Idx("j", "n"))
    >>> print(eng.collapse(eng.differentiate(entry, "W", d, c)).terms[0].factors)
    (Ent(expr=Symbol(name='X'), row=Idx(name='c', dim='m'), col=Idx(name='j', dim='n')),)
    """

    def __init__(self, typing: Typing, extra: Mapping[str, ex.Shape] | None = None,
                 reserved: Iterable[str] = ()) -> None:
        self.typing = typing
        self.extra = dict(extra or {})
        self.reserved = set(reserved) | set(typing.dim_names) | set(typing.symbols) | set(self.extra)
        self.used: set[str] = set()
        self._shapes: dict[ex.Expr, ex.Shape] = {}
        self.symmetric = frozenset(typing.symmetric)
        self.rules: list[str] = []  # the lemmas used while differentiating, for the prose

    # -- names ----------------------------------------------------------------
    def reset_names(self, keep: Iterable[str] = ()) -> None:
        self.used = set(keep)

    def fresh(self, dim: ex.Dim, prefer: str | None = None) -> Index:
        """A new index over ``dim`` (the constant 0 for a dimension of size 1)."""
        if dim == 1:
            return 0
        for name in ([prefer] if prefer else []) + list(_POOL) + [f"k{n}" for n in range(1, 1000)]:
            if name and name not in self.used and name not in self.reserved:
                self.used.add(name)
                return Idx(name, dim)
        raise SymderivError("ran out of index names")  # pragma: no cover - a thousand names

    def shape(self, node: ex.Expr) -> ex.Shape:
        found = self._shapes.get(node)
        if found is None:
            found = self.typing.shape_of(node, self.extra)
            self._shapes[node] = found
        return found

    # -- index form -----------------------------------------------------------
    def _at(self, node: ex.Expr, row: Index, col: Index) -> tuple[Index, Index]:
        """The indices of an operand inside a broadcasting operation at (row, col)."""
        r, c = self.shape(node)
        return (0 if r == 1 else row, 0 if c == 1 else col)

    def entry(self, node: ex.Expr, row: Index, col: Index, *, depth: int | None = None) -> IndexSum:
        """``node[row, col]`` written out in index notation, down to opaque entries.

        ``depth=1`` expands only the top node (its operands stay entries).
        """
        if depth != 0 and not isinstance(node, (ex.Symbol, ex.ConstMatrix)):
            value = constant_value(node)  # 1/2, 2 ** -1, f(-2): exact coefficients, not opaque entries
            if value is not None:
                return IndexSum.of(coeff=value) if value else ZERO_SUM
        if depth == 0 or is_opaque(node):
            return IndexSum.of(Ent(node, row, col))
        rule = _ENTRY.get(type(node))
        if rule is None:
            raise UnsupportedError(f"no index form for {type(node).__name__}")  # pragma: no cover
        return rule(self, node, row, col, None if depth is None else depth - 1)

    def _broadcast(self, node: ex.Expr, row: Index, col: Index, depth: int | None) -> IndexSum:
        """An operand's entry inside a broadcasting operation at (row, col)."""
        return self.entry(node, *self._at(node, row, col), depth=depth)

    def _const(self, node: ex.ConstMatrix, row: Index, col: Index, depth: int | None) -> IndexSum:
        if node.kind == "ones":
            return ONE_SUM
        if node.kind == "zeros":
            return ZERO_SUM
        return ONE_SUM if row == col else IndexSum.of(Delta(row, col))

    def _matmul(self, node: ex.MatMul, row: Index, col: Index, depth: int | None) -> IndexSum:
        k = self.fresh(self.shape(node.left)[1])
        return bind(self.entry(node.left, row, k, depth=depth) * self.entry(node.right, k, col, depth=depth), k)

    def _add(self, node: ex.Add | ex.Sub, row: Index, col: Index, depth: int | None) -> IndexSum:
        left = self._broadcast(node.left, row, col, depth)
        right = self._broadcast(node.right, row, col, depth)
        return left + (right if isinstance(node, ex.Add) else right.scale(-1))

    def _mul(self, node: ex.Mul, row: Index, col: Index, depth: int | None) -> IndexSum:
        return self._broadcast(node.left, row, col, depth) * self._broadcast(node.right, row, col, depth)

    def _div(self, node: ex.Div, row: Index, col: Index, depth: int | None) -> IndexSum:
        divisor = constant_value(node.right)
        recip = (IndexSum.of(coeff=1 / divisor) if divisor
                 else IndexSum.of(Ent(ex.Div(_n(1), node.right), *self._at(node.right, row, col))))
        return self._broadcast(node.left, row, col, depth) * recip

    def _neg(self, node: ex.Neg, row: Index, col: Index, depth: int | None) -> IndexSum:
        return self.entry(node.operand, row, col, depth=depth).scale(-1)

    def _transpose(self, node: ex.Transpose, row: Index, col: Index, depth: int | None) -> IndexSum:
        return self.entry(node.operand, col, row, depth=depth)

    def _power(self, node: ex.Power, row: Index, col: Index, depth: int | None) -> IndexSum:
        if node.exponent < 0:
            return IndexSum.of(Ent(ex.Div(_n(1), ex.Power(node.operand, exponent=-node.exponent)), row, col))
        out = ONE_SUM
        for _ in range(node.exponent):
            out = out * self.entry(node.operand, row, col, depth=depth)
        return out

    def _trace(self, node: ex.Trace, row: Index, col: Index, depth: int | None) -> IndexSum:
        k = self.fresh(self.shape(node.operand)[0])
        return bind(self.entry(node.operand, k, k, depth=depth), k)

    def _sum(self, node: ex.Sum, row: Index, col: Index, depth: int | None) -> IndexSum:
        rows, cols = self.shape(node.operand)
        r = self.fresh(rows) if node.axis in (None, 0) else row
        c = self.fresh(cols) if node.axis in (None, 1) else col
        body = self.entry(node.operand, r, c, depth=depth)
        for i in (r, c):
            if isinstance(i, Idx) and i not in (row, col):
                body = bind(body, i)
        return body

    def _call(self, node: ex.Call, row: Index, col: Index, depth: int | None) -> IndexSum:
        """A registry operation written out through its expansion; the expansion's own products form one
        chain of indices (``A_{r k} A_{k l} A_{l c}``)."""
        expansion = matrix_op(node.op).expand(node.args, [self.shape(a) for a in node.args], dict(node.params))
        factors = _product_chain(expansion, node.args)
        chain = [row] + [self.fresh(self.shape(f)[1]) for f in factors[:-1]] + [col]
        out = ONE_SUM
        for f, a, b in zip(factors, chain, chain[1:], strict=False):
            out = out * self.entry(f, a, b, depth=depth)
        for k in chain[1:-1]:
            out = bind(out, k)
        return out

    # -- differentiation --------------------------------------------------------
    def differentiate(self, s: IndexSum, wrt: str, d: Index, c: Index) -> IndexSum:
        """``∂s/∂wrt[d, c]`` by the product rule; ``∂V_ab/∂V_dc = δ_ad δ_bc``."""
        out: list[Term] = []
        for t in s.terms:
            for pos, f in enumerate(t.factors):
                df = self._diff_factor(f, wrt, d, c)
                rest_before, rest_after = t.factors[:pos], t.factors[pos + 1:]
                for u in df.terms:
                    out.append(Term(t.coeff * u.coeff, t.sums + u.sums, rest_before + u.factors + rest_after))
        return IndexSum(tuple(out))

    def _note(self, rule: str) -> None:
        if rule not in self.rules:
            self.rules.append(rule)

    def _diff_factor(self, f: Factor, wrt: str, d: Index, c: Index) -> IndexSum:
        if not isinstance(f, Ent):
            if isinstance(f, Partial):
                raise UnsupportedError("cannot differentiate an unevaluated derivative")
            return ZERO_SUM
        if not contains(f.expr, wrt):
            return ZERO_SUM
        if isinstance(f.expr, ex.Symbol):
            self._note("delta")
            return IndexSum.of(*(x for x in (Delta(f.row, d), Delta(f.col, c)) if x.a != x.b))
        lemma = _LEMMAS.get(type(f.expr))
        if lemma is not None:
            return lemma(self, f.expr, f.row, f.col, (wrt, d, c))
        if isinstance(f.expr, ex.Call) and is_opaque(f.expr):
            return self._d_call(f.expr, (wrt, d, c))
        # a polynomial node kept as one entry (depth-limited forms): open it one level
        return self.differentiate(self.entry(f.expr, f.row, f.col, depth=1), wrt, d, c)

    def _d_entry(self, node: ex.Expr, a: Index, b: Index, by: tuple[str, Index, Index]) -> IndexSum:
        """``∂node[a, b]/∂wrt[d, c]``."""
        return self.differentiate(self.entry(node, a, b), *by)

    def _d_apply(self, node: ex.Apply, a: Index, b: Index, by: tuple[str, Index, Index]) -> IndexSum:
        self._note("elementwise:" + node.fn)
        outer = self.entry(elementwise_derivative(node.fn, node.operand), a, b)
        return outer * self._d_entry(node.operand, a, b, by)

    def _d_reciprocal(self, node: ex.Div, a: Index, b: Index, by: tuple[str, Index, Index]) -> IndexSum:
        """``1 / M**k``: its derivative is ``-k / M**(k+1)`` times ``∂M``."""
        self._note("reciprocal")
        base, k = ((node.right.operand, node.right.exponent) if isinstance(node.right, ex.Power)
                   else (node.right, 1))
        outer = Ent(ex.Div(_n(1), ex.Power(base, exponent=k + 1)), a, b)
        return IndexSum.of(outer, coeff=-k) * self._d_entry(base, a, b, by)

    def _d_inverse(self, node: ex.Inv, a: Index, b: Index, by: tuple[str, Index, Index]) -> IndexSum:
        """``∂A⁻¹_ab = -Σ_pq A⁻¹_ap ∂A_pq A⁻¹_qb``."""
        n = self.shape(node.operand)[0]
        p, q = self.fresh(n), self.fresh(n)
        dm = self._d_entry(node.operand, p, q, by)
        self._note("inverse")
        inv = ex.Inv(node.operand)
        body = IndexSum.of(Ent(inv, a, p)) * dm * IndexSum.of(Ent(inv, q, b))
        return bind(bind(body.scale(-1), p), q)

    def _d_det(self, node: ex.Det, a: Index, b: Index, by: tuple[str, Index, Index]) -> IndexSum:
        """Jacobi's formula: ``∂det A = det A Σ_pq A⁻¹_qp ∂A_pq``."""
        n = self.shape(node.operand)[0]
        p, q = self.fresh(n), self.fresh(n)
        dm = self._d_entry(node.operand, p, q, by)
        self._note("jacobi")
        body = IndexSum.of(Ent(node, 0, 0)) * IndexSum.of(Ent(ex.Inv(node.operand), q, p)) * dm
        return bind(bind(body, p), q)

    def _d_call(self, node: ex.Call, by: tuple[str, Index, Index]) -> IndexSum:
        """A scalar registry operation, differentiated by its backward rule as a lemma:
        ``∂op = Σ_pq V_pq ∂A_pq`` with ``V = vjp(op, 1)`` for each argument ``A``."""
        op = matrix_op(node.op)
        out = ZERO_SUM
        for arg, grad in zip(node.args, op.vjp(node, _n(1)), strict=True):
            if grad is None or not contains(arg, by[0]):
                continue
            rows, cols = self.shape(arg)
            p, q = self.fresh(rows), self.fresh(cols)
            darg = self._d_entry(arg, p, q, by)
            out = out + bind(bind(self.entry(grad, p, q) * darg, p), q)
        self._note(op.lemma or "lemma:" + op.name)
        return out

    # -- collapse ---------------------------------------------------------------
    def collapse(self, s: IndexSum) -> IndexSum:
        """Sum out every δ that touches a summed index; drop δ_aa; merge equal terms."""
        out: list[Term] = []
        for t in s.terms:
            collapsed = collapse_term(t)
            if collapsed is not None:
                out.append(collapsed)
        return merge_terms(out, self.symmetric)

    # -- recognition -------------------------------------------------------------
    def recognise(self, s: IndexSum, d: Index, c: Index, symmetric: Iterable[str] = ()) -> ex.Expr | None:
        """A matrix-level expression ``M`` with ``M[d, c]`` equal to ``s``, or None
        (:func:`symderiv.proofs.index.recognise.recognise`)."""
        return recognise(s, d, c, set(symmetric) | self.symmetric)


_ENTRY: dict[type[ex.Expr], Callable[..., IndexSum]] = {
    ex.ConstMatrix: IndexEngine._const, ex.MatMul: IndexEngine._matmul, ex.Add: IndexEngine._add,
    ex.Sub: IndexEngine._add, ex.Mul: IndexEngine._mul, ex.Div: IndexEngine._div, ex.Neg: IndexEngine._neg,
    ex.Transpose: IndexEngine._transpose, ex.Power: IndexEngine._power, ex.Trace: IndexEngine._trace,
    ex.Sum: IndexEngine._sum, ex.Call: IndexEngine._call,
}

_LEMMAS: dict[type[ex.Expr], Callable[..., IndexSum]] = {
    ex.Apply: IndexEngine._d_apply, ex.Div: IndexEngine._d_reciprocal, ex.Inv: IndexEngine._d_inverse,
    ex.Det: IndexEngine._d_det,
}


__all__ = ["IndexEngine", "elementwise_derivative", "is_opaque"]
