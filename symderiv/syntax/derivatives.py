"""The derivative of an elementwise function as an expression, read from its registry row.

Each row of :mod:`symderiv.ops.elementwise` writes ``f'`` once, in the language, over ``z`` (the
argument) and ``y`` (the value ``f(z)``). Every engine that needs ``f'`` goes through here: the gradient
rules and index notation substitute expressions, the provers evaluate the tree in their arithmetic.
"""

from __future__ import annotations

from functools import cache

from symderiv.core import expr as ex
from symderiv.core.errors import UnsupportedError
from symderiv.ops import elementwise
from symderiv.syntax.language import parse

#: The names of the argument and of the value in a row's derivative text.
ARGUMENT, VALUE = "z", "y"


@cache
def derivative_tree(fn: str) -> ex.Expr | None:
    """``f'`` over the symbols ``z`` and ``y``; None when the row says ``f`` is not differentiable.

    >>> from symderiv.syntax.printing import to_text
    >>> to_text(derivative_tree("phi")), derivative_tree("phi_prime")
    ('phi_prime(z)', None)
    """
    row = elementwise(fn)
    if row.derivative is None:
        return None
    generic = (fn,) if row.generic else ()
    return parse(row.derivative, functions=generic)


def substitute(tree: ex.Expr, values: dict[str, ex.Expr]) -> ex.Expr:
    """``tree`` with the named symbols replaced.

    >>> from symderiv.syntax.printing import to_text
    >>> to_text(substitute(parse("1 - y ** 2"), {"y": parse("W.T")}))
    '1 - W.T ** 2'
    """
    if isinstance(tree, ex.Symbol):
        return values.get(tree.name, tree)
    children = tree.children()
    if not children:
        return tree
    return ex.with_children(tree, tuple(substitute(c, values) for c in children))


def derivative_of(fn: str, arg: ex.Expr, value: ex.Expr | None = None) -> ex.Expr:
    """``f'(arg)`` as an expression; ``value`` is the node ``f(arg)`` to reuse where ``f'`` is written with it.

    >>> from symderiv.syntax.printing import to_text
    >>> to_text(derivative_of("phi", ex.Symbol("Z")))
    'phi_prime(Z)'
    >>> derivative_of("phi_prime", ex.Symbol("Z"))
    Traceback (most recent call last):
    symderiv.core.errors.UnsupportedError: cannot differentiate through phi_prime (the derivative of a generic function): symderiv has no rule for its derivative
    hint: differentiate an expression where the matrix you ask about is not inside phi_prime(...); phi_prime may appear in claims and results
    """
    tree = derivative_tree(fn)
    if tree is None:
        raise UnsupportedError(f"cannot differentiate through {elementwise(fn).not_differentiable or fn}: "
                               "symderiv has no rule for its derivative",
                               hint="differentiate an expression where the matrix you ask about is not inside "
                                    f"{fn}(...); {fn} may appear in claims and results")
    return substitute(tree, {ARGUMENT: arg, VALUE: value if value is not None else ex.Apply(arg, fn=fn)})


__all__ = ["ARGUMENT", "VALUE", "derivative_of", "derivative_tree", "substitute"]
