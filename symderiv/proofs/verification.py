"""``symderiv.verify`` (module ``verification``): prove a claimed gradient exactly, or refute it at an entry."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from symderiv.core import expr as ex
from symderiv.core.errors import (
    BudgetError,
    NameKindError,
    OptionError,
    ShapeError,
    SymderivError,
    TimeoutError,
    UnsupportedError,
)
from symderiv.core.meter import metered
from symderiv.core.status import Status, exit_code, headline
from symderiv.proofs.exact.cost import DEFAULT_BUDGET, DEFAULT_MEMORY
from symderiv.proofs.exact.entrywise import Deadline, Instance, check_budget, describe_shapes, estimate_cost, gc_paused
from symderiv.proofs.exact.inverse import prove_with_inverse_atoms
from symderiv.proofs.exact.prover import Counterexample, Outcome, compare, loss_gradient
from symderiv.proofs.exact.witness import PointDomain
from symderiv.syntax.language import check_identifier, parse
from symderiv.syntax.shapes import Typing, format_shape, infer_shapes

LAYOUTS = ("denominator", "numerator")
#: Strict mode's cost grows like (terms of D) × (entries of V); calibrated on W @ X (8³ in about 8 s, docs/strict.md).
STRICT_COST_FACTOR = 60
#: The least growth of resident memory a metered exact proof may make, whatever its budget.
MEMORY_FLOOR = 256_000_000


METHODS = ("auto", "exact", "random")


@dataclass
class Problem:
    """A parsed and typed request: expression, wrt, options."""

    text: str
    expression: ex.Expr
    typing: Typing
    upstream: str
    functions: tuple[str, ...]
    layout: str

    @property
    def result_shape(self) -> ex.Shape:
        return self.typing.shape_of(self.expression)

    @property
    def scalar(self) -> bool:
        return self.result_shape == (1, 1)


def prepare(expression: str, wrt: Iterable[str], shapes: Mapping[str, Any] | None, *, functions: Iterable[str] = (),
            symmetric: Iterable[str] = (), upstream: str = "G", layout: str = "denominator") -> Problem:
    """Parse, type and check the common options of every entry point.

    >>> prepare("W @ X", ["W"], {"W": ("H", "m")}).typing.symbols
    {'W': ('H', 'm'), 'X': ('m', 'n')}
    """
    check_identifier(upstream, "upstream")
    if layout not in LAYOUTS:
        raise OptionError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    functions = tuple(functions)
    if isinstance(symmetric, str):
        symmetric = [symmetric]
    node = parse(expression, functions=functions, upstream=upstream)
    typing = infer_shapes(node, shapes, symmetric=symmetric, text=expression)
    names = node.symbols()
    for name in wrt:
        if not isinstance(name, str):
            raise OptionError(f"wrt must name a matrix of the expression, not {name!r}")
        if name not in names:
            raise OptionError(f"`{name}` does not appear in the expression `{expression}`",
                              hint="wrt is one of " + ", ".join(names))
        if name in typing.symmetric:
            raise UnsupportedError(
                f"differentiating with respect to the symmetric matrix `{name}` has two conventions "
                "(the plain gradient, or G + G.T - diag(G)); symderiv refuses rather than pick one",
                hint="leave it unsymmetric to get the plain gradient, then symmetrise it as your convention says")
    return Problem(expression, node, typing, upstream, functions, layout)


def parse_claim(problem: Problem, claim: str) -> ex.Expr:
    """Parse a claim: the expression's names, the upstream (when the expression is not 1×1), known dimensions.

    >>> parse_claim(prepare("W @ X", ["W"], None), "G @ X.T")
    MatMul(left=Symbol(name='G'), right=Transpose(operand=Symbol(name='X')))
    """
    node = parse(claim, functions=problem.functions, upstream=problem.upstream, allow_upstream=True)
    known = set(problem.typing.symbols)
    for name in node.symbols():
        if name == problem.upstream:
            if problem.scalar:
                raise NameKindError(f"the claim uses `{name}`, but the expression is scalar, so L is the "
                                    f"expression itself and there is no upstream gradient", text=claim)
            continue
        if name not in known:
            raise NameKindError(f"the claim uses `{name}`, which the expression does not have", text=claim,
                                hint="claims may use " + ", ".join(sorted(known | {problem.upstream})))
    dims = set(problem.typing.dim_names) | set(problem.typing.aliases)
    for dim in node.dim_names():
        if dim not in dims:
            raise ShapeError(f"the claim uses the dimension `{dim}`, which the shapes do not have", text=claim,
                             hint="known dimensions: " + (", ".join(dims) or "none (all sizes are numbers)"))
    return node


@dataclass
class ProofRecord:
    """What was proved, how, and on which shapes."""

    method: str
    shapes: list[dict[str, ex.Shape]] = field(default_factory=list)
    all_shapes: bool = False
    strict: bool = False
    error_exponent: int | None = None  # probabilistic proofs: error ≤ 2**-error_exponent

    def describe(self) -> str:
        shapes = describe_shape_list(self.shapes)
        if self.all_shapes:
            return "for all shapes (index notation)" + (f", and checked entrywise on {shapes}" if shapes else "")
        return f"entrywise on {shapes}" if shapes else "entrywise"


def describe_shape_list(shapes: list[dict[str, ex.Shape]]) -> str:
    """``{W: 2×3, X: 3×4} and {W: 3×4, X: 4×5}``."""
    return " and ".join("{" + ", ".join(f"{k}: {format_shape(v)}" for k, v in s.items()) + "}" for s in shapes)


@dataclass
class Verdict:
    """The answer of :func:`verify`: a :class:`~symderiv.core.status.Status` and the reason for it.

    ``bool(verdict)`` (and ``verdict.holds``) is True only for ``proved`` and
    ``probabilistic``; ``holds`` always follows ``status``. ``checked_at_sizes`` marks an
    ``undecided`` verdict on symbolic shapes that held at every sample size checked.

    >>> v = verify("W @ X", wrt="W", claim="G @ X", shapes={"W": (2, 2), "X": (2, 2)})
    >>> v.holds, v.status, v.counterexample.entry, v.exit_code
    (False, 'refuted', (0, 0), 1)
    """

    holds: bool
    status: Status | str  # normalised to a Status (the 0.1 names "shape" and "checked" are accepted)
    reason: str
    expression: str
    wrt: str
    claim: str
    counterexample: Counterexample | None = None
    proof: ProofRecord | None = None
    checked_at_sizes: bool = False

    def __post_init__(self) -> None:
        self.status = Status.of(self.status)
        self.holds = self.status.holds

    def __bool__(self) -> bool:
        return self.holds

    @property
    def exit_code(self) -> int:
        """The command line's exit code: 0 proved or probabilistic, 1 refuted, 4 undecided."""
        return exit_code(Status.of(self.status))

    def report(self) -> str:
        exponent = getattr(self.proof, "error_exponent", None)
        lines = [f"{headline(Status.of(self.status), exponent)}  ∂L/∂{self.wrt} = {self.claim}  for L = {self.expression}",
                 self.reason]
        if self.counterexample is not None:
            lines.append(self.counterexample.describe())
        return "\n".join(line for line in lines if line)

    def to_dict(self) -> dict[str, Any]:
        return {"holds": self.holds, "status": Status.of(self.status).value, "reason": self.reason,
                "expression": self.expression, "wrt": self.wrt, "claim": self.claim,
                "counterexample": None if self.counterexample is None else self.counterexample.to_dict(),
                "proof": None if self.proof is None else {
                    "method": self.proof.method, "all_shapes": self.proof.all_shapes, "strict": self.proof.strict,
                    "error_exponent": getattr(self.proof, "error_exponent", None),
                    "shapes": [{k: list(v) for k, v in s.items()} for s in self.proof.shapes]}}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


