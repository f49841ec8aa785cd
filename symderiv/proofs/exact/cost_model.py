"""The cost model's walk: a model of one entry of every node's value (see :mod:`symderiv.proofs.exact.cost`).

For each node: the number of terms of an entry's numerator, their degree, how many
variables they can hold, the denominator factors it carries, and whether it is a
determinant (for cancellation); the walk adds up term operations and stored bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import comb, factorial

from symderiv.backends.walk import Interpreter
from symderiv.core import expr as ex
from symderiv.ops import Elementwise, matrix_op
from symderiv.syntax.shapes import Typing

#: Measured bytes per stored term (a dict slot, the monomial tuple, the coefficient) plus 8 per degree
#: (a slot of the tuple), and per matrix entry (its Ratio, its dict, and for a symbol's entry the
#: variable's name and registry slots).
BYTES_PER_TERM = 75
BYTES_PER_ENTRY = 420

_HUGE = 1e300


def cap(x: float) -> float:
    return x if x < _HUGE else _HUGE


def _monomials(variables: float, degree: int) -> float:
    """How many monomials of degree ≤ ``degree`` there are in ``variables`` variables (an upper bound)."""
    if degree <= 0:
        return 1.0
    v = int(min(max(variables, 1), 10**6))
    try:
        return float(comb(v + degree, degree))
    except OverflowError:  # pragma: no cover - astronomically many
        return _HUGE


@dataclass
class Entry:
    """The model of one entry of a node's value (all entries are taken alike)."""

    rows: int
    cols: int
    terms: float = 1.0  # terms of the numerator
    degree: int = 1  # degree of a numerator term
    variables: float = 1.0  # distinct variables an entry can hold
    factors: dict[str, tuple[float, int]] = field(default_factory=dict)  # denominator: tag -> (terms, degree)
    det_of: str | None = None  # the entry is the polynomial det(M) of this tag
    atom_refs: float = 0.0  # atom occurrences over the terms of one entry
    constant: bool = False

    @property
    def entries(self) -> int:
        return self.rows * self.cols

    def bounded(self) -> Entry:
        self.terms = cap(min(self.terms, _monomials(self.variables, self.degree)))
        return self


