"""Second derivatives proved for all shapes, from two gradient proofs of the all-shapes (index) engine.

For symbolic shapes the entrywise oracle can only check sample sizes. A proof for every size follows
from two gradient identities, each proved for all shapes by :func:`symderiv.verify`, and one theorem:

1. ``∂L/∂w = g`` (the gradient formula, an ordinary gradient proof);
2. ``∂/∂w sum(g * V) = C_V``, where ``C_V`` is the claimed HVP, or ``C @ V`` for a claimed Hessian ``C``
   (a gradient proof for the scalar expression ``sum(g * V)``, with the upstream ``G`` renamed to a
   plain symbol because it is a constant there);
3. ``∂/∂w ⟨∂L/∂w, V⟩ = Hᵀ V = H V``: the Hessian of a twice continuously differentiable ``L`` is
   symmetric (Schwarz). Every function left in ``L`` is smooth on its domain: a function differentiable
   only once (``relu``, ``abs``, a generic ``phi``) stops the derivation before any proof is attempted.

So ``C_V = H V`` for every ``V`` (and ``C = H``). Only a proof of both identities for all shapes counts; anything
less leaves the verdict at what the sample sizes gave.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from symderiv.autodiff.backprop import differentiate
from symderiv.core import expr as ex
from symderiv.core.errors import SymderivError
from symderiv.core.status import Status
from symderiv.proofs.problem import Problem, Verdict
from symderiv.proofs.verification import verify
from symderiv.syntax.printing import to_text

__all__ = ["Pairing", "pairing", "prove_for_all_shapes"]


def _rename(node: ex.Expr, old: str, new: str) -> ex.Expr:
    if isinstance(node, ex.Symbol):
        return ex.Symbol(new) if node.name == old else node
    children = node.children()
    return ex.with_children(node, [_rename(c, old, new) for c in children]) if children else node


def _fresh(base: str, taken: set[str]) -> str:
    name = base
    while name in taken:
        name += "_"
    return name


def _all_shapes(verdict: Verdict) -> bool:
    return verdict.status is Status.PROVED and verdict.proof is not None and verdict.proof.all_shapes


@dataclass(frozen=True)
class Pairing:
    """The scalar ``sum(g * V)`` whose gradient is the HVP: its text, shapes, the gradient ``g`` and the name
    the upstream takes in it (``None`` for a scalar expression)."""

    text: str
    shapes: dict[str, ex.Shape]
    gradient: str
    constant: str | None


def pairing(problem: Problem, node: ex.Expr, wrt: str, direction: str) -> Pairing:
    """``sum((∂L/∂wrt) * direction)``, with the upstream renamed to a plain symbol (a constant there).

    >>> from symderiv.proofs.problem import prepare
    >>> problem = prepare("W @ X", ["W"], None)
    >>> p = pairing(problem, problem.expression, "W", "V")
    >>> p.text, p.constant, p.shapes["Gc"]
    ('sum((Gc @ X.T) * V)', 'Gc', ('n', 'p'))
    """
    symbols: dict[str, ex.Shape] = dict(problem.typing.symbols)
    gradient = differentiate(node, problem.typing, [wrt], upstream=problem.upstream)[0]
    shapes = {**symbols, direction: symbols[wrt]}
    constant = None
    expr = gradient.expr
    if not gradient.scalar:
        constant = _fresh(problem.upstream + "c", set(symbols) | {direction})
        shapes[constant] = problem.typing.shape_of(node)
        expr = _rename(expr, problem.upstream, constant)
    return Pairing(f"sum(({to_text(expr)}) * {direction})", shapes, gradient.formula, constant)


def prove_for_all_shapes(problem: Problem, node: ex.Expr, wrt: str, direction: str, claim: ex.Expr,
                         hessian: bool, timeout: float | None = None) -> str | None:
    """The reason of a proof for all shapes of the claimed HVP (or Hessian, ``hessian=True``), or None.

    ``node`` is the expression as derived (``log(1 + exp(u))`` read as ``softplus(u)``); ``claim`` is over
    the expression's names, the direction and the upstream. ``timeout`` bounds each of the two proofs.

    >>> from symderiv.proofs.problem import prepare
    >>> from symderiv.syntax.language import parse
    >>> problem = prepare("x.T @ A @ x", ["x"], {"x": ("n", 1)})
    >>> prove_for_all_shapes(problem, problem.expression, "x", "V", parse("(A + A.T) @ V"), False)[:30]
    'proved for all shapes (index n'
    """
    options: Mapping[str, object] = {"functions": problem.functions, "symmetric": sorted(problem.typing.symmetric)}
    try:
        paired = pairing(problem, node, wrt, direction)
        first = verify(to_text(node), wrt, claim=paired.gradient, shapes=problem.typing.symbols,
                       upstream=problem.upstream, method="exact", timeout=timeout, **options)  # type: ignore[arg-type]
        if not _all_shapes(first):
            return None
        c = to_text(claim if paired.constant is None else _rename(claim, problem.upstream, paired.constant))
        second = verify(paired.text, wrt, claim=f"({c}) @ {direction}" if hessian else c, shapes=paired.shapes,
                        upstream=_fresh("U", set(paired.shapes)), method="exact", timeout=timeout, **options)  # type: ignore[arg-type]
    except SymderivError:
        return None
    if not _all_shapes(second):
        return None
    what = "Hessian" if hessian else "HVP"
    return (f"proved for all shapes (index notation): ∂L/∂{wrt} = {paired.gradient}, and the {what} is the gradient "
            f"of sum((∂L/∂{wrt}) * {direction}), which is the Hessian applied to {direction} because a Hessian is "
            "symmetric")
