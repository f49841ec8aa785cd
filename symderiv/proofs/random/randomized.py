"""The randomized check (``method="random"``): a Schwartz–Zippel test modulo random 61-bit primes.

The exact prover compares ``∂L/∂W`` with the claim entry by entry. This check draws
a random point (every matrix, the upstream ``G``) and a random direction ``V`` of
``W``'s shape, and compares two numbers::

    ⟨claim, V⟩    and    ⟨G, dD[V]⟩

where ``dD[V]`` is the forward-mode derivative of the expression in the direction
``V`` (:mod:`symderiv.proofs.random.random_eval`), so ``⟨G, dD[V]⟩ = Σ_ij V[i,j] ∂L/∂W[i,j]``.

Each *lane* is an independent trial with its own prime, drawn uniformly from the
primes in ``[2^60, 2^62)`` on every run (:mod:`symderiv.backends.field`), and its own
random point; everything is exact modulo that prime. Constants are never reduced
before they are compared: constant arguments of functions are evaluated exactly
(:mod:`symderiv.proofs.random.random_atoms`). The error bound follows from degree and height
bounds (:mod:`symderiv.proofs.random.random_bound`); enough lanes run that a wrong claim passes
with probability at most ``2^-60``, and the verdict states the bound reached.

A difference found modulo the primes is a difference of the *formal* identity
(functions as free atoms). It becomes a refutation only once confirmed at a real
point of the domain (:mod:`symderiv.proofs.random.random_confirm`); otherwise the verdict is
``undecided``. The failing entry is first located by bisecting the direction
(``S(V_A) + S(V_B) = S(V)``, so one half still fails).
"""

from __future__ import annotations

import hashlib
import math
import random
import secrets
import time
from typing import Any

import numpy as np

from symderiv.backends.field import Degenerate, Field, random_prime
from symderiv.core import expr as ex
from symderiv.core.errors import BudgetError, OptionError, SymderivError
from symderiv.proofs.exact.entrywise import Deadline
from symderiv.proofs.exact.prover import Counterexample
from symderiv.proofs.problem import Problem, ProofRecord, Verdict, concrete_typings, shape_verdict
from symderiv.proofs.random.degrees import Shapes
from symderiv.proofs.random.random_atoms import FieldWalker
from symderiv.proofs.random.random_bound import (
    Bounds,
    degree_walk,
    error_bound,
    field_cost,
    memory_estimate,
    stated_exponent,
)
from symderiv.proofs.random.random_confirm import Confirmed, confirm
from symderiv.syntax.shapes import Typing, format_shape

#: Target error probability: 2^-TARGET_BITS.
TARGET_BITS = 60
#: The most lanes (independent primes and points) one run may use.
MAX_LANES = 64
#: Default budget of the randomized check, in field operations (all lanes).
DEFAULT_RANDOM_BUDGET = 200_000_000_000  # pragma: no mutate - tuning: a time budget (past it, BudgetError says so)
#: The randomized check is refused up front when it would hold more than this many bytes.
MAX_RANDOM_MEMORY = 900_000_000  # pragma: no mutate - tuning: a memory budget (past it, BudgetError says so)
#: Tuning: fresh primes and points drawn before a vanishing denominator is blamed on the expression. One
#: accidental zero has probability about 2^-60, so any count from 2 on gives the same answers; a divisor that is
#: identically 0 vanishes at every draw.
DRAWS = 6  # pragma: no mutate - tuning (above)


def _check_options(budget: Any, seed: Any) -> None:
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0):
        raise OptionError(f"budget must be a positive whole number of operations, not {budget!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise OptionError(f"seed must be a non-negative whole number, not {seed!r}",
                          hint="leave it out to draw fresh primes and points on every run")


#: Coordinates of a cheap point: uniform below 2^SMALL_BITS (one 21-bit limb in matrix products).
SMALL_BITS = 21
#: "Coordinates uniform on the whole field F_p" (|S| = p: 2^60 before the primes are drawn).
FULL_BITS = 64


def lanes_needed(bounds: Bounds, sample_bits: int = FULL_BITS) -> int | None:
    """The fewest lanes (at least 2) whose error bound is ≤ 2^-TARGET_BITS, or None if over MAX_LANES.

    >>> lanes_needed(Bounds(3, 0, 5.0, 0, 0.0, 0)), lanes_needed(Bounds(3, 0, 5.0, 0, 0.0, 0), 21)
    (2, 4)
    """
    for lanes in range(2, MAX_LANES + 1):
        if stated_exponent(error_bound(bounds, lanes, sample_bits)) >= TARGET_BITS:
            return lanes
    return None


