"""The exact entrywise proof on one concrete typing: the route every exact verdict and the index engine's
refutation share (budgeted, metered, with the inverse-atom shortcut first)."""

from __future__ import annotations

from fractions import Fraction

from symderiv.core import expr as ex
from symderiv.core.meter import metered
from symderiv.proofs.exact.algebra import Ratio
from symderiv.proofs.exact.assumed import Structure
from symderiv.proofs.exact.cost import DEFAULT_BUDGET, DEFAULT_MEMORY
from symderiv.proofs.exact.domain import PointDomain
from symderiv.proofs.exact.entrywise import Deadline, Instance, check_budget, describe_shapes, estimate_cost
from symderiv.proofs.exact.expansions import prove_with_expansions
from symderiv.proofs.exact.inverse import prove_with_inverse_atoms
from symderiv.proofs.exact.prover import Outcome, compare, loss_gradient
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
    # Without the assumptions (and with a symmetric wrt's own convention) an identity of that route is only
    # about the plain gradient, so it is skipped then; a claim that holds in general holds under assumptions too.
    symmetric_wrt = wrt in typing.symmetric
    if not strict and not symmetric_wrt and prove_with_inverse_atoms(
            problem.expression, wrt, claim, typing, upstream=problem.upstream,
            numerator_layout=problem.layout == "numerator", deadline=deadline):
        return Outcome("proved")
    # The same for a claim that names a function the expression spells out (sigmoid for exp's quotient).
    if not strict and not symmetric_wrt and prove_with_expansions(
            problem.expression, wrt, claim, typing, upstream=problem.upstream,
            numerator_layout=problem.layout == "numerator", deadline=deadline):
        return Outcome("proved")
    structure = Structure(problem.structured)
    instance = Instance(typing, deadline=deadline, structure=structure)
    if strict:
        gradient = strict_gradient(instance, problem.expression, wrt, problem.upstream)
    else:
        gradient, _ = loss_gradient(instance, problem.expression, wrt, problem.upstream)
    if symmetric_wrt:
        gradient = symmetric_gradient(gradient, problem.symmetric_convention)
    if problem.layout == "numerator":
        gradient = [list(col) for col in zip(*gradient, strict=True)]
    if not problem.scalar:
        instance.symbol(problem.upstream, upstream_shape)  # type: ignore[arg-type]
    claimed = instance.evaluate(claim)
    if structure.reduces:
        gradient, claimed = on_assumptions(structure, gradient, claimed)
    # A witness must lie in the domain of the expression and of the claim, not only of their difference.
    return compare(instance, gradient, claimed, wrt, domain=PointDomain(instance, [problem.expression, claim]))


def symmetric_gradient(entries: list[list[Ratio]], convention: str) -> list[list[Ratio]]:
    """The gradient with respect to a symmetric matrix in ``convention``, from the derivatives with respect to its
    independent entries (what the prover computes, since ``S[i,j]`` and ``S[j,i]`` are one variable).

    That derivative is the ``entries`` convention, ``Gs + Gsᵀ − diag(Gs)`` for any unconstrained gradient ``Gs``:
    off the diagonal the variable enters twice. ``projection``, ``(Gs + Gsᵀ)/2``, is the same with the entries off
    the diagonal halved.
    """
    if convention == "entries":
        return entries
    half = Ratio.const(Fraction(1, 2))
    return [[x if i == j else x * half for j, x in enumerate(row)] for i, row in enumerate(entries)]


def on_assumptions(structure: Structure, gradient: list[list[Ratio]],
                    claimed: list[list[Ratio]]) -> tuple[list[list[Ratio]], list[list[Ratio]]]:
    """Both sides reduced modulo the one-hot equations (:mod:`symderiv.proofs.exact.assumed`): an entry of the
    claim equal to the gradient's at every one-hot value becomes the gradient's entry, so the comparison sees it
    equal; the others are shown in normal form and go on to the witness search, whose points are one-hot."""
    if [len(r) for r in gradient] != [len(r) for r in claimed]:
        return gradient, claimed  # a shape mismatch: the comparison reports it
    out_g, out_c = [], []
    for grow, crow in zip(gradient, claimed, strict=True):
        g_row, c_row = [], []
        for a, b in zip(grow, crow, strict=True):
            if structure.equal(a, b):
                g_row.append(a)
                c_row.append(a)
            else:
                g_row.append(structure.reduce_ratio(a))
                c_row.append(structure.reduce_ratio(b))
        out_g.append(g_row)
        out_c.append(c_row)
    return out_g, out_c


__all__ = ["MEMORY_FLOOR", "STRICT_COST_FACTOR", "on_assumptions", "prove_concrete", "symmetric_gradient"]
