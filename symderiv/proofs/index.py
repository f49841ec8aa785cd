"""Index notation with symbolic dimensions: entries, the chain rule, Kronecker deltas, contractions.

An entry of an expression is written as a sum of :class:`Term` s, each a
coefficient, a tuple of summed indices and a product of factors: :class:`Ent`
(the entry of a matrix-level expression at two indices) and :class:`Delta`
(Kronecker's δ). Index ranges are dimension names (``H``, ``m``) or numbers, so
everything here holds for all sizes at once: no loop ever runs over a range.
A dimension of size 1 has the single index ``0``, written as the int ``0``.

The engine is our own small representation rather than SymPy's
``Indexed``/``Sum``/``KroneckerDelta``: collapsing δ-sums and recognising
contractions is a few dictionary operations here, while SymPy's ``Sum`` does
not collapse δ over symbolic bounds without ``piecewise`` conditions; the whole
proof of a docs example takes milliseconds (see ``tests/test_index.py``).

Non-polynomial nodes (elementwise functions, ``1/B``, ``inv``, ``det``,
``logdet``) stay opaque entries; their derivatives are the textbook lemmas
(``f'`` entrywise; ``∂A⁻¹ = -A⁻¹ ∂A A⁻¹``; Jacobi's formula for ``det``). An
identity proved here is therefore proved for all shapes *given* those lemmas.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction

from symderiv.core import expr as ex
from symderiv.core.errors import ShapeError, SymderivError, UnsupportedError
from symderiv.syntax.constants import constant_value
from symderiv.syntax.shapes import Typing

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
    """Rename the index ``old`` to ``new`` in every factor (``old`` leaves the summed indices)."""
    return Term(t.coeff, tuple(i for i in t.sums if i != old),
                tuple(_substitute_index(f, old, new) for f in t.factors))


# ---------------------------------------------------------------------------
# Elementwise derivatives (the SPEC's table), as matrix-level expressions


def _n(value: int | Fraction) -> ex.Number:
    return ex.Number(Fraction(value))


def elementwise_derivative(fn: str, arg: ex.Expr) -> ex.Expr:
    """``f'(arg)`` as an expression, so that ``∂f(Z)_ab = f'(Z)_ab ∂Z_ab``.

    >>> from symderiv.syntax.printing import to_text
    >>> to_text(elementwise_derivative("tanh", ex.Symbol("Z")))
    '1 - tanh(Z) ** 2'
    >>> to_text(elementwise_derivative("relu", ex.Symbol("Z")))
    'step(Z)'
    """
    def f(name: str) -> ex.Expr:
        return ex.Apply(arg, fn=name)

    if fn == "exp":
        return f("exp")
    if fn == "log":
        return ex.Div(_n(1), arg)
    if fn == "sqrt":
        return ex.Div(_n(1), ex.Mul(_n(2), f("sqrt")))
    if fn == "abs":
        return f("sign")
    if fn == "sin":
        return f("cos")
    if fn == "cos":
        return ex.Neg(f("sin"))
    if fn == "tan":
        return ex.Add(_n(1), ex.Power(f("tan"), exponent=2))
    if fn == "tanh":
        return ex.Sub(_n(1), ex.Power(f("tanh"), exponent=2))
    if fn == "sigmoid":
        return ex.Mul(f("sigmoid"), ex.Sub(_n(1), f("sigmoid")))
    if fn == "relu":
        return f("step")
    if fn in ("step", "sign") or fn.endswith("_prime"):
        raise UnsupportedError(f"cannot differentiate through `{fn}`: its derivative is not a function of the "
                               "language (a Dirac delta, or a second derivative)")
    return f(ex.prime_name(fn))


# ---------------------------------------------------------------------------
# The engine

_POOL = ("k", "l", "p", "q", "r", "s", "t", "u", "v", "a", "e", "g", "h", "o", "w", "y", "z")

_OPAQUE = (ex.Symbol, ex.Apply, ex.Inv, ex.Det, ex.LogDet)


def is_opaque(node: ex.Expr) -> bool:
    """Whether an entry of ``node`` stays one factor (it is not a polynomial of other entries)."""
    return isinstance(node, _OPAQUE) or (isinstance(node, ex.Div) and node.left == _n(1))


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
        nxt = None if depth is None else depth - 1
        if depth != 0 and not isinstance(node, (ex.Symbol, ex.ConstMatrix)):
            value = constant_value(node)  # 1/2, 2 ** -1, relu(-2): exact coefficients, not opaque entries
            if value is not None:
                return IndexSum.of(coeff=value) if value else ZERO_SUM
        if depth == 0 or is_opaque(node):
            return IndexSum.of(Ent(node, row, col))
        if isinstance(node, ex.ConstMatrix):
            if node.kind == "ones":
                return ONE_SUM
            if node.kind == "zeros":
                return ZERO_SUM
            return ONE_SUM if row == col else IndexSum.of(Delta(row, col))
        if isinstance(node, ex.MatMul):
            k = self.fresh(self.shape(node.left)[1])
            body = self.entry(node.left, row, k, depth=nxt) * self.entry(node.right, k, col, depth=nxt)
            return _bind(body, k)
        if isinstance(node, (ex.Add, ex.Sub)):
            left = self.entry(node.left, *self._at(node.left, row, col), depth=nxt)
            right = self.entry(node.right, *self._at(node.right, row, col), depth=nxt)
            return left + (right if isinstance(node, ex.Add) else right.scale(-1))
        if isinstance(node, ex.Mul):
            return (self.entry(node.left, *self._at(node.left, row, col), depth=nxt)
                    * self.entry(node.right, *self._at(node.right, row, col), depth=nxt))
        if isinstance(node, ex.Div):
            recip = ex.Div(_n(1), node.right)
            divisor = constant_value(node.right)
            return (self.entry(node.left, *self._at(node.left, row, col), depth=nxt)
                    * (IndexSum.of(coeff=1 / divisor) if divisor else IndexSum.of(Ent(recip, *self._at(node.right, row, col)))))
        if isinstance(node, ex.Neg):
            return self.entry(node.operand, row, col, depth=nxt).scale(-1)
        if isinstance(node, ex.Transpose):
            return self.entry(node.operand, col, row, depth=nxt)
        if isinstance(node, ex.Power):
            if node.exponent < 0:
                return IndexSum.of(Ent(ex.Div(_n(1), ex.Power(node.operand, exponent=-node.exponent)), row, col))
            out = ONE_SUM
            for _ in range(node.exponent):
                out = out * self.entry(node.operand, row, col, depth=nxt)
            return out
        if isinstance(node, ex.Trace):
            k = self.fresh(self.shape(node.operand)[0])
            return _bind(self.entry(node.operand, k, k, depth=nxt), k)
        if isinstance(node, ex.Sum):
            rows, cols = self.shape(node.operand)
            r = self.fresh(rows) if node.axis in (None, 0) else row
            c = self.fresh(cols) if node.axis in (None, 1) else col
            body = self.entry(node.operand, r, c, depth=nxt)
            for i in (r, c):
                if isinstance(i, Idx) and i not in (row, col):
                    body = _bind(body, i)
            return body
        if isinstance(node, ex.MatPow):
            n = self.shape(node.operand)[0]
            if node.k == 0:
                return self.entry(ex.ConstMatrix("eye", n, n), row, col)
            chain = [row] + [self.fresh(n) for _ in range(node.k - 1)] + [col]
            out = ONE_SUM
            for a, b in zip(chain, chain[1:], strict=False):
                out = out * self.entry(node.operand, a, b, depth=nxt)
            for k in chain[1:-1]:
                if isinstance(k, Idx):
                    out = _bind(out, k)
            return out
        raise UnsupportedError(f"no index form for {type(node).__name__}")  # pragma: no cover

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
        node, a, b = f.expr, f.row, f.col
        if not contains(node, wrt):
            return ZERO_SUM
        if isinstance(node, ex.Symbol):
            self._note("delta")
            deltas = tuple(x for x in (Delta(a, d), Delta(b, c)) if x.a != x.b)
            return IndexSum.of(*deltas)
        if isinstance(node, ex.Apply):
            self._note("elementwise:" + node.fn)
            outer = self.entry(elementwise_derivative(node.fn, node.operand), a, b)
            return outer * self.differentiate(self.entry(node.operand, a, b), wrt, d, c)
        if isinstance(node, ex.Div):  # 1 / M**k: its derivative is -k / M**(k+1) times ∂M
            self._note("reciprocal")
            base, k = ((node.right.operand, node.right.exponent) if isinstance(node.right, ex.Power)
                       else (node.right, 1))
            outer = Ent(ex.Div(_n(1), ex.Power(base, exponent=k + 1)), a, b)
            return IndexSum.of(outer, coeff=-k) * self.differentiate(self.entry(base, a, b), wrt, d, c)
        if isinstance(node, (ex.Inv, ex.Det, ex.LogDet)):
            m = node.operand
            n = self.shape(m)[0]
            p, q = self.fresh(n), self.fresh(n)
            dm = self.differentiate(self.entry(m, p, q), wrt, d, c)
            inv = ex.Inv(m)
            if isinstance(node, ex.Inv):
                self._note("inverse")
                body = IndexSum.of(Ent(inv, a, p)) * dm * IndexSum.of(Ent(inv, q, b))
                return _bind(_bind(body.scale(-1), p), q)
            self._note("jacobi")
            body = IndexSum.of(Ent(inv, q, p)) * dm
            if isinstance(node, ex.Det):
                body = IndexSum.of(Ent(node, 0, 0)) * body
            return _bind(_bind(body, p), q)
        # a polynomial node kept as one entry (depth-limited forms): open it one level
        return self.differentiate(self.entry(node, a, b, depth=1), wrt, d, c)

    # -- collapse ---------------------------------------------------------------
    def collapse(self, s: IndexSum) -> IndexSum:
        """Sum out every δ that touches a summed index; drop δ_aa; merge equal terms."""
        out: list[Term] = []
        for t in s.terms:
            t = collapse_term(t)
            if t is not None:
                out.append(t)
        return merge_terms(out, self.symmetric)

    # -- recognition -------------------------------------------------------------
    def recognise(self, s: IndexSum, d: Index, c: Index, symmetric: Iterable[str] = ()) -> ex.Expr | None:
        """A matrix-level expression ``M`` with ``M[d, c]`` equal to ``s``, or None.

        Sums over an index shared by two entries become products (``Σ_j A_dj B_cj = (A Bᵀ)_dc``),
        entries at the same position elementwise products, a lone summed index a row or
        column sum, ``Σ_k A_kk`` a trace and ``δ_dc`` the identity.
        """
        parts: list[ex.Expr] = []
        for t in s.terms:
            m = self._recognise_term(t, d, c)
            if m is None:
                return None
            parts.append(m)
        if not parts:
            rows = d.dim if isinstance(d, Idx) else 1
            cols = c.dim if isinstance(c, Idx) else 1
            return ex.ConstMatrix("zeros", rows, cols)
        total = parts[0]
        for p in parts[1:]:
            if isinstance(p, ex.Neg):
                total = ex.Sub(total, p.operand)
            else:
                total = ex.Add(total, p)
        return tidy(total, set(symmetric) | self.symmetric)

    def _recognise_term(self, t: Term, d: Index, c: Index) -> ex.Expr | None:
        mats: list[tuple[ex.Expr, Index, Index]] = []
        for f in t.factors:
            if isinstance(f, Ent):
                mats.append((f.expr, f.row, f.col))
            elif isinstance(f, Delta) and {f.a, f.b} == {d, c} and isinstance(d, Idx):
                mats.append((ex.ConstMatrix("eye", d.dim, d.dim), d, c))
            else:
                return None
        sums = list(t.sums)
        changed = True
        while changed:
            changed = False
            # entries at the same pair of indices: an elementwise product
            for x, y in itertools.combinations(range(len(mats)), 2):
                (ea, ra, ca), (eb, rb, cb) = mats[x], mats[y]
                if (ra, ca) == (rb, cb) or ((ra, ca) == (cb, rb) and ra != ca):
                    other = eb if (ra, ca) == (rb, cb) else ex.Transpose(eb)
                    mats[x] = (ex.Mul(ea, other), ra, ca)
                    del mats[y]
                    changed = True
                    break
            if changed:
                continue
            for k in list(sums):
                where = [(n, pos) for n, m in enumerate(mats) for pos in (1, 2) if m[pos] == k]
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
                    continue
                sums.remove(k)
                changed = True
                break
        if sums:
            return None
        scalars = [m[0] for m in mats if m[1] == 0 and m[2] == 0]
        mats = [m for m in mats if not (m[1] == 0 and m[2] == 0)]
        if len(mats) == 2:  # an outer product u vᵀ
            (ea, ra, ca), (eb, rb, cb) = mats
            if ca == 0 and rb == 0:
                mats = [(ex.MatMul(ea, eb), ra, cb)]
            elif ra == 0 and cb == 0:
                mats = [(ex.MatMul(eb, ea), rb, ca)]
            elif ra == 0 and rb == 0:
                mats = [(ex.MatMul(ex.Transpose(ea), eb), ca, cb)]
            elif ca == 0 and cb == 0:
                mats = [(ex.MatMul(ea, ex.Transpose(eb)), ra, rb)]
        if len(mats) > 1:
            return None
        rows_dim = d.dim if isinstance(d, Idx) else 1
        cols_dim = c.dim if isinstance(c, Idx) else 1
        if mats:
            e, r, cc = mats[0]
            if (r, cc) == (c, d) and (r, cc) != (d, c):
                e, r, cc = ex.Transpose(e), cc, r
            elif r == c and cc == 0 and c != 0:
                e, r, cc = ex.Transpose(e), 0, c
            elif r == 0 and cc == d and d != 0:
                e, r, cc = ex.Transpose(e), d, 0
            if (r, cc) == (d, c):
                result = e
            elif (r, cc) == (d, 0):
                result = ex.MatMul(e, ex.ConstMatrix("ones", 1, cols_dim))
            elif (r, cc) == (0, c):
                result = ex.MatMul(ex.ConstMatrix("ones", rows_dim, 1), e)
            else:
                return None
        else:
            result = None
        for sc in scalars:
            result = sc if result is None else ex.Mul(sc, result)
        coeff = t.coeff
        if result is None:
            result = ex.Number(abs(coeff))
            coeff = Fraction(1) if coeff > 0 else Fraction(-1)
        if (rows_dim, cols_dim) != (1, 1) and not mats:
            result = ex.Mul(result, ex.ConstMatrix("ones", rows_dim, cols_dim))
        if abs(coeff) != 1:
            result = ex.Mul(ex.Number(abs(coeff)), result)
        return ex.Neg(result) if coeff < 0 else result


def _bind(s: IndexSum, k: Index) -> IndexSum:
    """Sum each term over ``k`` (nothing to do for the constant index 0)."""
    if not isinstance(k, Idx):
        return s
    return IndexSum(tuple(Term(t.coeff, t.sums + (k,), t.factors) for t in s.terms))


def collapse_term(t: Term) -> Term | None:
    """Collapse the δ of one term; None when a δ between two different constants makes it 0."""
    changed = True
    while changed:
        changed = False
        for pos, f in enumerate(t.factors):
            if not isinstance(f, Delta):
                continue
            a, b = f.a, f.b
            rest = Term(t.coeff, t.sums, t.factors[:pos] + t.factors[pos + 1:])
            if a == b:
                t = rest
            elif isinstance(a, Idx) and a in t.sums:
                t = substitute(rest, a, b)
            elif isinstance(b, Idx) and b in t.sums:
                t = substitute(rest, b, a)
            elif not isinstance(a, Idx) and not isinstance(b, Idx):
                return None
            else:
                continue
            changed = True
            break
    # A Σ_k over an index no factor uses multiplies by the range; it stays (recognition refuses it).
    return t if t.coeff else None


def _index_key(i: Index, names: Mapping[Idx, str]) -> str:
    if isinstance(i, Idx):
        return names.get(i, i.name)
    return str(i)


def _factor_key(f: Factor, names: Mapping[Idx, str], symmetric: frozenset[str]) -> tuple:
    if isinstance(f, Ent):
        idx = [_index_key(f.row, names), _index_key(f.col, names)]
        if isinstance(f.expr, ex.Symbol) and f.expr.name in symmetric:
            idx.sort()
        return ("E", repr(f.expr), tuple(idx))
    if isinstance(f, Delta):
        return ("D", tuple(sorted((_index_key(f.a, names), _index_key(f.b, names)))))
    return ("P", repr(f))


def canonical_term(t: Term, symmetric: frozenset[str] = frozenset()) -> tuple:
    """A key equal for terms that differ only in the names of summed indices and the order of factors."""
    bound = list(dict.fromkeys(t.sums))
    best: tuple | None = None
    perms: Iterable[tuple[Idx, ...]]
    if len(bound) <= 6:
        perms = itertools.permutations(bound)
    else:  # too many to try all: a fixed order (may miss equalities, never invents them)
        perms = [tuple(bound)]
    for perm in perms:
        names = {idx: f"#{n}" for n, idx in enumerate(perm)}
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


# ---------------------------------------------------------------------------
# Matrix-level tidying


def tidy(node: ex.Expr, symmetric: Iterable[str] = ()) -> ex.Expr:
    """Push transposes down products and cancel double transposes: ``(A Bᵀ)ᵀ → B Aᵀ``.

    >>> from symderiv.syntax.printing import to_text
    >>> from symderiv.syntax.language import parse
    >>> to_text(tidy(parse("(X.T @ G.T).T", allow_upstream=True)))
    'G @ X'
    """
    sym = frozenset(symmetric)

    def t(n: ex.Expr) -> ex.Expr:
        if isinstance(n, ex.Transpose):
            return n.operand
        if isinstance(n, ex.MatMul):
            return ex.MatMul(t(n.right), t(n.left))
        if isinstance(n, (ex.Add, ex.Sub, ex.Mul)):
            return type(n)(t(n.left), t(n.right))
        if isinstance(n, ex.Neg):
            return ex.Neg(t(n.operand))
        if isinstance(n, ex.Number) or (isinstance(n, ex.Symbol) and n.name in sym):
            return n
        if isinstance(n, ex.ConstMatrix):
            return ex.ConstMatrix(n.kind, n.cols, n.rows)
        return ex.Transpose(n)

    def walk(n: ex.Expr) -> ex.Expr:
        if isinstance(n, ex.Transpose):
            inner = walk(n.operand)
            return t(inner) if not isinstance(inner, (ex.Inv, ex.Apply, ex.Sum)) else ex.Transpose(inner)
        if isinstance(n, ex.Mul) and isinstance(n.left, ex.Number) and n.left.value == 1:
            return walk(n.right)
        if isinstance(n, ex.Binary):
            return type(n)(walk(n.left), walk(n.right))
        if isinstance(n, ex.Neg):
            return ex.Neg(walk(n.operand))
        return n

    return walk(node)


# ---------------------------------------------------------------------------
# Proof for all shapes


@dataclass
class AllShapesProof:
    """The two sides of ``∂L/∂V[d,c] = claim[d,c]`` in collapsed index form, and the verdict."""

    gradient: IndexSum
    claim: IndexSum
    equal: bool


def gradient_entry(engine: IndexEngine, expression: ex.Expr, wrt: str, upstream: str, d: Index, c: Index,
                   scalar: bool) -> IndexSum:
    """``∂L/∂wrt[d,c]`` in collapsed index form, with ``L = Σ_ij G_ij E_ij`` (or ``L = E`` when scalar)."""
    if scalar:
        loss = engine.entry(expression, 0, 0)
    else:
        rows, cols = engine.shape(expression)
        i, j = engine.fresh(rows, "i"), engine.fresh(cols, "j")
        loss = IndexSum.of(Ent(ex.Symbol(upstream), i, j)) * engine.entry(expression, i, j)
        loss = _bind(_bind(loss, i), j)
    return engine.collapse(engine.differentiate(loss, wrt, d, c))


def entry_indices(engine: IndexEngine, shape: ex.Shape) -> tuple[Index, Index]:
    """The indices ``d, c`` of the chosen entry of a matrix of this shape (the source's names)."""
    return engine.fresh(shape[0], "d"), engine.fresh(shape[1], "c")


def prove_index(problem, wrt: str, claim_node: ex.Expr) -> AllShapesProof:
    """Both sides in index notation over symbolic dimensions (no concrete sizes)."""
    typing = problem.typing
    extra = {} if problem.scalar else {problem.upstream: problem.result_shape}
    engine = IndexEngine(typing, extra)
    d, c = entry_indices(engine, typing.symbols[wrt])
    grad = gradient_entry(engine, problem.expression, wrt, problem.upstream, d, c, problem.scalar)
    at = (c, d) if problem.layout == "numerator" else (d, c)
    claim = engine.collapse(engine.entry(claim_node, *at))
    sym = frozenset(typing.symmetric)
    return AllShapesProof(grad, claim, canonical(grad, sym) == canonical(claim, sym))


def prove_all_shapes(problem, wrt: str, claim_node: ex.Expr, *, refute: bool = True) -> bool | None:
    """True: ``∂L/∂wrt = claim`` proved for all shapes in index notation; False: refuted; None: undecided.

    Equal canonical index forms prove the identity for every size of every
    dimension. Different forms are not yet a refutation (two spellings of one
    function differ in form), so then the claim is checked on one small concrete
    shape: a failing entry there refutes it for all shapes; otherwise None.
    ``refute=False`` skips that check (for callers that run it themselves).

    >>> from symderiv.proofs.verification import prepare, parse_claim
    >>> p = prepare("W @ X", ["W"], None)
    >>> prove_all_shapes(p, "W", parse_claim(p, "G @ X.T")), prove_all_shapes(p, "W", parse_claim(p, "2 * G @ X.T"))
    (True, False)
    """
    try:
        want = problem.typing.symbols[wrt]
        want = (want[1], want[0]) if problem.layout == "numerator" else want
        extra = {} if problem.scalar else {problem.upstream: problem.result_shape}
        if problem.typing.shape_of(claim_node, extra) != want:
            return False  # a claim of the wrong shape does not hold (SPEC section 1)
        proof = prove_index(problem, wrt, claim_node)
    except ShapeError:
        return False  # a claim of the wrong shape does not hold (SPEC section 1)
    except (UnsupportedError, RecursionError):
        return None
    if proof.equal:
        return True
    if not refute:
        return None
    from symderiv.proofs.verification import prove_concrete

    typing = problem.typing.substitute(problem.typing.assignments(1)[0])
    try:
        outcome = prove_concrete(problem, wrt, claim_node, typing)
    except SymderivError:
        return None
    return False if outcome.status in ("refuted", "shape") else None


__all__ = ["Idx", "Ent", "Delta", "Partial", "Term", "IndexSum", "IndexEngine", "prove_all_shapes",
           "elementwise_derivative", "canonical", "tidy", "gradient_entry", "entry_indices", "contains"]
