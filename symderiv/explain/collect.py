"""The derivation's last simplification: elementwise arithmetic multiplied out and like terms collected.

Hadamard products, sums, differences, scalings and integer powers of matrices of one shape are a
commutative ring entry by entry, so a region of the formula built only from them is a polynomial (or a
rational function) of its *atoms*, the maximal subexpressions of another kind (``sigmoid(w.T @ X).T``,
``Y.T``, ``X @ V``). Exact rational arithmetic over the atoms (:mod:`symderiv.explain.ratfun`) multiplies the
region out, cancels and collects it; when that spelling has fewer nodes it replaces the region. ``Y.T * (1 - S.T) + (Y.T - 1) * S.T`` becomes ``(Y - S).T``: atoms that are all
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

from symderiv.core import expr as ex
from symderiv.core.errors import SymderivError

from . import ratfun as rf

#: The nodes of an elementwise region (a commutative ring entry by entry).
_RING = (ex.Add, ex.Sub, ex.Mul, ex.Neg, ex.Number, ex.Div, ex.Power, ex.ConstMatrix)

ShapeOf = Callable[[ex.Expr], ex.Shape]


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
    """One elementwise region as a rational function of its atoms, and back."""

    def __init__(self, node: ex.Expr) -> None:
        self.atoms: dict[ex.Expr, int] = {}
        self._find(node, False)
        self.width = len(self.atoms)

    @staticmethod
    def _atom(node: ex.Expr, transposed: bool) -> ex.Expr:
        if transposed:
            return node.operand if isinstance(node, ex.Transpose) else ex.Transpose(node)
        return node

    def _find(self, node: ex.Expr, transposed: bool) -> None:
        """The atoms in order of first appearance; a transpose is pushed down to them (``(A - B).T`` =
        ``A.T - B.T``) and ``ones`` is the number 1 (a change of shape is refused afterwards)."""
        if isinstance(node, ex.Number) or isinstance(node, ex.ConstMatrix) and node.kind == "ones":
            return
        if isinstance(node, ex.Transpose) and _is_ring(node.operand):
            self._find(node.operand, not transposed)
        elif _is_ring(node) and node.children():
            for child in node.children():
                self._find(child, transposed)
        else:
            self.atoms.setdefault(self._atom(node, transposed), len(self.atoms))

    def value(self, node: ex.Expr, transposed: bool = False) -> rf.Rational:
        if isinstance(node, ex.Number):
            return rf.constant(node.value, self.width)
        if isinstance(node, ex.ConstMatrix) and node.kind == "ones":
            return rf.constant(1, self.width)
        if isinstance(node, ex.Transpose) and _is_ring(node.operand):
            return self.value(node.operand, not transposed)
        if isinstance(node, ex.Neg):
            return rf.neg(self.value(node.operand, transposed))
        if isinstance(node, ex.Power):
            return rf.power(self.value(node.operand, transposed), node.exponent)
        if isinstance(node, (ex.Add, ex.Sub, ex.Mul, ex.Div)):
            ops = {ex.Add: rf.add, ex.Sub: rf.sub, ex.Mul: rf.mul, ex.Div: rf.div}
            return ops[type(node)](self.value(node.left, transposed), self.value(node.right, transposed))
        return rf.atom(self.atoms[self._atom(node, transposed)], self.width)

    def back(self, value: rf.Rational, atoms: list[ex.Expr]) -> ex.Expr:
        """The expression of a rational function: the numerator's terms (positive first, in the order of the
        atoms' first appearance) over the product of the denominator's factors."""
        num = self._poly(value.num, atoms)
        if not value.den:
            return num
        den = self._poly(value.den[0], atoms)
        for f in value.den[1:]:
            den = ex.Mul(den, self._poly(f, atoms))
        return ex.Div(num, den)

    def _poly(self, p: rf.Poly, atoms: list[ex.Expr]) -> ex.Expr:
        if not p:
            return ex.Number(Fraction(0))
        order = sorted(p, key=lambda m: (p[m] < 0, [-x for x in m]))
        out = self._term(order[0], p[order[0]], atoms)
        for m in order[1:]:
            if p[m] < 0:
                out = ex.Sub(out, self._term(m, -p[m], atoms))
            else:
                out = ex.Add(out, self._term(m, p[m], atoms))
        return out

    @staticmethod
    def _term(m: rf.Monomial, c: Fraction, atoms: list[ex.Expr]) -> ex.Expr:
        factors: list[ex.Expr] = []
        for k, e in enumerate(m):
            if e:
                factors.append(atoms[k] if e == 1 else ex.Power(atoms[k], exponent=e))
        if not factors:
            return ex.Number(c) if c >= 0 else ex.Neg(ex.Number(-c))
        out = factors[0]
        for f in factors[1:]:
            out = ex.Mul(out, f)
        if abs(c) != 1:
            out = ex.Mul(ex.Number(abs(c)), out)
        return ex.Neg(out) if c < 0 else out


def _untransposed(atoms: dict[ex.Expr, int]) -> list[ex.Expr] | None:
    """The atoms without their transposes, when every atom is one (the region is then a transpose)."""
    if atoms and all(isinstance(a, ex.Transpose) for a in atoms):
        return [a.operand for a in atoms if isinstance(a, ex.Transpose)]
    return None


def _size(node: ex.Expr) -> int:
    """The leaves, a power counted as its operand repeated: a spelling replaces another only with fewer
    (``A * (1 - A)`` stays; ``A - A ** 2`` is no shorter)."""
    if isinstance(node, ex.Power):
        return abs(node.exponent) * _size(node.operand)
    children = node.children()
    return sum(_size(c) for c in children) if children else 1


def _simplify_region(node: ex.Expr, shape_of: ShapeOf) -> ex.Expr:
    region = _Region(node)
    if not region.atoms:
        return node
    try:
        value = region.value(node)
        inner = _untransposed(region.atoms)
        built = (ex.Transpose(region.back(value, inner)) if inner is not None
                 else region.back(value, list(region.atoms)))
        if shape_of(built) != shape_of(node):
            return node
    except (SymderivError, ZeroDivisionError):  # a spelling that does not type-check is simply not used
        return node
    return built if _size(built) < _size(node) else node


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
