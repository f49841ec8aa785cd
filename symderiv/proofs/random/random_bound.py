"""Degree and height bounds for the randomized test, its error bound and its cost.

For a wrong claim, some entry ``Δ_ij = claim_ij − ∂L/∂W_ij`` is a non-zero rational
function ``N/M`` of the random values (matrix entries, ``G``, atoms as free
variables) with integer coefficients. The walk below bounds, for every node, the
degrees of numerator and denominator of its entries and the base-2 logarithm of
the sum of the absolute values of their coefficients (the "height"; it bounds every
coefficient, hence the content of ``N``). See :func:`error_bound` for how the bounds
enter the error probability.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from symderiv.backends.field import PRIME_COUNT_LOG2, PRIME_LOW
from symderiv.core import expr as ex
from symderiv.syntax.shapes import Typing

if TYPE_CHECKING:  # pragma: no cover
    from symderiv.proofs.verification import Problem


class Deg:
    """Entries ``P/Q`` with ``deg P ≤ n``, ``deg Q ≤ d``, ``log2 ‖P‖₁ ≤ hn``, ``log2 ‖Q‖₁ ≤ hd``.

    ``common``: all entries share one denominator ``Q``.
    """

    __slots__ = ("n", "d", "common", "hn", "hd")

    def __init__(self, n: int, d: int = 0, common: bool = True, hn: float = 0.0, hd: float = 0.0):
        self.n, self.d, self.common, self.hn, self.hd = n, d, common or d == 0, hn, hd

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Deg({self.n}, {self.d}, {self.common}, {self.hn:.1f}, {self.hd:.1f})"


def _log2(k: int) -> float:
    return math.log2(k) if k > 1 else 0.0


def dadd(a: Deg | None, b: Deg | None) -> Deg | None:
    if a is None or b is None:
        return a or b
    hn = max(a.hn + b.hd, b.hn + a.hd) + 1
    if a.d == 0 and b.d == 0:
        return Deg(max(a.n, b.n), 0, True, hn, a.hd + b.hd)
    return Deg(max(a.n + b.d, b.n + a.d), a.d + b.d, a.common and b.common, hn, a.hd + b.hd)


def dmul(a: Deg | None, b: Deg | None) -> Deg | None:
    if a is None or b is None:
        return None
    return Deg(a.n + b.n, a.d + b.d, a.common and b.common, a.hn + b.hn, a.hd + b.hd)


def dsum(a: Deg | None, count: int) -> Deg | None:
    """A sum of ``count`` entries."""
    if a is None or count <= 1:
        return a
    if a.common:
        return Deg(a.n, a.d, True, a.hn + _log2(count), a.hd)
    return Deg(a.n + (count - 1) * a.d, count * a.d, False, a.hn + (count - 1) * a.hd + _log2(count), count * a.hd)


def dcommon(a: Deg, count: int) -> Deg:
    """The entries of a matrix of ``count`` entries over one common denominator."""
    if a.common:
        return a
    return Deg(a.n + (count - 1) * a.d, count * a.d, True, a.hn + (count - 1) * a.hd, count * a.hd)


def drecip(a: Deg, scalar: bool) -> Deg:
    return Deg(a.d, a.n, scalar or a.n == 0, a.hd, a.hn)


def dpow(a: Deg, k: int) -> Deg:
    return Deg(a.n * k, a.d * k, a.common, a.hn * k, a.hd * k)


class Bounds:
    """The bounds one run needs (see :func:`degree_walk`)."""

    __slots__ = ("num", "den", "height", "arg_degree", "arg_height", "atoms")

    def __init__(self, num: int, den: int, height: float, arg_degree: int, arg_height: float, atoms: int):
        self.num, self.den, self.height = num, den, height
        self.arg_degree, self.arg_height, self.atoms = arg_degree, arg_height, atoms


def degree_walk(problem: Problem, wrt: str, typing: Typing, claim: ex.Expr) -> Bounds:
    """Degrees and heights of one entry of ``⟨claim − ∂L/∂W, V⟩``, of atom arguments, and the atom count.

    >>> from symderiv.proofs.verification import prepare, parse_claim
    >>> pr = prepare("W @ X", ["W"], {"W": (3, 2), "X": (2, 4)})
    >>> b = degree_walk(pr, "W", pr.typing, parse_claim(pr, "G @ X.T"))
    >>> b.num, b.den, b.atoms
    (3, 0, 0)
    """
    extra = {problem.upstream: typing.shape_of(problem.expression)}
    atoms = [0]
    arg_deg = [0]
    arg_height = [0.0]

    def shape(n: ex.Expr) -> tuple[int, int]:
        r, c = typing.shape_of(n, extra)
        return int(r), int(c)  # type: ignore[arg-type]

    memo: dict[ex.Expr, tuple[Deg, Deg | None]] = {}

    def walk(n: ex.Expr) -> tuple[Deg, Deg | None]:
        found = memo.get(n)
        if found is None:
            found = _walk(n)
            memo[n] = found
        return found

    def _walk(n: ex.Expr) -> tuple[Deg, Deg | None]:
        if isinstance(n, ex.Symbol):
            return Deg(1), (Deg(1) if n.name == wrt else None)
        if isinstance(n, ex.Number):
            v = n.value
            return Deg(0, 0, True, _log2(abs(v.numerator)), _log2(v.denominator)), None
        if isinstance(n, ex.ConstMatrix):
            return Deg(0), None
        r, c = shape(n)
        if isinstance(n, ex.MatMul):
            (a, da), (b, db) = walk(n.left), walk(n.right)
            k = shape(n.left)[1]
            return dsum(dmul(a, b), k), dsum(dadd(dmul(da, b), dmul(a, db)), k)  # type: ignore[return-value]
        if isinstance(n, (ex.Add, ex.Sub)):
            (a, da), (b, db) = walk(n.left), walk(n.right)
            return dadd(a, b), dadd(da, db)  # type: ignore[return-value]
        if isinstance(n, ex.Mul):
            (a, da), (b, db) = walk(n.left), walk(n.right)
            return dmul(a, b), dadd(dmul(da, b), dmul(a, db))  # type: ignore[return-value]
        if isinstance(n, ex.Div):
            (a, da), (b, db) = walk(n.left), walk(n.right)
            rb = drecip(b, shape(n.right) == (1, 1))
            value = dmul(a, rb)
            return value, dadd(dmul(da, rb), dmul(dmul(value, db), rb))  # type: ignore[return-value]
        if isinstance(n, (ex.Neg, ex.Transpose)):
            return walk(n.operand)
        if isinstance(n, ex.Power):
            a, da = walk(n.operand)
            k = int(n.exponent)
            base = a if k >= 0 else drecip(a, (r, c) == (1, 1))
            factor = dpow(base, abs(k - 1))  # k·a^(k−1): |k − 1| factors of a (k ≥ 1) or of 1/a (k ≤ 0)
            factor.hn += _log2(abs(k))
            return dpow(base, abs(k)), dmul(factor, da)
        if isinstance(n, ex.Apply):
            a, da = walk(n.operand)
            atoms[0] += 2 * r * c  # the atom and its derivative atom
            arg_deg[0] = max(arg_deg[0], a.n + a.d)
            arg_height[0] = max(arg_height[0], a.hn + a.hd)
            fn = n.fn
            if fn in ("tanh", "sigmoid", "tan"):
                factor = Deg(2, 0, True, 1.0)
            elif fn == "log":
                factor = drecip(a, (r, c) == (1, 1))
            elif fn == "sqrt":
                factor = Deg(0, 1, (r, c) == (1, 1), 0.0, 1.0)
            else:
                factor = Deg(1)
            if not any(isinstance(m, ex.Symbol) for m in n.operand.walk()):
                # A constant argument may fold to an exact value as large as itself (relu(c) = c) or to 1/2
                # (step(0)): count its height (an atom is degree 1, height 0, so this bound covers both).
                return Deg(1, 0, True, a.hn, max(a.hd, 1.0)), None
            return Deg(1), dmul(factor, da)
        if isinstance(n, ex.Trace):
            a, da = walk(n.operand)
            k = shape(n.operand)[0]
            return dsum(a, k), dsum(da, k)  # type: ignore[return-value]
        if isinstance(n, ex.Sum):
            a, da = walk(n.operand)
            rr, cc = shape(n.operand)
            k = rr * cc if n.axis is None else (rr if n.axis == 0 else cc)
            return dsum(a, k), dsum(da, k)  # type: ignore[return-value]
        if isinstance(n, (ex.Det, ex.LogDet, ex.Inv)):
            a, da = walk(n.operand)
            k = shape(n.operand)[0]
            ac = dcommon(a, k * k)
            lf, lf1 = math.lgamma(k + 1) / math.log(2), math.lgamma(k) / math.log(2)
            det = Deg(k * ac.n, k * ac.d, True, k * ac.hn + lf, k * ac.hd)
            inv = Deg((k - 1) * ac.n + ac.d, k * ac.n, True, (k - 1) * ac.hn + lf1 + ac.hd, k * ac.hn + lf)
            dac = None if da is None else dcommon(da, k * k)
            dtrace = dsum(dmul(inv, dac), k * k)  # trace(inv(A) dA)
            if isinstance(n, ex.Det):
                return det, dmul(det, dtrace)
            if isinstance(n, ex.LogDet):
                atoms[0] += 1
                arg_deg[0] = max(arg_deg[0], det.n + det.d)
                arg_height[0] = max(arg_height[0], det.hn + det.hd)
                return Deg(1), dtrace
            return inv, dmul(dmul(inv, dac), inv) if dac is not None else None
        if isinstance(n, ex.MatPow):
            a, da = walk(n.operand)
            k = shape(n.operand)[0]
            power: Deg = Deg(0)
            tan: Deg | None = None
            for _ in range(n.k):
                new = dsum(dmul(power, da), k)
                tan = dadd(dsum(dmul(tan, a), k), new) if tan is not None else new
                power = dsum(dmul(power, a), k)  # type: ignore[assignment]
            return power, tan
        raise AssertionError(type(n))  # pragma: no cover

    _, dd = walk(problem.expression)
    rows, cols = shape(problem.expression)
    if dd is None:
        grad = Deg(0)
    elif (rows, cols) == (1, 1):
        grad = dd
    else:
        grad = dsum(dmul(Deg(1), dd), rows * cols)  # type: ignore[assignment]
    claim_v = dmul(walk(claim)[0], Deg(1))  # claim_ij · V_ij
    assert grad is not None and claim_v is not None
    num = max(claim_v.n + grad.d, grad.n + claim_v.d)
    height = max(claim_v.hn + grad.hd, grad.hn + claim_v.hd) + 1
    return Bounds(num, claim_v.d + grad.d, height, arg_deg[0], arg_height[0] + 1, atoms[0])


def _divisible(height: float) -> float:
    """log2 of the chance that a random prime of the range divides a non-zero integer below 2^height."""
    count = math.floor(height / math.log2(PRIME_LOW))  # at most this many primes ≥ 2^60 divide it
    return -math.inf if count == 0 else math.log2(count) - PRIME_COUNT_LOG2


def _log2sum(*terms: float) -> float:
    top = max(terms)
    if top == -math.inf:
        return top
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


def error_bound(b: Bounds, lanes: int, sample_bits: float = 64, primes: list[int] | None = None) -> float:
    """log2 of the chance that ``lanes`` independent lanes all pass a wrong claim.

    Atoms are keyed by their argument's residues in all lanes together, so two
    formally distinct arguments collide only if they coincide in every lane: per pair
    ``(arg_degree/|S| + the chance that the prime divides their constant difference)``
    over the lanes, over ``atoms²/2`` pairs. Without a collision the atoms are
    independent uniform values and the lanes fail independently (the sum of the
    :func:`lane_error` of the lanes). ``|S|`` is ``2^sample_bits``, or the lane's prime
    (when ``primes``, the primes actually drawn, are given) if that is smaller.

    >>> error_bound(Bounds(3, 0, 5.0, 0, 0.0, 0), 2)
    -116.0
    >>> round(error_bound(Bounds(3, 0, 5.0, 2, 3.0, 2**21), 2), 1)
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


