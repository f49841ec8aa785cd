"""``symderiv.gradient`` (module ``backprop``, the reverse sweep): the matrix formula of ∂L/∂V, canonical and proved.

The reverse sweep is written once: start from the seed (the number ``1`` when the
expression is ``1×1``, so ``L = E``; otherwise the upstream symbol ``G``), hand
each node's upstream gradient to its rule in :data:`symderiv.autodiff.rules.RULES`, and
accumulate the contributions that reach each wanted symbol (a symbol used twice
gets the sum). The sum is simplified to the canonical form and, unless
``check=False``, proved by :func:`symderiv.verify` before it is returned.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from symderiv.autodiff.rules import Context, backward
from symderiv.autodiff.simplify import Simplifier
from symderiv.core import expr as ex
from symderiv.core.errors import BudgetError, DerivationError, OptionError
from symderiv.proofs.verification import Problem, check_options, prepare
from symderiv.syntax.printing import to_latex, to_text
from symderiv.syntax.shapes import format_shape

UPSTREAM_LATEX = r"\frac{\partial L}{\partial D}"


@dataclass
class Gradient:
    """One gradient ∂L/∂wrt: the formula, its tree, its LaTeX, its shape and the proof record.

    >>> g = gradient("W @ X", wrt="W")
    >>> g.formula, g.shape
    ('G @ X.T', ('n', 'm'))
    """

    formula: str
    expr: ex.Expr
    wrt: str
    shape: ex.Shape
    expression: str
    layout: str = "denominator"
    upstream: str = "G"
    scalar: bool = False
    proof: list[dict[str, ex.Shape]] = field(default_factory=list)
    #: "proved" (exact), "probabilistic" (the randomized test), "checked" (at sample sizes only) or "unchecked".
    proof_status: str = "unchecked"
    proof_reason: str = ""

    @property
    def latex(self) -> str:
        r"""The formula in LaTeX, the upstream written ``\frac{\partial L}{\partial D}``."""
        return self.to_latex()

    def to_latex(self, upstream_latex: str | None = UPSTREAM_LATEX) -> str:
        """The formula in LaTeX; ``upstream_latex=None`` writes the upstream by its name (``G``)."""
        return to_latex(self.expr, upstream=self.upstream, upstream_latex=upstream_latex)

    @property
    def lhs_latex(self) -> str:
        from symderiv.syntax.printing import _name_latex

        lhs = rf"\frac{{\partial L}}{{\partial {_name_latex(self.wrt)}}}"
        return lhs + (r"^{\top}" if self.layout == "numerator" else "")

    def _repr_latex_(self) -> str:
        return f"$${self.lhs_latex} = {self.latex}$$"

    def _repr_markdown_(self) -> str:
        return f"$${self.lhs_latex} = {self.latex}$$\n\n`∂L/∂{self.wrt} = {self.formula}`"

    def __str__(self) -> str:
        return self.formula

    def to_dict(self) -> dict[str, Any]:
        return {"wrt": self.wrt, "formula": self.formula, "latex": self.to_latex(None),
                "shape": list(self.shape), "layout": self.layout, "expression": self.expression,
                "upstream": None if self.scalar else self.upstream, "proof": {
                    "status": self.proof_status, "reason": self.proof_reason, "shapes": [{k: list(v) for k, v in s.items()} for s in self.proof]}}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


class _Sweep:
    """Shapes of the forward expression and the gradient terms, with one simplifier for both."""

    def __init__(self, problem: Problem, symmetric: Iterable[str]):
        self.problem = problem
        self.extra = {problem.upstream: problem.result_shape}
        self._shapes: dict[ex.Expr, ex.Shape] = {}
        self.simplifier = Simplifier(self.shape, symmetric)
        self.context = Context(shape=self.shape)

    def shape(self, node: ex.Expr) -> ex.Shape:
        if node not in self._shapes:
            self._shapes[node] = self.problem.typing.shape_of(node, self.extra)
        return self._shapes[node]

    def run(self, wanted: set[str]) -> dict[str, list[ex.Expr]]:
        seed: ex.Expr = ex.Number(Fraction(1)) if self.problem.scalar else ex.Symbol(self.problem.upstream)
        reached: dict[str, list[ex.Expr]] = {name: [] for name in wanted}
        # Depth-first with an explicit stack: deep expressions must not hit Python's recursion limit.
        stack: list[tuple[ex.Expr, ex.Expr]] = [(self.problem.expression, seed)]
        while stack:
            node, upstream = stack.pop()
            if isinstance(node, ex.Symbol):
                if node.name in wanted:
                    reached[node.name].append(upstream)
                continue
            children = node.children()
            if not children or not wanted.intersection(node.symbols()):
                continue
            contributions = backward(node, upstream, self.context)
            for child, contribution in reversed(list(zip(children, contributions, strict=True))):
                if contribution is not None and wanted.intersection(child.symbols()):
                    # Simplifying as we go keeps the terms small along deep chains.
                    stack.append((child, self.simplifier.simplify(contribution)))
        return reached

    def total(self, name: str, terms: list[ex.Expr]) -> ex.Expr:
        rows, cols = self.problem.typing.symbols[name]
        if not terms:
            return ex.ConstMatrix("zeros", rows, cols)
        total = terms[0]
        for term in terms[1:]:
            total = ex.Add(total, term)
        return self.simplifier.simplify(total)


def _generalized_shapes(problem: Problem) -> dict[str, ex.Shape] | None:
    """The same shapes with each size above 1 renamed, for a proof on small sizes (None if impossible)."""
    names: dict[int, str] = {}
    taken = set(problem.typing.dim_names) | set(problem.typing.symbols)

    def rename(d: ex.Dim) -> ex.Dim:
        if isinstance(d, str) or d == 1:
            return d
        if d not in names:
            candidate = f"d{d}"
            while candidate in taken:
                candidate += "_"
            names[d] = candidate
        return names[d]

    if any(isinstance(n, ex.ConstMatrix) for n in problem.expression.walk()):
        return None  # a literal size in the expression ties the proof to that size
    return {k: (rename(r), rename(c)) for k, (r, c) in problem.typing.symbols.items()}


def _prove(problem: Problem, grad: Gradient, shapes: Mapping[str, Any] | None, symmetric: Iterable[str],
           method: str, budget: int | None, timeout: float | None) -> None:
    from symderiv.proofs.verification import verify

    def attempt(on: Mapping[str, Any] | None, how: str):
        return verify(problem.text, wrt=grad.wrt, claim=grad.formula, shapes=on, functions=problem.functions,
                      symmetric=symmetric, upstream=problem.upstream, layout=problem.layout, method=how,
                      budget=budget, timeout=timeout)

    # auto: the exact proof first; past its budget, an all-shapes proof beats the randomized test.
    try:
        return _record(grad, attempt(shapes, "exact" if method == "auto" else method))
    except BudgetError as err:
        if method == "random":
            raise
        refusal = err
    general = _generalized_shapes(problem)
    if general is not None and not any(isinstance(n, ex.ConstMatrix) and isinstance(n.rows, int) and n.rows > 1
                                       for n in grad.expr.walk()):
        try:
            verdict = attempt(general, "exact")
            if method == "exact" or verdict.status == "proved":
                return _record(grad, verdict)
        except BudgetError as err:
            refusal = err
    if method == "exact":
        raise refusal
    _record(grad, attempt(shapes, "random"))


def _record(grad: Gradient, verdict: Any) -> None:
    if not verdict.holds and not verdict.checked_at_sizes:
        kind = "refuted it" if verdict.status == "refuted" else "could not confirm it"
        raise DerivationError(
            f"symderiv derived ∂L/∂{grad.wrt} = {grad.formula} for `{verdict.expression}`, but the prover {kind} "
            f"({verdict.reason}). This is a bug in symderiv; please report it.",
            hint="gradient(..., check=False) returns the unproved formula")
    grad.proof = list(verdict.proof.shapes) if verdict.proof is not None else []
    # proved (exact), probabilistic (the randomized test), or checked (symbolic shapes, at sample sizes only)
    grad.proof_status = "checked" if verdict.checked_at_sizes else verdict.status.value
    grad.proof_reason = verdict.reason


def gradient(
    expr: str,
    wrt: str | Iterable[str],
    shapes: Mapping[str, Any] | None = None,
    *,
    layout: str = "denominator",
    upstream: str = "G",
    functions: Iterable[str] = (),
    symmetric: Iterable[str] = (),
    check: bool = True,
    method: str = "auto",
    budget: int | None = None,
    timeout: float | None = None,
) -> Gradient | list[Gradient]:
    """∂L/∂wrt as a canonical matrix formula, proved entrywise on small shapes unless ``check=False``.

    ``wrt`` is one name (a :class:`Gradient` is returned) or a list of names (a
    list of Gradients, in the same order). For a ``1×1`` expression the loss is the
    expression itself; otherwise the formula uses the upstream gradient ``G``.
    ``layout="numerator"`` returns the transpose. The proof follows ``method`` as in
    :func:`symderiv.verify`: by default exact, or past the budget the randomized test,
    and ``proof_status`` says which it got.

    >>> gradient("W @ X", wrt="X").formula
    'W.T @ G'
    >>> [g.formula for g in gradient("X @ W + b", wrt=["W", "b"], shapes={"b": (1, "M")})]
    ['X.T @ G', 'sum(G, axis=0)']
    >>> gradient("logdet(X)", wrt="X").formula
    'inv(X).T'
    """
    check_options(method, False, budget)
    single = isinstance(wrt, str)
    names = [wrt] if single else list(wrt)  # type: ignore[list-item]
    if not names:
        raise OptionError("wrt names no matrix", hint="for example wrt='W' or wrt=['W', 'b']")
    if isinstance(symmetric, str):
        symmetric = [symmetric]
    symmetric = tuple(symmetric)
    problem = prepare(expr, names, shapes, functions=functions, symmetric=symmetric, upstream=upstream,
                      layout=layout)
    sweep = _Sweep(problem, symmetric)
    reached = sweep.run(set(names))
    results: list[Gradient] = []
    for name in names:
        total = sweep.total(name, reached[name])
        rows, cols = problem.typing.symbols[name]
        shape: ex.Shape = (rows, cols)
        if layout == "numerator":
            total = sweep.simplifier.simplify(ex.Transpose(total))
            shape = (cols, rows)
        got = sweep.shape(total)
        if got != shape and not (got == (1, 1) and shape == (1, 1)):
            raise DerivationError(f"the derived ∂L/∂{name} is {format_shape(got)}, not {format_shape(shape)} "
                                  "(a bug in symderiv)")
        grad = Gradient(to_text(total), total, name, shape, expr, layout, upstream, problem.scalar)
        if check:
            _prove(problem, grad, shapes, symmetric, method, budget, timeout)
        results.append(grad)
    return results[0] if single else results


__all__ = ["gradient", "Gradient", "UPSTREAM_LATEX"]
