"""``symderiv.hvp`` and ``symderiv.hessian``: second derivatives as matrix formulas, proved entrywise.

The formula comes from :mod:`symderiv.autodiff.second` (the gradient formula differentiated once more);
the proof compares it entry by entry with the second-order oracle :mod:`symderiv.proofs.exact.second`
on concrete shapes, as :func:`symderiv.verify` does for gradients: equal entries are a proof, a differing
entry is refuted with numbers that witness it. With dimension names the comparison runs at two small
sizes, and the proof for all shapes comes from :mod:`symderiv.proofs.hessian_all` (two gradient identities
proved in index notation, and the symmetry of the Hessian); when that engine cannot prove them, the
sample sizes are only a check (``checked``; a claim's verdict is ``undecided``).

``claim=`` turns either function into a verification of the user's formula, returning a
:class:`SecondVerdict` (a :class:`~symderiv.proofs.problem.Verdict`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from symderiv.autodiff.assumed import rewrite_assumed
from symderiv.autodiff.backprop import Gradient
from symderiv.autodiff.second import (
    SecondTyping,
    check_hessian,
    hessian_expression,
    hvp_expression,
    name_softplus,
    second_typing,
)
from symderiv.autodiff.simplify import Simplifier
from symderiv.core import expr as ex
from symderiv.core.errors import DerivationError, NameKindError, OptionError, ShapeError
from symderiv.core.meter import metered
from symderiv.core.status import Status, headline
from symderiv.proofs.concrete import MEMORY_FLOOR, on_assumptions
from symderiv.proofs.exact.assumed import Structure
from symderiv.proofs.exact.cost import DEFAULT_BUDGET, DEFAULT_MEMORY
from symderiv.proofs.exact.domain import PointDomain
from symderiv.proofs.exact.entrywise import (
    Deadline,
    Instance,
    check_budget,
    describe_shapes,
    estimate_cost,
    transpose,
)
from symderiv.proofs.exact.prover import compare
from symderiv.proofs.exact.second import hessian_matrix, hvp_matrix
from symderiv.proofs.hessian_all import Pairing, pairing, prove_for_all_shapes
from symderiv.proofs.problem import (
    Problem,
    ProofRecord,
    Verdict,
    check_options,
    concrete_typings,
    describe_shape_list,
    prepare,
)
from symderiv.syntax.language import parse
from symderiv.syntax.printing import _name_latex, to_text
from symderiv.syntax.shapes import format_shape

__all__ = ["Pairing", "SecondDerivative", "SecondVerdict", "hessian", "hvp", "hvp_pairing"]


def _label(kind: str, wrt: str, direction: str, layout: str = "denominator") -> str:
    if kind != "hvp":
        return f"∂²L/∂{wrt}²"
    return f"∂²L/∂{wrt}²[{direction}]" + ("ᵀ" if layout == "numerator" else "")


@dataclass(frozen=True)
class SecondDerivative(Gradient):
    """A Hessian-vector product (``kind="hvp"``, along ``direction``) or a Hessian (``kind="hessian"``).

    Like a :class:`~symderiv.autodiff.backprop.Gradient`: ``.formula``, ``.latex``, ``.shape`` and the proof record.

    >>> h = hvp("x.T @ A @ x", wrt="x", shapes={"x": (2, 1)})
    >>> h.formula, h.shape, h.proof_status, h.kind
    ('(A.T + A) @ V', (2, 1), 'proved', 'hvp')
    """

    kind: str = "hvp"
    direction: str = "V"

    @property
    def lhs_latex(self) -> str:
        w = _name_latex(self.wrt)
        second = rf"\frac{{\partial^2 L}}{{\partial {w}^2}}"
        if self.kind != "hvp":
            return second
        return second + rf"[{_name_latex(self.direction)}]" + (r"^{\top}" if self.layout == "numerator" else "")

    def _repr_markdown_(self) -> str:
        return f"$${self.lhs_latex} = {self.latex}$$\n\n`{_label(self.kind, self.wrt, self.direction, self.layout)} = {self.formula}`"

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "kind": self.kind, "direction": self.direction if self.kind == "hvp" else None}


@dataclass(frozen=True)
class SecondVerdict(Verdict):
    """The verdict on a claimed HVP or Hessian; its report names the second derivative it is about."""

    kind: str = "hvp"
    direction: str = "V"
    layout: str = "denominator"

    def report(self) -> str:
        label = _label(self.kind, self.wrt, self.direction, self.layout)
        lines = [f"{headline(Status.of(self.status))}  {label} = {self.claim}  for L = {self.expression}", self.reason]
        if self.counterexample is not None:
            lines.append(self.counterexample.describe().replace(f"∂L/∂{self.wrt}[", f"{label}["))
        return "\n".join(line for line in lines if line)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "kind": self.kind, "direction": self.direction if self.kind == "hvp" else None}


@dataclass(frozen=True)
class _Request:
    problem: Problem
    node: ex.Expr  # the expression, log(1 + exp(u)) read as softplus(u)
    wrt: str
    kind: str
    second: SecondTyping
    layout: str = "denominator"

    @property
    def transposed(self) -> bool:
        """Numerator layout of an HVP: the transpose (a Hessian is symmetric, the same in both layouts)."""
        return self.layout == "numerator" and self.kind == "hvp"


def _request(expr: str, wrt: str, kind: str, direction: str, shapes: Mapping[str, Any] | None,
             functions: Iterable[str], symmetric: Iterable[str], upstream: str, layout: str, method: str,
             budget: int | None, assume: Mapping[str, str] | None = None) -> _Request:
    check_options(method, False, budget)
    if method == "random":
        raise OptionError("second derivatives are proved exactly; there is no randomized engine for them yet",
                          hint="use method='exact' (or 'auto'), with a larger budget if needed")
    symmetric = (symmetric,) if isinstance(symmetric, str) else tuple(symmetric)
    problem = prepare(expr, [wrt], shapes, functions=functions, symmetric=symmetric, upstream=upstream, layout=layout,
                      assume=assume)
    node = name_softplus(problem.expression)
    return _Request(problem, node, wrt, kind, second_typing(node, problem.typing, wrt, direction, upstream), layout)


def _parse_claim(request: _Request, claim: str) -> ex.Expr:
    problem, second = request.problem, request.second
    node = name_softplus(parse(claim, functions=problem.functions, upstream=problem.upstream, allow_upstream=True))
    known = set(problem.typing.symbols) | ({second.direction} if request.kind == "hvp" else set())
    if not second.scalar:
        known.add(problem.upstream)
    for name in node.symbols():
        if name not in known:
            raise NameKindError(f"the claim uses `{name}`, which is not a name of the expression"
                                + (f", the direction `{second.direction}`" if request.kind == "hvp" else "")
                                + (f" or the upstream `{problem.upstream}`" if not second.scalar else ""),
                                text=claim, hint="claims may use " + ", ".join(sorted(known)))
    return node


def _want_shape(request: _Request) -> ex.Shape:
    rows, cols = request.problem.typing.symbols[request.wrt]
    if request.kind == "hessian":
        return (rows, rows)
    return (cols, rows) if request.transposed else (rows, cols)


def _shape_verdict(request: _Request, claim: str, claim_node: ex.Expr) -> SecondVerdict | None:
    want = _want_shape(request)
    what = _label(request.kind, request.wrt, request.second.direction, request.layout)
    try:
        got = request.second.typing.shape_of(claim_node, text=claim)
    except ShapeError as err:
        return _verdict(request, claim, Status.REFUTED, f"shape: the claim is not well-shaped ({err.message}), while "
                        f"{what} is {format_shape(want)}")
    if got != want:
        return _verdict(request, claim, Status.REFUTED, f"shape: the claim is {format_shape(got)} but {what} is "
                        f"{format_shape(want)}")
    return None


def _verdict(request: _Request, claim: str, status: Status, reason: str, **more: Any) -> SecondVerdict:
    named = request.problem.assumptions_text()  # the verdict names the assumptions it used
    reason = f"{reason} {named}" if named and not reason.startswith("shape:") else reason
    return SecondVerdict(False, status, reason, request.problem.text, request.wrt, claim, kind=request.kind,
                         direction=request.second.direction, layout=request.layout, **more)


def _check(request: _Request, claim: str, claim_node: ex.Expr, budget: int | None, timeout: float | None
           ) -> SecondVerdict:
    """Compare the claim with the oracle entry by entry on each concrete typing (two sample sizes if symbolic)."""
    deadline = Deadline(timeout)
    record = ProofRecord("exact")
    problem = request.problem
    for concrete in concrete_typings(problem.typing):
        rows, cols = concrete.symbols[request.wrt]
        # The oracle differentiates each entry of the gradient once more: about one gradient per entry of wrt.
        # The claim is not estimated up front: the estimate of a formula full of quotients (a second derivative)
        # is wildly pessimistic, and the meter below stops any evaluation that really grows past the budget.
        cost = estimate_cost(request.node, concrete) * (1 + int(rows) * int(cols))  # type: ignore[arg-type]
        check_budget(cost, budget, f"the second derivative of `{problem.text}` on {describe_shapes(concrete)}")
        limit = DEFAULT_BUDGET if budget is None else budget
        memory = max(MEMORY_FLOOR, int(DEFAULT_MEMORY * limit / DEFAULT_BUDGET))
        with metered(deadline, what=f"on {describe_shapes(concrete)} ", work_cap=2 * limit, memory_cap=memory):
            structure = Structure(problem.structured)  # assume=: structured symbols parametrised, y² = 1 reduced
            instance = Instance(concrete, deadline=deadline, structure=structure)
            if request.kind == "hvp":
                oracle = hvp_matrix(instance, request.node, request.wrt, problem.upstream, request.second.direction)
                if request.transposed:
                    oracle = transpose(oracle)
            else:
                oracle = hessian_matrix(instance, request.node, request.wrt)
            claimed = instance.evaluate(claim_node)
            if structure.reduces:
                oracle, claimed = on_assumptions(structure, oracle, claimed)
            outcome = compare(instance, oracle, claimed, request.wrt,
                              domain=PointDomain(instance, [request.node, claim_node]))
        record.shapes.append(dict(concrete.symbols))
        if outcome.status != "proved":
            where = "on {" + describe_shapes(concrete) + "}"
            status = Status.REFUTED if outcome.status in ("refuted", "shape") else Status.UNDECIDED
            return _verdict(request, claim, status, f"{outcome.detail} {where}", counterexample=outcome.counterexample,
                            proof=record)
    if problem.typing.is_concrete:
        return _verdict(request, claim, Status.PROVED, f"proved entrywise on {describe_shape_list(record.shapes)}",
                        proof=record)
    reason = prove_for_all_shapes(problem, request.node, request.wrt, request.second.direction,
                                  ex.Transpose(claim_node) if request.transposed else claim_node,
                                  request.kind == "hessian", _left(deadline))
    if reason is not None:
        record.all_shapes = True
        return _verdict(request, claim, Status.PROVED, f"{reason}; checked entrywise on "
                        f"{describe_shape_list(record.shapes)}", proof=record)
    return _verdict(request, claim, Status.UNDECIDED,
                    f"undecided: holds at the sample sizes {describe_shape_list(record.shapes)}, but that is a check, "
                    "not a proof for all shapes; give concrete shapes for a proof", proof=record, checked_at_sizes=True)


def _left(deadline: Deadline) -> float | None:
    """The seconds left before ``deadline`` (None: no limit); a spent one raises its TimeoutError."""
    deadline()
    return None if deadline.end is None else max(deadline.end - time.monotonic(), 1e-3)


def _assumed(request: _Request, formula: ex.Expr) -> tuple[ex.Expr, list[str]]:
    """The formula rewritten with the assumptions (``y ** 2`` is ``ones`` for labels ±1), and the rules used."""
    if not request.problem.structured:
        return formula, []
    typing = request.second.typing
    return rewrite_assumed(formula, request.problem.assume, lambda node: typing.shape_of(node),
                           frozenset(typing.symmetric))


def _carried(request: _Request, plain: ex.Expr, rules: list[str], verdict: SecondVerdict, budget: int | None,
             timeout: float | None) -> SecondVerdict:
    """A rewritten formula checked only at sample sizes is proved when the formula before the rewrite is proved for
    all shapes: each rule is an identity under the assumptions for all shapes (as in :func:`symderiv.gradient`)."""
    if not rules or not verdict.checked_at_sizes:
        return verdict
    before = _check(request, to_text(plain), plain, budget, timeout)
    if before.status != "proved" or before.proof is None or not before.proof.all_shapes:
        return verdict
    label = _label(request.kind, request.wrt, request.second.direction, request.layout)
    named = request.problem.assumptions_text()
    proved = before.reason.removesuffix(f" {named}")  # _verdict names the assumptions once, at the end
    reason = f"{label} = {to_text(plain)} {proved}; {verdict.claim} follows from it because " + "; ".join(rules)
    return _verdict(request, verdict.claim, Status.PROVED, reason, proof=before.proof)


def _result(request: _Request, formula: ex.Expr, check: bool, budget: int | None, timeout: float | None
            ) -> SecondDerivative:
    problem = request.problem
    plain = formula
    formula, rules = _assumed(request, formula)
    text = to_text(formula)
    result = SecondDerivative(text, formula, request.wrt, _want_shape(request), problem.text, request.layout,
                              problem.upstream, request.second.scalar, kind=request.kind,
                              direction=request.second.direction)
    if not check:
        return result
    verdict = _carried(request, plain, rules, _check(request, text, formula, budget, timeout), budget, timeout)
    if not verdict.holds and not verdict.checked_at_sizes:
        how = "refuted it" if verdict.status == "refuted" else "could not confirm it"
        raise DerivationError(f"symderiv derived {_label(request.kind, request.wrt, request.second.direction, request.layout)} = "
                              f"{text} for `{problem.text}`, but the prover {how} ({verdict.reason}). This is a bug "
                              "in symderiv; please report it.", hint="check=False returns the unproved formula")
    status = "checked" if verdict.checked_at_sizes else Status.of(verdict.status).value
    return result.with_proof(status, verdict.proof.shapes if verdict.proof else [], verdict.reason)  # type: ignore[return-value]


def hvp(expr: str, wrt: str, direction: str = "V", shapes: Mapping[str, Any] | None = None, *,
        claim: str | None = None, functions: Iterable[str] = (), symmetric: Iterable[str] = (), upstream: str = "G",
        layout: str = "denominator", check: bool = True, method: str = "auto", budget: int | None = None,
        timeout: float | None = None, assume: Mapping[str, str] | None = None) -> SecondDerivative | SecondVerdict:
    """The Hessian of ``L`` applied to ``direction`` (shaped like ``wrt``): the derivative of ∂L/∂wrt along it.

    For a matrix-valued ``expr``, ``L = ⟨G, expr⟩`` with the upstream ``G`` held constant. The formula is
    proved entrywise against the second-order oracle (``proof_status``). With ``claim=`` the claimed
    formula is verified instead and a :class:`SecondVerdict` returned.

    >>> hvp("logdet(X)", wrt="X", shapes={"X": (2, 2)}).formula
    '-inv(X).T @ V.T @ inv(X).T'
    >>> hvp("sum((X @ w - y) ** 2)", "w", shapes={"w": (2, 1), "y": (3, 1)}, claim="2 * X.T @ X @ V").status.value
    'proved'
    """
    request = _request(expr, wrt, "hvp", direction, shapes, functions, symmetric, upstream, layout, method, budget,
                       assume)
    if claim is not None:
        return _verify(request, claim, budget, timeout)
    formula, second = hvp_expression(request.node, request.problem.typing, wrt, direction, upstream)
    if request.transposed:
        formula = Simplifier(lambda node: second.typing.shape_of(node), second.typing.symmetric).simplify(
            ex.Transpose(formula))
    return _result(request, formula, check, budget, timeout)


def hessian(expr: str, wrt: str, shapes: Mapping[str, Any] | None = None, *, claim: str | None = None,
            functions: Iterable[str] = (), symmetric: Iterable[str] = (), layout: str = "denominator", check: bool = True,
            method: str = "auto", budget: int | None = None, timeout: float | None = None,
            assume: Mapping[str, str] | None = None) -> SecondDerivative | SecondVerdict:
    """The ``n×n`` Hessian of a scalar ``expr`` with respect to a column vector ``wrt`` (``n×1``), proved entrywise.

    With ``claim=`` the claimed Hessian is verified instead and a :class:`SecondVerdict` returned. ``assume=``
    states structure of symbols held fixed: with labels ``y`` of signs (±1) the logistic Hessian loses its ``y ** 2``.

    >>> hessian("x.T @ A @ x", wrt="x", shapes={"x": (3, 1)}).formula
    'A.T + A'
    >>> hessian("x.T @ A @ x", wrt="x", shapes={"x": (3, 1)}, claim="2 * A").holds
    False
    >>> hessian("sum(log(1 + exp(-y * (X @ w))))", "w", {"X": (3, 2), "w": (2, 1), "y": (3, 1)},
    ...         assume={"y": "signs"}).formula
    'X.T @ (X * sigmoid(-y * (X @ w)) * (1 - sigmoid(-y * (X @ w))))'
    """
    request = _request(expr, wrt, "hessian", "V", shapes, functions, symmetric, "G", layout, method, budget, assume)
    if claim is not None:
        check_hessian(request.node, request.problem.typing, wrt)
        return _verify(request, claim, budget, timeout)
    formula = hessian_expression(request.node, request.problem.typing, wrt)
    return _result(request, formula, check, budget, timeout)


def _verify(request: _Request, claim: str, budget: int | None, timeout: float | None) -> SecondVerdict:
    claim_node = _parse_claim(request, claim)
    wrong = _shape_verdict(request, claim, claim_node)
    if wrong is not None:
        return wrong
    return _check(request, claim, claim_node, budget, timeout)


def hvp_pairing(expr: str, wrt: str, direction: str = "V", shapes: Mapping[str, Any] | None = None, *,
                functions: Iterable[str] = (), symmetric: Iterable[str] = (), upstream: str = "G") -> Pairing:
    """The scalar ``sum((∂L/∂wrt) * V)`` whose gradient is the HVP, for :func:`symderiv.derive` to explain.

    >>> hvp_pairing("x.T @ A @ x", "x", shapes={"x": ("n", 1)}).text
    'sum(((A + A.T) @ x) * V)'
    """
    request = _request(expr, wrt, "hvp", direction, shapes, functions, symmetric, upstream, "denominator", "auto",
                       None)
    return pairing(request.problem, request.node, wrt, direction)
