"""``symderiv.verify`` (module ``verification``): prove a claimed gradient exactly, or refute it at an entry."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import expr as ex
from .entrywise import Deadline, Instance, check_budget, describe_shapes, estimate_cost, gc_paused
from .errors import NameKindError, OptionError, ShapeError, SymderivError, UnsupportedError
from .language import check_identifier, parse
from .prover import Counterexample, compare, loss_gradient
from .shapes import Typing, format_shape, infer_shapes

LAYOUTS = ("denominator", "numerator")
#: Strict mode's cost grows like (terms of D) × (entries of V); calibrated on W @ X (8³ in about 8 s, docs/strict.md).
STRICT_COST_FACTOR = 60


METHODS = ("exact", "random")


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
        shapes = " and ".join("{" + ", ".join(f"{k}: {format_shape(v)}" for k, v in s.items()) + "}"
                              for s in self.shapes)
        if self.all_shapes:
            return "for all shapes (index notation)" + (f", and checked entrywise on {shapes}" if shapes else "")
        return f"entrywise on {shapes}" if shapes else "entrywise"


@dataclass
class Verdict:
    """The answer of :func:`verify`. ``bool(verdict)`` is ``verdict.holds``.

    >>> v = verify("W @ X", wrt="W", claim="G @ X", shapes={"W": (2, 2), "X": (2, 2)})
    >>> v.holds, v.status, v.counterexample.entry
    (False, 'refuted', (0, 0))
    """

    holds: bool
    status: str
    reason: str
    expression: str
    wrt: str
    claim: str
    counterexample: Counterexample | None = None
    proof: ProofRecord | None = None

    def __bool__(self) -> bool:
        return self.holds

    def report(self) -> str:
        head = (f"∂L/∂{self.wrt} = {self.claim}  for L = "
                + (f"{self.expression}" if self.status != "shape" else self.expression))
        lines = [(("HOLDS (probabilistic)  " if self.status == "probabilistic" else "PROVED  ") if self.holds
                 else "NOT PROVED  ") + head, self.reason]
        if self.counterexample is not None:
            lines.append(self.counterexample.describe())
        return "\n".join(line for line in lines if line)

    def to_dict(self) -> dict[str, Any]:
        return {"holds": self.holds, "status": self.status, "reason": self.reason, "expression": self.expression,
                "wrt": self.wrt, "claim": self.claim,
                "counterexample": None if self.counterexample is None else self.counterexample.to_dict(),
                "proof": None if self.proof is None else {
                    "method": self.proof.method, "all_shapes": self.proof.all_shapes, "strict": self.proof.strict,
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
    instance = Instance(typing, deadline=deadline)
    if strict:
        from .strict import strict_gradient
        gradient = strict_gradient(instance, problem.expression, wrt, problem.upstream)
    else:
        gradient, _ = loss_gradient(instance, problem.expression, wrt, problem.upstream)
    if problem.layout == "numerator":
        gradient = [list(col) for col in zip(*gradient, strict=True)]
    if not problem.scalar:
        instance.symbol(problem.upstream, upstream_shape)  # type: ignore[arg-type]
    claimed = instance.evaluate(claim)
    return compare(instance, gradient, claimed, wrt)


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
    method: str = "exact",
    budget: int | None = None,
    timeout: float | None = None,
) -> Verdict:
    """Prove ``∂L/∂wrt == claim`` exactly, or refute it with the failing entry and a witness.

    With concrete shapes the proof is on those shapes; with dimension names (or
    none) the claim is checked on small concrete sizes, and the verdict says which.

    >>> v = verify("W @ X", wrt="W", claim="G @ X.T", shapes={"W": (3, 2), "X": (2, 4)})
    >>> v.holds, v.reason
    (True, 'proved entrywise on {W: 3×2, X: 2×4}')
    >>> bool(verify("W @ X", wrt="W", claim="X.T @ G", shapes={"W": (3, 2), "X": (2, 4)}))
    False
    """
    if method not in METHODS:
        raise OptionError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if not isinstance(wrt, str):
        raise OptionError("verify takes one wrt name", hint="call verify once per matrix")
    problem = prepare(expression, [wrt], shapes, functions=functions, symmetric=symmetric, upstream=upstream,
                      layout=layout)
    claim_node = parse_claim(problem, claim)
    deadline = Deadline(timeout)  # also validates it: positive and finite
    if method == "random":
        from .randomized import verify_random
        return verify_random(problem, wrt, claim, claim_node, budget=budget, deadline=deadline)
    typing = problem.typing
    want = typing.substitute({}).symbols[wrt]
    if problem.layout == "numerator":
        want = (want[1], want[0])
    try:
        claim_shape = typing.shape_of(claim_node, {upstream: problem.result_shape}, text=claim)
    except ShapeError as err:
        return Verdict(False, "shape", f"shape: the claim is not well-shaped ({err.message}), "
                       f"while ∂L/∂{wrt} is {format_shape(want)}", expression, wrt, claim)
    if claim_shape != want:
        return Verdict(False, "shape", f"shape: the claim is {format_shape(claim_shape)} but ∂L/∂{wrt} is "
                       f"{format_shape(want)}" + (" (numerator layout)" if layout == "numerator" else ""),
                       expression, wrt, claim)
    record = ProofRecord("exact", strict=strict)
    if not typing.is_concrete:
        # Symbolic shapes: the index-notation proof covers every size; the concrete check below still runs.
        from .index import prove_all_shapes

        record.all_shapes = prove_all_shapes(problem, wrt, claim_node, refute=False) is True
    for concrete in concrete_typings(typing):
        with gc_paused():  # one pause for the whole proof: see entrywise.gc_paused
            outcome = prove_concrete(problem, wrt, claim_node, concrete, strict=strict, budget=budget,
                                     deadline=deadline)
        record.shapes.append(dict(concrete.symbols))
        if outcome.status != "proved":
            record.all_shapes = False  # the concrete oracle has the last word
            where = "on {" + describe_shapes(concrete) + "}"
            reason = outcome.detail if outcome.status == "shape" else f"{outcome.detail} {where}"
            return Verdict(False, outcome.status if outcome.status in ("refuted", "shape") else "undecided", reason,
                           expression, wrt, claim, outcome.counterexample, record)
    if typing.is_concrete:
        reason = f"proved {record.describe()}"
    elif record.all_shapes:
        checked = ProofRecord("exact", record.shapes).describe()
        reason = f"proved for all shapes (index notation) and checked {checked}"
        return Verdict(True, "proved", reason, expression, wrt, claim, None, record)
    else:
        reason = (f"holds on the concrete shapes checked, {record.describe().removeprefix('entrywise on ')}; "
                  "this is a check, not a proof for all shapes")
    return Verdict(True, "proved" if typing.is_concrete else "checked", reason, expression, wrt, claim, None, record)


__all__ = ["verify", "Verdict", "ProofRecord", "Problem", "prepare", "parse_claim", "SymderivError"]
