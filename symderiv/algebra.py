"""Exact scalar algebra for the entrywise prover.

A *polynomial* is a dict ``{monomial: coefficient}`` whose monomials are sorted
tuples of variable ids (with repetition: ``(3, 3, 7)`` is ``x3² x7``) and whose
coefficients are ``int`` or ``Fraction``; zero coefficients are never stored, so
equal polynomials are equal dicts. A :class:`Ratio` is a numerator polynomial
over an optional denominator polynomial, compared by cross-multiplication, so no
polynomial gcd is ever needed.

Variables are matrix entries, upstream entries ``G[i,j]``, and *atoms*: one
application of an elementwise function (``exp``, ``relu``, ``logabs`` of a
determinant, a generic ``phi``) to a canonical argument. Atoms are treated as
independent variables. That is sound for proving: an identity that holds with
the atoms free holds for every value they take. Equal atoms share one variable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction

Coeff = int | Fraction
Mono = tuple[int, ...]
Poly = dict[Mono, Coeff]

ONE: Mono = ()


def merge(m1: Mono, m2: Mono) -> Mono:
    """The product of two monomials (sorted tuples of variable ids).

    Variables are numbered in order of creation, so products of entries of
    different matrices are usually already sorted when concatenated one way or
    the other; only the rest needs a sort.

    >>> merge((1, 4), (2,)), merge((1,), (3, 5)), merge((3, 5), (1,))
    ((1, 2, 4), (1, 3, 5), (1, 3, 5))
    """
    if not m1:
        return m2
    if not m2:
        return m1
    if m1[-1] <= m2[0]:
        return m1 + m2
    if m2[-1] <= m1[0]:
        return m2 + m1
    return tuple(sorted(m1 + m2))


def pconst(c: Coeff) -> Poly:
    return {ONE: c} if c else {}


def padd(a: Poly, b: Poly, sign: int = 1) -> Poly:
    if not b:
        return a  # a - 0 is a (this once negated a when sign was -1)
    out = dict(a)
    for m, c in b.items():
        v = out.get(m, 0) + sign * c
        if v:
            out[m] = v
        else:
            out.pop(m, None)
    return out


def padd_into(acc: Poly, b: Poly, scale: Coeff = 1) -> None:
    for m, c in b.items():
        v = acc.get(m, 0) + scale * c
        if v:
            acc[m] = v
        else:
            acc.pop(m, None)


def pmul(a: Poly, b: Poly) -> Poly:
    if not a or not b:
        return {}
    if len(a) > len(b):
        a, b = b, a
    if len(a) == 1 and ONE in a:
        c = a[ONE]
        return {m: c * v for m, v in b.items()} if c != 1 else b
    out: Poly = {}
    pmul_into(out, a, b)
    return {m: c for m, c in out.items() if c}


def pmul_into(acc: Poly, a: Poly, b: Poly) -> None:
    """``acc += a * b``, the inner loop of matrix products (zeros cleaned by the caller)."""
    pmul_items_into(acc, a.items(), list(b.items()))


def pmul_items_into(acc: Poly, a_items: Iterable[tuple[Mono, Coeff]], b_items: list[tuple[Mono, Coeff]]) -> None:
    """``acc += a * b`` on item sequences, so a caller can prepare them once (``entrywise.matmul``)."""
    get = acc.get
    for m1, c1 in a_items:
        if not m1:
            for m2, c2 in b_items:
                acc[m2] = get(m2, 0) + c1 * c2
            continue
        first, last = m1[0], m1[-1]
        for m2, c2 in b_items:
            # merge() inlined: this loop runs once per multiply-add.
            if not m2:
                m = m1
            elif last <= m2[0]:
                m = m1 + m2
            elif m2[-1] <= first:
                m = m2 + m1
            else:
                m = tuple(sorted(m1 + m2))
            acc[m] = get(m, 0) + c1 * c2


def pclean(p: Poly) -> Poly:
    return {m: c for m, c in p.items() if c}


def pscale(p: Poly, c: Coeff) -> Poly:
    if not c:
        return {}
    return {m: v * c for m, v in p.items()}


def pconstant_value(p: Poly) -> Coeff | None:
    """The value of a constant polynomial, or None."""
    if not p:
        return 0
    if len(p) == 1 and ONE in p:
        return p[ONE]
    return None


def normal_coeff(c: Coeff) -> Coeff:
    if isinstance(c, Fraction) and c.denominator == 1:
        return int(c)
    return c


FactorKey = frozenset  # the items of a non-constant polynomial whose first coefficient is 1


def _factor_in(p: Poly) -> tuple[Coeff, FactorKey | None]:
    """Split ``p`` into ``c · f`` with ``f`` monic (coefficient 1 on its highest monomial); ``f`` is None when ``p`` is constant."""
    value = pconstant_value(p)
    if value is not None:
        return value, None
    # Normalise on the highest monomial: for the usual `2 + sigmoid(z)` that keeps integer coefficients.
    lead = p[max(p)]
    if lead != 1:
        inv = Fraction(1) / Fraction(lead)
        p = {m: normal_coeff(c * inv) for m, c in p.items()}
    return lead, frozenset(p.items())


class Ratio:
    """``num / Π f_k^e_k``: a numerator polynomial over a product of denominator factors.

    Keeping the denominator factored is what keeps sums of quotients small: the
    common denominator of two terms takes each factor to its larger power (a
    common multiple, never the blown-up product of two products). Factors are
    monic polynomials keyed by their items; equal keys are equal polynomials, and
    distinct keys may still share a factor, which only makes a denominator a
    multiple of the least one. Equality is exact: ``a == b`` iff the numerator of
    ``a - b`` over the common denominator is the zero polynomial.
    """

    __slots__ = ("num", "fac", "_den")

    def __init__(self, num: Poly, den: Poly | None = None, fac: dict[FactorKey, int] | None = None):
        if den is not None and fac is None:
            c, key = _factor_in(den)
            if not den:
                raise ZeroDivisionError("division by an expression that is identically zero")
            if key is None:
                inv = Fraction(1) / Fraction(c)
                num = {m: normal_coeff(v * inv) for m, v in num.items()}
            else:
                if c != 1:
                    inv = Fraction(1) / Fraction(c)
                    num = {m: normal_coeff(v * inv) for m, v in num.items()}
                fac = {key: 1}
        self.num = num
        self.fac = fac or None if num else None
        self._den: Poly | None = None

    @property
    def den(self) -> Poly | None:
        """The denominator as one polynomial (None for 1); prefer :meth:`factors`."""
        if self.fac is None:
            return None
        if self._den is None:
            den = pconst(1)
            for key, e in self.fac.items():
                for _ in range(e):
                    den = pmul(den, dict(key))
            self._den = den
        return self._den

    def factors(self) -> list[tuple[Poly, int]]:
        return [] if self.fac is None else [(dict(key), e) for key, e in self.fac.items()]

    def __repr__(self) -> str:
        return f"Ratio({self.num!r}, fac={self.fac!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ratio) and self.num == other.num and self.fac == other.fac

    __hash__ = None  # type: ignore[assignment]

    @staticmethod
    def const(c: Coeff) -> Ratio:
        return Ratio(pconst(c))

    @staticmethod
    def var(v: int) -> Ratio:
        return Ratio({(v,): 1})

    def is_zero(self) -> bool:
        return not self.num

    def constant(self) -> Coeff | None:
        if self.fac is not None:
            return None
        return pconstant_value(self.num)

    def __add__(self, other: Ratio) -> Ratio:
        return _add(self, other, 1)

    def __sub__(self, other: Ratio) -> Ratio:
        return _add(self, other, -1)

    def __neg__(self) -> Ratio:
        return Ratio({m: -c for m, c in self.num.items()}, fac=self.fac)

    def __mul__(self, other: Ratio) -> Ratio:
        if self.fac is None and other.fac is None:
            return Ratio(pmul(self.num, other.num))
        num = pmul(self.num, other.num)
        if not num:
            return Ratio({})
        fac = dict(self.fac or {})
        for key, e in (other.fac or {}).items():
            fac[key] = fac.get(key, 0) + e
        return _cancel(num, fac)

    def scale(self, c: Coeff) -> Ratio:
        return Ratio(pscale(self.num, c), fac=self.fac)

    def reciprocal(self) -> Ratio:
        if not self.num:
            raise ZeroDivisionError("division by an expression that is identically zero")
        c, key = _factor_in(self.num)
        inv = Fraction(1) / Fraction(c)
        top = self.den if self.fac is not None else pconst(1)
        top = {m: normal_coeff(v * inv) for m, v in top.items()}  # type: ignore[union-attr]
        if key is None:
            return Ratio(top)
        return Ratio(top, fac={key: 1})

    def __truediv__(self, other: Ratio) -> Ratio:
        return self * other.reciprocal()

    def power(self, k: int) -> Ratio:
        if k < 0:
            return self.reciprocal().power(-k)
        result = Ratio.const(1)
        base = self
        while k:
            if k & 1:
                result = result * base
            k >>= 1
            if k:
                base = base * base
        return result

    def equals(self, other: Ratio) -> bool:
        """Exact equality of rational functions (over a common denominator)."""
        if self.fac == other.fac:
            return self.num == other.num
        return not _add(self, other, -1).num

    def key(self) -> tuple:
        """A hashable key; equal keys mean equal functions (not conversely)."""
        num = frozenset(self.num.items())
        return (num,) if self.fac is None else (num, frozenset(self.fac.items()))

    def polys(self) -> list[Poly]:
        """The numerator and each denominator factor."""
        return [self.num] + [dict(key) for key in (self.fac or ())]

    def variables(self) -> set[int]:
        out: set[int] = set()
        for m in self.num:
            out.update(m)
        for key in self.fac or ():
            for m, _ in key:
                out.update(m)
        return out


def _cancel(num: Poly, fac: dict[FactorKey, int]) -> Ratio:
    """Drop a factor that the numerator equals up to a constant (cheap, common: x·(1/x))."""
    fac = {k: e for k, e in fac.items() if e}
    if not fac:
        return Ratio(num)
    if len(num) <= 64:
        c, key = _factor_in(num)
        if key is not None and key in fac:
            fac[key] -= 1
            return _cancel(pconst(c), fac)
    return Ratio(num, fac=fac)


def _add(a: Ratio, b: Ratio, sign: int) -> Ratio:
    if a.fac is None and b.fac is None:
        return Ratio(padd(a.num, b.num, sign))
    if not b.num:
        return a
    if not a.num:
        return -b if sign < 0 else b
    if a.fac == b.fac:
        return _cancel(padd(a.num, b.num, sign), dict(a.fac))  # type: ignore[arg-type]
    fa, fb = a.fac or {}, b.fac or {}
    common = dict(fa)
    for key, e in fb.items():
        if e > common.get(key, 0):
            common[key] = e
    num_a, num_b = a.num, b.num
    for key, e in common.items():
        missing_a, missing_b = e - fa.get(key, 0), e - fb.get(key, 0)
        if missing_a or missing_b:
            f = dict(key)
            for _ in range(missing_a):
                num_a = pmul(num_a, f)
            for _ in range(missing_b):
                num_b = pmul(num_b, f)
    num = padd(num_a, num_b, sign)
    if not num:
        return Ratio({})
    return _cancel(num, common)


# --------------------------------------------------------------------------
# Variables and atoms


@dataclass
class Atom:
    fn: str
    arg: Ratio


@dataclass
class Variables:
    """The registry of variables: matrix entries, upstream entries and atoms."""

    names: list[str] = field(default_factory=list)
    kinds: list[tuple] = field(default_factory=list)
    atoms: dict[int, Atom] = field(default_factory=dict)
    _atom_ids: dict[tuple, int] = field(default_factory=dict)
    _entry_ids: dict[tuple, int] = field(default_factory=dict)
    _depends: dict[int, frozenset[int]] = field(default_factory=dict)

    def entry(self, symbol: str, i: int, j: int) -> int:
        key = (symbol, i, j)
        found = self._entry_ids.get(key)
        if found is None:
            found = len(self.names)
            self.names.append(f"{symbol}[{i},{j}]")
            self.kinds.append(("entry", symbol, i, j))
            self._entry_ids[key] = found
        return found

    def alias(self, symbol: str, i: int, j: int, var: int) -> None:
        """Make ``symbol[i,j]`` the same variable as an existing one (symmetric matrices)."""
        self._entry_ids[(symbol, i, j)] = var

    def atom(self, fn: str, arg: Ratio) -> int:
        key = (fn, arg.key())
        found = self._atom_ids.get(key)
        if found is None:
            found = len(self.names)
            self.names.append(f"{fn}(…)")
            self.kinds.append(("atom", fn))
            self.atoms[found] = Atom(fn, arg)
            self._atom_ids[key] = found
        return found

    def base_dependencies(self, var: int) -> frozenset[int]:
        """The non-atom variables a variable depends on (itself, for an entry)."""
        if var not in self.atoms:
            return frozenset((var,))
        found = self._depends.get(var)
        if found is None:
            deps: set[int] = set()
            for v in self.atoms[var].arg.variables():
                deps |= self.base_dependencies(v)
            found = frozenset(deps)
            self._depends[var] = found
        return found


# --------------------------------------------------------------------------
# Differentiation


DerivativeRule = Callable[["Variables", Ratio, int], Ratio]


def _atom_derivative(vars_: Variables, atom_var: int) -> Ratio:
    """d fn(u) / du, as a Ratio over atoms, by the prover's own table of scalar rules."""
    atom = vars_.atoms[atom_var]
    fn, u = atom.fn, atom.arg
    me = Ratio.var(atom_var)
    one = Ratio.const(1)
    if fn == "exp":
        return me
    if fn in ("log", "logabs"):
        return u.reciprocal()
    if fn == "sqrt":
        return me.scale(2).reciprocal()
    if fn == "abs":
        return Ratio.var(vars_.atom("sign", u))
    if fn == "sin":
        return Ratio.var(vars_.atom("cos", u))
    if fn == "cos":
        return -Ratio.var(vars_.atom("sin", u))
    if fn == "tan":
        return one + me * me
    if fn == "tanh":
        return one - me * me
    if fn == "sigmoid":
        return me * (one - me)
    if fn == "relu":
        return Ratio.var(vars_.atom("step", u))
    if fn in ("step", "sign"):
        raise NotDifferentiable(f"{fn} jumps at 0; its derivative is a Dirac delta, which symderiv does not represent")
    if fn.endswith("_prime"):
        raise NotDifferentiable(f"{fn} is already a derivative; second derivatives are not supported")
    return Ratio.var(vars_.atom(fn + "_prime", u))