class Estimator(Interpreter[Entry]):
    """The cost backend: a model :class:`Entry` for every node, adding up work and bytes as it goes.

    Unlike other backends it does not memoise: each occurrence of a subexpression is costed, as the
    walk always did. A registered matrix operation is costed as its expansion over the primitives.

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.shapes import infer_shapes
    >>> e = parse("X @ X")
    >>> est = Estimator(infer_shapes(e, {"X": (3, 3)}), None)
    >>> entry = est.walk(e)
    >>> (entry.rows, entry.cols, entry.terms, entry.degree), est.work
    ((3, 3, 3.0, 2), 27.0)
    """

    def __init__(self, typing: Typing, extra: dict[str, tuple[int, int]] | None):
        super().__init__()
        #: Entries of the arguments of a matrix operation, while its expansion is costed.
        self.preset: dict[ex.Expr, Entry] = {}
        self.env = dict(typing.symbols)
        if extra:
            self.env.update(extra)
        self.typing = typing
        self.work = 0.0
        self.bytes = 0.0  # of the terms stored in values, over all nodes (an upper bound on what is live)
        self.entries = 0.0
        self.atoms: list[tuple[float, float, int, float]] = []  # (count, terms of arg, degree of arg, arg vars)
        self.total_vars = 0.0
        seen: set[str] = set()
        for node in (typing.symbols,):
            for name, (r, c) in node.items():
                if name not in seen:
                    seen.add(name)
                    self.total_vars += self.size(r) * self.size(c)
        self.total_vars += sum(self.size(r) * self.size(c) for name, (r, c) in (extra or {}).items())

    def size(self, d: ex.Dim) -> int:
        d = self.typing.resolve(d)
        return d if isinstance(d, int) else 3

    def store(self, terms: float, degree: int) -> None:
        self.bytes = cap(self.bytes + terms * (BYTES_PER_TERM + 8 * degree))

    def keep(self, e: Entry) -> Entry:
        e.bounded()
        self.store(e.entries * e.terms + sum(t for t, _ in e.factors.values()), e.degree)
        self.entries += e.entries
        return e

    # -- nodes ----------------------------------------------------------------
    def evaluate(self, node: ex.Expr) -> Entry:
        """The model of ``node``'s value; every occurrence of a subexpression is costed (no memo)."""
        if self.preset:  # inside a matrix operation's expansion (hashing a node costs: only then)
            found = self.preset.get(node)
            if found is not None:
                return found
        self.work = cap(self.work)
        return self.visit(node, [self.evaluate(c) for c in node.children()])

    walk = evaluate

    def call(self, node: ex.Call, args: list[Entry]) -> Entry:
        """A matrix operation: its expansion, with the arguments' models already made."""
        expansion = matrix_op(node.op).expand(node.args, [(a.rows, a.cols) for a in args], dict(node.params))
        saved = self.preset
        self.preset = {**saved, **dict(zip(node.args, args, strict=True))}
        try:
            return self.evaluate(expansion)
        finally:
            self.preset = saved

    def symbol(self, n: ex.Symbol) -> Entry:
        r, c = self.env[n.name]
        return Entry(self.size(r), self.size(c))  # its entries are counted in total_vars

    def number(self, n: ex.Number) -> Entry:
        return Entry(1, 1, degree=0, variables=0, constant=True)

    def constant(self, n: ex.ConstMatrix) -> Entry:
        r, c = self.size(n.rows), self.size(n.cols)
        self.work += r * c
        return self.keep(Entry(r, c, degree=0, variables=0, constant=True))

    def _product(self, a: Entry, b: Entry, rows: int, cols: int, inner: int) -> Entry:
        """Entries that are sums of ``inner`` products of an entry of ``a`` and one of ``b``."""
        ta, tb = a.terms, b.terms
        factors = dict(a.factors)
        for tag, (t, d) in b.factors.items():
            factors[tag] = (t, d) if tag not in factors else (t, d + factors[tag][1])
        # det(M) times something over det(M): the numerator cancels before the product.
        if a.det_of is not None and a.det_of in b.factors:
            ta, factors = 1.0, _drop(factors, a.det_of, b.factors[a.det_of][1])
        elif b.det_of is not None and b.det_of in a.factors:
            tb, factors = 1.0, _drop(factors, b.det_of, a.factors[b.det_of][1])
        ops = rows * cols * inner * ta * tb
        self.work += ops + (rows * cols * inner * ta * tb if factors else 0)  # sums of quotients re-add
        e = Entry(rows, cols, terms=inner * ta * tb, degree=a.degree + b.degree,
                  variables=min(inner * (a.variables + b.variables), self.total_vars), factors=factors,
                  atom_refs=inner * (a.atom_refs * tb + b.atom_refs * ta),
                  constant=a.constant and b.constant)
        return self.keep(e)

    def matmul(self, n: ex.MatMul, a: Entry, b: Entry) -> Entry:
        return self._product(a, b, a.rows, b.cols, a.cols)

    def _sum_of(self, a: Entry, b: Entry, rows: int, cols: int, count: float = 1.0) -> Entry:
        factors = dict(a.factors)
        for tag, (t, d) in b.factors.items():
            factors[tag] = (t, max(d, factors[tag][1])) if tag in factors else (t, d)
        terms = a.terms + b.terms
        if b.terms and a.terms and a.factors != b.factors:
            # Over a common denominator: each numerator times the factor powers it lacks.
            terms = a.terms * _missing(a.factors, factors) + b.terms * _missing(b.factors, factors)
        self.work += rows * cols * terms * count
        return Entry(rows, cols, terms=terms, degree=max(a.degree, b.degree),
                     variables=min(a.variables + b.variables, self.total_vars), factors=factors,
                     atom_refs=a.atom_refs + b.atom_refs, constant=a.constant and b.constant)

    def add(self, n: ex.Add | ex.Sub, a: Entry, b: Entry) -> Entry:
        return self.keep(self._sum_of(a, b, max(a.rows, b.rows), max(a.cols, b.cols)))

    sub = add  # type: ignore[assignment]

    def mul(self, n: ex.Mul, a: Entry, b: Entry) -> Entry:
        return self._product(a, b, max(a.rows, b.rows), max(a.cols, b.cols), 1)

    def div(self, n: ex.Div, a: Entry, b: Entry) -> Entry:
        r, c = max(a.rows, b.rows), max(a.cols, b.cols)
        if b.constant:
            self.work += r * c * a.terms
            return self.keep(Entry(r, c, a.terms, a.degree, a.variables, dict(a.factors), None, a.atom_refs))
        tag = f"div{len(self.atoms)}:{id(n)}"
        recip = Entry(b.rows, b.cols, terms=1.0, degree=0, variables=0,
                      factors={tag: (b.terms, b.degree), **b.factors})
        self.work += b.entries * b.terms * 2
        return self._product(a, recip, r, c, 1)

    def neg(self, n: ex.Neg, e: Entry) -> Entry:
        self.work += e.entries * e.terms
        return self.keep(_copy(e))

    def transpose(self, n: ex.Transpose, a: Entry) -> Entry:
        e = _copy(a)
        e.rows, e.cols = e.cols, e.rows
        return e

    def power(self, n: ex.Power, e: Entry) -> Entry:
        k = abs(n.exponent)
        terms = cap(min(float(comb(int(min(e.terms, 10**6)) + k - 1, k)) if k else 1.0,
                         _monomials(e.variables, e.degree * k)))
        self.work += e.entries * terms * max(1, k.bit_length()) * 2
        out = Entry(e.rows, e.cols, terms, e.degree * k, e.variables, {}, None, e.atom_refs * k, e.constant)
        if n.exponent < 0 and not e.constant:
            out = Entry(e.rows, e.cols, 1.0, 0, 0, {f"pow{id(n)}": (terms, e.degree * k)})
        return self.keep(out)

    def apply(self, n: ex.Apply, row: Elementwise, e: Entry) -> Entry:
        self.work += e.entries * (e.terms + sum(t for t, _ in e.factors.values()))  # the atom's key
        if e.constant:
            return self.keep(Entry(e.rows, e.cols, degree=0, variables=0, constant=True))
        self.atoms.append((e.entries, e.terms, e.degree, e.variables))
        self.store(e.entries * e.terms, e.degree)  # the atom keeps its argument, and its key a copy of it
        return self.keep(Entry(e.rows, e.cols, atom_refs=1.0))

    def trace(self, n: ex.Trace, e: Entry) -> Entry:
        return self.keep(self._sum_of(_scaled(e, min(e.rows, e.cols)), Entry(1, 1, 0, 0, 0), 1, 1))

    def sum(self, n: ex.Sum, e: Entry) -> Entry:
        if n.axis is None:
            return self.keep(self._sum_of(_scaled(e, e.entries), Entry(1, 1, 0, 0, 0), 1, 1))
        if n.axis == 0:
            return self.keep(self._sum_of(_scaled(e, e.rows), Entry(1, 1, 0, 0, 0), 1, e.cols))
        return self.keep(self._sum_of(_scaled(e, e.cols), Entry(1, 1, 0, 0, 0), e.rows, 1))

    # -- determinants -------------------------------------------------------
    def minor_terms(self, n: ex.Expr, e: Entry, k: int) -> float:
        """Terms of the determinant of a k×k submatrix of ``n`` (Cauchy–Binet through products)."""
        if k == 0:
            return 1.0
        bound = cap(factorial(min(k, 170)) * e.terms ** k)
        if isinstance(n, ex.Symbol):
            bound = float(factorial(min(k, 170)))
        elif isinstance(n, (ex.Transpose, ex.Neg)):
            bound = min(bound, self.minor_terms(n.operand, e, k))
        elif isinstance(n, ex.MatMul) and not e.factors:
            left, right = self.shape_entry(n.left), self.shape_entry(n.right)
            if left is not None and right is not None:
                inner = left.cols
                cb = comb(inner, k) * self.minor_terms(n.left, left, k) * self.minor_terms(n.right, right, k)
                bound = min(bound, max(1.0, cap(cb)))
        return min(bound, _monomials(self.total_vars, e.degree * k))

    def shape_entry(self, n: ex.Expr) -> Entry | None:
        """A side-effect-free model of a sub-node (for Cauchy–Binet), or None."""
        sub = Estimator(self.typing, None)
        sub.env, sub.total_vars = self.env, self.total_vars
        try:
            return sub.walk(n)
        except (KeyError, AttributeError):  # pragma: no cover - defensive
            return None

    def laplace(self, n: ex.Expr, e: Entry, r: int) -> float:
        """Work of a memoised Laplace expansion of an r×r matrix: C(r,k) minors of size k, each k products."""
        work = 0.0
        for k in range(1, r + 1):
            minors = comb(r, k) * self.minor_terms(n, e, k - 1)
            work = cap(work + minors * k * e.terms * 2)
            self.store(minors, e.degree * k)  # the memo keeps every minor
        return work

    def det(self, n: ex.Det, e: Entry) -> Entry:
        r = e.rows
        self.work += self.laplace(n.operand, e, r)
        out = Entry(1, 1, self.minor_terms(n.operand, e, r), e.degree * r, self.total_vars, dict(e.factors),
                    det_of=tag_of(n.operand), atom_refs=e.atom_refs * r)
        return self.keep(out)

    def inv(self, n: ex.Inv, e: Entry) -> Entry:
        r = e.rows
        det_terms = self.minor_terms(n.operand, e, r)
        cof_terms = self.minor_terms(n.operand, e, r - 1)
        sub = Entry(r - 1, r - 1, e.terms, e.degree, e.variables)
        self.work += self.laplace(n.operand, e, r) + r * r * (self.laplace(n.operand, sub, r - 1) + cof_terms)
        factors = {tag_of(n.operand): (det_terms, 1), **e.factors}
        self.store(det_terms, e.degree * r)
        return self.keep(Entry(r, r, cof_terms, e.degree * max(r - 1, 0), self.total_vars, factors,
                               atom_refs=e.atom_refs * (r - 1)))


