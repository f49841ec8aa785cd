"""The canonical spelling of numbers and neutral elements, shared by the simplifier's rule modules.

:class:`Canonical` knows shapes (through an optional oracle), what is a scalar, and how a product is
split into a rational coefficient and a core and joined back with the number on the first factor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fractions import Fraction

from symderiv.core import expr as ex
from symderiv.ops import matrix_op

ShapeFn = Callable[[ex.Expr], "ex.Shape | None"]
#: One term of a sum: its coefficient and its core (None: the term is a number).
Term = tuple[Fraction, "ex.Expr | None"]

ONE = Fraction(1)


def is_number(node: ex.Expr | None, value: Fraction | int | None = None) -> bool:
    """Whether ``node`` is a number (of the given value).

    >>> is_number(ex.Number(Fraction(2)), 2), is_number(ex.Symbol("A"))
    (True, False)
    """
    return isinstance(node, ex.Number) and (value is None or node.value == value)


class Canonical:
    """Shapes, scalars, zeros and the ``coefficient * core`` split (the base of the simplifier).

    >>> c, core = Canonical().split(ex.Neg(ex.Mul(ex.Number(Fraction(2)), ex.Symbol("A"))))
    >>> c, core
    (Fraction(-2, 1), Symbol(name='A'))
    """

    def __init__(self, shape: ShapeFn | None = None, symmetric: Iterable[str] = ()):
        self._shape_fn = shape
        self.symmetric = frozenset(symmetric)
        self._shapes: dict[ex.Expr, ex.Shape | None] = {}

    # -- shapes ------------------------------------------------------------
    def shape(self, node: ex.Expr) -> ex.Shape | None:
        if self._shape_fn is None:
            return None
        if node not in self._shapes:
            self._shapes[node] = self._shape_fn(node)
        return self._shapes[node]

    def is_scalar(self, node: ex.Expr) -> bool:
        if isinstance(node, (ex.Number, ex.Trace, ex.Det)):
            return True
        if isinstance(node, ex.Call) and matrix_op(node.op).scalar:
            return True
        if isinstance(node, ex.Sum) and node.axis is None:
            return True
        return self.shape(node) == (1, 1)

    def zeros(self, like: ex.Expr) -> ex.Expr:
        shape = self.shape(like)
        if shape is None:
            return ex.Number(Fraction(0))
        return ex.ConstMatrix("zeros", shape[0], shape[1])

    @staticmethod
    def is_zero(node: ex.Expr) -> bool:
        return is_number(node, 0) or (isinstance(node, ex.ConstMatrix) and node.kind == "zeros")

    @staticmethod
    def _rebuild(node: ex.Expr, children: list[ex.Expr]) -> ex.Expr:
        if not children or list(node.children()) == children:
            return node  # unchanged: keep the very node, so shape memos keep hitting
        return ex.with_children(node, children)

    # -- numbers in front of products --------------------------------------
    def split(self, node: ex.Expr) -> tuple[Fraction, ex.Expr | None]:
        """``node == coefficient * core``, where the core carries no number or sign in front (None: a number)."""
        if isinstance(node, ex.Number):
            return node.value, None
        if isinstance(node, ex.Neg):
            c, core = self.split(node.operand)
            return -c, core
        if isinstance(node, (ex.MatMul, ex.Mul)):
            ca, ka = self.split(node.left)
            cb, kb = self.split(node.right)
            if ka is None or kb is None:
                return ca * cb, kb if ka is None else ka
            return ca * cb, type(node)(ka, kb)
        if isinstance(node, ex.Div):
            ca, ka = self.split(node.left)
            cb, kb = self.split(node.right)
            if cb == 0:
                return ONE, node
            if kb is None:
                return ca / cb, ka
            return ca / cb, ex.Div(ka if ka is not None else ex.Number(ONE), kb)
        if isinstance(node, (ex.Sum, ex.Trace, ex.Transpose)):
            c, core = self.split(node.operand)
            if core is None or c == 1:
                return ONE, node
            return c, self._rebuild(node, [core])
        return ONE, node

    def join(self, coefficient: Fraction, core: ex.Expr | None) -> ex.Expr:
        """The canonical spelling of ``coefficient * core``: the number goes on the first factor."""
        if core is None:
            return ex.Number(coefficient)
        if coefficient == 0:
            return self.zeros(core)
        if coefficient == 1:
            return core
        return self._attach(coefficient, core)

    def _attach(self, coefficient: Fraction, node: ex.Expr) -> ex.Expr:
        # Python reads `2 * A @ B` as `(2 * A) @ B` and `-A @ B` as `(-A) @ B`: the number binds to the first factor.
        if isinstance(node, (ex.MatMul, ex.Mul, ex.Div)):
            return type(node)(self._attach(coefficient, node.left), node.right)
        if isinstance(node, ex.Number):
            return ex.Number(coefficient * node.value)
        if coefficient == -1:
            return ex.Neg(node)
        return ex.Mul(ex.Number(coefficient), node)

    def _canonical_product(self, node: ex.Expr) -> ex.Expr:
        c, core = self.split(node)
        return self.join(c, core)
