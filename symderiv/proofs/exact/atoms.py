"""The prover's variables: matrix entries, upstream entries and atoms, and the derivative of an atom.

Atoms are one application of an elementwise function (a row of :mod:`symderiv.ops`, or a generic
``phi``) to a canonical argument, or one entry of the inverse of a matrix. They are treated
as independent variables; equal atoms share one variable. The derivative of a function atom is its
registry row's derivative (:func:`symderiv.syntax.derivatives.derivative_tree`, text over ``z`` and
``y``) evaluated in :class:`~symderiv.proofs.exact.polynomial.Ratio` arithmetic at ``z`` = the
atom's argument and ``y`` = the atom; a function inside it (``phi_prime(z)``) is a new atom.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from symderiv.backends.walk import Interpreter
from symderiv.core import expr as ex
from symderiv.ops import Elementwise, elementwise
from symderiv.proofs.exact.polynomial import Ratio, normal_coeff
from symderiv.syntax.derivatives import ARGUMENT, derivative_tree
from symderiv.syntax.language import parse

__all__ = ["Atom", "NotDifferentiable", "Variables", "atom_derivative", "expansion_rule"]


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


class NotDifferentiable(ArithmeticError):
    """Raised when the chain rule meets a function without a derivative: one that jumps, or the derivative of a generic function."""


#: ``f'`` of one function, compiled: ``rule(vars_, u, y)`` with ``u`` the argument and ``y`` the atom.
Rule = Callable[[Variables, Ratio, Ratio], Ratio]


def atom_derivative(vars_: Variables, atom_var: int) -> Ratio:
    """``d fn(u) / du`` of a function atom, as a Ratio over atoms (new atoms such as ``phi_prime(u)`` are registered).

    >>> vs = Variables()
    >>> u = Ratio.var(vs.entry("X", 0, 0))
    >>> y = vs.atom("phi", u)
    >>> atom_derivative(vs, y).num, vs.names[-1]
    ({(2,): 1}, 'phi_prime(…)')
    """
    atom = vars_.atoms[atom_var]
    return _rule(atom.fn)(vars_, atom.arg, Ratio.var(atom_var))


@cache
def _rule(fn: str) -> Rule:
    """The compiled derivative of ``fn`` (once per function), or a rule that raises NotDifferentiable."""
    row = elementwise(fn)
    tree = derivative_tree(fn)
    if tree is None:
        message = _not_differentiable(row)

        def refuse(vars_: Variables, u: Ratio, y: Ratio) -> Ratio:
            raise NotDifferentiable(message)
        return refuse
    return _Compiler().evaluate(tree)


def _not_differentiable(row: Elementwise) -> str:
    if row.generic:
        return f"{row.name} is already a derivative; second derivatives are not supported"
    if row.kink:
        return f"{row.name} jumps at 0; its derivative is a Dirac delta, which symderiv does not represent"
    return f"{row.not_differentiable or row.name} has no derivative in symderiv"


class _Compiler(Interpreter[Rule]):
    """A derivative tree (scalar, over ``z`` and ``y``) as a closure over Ratio arithmetic."""

    def symbol(self, node: ex.Symbol) -> Rule:
        if node.name == ARGUMENT:
            return lambda vars_, u, y: u
        return lambda vars_, u, y: y

    def number(self, node: ex.Number) -> Rule:
        value = normal_coeff(node.value)
        return lambda vars_, u, y: Ratio.const(value)

    def apply(self, node: ex.Apply, row: Elementwise, a: Rule) -> Rule:
        name = row.name
        return lambda vars_, u, y: Ratio.var(vars_.atom(name, a(vars_, u, y)))

    def add(self, node: ex.Add, a: Rule, b: Rule) -> Rule:
        return lambda vars_, u, y: a(vars_, u, y) + b(vars_, u, y)

    def sub(self, node: ex.Sub, a: Rule, b: Rule) -> Rule:
        return lambda vars_, u, y: a(vars_, u, y) - b(vars_, u, y)

    def mul(self, node: ex.Mul, a: Rule, b: Rule) -> Rule:
        return lambda vars_, u, y: a(vars_, u, y) * b(vars_, u, y)

    def div(self, node: ex.Div, a: Rule, b: Rule) -> Rule:
        if isinstance(node.left, ex.Number) and node.left.value == 1:  # 1 / x: the reciprocal, no product
            return lambda vars_, u, y: b(vars_, u, y).reciprocal()
        return lambda vars_, u, y: a(vars_, u, y) / b(vars_, u, y)

    def neg(self, node: ex.Neg, a: Rule) -> Rule:
        return lambda vars_, u, y: -a(vars_, u, y)

    def power(self, node: ex.Power, a: Rule) -> Rule:
        k = node.exponent
        return lambda vars_, u, y: a(vars_, u, y).power(k)


@cache
def expansion_rule(fn: str) -> Rule | None:
    """``fn`` written by the first of its registry expansions (sigmoid as ``exp(z) / (1 + exp(z))``), as a
    rule over ``z``; None when the row has none. An :class:`~symderiv.proofs.exact.entrywise.Instance` made
    with ``expand_functions`` makes no atom of such a function, so it sees the identities between the function
    and its expansion (the simplifier writes them by name).

    >>> expansion_rule("exp") is None, expansion_rule("sigmoid") is not None
    (True, True)
    """
    row = elementwise(fn)
    if not row.expansions:
        return None
    return _Compiler().evaluate(parse(row.expansions[0]))
