"""How two derivations' results relate: the transpose picture of one another, the same formula, or neither.

``W @ X`` (samples as columns) and ``X @ W`` (samples as rows) are the same computation with every
matrix transposed; their gradients are then transposes of one another, which :func:`relation` says and
checks with :func:`~symderiv.proofs.verification.verify`.
"""

from __future__ import annotations

from typing import Protocol

from symderiv.autodiff.backprop import Gradient
from symderiv.core import expr as ex
from symderiv.proofs.index import tidy
from symderiv.proofs.verification import verify
from symderiv.syntax.derivatives import substitute
from symderiv.syntax.printing import to_text


class Derived(Protocol):
    """What :func:`relation` reads of a derivation."""

    @property
    def expression(self) -> str: ...

    @property
    def source(self) -> ex.Expr: ...

    @property
    def wrt(self) -> str: ...

    @property
    def result(self) -> Gradient: ...


def _transposed_symbols(node: ex.Expr) -> ex.Expr:
    """Every symbol read as its transpose."""
    return substitute(node, {n: ex.Transpose(ex.Symbol(n)) for n in node.symbols()})


def _norm(node: ex.Expr) -> ex.Expr:
    """Every transpose pushed down to the symbols (through products, entrywise operations, elementwise
    functions, powers and axis sums), double transposes cancelled."""
    if isinstance(node, ex.Transpose):
        return _tr(node.operand)
    return ex.with_children(node, [_norm(c) for c in node.children()])


def _tr(node: ex.Expr) -> ex.Expr:
    """``_norm(node.T)``."""
    if isinstance(node, ex.Transpose):
        return _norm(node.operand)
    if isinstance(node, ex.MatMul):
        return ex.MatMul(_tr(node.right), _tr(node.left))
    if isinstance(node, (ex.Add, ex.Sub, ex.Mul, ex.Div)):  # entrywise: (A + B)ᵀ = Aᵀ + Bᵀ
        return type(node)(_tr(node.left), _tr(node.right))
    if isinstance(node, ex.Neg):
        return ex.Neg(_tr(node.operand))
    if isinstance(node, ex.Apply):
        return ex.Apply(_tr(node.operand), fn=node.fn)
    if isinstance(node, ex.Power):
        return ex.Power(_tr(node.operand), exponent=node.exponent)
    if isinstance(node, ex.Sum) and node.axis is not None:
        return ex.Sum(_tr(node.operand), axis=1 - node.axis)
    if isinstance(node, (ex.Number, ex.Sum, ex.Trace, ex.Det)):  # scalars
        return _norm(node)
    if isinstance(node, ex.ConstMatrix):
        return ex.ConstMatrix(node.kind, node.cols, node.rows)
    return ex.Transpose(_norm(node))


def _through(node: ex.Expr) -> ex.Expr:
    return tidy(_norm(node))


def transposed_picture(node: ex.Expr) -> ex.Expr:
    """The same computation with every matrix transposed: ``W @ X`` → ``X @ W``, through elementwise
    functions and biases: ``sigmoid(W @ X + b)`` → ``sigmoid(X @ W + b)``.

    >>> from symderiv.syntax.language import parse
    >>> to_text(transposed_picture(parse("W @ X")))
    'X @ W'
    >>> to_text(transposed_picture(parse("relu(W @ X + b)")))
    'relu(X @ W + b)'
    """
    return _through(ex.Transpose(_transposed_symbols(node)))


def relation(first: Derived, second: Derived) -> str:
    """A sentence on how two derivations' results relate (transpose picture, equal, or unrelated).

    >>> from symderiv.explain.derivation import derive
    >>> print(relation(derive("W @ X", "W", check=False), derive("X @ W", "W", check=False)))  # doctest: +ELLIPSIS
    X @ W is W @ X with every matrix transposed...
    """
    e1, e2 = first.source, second.source
    f1, f2 = first.result.formula, second.result.formula
    if e1 == e2:
        return "The two expressions are the same, and so are the derivations."
    if _through(transposed_picture(e1)) == _through(e2):
        claim = to_text(transposed_picture(first.result.expr))
        try:
            holds = verify(second.expression, wrt=second.wrt, claim=claim, upstream=second.result.upstream).holds
        except Exception:  # noqa: BLE001 - the note is explanatory; a failed check is reported as such
            holds = False
        names = ", ".join(e1.symbols())
        text = (f"{second.expression} is {first.expression} with every matrix transposed ({names} read as their "
                f"transposes): the same computation with samples as rows instead of columns, so "
                f"{second.expression} = ({to_text(_transposed_symbols(e1))}).T. "
                f"Its upstream gradient is the transpose of the first one's, and the derivation is the same math "
                f"with the indices switched: ∂L/∂{first.wrt} = {f1} becomes ∂L/∂{second.wrt} = {f2}")
        text += (", exactly the transpose picture of the first result (checked: "
                 f"verify proves {claim} for the second expression)." if holds else ".")
        return text
    if f1 == f2:
        return f"Both give the same formula, ∂L/∂{first.wrt} = {f1}."
    return (f"The results differ (∂L/∂{first.wrt} = {f1} and {f2}), and the "
            "second expression is not the transposed picture of the first.")


__all__ = ["relation", "transposed_picture"]
