"""The size budget of an exact proof: its work and its memory, estimated before any work.

The exact prover (:mod:`symderiv.proofs.exact.entrywise`, :mod:`symderiv.proofs.exact.algebra`) spends its
time in *term operations*: one per multiply-add of a polynomial product, per term
added into a sum, per term differentiated (the algebra counts them in
``polynomial.WORK``). :func:`estimate_cost` predicts that count by walking the
expression with, for each node, a model of one entry of its value: the number of
terms of the numerator, their degree, how many variables they can hold, and the
denominator factors it carries. The model follows what the algebra does:

- a product multiplies term counts, but a polynomial cannot have more terms than
  there are monomials of its degree in its variables;
- a determinant is a Laplace expansion with memoised minors, and a k×k minor of
  ``P @ Q`` has at most ``C(m, k)`` times the terms of the minors of ``P`` and
  ``Q`` (Cauchy–Binet), so ``det(A @ X @ B)`` is 216 terms, not ``3!·9³``;
- ``det(M) * (N / det(M))`` cancels before multiplying (``Ratio.__mul__``);
- ``inv(M)`` is the adjugate over one shared factor ``det(M)``.

tests/test_cost_model.py holds the estimate to within 10× of the measured count on
a table of cases. :func:`estimate_memory` turns the terms and entries the proof
keeps into bytes, at the measured cost of the Python objects that hold them.
"""

from __future__ import annotations

from dataclasses import dataclass

from symderiv.core import expr as ex
from symderiv.core.errors import BudgetError
from symderiv.proofs.exact.cost_model import BYTES_PER_ENTRY, BYTES_PER_TERM, Estimator, cap  # noqa: F401 - BYTES_PER_TERM re-exported
from symderiv.syntax.shapes import Typing

#: Default size budget of an exact proof, in term operations. The exact prover does about 1-3 million
#: term operations a second, so the default allows proofs of roughly 10-25 s: the source identity
#: ``W @ X`` at 128×128×128 (about 1.1e7, 7 s, 530 MB) passes; anything 100× larger is refused at once.
DEFAULT_BUDGET = 25_000_000
#: Seconds per term operation, for the time estimate in the refusal message (an upper figure).
SECONDS_PER_TERM = 1e-6
#: Memory allowed with the default budget; a larger ``budget=`` raises it in proportion.
DEFAULT_MEMORY = 700_000_000


@dataclass
class Estimate:
    """What a proof is expected to need: term operations and bytes."""

    work: float
    memory: float


def estimate(node: ex.Expr, typing: Typing, extra: dict[str, tuple[int, int]] | None = None,
             gradient: bool | None = None) -> Estimate:
    """Term operations and bytes to evaluate ``node`` entrywise (and, for the differentiated expression,
    to take the gradient of ``L = Σ G∘D``, which is what ``gradient=None`` assumes when ``extra`` is empty).

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.shapes import infer_shapes
    >>> e = parse("det(A @ X @ B)")
    >>> round(estimate(e, infer_shapes(e, {"A": (3, 3), "X": (3, 3), "B": (3, 3)})).work)
    6966
    """
    est = Estimator(typing, extra)
    e = est.walk(node)
    if gradient is None:
        gradient = not extra
    if gradient:
        # The pairing ⟨G, D⟩ differentiated term by term: each term once per variable it holds ...
        grad = e.entries * e.terms * max(1, e.degree)
        for t, d in e.factors.values():
            # ... and the quotient rule: ∂n·f - n·∂f over f², cross-multiplied into one sum.
            grad += e.entries * (t * e.terms * max(1, e.degree) + e.terms * t) * d
        for count, terms, degree, _ in est.atoms:
            # Reverse mode through each atom: its adjoint times its argument's partials.
            refs = max(1.0, e.atom_refs * e.entries / max(count, 1.0))
            # fn' has up to 2 terms (1 - y², y(1 - y) in the registry), so the adjoint times fn' has up to 2·refs.
            grad += count * terms * max(1, degree) * (1 + 2 * refs)
            est.store(count * terms * max(1, degree) * (1 + 2 * refs), degree)  # the partials of the argument, and the products
        est.work += grad
        est.store(e.entries * e.terms, e.degree)  # what the gradient keeps: about one term per term of D
        est.entries += e.entries
    else:
        est.work += e.entries * (e.terms + sum(t for t, _ in e.factors.values()))  # the comparison
    memory = est.bytes + (est.entries + est.total_vars) * BYTES_PER_ENTRY
    return Estimate(cap(est.work), cap(memory))


