"""``symderiv.gradient``: the derived formula of ∂L/∂V, proved before it is returned.

:mod:`symderiv.autodiff` derives the canonical formula (:func:`~symderiv.autodiff.backprop.differentiate`),
one layer below; this module proves it with :func:`~symderiv.proofs.verification.verify` and returns
the :class:`~symderiv.autodiff.backprop.Gradient` with its proof record. It sits in the proofs layer so
that every layer above (``explain``, ``testing``, ``cli``, the package's lazy API) can call it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from fractions import Fraction
from typing import Any

from symderiv.autodiff.assumed import rewrite_assumed
from symderiv.autodiff.backprop import UPSTREAM_LATEX, Gradient, differentiate
from symderiv.autodiff.simplify import Simplifier
from symderiv.core import expr as ex
from symderiv.core.errors import BudgetError, DerivationError, OptionError
from symderiv.core.status import Status
from symderiv.proofs.problem import Problem, Verdict, check_options, describe_shape_list, prepare
from symderiv.proofs.verification import verify
from symderiv.syntax.printing import to_text


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


def _has_literal_size(node: ex.Expr) -> bool:
    return any(isinstance(n, ex.ConstMatrix) and isinstance(n.rows, int) and n.rows > 1 for n in node.walk())


def _prove(problem: Problem, grad: Gradient, shapes: Mapping[str, Any] | None, symmetric: Iterable[str],
           method: str, budget: int | None, timeout: float | None) -> Gradient:
    """``grad`` with its proof record; a refuted or unconfirmed formula is a bug (DerivationError)."""

    def attempt(on: Mapping[str, Any] | None, how: str) -> Verdict:
        return verify(problem.text, wrt=grad.wrt, claim=grad.formula, shapes=on, functions=problem.functions,
                      symmetric=symmetric, upstream=problem.upstream, layout=problem.layout, method=how,
                      budget=budget, timeout=timeout, assume=problem.assume,
                      symmetric_convention=problem.symmetric_convention)

    # auto: the exact proof first; past its budget, an all-shapes proof beats the randomized test.
    try:
        return _proved(grad, attempt(shapes, "exact" if method == "auto" else method))
    except BudgetError as err:
        if method == "random":
            raise
        refusal = err
    general = _generalized_shapes(problem)
    if general is not None and not _has_literal_size(grad.expr):
        try:
            verdict = attempt(general, "exact")
            if method == "exact" or verdict.status == "proved":
                return _proved(grad, verdict)
        except BudgetError as err:
            refusal = err
    if method == "exact":
        raise refusal
    return _proved(grad, attempt(shapes, "random"))


def _proved(grad: Gradient, verdict: Verdict) -> Gradient:
    if not verdict.holds and not verdict.checked_at_sizes:
        kind = "refuted it" if verdict.status == "refuted" else "could not confirm it"
        raise DerivationError(
            f"symderiv derived ∂L/∂{grad.wrt} = {grad.formula} for `{verdict.expression}`, but the prover {kind} "
            f"({verdict.reason}). This is a bug in symderiv; please report it.",
            hint="gradient(..., check=False) returns the unproved formula")
    # proved (exact), probabilistic (the randomized test), or checked (symbolic shapes, at sample sizes only)
    status = "checked" if verdict.checked_at_sizes else Status.of(verdict.status).value
    return grad.with_proof(status, verdict.proof.shapes if verdict.proof is not None else [], verdict.reason)


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
    assume: Mapping[str, str] | None = None,
    symmetric_convention: str = "projection",
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
    >>> gradient("det(X)", wrt="X").formula
    'det(X) * inv(X).T'

    ``assume={"Y": "onehot_rows"}`` (docs/assumptions.md) rewrites the formula with what the structure of ``Y``
    says, and proves the result under it; with respect to a symmetric matrix, ``symmetric_convention`` chooses
    ``"projection"`` (the default) or ``"entries"`` (docs/symmetric.md).

    >>> ce = "-sum(Y * X) + sum(sum(Y, axis=1) * log(sum(exp(X), axis=1)))"
    >>> gradient(ce, wrt="X", shapes={"X": (2, 3)}, assume={"Y": "onehot_rows"}).formula
    'softmax(X, axis=1) - Y'
    >>> [gradient("logdet(S)", "S", {"S": (2, 2)}, symmetric=["S"], symmetric_convention=c).formula
    ...  for c in ("projection", "entries")]
    ['inv(S)', '2 * inv(S) - eye(2) * inv(S)']
    """
    check_options(method, False, budget)
    single = isinstance(wrt, str)
    names: list[str] = [wrt] if isinstance(wrt, str) else list(wrt)
    if not names:
        raise OptionError("wrt names no matrix", hint="for example wrt='W' or wrt=['W', 'b']")
    symmetric = (symmetric,) if isinstance(symmetric, str) else tuple(symmetric)
    problem = prepare(expr, names, shapes, functions=functions, symmetric=symmetric, upstream=upstream,
                      layout=layout, assume=assume, symmetric_convention=symmetric_convention)
    results = differentiate(problem.expression, problem.typing, names, text=expr, upstream=upstream, layout=layout)
    results = [_symmetric_convention(problem, grad) for grad in results]
    rewritten = [_assumed(problem, grad) for grad in results]
    if check:
        results = [_prove_assumed(problem, plain, grad, rules, shapes, symmetric, method, budget, timeout)
                   for plain, (grad, rules) in zip(results, rewritten, strict=True)]
    else:
        results = [grad for grad, _ in rewritten]
    return results[0] if single else results


