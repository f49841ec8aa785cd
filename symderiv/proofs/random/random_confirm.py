"""Confirm at a real point a difference that the randomized test found modulo primes.

The test modulo primes decides a *formal* identity: elementwise functions are free
atoms. A claim that holds only through an identity between functions
(``exp(2w)·exp(−w) = exp(w)``, ``sin² + cos² = 1``, ``exp(log w) = w``,
``relu(w) = w·step(w)``) differs formally, yet is true. So a difference is reported
as a refutation only when it is confirmed at a point of the domain:

1. rational points of several scales and signs are drawn (entries ``k/8``, ``k/16``,
   …, a symmetric matrix kept symmetric);
2. the gradient entry (an exact forward-mode tangent along the unit direction
   ``E_ij``, :class:`symderiv.proofs.random.random_eval.Walker`) and the claim entry are
   evaluated exactly in rationals where everything is rational, else in mpmath
   interval arithmetic at 256 bits (77 digits), which encloses the true values;
3. the point counts only if it lies in the domain (``log``/``sqrt`` of positive
   numbers, non-zero divisors, regular matrices, ``relu``/``abs``/``step``/``sign``
   away from their kink, arguments small enough to evaluate) and the difference is
   exactly non-zero, or its interval excludes 0 and it exceeds ``2^-64`` relative
   to the values: far above the working precision.

A large problem without any elementwise function (a rational function of the
entries) is confirmed modulo a fresh prime at a point with small integer entries
instead: a value that is non-zero modulo a prime is a non-zero rational, and every
divisor that was inverted is non-zero there too, so the point is in the domain.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from symderiv.backends.field import Degenerate, Field, random_prime
from symderiv.core import expr as ex
from symderiv.core.errors import TimeoutError
from symderiv.proofs.random.calls import expanded_nodes
from symderiv.proofs.random.random_atoms import FieldWalker
from symderiv.proofs.random.random_bound import field_cost
from symderiv.proofs.random.random_real import ExactArith, IntervalArith, NotRational, OffDomain, RealWalker

#: Real evaluations (one point: the claim and the tangents of the entries checked) costing more
#: scalar operations than this are not attempted (about 1 µs each in rationals, 5 µs in intervals). Tuning: a
#: budget of time; past it the modular confirmation, or an "undecided" that says so, is as sound.
MAX_REAL_COST = 1_000_000  # pragma: no mutate - tuning (above)
#: At most this many points are tried.
MAX_POINTS = 16
#: Confirmation stops after this many seconds when no deadline is given.
CONFIRM_SECONDS = 20.0
#: Tuning: a gradient of up to ALL_ENTRIES entries has each of them tried; a larger one, SAMPLED_ENTRIES drawn at
#: random. Any counts are as sound (an entry is confirmed exactly or not at all): only the time spent changes.
ALL_ENTRIES = 16  # pragma: no mutate - tuning (above)
SAMPLED_ENTRIES = 7  # pragma: no mutate - tuning (above)
#: Tuning: past MAX_REAL_COST, a claim without functions is confirmed at MODULAR_POINTS integer points modulo a
#: fresh prime each, on its first MODULAR_ENTRIES entries (a difference found there is exact at any count).
MODULAR_POINTS = 4  # pragma: no mutate - tuning (above)
MODULAR_ENTRIES = 4  # pragma: no mutate - tuning (above)
#: Tuning: the integer points' entries (small: short witnesses; any range is as sound).
MODULAR_VALUES = range(1, 17)  # pragma: no mutate - tuning (above)
#: Tuning: after a point off the domain, entries are drawn on a grid this much finer (sums then rarely land exactly
#: on a kink; any fine grid is as sound).
FINE_GRID = 2**16  # pragma: no mutate - tuning (above)
#: Scales of the points tried in turn: (numerators low, high, denominator). Tuning: small rationals of several
#: sizes and signs, where domains (log, sqrt, 1/x) and poles are met or avoided; any such scales are as sound.
_SCALES = ((1, 16, 8), (-16, 16, 8), (1, 8, 16), (-16, -1, 8),  # pragma: no mutate - tuning (above)
           (-64, 64, 4), (8, 64, 4), (-8, 8, 64), (1, 64, 64))  # pragma: no mutate - tuning (above)


@dataclass
class Confirmed:
    """A real point where the gradient entry and the claim entry differ."""

    entry: tuple[int, int]
    point: dict[str, list[list[str]]]
    gradient: str
    claim: str
    how: str


def fmt_value(x: Any) -> str:
    """A short, bounded rendering of an exact rational, or of an interval by its midpoint.

    >>> fmt_value(Fraction(1, 3)), fmt_value(Fraction(10**400))
    ('1/3', '≈ 1.0e+400')
    """
    import mpmath  # type: ignore[import-untyped]

    if isinstance(x, int):
        x = Fraction(x)
    if isinstance(x, Fraction):
        if max(x.numerator.bit_length(), x.denominator.bit_length()) <= 128:
            return str(x)
        value = mpmath.mpf(x.numerator) / x.denominator
    else:
        value = (mpmath.mpf(x._mpi_[0]) + mpmath.mpf(x._mpi_[1])) / 2
    if value == 0:
        return "0"
    _, exp = mpmath.frexp(value)
    if abs(int(exp)) > 100_000:  # decimal formatting of such a number takes long: give a power of 2
        return f"≈ {'-' if value < 0 else ''}2^{int(exp)}"
    return "≈ " + mpmath.nstr(value, 15)


def _draw(rng: random.Random, rows: int, cols: int, scale: tuple[int, int, int], symmetric: bool, grid: int
          ) -> list[list[Fraction]]:
    """Entries in [lo/den, hi/den], not 0, multiples of 1/(den·grid): a fine grid makes sums rarely land
    exactly on a kink, a coarse one gives short witnesses."""
    lo, hi, den = scale
    m = []
    for _ in range(rows):
        row = []
        for _ in range(cols):
            k = 0
            while k == 0:
                k = rng.randrange(lo * grid, hi * grid + 1)
            row.append(Fraction(k, den * grid))
        m.append(row)
    if symmetric:
        for i in range(rows):
            for j in range(i):
                m[i][j] = m[j][i]
    return m


def _unit(arith: Any, shape: tuple[int, int], entry: tuple[int, int]) -> Any:
    rows = [[Fraction(int((i, j) == entry)) for j in range(shape[1])] for i in range(shape[0])]
    return arith.matrix(rows)


def _differs(arith: Any, left: Any, right: Any) -> bool:
    if arith.exact:
        return bool(left != right)
    d = right - left
    size = max(abs(left).b, abs(right).b, 1)
    return bool(arith.nonzero(d) and arith.magnitude(d) > size * arith.scalar(Fraction(1, 2**64)))


def _entries(shape: tuple[int, int], first: tuple[int, int] | None, rng: random.Random) -> list[tuple[int, int]]:
    rows, cols = shape
    everything = [(i, j) for i in range(rows) for j in range(cols)]
    rest = everything if len(everything) <= ALL_ENTRIES else rng.sample(everything, SAMPLED_ENTRIES)
    return ([first] if first is not None else []) + [e for e in rest if e != first]


def confirm(problem: Any, wrt: str, claim: ex.Expr, typing: Any, first: tuple[int, int] | None,
            deadline: Any, seed: int) -> Confirmed | str:
    """A confirmed real witness of the difference, or the reason why none was found."""
    rng = random.Random(seed)
    stop = time.monotonic() + CONFIRM_SECONDS
    wrt_shape = tuple(int(x) for x in typing.symbols[wrt])
    def shape(node: ex.Expr) -> tuple[int, int]:
        r, c = typing.shape_of(node, {problem.upstream: typing.shape_of(problem.expression)})
        return int(r), int(c)

    atom_free = not any(isinstance(n, ex.Apply) for n in expanded_nodes([problem.expression, claim], shape))
    cost = field_cost(problem, typing, claim)[1]
    entries = _entries(wrt_shape, first, rng)  # type: ignore[arg-type]
    while len(entries) > 1 and cost * len(entries) > MAX_REAL_COST:
        entries.pop()
    try:
        if cost * len(entries) <= MAX_REAL_COST:
            return _search(problem, wrt, claim, typing, entries, deadline, rng, stop)
        if atom_free:
            return _modular(problem, wrt, claim, typing, entries[:MODULAR_ENTRIES], deadline, rng, stop)
    except TimeoutError:
        return "the time limit ran out before a real point confirmed the difference"
    return (f"confirming the difference at a real point would cost about {cost * len(entries):.2g} high-precision "
            "operations, more than this check spends; check a smaller instance of the same shapes")


def _point_names(problem: Any, typing: Any) -> dict[str, Any]:
    """The matrices a point gives values to: the symbols, and the upstream ``G`` unless ``L`` is scalar."""
    names = dict(typing.symbols)
    result_shape = typing.shape_of(problem.expression)
    if result_shape != (1, 1):
        names[problem.upstream] = result_shape
    return names


def _search(problem: Any, wrt: str, claim: ex.Expr, typing: Any, entries: list[tuple[int, int]], deadline: Any,
            rng: random.Random, stop: float) -> Confirmed | str:
    names = _point_names(problem, typing)
    outside = inside = 0
    for attempt in range(MAX_POINTS):
        if deadline is not None:
            deadline()
        if time.monotonic() > stop:
            break
        scale = _SCALES[attempt % len(_SCALES)]
        grid = 1 if outside == 0 else FINE_GRID  # after a point off the domain (a kink?), a fine grid
        point = {n: _draw(rng, int(s[0]), int(s[1]), scale if n != problem.upstream else _SCALES[1],
                          n in typing.symmetric, grid) for n, s in names.items()}
        for arith in (ExactArith(), IntervalArith()):
            try:
                found = _at_point(problem, wrt, claim, typing, entries, arith, point, deadline)
            except NotRational:
                continue  # evaluate this point with intervals
            except (OffDomain, OverflowError, ValueError, ZeroDivisionError):
                outside += 1
                break
            if found is not None:
                return found
            inside += 1
            break
    if inside == 0:
        return (f"none of the {outside} real points tried was in the domain or small enough to evaluate, so it "
                "could not be confirmed")
    return (f"no real point confirmed it ({inside} points of the domain checked, {outside} outside it); the identity "
            "may hold through identities between functions (such as exp(a)·exp(b) = exp(a+b) or sin² + cos² = 1), "
            "which that test treats as free symbols")


def _at_point(problem: Any, wrt: str, claim: ex.Expr, typing: Any, entries: list[tuple[int, int]], arith: Any,
              point: dict[str, list[list[Fraction]]], deadline: Any) -> Confirmed | None:
    walker = RealWalker(problem, wrt, typing, arith, point, deadline)
    claim_value = walker.value(claim)
    shape = tuple(int(x) for x in typing.symbols[wrt])
    for entry in entries:
        left, right = walker.pairing(claim_value, _unit(arith, shape, entry))  # type: ignore[arg-type]
        lv, rv = left[0, 0, 0], right[0, 0, 0]
        if _differs(arith, lv, rv):
            how = "exactly, in rational arithmetic" if arith.exact else \
                "in interval arithmetic at 256 bits; the difference's interval excludes 0"
            values = {n: [[str(x) for x in row] for row in m] for n, m in point.items()}
            return Confirmed(entry, values, fmt_value(rv), fmt_value(lv), how)
    return None


class _SmallPoint(FieldWalker):
    """A walker modulo one prime whose symbols take small integer values (a rational point)."""

    def __init__(self, *args: Any, point: dict[str, list[list[int]]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.point = point

    def symbol_value(self, node: ex.Symbol) -> np.ndarray:
        p = self.field.primes[0]
        m = [[x % p for x in row] for row in self.point[node.name]]
        return np.array([m], dtype=np.uint64)


def _modular(problem: Any, wrt: str, claim: ex.Expr, typing: Any, entries: list[tuple[int, int]], deadline: Any,
             rng: random.Random, stop: float) -> Confirmed | str:
    names = _point_names(problem, typing)
    shape = tuple(int(x) for x in typing.symbols[wrt])
    for _ in range(MODULAR_POINTS):
        if time.monotonic() > stop:
            break
        point = {n: [[rng.choice(MODULAR_VALUES) for _ in range(int(s[1]))] for _ in range(int(s[0]))]
                 for n, s in names.items()}
        for n in typing.symmetric:
            m = point[n]
            for i in range(len(m)):
                for j in range(i):
                    m[i][j] = m[j][i]
        p = random_prime(rng)
        # The walker draws nothing (the point is given, the claim has no atoms): its seed is never used.
        walker = _SmallPoint(problem, wrt, typing, Field([p]), b"", deadline, point=point)
        try:
            claim_value = walker.value(claim)
            for entry in entries:
                unit = np.zeros(shape, dtype=np.uint64)[np.newaxis]  # one lane
                unit[0, entry[0], entry[1]] = 1
                left, right = walker.pairing(claim_value, unit)
                if int(left[0, 0, 0]) != int(right[0, 0, 0]):
                    how = (f"exactly: the two values differ modulo the prime {p}, so they differ as rationals, and "
                           "every divisor is non-zero there")
                    total = sum(len(m) * len(m[0]) for m in point.values())
                    values = {n: [[str(x) for x in row] for row in m] for n, m in point.items()} if total <= 200 else {}
                    return Confirmed(entry, values, f"{int(right[0, 0, 0])} (mod {p})",
                                     f"{int(left[0, 0, 0])} (mod {p})", how)
        except Degenerate:
            continue
    return "no integer point confirmed it modulo a fresh prime"


__all__ = ["confirm", "Confirmed", "fmt_value", "MAX_REAL_COST"]
