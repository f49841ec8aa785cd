"""The derivation's last simplification: elementwise arithmetic multiplied out and like terms collected.

Hadamard products, sums, differences, scalings and integer powers of matrices of one shape are a
commutative ring entry by entry, so a region of the formula built only from them is a polynomial (or a
rational function) of its *atoms*, the maximal subexpressions of another kind (``sigmoid(w.T @ X).T``,
``Y.T``, ``X @ V``). SymPy multiplies the region out and collects it; when that spelling is shorter it
replaces the region. ``Y.T * (1 - S.T) + (Y.T - 1) * S.T`` becomes ``(Y - S).T``: atoms that are all
transposes come out as the transpose of one region. A rewrite that would change the region's shape (an
atom cancelled out of a broadcast) is refused. The derivation checks the simplified formula like every
step (:meth:`symderiv.explain.build.Builder.check_final`), so nothing here is trusted.

>>> from symderiv.syntax.language import parse
>>> from symderiv.syntax.printing import to_text
>>> from symderiv.syntax.shapes import infer_shapes
>>> e = parse("X @ (Y.T * (1 - sigmoid(w.T @ X).T) + (Y.T - 1) * sigmoid(w.T @ X).T)")
>>> typing = infer_shapes(e, {"w": ("m", 1), "X": ("m", "n"), "Y": (1, "n")})
>>> to_text(collect(e, typing.shape_of).formula)
'X @ (Y - sigmoid(w.T @ X)).T'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from symderiv.core import expr as ex

#: The nodes of an elementwise region (a commutative ring entry by entry).
_RING = (ex.Add, ex.Sub, ex.Mul, ex.Neg, ex.Number, ex.Div, ex.Power, ex.ConstMatrix)

ShapeOf = Callable[[ex.Expr], ex.Shape]


def _sympy() -> Any:
    """SymPy, loaded when a derivation first simplifies (it is slow to import)."""
    import sympy

    return sympy


@dataclass(frozen=True)
class Collected:
    """The simplified formula and the regions that changed, each as (before, after)."""

    formula: ex.Expr
    regions: tuple[tuple[ex.Expr, ex.Expr], ...]


def _is_ring(node: ex.Expr) -> bool:
    if isinstance(node, ex.Transpose):
        return _is_ring(node.operand)
    if isinstance(node, ex.Power):
        return isinstance(node.exponent, int)
    if isinstance(node, ex.Div):
        return True
    return isinstance(node, _RING)


class _Region:
    """One elementwise region as a SymPy expression over its atoms, and back."""

    def __init__(self) -> None:
        self.atoms: dict[ex.Expr, Any] = {}

    def to_sympy(self, node: ex.Expr, transposed: bool = False) -> Any:
        """The region over its atoms; a transpose is pushed down to the atoms (``(A - B).T`` = ``A.T - B.T``)
        and ``ones`` is the number 1 (a change of shape is refused afterwards)."""
        if isinstance(node, ex.Number):
            return _sympy().Rational(node.value.numerator, node.value.denominator)
        if isinstance(node, ex.ConstMatrix) and node.kind == "ones":
            return _sympy().Integer(1)
        if isinstance(node, ex.Transpose) and _is_ring(node.operand):
            return self.to_sympy(node.operand, not transposed)
        if isinstance(node, ex.Neg):
            return -self.to_sympy(node.operand, transposed)
        if isinstance(node, ex.Power):
            return self.to_sympy(node.operand, transposed) ** node.exponent
        if isinstance(node, (ex.Add, ex.Sub, ex.Mul, ex.Div)):
            a, b = self.to_sympy(node.left, transposed), self.to_sympy(node.right, transposed)
            ops: dict[type, Callable[[Any, Any], Any]] = {
                ex.Add: lambda x, y: x + y, ex.Sub: lambda x, y: x - y, ex.Mul: lambda x, y: x * y,
                ex.Div: lambda x, y: x / y}
            return ops[type(node)](a, b)
        if transposed:
            node = node.operand if isinstance(node, ex.Transpose) else ex.Transpose(node)
        if node not in self.atoms:
            self.atoms[node] = _sympy().Symbol(f"a{len(self.atoms)}", commutative=True)
        return self.atoms[node]

    def back(self, value: Any, atoms: dict[Any, ex.Expr]) -> ex.Expr:
        if value.is_Rational:
            return ex.Number(Fraction(int(value.p), int(value.q)))
        if value.is_Symbol:
            return atoms[value]
        sympy = _sympy()
        if value.is_Add:
            terms = sorted(value.args, key=lambda t: (sympy.Mul.make_args(t)[0].is_negative is True, self._rank(t)))
            out = self.back(terms[0], atoms)
            for t in terms[1:]:
                if sympy.Mul.make_args(t)[0].is_negative:
                    out = ex.Sub(out, self.back(-t, atoms))
                else:
                    out = ex.Add(out, self.back(t, atoms))
            return out
        if value.is_Mul:
            coeff, rest = value.as_coeff_Mul()
            if coeff == -1:
                return ex.Neg(self.back(rest, atoms))
            num, den = sympy.fraction(value)
            if den != 1:
                return ex.Div(self.back(num, atoms), self.back(den, atoms))
            factors = sorted(value.args, key=self._rank)
            out = self.back(factors[0], atoms)
            for f in factors[1:]:
                out = ex.Mul(out, self.back(f, atoms))
            return out
        if value.is_Pow and value.exp.is_Integer:
            if value.exp < 0:
                return ex.Div(ex.Number(Fraction(1)), self.back(value.base ** -value.exp, atoms))
            return ex.Power(self.back(value.base, atoms), exponent=int(value.exp))
        raise ValueError(f"no matrix spelling of {value}")  # pragma: no cover - the ring has no other nodes

    @staticmethod
    def _rank(t: Any) -> tuple[int, int]:
        """Constants first in a product, then the atoms in order of first appearance in the original."""
        free = sorted(t.free_symbols, key=lambda s: int(s.name[1:]))
        return (1, int(free[0].name[1:])) if free else (0, 0)


def _untransposed(node: ex.Expr, atoms: dict[ex.Expr, Any]) -> dict[Any, ex.Expr] | None:
    """The atoms without their transposes, when every atom is one (the region is then a transpose)."""
    if atoms and all(isinstance(a, ex.Transpose) for a in atoms):
        return {s: a.operand for a, s in atoms.items() if isinstance(a, ex.Transpose)}
    return None


def _size(node: ex.Expr) -> int:
    """The number of nodes: a spelling replaces another only when it has fewer (not merely fewer characters)."""
    return sum(1 for _ in node.walk())


def _simplify_region(node: ex.Expr, shape_of: ShapeOf) -> ex.Expr:
    sympy = _sympy()
    region = _Region()
    value = region.to_sympy(node)
    if not region.atoms:
        return node
    by_symbol = {s: a for a, s in region.atoms.items()}
    best, size = node, _size(node)
    for candidate in dict.fromkeys((sympy.expand(value), sympy.factor(value), sympy.cancel(value))):
        try:
            inner = _untransposed(node, region.atoms)
            built = (ex.Transpose(region.back(candidate, inner)) if inner is not None
                     else region.back(candidate, by_symbol))
            if shape_of(built) != shape_of(node):
                continue
        except Exception:  # noqa: BLE001 - a spelling that does not type-check is simply not used
            continue
        if _size(built) < size:
            best, size = built, _size(built)
    return best


def collect(formula: ex.Expr, shape_of: ShapeOf) -> Collected:
    """``formula`` with each elementwise region multiplied out and collected where that is shorter.

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.printing import to_text
    >>> from symderiv.syntax.shapes import infer_shapes
    >>> e = parse("A * (1 - A) + A * A")
    >>> to_text(collect(e, infer_shapes(e).shape_of).formula)
    'A'
    """
    regions: list[tuple[ex.Expr, ex.Expr]] = []

    def walk(node: ex.Expr) -> ex.Expr:
        if _is_ring(node) and not isinstance(node, ex.Number):
            opened = _open(node, walk)
            new = _simplify_region(opened, shape_of)
            if new != opened:
                regions.append((opened, new))
            return new
        if not node.children():
            return node
        return ex.with_children(node, [walk(c) for c in node.children()])

    return Collected(walk(formula), tuple(regions))


def _open(node: ex.Expr, walk: Callable[[ex.Expr], ex.Expr]) -> ex.Expr:
    """The region with its atoms simplified inside (an atom may hold a region of its own)."""
    if _is_ring(node):
        if not node.children():
            return node
        return ex.with_children(node, [_open(c, walk) for c in node.children()])
    return walk(node)


__all__ = ["Collected", "collect"]
