"""Step-by-step derivations: equations as data, a sentence each, every step checked.

``derive`` cuts the expression into *blocks* at its non-polynomial nodes
(elementwise functions, ``inv``, ``det``, operations differentiated by a lemma, divisions by the
variable), names each block's output (``D`` for a single product, ``Z`` for an affine map,
``A`` for an activation, ``L`` for a scalar loss) and derives one block at a
time in backprop order, always by the same six moves of the source derivation:

1. the chain rule as a sum over every entry of the block's output;
2. the sparsity of ``∂D_ij/∂V_dc``, which collapses that sum;
3. the index form of one entry, differentiated (``∂V_ab/∂V_dc = δ_ad δ_bc``);
4. the pieces put together;
5. entries transposed so each summed index sits between neighbours;
6. the matrix form (a sum over a shared index is a product).

Steps 2 and 5 are left out when they have nothing to do. Every equation is
evaluated exactly on a small concrete instance (:mod:`symderiv.explain.check`)
against the prover's own chain rule; a mismatch raises ``DerivationError``.
The pieces: :mod:`~symderiv.explain.steps` (the data), :mod:`~symderiv.explain.plan` (the blocks),
:mod:`~symderiv.explain.blocks` (the six moves), :mod:`~symderiv.explain.prose` (the sentences),
:mod:`~symderiv.explain.build` (the phases); :mod:`symderiv.render` prints the data as LaTeX,
Markdown, HTML or text, and this module puts it together.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast, overload

from symderiv.autodiff.backprop import Gradient
from symderiv.core import expr as ex
from symderiv.core.errors import OptionError, SymderivError
from symderiv.proofs.gradient import gradient
from symderiv.proofs.index import prove_all_shapes
from symderiv.proofs.problem import Problem, prepare
from symderiv.render import jupyter, render
from symderiv.render.base import NOTATIONS, upstream_letters
from symderiv.render.text import TextPrinter
from symderiv.syntax.printing import to_text

from . import prose as say
from .assumptions import under_assumptions
from .blocks import INDICES
from .build import Builder
from .check import concrete
from .parts import Several, combine
from .steps import Block, Document, Draft, Equation, Grad, Matrix, Step, StepKind
from .symmetric import with_convention
from .worked import Worked, worked_example


class _Rendered:
    """The formats of a derivation document (:func:`symderiv.render.render`), and its displays in Jupyter."""

    def to_latex(self, standalone: bool = True) -> str:
        """LaTeX: a standalone ``article`` (``standalone=False``: a fragment to ``\\input``)."""
        return render(cast(Document, self), "latex", standalone=standalone)

    def to_markdown(self) -> str:
        return render(cast(Document, self), "markdown")

    def to_html(self) -> str:
        return render(cast(Document, self), "html")

    def to_text(self, width: int | None = None) -> str:
        return render(cast(Document, self), "text", width=width)

    def __str__(self) -> str:
        return self.to_text()

    def _repr_latex_(self) -> str:
        """For Jupyter (MathJax): the equations in one ``align*``, each tagged with its step."""
        return jupyter(cast(Document, self))

    def _repr_markdown_(self) -> str:
        return self.to_markdown()


@dataclass(frozen=True)
class Derivation(_Rendered, Document):
    """A derivation of ``∂L/∂wrt``: blocks of steps, the intro, the conclusion, and the proved result.

    >>> d = derive("W @ X", wrt="W", check=False)
    >>> [s.kind.value for s in d.steps]
    ['chain_rule', 'sparsity', 'differentiate', 'substitute', 'transpose', 'matrix_form']
    >>> d.result.formula, d.shapes["W"]
    ('G @ X.T', ('n', 'm'))
    """

    #: The shapes of the expression's symbols.
    shapes: Mapping[str, ex.Shape]
    #: The gradient (symderiv's canonical formula), with its proof record.
    result: Gradient
    #: Number the display equations: LaTeX's own numbers, ``(1)``, ``(2)`` … in the other formats.
    numbered: bool = False
    #: The worked numeric example (``derive(..., worked=True)``), or None.
    worked: Worked | None = None
    #: How the steps write the upstream gradient: ``∂L/∂D_ij`` (``"partial"``) or its letter ``G_ij`` (``"upstream"``).
    notation: str = "partial"
    #: Print the asides: each step's note on how it was checked, and the result in symderiv's language.
    asides: bool = True

    @property
    def definitions(self) -> dict[str, ex.Expr]:
        """Each block's name and definition (inner blocks by their names), in backprop order."""
        return {b.name: b.definition for b in self.blocks}

    def __repr__(self) -> str:
        """Short: the expression, the variable, the number of steps and the result (the whole text is ``str``).

        >>> derive("W @ X", "W")
        <Derivation of ∂L/∂W for W @ X: 6 steps, ∂L/∂W = G @ X.T (proved)>
        """
        return (f"<Derivation of ∂L/∂{self.wrt} for {self.expression}: {len(self.steps)} steps, "
                f"∂L/∂{self.wrt} = {self.result.formula} ({self.result.proof_status})>")