class NotDifferentiable(ArithmeticError):
    """Raised when the chain rule meets step/sign or a second derivative."""


def gradient_of(vars_: Variables, value: Ratio, wrt: set[int], deadline: Callable[[], None] | None = None
                ) -> dict[int, Ratio]:
    """∂value/∂v for every v in ``wrt``: the scalar chain rule, through atoms.

    Only derivatives that can be non-zero are computed (structural sparsity):
    a monomial contributes to the variables it contains, and an atom only when
    its argument depends on ``wrt``.

    >>> vs = Variables()
    >>> x, y = vs.entry("X", 0, 0), vs.entry("X", 0, 1)
    >>> grads = gradient_of(vs, Ratio({(x, x, y): 3}), {x, y})
    >>> grads[x].num, grads[y].num
    ({(0, 1): 6}, {(0, 0): 3})
    """
    return gradient_of_pairing(vars_, [(ONE, value)], wrt, deadline)


def gradient_of_pairing(vars_: Variables, terms: Iterable[tuple[Mono, Ratio]], wrt: set[int],
                        deadline: Callable[[], None] | None = None) -> dict[int, Ratio]:
    """∂/∂v of ``Σ_k u_k · r_k`` for every v in ``wrt``, where each weight ``u_k`` is a monomial
    of variables that do not depend on ``wrt`` (upstream entries ``G[i,j]``).

    This is :func:`gradient_of` applied to the pairing ``⟨G, D⟩`` without building
    it. Atoms are intermediate variables of a DAG (an atom's argument only holds
    variables created before it), so the chain rule runs in reverse mode: first
    the partial derivatives of the pairing by the wrt entries and by the atoms
    that depend on them, then, atom by atom from the newest, the atom's adjoint
    times ``fn'`` times the partials of its argument is pushed to what the
    argument contains. Every multiply-add of the result is done once.

    >>> vs = Variables()
    >>> w, g = vs.entry("W", 0, 0), vs.entry("G", 0, 0)
    >>> gradient_of_pairing(vs, [((g,), Ratio({(w, w): 1}))], {w})[w].num
    {(0, 1): 2}
    """
    atoms = vars_.atoms
    # Atoms whose argument depends on wrt, fixed now: atoms created below (step, sign,
    # cos, phi_prime ...) only ever appear in derivatives, never in what is differentiated.
    # An atom's argument only holds older variables, so one pass in id order decides
    # which atoms depend on wrt (no recursion, no dependency sets).
    chain_atoms: set[int] = set()
    for a in sorted(atoms):
        polys = atoms[a].arg.polys()
        if any(x in wrt or x in chain_atoms for p in polys for mono in p for x in mono):
            chain_atoms.add(a)
    interesting = frozenset(wrt) | chain_atoms
    adj_poly: dict[int, Poly] = {}  # polynomial part of each adjoint (zeros swept when read)
    adj_rat: dict[int, Ratio] = {}  # rational part, when denominators appear
    counter = [0]

    def partials(poly: Poly, tail: Mono, out: dict[int, Poly]) -> None:
        """Add ∂(tail · poly)/∂y into ``out[y]`` for every interesting y (structural sparsity)."""
        t0 = tail[0] if tail else None
        for mono, c in poly.items():
            counter[0] += 1
            if deadline is not None and not counter[0] & 0x3FFF:
                deadline()
            prev = None
            for idx, x in enumerate(mono):
                if x not in interesting or x == prev:
                    prev = x
                    continue
                prev = x
                if idx + 1 < len(mono) and mono[idx + 1] == x:
                    e = mono.count(x)
                    rest = mono[:idx] + mono[idx + 1:]
                else:
                    e = 1
                    rest = mono[:idx] + mono[idx + 1:] if idx else mono[1:]
                if tail:
                    if not rest or rest[-1] <= t0:  # type: ignore[operator]
                        rest = rest + tail
                    else:
                        rest = merge(rest, tail)
                bucket = out.get(x)
                if bucket is None:
                    bucket = out[x] = {}
                bucket[rest] = bucket.get(rest, 0) + c * e

    def local_partials(r: Ratio) -> dict[int, Ratio]:
        """∂r/∂y treating every interesting y as independent (one level, the quotient rule).

        For ``r = n / Π f_k^e_k``: ``∂r = (∂n - n Σ_k e_k ∂f_k / f_k) / Π f_k^e_k``, kept factored.
        """
        dnum: dict[int, Poly] = {}
        partials(r.num, ONE, dnum)
        if r.fac is None:
            return {y: Ratio(pclean(p)) for y, p in dnum.items()}
        out: dict[int, Ratio] = {y: Ratio(pclean(p), fac=dict(r.fac)) for y, p in dnum.items()}
        for key, e in r.fac.items():
            dfac: dict[int, Poly] = {}
            partials(dict(key), ONE, dfac)
            fac = dict(r.fac)
            fac[key] += 1
            for y, p in dfac.items():
                term = Ratio(pscale(pmul(r.num, pclean(p)), -e), fac=dict(fac))
                out[y] = out[y] + term if y in out else term
        return {y: v for y, v in out.items() if not v.is_zero()}

    def push(y: int, value: Ratio) -> None:
        if value.den is None:
            bucket = adj_poly.get(y)
            if bucket is None:
                adj_poly[y] = dict(value.num)
            else:
                padd_into(bucket, value.num)
        else:
            adj_rat[y] = adj_rat[y] + value if y in adj_rat else value

    def push_product(y: int, a: Ratio, b: Ratio) -> None:
        """adj[y] += a·b, multiplying straight into the accumulator when both are polynomials."""
        if a.den is None and b.den is None:
            bucket = adj_poly.get(y)
            if bucket is None:
                bucket = adj_poly[y] = {}
            if len(a.num) == 1 and len(b.num) == 1:
                # The common case (an atom's adjoint times a single-term partial): no loops.
                ((m1, c1),), ((m2, c2),) = a.num.items(), b.num.items()
                m = merge(m1, m2)
                bucket[m] = bucket.get(m, 0) + c1 * c2
            else:
                pmul_into(bucket, a.num, b.num)
        else:
            push(y, a * b)

    def adjoint(y: int) -> Ratio:
        value = Ratio(pclean(adj_poly.get(y, {})))
        rat = adj_rat.get(y)
        return value if rat is None else value + rat

    for tail, r in terms:
        if any(x in interesting for x in tail):
            raise ValueError("a weight of gradient_of_pairing depends on the variables differentiated")
        if r.den is None:
            partials(r.num, tail, adj_poly)
            continue
        weight = Ratio({tail: 1})
        for y, dy in local_partials(r).items():
            push_product(y, weight, dy)

    # Newest atom first: every atom that contains x in its argument is newer than x,
    # so x's adjoint is complete when x is reached.
    for x in sorted(chain_atoms, reverse=True):
        if x not in adj_poly and x not in adj_rat:
            continue
        a = adjoint(x)
        adj_poly.pop(x, None)
        adj_rat.pop(x, None)
        if a.is_zero():
            continue
        outer = a * _atom_derivative(vars_, x)
        if outer.is_zero():
            continue
        for y, dy in local_partials(atoms[x].arg).items():
            push_product(y, outer, dy)
        if deadline is not None:
            deadline()

    return {v: adjoint(v) for v in wrt if v in adj_poly or v in adj_rat}
