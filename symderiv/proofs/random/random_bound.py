"""Degree and height bounds for the randomized test, its error bound and its cost.

For a wrong claim, some entry ``Δ_ij = claim_ij − ∂L/∂W_ij`` is a non-zero rational
function ``N/M`` of the random values (matrix entries, ``G``, atoms as free
variables) with integer coefficients. :mod:`symderiv.proofs.random.degrees` bounds, for every node,
the degrees of numerator and denominator of its entries and the base-2 logarithm of
the sum of the absolute values of their coefficients (the "height"; it bounds every
coefficient, hence the content of ``N``). See :func:`error_bound` for how the bounds
enter the error probability.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from symderiv.backends.field import PRIME_COUNT_LOG2, PRIME_LOW
from symderiv.core import expr as ex
from symderiv.proofs.random.calls import expanded_nodes
from symderiv.proofs.random.degrees import Deg, DegreeWalk, Shaped, Shapes, dmul, dsum
from symderiv.syntax.shapes import Typing

if TYPE_CHECKING:  # pragma: no cover
    from symderiv.proofs.problem import Problem


class Bounds:
    """The bounds one run needs (see :func:`degree_walk`)."""

    __slots__ = ("num", "den", "height", "arg_degree", "arg_height", "atoms")

    def __init__(self, num: int, den: int, height: float, arg_degree: int, arg_height: float, atoms: int):
        self.num, self.den, self.height = num, den, height
        self.arg_degree, self.arg_height, self.atoms = arg_degree, arg_height, atoms


def degree_walk(problem: Problem, wrt: str, typing: Typing, claim: ex.Expr, shapes: Shapes | None = None
                ) -> Bounds:
    """Degrees and heights of one entry of ``⟨claim − ∂L/∂W, V⟩``, of atom arguments, and the atom count.

    >>> from symderiv.proofs.problem import prepare, parse_claim
    >>> pr = prepare("W @ X", ["W"], {"W": (3, 2), "X": (2, 4)})
    >>> b = degree_walk(pr, "W", pr.typing, parse_claim(pr, "G @ X.T"))
    >>> b.num, b.den, round(b.height, 3), b.arg_degree, b.arg_height, b.atoms
    (3, 0, 5.585, 0, 1.0, 0)
    >>> pr = prepare("sum(exp(2 * W) / 3)", ["W"], {"W": (2, 2)})
    >>> b = degree_walk(pr, "W", pr.typing, parse_claim(pr, "2 * exp(2 * W) / 3"))
    >>> b.num, b.den, round(b.height, 3), b.arg_degree, b.arg_height, b.atoms
    (2, 0, 5.585, 1, 2.0, 8)
    >>> pr = prepare("sum(X) + sum(W)", ["W"], {"W": (2, 2), "X": (2, 2)})
    >>> b = degree_walk(pr, "W", pr.typing, parse_claim(pr, "ones(2, 2)"))
    >>> b.num, b.den, b.height
    (1, 0, 3.0)
    """
    walk = DegreeWalk(problem, wrt, typing, shapes)
    _, dd = walk.evaluate(problem.expression)
    rows, cols = walk.shape(problem.expression)
    if dd is None:
        grad = Deg(0)
    elif (rows, cols) == (1, 1):
        grad = dd
    else:
        grad = dsum(dmul(Deg(1), dd), rows * cols)  # type: ignore[assignment]
    claim_v = dmul(walk.evaluate(claim)[0], Deg(1))  # claim_ij · V_ij
    assert grad is not None and claim_v is not None
    num = max(claim_v.n + grad.d, grad.n + claim_v.d)
    height = max(claim_v.hn + grad.hd, grad.hn + claim_v.hd) + 1
    return Bounds(num, claim_v.d + grad.d, height, walk.arg_degree, walk.arg_height + 1,
                  walk.atoms([problem.expression, claim]))


def _divisible(height: float) -> float:
    """log2 of the chance that a random prime of the range divides a non-zero integer below 2^height."""
    count = math.floor(height / math.log2(PRIME_LOW))  # at most this many primes ≥ 2^60 divide it
    return -math.inf if count == 0 else math.log2(count) - PRIME_COUNT_LOG2


def _log2sum(*terms: float) -> float:
    """log2 of the sum of the ``2^t``; at least one term is finite (its callers' first term always is)."""
    top = max(terms)
    return top + math.log2(sum(2.0 ** (t - top) for t in terms))


def lane_error(b: Bounds, sample_bits: float = 60) -> float:
    """log2 of the chance that one lane (a random prime, a random point) passes a wrong claim,
    when no two formally distinct atom arguments collide (see :func:`error_bound`).

    The point's coordinates are uniform on a set ``S`` of ``2^sample_bits`` residues
    (all of ``F_p``, ``p ≥ 2^60``, or ``[0, 2^21)``, whose products are cheaper).

    - Schwartz–Zippel on the failing entry's numerator, ``(num + den + 1)/|S|``
      (the ``den`` pays for redrawn points where a denominator vanished);
    - the prime divides the content of that numerator (:func:`_divisible`);
    - an atom value (192 hash bits reduced mod p) is not exactly uniform: ``2^-130`` per atom.

    >>> from symderiv.proofs.random.random_bound import Bounds
    >>> round(lane_error(Bounds(3, 0, 5.0, 0, 0.0, 0)), 2)
    -58.0
    >>> round(lane_error(Bounds(1, 0, 1.0, 0, 0.0, 2**80), 64), 3)  # 2^80 atoms, each biased by at most 2^-130
    -50.0
    """
    lg = sample_bits
    terms = [math.log2(b.num + b.den + 1) - lg, _divisible(b.height)]
    if b.atoms:
        terms.append(math.log2(b.atoms) - 130)
    return min(0.0, _log2sum(*terms))


#: Float log2 sums are off by far less than this; a stated exponent keeps it as a margin, so that a bound that
#: rounds to exactly 2^-k is stated as 2^-(k-1) rather than overclaimed.
ROUNDING = 1e-9


def stated_exponent(bits: float) -> int:
    """The ``k`` of a stated bound ``error ≤ 2^-k`` for a computed ``log2(error) = bits``, conservatively.

    >>> stated_exponent(-61.2), stated_exponent(-60.0), stated_exponent(-60.0 - 1e-6)
    (61, 59, 60)
    """
    return math.floor(-bits - ROUNDING)


def error_bound(b: Bounds, lanes: int, sample_bits: float, primes: list[int] | None = None) -> float:
    """log2 of the chance that ``lanes`` independent lanes all pass a wrong claim.

    Atoms are keyed by their argument's residues in all lanes together, so two
    formally distinct arguments collide only if they coincide in every lane: per pair
    ``(arg_degree/|S| + the chance that the prime divides their constant difference)``
    over the lanes, over ``atoms²/2`` pairs. Without a collision the atoms are
    independent uniform values and the lanes fail independently (the sum of the
    :func:`lane_error` of the lanes). ``|S|`` is ``2^sample_bits``, or the lane's prime
    (when ``primes``, the primes actually drawn, are given) if that is smaller.

    >>> error_bound(Bounds(3, 0, 5.0, 0, 0.0, 0), 2, 64)
    -116.0
    >>> round(error_bound(Bounds(3, 0, 5.0, 2, 3.0, 2**21), 2, 64), 1)
    -77.0
    """
    if primes is None:
        sizes = [min(sample_bits, math.log2(PRIME_LOW))] * lanes
    else:
        sizes = [min(sample_bits, math.log2(p)) for p in primes]
    total = [sum(lane_error(b, size) for size in sizes)]
    if b.atoms:
        pairs = [min(0.0, _log2sum(math.log2(max(b.arg_degree, 1)) - size, _divisible(b.arg_height)))
                 for size in sizes]
        total.append(2 * math.log2(b.atoms) - 1 + sum(pairs))
    return min(0.0, _log2sum(*total))


class _Cost(Shaped):
    """The rough cost of each distinct node: (operations of one lane, scalar operations of a real evaluation)."""

    def visit(self, node: ex.Expr, args: list[Any]) -> tuple[int, int]:
        if isinstance(node, ex.Call):
            self.call(node, args)  # its expansion's nodes are costed
            return 0, 0
        r, c = self.shape(node)
        if isinstance(node, ex.MatMul):
            k = self.shape(node.left)[1]
            return 3 * r * k * c, 3 * r * k * c
        if isinstance(node, (ex.Inv, ex.Det)):
            k = self.shape(node.operand)[0]
            return 6 * k ** 3, 6 * k ** 3
        if isinstance(node, (ex.Apply, ex.Div)) or (isinstance(node, ex.Power) and node.exponent < 0):
            return 60 * r * c, 20 * r * c
        return 3 * r * c, 3 * r * c


def field_cost(problem: Problem, typing: Typing, claim: ex.Expr, shapes: Shapes | None = None) -> tuple[int, int]:
    """(operations of one lane, scalar operations of one real evaluation), both rough.

    >>> from symderiv.proofs.problem import prepare, parse_claim
    >>> pr = prepare("W @ X", ["W"], {"W": (3, 2), "X": (2, 4)})
    >>> field_cost(pr, pr.typing, parse_claim(pr, "G @ X.T"))
    (246, 246)
    >>> pr = prepare("sum(softmax(W, axis=1))", ["W"], {"W": (2, 3)})  # a call costs its expansion's nodes only
    >>> field_cost(pr, pr.typing, parse_claim(pr, "zeros(2, 3)"))
    (765, 285)
    """
    cost = _Cost(problem, typing, shapes)
    cost.evaluate(problem.expression)
    cost.evaluate(claim)
    return sum(a for a, _ in cost.memo.values()), sum(b for _, b in cost.memo.values())


def memory_estimate(problem: Problem, typing: Typing, claim: ex.Expr, lanes: int, atoms: int,
                    shapes: Shapes | None = None) -> int:
    """Bytes a run may hold at once: a value and a tangent (8 bytes per entry and lane) for every node
    (those of the expansions of registered operations included), and about 120 bytes per atom value while
    its hash keys are built. Measured peaks are 0.6–0.8 of it (``W @ X`` and ``relu(W @ X + b)`` at 1024³)."""
    shaped = Shaped(problem, typing, shapes)
    nodes = expanded_nodes([problem.expression, claim, ex.Symbol(problem.upstream)], shaped.shape)
    entries = sum(r * c for r, c in map(shaped.shape, nodes))
    return 2 * 8 * lanes * entries + 120 * atoms


__all__ = ["Bounds", "degree_walk", "lane_error", "error_bound", "field_cost", "memory_estimate"]