@dataclass(frozen=True)
class Derivations(_Rendered, Several):
    """Several gradients of one expression in one document (``derive(expr, ["W", "b"])``): the blocks they share
    derived once, then each gradient's own blocks and result (:mod:`symderiv.explain.parts`).

    >>> d = derive("relu(W @ X + b)", ["W", "b"], {"b": ("H", 1)}, check=False)
    >>> d.names, [b.name for b in d.blocks], {w: g.formula for w, g in d.results.items()}
    (['W', 'b'], ['A'], {'W': '(G * step(W @ X + b)) @ X.T', 'b': 'sum(G * step(W @ X + b), axis=1)'})
    """

    #: Each gradient's own derivation, as ``derive(expr, wrt)`` gives it.
    derivations: tuple[Derivation, ...] = ()
    #: How the steps write the upstream gradient (as :attr:`Derivation.notation`).
    notation: str = "partial"
    #: Print the asides (as :attr:`Derivation.asides`).
    asides: bool = True

    @property
    def results(self) -> dict[str, Gradient]:
        """Each variable's proved gradient."""
        return {d.wrt: d.result for d in self.derivations}

    def __repr__(self) -> str:
        return f"<Derivations of {', '.join('∂L/∂' + n for n in self.names)} for {self.expression}: " \
               f"{len(self.steps)} steps>"


@overload
def derive(
    expr: str,
    wrt: str,
    shapes: Mapping[str, Any] | None = None,
    *,
    functions: Iterable[str] = (),
    symmetric: Iterable[str] = (),
    upstream: str = "G",
    layout: str = "denominator",
    check: bool = True,
    timeout: float | None = None,
    assume: Mapping[str, str] | None = None,
    symmetric_convention: str = "projection",
    indices: str | Sequence[str] = (),
    asides: bool = True,
    detail: str = "compact",
    numbered: bool = False,
    worked: bool = False,
    notation: str = "partial",
    _together: Sequence[str] = (),
) -> Derivation: ...


@overload
def derive(
    expr: str,
    wrt: Sequence[str],
    shapes: Mapping[str, Any] | None = None,
    *,
    functions: Iterable[str] = (),
    symmetric: Iterable[str] = (),
    upstream: str = "G",
    layout: str = "denominator",
    check: bool = True,
    timeout: float | None = None,
    assume: Mapping[str, str] | None = None,
    symmetric_convention: str = "projection",
    indices: str | Sequence[str] = (),
    asides: bool = True,
    detail: str = "compact",
    numbered: bool = False,
    worked: bool = False,
    notation: str = "partial",
    _together: Sequence[str] = (),
) -> Derivation | Derivations: ...