def _shape_fn(problem: Problem) -> Any:
    extra = {problem.upstream: problem.result_shape}
    return lambda node: problem.typing.shape_of(node, extra)


def _with_expr(grad: Gradient, node: ex.Expr) -> Gradient:
    return replace(grad, expr=node, formula=to_text(node))


def _symmetric_convention(problem: Problem, grad: Gradient) -> Gradient:
    """With respect to a symmetric matrix: the convention's gradient from the unconstrained one ``Gs``, i.e.
    ``(Gs + Gsᵀ)/2`` (projection) or ``Gs + Gsᵀ − diag(Gs)`` (entries), written ``Gs`` and ``2 Gs − eye(n) * Gs``
    when ``Gs`` is itself symmetric. Both are symmetric, so the layout does not change them."""
    if grad.wrt not in problem.typing.symmetric:
        return grad
    simplifier = Simplifier(_shape_fn(problem), problem.typing.symmetric)
    gs = grad.expr
    transposed = simplifier.simplify(ex.Transpose(gs))
    symmetric = transposed == gs
    n = problem.typing.symbols[grad.wrt][0]
    if problem.symmetric_convention == "projection":
        if symmetric:
            return grad
        node: ex.Expr = ex.Div(ex.Add(gs, transposed), ex.Number(Fraction(2)))
    else:
        both = ex.Mul(ex.Number(Fraction(2)), gs) if symmetric else ex.Add(gs, transposed)
        node = ex.Sub(both, ex.Mul(ex.ConstMatrix("eye", n, n), gs))
    return _with_expr(grad, simplifier.simplify(node))


def _assumed(problem: Problem, grad: Gradient) -> tuple[Gradient, list[str]]:
    """The formula rewritten with the assumptions (symderiv.autodiff.assumed), and the rules it used."""
    if not problem.structured:
        return grad, []
    node, rules = rewrite_assumed(grad.expr, problem.assume, _shape_fn(problem), frozenset(problem.typing.symmetric))
    return (_with_expr(grad, node), rules) if rules else (grad, [])


def _prove_assumed(problem: Problem, plain: Gradient, grad: Gradient, rules: list[str],
                   shapes: Mapping[str, Any] | None, symmetric: Iterable[str], method: str, budget: int | None,
                   timeout: float | None) -> Gradient:
    """Prove ``grad`` (under the assumptions). When it is only checked at sample sizes but the formula before the
    rewrite (``plain``) is proved for all shapes, the rewrite, each rule an identity under the assumptions for all
    shapes, carries that proof over to ``grad``."""
    proved = _prove(problem, grad, shapes, symmetric, method, budget, timeout)
    named = problem.assumptions_text()
    if not rules or proved.proof_status != "checked":
        return proved
    before = _prove(problem, plain, shapes, symmetric, method, budget, timeout)
    if before.proof_status != "proved" or "for all shapes" not in before.proof_reason:
        return proved
    checked = describe_shape_list(proved.proof)
    reason = (f"∂L/∂{grad.wrt} = {plain.formula} proved for all shapes (index notation); {grad.formula} follows "
              f"from it {named}, because " + "; ".join(rules)
              + (f"; and checked entrywise under the assumptions on {checked}" if checked else ""))
    return proved.with_proof("proved", proved.proof, reason)


__all__ = ["Gradient", "UPSTREAM_LATEX", "gradient"]
