"""The reverse sweep (module ``backprop``): ∂L/∂V of a typed expression as a canonical matrix formula.

The reverse sweep is written once: start from the seed (the number ``1`` when the
expression is ``1×1``, so ``L = E``; otherwise the upstream symbol ``G``), hand
each node's upstream gradient to its rule in :data:`symderiv.autodiff.rules.RULES`, and
accumulate the contributions that reach each wanted symbol (a symbol used twice
gets the sum). The sum is simplified to the canonical form. The result is not proved
here: :func:`symderiv.gradient` (:mod:`symderiv.proofs.gradient`) proves it and records the proof
in the :class:`Gradient` it builds.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

from symderiv.autodiff.names import with_names_latex, with_names_text
from symderiv.autodiff.rules import Context, backward
from symderiv.autodiff.simplify import Simplifier
from symderiv.core import expr as ex
from symderiv.core.errors import DerivationError
from symderiv.syntax.printing import _name_latex, to_latex, to_text
from symderiv.syntax.shapes import Typing, format_shape

UPSTREAM_LATEX = r"\frac{\partial L}{\partial D}"


@dataclass(frozen=True)
class Gradient:
    """One gradient ∂L/∂wrt: the formula, its tree, its LaTeX, its shape and the proof record.

    Immutable: the proof fields are set when it is built (:meth:`with_proof` makes the proved copy).

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.shapes import infer_shapes
    >>> node = parse("W @ X")
    >>> g = differentiate(node, infer_shapes(node), ["W"], text="W @ X")[0]
    >>> g.formula, g.shape, g.proof_status
    ('G @ X.T', ('n', 'm'), 'unchecked')
    >>> g.with_proof("proved", [{"W": (2, 2), "X": (2, 2)}], "proved entrywise").proof_status
    'proved'
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
    #: The shapes of the expression and its tree (for :meth:`to_code`); not part of the gradient's identity.
    typing: Typing | None = field(default=None, compare=False, repr=False)
    source: ex.Expr | None = field(default=None, compare=False, repr=False)

    def to_code(self, target: str = "numpy", *, forward: bool = False) -> str:
        """This gradient as a runnable Python function for ``"numpy"``, ``"torch"`` or ``"jax"`` (with the
        forward function too when ``forward``); :func:`to_code` writes several gradients as one function.

        >>> from symderiv.syntax.language import parse
        >>> from symderiv.syntax.shapes import infer_shapes
        >>> node = parse("W @ X")
        >>> print(differentiate(node, infer_shapes(node), ["W"])[0].to_code("numpy"))
        import numpy as np
        <BLANKLINE>
        <BLANKLINE>
        def grad_W(G, W, X):
            \"\"\"∂L/∂W for D = W @ X, L = sum(G * D) (unchecked).\"\"\"
            return G @ X.T
        <BLANKLINE>
        """
        return to_code([self], target, forward=forward)

    def with_proof(self, status: str, shapes: Iterable[dict[str, ex.Shape]], reason: str = "") -> Gradient:
        """This gradient with its proof record: the status, the shapes it was proved on and why."""
        return replace(self, proof_status=status, proof=list(shapes), proof_reason=reason)

    @property
    def latex(self) -> str:
        r"""The formula in LaTeX, the upstream written ``\frac{\partial L}{\partial D}``."""
        return self.to_latex()

    def to_latex(self, upstream_latex: str | None = UPSTREAM_LATEX) -> str:
        """The formula in LaTeX; ``upstream_latex=None`` writes the upstream by its name (``G``)."""
        return to_latex(self.expr, upstream=self.upstream, upstream_latex=upstream_latex)

    @property
    def formula_with_names(self) -> str:
        """The formula with each repeated subexpression named once after ``where`` (else just the formula).

        ``formula`` stays one re-parseable expression; this is the form to read.

        >>> from symderiv.syntax.language import parse
        >>> from symderiv.syntax.shapes import infer_shapes
        >>> node = parse("sum(sigmoid(X @ w))")
        >>> differentiate(node, infer_shapes(node, {"w": ("D", 1)}), ["w"])[0].formula_with_names
        'X.T @ (S * (1 - S)) where S = sigmoid(X @ w)'
        """
        return with_names_text(self.expr, [self.wrt, self.upstream])

    @property
    def latex_with_names(self) -> str:
        r""":attr:`formula_with_names` in LaTeX (``\text{where } S = ...``)."""
        return with_names_latex(self.expr, [self.wrt, self.upstream], upstream=self.upstream,
                                upstream_latex=UPSTREAM_LATEX)

    @property
    def lhs_latex(self) -> str:
        lhs = rf"\frac{{\partial L}}{{\partial {_name_latex(self.wrt)}}}"
        return lhs + (r"^{\top}" if self.layout == "numerator" else "")

    def _repr_latex_(self) -> str:
        return f"$${self.lhs_latex} = {self.latex}$$"

    def _repr_markdown_(self) -> str:
        return f"$${self.lhs_latex} = {self.latex}$$\n\n`∂L/∂{self.wrt} = {self.formula}`"

    def __str__(self) -> str:
        return self.formula

    def to_dict(self) -> dict[str, Any]:
        return {"wrt": self.wrt, "formula": self.formula, "formula_with_names": self.formula_with_names,
                "latex": self.to_latex(None),
                "shape": list(self.shape), "layout": self.layout, "expression": self.expression,
                "upstream": None if self.scalar else self.upstream, "proof": {
                    "status": self.proof_status, "reason": self.proof_reason, "shapes": [{k: list(v) for k, v in s.items()} for s in self.proof]}}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


