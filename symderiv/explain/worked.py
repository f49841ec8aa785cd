"""A worked numeric example: small integer matrices, and every entry of each block worked out as on a board.

``derive(..., worked=True)`` (``symderiv derive --worked-example``) adds it to the derivation. On the small instance
the steps were checked on (``W 2×3``, ``X 3×4``), the inputs and the upstream gradient ``G`` get small integers
(deterministic: the first draw that keeps every function away from its kink and inside its domain). Then, block
by block in the derivation's order, each entry of the block's gradient is computed from the block's own index form
(the "putting the pieces together" step), with the numbers written out::

    ∂L/∂W_12 = Σ_j ∂L/∂D_1j X_2j = 1·2 + (−1)·0 + 3·1 + 0·2 = 5

Every number is exact (integers and fractions) where the expression is rational; a function such as ``exp`` or
``sigmoid`` gives irrational numbers, computed with mpmath at 60 digits and shown rounded to four significant
digits (marked ``≈``). The worked numbers are then cross-checked twice: against the block's matrix form evaluated
at the same point, and the result against both the derived formula and the definition (the derivative of
``L = Σ G ⊙ expr`` with respect to each entry, by the exact prover's chain rule). A mismatch raises
:class:`~symderiv.core.errors.DerivationError`: wrong numbers are never printed.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from symderiv.backends.numbers import WORKING_DPS, OutOfDomain, is_exact
from symderiv.core import expr as ex
from symderiv.core.errors import DerivationError, SymderivError
from symderiv.ops import elementwise
from symderiv.proofs.exact.domain import PointDomain
from symderiv.proofs.exact.witness import evaluate
from symderiv.proofs.index import Delta, Ent, Idx, IndexSum, Partial, Term

from .check import Checker, concrete
from .steps import Block, Equation, StepKind

NumMatrix = list[list[Any]]
#: Draws of integer points tried before giving up (each keeps every function inside its domain or fails).
ATTEMPTS = 40


@dataclass(frozen=True)
class Entry:
    """One entry worked out: its label (the index form's left side at these indices), the products, the value."""

    label: IndexSum
    #: each term's coefficient and the values of its factors (one term per value of the summed indices)
    products: tuple[tuple[Fraction, tuple[Any, ...]], ...]
    value: Any


@dataclass(frozen=True)
class BlockWork:
    """One block of the derivation on the numbers: the index form used, each entry, and the whole matrix."""

    number: int
    wrt: str
    #: the block's "putting the pieces together" equation (None: the block has no index form, only a matrix form)
    rule: Equation | None
    matrix_rule: Equation
    entries: tuple[Entry, ...]
    value: NumMatrix
    partial: bool = False


@dataclass(frozen=True)
class Worked:
    """A worked numeric example of a derivation (see the module's docstring)."""

    wrt: str
    #: the inputs: each matrix of the expression and its integers
    inputs: tuple[tuple[str, NumMatrix], ...]
    #: the upstream gradient: its symbol, the node it is the gradient of, its integers (None: a scalar loss)
    upstream: tuple[str, str, NumMatrix] | None
    #: the forward pass: each block's name, definition and value, innermost first
    forward: tuple[tuple[str, ex.Expr, NumMatrix], ...]
    blocks: tuple[BlockWork, ...]
    result: NumMatrix
    #: the derived formula (in symderiv's language, with the upstream symbol) evaluated to ``result``
    formula: ex.Expr
    #: True when every number is exact; else irrational ones are shown rounded to ``digits`` significant digits
    exact: bool
    digits: int = 4
    #: the layout of ``formula``: ``numerator`` gives the transpose of ``result`` (which is always ∂L/∂V itself)
    layout: str = "denominator"


def _draw(rng: random.Random, positive: bool) -> Fraction:
    return Fraction(rng.randint(1, 4) if positive else rng.choice((-3, -2, -1, 0, 1, 1, 2, 2, 3)))


def _as_matrix(values: NumMatrix) -> NumMatrix:
    return [list(row) for row in values]


def _close(a: Any, b: Any) -> bool:
    """Equal: exactly for exact numbers, else to well within the working precision."""
    if is_exact(a) and is_exact(b):
        return Fraction(a) == Fraction(b)
    scale = max(1, abs(float(a)), abs(float(b)))
    return abs(a - b) <= scale * 10 ** -(WORKING_DPS // 2)


class _Evaluator:
    """The derivation's small instance at one integer point: values of nodes, the upstreams filled in block by block."""

    def __init__(self, checker: Checker, point: dict[int, Any]) -> None:
        self.checker = checker
        self.point = point
        self.domain = PointDomain(checker.instance, [])
        self.refresh()

    def refresh(self) -> None:
        self.domain(self.point)

    def value(self, node: ex.Expr) -> NumMatrix:
        return self.domain.value(self.checker.shrunk(node))

    def set_symbol(self, name: str, values: NumMatrix) -> None:
        """Give the variables of ``name`` (an upstream symbol of an inner block) the values computed for it."""
        for r, row in enumerate(values):
            for c, v in enumerate(row):
                self.point[self.checker.var(name, r, c)] = v
        self.refresh()


def worked_example(builder: Any, blocks: Sequence[Block], formula: ex.Expr, seed: int = 0) -> Worked:
    """The worked example of a derivation built by ``builder`` (its blocks, and its result's formula).

    >>> from symderiv.explain.derivation import derive
    >>> w = derive("W @ X", "W", worked=True).worked
    >>> w.inputs[0][0], len(w.result), len(w.result[0]), w.exact
    ('W', 2, 3, True)
    """
    import mpmath  # type: ignore[import-untyped]

    problem = builder.problem
    generic = sorted({n.fn for n in problem.expression.walk() if isinstance(n, ex.Apply) and elementwise(n.fn).generic})
    if generic:
        raise SymderivError(f"a worked example needs numbers, and `{generic[0]}` is a generic function",
                            hint="use a concrete function (relu, sigmoid, exp, ...) or leave out the worked example")
    last: Exception | None = None
    for attempt in range(ATTEMPTS):
        rng = random.Random(f"symderiv-worked-{seed}-{attempt}")
        try:
            with mpmath.workdps(WORKING_DPS):
                return _attempt(builder, problem, blocks, formula, rng, positive=attempt >= ATTEMPTS // 2)
        except (OutOfDomain, ZeroDivisionError) as err:  # a kink, a log of a non-positive number, a singular matrix
            last = err
    raise SymderivError(f"no small integer point found in the domain of {problem.text} for a worked example "
                        f"({last})", hint="derive without --worked-example")


def _attempt(builder: Any, problem: Any, blocks: Sequence[Block], formula: ex.Expr, rng: random.Random,
             positive: bool) -> Worked:
    typing, symbols = concrete(problem.typing, builder.shapes_all, builder.small)
    binds = {n: builder.full[n] for n in reversed(builder.plan.order)}
    upstream = None if problem.scalar else problem.upstream
    checker = Checker(typing, symbols, binds, problem.expression, upstream, lambda d: "", builder.left(), builder.small)
    point: dict[int, Any] = {}
    names = list(problem.typing.symbols)
    if upstream is not None:
        rows, cols = len(checker.matrix(problem.expression)), len(checker.matrix(problem.expression)[0])
        checker.instance.symbol(upstream, (rows, cols))
        names.append(upstream)
    for name in names:
        m = checker.instance.symbol(name)
        for r, row in enumerate(m):
            for c, _ in enumerate(row):
                point.setdefault(checker.var(name, r, c), _draw(rng, positive))
    ev = _Evaluator(checker, point)
    inputs = tuple((n, _as_matrix(ev.value(ex.Symbol(n)))) for n in problem.typing.symbols)
    root = builder.plan.order[0]
    up = None if upstream is None else (upstream, root, _as_matrix(ev.value(ex.Symbol(upstream))))
    forward = tuple((n, builder.plan.definitions[n], _as_matrix(ev.value(ex.Symbol(n))))
                    for n in reversed(builder.plan.order))
    works = _backward(builder, checker, ev, blocks)
    result = _total(builder.wrt, works)
    _cross_check(builder, checker, ev, formula, result)
    numbers = [x for _, m in inputs for row in m for x in row] + [x for _, _, m in forward for row in m for x in row]
    numbers += [x for row in result for x in row]
    return Worked(builder.wrt, inputs, up, forward, tuple(works), result, formula, all(map(is_exact, numbers)),
                  layout=problem.layout)


def _backward(builder: Any, checker: Checker, ev: _Evaluator, blocks: Sequence[Block]) -> list[BlockWork]:
    """Each block on the numbers, in the derivation's order; each inner gradient is given to its upstream symbol."""
    up_of = {b.name: b.upstream for b in blocks}
    sums: dict[str, NumMatrix] = {}
    works = []
    for block in blocks:
        matrix_steps = [s for s in block.steps if s.kind is StepKind.MATRIX_FORM]
        if not matrix_steps:
            raise DerivationError(f"block {block.number} has no matrix form to work out")
        matrix_rule = matrix_steps[-1].equation
        rhs = matrix_rule.rhs
        value = _as_matrix(ev.value(rhs.expr)) if hasattr(rhs, "expr") else sums.get(block.wrt, [])
        rule, entries = None, None
        for candidate in _rules(block):
            entries = _entries(candidate, checker, ev, up_of, value)
            if entries is not None:
                rule = candidate
                break
        works.append(BlockWork(block.number, block.wrt, rule, matrix_rule, tuple(entries or ()), value, block.partial))
        before = sums.get(block.wrt)
        sums[block.wrt] = value if before is None else [[a + b for a, b in zip(r, s, strict=True)]
                                                        for r, s in zip(before, value, strict=True)]
        sym = up_of.get(block.wrt)
        if sym is not None and block.wrt != builder.wrt and block.wrt in up_of:
            ev.set_symbol(sym, sums[block.wrt])
    return works


def _rules(block: Block) -> list[Equation]:
    """The index forms of ``∂L/∂V_dc`` the block states, best first: putting the pieces together, then the
    differentiated index form (a scalar block), then the transposed form; each as ``left = its last side``. A routine
    block written in one step (``detail="compact"``) states its index form in that step (``ENTRYWISE``)."""
    order = (StepKind.SUBSTITUTE, StepKind.ENTRYWISE, StepKind.DIFFERENTIATE, StepKind.TRANSPOSE)
    out = []
    for kind in order:
        for step in reversed([s for s in block.steps if s.kind is kind]):
            lhs, rhs = step.equation.lhs, step.equation.rhs
            if isinstance(lhs, IndexSum) and isinstance(rhs, IndexSum) and len(lhs.terms) == 1 \
                    and len(lhs.terms[0].factors) == 1:
                (f,) = lhs.terms[0].factors
                if isinstance(f, Partial) and f.num is None and f.den.expr == ex.Symbol(block.wrt):
                    out.append(Equation((lhs, rhs)))
    return out


def _total(wrt: str, works: Sequence[BlockWork]) -> NumMatrix:
    mine = [w.value for w in works if w.wrt == wrt]
    total = _as_matrix(mine[0])
    for m in mine[1:]:
        total = [[a + b for a, b in zip(r, s, strict=True)] for r, s in zip(total, m, strict=True)]
    return total


def _entries(rule: Equation, checker: Checker, ev: _Evaluator, up_of: Mapping[str, str | None],
             value: NumMatrix) -> list[Entry] | None:
    """Each entry of ``rule``'s left side worked out from its right side; None when a factor is no value."""
    lhs, rhs = rule.lhs, rule.rhs
    if not isinstance(lhs, IndexSum) or not isinstance(rhs, IndexSum):
        return None
    free = list(dict.fromkeys(i for i in lhs.free_indices()))
    out = []
    for values in itertools.product(*(range(checker.size(i.dim)) for i in free)):
        env = dict(zip(free, values, strict=True))
        products = []
        for t in rhs.terms:
            for prod in _products(t, env, checker, ev, up_of):
                if prod is None:
                    return None
                products.append((t.coeff, prod))
        total: Any = Fraction(0)
        for coeff, prod in products:
            term: Any = coeff
            for x in prod:
                term = term * x
            total = total + term
        r, c = _position(lhs, env)
        if not _close(total, value[r][c]):
            raise DerivationError(f"the worked entry [{r},{c}] ({total}) differs from the block's matrix form "
                                  f"({value[r][c]}); this is a bug in symderiv, please report it")
        out.append(Entry(_label(lhs, env), tuple(products), total))
    return out


def _position(lhs: IndexSum, env: Mapping[Idx, int]) -> tuple[int, int]:
    (factor,) = lhs.terms[0].factors
    ent = factor.den if isinstance(factor, Partial) else factor
    assert isinstance(ent, Ent)
    return tuple(env[i] if isinstance(i, Idx) else i for i in (ent.row, ent.col))  # type: ignore[return-value]


def _label(side: IndexSum, env: Mapping[Idx, int]) -> IndexSum:
    """The side with each index replaced by its value, counted from 1 (``∂L/∂W_12``)."""
    def at(i: Any) -> Any:
        return Idx(str(env[i] + 1), i.dim) if isinstance(i, Idx) and i in env else i

    def ent(e: Ent) -> Ent:
        return Ent(e.expr, at(e.row), at(e.col))

    terms = []
    for t in side.terms:
        factors = tuple(Partial(f.num, ent(f.den)) if isinstance(f, Partial) and f.num is None
                        else ent(f) if isinstance(f, Ent) else f for f in t.factors)
        terms.append(Term(t.coeff, t.sums, factors))
    return IndexSum(tuple(terms))


def _products(t: Term, env: Mapping[Idx, int], checker: Checker, ev: _Evaluator,
              up_of: Mapping[str, str | None]) -> list[tuple[Any, ...] | None]:
    """The values of the factors of ``t`` for each value of its summed indices (None: a factor is no value)."""
    bound = list(dict.fromkeys(t.sums))
    out: list[tuple[Any, ...] | None] = []
    for values in itertools.product(*(range(checker.size(k.dim)) for k in bound)):
        local = dict(env)
        local.update(zip(bound, values, strict=True))
        factors = []
        for f in t.factors:
            v = _factor(f, local, ev, up_of)
            if v is None:
                return [None]
            factors.append(v)
        deltas = [v for f, v in zip(t.factors, factors, strict=True) if isinstance(f, Delta)]
        if 0 in deltas:
            continue
        if deltas:
            factors = [v for f, v in zip(t.factors, factors, strict=True) if not isinstance(f, Delta)]
        out.append(tuple(factors))
    return out


def _factor(f: Any, env: Mapping[Idx, int], ev: _Evaluator, up_of: Mapping[str, str | None]) -> Any:
    at: Callable[[Any], int] = lambda i: env[i] if isinstance(i, Idx) else i  # noqa: E731
    if isinstance(f, Delta):
        return Fraction(1 if at(f.a) == at(f.b) else 0)
    if isinstance(f, Partial) and f.num is None and isinstance(f.den.expr, ex.Symbol):
        sym = up_of.get(f.den.expr.name)
        return None if sym is None else ev.value(ex.Symbol(sym))[at(f.den.row)][at(f.den.col)]
    if isinstance(f, Ent):
        return ev.value(f.expr)[at(f.row)][at(f.col)]
    return None


def _cross_check(builder: Any, checker: Checker, ev: _Evaluator, formula: ex.Expr, result: NumMatrix) -> None:
    """The worked result against the derived formula and against the definition, both at the same point."""
    derived = ev.value(formula)
    if builder.problem.layout == "numerator":
        derived = [list(col) for col in zip(*derived, strict=True)]
    definition = checker.loss_gradient(builder.wrt)
    cache: dict[int, Any] = {}
    for r, row in enumerate(result):
        for c, v in enumerate(row):
            by_definition = evaluate(checker.instance.vars, definition[r][c], ev.point, cache)
            if not (_close(v, derived[r][c]) and _close(v, by_definition)):
                raise DerivationError(
                    f"the worked example's entry [{r},{c}] is {v}, the derived formula gives {derived[r][c]} and the "
                    f"definition {by_definition}; this is a bug in symderiv, please report it")


__all__ = ["BlockWork", "Entry", "Worked", "worked_example"]
