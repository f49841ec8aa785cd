"""Derivations under assumptions (``assume={"Y": "onehot_rows"}``): the step where the structure is used.

The blocks of a derivation derive the gradient for every value of the symbols held fixed (the index
notation knows no assumptions). The assumption enters once, in a last step: the general formula is
rewritten by the identities that the structure gives (:class:`~symderiv.autodiff.assumed.AssumedRewriter`,
the rules :func:`symderiv.gradient` uses), each identity stated in the sentence from its data
(``sum(Y, axis=1) = ones(N, 1)``, because each row of ``Y`` sums to 1). The step is checked exactly on the
derivation's small instance *under the assumption*: both sides evaluated with the structured symbol
parametrised (:class:`~symderiv.proofs.exact.assumed.Structure`) and compared modulo its equations
(one-hot rows ``p² = p``, signs ``y² = 1``). The intro says which assumptions the derivation has, and
the conclusion gives the general formula too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from symderiv.autodiff.assumed import AssumedRewriter
from symderiv.core import expr as ex
from symderiv.core.errors import DerivationError
from symderiv.proofs.exact.assumed import KINDS, Structure
from symderiv.proofs.exact.entrywise import Instance
from symderiv.proofs.problem import Problem
from symderiv.render.base import upstream_letters
from symderiv.render.text import TextPrinter
from symderiv.syntax.printing import to_text
from symderiv.syntax.shapes import Typing

from .steps import Code, Equation, Grad, Matrix, Prose, Step, StepKind, symbol

#: (before, after, name, kind): one identity the structure gives, as the rewriter records it.
Identity = tuple[ex.Expr, ex.Expr, str, str]


def reason(identity: Identity) -> Prose:
    """Why an identity holds, from its data: the kind of the symbol and the shape of the identity.

    >>> from symderiv.syntax.language import parse
    >>> reason((parse("sum(Y, axis=1)"), ex.ConstMatrix("ones", "N", 1), "Y", "onehot_rows"))
    ('each row of ', Matrix(expr=Symbol(name='Y')), ' sums to 1')
    """
    before, _, name, kind = identity
    if kind == "signs":
        return ("the entries of ", symbol(name), " are +1 or -1")
    if isinstance(before, ex.Transpose):
        return (symbol(name), f" is {kind}")
    if isinstance(before, (ex.Mul, ex.Power)):
        return ("the entries of ", symbol(name), " are 0 or 1")
    return (f"each {'row' if kind.endswith('_rows') else 'column'} of ", symbol(name), " sums to 1")


def assumption_prose(identities: list[Identity]) -> Prose:
    """The sentence of the step that uses the assumptions: each identity with its reason, then the substitution."""
    names = list(dict.fromkeys((name, kind) for _, _, name, kind in identities))
    out: list[Any] = ["Now the assumption" + ("s are" if len(names) > 1 else " is") + " used: "]
    for n, (name, kind) in enumerate(names):
        out += [", " if n else "", symbol(name), f" is {kind}"]
    out.append(", so ")
    for n, identity in enumerate(identities):
        before, after = identity[0], identity[1]
        out += ["; and " if n else "", Equation((Matrix(before), Matrix(after))), " because ", *reason(identity)]
    out.append(". Substituted into the formula, this gives:")
    return tuple(out)


def intro_note(assume: Mapping[str, str], used: bool) -> Prose:
    """The paragraph of the intro that states the assumptions and where they are used."""
    out: list[Any] = ["Assumption" + ("s" if len(assume) > 1 else "") + ": "]
    for n, (name, kind) in enumerate(assume.items()):
        out += [", " if n else "", symbol(name), " is ", Code(kind), f": {KINDS[kind]}"]
    if used:
        out.append(". The steps below hold for every value of the symbols held fixed; the last step uses the "
                   "assumption.")
    else:
        out.append(". The gradient does not need it: the formula below holds without it.")
    return tuple(out)


def equal_under(problem: Problem, typing: Typing, before: ex.Expr, after: ex.Expr) -> bool:
    """Whether ``before = after`` at every value the assumptions allow, on the concrete ``typing`` (exact)."""
    structure = Structure(problem.structured)
    instance = Instance(typing, structure=structure)
    if not problem.scalar:
        instance.symbol(problem.upstream, typing.shape_of(problem.expression))  # type: ignore[arg-type]
    left, right = instance.evaluate(before), instance.evaluate(after)
    return all(structure.equal(a, b) for row_a, row_b in zip(left, right, strict=True)
               for a, b in zip(row_a, row_b, strict=True))


def rewrite(problem: Problem, plain: ex.Expr) -> tuple[ex.Expr, list[Identity]]:
    """The general formula rewritten with the assumptions, and the identities used (as data)."""
    extra = {problem.upstream: problem.result_shape}
    rewriter = AssumedRewriter(problem.structured, lambda node: problem.typing.shape_of(node, extra),
                               frozenset(problem.typing.symmetric))
    after = rewriter.rewrite(plain)
    return (after, rewriter.identities) if rewriter.identities else (plain, [])


def under_assumptions(derivation: Any, problem: Problem, typing: Typing, number: int, check: bool,
                      conclusion: Callable[[ex.Expr], Prose]) -> Any:
    """``derivation`` (of the general gradient) with the step that uses the assumptions, the intro's note, the
    rewritten result and its conclusion (``conclusion(formula)``, the caller's sentence) followed by the general
    formula. ``typing`` is the concrete small typing the derivation's checks use."""
    result = derivation.result
    plain = result.expr
    after, identities = rewrite(problem, plain)
    intro = (*derivation.intro, intro_note(problem.structured, bool(identities)))
    if not identities:
        return replace(derivation, intro=intro)
    if check and not equal_under(problem, typing, plain, after):
        raise DerivationError(f"the step under the assumptions ({to_text(plain)} = {to_text(after)}) does not hold "
                              "on the small instance; this is a bug in symderiv, please report it")
    lhs = Grad(derivation.wrt, derivation.layout)
    equation = Equation((lhs, Matrix(after)))
    prose = assumption_prose(identities)
    text = TextPrinter(derivation.upstreams, upstream_letters(derivation.upstreams, getattr(derivation, "notation", "partial")))
    named = problem.assumptions_text()
    note = ("both sides compared exactly on the small instance, under the assumption" + ("s" if len(problem.structured) > 1
            else "") + " and modulo " + ("their" if len(problem.structured) > 1 else "its") + " equations") if check else ""
    step = Step(StepKind.RESULT, equation, prose, text.prose(prose), text.equation(equation), (), number, check, note)
    new_result = replace(result, expr=after, formula=to_text(after),
                         proof_reason="; ".join(r for r in (result.proof_reason, f"the last step holds {named}") if r))
    general: Prose = (" Without the assumption", "s" if len(problem.structured) > 1 else "", ", the gradient is ",
                      Equation((lhs, Matrix(plain))), ".")
    return replace(derivation, intro=intro, final=(*derivation.final, step), result=new_result,
                   conclusion=(*conclusion(after), *general))


__all__ = ["Identity", "assumption_prose", "equal_under", "intro_note", "reason", "rewrite", "under_assumptions"]