class _Sweep:
    """Shapes of the forward expression and the gradient terms, with one simplifier for both."""

    def __init__(self, expression: ex.Expr, typing: Typing, upstream: str):
        self.expression = expression
        self.typing = typing
        self.upstream = upstream
        self.scalar = typing.shape_of(expression) == (1, 1)
        self.extra = {upstream: typing.shape_of(expression)}
        self._shapes: dict[ex.Expr, ex.Shape] = {}
        # Along the sweep, no recognition: a quotient is matched as a whole only once all its factors are in.
        self.stepwise = Simplifier(self.shape, typing.symmetric, recognise=False)
        self.simplifier = Simplifier(self.shape, typing.symmetric)
        self.context = Context(shape=self.shape)

    def shape(self, node: ex.Expr) -> ex.Shape:
        if node not in self._shapes:
            self._shapes[node] = self.typing.shape_of(node, self.extra)
        return self._shapes[node]

    def run(self, wanted: set[str]) -> dict[str, list[ex.Expr]]:
        seed: ex.Expr = ex.Number(Fraction(1)) if self.scalar else ex.Symbol(self.upstream)
        reached: dict[str, list[ex.Expr]] = {name: [] for name in wanted}
        # Depth-first with an explicit stack: deep expressions must not hit Python's recursion limit.
        stack: list[tuple[ex.Expr, ex.Expr]] = [(self.expression, seed)]
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
                    stack.append((child, self.stepwise.simplify(contribution)))
        return reached

    def total(self, name: str, terms: list[ex.Expr], layout: str) -> tuple[ex.Expr, ex.Shape]:
        """The simplified sum of the contributions to ``name``, in the layout, and its shape."""
        rows, cols = self.typing.symbols[name]
        total: ex.Expr = ex.ConstMatrix("zeros", rows, cols)
        if terms:
            total = terms[0]
            for term in terms[1:]:
                total = ex.Add(total, term)
            total = self.simplifier.simplify(total)
        shape: ex.Shape = (rows, cols)
        if layout == "numerator":
            total = self.simplifier.simplify(ex.Transpose(total))
            shape = (cols, rows)
        got = self.shape(total)
        if got != shape and not (got == (1, 1) and shape == (1, 1)):
            raise DerivationError(f"the derived ∂L/∂{name} is {format_shape(got)}, not {format_shape(shape)} "
                                  "(a bug in symderiv)")
        return total, shape


def differentiate(expression: ex.Expr, typing: Typing, wrt: Sequence[str], *, text: str | None = None,
                  upstream: str = "G", layout: str = "denominator") -> list[Gradient]:
    """∂L/∂V for each name V of ``wrt``, as canonical formulas (unproved: ``proof_status`` is ``"unchecked"``).

    ``typing`` gives the shapes (and the symmetric names) of ``expression``; ``text`` is how the
    expression was written (by default, as symderiv prints it). For a ``1×1`` expression the loss is the
    expression itself; otherwise the formulas use the upstream gradient ``upstream``.
    ``layout="numerator"`` gives the transposes. :func:`symderiv.gradient` checks its options, calls
    this and proves the result.

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.shapes import infer_shapes
    >>> node = parse("X @ W + b")
    >>> grads = differentiate(node, infer_shapes(node, {"b": (1, "M")}), ["W", "b"])
    >>> [(g.wrt, g.formula) for g in grads]
    [('W', 'X.T @ G'), ('b', 'sum(G, axis=0)')]
    """
    sweep = _Sweep(expression, typing, upstream)
    reached = sweep.run(set(wrt))
    spelled = text if text is not None else to_text(expression)
    results = []
    for name in wrt:
        total, shape = sweep.total(name, reached[name], layout)
        results.append(Gradient(to_text(total), total, name, shape, spelled, layout, upstream, sweep.scalar,
                                typing=typing, source=expression))
    return results


def to_code(grads: Sequence[Gradient], target: str = "numpy", *, forward: bool = False) -> str:
    """Gradients of one expression as one runnable function (returning a tuple, in order, when there are
    several), after the forward function when ``forward``. The printer is loaded by name: it needs NumPy.

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.shapes import infer_shapes
    >>> node = parse("X @ W + b")
    >>> grads = differentiate(node, infer_shapes(node, {"b": (1, "M")}), ["W", "b"])
    >>> print(to_code(grads, "torch").splitlines()[-1])
        return X.T @ G, G.sum(dim=0, keepdim=True)
    """
    if not grads or any(g.typing is None or g.source is None for g in grads):
        raise DerivationError("to_code needs gradients made by differentiate or symderiv.gradient")
    code = importlib.import_module("symderiv.backends.code")
    first = grads[0]
    typing, source = first.typing, first.source
    assert typing is not None and source is not None
    symbols = dict(typing.symbols)
    arguments = symbols if first.scalar else {first.upstream: typing.shape_of(source), **symbols}
    names = [code.python_name(g.wrt) for g in grads]
    loss = "L = D" if first.scalar else f"L = sum({first.upstream} * D)"
    statuses = sorted({g.proof_status for g in grads})
    doc = f"∂L/∂{', ∂L/∂'.join(g.wrt for g in grads)} for D = {first.expression}, {loss} ({', '.join(statuses)})."
    functions = [code.function_code("grad_" + "_".join(names), [code.Output(g.expr, g.shape) for g in grads],
                                    typing, target, arguments, doc)]
    if forward:
        functions.insert(0, code.function_code("forward", [code.Output(source, typing.shape_of(source))],
                                               typing, target, symbols, f"D = {first.expression}."))
    return str(code.module_code(target, functions))


__all__ = ["Gradient", "UPSTREAM_LATEX", "differentiate", "to_code"]
