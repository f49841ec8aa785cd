"""Derivations with respect to a symmetric matrix: the unconstrained gradient, then the convention's step.

A gradient with respect to a symmetric ``S`` (SPEC section 6, docs/symmetric.md) is built from the
*unconstrained* gradient ``Gs``, the one that treats the entries of ``S`` as independent:

- ``symmetric_convention="projection"``: the symmetric part ``(Gs + Gsᵀ)/2``;
- ``"entries"``: the derivative with respect to the independent entries, ``Gs + Gsᵀ − diag(Gs)``, because an
  entry off the diagonal stands for two entries of ``S``.

So the derivation derives ``Gs`` block by block exactly as for a general square matrix (every step checked
as usual, ``S`` not symmetric there), and adds one last step: the convention applied to ``Gs``, written with
``S`` symmetric. That step is checked twice on the small instance: the convention's formula against the
result by exact evaluation (with ``S`` symmetric), and the result against the gradient with respect to the
symmetric matrix by the exact prover (:func:`symderiv.verify` with the convention), which does not use ``Gs``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from fractions import Fraction
from typing import Any

from symderiv.autodiff.backprop import Gradient
from symderiv.autodiff.simplify import Simplifier
from symderiv.core import expr as ex
from symderiv.core.errors import BudgetError, DerivationError
from symderiv.proofs.gradient import gradient
from symderiv.proofs.problem import Problem
from symderiv.proofs.verification import verify
from symderiv.render.base import upstream_letters
from symderiv.render.text import TextPrinter
from symderiv.syntax.printing import to_text

from .assumptions import equal_under
from .check import concrete, small_sizes
from .steps import Code, Equation, Grad, Matrix, Prose, Step, StepKind, symbol

#: What each convention does to the unconstrained gradient, in words (the formula follows in the step).
CONVENTIONS = {
    "projection": "the gradient is the symmetric part of the unconstrained one",
    "entries": ("the gradient is the derivative with respect to the independent entries: an entry off the diagonal "
                "stands for two entries of the matrix, so both of their derivatives count, and the diagonal once"),
}


def convention_formula(gs: ex.Expr, convention: str, n: ex.Dim, transposed: ex.Expr | None = None) -> ex.Expr:
    """``(Gs + Gsᵀ)/2`` (projection) or ``Gs + Gsᵀ − eye(n) * Gs`` (entries), unsimplified (``transposed``: ``Gsᵀ``
    as it is best written).

    >>> to_text(convention_formula(ex.Symbol("G"), "entries", "n"))
    'G + G.T - eye(n) * G'
    """
    both = ex.Add(gs, transposed or ex.Transpose(gs))
    if convention == "projection":
        return ex.Div(both, ex.Number(Fraction(2)))
    return ex.Sub(both, ex.Mul(ex.ConstMatrix("eye", n, n), gs))


def convention_prose(wrt: str, convention: str, unconstrained: ex.Expr) -> Prose:
    """The sentence of the convention's step, from its data: the matrix, the convention, ``Gs``."""
    return ("The matrix ", symbol(wrt), " is symmetric, so its entries on either side of the diagonal are one "
            "variable. The steps above treat them as independent and give the unconstrained gradient ",
            Matrix(unconstrained), "; under ", Code(f"symmetric_convention={convention!r}"), ", "
            + CONVENTIONS[convention] + ":")