def derive(
    expr: str,
    wrt: str | Sequence[str],
    shapes: Mapping[str, Any] | None = None,
    *,
    functions: Iterable[str] = (),
    symmetric: Iterable[str] = (),
    upstream: str = "G",
    layout: str = "denominator",
    check: bool = True,
    timeout: float | None = None,
    assume: Mapping[str, str] | None = None,
    symmetric_convention: str = "projection",
    indices: str | Sequence[str] = (),
    asides: bool = True,
    detail: str = "compact",
    numbered: bool = False,
    worked: bool = False,
    notation: str = "partial",
    _together: Sequence[str] = (),
) -> Derivation | Derivations:
    """Derive ``∂L/∂wrt`` step by step in index notation, every step checked on a small instance.

    With no shapes the dimensions are the inferred names (``W @ X``: ``W`` is
    ``n×m``); give ``shapes={"W": ("H", "m"), "X": ("m", "n")}`` for the source's.
    ``check=False`` skips the entrywise checks (for speed; the result is then
    not proved). ``timeout`` (seconds) bounds the whole derivation; past it a TimeoutError is raised.
    ``asides=False`` leaves out the notes on how each step is checked and the result in symderiv's language.
    ``worked=True`` adds a worked numeric example (:mod:`symderiv.explain.worked`): small integer matrices, and
    every entry of each block computed from its index form with the numbers written out, cross-checked exactly.
    ``indices`` names the indices (``"a,b,r,s,t"``: ``V_ab``, the block entry ``D_rs``, then the summed ones).
    ``detail="compact"`` (the default) writes a routine block (an elementwise function, a bias, a scaling) as one
    step and the scalar loss's index form once; ``detail="full"`` gives every block all six moves.
    ``numbered=True`` numbers the display equations.
    ``notation="upstream"`` writes the upstream gradient in the steps by its letter (``G_ij``, and ``G_Z`` for an inner
    block's ``∂L/∂Z``, introduced once in its block) instead of ``∂L/∂D_ij`` (``"partial"``, the default); only the
    printing changes, the equations and their checks are the same.
    A list of names for ``wrt`` gives one document for all of them (:class:`Derivations`): the blocks they share
    are derived once.

    >>> d = derive("W @ X", wrt="W", shapes={"W": ("H", "m"), "X": ("m", "n")})
    >>> len(d.steps), d.result.formula, d.steps[0].checked
    (6, 'G @ X.T', True)
    >>> print(d.steps[0].equation_text)
    ∂L/∂W_dc = Σ_{i,j} ∂L/∂D_ij · ∂D_ij/∂W_dc
    >>> print(derive("W @ X", wrt="W", indices="a,b,r,s,t", check=False).steps[0].equation_text)
    ∂L/∂W_ab = Σ_{r,s} ∂L/∂D_rs · ∂D_rs/∂W_ab
    >>> print(derive("W @ X", wrt="W", notation="upstream", check=False).steps[0].equation_text)
    ∂L/∂W_dc = Σ_{i,j} G_ij · ∂D_ij/∂W_dc
    """
    if detail not in DETAILS:
        raise OptionError(f"detail must be one of {', '.join(DETAILS)}; got {detail!r}", hint="--detail full")
    if notation not in NOTATIONS:
        raise OptionError(f"notation must be one of {', '.join(NOTATIONS)}; got {notation!r}",
                          hint="--notation upstream")
    if not isinstance(wrt, str):
        return _several(expr, wrt, shapes, dict(
            functions=functions, symmetric=symmetric, upstream=upstream, layout=layout, check=check, timeout=timeout,
            assume=assume, symmetric_convention=symmetric_convention, indices=indices, asides=asides, worked=worked,
            detail=detail, numbered=numbered, notation=notation))
    started = time.monotonic()
    problem = prepare(expr, [wrt], shapes, functions=functions, symmetric=symmetric, upstream=upstream,
                      layout=layout, assume=assume, symmetric_convention=symmetric_convention)
    if wrt in problem.typing.symmetric:
        # The unconstrained gradient derived block by block, then the convention's step (explain/symmetric.py).
        options = {"functions": functions, "upstream": upstream, "layout": layout, "check": check,
                   "timeout": timeout, "indices": indices, "asides": asides, "detail": detail,
                   "numbered": numbered, "worked": worked, "notation": notation}
        return with_convention(derive, problem, wrt, options, check)
    names = _index_names(indices, problem)
    builder = Builder(problem, wrt, upstream, timeout, lambda upstreams, prose: TextPrinter(upstreams).prose(prose),
                      started, names, detail, _together)
    text = TextPrinter(builder.upstreams, upstream_letters(builder.upstreams, notation))
    with builder.limited():
        blocks = builder.blocks(check)
    composed = builder.compose(blocks, layout)
    # The derivation checks its own steps and proves the result below, so gradient()'s proof is not repeated.
    result = gradient(expr, wrt, shapes, functions=functions, symmetric=sorted(problem.typing.symmetric),
                      upstream=upstream, layout=layout, check=False)  # symmetric: assume={"S": "symmetric"} too
    assert isinstance(result, Gradient)
    builder.left()
    final, expanded = builder.final(composed, result.expr, layout, blocks)
    last = final[-1].equation.rhs if final else None
    if final and final[-1].kind is StepKind.SIMPLIFY and isinstance(last, Matrix):
        # the derivation ends on a shorter spelling than the canonical one: that is its result
        result = replace(result, expr=last.expr, formula=to_text(last.expr))
    # the final identity for all shapes: symderiv's canonical spelling, else the derivation's own form
    all_shapes = _all_shapes(problem, wrt, result.expr, expanded)
    builder.left()
    note = ""
    if check:
        with builder.limited():
            builder.check_blocks(blocks)
            note = builder.check_final(final, all_shapes)
        exact = problem.typing.is_concrete and not builder.small  # checked at the very shapes asked for
        status = "proved" if all_shapes == "canonical" or exact else "checked"
        result = result.with_proof(status, [builder.check_shapes()], result.proof_reason)

    def made(draft: Draft, note: str = "") -> Step:
        return Step(draft.kind, draft.equation, draft.prose, text.prose(draft.prose), text.equation(draft.equation),
                    draft.indices, draft.block, check, note)

    plan = builder.plan
    made_blocks = tuple(Block(spec.number, spec.name, spec.definition, spec.wrt, spec.upstream, spec.partial,
                              tuple(made(d) for d in drafts)) for spec, drafts in blocks.derived)
    example = None
    if worked:
        with builder.limited():
            example = worked_example(builder, made_blocks, result.expr)
    derivation = Derivation(
        expression=expr, source=problem.expression, wrt=wrt, layout=layout, upstreams=builder.upstreams,
        intro=say.intro(problem.typing.symbols, problem.expression, wrt, upstream, problem.scalar, plan.definitions,
                        plan.order, builder.check_shapes() if check and asides else None, names),
        blocks=made_blocks,
        final=tuple(made(d, note) for d in final),
        conclusion=say.conclusion(wrt, layout, result.expr, result.formula, all_shapes, check, asides),
        shapes=dict(problem.typing.symbols), result=result, numbered=numbered,
        worked=example, notation=notation, asides=asides)
    if not problem.structured:
        return derivation
    # The blocks derive the gradient for every value of the symbols held fixed; the assumptions enter in one last
    # step (explain/assumptions.py), with the conclusion about the rewritten formula.
    number = len(blocks.derived) + 1
    return under_assumptions(derivation, problem, concrete(problem.typing, {}, builder.small)[0], number, check,
                             lambda node: say.conclusion(wrt, layout, node, to_text(node), all_shapes, check, asides))


