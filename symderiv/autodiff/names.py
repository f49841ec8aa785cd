"""Named subexpressions: ``G * s * (1 - s) where s = sigmoid(X @ w)``.

A subexpression that appears more than once in a formula (and is more than a name or a number) gets
a short name; the formula is written over the names, each defined once after ``where``. The largest
repeated subexpression is named first, then the formula over the names is searched again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from symderiv.core import expr as ex
from symderiv.syntax.printing import to_latex, to_text

#: Names tried in order for the named subexpressions (those the formula already uses are skipped).
CANDIDATES = ("S", "T", "U", "V", "P", "Q", "R", "K")
_MAX_NAMES = 4
#: Small nodes still worth a name when repeated (a function value, an inverse); ``X.T`` is not.
_WORTH_A_NAME = (ex.Apply, ex.Call, ex.Inv, ex.Det, ex.Trace, ex.Sum)


def _size(node: ex.Expr) -> int:
    return sum(1 for _ in node.walk())


def _worth(node: ex.Expr) -> bool:
    if isinstance(node, ex.Transpose):
        node = node.operand
    return isinstance(node, _WORTH_A_NAME) or _size(node) >= 3


def _repeated(node: ex.Expr) -> ex.Expr | None:
    counts = Counter(n for n in node.walk() if not isinstance(n, (ex.Symbol, ex.Number, ex.ConstMatrix)))
    shared = [n for n, k in counts.items() if k > 1 and _worth(n)]
    return max(shared, key=_size, default=None)


def _replace(node: ex.Expr, old: ex.Expr, new: ex.Expr) -> ex.Expr:
    if node == old:
        return new
    kids = node.children()
    if not kids:
        return node
    return ex.with_children(node, [_replace(k, old, new) for k in kids])


def name_subexpressions(node: ex.Expr, taken: Iterable[str] = ()) -> tuple[ex.Expr, list[tuple[str, ex.Expr]]]:
    """``node`` over new names, and the definitions ``(name, subexpression)`` (in order of definition).

    >>> from symderiv.syntax.language import parse
    >>> body, defs = name_subexpressions(parse("X.T @ (sigmoid(X @ w) * (1 - sigmoid(X @ w)))"))
    >>> to_text(body), [(n, to_text(d)) for n, d in defs]
    ('X.T @ (S * (1 - S))', [('S', 'sigmoid(X @ w)')])
    """
    used = set(node.symbols()) | set(taken)
    free = [c for c in CANDIDATES if c not in used]
    defs: list[tuple[str, ex.Expr]] = []
    while free and len(defs) < _MAX_NAMES:
        shared = _repeated(node)
        if shared is None:
            break
        name = free.pop(0)
        node = _replace(node, shared, ex.Symbol(name))
        defs.append((name, shared))
    # A later name is a part of an earlier definition: write the earlier ones over it too.
    final = []
    for i, (name, d) in enumerate(defs):
        for later, sub in defs[i + 1:]:
            d = _replace(d, sub, ex.Symbol(later))
        final.append((name, d))
    return node, final[::-1]


def with_names_text(node: ex.Expr, taken: Iterable[str] = ()) -> str:
    """The formula in text, with ``where`` definitions of its repeated subexpressions.

    >>> from symderiv.syntax.language import parse
    >>> with_names_text(parse("inv(X).T - inv(X).T @ inv(X).T"))
    'S - S @ S where S = inv(X).T'
    """
    body, defs = name_subexpressions(node, taken)
    if not defs:
        return to_text(body)
    return to_text(body) + " where " + ", ".join(f"{n} = {to_text(d)}" for n, d in defs)


def with_names_latex(node: ex.Expr, taken: Iterable[str] = (), *, upstream: str = "G",
                     upstream_latex: str | None = None) -> str:
    r"""The formula in LaTeX, with ``\text{where}`` definitions of its repeated subexpressions.

    >>> from symderiv.syntax.language import parse
    >>> with_names_latex(parse("sigmoid(x) * (1 - sigmoid(x))"))
    'S \\odot \\left(1 - S\\right),\\quad \\text{where } S = \\sigma\\left(x\\right)'
    """
    body, defs = name_subexpressions(node, taken)
    text = to_latex(body, upstream=upstream, upstream_latex=upstream_latex)
    if not defs:
        return text
    return text + r",\quad \text{where } " + ", ".join(
        f"{n} = {to_latex(d, upstream=upstream, upstream_latex=upstream_latex)}" for n, d in defs)


__all__ = ["CANDIDATES", "name_subexpressions", "with_names_latex", "with_names_text"]
