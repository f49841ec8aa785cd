"""``symderiv.verify`` (module ``verification``): prove a claimed gradient exactly, or refute it at an entry.

The routes: the all-shapes proof in index notation (:mod:`symderiv.proofs.index`), the exact entrywise proof
on concrete shapes (:mod:`symderiv.proofs.concrete`) and the randomized test
(:mod:`symderiv.proofs.random.randomized`); the problem and verdict types live in
:mod:`symderiv.proofs.problem` (re-exported here).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from symderiv.core import expr as ex
from symderiv.core.errors import BudgetError, OptionError, SymderivError, TimeoutError
from symderiv.core.status import Status
from symderiv.proofs import index
from symderiv.proofs.concrete import MEMORY_FLOOR, STRICT_COST_FACTOR, prove_concrete
from symderiv.proofs.exact.entrywise import Deadline, describe_shapes, gc_paused
from symderiv.proofs.problem import (
    LAYOUTS,
    METHODS,
    Problem,
    ProofRecord,
    Verdict,
    check_options,
    concrete_typings,
    describe_shape_list,
    parse_claim,
    prepare,
    shape_verdict,
)

#: The old private name of :func:`~symderiv.proofs.problem.shape_verdict`.
_shape_verdict = shape_verdict


def verify(
    expression: str,
    wrt: str,
    claim: str,
    shapes: Mapping[str, Any] | None = None,
    *,
    functions: Iterable[str] = (),
    symmetric: Iterable[str] = (),
    upstream: str = "G",
    layout: str = "denominator",
    strict: bool = False,
    method: str = "auto",
    budget: int | None = None,
    timeout: float | None = None,
    assume: Mapping[str, str] | None = None,
    symmetric_convention: str = "projection",
) -> Verdict:
    """Prove ``∂L/∂wrt == claim``, or refute it with the failing entry and a witness of the domain.

    With concrete shapes the proof is exact and entrywise on those shapes; past the
    budget, ``method="auto"`` (the default) runs the randomized test instead
    (status ``probabilistic``). With dimension names the all-shapes (index) engine
    proves it for every size; when it cannot, a check at sample sizes is only
    ``undecided`` (or ``refuted`` when it fails).

    ``assume={"Y": "onehot_rows"}`` proves the claim for every ``Y`` with that structure (docs/assumptions.md),
    and a refutation's witness has it. A ``wrt`` declared symmetric follows ``symmetric_convention``
    (``"projection"``, the default, or ``"entries"``; docs/symmetric.md).

    >>> ce = "-sum(Y * X) + sum(sum(Y, axis=1) * log(sum(exp(X), axis=1)))"
    >>> claim = "exp(X) / (sum(exp(X), axis=1) @ ones(1, 3)) - Y"
    >>> verify(ce, "X", claim, {"X": (2, 3), "Y": (2, 3)}).status
    'refuted'
    >>> verify(ce, "X", claim, {"X": (2, 3), "Y": (2, 3)}, assume={"Y": "onehot_rows"}).reason
    'proved entrywise on {Y: 2×3, X: 2×3} under the assumption Y onehot_rows'

    >>> v = verify("W @ X", wrt="W", claim="G @ X.T", shapes={"W": (3, 2), "X": (2, 4)})
    >>> v.holds, v.reason
    (True, 'proved entrywise on {W: 3×2, X: 2×4}')
    >>> bool(verify("W @ X", wrt="W", claim="X.T @ G", shapes={"W": (3, 2), "X": (2, 4)}))
    False
    """
    check_options(method, strict, budget)
    if not isinstance(wrt, str):
        raise OptionError("verify takes one wrt name", hint="call verify once per matrix")
    problem = prepare(expression, [wrt], shapes, functions=functions, symmetric=symmetric, upstream=upstream,
                      layout=layout, assume=assume, symmetric_convention=symmetric_convention)
    if strict and problem.structured:
        raise OptionError(f"strict mode lets SymPy differentiate plain matrix entries; it cannot prove a claim "
                          f"{problem.assumptions_text()}", hint="drop strict=True (the exact proof uses the assumptions)")
    claim_node = parse_claim(problem, claim)
    deadline = Deadline(timeout)  # also validates it: positive and finite
    wrong_shape = shape_verdict(problem, wrt, claim, claim_node)
    if wrong_shape is not None:
        return wrong_shape
    return _named(problem, wrt, _verify(problem, wrt, claim, claim_node, method, strict, budget, deadline))


def _verify(problem: Problem, wrt: str, claim: str, claim_node: ex.Expr, method: str, strict: bool,
            budget: int | None, deadline: Deadline) -> Verdict:
    if method == "random":
        return _at_sample_sizes(problem, _random(problem, wrt, claim, claim_node, budget, deadline))
    # The index engine proves the plain gradient: an identity in general also holds under assumptions, but a
    # symmetric wrt has its own convention, which only the entrywise proof implements.
    if not problem.typing.is_concrete and wrt not in problem.typing.symmetric:
        proved, lemmas = index.prove_all_shapes_with_lemmas(problem, wrt, claim_node, refute=False)
        if proved is True:
            verdict = _second_opinion(problem, wrt, claim, claim_node, method, strict, budget, deadline)
            return _naming_lemmas(verdict, lemmas)
    return _concrete_check(problem, wrt, claim, claim_node, method, strict, budget, deadline)


def _named(problem: Problem, wrt: str, verdict: Verdict) -> Verdict:
    """The verdict's reason names the assumptions and the symmetric convention it used."""
    notes = [problem.assumptions_text()]
    if wrt in problem.typing.symmetric:
        notes.append(f"with `{wrt}` symmetric (symmetric_convention={problem.symmetric_convention!r})")
    extra = " ".join(n for n in notes if n)
    return replace(verdict, reason=f"{verdict.reason} {extra}") if extra else verdict


