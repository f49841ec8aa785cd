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
from typing import TYPE_CHECKING, Any

from symderiv.backends.field import PRIME_COUNT_LOG2, PRIME_LOW
from symderiv.backends.walk import Interpreter
from symderiv.core import expr as ex
from symderiv.ops import Elementwise
from symderiv.proofs.random.calls import expanded_nodes, gradients
from symderiv.syntax.derivatives import ARGUMENT, derivative_tree
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


#: The bounds of a node's entries and of its tangent's (None: the node does not depend on ``wrt``).
Pair = tuple[Deg, "Deg | None"]


class _Shaped(Interpreter[Any]):
    """An interpreter over one problem's concrete typing (``G`` included)."""

    def __init__(self, problem: Problem, typing: Typing) -> None:
        super().__init__()
        self.typing = typing
        self.extra = {problem.upstream: typing.shape_of(problem.expression)}

    def shape(self, node: ex.Expr) -> tuple[int, int]:
        r, c = self.typing.shape_of(node, self.extra)
        return int(r), int(c)  # type: ignore[arg-type]


class DegreeWalk(_Shaped):
    """Degree and height bounds of every node's entries and of its tangent's, and the atoms met."""

    def __init__(self, problem: Problem, wrt: str, typing: Typing) -> None:
        super().__init__(problem, typing)
        self.wrt = wrt
        self.atoms = 0
        self.arg_degree = 0
        self.arg_height = 0.0

    def symbol(self, node: ex.Symbol) -> Pair:
        return Deg(1), (Deg(1) if node.name == self.wrt else None)

    def number(self, node: ex.Number) -> Pair:
        v = node.value
        return Deg(0, 0, True, _log2(abs(v.numerator)), _log2(v.denominator)), None

    def constant(self, node: ex.ConstMatrix) -> Pair:
        return Deg(0), None

    def matmul(self, node: ex.MatMul, a: Pair, b: Pair) -> Pair:
        k = self.shape(node.left)[1]
        return dsum(dmul(a[0], b[0]), k), dsum(dadd(dmul(a[1], b[0]), dmul(a[0], b[1])), k)  # type: ignore[return-value]

    def add(self, node: ex.Add, a: Pair, b: Pair) -> Pair:
        return dadd(a[0], b[0]), dadd(a[1], b[1])  # type: ignore[return-value]

    sub = add  # type: ignore[assignment]

    def mul(self, node: ex.Mul, a: Pair, b: Pair) -> Pair:
        return dmul(a[0], b[0]), dadd(dmul(a[1], b[0]), dmul(a[0], b[1]))  # type: ignore[return-value]

    def div(self, node: ex.Div, a: Pair, b: Pair) -> Pair:
        rb = drecip(b[0], self.shape(node.right) == (1, 1))
        value = dmul(a[0], rb)
        return value, dadd(dmul(a[1], rb), dmul(dmul(value, b[1]), rb))  # type: ignore[return-value]

    def neg(self, node: ex.Neg, a: Pair) -> Pair:
        return a

    def transpose(self, node: ex.Transpose, a: Pair) -> Pair:
        return a

    def power(self, node: ex.Power, a: Pair) -> Pair:
        k = int(node.exponent)
        base = a[0] if k >= 0 else drecip(a[0], self.shape(node) == (1, 1))
        factor = dpow(base, abs(k - 1))  # k·a^(k−1): |k − 1| factors of a (k ≥ 1) or of 1/a (k ≤ 0)
        factor.hn += _log2(abs(k))
        return dpow(base, abs(k)), dmul(factor, a[1])

    def apply(self, node: ex.Apply, row: Elementwise, a: Pair) -> Pair:
        r, c = self.shape(node)
        self.atoms += 2 * r * c  # the atom and its derivative atom
        self.arg_degree = max(self.arg_degree, a[0].n + a[0].d)
        self.arg_height = max(self.arg_height, a[0].hn + a[0].hd)
        if not any(isinstance(m, ex.Symbol) for m in node.operand.walk()):
            # A constant argument may fold to an exact value as large as itself (relu(c) = c) or to 1/2
            # (step(0)): count its height (an atom is degree 1, height 0, so this bound covers both).
            return Deg(1, 0, True, a[0].hn, max(a[0].hd, 1.0)), None
        tree = derivative_tree(row.name)
        if a[1] is None:
            return Deg(1), None
        factor = Deg(1) if tree is None else FactorDegree(a[0], (r, c) == (1, 1)).evaluate(tree)
        return Deg(1), dmul(factor, a[1])

    def trace(self, node: ex.Trace, a: Pair) -> Pair:
        k = self.shape(node.operand)[0]
        return dsum(a[0], k), dsum(a[1], k)  # type: ignore[return-value]

    def sum(self, node: ex.Sum, a: Pair) -> Pair:
        rr, cc = self.shape(node.operand)
        k = rr * cc if node.axis is None else (rr if node.axis == 0 else cc)
        return dsum(a[0], k), dsum(a[1], k)  # type: ignore[return-value]

    def _det_inv(self, operand: ex.Expr, a: Pair) -> tuple[Deg, Deg, Deg | None, Deg | None]:
        """(det, inv, the common-denominator tangent of the operand, trace(inv(A) dA))."""
        k = self.shape(operand)[0]
        ac = dcommon(a[0], k * k)
        lf, lf1 = math.lgamma(k + 1) / math.log(2), math.lgamma(k) / math.log(2)
        det = Deg(k * ac.n, k * ac.d, True, k * ac.hn + lf, k * ac.hd)
        inv = Deg((k - 1) * ac.n + ac.d, k * ac.n, True, (k - 1) * ac.hn + lf1 + ac.hd, k * ac.hn + lf)
        dac = None if a[1] is None else dcommon(a[1], k * k)
        return det, inv, dac, dsum(dmul(inv, dac), k * k)

    def det(self, node: ex.Det, a: Pair) -> Pair:
        det, _, _, dtrace = self._det_inv(node.operand, a)
        return det, dmul(det, dtrace)

    def inv(self, node: ex.Inv, a: Pair) -> Pair:
        _, inv, dac, _ = self._det_inv(node.operand, a)
        return inv, dmul(dmul(inv, dac), inv) if dac is not None else None

    def call(self, node: ex.Call, args: list[Pair]) -> Pair:
        value = super().call(node, args)
        grads = gradients(node)
        if grads is None:
            return value
        tangent: Deg | None = None  # a scalar operation: Σ ⟨∂f/∂A, dA⟩ over its arguments
        for arg, grad, (_, da) in zip(node.args, grads, args, strict=True):
            if grad is not None and da is not None:
                r, c = self.shape(arg)
                part = dsum(dmul(self.evaluate(grad)[0], dcommon(da, r * c)), r * c)
                tangent = dadd(tangent, part)
        return value[0], tangent


