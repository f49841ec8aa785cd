"""Exact scalar algebra for the entrywise prover: variables, atoms and the chain rule.

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

from symderiv.proofs.exact.polynomial import (
    ONE,
    WORK,
    Coeff,
    FactorKey,
    Mono,
    Poly,
    Ratio,
    merge,
    normal_coeff,
    padd,
    padd_into,
    pclean,
    pconst,
    pconstant_value,
    pmul,
    pmul_into,
    pmul_items_into,
    pscale,
)

__all__ = ["ONE", "Coeff", "FactorKey", "Mono", "Poly", "Ratio", "merge", "normal_coeff", "padd", "padd_into",
           "pclean", "pconst", "pconstant_value", "pmul", "pmul_into", "pmul_items_into", "pscale", "Atom",
           "Variables", "NotDifferentiable", "gradient_of", "gradient_of_pairing"]

# --------------------------------------------------------------------------
# Variables and atoms


@dataclass
class Atom:
    """``fn(arg)``, one elementwise function of one argument; or, when ``matrix`` is set, the entry
    ``index`` of the inverse of ``matrix`` (``group`` holds the ids of all entries of that inverse,
    and ``arg`` is ``matrix[index]``, kept only so that every atom has one)."""

    fn: str
    arg: Ratio
    matrix: tuple[tuple[Ratio, ...], ...] | None = None
    index: tuple[int, int] = (0, 0)
    group: tuple[tuple[int, ...], ...] = ()

    def inputs(self) -> list[Ratio]:
        """What the atom is a function of."""
        return [self.arg] if self.matrix is None else [x for row in self.matrix for x in row]


@dataclass
class Variables:
    """The registry of variables: matrix entries, upstream entries and atoms."""

    names: list[str] = field(default_factory=list)
    kinds: list[tuple] = field(default_factory=list)
    atoms: dict[int, Atom] = field(default_factory=dict)
    _atom_ids: dict[tuple, int] = field(default_factory=dict)
    _entry_ids: dict[tuple, int] = field(default_factory=dict)
    _depends: dict[int, frozenset[int]] = field(default_factory=dict)
    _inverses: dict[tuple, tuple[tuple[int, ...], ...]] = field(default_factory=dict)

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

    def inverse(self, matrix: list[list[Ratio]]) -> tuple[tuple[int, ...], ...]:
        """Atoms ``Y[i][j]`` for the entries of ``matrix``'s inverse, shared with an equal matrix, and
        transposed for its transpose (``inv(M.T) = inv(M).T``). Sound for proving only: an identity
        in free ``Y`` holds at ``Y = inv(M)``, but ``M·Y = I`` is not known to the algebra, so a
        difference proves nothing (the caller then uses the rational inverse, see symderiv.proofs.exact.inverse).

        >>> vs = Variables()
        >>> m = [[Ratio.var(vs.entry("X", i, j)) for j in range(2)] for i in range(2)]
        >>> y = vs.inverse(m)
        >>> y, vs.inverse([list(col) for col in zip(*m)])
        (((4, 5), (6, 7)), ((4, 6), (5, 7)))
        """
        n = len(matrix)
        key = tuple(tuple(x.key() for x in row) for row in matrix)
        found = self._inverses.get(key)
        if found is not None:
            return found
        flipped = self._inverses.get(tuple(tuple(matrix[i][j].key() for i in range(n)) for j in range(n)))
        if flipped is not None:
            return tuple(tuple(flipped[j][i] for j in range(n)) for i in range(n))
        frozen = tuple(tuple(row) for row in matrix)
        ids = tuple(tuple(range(len(self.names) + i * n, len(self.names) + (i + 1) * n)) for i in range(n))
        for i in range(n):
            for j in range(n):
                self.names.append(f"inv(…)[{i},{j}]")
                self.kinds.append(("atom", "inv"))
                self.atoms[ids[i][j]] = Atom("inv", frozen[i][j], frozen, (i, j), ids)
        self._inverses[key] = ids
        return ids

    def base_dependencies(self, var: int) -> frozenset[int]:
        """The non-atom variables a variable depends on (itself, for an entry)."""
        if var not in self.atoms:
            return frozenset((var,))
        found = self._depends.get(var)
        if found is None:
            deps: set[int] = set()
            for arg in self.atoms[var].inputs():
                for v in arg.variables():
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
    for atom_id in sorted(atoms):
        polys = [p for arg in atoms[atom_id].inputs() for p in arg.polys()]
        if any(x in wrt or x in chain_atoms for p in polys for mono in p for x in mono):
            chain_atoms.add(atom_id)
    interesting = frozenset(wrt) | chain_atoms
    adj_poly: dict[int, Poly] = {}  # polynomial part of each adjoint (zeros swept when read)
    adj_rat: dict[int, Ratio] = {}  # rational part, when denominators appear
    inverse_partials: dict[tuple[int, int, int], dict[int, Ratio]] = {}  # local partials of inverted matrices
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
        if value.fac is None:
            bucket = adj_poly.get(y)
            if bucket is None:
                adj_poly[y] = dict(value.num)
            else:
                padd_into(bucket, value.num)
        else:
            adj_rat[y] = adj_rat[y] + value if y in adj_rat else value

    def push_product(y: int, a: Ratio, b: Ratio) -> None:
        """adj[y] += a·b, multiplying straight into the accumulator when both are polynomials."""
        if a.fac is None and b.fac is None:
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
        if r.fac is None:
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
        if atoms[x].matrix is not None:
            _push_inverse(atoms[x], a, local_partials, push_product, inverse_partials)
            continue
        outer = a * _atom_derivative(vars_, x)
        if outer.is_zero():
            continue
        for y, dy in local_partials(atoms[x].arg).items():
            push_product(y, outer, dy)
        if deadline is not None:
            deadline()

    WORK[0] += counter[0]
    return {v: adjoint(v) for v in wrt if v in adj_poly or v in adj_rat}


def _push_inverse(atom: Atom, adj: Ratio, local_partials: Callable[[Ratio], dict[int, Ratio]],
                  push_product: Callable[[int, Ratio, Ratio], None],
                  cache: dict[tuple[int, int, int], dict[int, Ratio]]) -> None:
    """Reverse mode through ``Y = inv(M)``: ``∂Y[i,j] = -Σ_kl Y[i,k] ∂M[k,l] Y[l,j]``, so the adjoint of
    ``Y[i,j]`` times ``-Y[i,k]·Y[l,j]`` goes to every variable of ``M[k,l]``."""
    i, j = atom.index
    ids, matrix = atom.group, atom.matrix
    assert matrix is not None
    for k, row in enumerate(matrix):
        for col, entry in enumerate(row):
            key = (id(matrix), k, col)
            parts = cache.get(key)
            if parts is None:
                parts = cache[key] = local_partials(entry)
            if not parts:
                continue
            outer = adj * Ratio({merge((ids[i][k],), (ids[col][j],)): -1})
            for y, dy in parts.items():
                push_product(y, outer, dy)