def verify_random(problem: Problem, wrt: str, claim_text: str, claim_node: ex.Expr, *, budget: int | None = None,
                  deadline: Deadline | None = None, seed: int | None = None) -> Verdict:
    """Check ``∂L/∂wrt == claim`` modulo random primes (Schwartz–Zippel), confirming differences at real points.

    A pass is ``probabilistic`` with its error bound (``proof.error_exponent = k`` for
    ``error ≤ 2^-k``, ``k ≥ 60``); a difference confirmed at a real point is ``refuted``;
    anything else is ``undecided``.

    >>> from symderiv.proofs.problem import prepare, parse_claim
    >>> pr = prepare("W @ X", ["W"], {"W": (3, 2), "X": (2, 4)})
    >>> v = verify_random(pr, "W", "G @ X.T", parse_claim(pr, "G @ X.T"), seed=1)
    >>> v.holds, v.status, v.proof.error_exponent >= 60
    (True, 'probabilistic', True)
    >>> w = verify_random(pr, "W", "2 * G @ X.T", parse_claim(pr, "2 * G @ X.T"), seed=1)
    >>> w.holds, w.status, w.counterexample is not None
    (False, 'refuted', True)
    """
    _check_options(budget, seed)
    deadline = deadline or Deadline(None)
    expression = problem.text
    typing = problem.typing
    wrong_shape = shape_verdict(problem, wrt, claim_text, claim_node)  # the same check as verify()'s
    if wrong_shape is not None:
        return wrong_shape
    base_seed = seed if seed is not None else secrets.randbits(128)
    record = ProofRecord("random")
    worst = -math.inf
    undecided: list[str] = []
    for index, concrete in enumerate(concrete_typings(typing, (problem.expression, claim_node))):
        outcome = _check_one(problem, wrt, claim_node, concrete, budget, deadline, f"{base_seed}:{index}")
        record.shapes.append(dict(concrete.symbols))
        where = "{" + ", ".join(f"{n}: {format_shape(s)}" for n, s in concrete.symbols.items()) + "}"
        if outcome[0] == "holds":
            worst = max(worst, outcome[1])
            continue
        if outcome[0] == "undecided":
            undecided.append(f"{outcome[1]} on {where}")
            continue
        found: Confirmed | str = outcome[1]
        if isinstance(found, Confirmed):
            return _refuted(problem, wrt, claim_text, found, where, outcome[2], record)
        undecided.append(f"the randomized test modulo primes found a difference {outcome[2]} on {where}, but "
                         f"{found}")
    if undecided:
        return Verdict(False, "undecided", "undecided: " + "; ".join(undecided), expression, wrt, claim_text, None,
                       record)
    k = stated_exponent(worst)
    shapes = " and ".join("{" + ", ".join(f"{a}: {format_shape(b)}" for a, b in s.items()) + "}"
                          for s in record.shapes)
    reason = (f"probabilistic: holds with error probability ≤ 2^-{k}, by a randomized Schwartz–Zippel test "
              f"modulo random primes ≥ 2^60 on {shapes} (seed {base_seed}); not a proof")
    if not typing.is_concrete:
        reason = (f"undecided: holds at the sizes checked, {shapes}, with error probability ≤ 2^-{k} each (seed "
                  f"{base_seed}), but a check at a few sizes is not a proof for all shapes")
        return Verdict(False, "undecided", reason, expression, wrt, claim_text, None, record, checked_at_sizes=True)
    record.error_exponent = k
    return Verdict(True, "probabilistic", reason, expression, wrt, claim_text, None, record)


def _refuted(problem: Problem, wrt: str, claim_text: str, found: Confirmed, where: str, located: str,
             record: Any) -> Verdict:
    i, j = found.entry
    cx = Counterexample((i, j), found.gradient, found.claim, wrt=wrt)
    if found.point:
        cx.values = found.point
        cx.gradient_value, cx.claim_value = found.gradient, found.claim
    detail = (f"differs at entry [{i},{j}] on {where}: at a real point of the domain ∂L/∂{wrt}[{i},{j}] = "
              f"{found.gradient} but the claim gives {found.claim} (evaluated {found.how}); the randomized test "
              f"modulo primes found the difference {located}")
    return Verdict(False, "refuted", detail, problem.text, wrt, claim_text, cx, record)


