"""Exact scalar algebra for the entrywise prover: variables, atoms and the chain rule.

A *polynomial* is a dict ``{monomial: coefficient}`` whose monomials are sorted
tuples of variable ids (with repetition: ``(3, 3, 7)`` is ``x3² x7``) and whose
coefficients are ``int`` or ``Fraction``; zero coefficients are never stored, so
equal polynomials are equal dicts. A :class:`Ratio` is a numerator polynomial
over an optional denominator polynomial, compared by cross-multiplication, so no
polynomial gcd is ever needed.

Variables are matrix entries, upstream entries ``G[i,j]``, and *atoms*: one
application of an elementwise function (a row of the registry, or a generic
``phi``) to a canonical argument (:mod:`symderiv.proofs.exact.atoms`). Atoms are treated as independent
variables. That is sound for proving: an identity that holds with the atoms free
holds for every value they take. Equal atoms share one variable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from symderiv.proofs.exact.atoms import Atom, NotDifferentiable, Variables, atom_derivative
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
# Differentiation


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
    return _Reverse(vars_, wrt, deadline).run(terms)


def _chain_atoms(atoms: dict[int, Atom], wrt: set[int]) -> set[int]:
    """Atoms whose argument depends on ``wrt``, fixed before the sweep.

    Atoms created during the sweep (the functions of a derivative, phi_prime ...) only ever appear in derivatives,
    never in what is differentiated. An atom's argument only holds older variables, so one pass in id
    order decides which atoms depend on wrt (no recursion, no dependency sets).
    """
    chain: set[int] = set()
    for atom_id in sorted(atoms):
        polys = [p for arg in atoms[atom_id].inputs() for p in arg.polys()]
        if any(x in wrt or x in chain for p in polys for mono in p for x in mono):
            chain.add(atom_id)
    return chain


class _Reverse:
    """One reverse-mode sweep of :func:`gradient_of_pairing`: the adjoints, kept as a polynomial part
    (zeros swept when read) and a rational part (when denominators appear)."""

    def __init__(self, vars_: Variables, wrt: set[int], deadline: Callable[[], None] | None) -> None:
        self.vars = vars_
        self.wrt = wrt
        self.deadline = deadline
        self.chain_atoms = _chain_atoms(vars_.atoms, wrt)
        self.interesting = frozenset(wrt) | self.chain_atoms
        self.adj_poly: dict[int, Poly] = {}
        self.adj_rat: dict[int, Ratio] = {}
        # local partials of the entries of inverted matrices, by (id of the matrix, row, column)
        self.inverse_partials: dict[tuple[int, int, int], dict[int, Ratio]] = {}
        self.counter = 0

    def run(self, terms: Iterable[tuple[Mono, Ratio]]) -> dict[int, Ratio]:
        for tail, r in terms:
            self.seed(tail, r)
        # Newest atom first: every atom that contains x in its argument is newer than x,
        # so x's adjoint is complete when x is reached.
        for x in sorted(self.chain_atoms, reverse=True):
            self.through(x)
        WORK[0] += self.counter
        return {v: self.adjoint(v) for v in self.wrt if v in self.adj_poly or v in self.adj_rat}

    def seed(self, tail: Mono, r: Ratio) -> None:
        """The partial derivatives of one term ``tail · r`` of the pairing."""
        if any(x in self.interesting for x in tail):
            raise ValueError("a weight of gradient_of_pairing depends on the variables differentiated")
        if r.fac is None:
            self.partials(r.num, tail, self.adj_poly)
            return
        weight = Ratio({tail: 1})
        for y, dy in self.local_partials(r).items():
            self.push_product(y, weight, dy)

    def through(self, x: int) -> None:
        """Push the adjoint of atom ``x`` to what its argument contains: adjoint · fn' · ∂argument."""
        if x not in self.adj_poly and x not in self.adj_rat:
            return
        a = self.adjoint(x)
        self.adj_poly.pop(x, None)
        self.adj_rat.pop(x, None)
        if a.is_zero():
            return
        atom = self.vars.atoms[x]
        if atom.matrix is not None:
            self.push_inverse(atom, a)
            return
        outer = a * atom_derivative(self.vars, x)
        if outer.is_zero():
            return
        push_product = self.push_product
        for y, dy in self.local_partials(atom.arg).items():
            push_product(y, outer, dy)
        if self.deadline is not None:
            self.deadline()

    def partials(self, poly: Poly, tail: Mono, out: dict[int, Poly]) -> None:
        """Add ∂(tail · poly)/∂y into ``out[y]`` for every interesting y (structural sparsity)."""
        interesting, deadline, counter = self.interesting, self.deadline, self.counter
        t0 = tail[0] if tail else None
        for mono, c in poly.items():
            counter += 1
            if deadline is not None and not counter & 0x3FFF:
                self.counter = counter
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
                    rest = rest + tail if not rest or rest[-1] <= t0 else merge(rest, tail)  # type: ignore[operator]
                bucket = out.get(x)
                if bucket is None:
                    bucket = out[x] = {}
                bucket[rest] = bucket.get(rest, 0) + c * e
        self.counter = counter

    def local_partials(self, r: Ratio) -> dict[int, Ratio]:
        """∂r/∂y treating every interesting y as independent (one level, the quotient rule).

        For ``r = n / Π f_k^e_k``: ``∂r = (∂n - n Σ_k e_k ∂f_k / f_k) / Π f_k^e_k``, kept factored.
        """
        dnum: dict[int, Poly] = {}
        self.partials(r.num, ONE, dnum)
        if r.fac is None:
            return {y: Ratio(pclean(p)) for y, p in dnum.items()}
        out: dict[int, Ratio] = {y: Ratio(pclean(p), fac=dict(r.fac)) for y, p in dnum.items()}
        for key, e in r.fac.items():
            dfac: dict[int, Poly] = {}
            self.partials(dict(key), ONE, dfac)
            fac = dict(r.fac)
            fac[key] += 1
            for y, p in dfac.items():
                term = Ratio(pscale(pmul(r.num, pclean(p)), -e), fac=dict(fac))
                out[y] = out[y] + term if y in out else term
        return {y: v for y, v in out.items() if not v.is_zero()}

    def push(self, y: int, value: Ratio) -> None:
        if value.fac is None:
            bucket = self.adj_poly.get(y)
            if bucket is None:
                self.adj_poly[y] = dict(value.num)
            else:
                padd_into(bucket, value.num)
        else:
            self.adj_rat[y] = self.adj_rat[y] + value if y in self.adj_rat else value

    def push_product(self, y: int, a: Ratio, b: Ratio) -> None:
        """adj[y] += a·b, multiplying straight into the accumulator when both are polynomials."""
        if a.fac is not None or b.fac is not None:
            self.push(y, a * b)
            return
        bucket = self.adj_poly.get(y)
        if bucket is None:
            bucket = self.adj_poly[y] = {}
        if len(a.num) == 1 and len(b.num) == 1:
            # The common case (an atom's adjoint times a single-term partial): no loops.
            ((m1, c1),), ((m2, c2),) = a.num.items(), b.num.items()
            m = merge(m1, m2)
            bucket[m] = bucket.get(m, 0) + c1 * c2
        else:
            pmul_into(bucket, a.num, b.num)

    def adjoint(self, y: int) -> Ratio:
        value = Ratio(pclean(self.adj_poly.get(y, {})))
        rat = self.adj_rat.get(y)
        return value if rat is None else value + rat

    def push_inverse(self, atom: Atom, adj: Ratio) -> None:
        """Reverse mode through ``Y = inv(M)``: ``∂Y[i,j] = -Σ_kl Y[i,k] ∂M[k,l] Y[l,j]``, so the adjoint of
        ``Y[i,j]`` times ``-Y[i,k]·Y[l,j]`` goes to every variable of ``M[k,l]``."""
        i, j = atom.index
        ids, matrix = atom.group, atom.matrix
        assert matrix is not None
        cache = self.inverse_partials
        for k, row in enumerate(matrix):
            for col, entry in enumerate(row):
                key = (id(matrix), k, col)
                parts = cache.get(key)
                if parts is None:
                    parts = cache[key] = self.local_partials(entry)
                if not parts:
                    continue
                outer = adj * Ratio({merge((ids[i][k],), (ids[col][j],)): -1})
                for y, dy in parts.items():
                    self.push_product(y, outer, dy)
