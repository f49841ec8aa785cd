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

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Dict, Tuple, Union

Coeff = Union[int, Fraction]
Mono = Tuple[int, ...]
Poly = Dict[Mono, Coeff]

ONE: Mono = ()


def merge(m1: Mono, m2: Mono) -> Mono:
    if not m1:
        return m2
    if not m2:
        return m1
    if len(m1) == 1 and len(m2) == 1:
        a, b = m1[0], m2[0]
        return (a, b) if a <= b else (b, a)
    return tuple(sorted(m1 + m2))


def pconst(c: Coeff) -> Poly:
    return {ONE: c} if c else {}


def padd(a: Poly, b: Poly, sign: int = 1) -> Poly:
    if not b:
        return a if sign == 1 else {m: -c for m, c in a.items()}
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
    get = out.get
    for m1, c1 in a.items():
        for m2, c2 in b.items():
            m = merge(m1, m2)
            out[m] = get(m, 0) + c1 * c2
    return {m: c for m, c in out.items() if c}


def pmul_into(acc: Poly, a: Poly, b: Poly) -> None:
    """``acc += a * b``, the inner loop of matrix products (zeros cleaned by the caller)."""
    get = acc.get
    for m1, c1 in a.items():
        for m2, c2 in b.items():
            m = merge(m1, m2)
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


@dataclass(frozen=True)
class Ratio:
    """``num / den`` with ``den`` None meaning 1."""

    num: Poly
    den: Poly | None = None

    @staticmethod
    def const(c: Coeff) -> Ratio:
        return Ratio(pconst(c))

    @staticmethod
    def var(v: int) -> Ratio:
        return Ratio({(v,): 1})

    def is_zero(self) -> bool:
        return not self.num

    def constant(self) -> Coeff | None:
        value = pconstant_value(self.num)
        if value is None:
            return None
        if self.den is None:
            return value
        d = pconstant_value(self.den)
        return None if d is None else Fraction(value) / d

    def __add__(self, other: Ratio) -> Ratio:
        return _normal(_add(self, other, 1))

    def __sub__(self, other: Ratio) -> Ratio:
        return _normal(_add(self, other, -1))

    def __neg__(self) -> Ratio:
        return Ratio({m: -c for m, c in self.num.items()}, self.den)

    def __mul__(self, other: Ratio) -> Ratio:
        if self.den is None and other.den is None:
            return Ratio(pmul(self.num, other.num))
        return _normal(Ratio(pmul(self.num, other.num), _mul_den(self.den, other.den)))

    def scale(self, c: Coeff) -> Ratio:
        return Ratio(pscale(self.num, c), self.den)

    def reciprocal(self) -> Ratio:
        if not self.num:
            raise ZeroDivisionError("division by an expression that is identically zero")
        return _normal(Ratio(self.den if self.den is not None else pconst(1), self.num))

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
        """Exact equality of rational functions (cross-multiplied)."""
        if self.den is None and other.den is None:
            return self.num == other.num
        if self.den == other.den:
            return self.num == other.num
        left = pmul(self.num, other.den if other.den is not None else pconst(1))
        right = pmul(other.num, self.den if self.den is not None else pconst(1))
        return left == right

    def key(self) -> tuple:
        """A hashable key; equal keys mean equal functions (not conversely)."""
        num = frozenset(self.num.items())
        return (num,) if self.den is None else (num, frozenset(self.den.items()))

    def variables(self) -> set[int]:
        out: set[int] = set()
        for m in self.num:
            out.update(m)
        if self.den is not None:
            for m in self.den:
                out.update(m)
        return out


def _mul_den(a: Poly | None, b: Poly | None) -> Poly | None:
    if a is None:
        return b
    if b is None:
        return a
    return pmul(a, b)


def _add(a: Ratio, b: Ratio, sign: int) -> Ratio:
    if a.den is None and b.den is None:
        return Ratio(padd(a.num, b.num, sign))
    if a.den == b.den:
        return Ratio(padd(a.num, b.num, sign), a.den)
    one = pconst(1)
    num = padd(pmul(a.num, b.den if b.den is not None else one),
               pmul(b.num, a.den if a.den is not None else one), sign)
    return Ratio(num, _mul_den(a.den, b.den))


def _normal(r: Ratio) -> Ratio:
    """Fold constant denominators into the numerator; make the denominator's first coefficient 1."""
    if r.den is None:
        return r
    if not r.num:
        return Ratio({})
    if not r.den:
        raise ZeroDivisionError("division by an expression that is identically zero")
    d = pconstant_value(r.den)
    if d is not None:
        inv = Fraction(1) / Fraction(d)
        return Ratio({m: normal_coeff(c * inv) for m, c in r.num.items()})
    if r.num == r.den:
        return Ratio.const(1)
    lead = r.den[min(r.den)]
    if lead != 1:
        inv = Fraction(1) / Fraction(lead)
        return Ratio({m: normal_coeff(c * inv) for m, c in r.num.items()},
                     {m: normal_coeff(c * inv) for m, c in r.den.items()})
    return r


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
    """
    memo: dict[int, dict[int, Ratio]] = {}

    def poly_gradient(poly: Poly) -> tuple[dict[int, Poly], dict[int, Ratio]]:
        direct: dict[int, Poly] = {}
        chained: dict[int, Ratio] = {}
        count = 0
        for mono, c in poly.items():
            count += 1
            if deadline is not None and not count & 0xFFFF:
                deadline()
            prev = None
            for idx, x in enumerate(mono):
                if x == prev:
                    continue
                prev = x
                e = mono.count(x) if (idx + 1 < len(mono) and mono[idx + 1] == x) else 1
                rest = mono[:idx] + mono[idx + 1:]
                if x in wrt:
                    bucket = direct.get(x)
                    if bucket is None:
                        bucket = direct[x] = {}
                    bucket[rest] = bucket.get(rest, 0) + c * e
                elif x in vars_.atoms and not vars_.base_dependencies(x).isdisjoint(wrt):
                    inner = atom_gradient(x)
                    outer = Ratio({rest: c * e}) * _atom_derivative(vars_, x)
                    for v, dv in inner.items():
                        term = outer * dv
                        chained[v] = chained[v] + term if v in chained else term
        return {v: pclean(p) for v, p in direct.items()}, chained

    def atom_gradient(x: int) -> dict[int, Ratio]:
        found = memo.get(x)
        if found is None:
            found = ratio_gradient(vars_.atoms[x].arg)
            memo[x] = found
        return found

    def ratio_gradient(r: Ratio) -> dict[int, Ratio]:
        num_direct, num_chain = poly_gradient(r.num)
        grad: dict[int, Ratio] = {}
        for v, p in num_direct.items():
            grad[v] = Ratio(p)
        for v, q in num_chain.items():
            grad[v] = grad[v] + q if v in grad else q
        if r.den is None:
            return grad
        den = Ratio(r.den)
        den_direct, den_chain = poly_gradient(r.den)
        dden: dict[int, Ratio] = {v: Ratio(p) for v, p in den_direct.items()}
        for v, q in den_chain.items():
            dden[v] = dden[v] + q if v in dden else q
        num = Ratio(r.num)
        out: dict[int, Ratio] = {}
        den_sq = den * den
        for v in set(grad) | set(dden):
            top = (grad[v] * den if v in grad else Ratio({})) - (num * dden[v] if v in dden else Ratio({}))
            out[v] = top / den_sq if not top.is_zero() else Ratio({})
        return out

    return ratio_gradient(value)
