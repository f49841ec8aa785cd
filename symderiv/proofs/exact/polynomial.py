"""Exact polynomials and rational functions with factored denominators (the prover's numbers).

A *polynomial* is a dict ``{monomial: coefficient}`` whose monomials are sorted
tuples of variable ids (with repetition: ``(3, 3, 7)`` is ``x3² x7``) and whose
coefficients are ``int`` or ``Fraction``; zero coefficients are never stored, so
equal polynomials are equal dicts. A :class:`Ratio` is a numerator polynomial
over an optional denominator polynomial, compared by cross-multiplication, so no
polynomial gcd is ever needed. :mod:`symderiv.proofs.exact.algebra` adds the variables and
the chain rule on top.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

from symderiv.core.meter import CHECK_EVERY, NEXT, WORK, tick  # WORK: the work counter, metered while a proof runs

Coeff = int | Fraction
Mono = tuple[int, ...]
Poly = dict[Mono, Coeff]

ONE: Mono = ()



def merge(m1: Mono, m2: Mono) -> Mono:
    """The product of two monomials (sorted tuples of variable ids).

    Variables are numbered in order of creation, so products of entries of
    different matrices are usually already sorted when concatenated one way or
    the other; only the rest needs a sort.

    >>> merge((1, 4), (2,)), merge((1,), (3, 5)), merge((3, 5), (1,)), merge((), (2,)), merge((2,), ())
    ((1, 2, 4), (1, 3, 5), (1, 3, 5), (2,), (2,))
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
    padd_into(out, b, sign)
    return out


def padd_into(acc: Poly, b: Poly, scale: Coeff = 1) -> None:
    WORK[0] += len(b)
    if WORK[0] >= NEXT[0]:
        tick()
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
    """``acc += a * b``, the inner loop of matrix products (zeros cleaned by the caller).

    A large product runs in slices of about :data:`CHECK_EVERY` multiply-adds, so the meter sees it."""
    b_items = list(b.items())
    if len(a) * len(b_items) <= CHECK_EVERY:
        WORK[0] += len(a) * len(b_items)
        if WORK[0] >= NEXT[0]:
            tick()
        pmul_items_into(acc, a.items(), b_items)
        return
    a_items = list(a.items())
    step = max(1, CHECK_EVERY // len(b_items))
    for k in range(0, len(a_items), step):
        part = a_items[k:k + step]
        WORK[0] += len(part) * len(b_items)
        if WORK[0] >= NEXT[0]:
            tick()
        pmul_items_into(acc, part, b_items)


def pmul_items_into(acc: Poly, a_items: Iterable[tuple[Mono, Coeff]], b_items: list[tuple[Mono, Coeff]]) -> None:
    """``acc += a * b`` on item sequences, so a caller can prepare them once (``entrywise.matmul``).

    The caller adds ``len(a_items) * len(b_items)`` to :data:`WORK` (matmul does it once per row)."""
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
    # Normalise on the highest monomial: for the usual `2 + phi(z)` that keeps integer coefficients.
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
        fac = dict(self.fac or {})
        for key, e in (other.fac or {}).items():
            fac[key] = fac.get(key, 0) + e
        # Cancel before multiplying: a numerator that is (a constant times) a factor of the
        # denominator, as det(M) is in det(M) * inv(M), becomes that constant, so the product
        # is never formed (it was the swell of det(M) * inv(M), ~10⁴ terms to cancel back to 72).
        a, b = _strip(self.num, fac), _strip(other.num, fac)
        num = pmul(a, b)
        if not num:
            return Ratio({})
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


def _strip(p: Poly, fac: dict[FactorKey, int]) -> Poly:
    """``p`` with one power of a factor of ``fac`` divided out when ``p`` is a constant times that factor
    (``fac`` is updated); else ``p`` itself. Only factors with as many terms as ``p`` are candidates,
    so the usual miss costs a length comparison."""
    n = len(p)
    if n < 2 or not any(e and len(key) == n for key, e in fac.items()):
        return p
    c, key = _factor_in(p)
    if key is not None and fac.get(key):
        fac[key] -= 1
        return pconst(c)
    return p


def _cancel(num: Poly, fac: dict[FactorKey, int]) -> Ratio:
    """Drop a factor that the numerator equals up to a constant (cheap, common: x·(1/x))."""
    fac = {k: e for k, e in fac.items() if e}
    if not fac:
        return Ratio(num)
    stripped = _strip(num, fac)
    if stripped is not num:
        return _cancel(stripped, fac)
    return Ratio(num, fac={k: e for k, e in fac.items() if e} or None)


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