def field_cost(problem: Problem, typing: Typing, claim: ex.Expr) -> tuple[int, int]:
    """(operations of one lane, scalar operations of one real evaluation), both rough."""
    extra = {problem.upstream: typing.shape_of(problem.expression)}
    seen: set[ex.Expr] = set()

    def shape(n: ex.Expr) -> tuple[int, int]:
        r, c = typing.shape_of(n, extra)
        return int(r), int(c)  # type: ignore[arg-type]

    def walk(n: ex.Expr) -> tuple[int, int]:
        if n in seen:
            return 0, 0
        seen.add(n)
        cost = [sum(x) for x in zip(*(walk(c) for c in n.children()), strict=True)] or [0, 0]
        r, c = shape(n)
        if isinstance(n, ex.MatMul):
            k = shape(n.left)[1]
            return cost[0] + 3 * r * k * c, cost[1] + 3 * r * k * c
        if isinstance(n, (ex.Inv, ex.Det, ex.LogDet)):
            k = shape(n.operand)[0]
            return cost[0] + 6 * k ** 3, cost[1] + 6 * k ** 3
        if isinstance(n, ex.MatPow):
            k = shape(n.operand)[0]
            return cost[0] + 4 * n.k * k ** 3, cost[1] + 6 * n.k * k ** 3
        if isinstance(n, (ex.Apply, ex.Div)) or (isinstance(n, ex.Power) and n.exponent < 0):
            return cost[0] + 60 * r * c, cost[1] + 20 * r * c
        return cost[0] + 3 * r * c, cost[1] + 3 * r * c

    a, b = walk(problem.expression)
    c, d = walk(claim)
    return a + c, b + d


def memory_estimate(problem: Problem, typing: Typing, claim: ex.Expr, lanes: int, atoms: int) -> int:
    """Bytes a run may hold at once: a value and a tangent (8 bytes per entry and lane) for every node,
    and about 120 bytes per atom value while its hash keys are built. Measured peaks are 0.6–0.8 of it
    (``W @ X`` and ``relu(W @ X + b)`` at 1024³)."""
    extra = {problem.upstream: typing.shape_of(problem.expression)}
    entries = 0
    for node in set(problem.expression.walk()) | set(claim.walk()) | {ex.Symbol(problem.upstream)}:
        r, c = typing.shape_of(node, extra)
        entries += int(r) * int(c)  # type: ignore[call-overload]
    return 2 * 8 * lanes * entries + 120 * atoms


__all__ = ["Bounds", "degree_walk", "lane_error", "error_bound", "field_cost", "memory_estimate"]
