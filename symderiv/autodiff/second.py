"""Second order (module ``second``): the Hessian-vector product and the Hessian as matrix formulas.

The HVP is the derivative of the gradient formula along a direction ``V`` of the shape of ``wrt``.
It is derived by differentiating once more with the same reverse sweep: ``∂/∂w ⟨∂L/∂w, V⟩`` is
``H^T V``, which is ``H V`` because a Hessian is symmetric (the mixed partial derivatives of a
twice-differentiable function commute). For a matrix-valued ``E`` the loss is ``L = ⟨G, E⟩`` with the
upstream ``G`` held constant, so ``G`` is one more constant symbol of the second sweep.

The Hessian of a scalar ``E`` with respect to a column vector ``w`` (``n×1``) is the HVP formula with
the direction ``V`` replaced by ``eye(n)``: column ``j`` of the result is the HVP along the ``j``-th unit
vector, which holds when the formula handles ``V`` column by column (:func:`column_separable`).

Nothing here is proved: :mod:`symderiv.proofs.hessian` proves the formulas entrywise against an
independent oracle (:mod:`symderiv.proofs.exact.second`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from symderiv.autodiff.backprop import differentiate
from symderiv.autodiff.simplify import Simplifier
from symderiv.core import expr as ex
from symderiv.core.errors import OptionError, UnsupportedError
from symderiv.syntax.shapes import Typing, format_shape

__all__ = ["SECOND_HINT", "SecondTyping", "check_hessian", "column_separable", "hessian_expression", "hvp_expression", "name_softplus",
           "second_typing"]


#: What to do when a function is differentiable only once.
SECOND_HINT = ("second derivatives need functions differentiable twice; relu, abs and a generic phi are "
               "differentiable only once (their derivatives step, sign and phi_prime jump or are unknown)")


@dataclass(frozen=True)
class SecondTyping:
    """What the second sweep needs: the typing with the direction (and the upstream) as symbols."""

    typing: Typing
    wrt: str
    direction: str
    upstream: str
    scalar: bool


def second_typing(expression: ex.Expr, typing: Typing, wrt: str, direction: str, upstream: str) -> SecondTyping:
    """The typing of ``expression`` extended by the direction (shaped like ``wrt``) and the upstream.

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.shapes import infer_shapes
    >>> node = parse("W @ X")
    >>> second_typing(node, infer_shapes(node), "W", "V", "G").typing.symbols["V"]
    ('n', 'm')
    """
    names = expression.symbols()
    if direction in names or direction == upstream:
        raise OptionError(f"the direction `{direction}` is already a name of the expression",
                          hint="choose another name for the direction, e.g. direction='U' (--direction U)")
    symbols = dict(typing.symbols)
    symbols[direction] = symbols[wrt]
    scalar = typing.shape_of(expression) == (1, 1)
    if not scalar:
        symbols[upstream] = typing.shape_of(expression)
    return SecondTyping(Typing(symbols, typing.symmetric, None, dict(typing.sizes), dict(typing.aliases)), wrt,
                       direction, upstream, scalar)


def hvp_expression(expression: ex.Expr, typing: Typing, wrt: str, direction: str = "V",
                   upstream: str = "G") -> tuple[ex.Expr, SecondTyping]:
    """The HVP ``∇²L · V`` as a simplified formula over the expression's symbols, ``V`` (and ``G``).

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.printing import to_text
    >>> from symderiv.syntax.shapes import infer_shapes
    >>> node = parse("x.T @ A @ x")
    >>> to_text(hvp_expression(node, infer_shapes(node, {"x": ("n", 1)}), "x")[0])
    '(A.T + A) @ V'
    """
    second = second_typing(expression, typing, wrt, direction, upstream)
    gradient = differentiate(expression, typing, [wrt], upstream=upstream)[0]
    pairing = ex.Sum(ex.Mul(gradient.expr, ex.Symbol(direction)))
    # The pairing is 1×1, so the second sweep has no upstream of its own; its unused name must not shadow G.
    unused = upstream + "_"
    while unused in second.typing.symbols:
        unused += "_"
    try:
        hvp = differentiate(pairing, second.typing, [wrt], upstream=unused)[0].expr
    except UnsupportedError as err:  # the gradient holds a function without a derivative (step, phi_prime ...)
        raise UnsupportedError(f"no second derivative with respect to {wrt}: ∂L/∂{wrt} = {gradient.formula}, and "
                               f"{err.message}", hint=SECOND_HINT) from None
    return hvp, second


def column_separable(node: ex.Expr, direction: str, shape: Callable[[ex.Expr], ex.Shape]) -> bool:
    """Whether ``node`` (linear in the direction, every direction-dependent part a column or ``1×1``)
    maps the columns of a matrix put in place of the direction one by one.

    ``shape`` gives the shape of each node with the direction ``n×1``. Left products, sums and
    differences of dependent parts, negation, column sums and products (or quotients) with a
    direction-free column or ``1×1`` factor qualify; anything else does not.

    >>> from symderiv.syntax.language import parse
    >>> column_separable(parse("A @ V"), "V", lambda n: (2, 1))
    True
    >>> column_separable(parse("V.T @ A"), "V", lambda n: (1, 1))
    False
    """
    return _Separable(direction, shape).check(node)


class _Separable:
    def __init__(self, direction: str, shape: Callable[[ex.Expr], ex.Shape]) -> None:
        self.direction = direction
        self.shape = shape

    def depends(self, node: ex.Expr) -> bool:
        return self.direction in node.symbols()

    def column(self, node: ex.Expr) -> bool:
        return self.shape(node)[1] == 1

    def check(self, node: ex.Expr) -> bool:
        if not self.depends(node):
            return False
        if isinstance(node, ex.Symbol):
            return True
        if not self.column(node):
            return False
        return self._combination(node)

    def _combination(self, node: ex.Expr) -> bool:
        if isinstance(node, ex.Neg):
            return self.check(node.operand)
        if isinstance(node, ex.Sum):
            return node.axis == 0 and self.check(node.operand)
        if isinstance(node, ex.MatMul):
            return not self.depends(node.left) and self.check(node.right)
        if isinstance(node, ex.Add | ex.Sub):
            return self.check(node.left) and self.check(node.right)
        if isinstance(node, ex.Mul | ex.Div):
            left, right = self.depends(node.left), self.depends(node.right)
            if left and not right:
                return self.column(node.right) and self.check(node.left)
            return (isinstance(node, ex.Mul) and right and not left and self.column(node.left)
                    and self.check(node.right))
        return False


def _replace(node: ex.Expr, name: str, by: ex.Expr) -> ex.Expr:
    if isinstance(node, ex.Symbol):
        return by if node.name == name else node
    children = node.children()
    if not children:
        return node
    return ex.with_children(node, [_replace(child, name, by) for child in children])


def hessian_expression(expression: ex.Expr, typing: Typing, wrt: str, direction: str = "V") -> ex.Expr:
    """The ``n×n`` Hessian of a scalar ``expression`` with respect to a column vector ``wrt`` (``n×1``).

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.printing import to_text
    >>> from symderiv.syntax.shapes import infer_shapes
    >>> node = parse("sum((X @ w - y) ** 2)")
    >>> to_text(hessian_expression(node, infer_shapes(node, {"w": ("n", 1), "y": ("m", 1)}), "w"))
    '2 * X.T @ X'
    """
    rows = check_hessian(expression, typing, wrt)
    hvp, second = hvp_expression(expression, typing, wrt, direction)
    shapes: dict[ex.Expr, ex.Shape] = {}

    def shape(node: ex.Expr) -> ex.Shape:
        if node not in shapes:
            shapes[node] = second.typing.shape_of(node)
        return shapes[node]

    if direction not in hvp.symbols():
        return ex.ConstMatrix("zeros", rows, rows)
    hvp = _Columns(direction, shape).normalise(hvp)
    if not column_separable(hvp, direction, shape):
        raise UnsupportedError("the Hessian-vector product has no column-by-column form symderiv can turn into "
                               "a Hessian matrix",
                               hint="use hvp for the Hessian applied to a direction V (it is proved the same way)")
    simplifier = Simplifier(lambda node: second.typing.shape_of(node), typing.symmetric)
    columns = _Outer(direction, shape).rewrite(hvp)
    return simplifier.simplify(_replace(columns, direction, ex.ConstMatrix("eye", rows, rows)))


def check_hessian(expression: ex.Expr, typing: Typing, wrt: str) -> ex.Dim:
    """The size ``n`` of a column vector ``wrt`` of a scalar ``expression``; else an OptionError that says why.

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.shapes import infer_shapes
    >>> check_hessian(parse("sum(W)"), infer_shapes(parse("sum(W)"), {"W": (2, 3)}), "W")
    Traceback (most recent call last):
    symderiv.core.errors.OptionError: the Hessian is defined here for a column vector; `W` is 2×3
    hint: use hvp for the Hessian applied to a direction V of any shape
    """
    rows, cols = typing.symbols[wrt]
    shape = typing.shape_of(expression)
    if shape != (1, 1):
        raise OptionError(f"the Hessian is defined here for a scalar (1×1) expression; this one is "
                          f"{format_shape(shape)}",
                          hint="declare vectors as such (a shape n×1, e.g. --shape x=n,1); for a matrix-valued "
                               "expression use hvp, which pairs it with the upstream G")
    if cols != 1:
        raise OptionError(f"the Hessian is defined here for a column vector; `{wrt}` is {rows}×{cols}",
                          hint="use hvp for the Hessian applied to a direction V of any shape")
    return rows


class _Columns(_Separable):
    """Value-preserving rewrites that bring the direction to the right of products, so that every part that
    depends on it is a column or ``1×1``: ``(A @ B) @ C → A @ (B @ C)``, ``(A + B) @ C → A @ C + B @ C``,
    ``a.T @ b → b.T @ a`` for a ``1×1`` product with the direction in ``a``, ``v @ s → s * v`` for a ``1×1``
    direction-free ``s``, and ``t.T → t`` for a ``1×1`` ``t``."""

    def normalise(self, node: ex.Expr) -> ex.Expr:
        for _ in range(_PASSES):
            new = self.rewrite(node)
            if new == node:
                break
            node = new
        return node

    def rewrite(self, node: ex.Expr) -> ex.Expr:
        if not self.depends(node) or isinstance(node, ex.Symbol):
            return node
        node = ex.with_children(node, [self.rewrite(child) for child in node.children()])
        if isinstance(node, ex.Transpose) and self.shape(node) == (1, 1):
            return node.operand
        if isinstance(node, ex.MatMul):
            return self._product(node.left, node.right)
        return node

    def _product(self, a: ex.Expr, b: ex.Expr) -> ex.Expr:
        if isinstance(a, ex.MatMul):
            return ex.MatMul(a.left, ex.MatMul(a.right, b))
        if isinstance(a, ex.Add | ex.Sub) and self.depends(a):
            return type(a)(ex.MatMul(a.left, b), ex.MatMul(a.right, b))
        if isinstance(a, ex.Neg):
            return ex.Neg(ex.MatMul(a.operand, b))
        if isinstance(a, ex.Transpose) and self.depends(a) and self.shape(ex.MatMul(a, b)) == (1, 1):
            return ex.MatMul(ex.Transpose(b), a.operand)
        if self.depends(a) and not self.depends(b) and self.shape(b) == (1, 1):
            return ex.Mul(b, a)
        return ex.MatMul(a, b)


#: Passes of :class:`_Columns` at most (each moves the direction one step; expressions are small).
_PASSES = 25


class _Outer(_Separable):
    """Value-preserving rewrites of the direction-dependent parts that read well once ``V`` is ``eye(n)``:
    ``sum(a * v, axis=0)`` of two columns is ``a.T @ v``, and a ``1×1`` dependent factor ``s`` of a column
    ``c`` is ``c @ s`` (so that ``eye(n)`` in place of ``V`` gives an outer product, not a broadcast)."""

    def rewrite(self, node: ex.Expr) -> ex.Expr:
        if not self.depends(node) or isinstance(node, ex.Symbol):
            return node
        node = ex.with_children(node, [self.rewrite(child) for child in node.children()])
        if isinstance(node, ex.Sum) and node.axis == 0 and isinstance(node.operand, ex.Mul):
            a, b = node.operand.left, node.operand.right
            if self.depends(a):
                a, b = b, a
            if not self.depends(a) and self.shape(a) == self.shape(b):
                return ex.MatMul(ex.Transpose(a), b)
        if isinstance(node, ex.Mul):
            s, c = node.left, node.right
            if self.depends(c):
                s, c = c, s
            if not self.depends(c) and self.shape(s) == (1, 1) and self.column(c) and self.shape(c) != (1, 1):
                return ex.MatMul(c, s)
        return node


def _is_one(node: ex.Expr) -> bool:
    return isinstance(node, ex.Number) and node.value == Fraction(1)


def _softplus_argument(node: ex.Expr) -> ex.Expr | None:
    """``u`` when ``node`` is ``log(1 + exp(u))`` or ``log(exp(u) + 1)``, else None."""
    if not (isinstance(node, ex.Apply) and node.fn == "log" and isinstance(node.operand, ex.Add)):
        return None
    left, right = node.operand.left, node.operand.right
    for one, other in ((left, right), (right, left)):
        if _is_one(one) and isinstance(other, ex.Apply) and other.fn == "exp":
            return other.operand
    return None


def name_softplus(node: ex.Expr) -> ex.Expr:
    """``log(1 + exp(u))`` written as ``softplus(u)``, its definition, so that derivatives name the sigmoid.

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.printing import to_text
    >>> to_text(name_softplus(parse("sum(log(1 + exp(-y * (X @ w))))")))
    'sum(softplus(-y * (X @ w)))'
    """
    argument = _softplus_argument(node)
    if argument is not None:
        return ex.Apply(name_softplus(argument), fn="softplus")
    children = node.children()
    if not children:
        return node
    return ex.with_children(node, [name_softplus(child) for child in children])