#: How much of each routine block a derivation writes out.
DETAILS = ("compact", "full")


def _several(expr: str, wrt: Sequence[str], shapes: Mapping[str, Any] | None,
             options: dict[str, Any]) -> Derivation | Derivations:
    """``derive`` with a list of names: each derived (within one timeout in all), then laid out as one document."""
    names = list(dict.fromkeys(wrt))
    if not names or not all(isinstance(n, str) for n in names):
        raise SymderivError("derive takes a name or a list of names to differentiate by",
                            hint='for example derive("W @ X + b", ["W", "b"])')
    started, timeout = time.monotonic(), options.pop("timeout")
    each: list[Derivation] = []
    for name in names:
        left = None if timeout is None else max(0.001, timeout - (time.monotonic() - started))
        # the other names' entry letters kept in each derivation, so that the blocks they share are identical
        each.append(derive(expr, name, shapes, timeout=left, _together=[n for n in names if n != name], **options))
    if len(each) == 1:
        return each[0]
    return Derivations(**combine(each), derivations=tuple(each), notation=options.get("notation", "partial"),
                       asides=options.get("asides", True))


def _index_names(indices: str | Sequence[str], problem: Problem) -> tuple[str, ...]:
    """The index names asked for, checked: at least four distinct letters or words, none a matrix's or a
    dimension's name (the defaults when none are given)."""
    names = tuple(n.strip() for n in (indices.split(",") if isinstance(indices, str) else indices) if n.strip())
    if not names:
        return INDICES
    taken = set(problem.typing.symbols) | set(problem.typing.dim_names) | {"L", problem.upstream}
    bad = [n for n in names if not n.isalpha() or not n.isascii() or n in taken]
    if bad or len(set(names)) != len(names) or len(names) < 4:
        raise OptionError(f"index names must be at least four distinct letters, none a matrix's or dimension's "
                          f"name; got {','.join(names)!r}", hint="for example --indices d,c,i,j,k")
    return names


def _all_shapes(problem: Problem, wrt: str, canonical: ex.Expr, expanded: ex.Expr) -> str | None:
    """Which form of the result the index engine proves for all shapes: ``canonical``, ``derived`` or None."""
    if prove_all_shapes(problem, wrt, canonical, refute=False) is True:
        return "canonical"
    if prove_all_shapes(problem, wrt, expanded, refute=False) is True:
        return "derived"
    return None


__all__ = ["DETAILS", "Block", "Derivation", "Derivations", "Equation", "Grad", "Matrix", "Step", "StepKind",
           "derive"]