def estimate_cost(node: ex.Expr, typing: Typing, extra: dict[str, tuple[int, int]] | None = None) -> int:
    """A count of term operations to evaluate ``node`` entrywise (see :func:`estimate`), carrying the memory.

    The result is a :class:`Cost`, an ``int`` that remembers its memory estimate through ``+`` and ``*``,
    so that :func:`check_budget` can refuse on either.

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.shapes import infer_shapes
    >>> e = parse("W @ X")
    >>> c = estimate_cost(e, infer_shapes(e, {"W": (4, 4), "X": (4, 4)}))
    >>> int(c), c.memory > 0
    (192, True)
    """
    result = estimate(node, typing, extra)
    return Cost(int(min(result.work, 10**300)), result.memory)


class Cost(int):
    """An estimated number of term operations that also carries the estimated memory in bytes.

    >>> c = Cost(10, 1000) + Cost(5, 500)
    >>> int(c), c.memory, (c * 3).memory
    (15, 1500, 1500)
    """

    memory: float

    def __new__(cls, work: int, memory: float = 0.0) -> Cost:
        self = super().__new__(cls, work)
        self.memory = memory
        return self

    def __add__(self, other: object) -> Cost:  # type: ignore[override]
        if not isinstance(other, int):
            return NotImplemented
        return Cost(int(self) + int(other), self.memory + getattr(other, "memory", 0.0))

    __radd__ = __add__

    def __mul__(self, other: object) -> Cost:  # type: ignore[override]
        """More passes over the same values (strict mode: one per entry): more work, the same memory."""
        if not isinstance(other, int):
            return NotImplemented
        return Cost(int(self) * int(other), self.memory)

    __rmul__ = __mul__


def check_budget(cost: int, budget: int | None, what: str) -> None:
    """Refuse, before any work, a proof whose estimated work or memory is over the budget.

    The memory allowed is :data:`DEFAULT_MEMORY` with the default budget, in proportion for another.

    >>> check_budget(10, None, "a small proof")
    >>> try:
    ...     check_budget(10**13, None, "a big proof")
    ... except BudgetError as err:
    ...     print(err.message[:64])
    an exact entrywise proof of a big proof needs about 1e+13 term o
    """
    limit = DEFAULT_BUDGET if budget is None else budget
    hint = ("raise it with budget= (CLI --budget), prove for all shapes by leaving the sizes symbolic, "
            "or use the probabilistic check method='random' (CLI --method random), which needs far less")
    if cost > limit:
        raise BudgetError(
            f"an exact entrywise proof of {what} needs about {int(cost):.3g} term operations "
            f"(roughly {_duration(cost * SECONDS_PER_TERM)}), over the budget of {limit:.3g}", hint=hint)
    memory = getattr(cost, "memory", 0.0)
    allowed = DEFAULT_MEMORY * (limit / DEFAULT_BUDGET)
    if memory > allowed:
        need = int(memory / DEFAULT_MEMORY * DEFAULT_BUDGET) + 1
        raise BudgetError(
            f"an exact entrywise proof of {what} needs about {_bytes(memory)} of memory, over the "
            f"{_bytes(allowed)} that the budget of {limit:.3g} allows",
            hint=f"budget={need:.3g} (CLI --budget {need}) would allow it; or prove for all shapes by leaving "
            "the sizes symbolic, or use the probabilistic check method='random' (CLI --method random)")


def _bytes(n: float) -> str:
    if n >= 1e9:
        return f"{n / 1e9:.3g} GB"
    return f"{n / 1e6:.3g} MB"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    if seconds < 2 * 365 * 86400:
        return f"{seconds / 86400:.0f} days"
    return f"{seconds / (365 * 86400):.2g} years"