class FactorDegree(Interpreter[Deg]):
    """Bounds of ``f'`` from the derivative its registry row writes over ``z`` (bounded by ``arg``) and
    ``y`` (an atom); functions in it are atoms too.

    >>> FactorDegree(Deg(1), True).evaluate(derivative_tree("tanh"))
    Deg(2, 0, True, 1.0, 0.0)
    """

    def __init__(self, arg: Deg, scalar: bool) -> None:
        super().__init__()
        self.arg, self.scalar = arg, scalar

    def symbol(self, node: ex.Symbol) -> Deg:
        return self.arg if node.name == ARGUMENT else Deg(1)

    def number(self, node: ex.Number) -> Deg:
        v = node.value
        return Deg(0, 0, True, _log2(abs(v.numerator)), _log2(v.denominator))

    def apply(self, node: ex.Apply, row: Elementwise, a: Deg) -> Deg:
        return Deg(1)

    def add(self, node: ex.Add, a: Deg, b: Deg) -> Deg:
        return dadd(a, b)  # type: ignore[return-value]

    sub = add  # type: ignore[assignment]

    def mul(self, node: ex.Mul, a: Deg, b: Deg) -> Deg:
        return dmul(a, b)  # type: ignore[return-value]

    def div(self, node: ex.Div, a: Deg, b: Deg) -> Deg:
        return dmul(a, drecip(b, self.scalar))  # type: ignore[return-value]

    def neg(self, node: ex.Neg, a: Deg) -> Deg:
        return a

    def power(self, node: ex.Power, a: Deg) -> Deg:
        k = int(node.exponent)
        return dpow(a if k >= 0 else drecip(a, self.scalar), abs(k))


def degree_walk(problem: Problem, wrt: str, typing: Typing, claim: ex.Expr) -> Bounds:
    """Degrees and heights of one entry of ``⟨claim − ∂L/∂W, V⟩``, of atom arguments, and the atom count.

    >>> from symderiv.proofs.verification import prepare, parse_claim
    >>> pr = prepare("W @ X", ["W"], {"W": (3, 2), "X": (2, 4)})
    >>> b = degree_walk(pr, "W", pr.typing, parse_claim(pr, "G @ X.T"))
    >>> b.num, b.den, b.atoms
    (3, 0, 0)
    """
    walk = DegreeWalk(problem, wrt, typing)
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
    return Bounds(num, claim_v.d + grad.d, height, walk.arg_degree, walk.arg_height + 1, walk.atoms)


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


class _Cost(_Shaped):
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


def field_cost(problem: Problem, typing: Typing, claim: ex.Expr) -> tuple[int, int]:
    """(operations of one lane, scalar operations of one real evaluation), both rough.

    >>> from symderiv.proofs.verification import prepare, parse_claim
    >>> pr = prepare("W @ X", ["W"], {"W": (3, 2), "X": (2, 4)})
    >>> field_cost(pr, pr.typing, parse_claim(pr, "G @ X.T"))
    (246, 246)
    """
    cost = _Cost(problem, typing)
    cost.evaluate(problem.expression)
    cost.evaluate(claim)
    return sum(a for a, _ in cost.memo.values()), sum(b for _, b in cost.memo.values())


def memory_estimate(problem: Problem, typing: Typing, claim: ex.Expr, lanes: int, atoms: int) -> int:
    """Bytes a run may hold at once: a value and a tangent (8 bytes per entry and lane) for every node
    (those of the expansions of registered operations included), and about 120 bytes per atom value while
    its hash keys are built. Measured peaks are 0.6–0.8 of it (``W @ X`` and ``relu(W @ X + b)`` at 1024³)."""
    shaped = _Shaped(problem, typing)
    nodes = expanded_nodes([problem.expression, claim, ex.Symbol(problem.upstream)], shaped.shape)
    entries = sum(r * c for r, c in map(shaped.shape, nodes))
    return 2 * 8 * lanes * entries + 120 * atoms


__all__ = ["Bounds", "degree_walk", "lane_error", "error_bound", "field_cost", "memory_estimate"]