def _random(problem: Problem, wrt: str, claim: str, claim_node: ex.Expr, budget: int | None,
            deadline: Deadline) -> Verdict:
    if problem.structured or wrt in problem.typing.symmetric:
        # A BudgetError, so that method="auto" past the exact budget says what each route would need.
        what = (problem.assumptions_text() if problem.structured else
                f"a gradient with respect to the symmetric `{wrt}`")
        raise BudgetError(f"the randomized test does not implement proofs {what}" if problem.structured else
                          f"the randomized test does not implement {what}",
                          hint="use method='exact' on smaller shapes")
    # Loaded by name when first needed: the randomized test loads NumPy, which `import symderiv` must not (the
    # performance contract). Looked up on the module each time, so a test may replace verify_random.
    randomized = importlib.import_module("symderiv.proofs.random.randomized")
    return randomized.verify_random(problem, wrt, claim, claim_node, budget=budget, deadline=deadline)


def _at_sample_sizes(problem: Problem, verdict: Verdict) -> Verdict:
    """A pass at sample sizes of symbolic shapes is a check, not a proof: ``undecided``."""
    if problem.typing.is_concrete or not verdict.holds:
        return verdict
    sizes = describe_shape_list(verdict.proof.shapes) if verdict.proof is not None else "a few sample sizes"
    return replace(verdict, status=Status.UNDECIDED, holds=False, checked_at_sizes=True,
                   reason=(f"undecided: {verdict.reason}; it holds at the sample sizes {sizes}, but that is a check, "
                           "not a proof for all shapes"))