def concrete_typings(typing: Typing) -> list[Typing]:
    """The typing itself when concrete, else two small assignments of distinct sizes."""
    if typing.is_concrete:
        return [typing]
    return [typing.substitute(a) for a in typing.assignments(2)]


def prove_concrete(problem: Problem, wrt: str, claim: ex.Expr, typing: Typing, *, strict: bool = False,
                   budget: int | None = None, deadline: Deadline | None = None):
    """Prove or refute on one concrete typing; returns a prover Outcome."""
    upstream_shape = typing.shape_of(problem.expression)
    extra = {problem.upstream: upstream_shape}
    cost = estimate_cost(problem.expression, typing) + estimate_cost(claim, typing, extra)  # type: ignore[arg-type]
    if strict:
        # SymPy differentiates f(D(V)) once per entry of V, each time through every entry of D.
        rows, cols = typing.symbols[wrt]
        cost *= STRICT_COST_FACTOR * rows * cols  # type: ignore[operator]
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
    instance = Instance(typing, deadline=deadline)
    if strict:
        from symderiv.proofs.strict import strict_gradient
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


def check_options(method: str, strict: bool, budget: int | None) -> None:
    """Refuse bad values of ``method``, ``strict`` with ``method="random"``, and a budget that is not a positive integer.

    >>> check_options("auto", False, None)
    >>> check_options("random", True, None)
    Traceback (most recent call last):
    symderiv.core.errors.OptionError: strict mode is an exact proof; it cannot run with method='random'
    hint: use method='exact' (or 'auto') with strict=True, or drop strict
    """
    if method not in METHODS:
        raise OptionError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if strict and method == "random":
        raise OptionError("strict mode is an exact proof; it cannot run with method='random'",
                          hint="use method='exact' (or 'auto') with strict=True, or drop strict")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0):
        raise OptionError(f"budget must be a positive whole number of term operations, not {budget!r}",
                          hint="leave it out for the default budget")


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
) -> Verdict:
    """Prove ``∂L/∂wrt == claim``, or refute it with the failing entry and a witness of the domain.

    With concrete shapes the proof is exact and entrywise on those shapes; past the
    budget, ``method="auto"`` (the default) runs the randomized test instead
    (status ``probabilistic``). With dimension names the all-shapes (index) engine
    proves it for every size; when it cannot, a check at sample sizes is only
    ``undecided`` (or ``refuted`` when it fails).

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
                      layout=layout)
    claim_node = parse_claim(problem, claim)
    deadline = Deadline(timeout)  # also validates it: positive and finite
    wrong_shape = _shape_verdict(problem, wrt, claim, claim_node)
    if wrong_shape is not None:
        return wrong_shape
    if method == "random":
        return _at_sample_sizes(problem, _random(problem, wrt, claim, claim_node, budget, deadline))
    if not problem.typing.is_concrete:
        from symderiv.proofs.index import prove_all_shapes

        if prove_all_shapes(problem, wrt, claim_node, refute=False) is True:
            return _second_opinion(problem, wrt, claim, claim_node, method, strict, budget, deadline)
    return _concrete_check(problem, wrt, claim, claim_node, method, strict, budget, deadline)


def _shape_verdict(problem: Problem, wrt: str, claim: str, claim_node: ex.Expr) -> Verdict | None:
    """A ``refuted`` verdict whose reason starts with ``shape:`` when the claim has the wrong shape."""
    want = problem.typing.substitute({}).symbols[wrt]
    if problem.layout == "numerator":
        want = (want[1], want[0])
    try:
        got = problem.typing.shape_of(claim_node, {problem.upstream: problem.result_shape}, text=claim)
    except ShapeError as err:
        return Verdict(False, Status.REFUTED, f"shape: the claim is not well-shaped ({err.message}), "
                       f"while ∂L/∂{wrt} is {format_shape(want)}", problem.text, wrt, claim)
    if got != want:
        return Verdict(False, Status.REFUTED, f"shape: the claim is {format_shape(got)} but ∂L/∂{wrt} is "
                       f"{format_shape(want)}" + (" (numerator layout)" if problem.layout == "numerator" else ""),
                       problem.text, wrt, claim)
    return None


def _random(problem: Problem, wrt: str, claim: str, claim_node: ex.Expr, budget: int | None,
            deadline: Deadline) -> Verdict:
    from symderiv.proofs.random.randomized import verify_random

    return verify_random(problem, wrt, claim, claim_node, budget=budget, deadline=deadline)


def _at_sample_sizes(problem: Problem, verdict: Verdict) -> Verdict:
    """A pass at sample sizes of symbolic shapes is a check, not a proof: ``undecided``."""
    if problem.typing.is_concrete or not verdict.holds:
        return verdict
    sizes = describe_shape_list(verdict.proof.shapes) if verdict.proof is not None else "a few sample sizes"
    verdict.reason = (f"undecided: {verdict.reason}; it holds at the sample sizes {sizes}, but that is a check, "
                      "not a proof for all shapes")
    verdict.status, verdict.holds, verdict.checked_at_sizes = Status.UNDECIDED, False, True
    return verdict


def _concrete_check(problem: Problem, wrt: str, claim: str, claim_node: ex.Expr, method: str, strict: bool,
                    budget: int | None, deadline: Deadline) -> Verdict:
    """The exact entrywise check on each concrete typing; past the budget, ``auto`` runs the randomized test."""
    record = ProofRecord("exact", strict=strict)
    for concrete in concrete_typings(problem.typing):
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
        check.reason = (f"{check.reason}; the all-shapes engine had proved this claim, so the engines disagree: "
                        "this is a bug in symderiv, please report it")
        return check
    record = ProofRecord(check.proof.method if check.proof else "exact", list(check.proof.shapes if check.proof else []),
                         all_shapes=True, strict=strict)
    how = ("checked entrywise on " if record.method == "exact" else "checked by the randomized test on ")
    shapes = describe_shape_list(record.shapes)
    reason = "proved for all shapes (index notation)" + (f" and {how}{shapes}" if shapes else "")
    return Verdict(True, Status.PROVED, reason, problem.text, wrt, claim, None, record)


__all__ = ["verify", "Verdict", "ProofRecord", "Problem", "Status", "prepare", "parse_claim", "check_options",
           "SymderivError"]
