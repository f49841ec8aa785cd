"""Why a claimed gradient fails: each sentence is backed by a transformed candidate that does verify.

The candidates: the claim transposed, its factors swapped, a sum over the other axis, the claim rescaled by
the counterexample's ratio, the expression without a function whose derivative is a mask (relu), a square
symbol declared symmetric, a structure assumed of a symbol (``assume=``). Nothing is read from how the claim is spelled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from symderiv.core import expr as ex
from symderiv.core.errors import SymderivError
from symderiv.core.status import Status
from symderiv.proofs.verification import Verdict, parse_claim, prepare, verify
from symderiv.testing.structure import missing_assumptions
from symderiv.testing.surgery import (
    as_fraction,
    axis_candidates,
    mask_functions,
    mask_of,
    order_candidates,
    rebuild,
    show,
    unique,
    without_masks,
)

__all__ = ["diagnose"]

#: Seconds one diagnosis candidate may take when the caller set no timeout.
CANDIDATE_TIMEOUT = 10.0


def diagnose(expression: str, wrt: str, claim: str, shapes: Mapping[str, Any] | None = None,
             verdict: Verdict | None = None, **options: Any) -> list[str]:
    """Why a claim fails, as sentences; each is backed by a transformed candidate that does verify.

    >>> diagnose("X @ W", "W", "G.T @ X", {"X": (3, 2), "W": (2, 4)})[-1]
    'your claim is the transpose of the gradient: `(G.T @ X).T` holds'
    """
    verdict = verdict if verdict is not None else verify(expression, wrt, claim, shapes, **options)
    if verdict.status is not Status.REFUTED:
        return []
    d = _Diagnosis(expression, wrt, claim, shapes, options)
    found: list[str] = []
    if verdict.reason.startswith("shape:"):
        found.append("your claim has the wrong shape")
    for family in (d.transposed, d.reordered, d.other_axis, d.missing_mask):
        found += family()
    found += d.scaled(verdict)
    found += d.symmetric()
    found += missing_assumptions(expression, wrt, claim, shapes, d.problem.typing.symbols, d.limited)
    return found


class _Diagnosis:
    """One failing claim and the test that a candidate holds."""

    def __init__(self, expression: str, wrt: str, claim: str, shapes: Mapping[str, Any] | None,
                 options: Mapping[str, Any]) -> None:
        self.expression, self.wrt, self.claim, self.shapes, self.options = expression, wrt, claim, shapes, options
        self.problem = prepare(expression, [wrt], shapes, functions=options.get("functions", ()),
                               symmetric=options.get("symmetric", ()), upstream=options.get("upstream", "G"),
                               layout=options.get("layout", "denominator"), assume=options.get("assume"),
                               symmetric_convention=options.get("symmetric_convention", "projection"))
        self.claim_node = parse_claim(self.problem, claim)
        # A candidate is evidence only; one that the exact engine finds slow is given up on, not waited for.
        self.limited = {**options, "timeout": options.get("timeout") or CANDIDATE_TIMEOUT}

    def holds(self, candidate: ex.Expr, on: str | None = None) -> bool:
        """Whether ``candidate`` is the gradient of ``on`` (default: the expression)."""
        try:
            checked = verify(on or self.expression, self.wrt, show(candidate), self.shapes, **self.limited)
        except SymderivError:  # a candidate outside the language or the budget is simply not evidence
            return False
        # Evidence for a hint, not a verdict: a pass at sample sizes of symbolic shapes is enough here.
        return bool(checked.holds or checked.checked_at_sizes)

    def transposed(self) -> list[str]:
        candidate = ex.Transpose(self.claim_node)
        if self.holds(candidate):
            return [f"your claim is the transpose of the gradient: `{show(candidate)}` holds"]
        return []

    def reordered(self) -> list[str]:
        for candidate in unique(order_candidates(self.claim_node), self.claim_node):
            if self.holds(candidate):
                return [f"factors in the wrong order: `{show(candidate)}` holds"]
        return []

    def other_axis(self) -> list[str]:
        for candidate in unique(axis_candidates(self.claim_node), self.claim_node):
            if self.holds(candidate):
                return [f"summed over the wrong axis: `{show(candidate)}` holds"]
        return []

    def missing_mask(self) -> list[str]:
        for stripped, taken in without_masks(self.problem.expression):
            if not self.holds(self.claim_node, on=show(stripped)):
                continue
            masks = ", ".join(f"`{show(mask_of(n))}`" for n in taken)
            sentence = (f"missing the {masks} mask{'s' if len(taken) > 1 else ''}: your claim is the gradient of "
                        f"`{show(stripped)}`, as if {' and '.join(mask_functions(taken))} were the identity")
            if len(taken) == 1 and not self.problem.scalar:
                fixed = self._times_mask(mask_of(taken[0]))
                if self.holds(fixed):
                    sentence += f"; `{show(fixed)}` holds"
            return [sentence]
        return []

    def _times_mask(self, mask: ex.Expr) -> ex.Expr:
        """The claim with the upstream gradient multiplied by ``mask``, elementwise."""
        upstream = self.problem.upstream
        return rebuild(self.claim_node, lambda n: ex.Mul(n, mask)
                       if isinstance(n, ex.Symbol) and n.name == upstream else None)

    def scaled(self, verdict: Verdict) -> list[str]:
        cx = verdict.counterexample
        if cx is None:
            return []
        want, got = as_fraction(cx.gradient_value), as_fraction(cx.claim_value)
        if not (want and got):
            return []
        factor = got / want  # the claim is `factor` times the gradient, if anything
        if factor == 1:
            return []
        scaled = ex.Mul(ex.Number(1 / factor), self.claim_node)
        if self.holds(scaled):
            return [f"off by a factor of {factor}: your claim is {factor} × the gradient (`{show(scaled)}` holds)"]
        return []

    def symmetric(self) -> list[str]:
        found = []
        declared = set(self.options.get("symmetric", ()))
        for name, (rows, cols) in self.problem.typing.symbols.items():
            if rows != cols or name == self.wrt or name in declared:
                continue
            try:
                again = verify(self.expression, self.wrt, self.claim, self.shapes,
                               **{**self.limited, "symmetric": [*declared, name]})
            except SymderivError:
                continue
            if again.holds or again.checked_at_sizes:
                found.append(f"your claim holds only when `{name}` is symmetric (it does with symmetric=[{name!r}])")
        return found