def _concrete_check(problem: Problem, wrt: str, claim: str, claim_node: ex.Expr, method: str, strict: bool,
                    budget: int | None, deadline: Deadline) -> Verdict:
    """The exact entrywise check on each concrete typing; past the budget, ``auto`` runs the randomized test."""
    record = ProofRecord("exact", strict=strict)
    for concrete in concrete_typings(problem.typing, (problem.expression, claim_node)):
        try:
            with gc_paused():  # one pause for the whole proof: see entrywise.gc_paused
                outcome = prove_concrete(problem, wrt, claim_node, concrete, strict=strict, budget=budget,
                                         deadline=deadline)
        except BudgetError as exact:
            if method != "auto" or strict:
                raise
            try:
                return _at_sample_sizes(problem, _random(problem, wrt, claim, claim_node, budget, deadline))
            except BudgetError as rand:  # both refused: say what each would cost
                raise BudgetError(f"{exact.message}; and {rand.message}", hint=exact.hint) from None
        record.shapes.append(dict(concrete.symbols))
        if outcome.status != "proved":
            where = "on {" + describe_shapes(concrete) + "}"
            reason = outcome.detail if outcome.status == "shape" else f"{outcome.detail} {where}"
            status = Status.REFUTED if outcome.status in ("refuted", "shape") else Status.UNDECIDED
            return Verdict(False, status, reason, problem.text, wrt, claim, outcome.counterexample, record)
    if problem.typing.is_concrete:
        return Verdict(True, Status.PROVED, f"proved {record.describe()}", problem.text, wrt, claim, None, record)
    reason = (f"undecided: holds at the sample sizes {describe_shape_list(record.shapes)}, but that is a check, not a "
              "proof for all shapes (the all-shapes engine could not prove it); for a proof, give concrete shapes "
              "or write the claim in a form the all-shapes engine handles")
    return Verdict(False, Status.UNDECIDED, reason, problem.text, wrt, claim, None, record, checked_at_sizes=True)


def _naming_lemmas(verdict: Verdict, lemmas: list[str]) -> Verdict:
    """The all-shapes verdict names the lemmas it rests on ("from Jacobi's formula and the derivative of the inverse")."""
    said = index.describe_lemmas(lemmas)
    head = "proved for all shapes (index notation"
    if not said or not verdict.reason.startswith(head):
        return verdict
    return replace(verdict, reason=f"{head}, {said}" + verdict.reason[len(head):])


def _second_opinion(problem: Problem, wrt: str, claim: str, claim_node: ex.Expr, method: str, strict: bool,
                    budget: int | None, deadline: Deadline) -> Verdict:
    """The all-shapes proof is the proof; a concrete check follows as a second opinion.

    Only a refutation with a confirmed witness overrides the proof (that is an engine
    disagreement, a bug); a check that is over budget or out of time is skipped.
    """
    try:
        check = _concrete_check(problem, wrt, claim, claim_node, method, strict, budget, deadline)
    except (BudgetError, TimeoutError) as err:
        record = ProofRecord("exact", all_shapes=True, strict=strict)
        return Verdict(True, Status.PROVED, "proved for all shapes (index notation); the concrete second opinion "
                       f"was skipped ({err.message})", problem.text, wrt, claim, None, record)
    cx = check.counterexample
    if check.status is Status.REFUTED and cx is not None and cx.gradient_value is not None:
        return replace(check, reason=(f"{check.reason}; the all-shapes engine had proved this claim, so the engines "
                                      "disagree: this is a bug in symderiv, please report it"))
    record = ProofRecord(check.proof.method if check.proof else "exact", list(check.proof.shapes if check.proof else []),
                         all_shapes=True, strict=strict)
    how = ("checked entrywise on " if record.method == "exact" else "checked by the randomized test on ")
    shapes = describe_shape_list(record.shapes)
    reason = "proved for all shapes (index notation)" + (f" and {how}{shapes}" if shapes else "")
    return Verdict(True, Status.PROVED, reason, problem.text, wrt, claim, None, record)


__all__ = ["LAYOUTS", "MEMORY_FLOOR", "METHODS", "STRICT_COST_FACTOR", "Problem", "ProofRecord", "Status",
           "SymderivError", "Verdict", "check_options", "concrete_typings", "describe_shape_list", "parse_claim",
           "prepare", "prove_concrete", "verify"]