def with_convention(derive: Callable[..., Any], problem: Problem, wrt: str, options: Mapping[str, Any],
                    check: bool) -> Any:
    """The derivation of ``∂L/∂wrt`` for a symmetric ``wrt``: ``derive`` (the caller's) of the unconstrained
    gradient, with ``wrt`` a general matrix of the same shape, then the convention's step."""
    convention = problem.symmetric_convention
    others = sorted(problem.typing.symmetric - {wrt})
    assume = {k: v for k, v in problem.assume.items() if k != wrt}
    plain = derive(problem.text, wrt, dict(problem.typing.symbols), **{**options, "symmetric": others,
                                                                       "assume": assume})
    gs = plain.result.expr
    final = gradient(problem.text, wrt, dict(problem.typing.symbols), functions=problem.functions,
                     symmetric=sorted(problem.typing.symmetric), upstream=problem.upstream, layout=problem.layout,
                     assume=problem.assume, symmetric_convention=convention, check=False)
    assert isinstance(final, Gradient)
    lhs = Grad(wrt, problem.layout)
    extra = {problem.upstream: problem.result_shape}
    general = Simplifier(lambda node: problem.typing.shape_of(node, extra), frozenset(others))  # wrt not symmetric
    formula = convention_formula(gs, convention, problem.typing.symbols[wrt][0], general.simplify(ex.Transpose(gs)))
    equation = Equation((lhs, Matrix(formula), Matrix(final.expr)))
    status, reason = plain.result.proof_status, ""
    note = ""
    if check:
        small = concrete(problem.typing, {}, small_sizes(problem.typing, problem.expression))[0]
        if not equal_under(problem, small, formula, final.expr):
            raise DerivationError(f"the convention's step ({to_text(formula)} = {final.formula}) does not hold on "
                                  "the small instance; this is a bug in symderiv, please report it")
        status, reason, how = _prove(problem, wrt, final.formula, plain.result.proof_status)
        note = f"both sides compared exactly, the matrix held symmetric; the result {how}"
    prose = convention_prose(wrt, convention, gs)
    text = TextPrinter(plain.upstreams, upstream_letters(plain.upstreams, getattr(plain, "notation", "partial")))
    number = (plain.final[-1].block if plain.final else len(plain.blocks)) + (0 if plain.final else 1)
    step = Step(StepKind.RESULT, equation, prose, text.prose(prose), text.equation(equation), (), number, check,
                note)
    result = final.with_proof(status, [dict(small.symbols)] if check else [], reason)
    conclusion: Prose = ("Result: ", Equation((lhs, Matrix(final.expr))), ", with ", symbol(wrt), " symmetric.")
    if options.get("asides", True):
        conclusion = ("Result: ", Equation((lhs, Matrix(final.expr))), " (", Code(final.formula),
                      " in symderiv's language), with ", symbol(wrt), " symmetric (",
                      Code(f"symmetric_convention={convention!r}"), "): "
                      + (f"the result {how}." if check else "not checked (check=False)."))
    intro = (*plain.intro, ("The matrix ", symbol(wrt), " is symmetric, and the gradient follows ",
                            Code(f"symmetric_convention={convention!r}"), ": the blocks below derive the unconstrained "
                            "gradient, and the last step applies the convention to it."))
    return replace(plain, intro=intro, final=(*plain.final, step), result=result, conclusion=conclusion)


def _prove(problem: Problem, wrt: str, formula: str, steps: str) -> tuple[str, str, str]:
    """The result against the gradient with respect to the symmetric matrix, by the exact prover (which does not use
    the unconstrained gradient): the status, the prover's reason and the clause for the step's note."""
    try:
        verdict = verify(problem.text, wrt, formula, dict(problem.typing.symbols), functions=problem.functions,
                         symmetric=sorted(problem.typing.symmetric), upstream=problem.upstream, layout=problem.layout,
                         assume=problem.assume, symmetric_convention=problem.symmetric_convention, method="exact")
    except BudgetError as err:
        return steps, "", f"is not proved by the exact prover at these shapes ({err.message})"
    if not verdict.holds and not verdict.checked_at_sizes:
        raise DerivationError(f"the derived {formula} is not the gradient with respect to the symmetric `{wrt}` "
                              f"({verdict.reason}); this is a bug in symderiv, please report it")
    if verdict.holds:
        return "proved", verdict.reason, "is proved entrywise by the exact prover (its reason is in the result's proof record)"
    return "checked", verdict.reason, "is checked by the exact prover at sample sizes (not a proof for all shapes)"


__all__ = ["CONVENTIONS", "convention_formula", "convention_prose", "with_convention"]
