"""A first route for claims that name a function the expression spells out (or the other way round).

The simplifier writes ``exp(u) / (1 + exp(u))`` as ``sigmoid(u)`` when the registry row of sigmoid lists that
expansion. The ordinary proof treats ``sigmoid(u)`` and ``exp(u)`` as independent atoms and so cannot see
the identity. This route evaluates both sides with every such function written by its first expansion
(:func:`symderiv.proofs.exact.atoms.expansion_rule`); equal entries prove the claim (the expansions are
identities, checked by the test suite). Like the inverse-atoms route it only ever proves: when the entries
differ, the ordinary proof decides.
"""

from __future__ import annotations

from symderiv.core import expr as ex
from symderiv.ops import elementwise
from symderiv.proofs.exact.entrywise import Deadline, Instance
from symderiv.proofs.exact.prover import proves_with
from symderiv.syntax.derivatives import ARGUMENT, substitute
from symderiv.syntax.language import parse
from symderiv.syntax.shapes import Typing


def expanded_functions(node: ex.Expr) -> set[str]:
    """The functions of ``node`` whose registry rows list expansions.

    >>> from symderiv.syntax.language import parse
    >>> sorted(expanded_functions(parse("sigmoid(X) + exp(X)")))
    ['sigmoid']
    """
    return {n.fn for n in node.walk() if isinstance(n, ex.Apply) and elementwise(n.fn).expansions}


def write_out(node: ex.Expr) -> ex.Expr:
    """``node`` with each function whose registry row lists expansions written by the first of them.

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.printing import to_text
    >>> to_text(write_out(parse("A * sigmoid(X @ w)")))
    'A * (exp(X @ w) / (1 + exp(X @ w)))'
    """
    kids = node.children()
    if kids:
        node = ex.with_children(node, [write_out(k) for k in kids])
    if isinstance(node, ex.Apply) and (row := elementwise(node.fn)).expansions:
        return substitute(parse(row.expansions[0]), {ARGUMENT: node.operand})
    return node


def prove_with_expansions(expression: ex.Expr, wrt: str, claim: ex.Expr, typing: Typing, *, upstream: str = "G",
                          numerator_layout: bool = False, deadline: Deadline | None = None) -> bool:
    """True when ``claim`` is proved with the functions written by their expansions; False: not decided here.
    Tried only when the claim and the expression do not use the same such functions.

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.shapes import infer_shapes
    >>> e = parse("sum(log(1 + exp(-y * (X @ w))))")
    >>> typing = infer_shapes(e, {"X": (2, 2), "w": (2, 1), "y": (2, 1)})
    >>> right = parse("-X.T @ (y * sigmoid(-y * (X @ w)))")
    >>> prove_with_expansions(e, "w", right, typing), prove_with_expansions(e, "w", ex.Neg(right), typing)
    (True, False)
    """
    if expanded_functions(claim) == expanded_functions(expression):
        return False
    instance = Instance(typing, deadline=deadline, expand_functions=True)
    return proves_with(instance, expression, wrt, claim, upstream, numerator_layout)


__all__ = ["expanded_functions", "prove_with_expansions", "write_out"]
