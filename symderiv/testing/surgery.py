"""Expression surgery for diagnoses: trees in, trees out (text only for display), and the correct formula.

Each candidate is a transformed claim or expression (a transpose, swapped factors, a
sum over the other axis, the expression without a function whose derivative is a mask); a diagnosis is only
given when a candidate verifies, never from how a claim is spelled.

>>> from symderiv.syntax.language import parse
>>> [show(c) for c in order_candidates(parse("A @ B"))]
['B @ A']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any

from symderiv import ops
from symderiv.core import expr as ex
from symderiv.core.errors import SymderivError
from symderiv.proofs.gradient import gradient
from symderiv.syntax.printing import to_text

#: Options of ``verify`` that also shape the correct formula (passed on to ``gradient``).
FORMULA_OPTIONS = ("functions", "symmetric", "upstream", "layout", "budget", "timeout", "method", "assume",
                   "symmetric_convention")
#: Most candidates tried per diagnosis family, so a long claim cannot make a failure slow.
MAX_CANDIDATES = 8



def show(node: ex.Expr) -> str:
    """The expression as text."""
    return to_text(node)


def rebuild(node: ex.Expr, visit: Callable[[ex.Expr], ex.Expr | None]) -> ex.Expr:
    """Bottom-up copy of ``node``; ``visit`` may return a replacement for any (already rebuilt) node."""
    changes = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if isinstance(value, ex.Expr):
            new = rebuild(value, visit)
            if new is not value:
                changes[f.name] = new
    if changes:
        node = dataclasses.replace(node, **changes)
    replaced = visit(node)
    return node if replaced is None else replaced


def replace_at(root: ex.Expr, target: ex.Expr, new: ex.Expr) -> ex.Expr:
    """``root`` with the node *object* ``target`` (identity, not equality) replaced by ``new``."""
    if root is target:
        return new
    changes = {}
    for f in dataclasses.fields(root):
        value = getattr(root, f.name)
        if isinstance(value, ex.Expr):
            child = replace_at(value, target, new)
            if child is not value:
                changes[f.name] = child
    return dataclasses.replace(root, **changes) if changes else root


def matmul_factors(node: ex.Expr) -> list[ex.Expr]:
    if isinstance(node, ex.MatMul):
        return matmul_factors(node.left) + matmul_factors(node.right)
    return [node]


def chain(factors: Sequence[ex.Expr]) -> ex.Expr:
    node = factors[0]
    for f in factors[1:]:
        node = ex.MatMul(node, f)
    return node


def order_candidates(claim: ex.Expr) -> list[ex.Expr]:
    """The claim with one product's factors swapped, or a whole product chain reversed."""
    out: list[ex.Expr] = []
    for node in claim.walk():
        if isinstance(node, ex.MatMul):
            out.append(replace_at(claim, node, ex.MatMul(node.right, node.left)))
            factors = matmul_factors(node)
            if len(factors) > 2:
                out.append(replace_at(claim, node, chain(factors[::-1])))
    return out


def axis_candidates(node: ex.Expr) -> list[ex.Expr]:
    """``node`` with one ``sum(..., axis=a)`` summed over the other axis instead."""
    out: list[ex.Expr] = []
    for sub in node.walk():
        if isinstance(sub, ex.Sum) and sub.axis is not None:
            flipped = replace_at(node, sub, ex.Sum(sub.operand, axis=1 - sub.axis))
            out += [flipped, ex.Transpose(flipped)]
    return out


def masked(node: ex.Expr) -> bool:
    """Whether ``node`` applies a function whose derivative is a 0/1 mask (its row's ``mask``: relu)."""
    return isinstance(node, ex.Apply) and ops.elementwise(node.fn).mask is not None


def without_masks(expression: ex.Expr) -> list[tuple[ex.Expr, list[ex.Apply]]]:
    """The expression with one masked function application (and with every one) replaced by its argument,
    each with the applications taken out: the candidates for a backward pass that forgot the mask.

    >>> from symderiv.syntax.language import parse
    >>> [(show(e), [show(n) for n in taken]) for e, taken in without_masks(parse("W @ relu(X)"))]
    [('W @ X', ['relu(X)'])]
    """
    nodes = [n for n in expression.walk() if isinstance(n, ex.Apply) and masked(n)]
    out = [(replace_at(expression, node, node.operand), [node]) for node in nodes]
    if len(nodes) > 1:
        stripped = rebuild(expression, lambda n: n.operand if isinstance(n, ex.Apply) and masked(n) else None)
        out.append((stripped, nodes))
    return out


def mask_of(node: ex.Apply) -> ex.Apply:
    """The mask that the derivative of a masked application multiplies by (``step(Z)`` for ``relu(Z)``).

    >>> from symderiv.syntax.language import parse
    >>> show(mask_of(parse("relu(W @ X)")))
    'step(W @ X)'
    """
    return ex.Apply(node.operand, fn=ops.elementwise(node.fn).mask or "")


def mask_functions(nodes: Sequence[ex.Apply]) -> list[str]:
    """The names of the masked functions applied, without repeats, in order."""
    return list(dict.fromkeys(n.fn for n in nodes))


def unique(nodes: Iterable[ex.Expr], exclude: ex.Expr) -> list[ex.Expr]:
    seen: list[ex.Expr] = []
    for n in nodes:
        if n != exclude and n not in seen:
            seen.append(n)
    return seen[:MAX_CANDIDATES]


def as_fraction(text: str | None) -> Fraction | None:
    if text is None:
        return None
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        pass
    try:
        return Fraction(float(text)).limit_denominator(1000)
    except (ValueError, OverflowError):
        return None


# --------------------------------------------------------------------------
# The correct formula


def derive_gradient(expression: str, wrt: str, shapes: Mapping[str, Any] | None, options: Mapping[str, Any],
             check: bool = True) -> Any:
    """``symderiv.gradient(...)`` (a Gradient), or None when it refuses the expression."""
    kwargs = {k: options[k] for k in FORMULA_OPTIONS if k in options}
    try:
        return gradient(expression, wrt=wrt, shapes=shapes, check=check, **kwargs)
    except SymderivError:
        return None


def gradient_formula(expression: str, wrt: str, shapes: Mapping[str, Any] | None,
                      options: Mapping[str, Any], check: bool = True) -> str | None:
    """``symderiv.gradient(...).formula``, or None."""
    formula = getattr(derive_gradient(expression, wrt, shapes, options, check), "formula", None)
    return formula if isinstance(formula, str) else None



__all__ = ["show", "rebuild", "replace_at", "order_candidates", "axis_candidates", "without_masks", "masked", "mask_of",
           "mask_functions", "unique",
           "as_fraction", "derive_gradient", "gradient_formula", "FORMULA_OPTIONS", "MAX_CANDIDATES"]
