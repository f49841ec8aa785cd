"""Derivations of a Hessian-vector product: the gradient formula differentiated along ``V``, block by block.

The HVP along ``V`` is the derivative of the gradient formula ``∂L/∂w`` along ``V``. A Hessian is
symmetric (the mixed partial derivatives of a twice-differentiable function commute), so that derivative
is the gradient, with respect to ``w``, of the scalar pairing ``sum((∂L/∂w) * V)``
(:func:`symderiv.proofs.hessian.hvp_pairing`). :func:`derive_hvp` derives that gradient with
:func:`symderiv.derive` -- blocks, steps and the checks of every step as for any gradient, the assumptions
in their own last step -- and adds the step that identifies the result with the HVP symderiv gives
(:func:`symderiv.hvp`, proved entrywise against an independent second-order oracle), checked exactly on
the small instance. The intro states the gradient formula, the pairing and why its gradient is the HVP.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from symderiv.core import expr as ex
from symderiv.core.errors import DerivationError
from symderiv.proofs.hessian import SecondDerivative, hvp, hvp_pairing
from symderiv.proofs.problem import prepare
from symderiv.render.text import TextPrinter
from symderiv.syntax.derivatives import substitute
from symderiv.syntax.language import parse
from symderiv.syntax.printing import to_text

from .assumptions import equal_under
from .check import concrete, small_sizes
from .derivation import Derivation, derive
from .steps import Code, Equation, Grad, Matrix, Prose, Step, StepKind, symbol


def intro(wrt: str, direction: str, gradient: ex.Expr, pairing: ex.Expr, constant: str | None,
          upstream: str) -> tuple[Prose, ...]:
    """The paragraphs that say what is derived: the gradient formula, the pairing, why its gradient is the HVP."""
    first: Prose = (
        "The Hessian-vector product along ", symbol(direction), " is the derivative of the gradient ",
        Equation((Grad(wrt), Matrix(gradient))), " along ", symbol(direction), ". A Hessian is symmetric, so it is "
        "the gradient of the scalar ", Matrix(pairing), " with respect to ", symbol(wrt),
        ", derived below block by block; in the steps below ", symbol("L"), " stands for that scalar.")
    if constant is None:
        return (first,)
    return (first, ("There ", symbol(constant), " is the upstream ", symbol(upstream), ", a constant."))


def _identify(wrt: str, direction: str, derived: ex.Expr, formula: ex.Expr, number: int, checked: bool,
              upstreams: Mapping[str, str]) -> Step:
    """The last step: the gradient of the pairing is the HVP, in symderiv's canonical form."""
    equation = Equation((Grad(wrt), Matrix(derived), Matrix(formula)) if derived != formula else
                        (Grad(wrt), Matrix(formula)))
    prose: Prose = ("This gradient of the scalar is the Hessian of the original loss applied to ", symbol(direction),
                    "; in symderiv's canonical form, as symderiv's ", Code("hvp"), " gives it:")
    text = TextPrinter(upstreams)
    note = "both sides compared exactly on the small instance" if checked else ""
    return Step(StepKind.RESULT, equation, prose, text.prose(prose), text.equation(equation), (), number, checked,
                note)


def derive_hvp(
    expr: str,
    wrt: str,
    direction: str = "V",
    shapes: Mapping[str, Any] | None = None,
    *,
    functions: Iterable[str] = (),
    symmetric: Iterable[str] = (),
    upstream: str = "G",
    layout: str = "denominator",
    check: bool = True,
    timeout: float | None = None,
    assume: Mapping[str, str] | None = None,
    indices: str | Sequence[str] = (),
    asides: bool = True,
) -> Derivation:
    """The HVP of ``expr`` along ``direction`` derived step by step: the gradient formula differentiated along it.

    The result is :func:`symderiv.hvp`'s formula with its proof record.

    >>> d = derive_hvp("x.T @ A @ x", "x", shapes={"x": ("n", 1)})
    >>> d.result.formula, d.result.proof_status
    ('(A.T + A) @ V', 'proved')
    >>> d.final[-1].equation_text
    '∂L/∂x = (A.T + A) @ V'
    """
    options: dict[str, Any] = {"functions": tuple(functions), "symmetric": tuple(symmetric), "upstream": upstream}
    result = hvp(expr, wrt, direction, shapes, layout=layout, check=check, timeout=timeout, assume=assume, **options)
    assert isinstance(result, SecondDerivative)  # no claim: a formula
    paired = hvp_pairing(expr, wrt, direction, shapes, **options)
    pairing = parse(paired.text, functions=options["functions"])
    used = pairing.symbols()
    kept = {k: v for k, v in (assume or {}).items() if k in used}
    derivation = derive(paired.text, wrt, paired.shapes, functions=functions, symmetric=symmetric, layout=layout,
                        check=check, timeout=timeout, assume=kept, indices=indices, asides=asides)
    derived = derivation.result.expr
    formula = result.expr
    if paired.constant is not None:
        formula = substitute(formula, {upstream: ex.Symbol(paired.constant)})
    if check:
        problem = prepare(paired.text, [wrt], paired.shapes, functions=functions, symmetric=symmetric, assume=kept)
        small = concrete(problem.typing, {}, small_sizes(problem.typing, problem.expression))[0]
        if not equal_under(problem, small, derived, formula):
            raise DerivationError(f"the derived {to_text(derived)} is not the HVP {result.formula} on the small "
                                  "instance; this is a bug in symderiv, please report it")
    number = (derivation.final[-1].block if derivation.final else len(derivation.blocks)) + (
        0 if derivation.final else 1)
    step = _identify(wrt, direction, derived, formula, number, check, derivation.upstreams)
    gradient = parse(paired.gradient, functions=options["functions"], upstream=upstream, allow_upstream=True)
    text = (*intro(wrt, direction, gradient, pairing, paired.constant, upstream), *derivation.intro)
    conclusion: Prose = ("Result: the Hessian-vector product along ", symbol(direction), " is ", Matrix(formula), ".")
    if asides:  # the formula in symderiv's language, and the prover's own words (quoted as they are: code)
        conclusion = (*conclusion[:-1], " (", Code(result.formula), f" in symderiv's language), {result.proof_status}",
                      *((": ", Code(result.proof_reason), ".") if result.proof_reason else (".",)))
    return replace(derivation, intro=text, final=(*derivation.final, step), conclusion=conclusion,
                   result=result)


__all__ = ["derive_hvp", "intro"]
