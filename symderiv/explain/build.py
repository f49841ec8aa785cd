"""Building a derivation: the blocks in backprop order, the final steps, and the checks of every step.

:class:`Builder` holds what the blocks share (the plan, the upstream symbol of each block, the shapes
of every name, the index engine) and works in phases that :func:`symderiv.explain.derivation.derive`
runs in order: derive the blocks (:meth:`Builder.blocks`), chain them into one formula and write the
final steps (:meth:`Builder.final`), then check every draft (:meth:`Builder.check_blocks`,
:meth:`Builder.check_final`). Steps are drafts until checked: the frozen
:class:`~symderiv.explain.steps.Step` is made once its check is known.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from symderiv.core import expr as ex
from symderiv.core.errors import TimeoutError
from symderiv.core.meter import metered
from symderiv.proofs.exact.entrywise import Deadline
from symderiv.proofs.index import IndexEngine, contains, tidy
from symderiv.proofs.problem import Problem
from symderiv.syntax.derivatives import substitute
from symderiv.syntax.printing import to_text

from . import prose as say
from . import shortened
from .blocks import INDICES, BlockDeriver, BlockSpec
from .check import Checker, concrete, small_sizes
from .collect import collect
from .plan import Plan, expand_names, plan_blocks
from .steps import Draft, Equation, Grad, Matrix, Prose, StepKind

#: A sentence in plain text, given the upstream symbols (``G`` → ``D``), for error messages.
Describe = Callable[[Mapping[str, str], Prose], str]

#: Why the final steps of an expression with nested quotients are not compared with the oracle.
QUOTIENT_NOTE = ("the formulas checked against one another; their link to the gradient is the identity proved "
                 "for all shapes in index notation")


def _total(parts: Sequence[ex.Expr]) -> ex.Expr:
    total = parts[0]
    for p in parts[1:]:
        total = ex.Add(total, p)
    return total


@dataclass
class Blocks:
    """The derived blocks, each with its drafts (an accumulate step first where its gradient is a sum)."""

    derived: list[tuple[BlockSpec, list[Draft]]] = field(default_factory=list)
    #: Each name's matrix contributions to ∂L/∂name, in the order the blocks gave them.
    contributions: dict[str, list[ex.Expr]] = field(default_factory=dict)
    #: ∂L/∂name for each inner name, in terms of its consumers' upstream symbols.
    grads: dict[str, ex.Expr] = field(default_factory=dict)


class Builder:
    """The shared state of one derivation of ``∂L/∂wrt``."""

    def __init__(self, problem: Problem, wrt: str, upstream: str, timeout: float | None,
                 describe: Describe, started: float | None = None, indices: Sequence[str] = INDICES,
                 detail: str = "compact", together: Sequence[str] = ()) -> None:
        self.problem = problem
        self.indices = tuple(indices)
        self.wrt = wrt
        self.timeout = timeout
        #: One limit for the whole derivation: every phase gets what is left of it.
        seconds = Deadline(timeout).seconds  # validated: a positive, finite number or None
        # from ``started`` (time.monotonic() when the caller began: parsing counts too)
        self.end = None if seconds is None else (time.monotonic() if started is None else started) + seconds
        self._describe = describe
        self.symmetric = frozenset(problem.typing.symmetric)
        typing = problem.typing
        taken = set(typing.symbols) | set(typing.dim_names) | {upstream, "L", "G"}
        self.plan: Plan = plan_blocks(problem.expression, wrt, problem.scalar, taken)
        # upstream symbols: the user's for the root, fresh names for inner blocks
        self.upstreams: dict[str, str] = {}
        self.up_of: dict[str, str | None] = {}
        for name in self.plan.order:
            sym: str | None = None if problem.scalar else upstream
            if name != self.plan.root:
                sym = f"dL_d{name}"
                while sym in taken:
                    sym += "_"
            self.up_of[name] = sym
            if sym is not None:
                self.upstreams[sym] = name
        self.shapes_all: dict[str, ex.Shape] = dict(typing.symbols)
        self.full: dict[str, ex.Expr] = {}  # each name's definition in the original names
        for name in reversed(self.plan.order):
            self.full[name] = substitute(self.plan.definitions[name], self.full)
            self.shapes_all[name] = typing.shape_of(self.full[name])
            sym = self.up_of[name]
            if sym is not None:
                self.shapes_all[sym] = self.shapes_all[name]
        #: Large concrete sizes replaced by small ones of the same structure, for the checks.
        self.small = small_sizes(typing, problem.expression)
        self.engine = IndexEngine(typing, self.shapes_all, reserved=set(self.shapes_all) | {"L"})
        #: Each index letter's range in the whole document: one letter, one range, across the blocks.
        self.ranges: dict[str, ex.Dim] = {}
        # The entry V_dc the intro picks keeps its letters; in a document of several gradients (``together``: the
        # other names) their entries' letters are kept too, so that a block they share reads the same in each.
        for name in (wrt, *(n for n in together if n in self.shapes_all)):
            for letter, dim in zip(self.indices[:2], self.shapes_all[name], strict=True):
                if dim != 1:
                    self.ranges.setdefault(letter, dim)
        self.detail = detail
        self.shown: set[str] = set()  # scalar losses whose index form is written out

    def left(self) -> float | None:
        """The seconds left of the timeout (None: no limit); raises TimeoutError once it has run out.

        Called between phases and before each check, so the whole derivation stops near its limit."""
        if self.end is None:
            return None
        rest = self.end - time.monotonic()
        if rest <= 0:
            raise TimeoutError(f"the derivation stopped after the time limit of {self.timeout:g} s",
                               hint="raise --timeout, or derive with check=False")
        return rest

    def _expire(self) -> None:
        """The meter's check: raises TimeoutError once the limit has run out."""
        self.left()

    @contextmanager
    def limited(self) -> Iterator[None]:
        """Any phase's TimeoutError reported with the derivation's own limit (not the part left of it). The exact
        algebra inside is metered (:func:`symderiv.core.meter.metered`), so one long comparison of two entries also
        stops at the limit, not only the loops between them."""
        try:
            with metered(None if self.end is None else self._expire):
                yield
        except TimeoutError:
            raise TimeoutError(f"the derivation stopped after the time limit of {self.timeout:g} s",
                               hint="raise --timeout, or derive with check=False") from None

    def describe(self, draft: Draft) -> str:
        """A draft's sentence in plain text."""
        return self._describe(self.upstreams, draft.prose)

    # -- the blocks -------------------------------------------------------------
    def blocks(self, check: bool) -> Blocks:
        """Every block in backprop order; an accumulate step (checked now when ``check``) where a name's
        gradient is the sum of several blocks' contributions."""
        plan, out = self.plan, Blocks()
        for name in plan.order:
            definition = plan.definitions[name]
            accumulate = self._accumulate(name, out, check) if name != plan.root else None
            inputs = [n for n in plan.order if n != name and contains(definition, n)]
            if contains(definition, self.wrt):
                inputs.append(self.wrt)
            for target in inputs:
                self.left()
                partial = sum(contains(plan.definitions[n], target) for n in plan.order) > 1
                spec = BlockSpec(len(out.derived) + 1, name, definition, target, self.up_of[name], partial)
                drafts, matrix = BlockDeriver(self.engine, self.symmetric, self.problem.text, spec,
                                              self.indices, self.ranges, self.detail, self.shown).run()
                if accumulate is not None:
                    drafts.insert(0, Draft(accumulate.kind, accumulate.equation, accumulate.prose, (), spec.number))
                    accumulate = None
                out.derived.append((spec, drafts))
                out.contributions.setdefault(target, []).append(matrix)
        return out

    def _accumulate(self, name: str, out: Blocks, check: bool) -> Draft | None:
        parts = out.contributions.get(name, [])
        out.grads[name] = total = _total(parts)
        if len(parts) < 2:
            return None
        draft = Draft(StepKind.ACCUMULATE, Equation((Grad(name), Matrix(total))),
                      say.accumulate(name, self.plan.users(name)))
        if check:
            self._check_accumulate(draft, name, out.grads)
        return draft

    def _check_accumulate(self, draft: Draft, name: str, grads: Mapping[str, ex.Expr]) -> None:
        """Check ``∂L/∂name = Σ contributions`` with ``name`` a free matrix and everything else expanded."""
        plan, problem = self.plan, self.problem
        mapping = {n: plan.definitions[n] for n in plan.order if n not in (name, plan.root)}
        values = {sym: grads[n] for n in grads if n != name and (sym := self.up_of[n]) is not None}
        rhs = draft.equation.rhs
        assert isinstance(rhs, Matrix)
        claim = expand_names(rhs.expr, values, len(plan.order) + 1)
        claim = expand_names(claim, mapping, len(plan.order))
        loss = expand_names(plan.definitions[plan.root], mapping, len(plan.order))
        typing, symbols = concrete(problem.typing, self.shapes_all, self.small)
        checker = Checker(typing, symbols, {}, loss, None if problem.scalar else problem.upstream, self.describe,
                          self.left(), self.small)
        checker.check(Draft(draft.kind, Equation((draft.equation.lhs, Matrix(claim))), draft.prose))

    # -- putting it together ----------------------------------------------------
    def compose(self, blocks: Blocks, layout: str) -> ex.Expr:
        """∂L/∂wrt from the blocks' contributions, each inner upstream symbol replaced by its value."""
        composed = _total(blocks.contributions[self.wrt])
        grads = dict(blocks.grads)
        for name in self.plan.inner:  # outermost names last
            sym = self.up_of[name]
            if sym is not None:
                composed = substitute(composed, {sym: grads[name]})
                for other in list(grads):
                    grads[other] = substitute(grads[other], {sym: grads[name]})
        composed = tidy(composed, self.symmetric)
        if layout == "numerator":
            composed = tidy(ex.Transpose(composed), self.symmetric)
        return composed

    def final(self, composed: ex.Expr, canonical: ex.Expr, layout: str,
              blocks: Blocks) -> tuple[list[Draft], ex.Expr]:
        """The steps after the blocks (chaining, original names, canonical formula), and the formula in the
        original names."""
        number = len(blocks.derived) + 1
        plan, wrt = self.plan, self.wrt
        expanded = tidy(substitute(composed, {n: self.full[n] for n in plan.order}), self.symmetric)
        final: list[Draft] = []
        lhs = Grad(wrt, layout)
        if len(blocks.derived) > 1 or layout == "numerator":
            final.append(Draft(StepKind.ASSEMBLE, Equation((lhs, Matrix(composed))),
                               say.assemble(plan.root, self.problem.scalar, layout), (), number))
        named = [n for n in plan.order if contains(composed, n)]
        if named and expanded != composed:
            final.append(Draft(StepKind.RESULT, Equation((lhs, Matrix(expanded))), say.in_original_names(named),
                               (), number))
        rhs = final[-1].equation.rhs if final else blocks.derived[-1][1][-1].equation.rhs
        if isinstance(rhs, Matrix) and rhs.expr != canonical:
            final.append(Draft(StepKind.RESULT, Equation((lhs, Matrix(canonical))), say.CANONICAL, (), number))
        shape_of = self.problem.typing.shape_of
        simpler = collect(canonical, lambda e: shape_of(e, self.shapes_all))
        if simpler.regions:  # the last line is the shortest spelling: elementwise terms multiplied out, collected
            if not final:  # the simplification needs a line to start from
                final.append(Draft(StepKind.RESULT, Equation((lhs, Matrix(canonical))), say.CANONICAL, (), number))
            if self.detail == "compact" and len(final) > 1 and final[-1].prose == say.CANONICAL:
                # straight from the line before the canonical spelling, when that collects to the same formula
                before = final[-2].equation.rhs
                direct = collect(before.expr, lambda e: shape_of(e, self.shapes_all)) \
                    if isinstance(before, Matrix) else None
                if direct is not None and direct.formula == simpler.formula:
                    final.pop()
                    simpler = direct
            final.append(Draft(StepKind.SIMPLIFY, Equation((lhs, Matrix(simpler.formula))),
                               shortened.simplify(simpler.regions, to_text), (), number))
        return final, expanded

    # -- checks ---------------------------------------------------------------------
    def check_shapes(self) -> dict[str, ex.Shape]:
        """The concrete shapes of the expression's symbols that the checks use."""
        _, symbols = concrete(self.problem.typing, self.shapes_all, self.small)
        return {k: symbols[k] for k in self.problem.typing.symbols}

    def check_blocks(self, blocks: Blocks) -> None:
        """Check every step of every block (accumulate steps were checked when made)."""
        typing, symbols = concrete(self.problem.typing, self.shapes_all, self.small)
        for spec, drafts in blocks.derived:
            checker = Checker(typing, symbols, {spec.name: self.plan.definitions[spec.name]}, ex.Symbol(spec.name),
                              spec.upstream, self.describe, self.left(), self.small)
            for draft in drafts:
                if draft.kind is not StepKind.ACCUMULATE:
                    checker.check(draft)

    def check_final(self, final: Sequence[Draft], all_shapes: str | None) -> str:
        """Check the final steps; the note on how, when it is not the direct comparison with the oracle."""
        if not final:
            return ""
        problem = self.problem
        typing, symbols = concrete(problem.typing, self.shapes_all, self.small)
        binds = {n: self.full[n] for n in reversed(self.plan.order)}  # the root too: a block's f'(Z) may use it
        checker = Checker(typing, symbols, binds, problem.expression, None if problem.scalar else problem.upstream,
                          self.describe, self.left(), self.small)
        # The final formulas against one another: evaluation only, no derivative, so always affordable.
        forms = [s.equation.rhs for s in final]
        for draft, (a, b) in zip(final[1:], zip(forms, forms[1:], strict=False), strict=True):
            checker.check(Draft(draft.kind, Equation((a, b)), draft.prose))
        quotients = sum(isinstance(n, ex.Div) for n in problem.expression.walk())
        if all_shapes and quotients > 1:
            # Nested quotients make exact rational arithmetic explode in the whole-expression oracle; the link
            # to ∂L/∂wrt is then the identity proved for all shapes, and the blocks above are each checked.
            return QUOTIENT_NOTE
        checker.check(final[0])  # the first against the whole expression's chain rule (the oracle)
        return ""


__all__ = ["Blocks", "Builder", "Describe", "QUOTIENT_NOTE"]