def _copy(e: Entry) -> Entry:
    return Entry(e.rows, e.cols, e.terms, e.degree, e.variables, dict(e.factors), e.det_of, e.atom_refs, e.constant)


def _scaled(e: Entry, count: int) -> Entry:
    """The model of a sum of ``count`` entries like ``e`` (before adding)."""
    out = _copy(e)
    out.terms, out.variables, out.atom_refs = e.terms * count, e.variables * count, e.atom_refs * count
    out.det_of = None
    return out


def _missing(have: dict[str, tuple[float, int]], want: dict[str, tuple[float, int]]) -> float:
    out = 1.0
    for tag, (t, d) in want.items():
        out *= t ** (d - have.get(tag, (t, 0))[1])
    return cap(out)


def _drop(factors: dict[str, tuple[float, int]], tag: str, degree: int) -> dict[str, tuple[float, int]]:
    out = dict(factors)
    t, d = out[tag]
    if d > 1:
        out[tag] = (t, d - 1)
    else:
        del out[tag]
    return out


def _canonical(n: ex.Expr, flip: bool = False) -> str:
    """A text for ``n`` (or its transpose when ``flip``) that is the same for M and M.T.T, with products
    flattened and transposes pushed to the factors: (A @ B).T and B.T @ (A.T) read alike."""
    if isinstance(n, ex.Transpose):
        return _canonical(n.operand, not flip)
    if isinstance(n, ex.MatMul):
        factors = _chain(n)
        if flip:
            factors.reverse()
        return "(" + " @ ".join(_canonical(f, flip) for f in factors) + ")"
    if isinstance(n, ex.Symbol):
        return n.name + (".T" if flip else "")
    return repr(ex.Transpose(n)) if flip else repr(n)


def _chain(n: ex.Expr) -> list[ex.Expr]:
    if isinstance(n, ex.MatMul):
        return _chain(n.left) + _chain(n.right)
    return [n]


def tag_of(n: ex.Expr) -> str:
    """det(M) = det(M.T): both get one tag, as the algebra's monic factor keys agree for them."""
    return min(_canonical(n), _canonical(n, True))