def _check_one(problem: Problem, wrt: str, claim: ex.Expr, typing: Typing, budget: int | None,
               deadline: Deadline, seed: str) -> tuple[Any, ...]:
    shapes: Shapes = {}  # shared by the walks below
    bounds = degree_walk(problem, wrt, typing, claim, shapes)
    lanes, sample_bits = lanes_needed(bounds), FULL_BITS
    # Without atoms, coordinates below 2^21 make the products of inputs one float64 product instead of
    # nine; they need more lanes (Schwartz–Zippel over a smaller set), which pays off up to twice as many.
    small = lanes_needed(bounds, SMALL_BITS) if bounds.atoms == 0 else None
    if small is not None and (lanes is None or small <= 2 * lanes):
        lanes, sample_bits = small, SMALL_BITS
    if lanes is None:
        return ("undecided", f"the degree bound ({bounds.num}) is too large for a randomized test to reach an "
                             f"error bound of 2^-{TARGET_BITS} within {MAX_LANES} primes")
    lane_cost = field_cost(problem, typing, claim, shapes)[0]
    limit = DEFAULT_RANDOM_BUDGET if budget is None else budget
    if lanes * lane_cost > limit:
        raise BudgetError(
            f"the randomized check needs about {lanes * lane_cost:.3g} field operations ({lanes} random primes and "
            f"points), over the budget of {limit:.3g}",
            hint="raise it with budget= (CLI --budget), or prove for all shapes by leaving the sizes symbolic")
    memory = memory_estimate(problem, typing, claim, lanes, bounds.atoms, shapes)
    if memory > MAX_RANDOM_MEMORY:
        raise BudgetError(
            f"the randomized check would hold about {memory / 1e9:.2g} GB of values ({lanes} random primes and "
            f"points), over the limit of {MAX_RANDOM_MEMORY / 1e9:.2g} GB",
            hint="check smaller shapes, or prove for all shapes by leaving the sizes symbolic")
    rng = random.Random(hashlib.blake2b(f"{seed}:primes".encode()).digest())
    for attempt in range(DRAWS):
        deadline()
        field = Field([random_prime(rng) for _ in range(lanes)])
        bits = error_bound(bounds, lanes, sample_bits, field.primes)  # with the primes actually drawn
        key = hashlib.blake2b(f"{seed}:{attempt}".encode(), digest_size=32).digest()
        walker = FieldWalker(problem, wrt, typing, field, key, deadline, sample_bits)
        try:
            return _evaluate(walker, claim, bits, deadline, seed)
        except Degenerate:
            continue
    raise SymderivError("the randomized check met a vanishing denominator at every random point tried",
                        hint="the expression is probably singular (a determinant or a divisor that is identically 0)")


def _evaluate(walker: FieldWalker, claim: ex.Expr, bits: float, deadline: Deadline, seed: str) -> tuple[Any, ...]:
    problem = walker.problem
    rows, cols = walker.shape(problem.expression)
    if (rows, cols) != (1, 1):
        walker.value(ex.Symbol(problem.upstream))
    direction = walker.draw(*walker.shape(ex.Symbol(walker.wrt)))
    walker.value(ex.Symbol(walker.wrt))
    started = time.monotonic()
    claim_value = walker.value(claim)
    left, right = walker.pairing(claim_value, direction)
    lanes = walker.field.lanes
    failing = np.flatnonzero(np.broadcast_to(left != right, (lanes, 1, 1)))  # lanes where the two differ
    if failing.size == 0:
        return ("holds", bits)
    lane = int(failing[0])
    entry, located = _locate(walker, claim_value, direction, lane, time.monotonic() - started)
    # The confirmation's seed, derived from the run's (any digest size gives an equally random one).
    digest = hashlib.blake2b(f"{seed}:confirm".encode(), digest_size=8).digest()  # pragma: no mutate - tuning (above)
    seed_int = int.from_bytes(digest, "little")
    return ("differs", confirm(problem, walker.wrt, claim, walker.typing, entry, deadline, seed_int), located)


def _locate(walker: FieldWalker, claim_value: np.ndarray, direction: np.ndarray, lane: int, elapsed: float
            ) -> tuple[tuple[int, int] | None, str]:
    """Bisect the failing direction to one entry, in the failing lane only."""
    f = walker.field
    p = f.primes[lane]
    walker.frozen = True

    def one(v: np.ndarray) -> np.ndarray:
        return v[lane:lane + 1] if v.shape[0] == f.lanes else v

    walker.values = {k: one(v) for k, v in walker.values.items()}
    walker.fprimes = {k: one(v) for k, v in walker.fprimes.items()}
    walker.f = Field([p])
    claim_lane, vdir = one(claim_value), one(direction)
    rows, cols = vdir.shape[1:]
    candidates = np.arange(rows * cols)
    stop = time.monotonic() + max(2.0, elapsed)
    while candidates.size > 1 and time.monotonic() <= stop:
        walker.deadline()
        half = candidates[: candidates.size // 2]
        mask = np.zeros(rows * cols, dtype=np.uint64)
        mask[half] = 1
        left, right = walker.pairing(claim_lane, vdir * mask.reshape(1, rows, cols))
        candidates = half if int(left[0, 0, 0]) != int(right[0, 0, 0]) else candidates[candidates.size // 2:]
    first = divmod(int(candidates[0]), cols)
    if candidates.size > 1:
        last = divmod(int(candidates[-1]), cols)
        return first, (f"in one of the entries [{first[0]},{first[1]}] to [{last[0]},{last[1]}] (modulo the prime "
                       f"{p}; the search for the entry stopped for time)")
    return first, f"at entry [{first[0]},{first[1]}] modulo the prime {p}"


def probabilistic_label(bits: float) -> str:
    """The reason prefix of a passed randomized check.

    >>> probabilistic_label(-61.2)
    'probabilistic: holds with error probability ≤ 2^-61'
    """
    return f"probabilistic: holds with error probability ≤ 2^-{stated_exponent(bits)}"


__all__ = ["verify_random", "error_bound", "probabilistic_label", "lanes_needed", "DEFAULT_RANDOM_BUDGET",
           "TARGET_BITS", "MAX_LANES"]
