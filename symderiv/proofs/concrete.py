"""The exact entrywise proof on one concrete typing: the route every exact verdict and the index engine's
refutation share (budgeted, metered, with the inverse-atom shortcut first)."""

from __future__ import annotations

from symderiv.core import expr as ex
from symderiv.core.meter import metered
from symderiv.proofs.exact.cost import DEFAULT_BUDGET, DEFAULT_MEMORY
from symderiv.proofs.exact.entrywise import Deadline, Instance, check_budget, describe_shapes, estimate_cost
from symderiv.proofs.exact.expansions import prove_with_expansions
from symderiv.proofs.exact.inverse import prove_with_inverse_atoms
from symderiv.proofs.exact.prover import Outcome, compare, loss_gradient
from symderiv.proofs.exact.witness import PointDomain
from symderiv.proofs.problem import Problem
from symderiv.proofs.strict import strict_gradient
from symderiv.syntax.shapes import Typing

#: Strict mode's cost grows like (terms of D) × (entries of V); calibrated on W @ X (8³ in about 8 s, docs/strict.md).
STRICT_COST_FACTOR = 60
#: The least growth of resident memory a metered exact proof may make, whatever its budget.
MEMORY_FLOOR = 256_000_000


def prove_concrete(problem: Problem, wrt: str, claim: ex.Expr, typing: Typing, *, strict: bool = False,
                   budget: int | None = None, deadline: Deadline | None = None) -> Outcome:
    """Prove or refute on one concrete typing; returns a prover Outcome."""
    upstream_shape = typing.shape_of(problem.expression)
    extra = {problem.upstream: upstream_shape}
    cost = estimate_cost(problem.expression, typing) + estimate_cost(claim, typing, extra)  # type: ignore[arg-type]
    if strict:
        # SymPy differentiates f(D(V)) once per entry of V, each time through every entry of D.
        rows, cols = typing.symbols[wrt]
        cost *= STRICT_COST_FACTOR * int(rows) * int(cols)
    check_budget(cost, budget, f"`{problem.text}` on {describe_shapes(typing)}" + (" in strict mode" if strict else ""))
    # The estimate can be wrong, so the work is metered too: past twice the budget, or past the memory it allows,
    # the proof stops with a BudgetError (method="auto" then runs the randomized test). The memory cap has a floor
    # because the process's growth also counts lazy imports (SymPy, mpmath) made during a proof.
    limit = DEFAULT_BUDGET if budget is None else budget
    memory = max(MEMORY_FLOOR, int(DEFAULT_MEMORY * limit / DEFAULT_BUDGET))
    caps = {} if strict else {"work_cap": 2 * limit, "memory_cap": memory}
    with metered(deadline, what=f"on {describe_shapes(typing)} ", **caps):
        return _prove_concrete(problem, wrt, claim, typing, strict, deadline, upstream_shape)


def _prove_concrete(problem: Problem, wrt: str, claim: ex.Expr, typing: Typing, strict: bool,
                    deadline: Deadline | None, upstream_shape: ex.Shape) -> Outcome:
    # A fast first route through inv: its entries as atoms. It only ever proves; when it does not, the
    # ordinary proof below decides (symderiv/inverse.py explains why this is sound).
    if not strict and prove_with_inverse_atoms(problem.expression, wrt, claim, typing, upstream=problem.upstream,
                                               numerator_layout=problem.layout == "numerator", deadline=deadline):
        return Outcome("proved")
    # The same for a claim that names a function the expression spells out (sigmoid for exp's quotient).
    if not strict and prove_with_expansions(problem.expression, wrt, claim, typing, upstream=problem.upstream,
                                            numerator_layout=problem.layout == "numerator", deadline=deadline):
        return Outcome("proved")
    instance = Instance(typing, deadline=deadline)
    if strict:
        gradient = strict_gradient(instance, problem.expression, wrt, problem.upstream)
    else:
        gradient, _ = loss_gradient(instance, problem.expression, wrt, problem.upstream)
    if problem.layout == "numerator":
        gradient = [list(col) for col in zip(*gradient, strict=True)]
    if not problem.scalar:
        instance.symbol(problem.upstream, upstream_shape)  # type: ignore[arg-type]
    claimed = instance.evaluate(claim)
    # A witness must lie in the domain of the expression and of the claim, not only of their difference.
    return compare(instance, gradient, claimed, wrt, domain=PointDomain(instance, [problem.expression, claim]))


__all__ = ["MEMORY_FLOOR", "STRICT_COST_FACTOR", "prove_concrete"]
