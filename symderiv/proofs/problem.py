"""The problem every proof engine works on, and the typed result of a verification.

A :class:`Problem` is a parsed and typed request (:func:`prepare`); a claim is parsed against it
(:func:`parse_claim`); the answer is a :class:`Verdict` (immutable once built) with its
:class:`ProofRecord`. These types sit below the engines (index notation, the randomized test) and
below :mod:`symderiv.proofs.verification`, which runs them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from symderiv.core import expr as ex
from symderiv.core.errors import NameKindError, OptionError, ShapeError, SymderivError
from symderiv.core.status import Status, exit_code, headline
from symderiv.proofs.exact.assumed import check_against, describe, normalise
from symderiv.proofs.exact.prover import Counterexample
from symderiv.proofs.sizes import sensible_assignments
from symderiv.syntax import printing
from symderiv.syntax.language import check_identifier, parse
from symderiv.syntax.shapes import Typing, format_shape, infer_shapes

LAYOUTS = ("denominator", "numerator")
#: How a gradient with respect to a symmetric matrix is defined (SPEC section 6; docs/symmetric.md).
SYMMETRIC_CONVENTIONS = ("projection", "entries")
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
    #: structure of symbols that are held fixed (``assume={"Y": "onehot_rows"}``), symmetric ones included
    assume: dict[str, str] = field(default_factory=dict)
    symmetric_convention: str = "projection"

    @property
    def structured(self) -> dict[str, str]:
        """The assumptions other than symmetry (which every engine knows)."""
        return {k: v for k, v in self.assume.items() if v != "symmetric"}

    def assumptions_text(self) -> str:
        """``under the assumption Y onehot_rows``, or the empty string."""
        structured = self.structured
        if not structured:
            return ""
        return f"under the assumption{'s' if len(structured) > 1 else ''} {describe(structured)}"

    @property
    def result_shape(self) -> ex.Shape:
        return self.typing.shape_of(self.expression)

    @property
    def scalar(self) -> bool:
        return self.result_shape == (1, 1)


def prepare(expression: str, wrt: Iterable[str], shapes: Mapping[str, Any] | None, *, functions: Iterable[str] = (),
            symmetric: Iterable[str] = (), upstream: str = "G", layout: str = "denominator",
            assume: Mapping[str, str] | None = None, symmetric_convention: str = "projection") -> Problem:
    """Parse, type and check the common options of every entry point.

    ``assume`` maps symbols to kinds of structure (:data:`symderiv.proofs.exact.assumed.KINDS`); ``symmetric`` is
    the shorthand for the kind ``symmetric``. A gradient with respect to a symmetric matrix follows
    ``symmetric_convention`` (``projection`` or ``entries``, docs/symmetric.md).

    >>> prepare("W @ X", ["W"], {"W": ("H", "m")}).typing.symbols
    {'W': ('H', 'm'), 'X': ('m', 'n')}
    >>> prepare("sum(Y * X)", ["X"], None, assume={"Y": "onehot_rows"}).assumptions_text()
    'under the assumption Y onehot_rows'
    """
    check_identifier(upstream, "upstream")
    if layout not in LAYOUTS:
        raise OptionError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    if symmetric_convention not in SYMMETRIC_CONVENTIONS:
        raise OptionError(f"symmetric_convention must be one of {', '.join(SYMMETRIC_CONVENTIONS)}, not "
                          f"{symmetric_convention!r}", hint="see docs/symmetric.md")
    functions = tuple(functions)
    symmetric = [symmetric] if isinstance(symmetric, str) else list(symmetric)
    assumed = normalise(assume)
    for name in symmetric:
        if assumed.get(name, "symmetric") != "symmetric":
            raise OptionError(f"`{name}` is declared symmetric and assumed {assumed[name]}; give it one structure")
        assumed[name] = "symmetric"
    node = parse(expression, functions=functions, upstream=upstream)
    typing = infer_shapes(node, shapes, symmetric=[n for n, k in assumed.items() if k == "symmetric"],
                          text=expression)
    names = node.symbols()
    wrt = list(wrt)
    for name in wrt:
        if not isinstance(name, str):
            raise OptionError(f"wrt must name a matrix of the expression, not {name!r}")
        if name not in names:
            raise OptionError(f"`{name}` does not appear in the expression `{expression}`",
                              hint="wrt is one of " + ", ".join(names))
    check_against(assumed, typing.symbols, wrt, upstream)
    return Problem(expression, node, typing, upstream, functions, layout, assumed, symmetric_convention)


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


def _markdown_text(text: str) -> str:
    """Plain text for Markdown: the characters it would read as markup escaped."""
    for ch in ("\\", "*", "_", "`", "[", "]", "<", ">", "$"):
        text = text.replace(ch, "\\" + ch)
    return text


def describe_shape_list(shapes: list[dict[str, ex.Shape]]) -> str:
    """``{W: 2×3, X: 3×4} and {W: 3×4, X: 4×5}``."""
    return " and ".join("{" + ", ".join(f"{k}: {format_shape(v)}" for k, v in s.items()) + "}" for s in shapes)


@dataclass(frozen=True)
class Verdict:
    """The answer of :func:`~symderiv.proofs.verification.verify`: a :class:`~symderiv.core.status.Status` and
    the reason for it. Immutable: a changed verdict is a new one (``dataclasses.replace``).

    ``bool(verdict)`` (and ``verdict.holds``) is True only for ``proved`` and
    ``probabilistic``; ``holds`` always follows ``status``. ``checked_at_sizes`` marks an
    ``undecided`` verdict on symbolic shapes that held at every sample size checked.

    >>> v = Verdict(True, "shape", "shape: the claim is 2×2 but ∂L/∂W is 2×3", "W @ X", "W", "G")
    >>> v.holds, v.status, v.exit_code
    (False, 'refuted', 1)
    >>> v.reason = "patched"
    Traceback (most recent call last):
    dataclasses.FrozenInstanceError: cannot assign to field 'reason'
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

    def __post_init__(self) -> None:  # normalising the status while it is built, not patching afterwards
        status = Status.of(self.status)
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "holds", status.holds)

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

    def _repr_markdown_(self) -> str:
        """For Jupyter: the headline in bold, the claim as math (and in the language), the reason, the counterexample.

        >>> print(Verdict(True, "proved", "proved for all shapes", "W @ X", "W", "G @ X.T")._repr_markdown_())
        **PROVED** $\\frac{\\partial L}{\\partial W} = G X^{\\top}$ (`∂L/∂W = G @ X.T` for `W @ X`)
        <BLANKLINE>
        proved for all shapes
        """
        exponent = getattr(self.proof, "error_exponent", None)
        try:
            math = f"$\\frac{{\\partial L}}{{\\partial {printing.to_latex(ex.Symbol(self.wrt))}}} = " \
                   f"{printing.to_latex(parse(self.claim, upstream=None))}$ "
        except SymderivError:  # a claim with generic functions, or one that does not parse: as code only
            math = ""
        lines = [f"**{headline(Status.of(self.status), exponent)}** {math}(`∂L/∂{self.wrt} = {self.claim}` "
                 f"for `{self.expression}`)", _markdown_text(self.reason)]
        if self.counterexample is not None:
            lines.append("```\n" + self.counterexample.describe() + "\n```")
        return "\n\n".join(line for line in lines if line)

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


def concrete_typings(typing: Typing, nodes: Iterable[ex.Expr] = ()) -> list[Typing]:
    """The typing itself when concrete, else two small assignments of distinct sizes (under which the
    matrices of ``nodes`` that are inverted can be invertible: :func:`~symderiv.proofs.sizes.sensible_assignments`)."""
    if typing.is_concrete:
        return [typing]
    return [typing.substitute(a) for a in sensible_assignments(typing, nodes, 2)]


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


def shape_verdict(problem: Problem, wrt: str, claim: str, claim_node: ex.Expr) -> Verdict | None:
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



__all__ = ["LAYOUTS", "METHODS", "SYMMETRIC_CONVENTIONS", "Problem", "ProofRecord", "Status", "Verdict", "check_options", "concrete_typings",
           "describe_shape_list", "parse_claim", "prepare", "shape_verdict"]
