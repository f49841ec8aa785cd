"""The randomized check (``method="random"``): a Schwartz–Zippel test over a prime field.

The exact prover compares ``∂L/∂W`` with the claim entry by entry, which costs
``H·m·n`` multiply-adds or more. This check instead draws a random point (every
matrix, the upstream ``G``) and a random direction ``V`` of ``W``'s shape, and
compares two numbers::

    ⟨claim, V⟩    and    ⟨G, dD[V]⟩

where ``dD[V]`` is the forward-mode (dual-number) derivative of the expression
in the direction ``V``, so ``⟨G, dD[V]⟩ = Σ_ij V[i,j] ∂L/∂W[i,j]``. Everything is
computed exactly in the field ``F_p`` (``p`` a prime below ``2^23``), matrix
products with float64 BLAS on centred residues, chunked so that every partial
sum stays below ``2^53`` and is therefore exact. Each lane of a run is one
independent random point; the number of lanes is chosen from a degree bound so
that the probability of accepting a wrong claim is at most ``2^-40``.

Soundness (the full argument is in ``docs/performance.md``): let ``Δ = claim −
∂L/∂W``. If ``Δ`` is not identically zero, some entry ``Δ_ij = N/M`` is a
non-zero rational function of the random values. At a random point ``N ≠ 0``
except with probability ``deg N / p`` (Schwartz–Zippel), and when ``Δ_ij ≠ 0``
the linear form ``Σ V_kl Δ_kl`` vanishes for exactly a ``1/p`` fraction of the
directions ``V``. Lanes are independent, so all of them pass with probability
at most ``(ε_lane)^lanes``.

Elementwise functions do not exist in ``F_p``. As in the exact prover they are
*atoms*: independent variables, one for each distinct (function, argument). An
atom's value is a keyed hash of its argument's values in every lane (a random
oracle), so equal arguments give equal values and distinct arguments give
independent uniform values unless two distinct arguments collide in every lane,
an event whose probability is added to the bound. Derivatives are taken with the
prover's own rules: ``exp' = exp``, ``tanh' = 1 − tanh²``, ``sigmoid' = s(1−s)``,
``tan' = 1 + tan²``, ``log'(u) = 1/u``, ``sqrt' = 1/(2·sqrt)``, and new atoms
``cos``, ``−sin``, ``step``, ``sign``, ``phi_prime`` for ``sin``, ``cos``,
``relu``, ``abs``, ``phi``. So the check decides the same formal identity as the
exact prover (atoms free); a claim that is true only through an identity between
functions (``relu(x) = x·step(x)``) is reported as failing *in that model*.

A failure is certain, not probabilistic: at the failing point the two sides
differ exactly. The failing entry is then located by bisecting the direction
(``S(V_A) + S(V_B) = S(V)``, so one half still fails).
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from . import expr as ex
from .entrywise import Deadline, _const_fold
from .errors import BudgetError, ShapeError, SymderivError, UnsupportedError
from .shapes import Typing, format_shape

if TYPE_CHECKING:  # pragma: no cover
    from .verification import Problem, Verdict

#: Target error probability: 2^-TARGET_BITS.
TARGET_BITS = 40
#: The most lanes (independent points) one run may use.
MAX_LANES = 32
#: Default budget of the randomized check, in field multiply-adds (all lanes).
DEFAULT_RANDOM_BUDGET = 200_000_000_000
#: Matrix products are chunked along the inner dimension in blocks of at most this size.
MAX_CHUNK = 2048

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _is_prime(n: int) -> bool:
    if n < 2 or n % 2 == 0:
        return n == 2
    f = 3
    while f * f <= n:
        if n % f == 0:
            return False
        f += 2
    return True


def choose_prime(inner: int) -> tuple[int, int]:
    """The largest prime ``p < 2^23`` with exact float64 products, and the chunk size used.

    A chunk of ``k`` products of centred residues (``|a| ≤ (p−1)/2``) sums to at most
    ``k·((p−1)/2)² ≤ 2^53``, so float64 matrix products are exact.

    >>> p, chunk = choose_prime(1024)
    >>> chunk, p < 2**23, (chunk * ((p - 1) // 2) ** 2) <= 2**53
    (1024, True, True)
    """
    chunk = max(1, min(inner, MAX_CHUNK))
    limit = min(2**23 - 1, 2 * math.isqrt(2**53 // chunk) + 1)
    p = limit if limit % 2 else limit - 1
    while not (_is_prime(p) and chunk * ((p - 1) // 2) ** 2 <= 2**53):
        p -= 2
    return p, chunk


class _Degenerate(ArithmeticError):
    """A denominator or pivot vanished at the random point: draw another point."""


class Field:
    """Arithmetic in ``F_p`` on float64 arrays of residues in ``[0, p)``.

    >>> f = Field(101, 8)
    >>> a = np.array([[3.0, 100.0]])
    >>> f.mul(a, a).tolist(), f.inv_elem(a).tolist()
    ([[9.0, 1.0]], [[34.0, 100.0]])
    """

    def __init__(self, p: int, chunk: int):
        self.p = p
        self.fp = float(p)
        self.inv_p = 1.0 / p
        self.chunk = chunk

    def mod(self, a: np.ndarray) -> np.ndarray:
        """Reduce exact integers below 2^53 in absolute value to ``[0, p)``.

        ``floor(a/p)`` is computed with one multiplication (np.fmod is ten times
        slower); it may be off by one, which the two corrections fix, and every
        intermediate is an integer below 2^53, so the result is exact.
        """
        q = np.floor(a * self.inv_p)
        q *= self.fp
        r = a - q
        r[r < 0] += self.fp
        r[r >= self.fp] -= self.fp
        return r

    def add(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        s = a + b
        s[s >= self.fp] -= self.fp
        return s

    def sub(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        s = a - b
        s[s < 0] += self.fp
        return s

    def neg(self, a: np.ndarray) -> np.ndarray:
        return np.where(a > 0, self.fp - a, a)

    def mul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        # Residues are below 2^23, so products are below 2^46: exact in float64.
        return self.mod(a * b)

    def scale(self, a: np.ndarray, c: int) -> np.ndarray:
        return self.mod(a * float(c % self.p))

    def const(self, c: Fraction | int) -> float:
        c = Fraction(c)
        return float(c.numerator % self.p * pow(c.denominator % self.p, self.p - 2, self.p) % self.p)

    def centred(self, a: np.ndarray) -> np.ndarray:
        return np.where(a > (self.p - 1) // 2, a - self.fp, a)

    def matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        k = a.shape[-1]
        ac, bc = self.centred(a), self.centred(b)
        out = None
        for start in range(0, k, self.chunk):
            part = np.matmul(ac[..., start:start + self.chunk], bc[..., start:start + self.chunk, :])
            if k > self.chunk:
                part = self.mod(part)
            out = part if out is None else out + part
        if out is None:  # pragma: no cover - shapes are positive
            raise ShapeError("empty product")
        return self.mod(out)

    def total(self, a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        # Sums of up to 2^30 residues stay below 2^53.
        return self.mod(np.sum(a, axis=axes, keepdims=True))

    def pow_elem(self, a: np.ndarray, e: int) -> np.ndarray:
        result = np.ones_like(a)
        base = a
        while e:
            if e & 1:
                result = self.mul(result, base)
            e >>= 1
            if e:
                base = self.mul(base, base)
        return result

    def inv_elem(self, a: np.ndarray) -> np.ndarray:
        if np.any(a == 0):
            raise _Degenerate("division by zero at the random point")
        return self.pow_elem(a, self.p - 2)

    def solve_inverse(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inverse and determinant of each lane's square matrix by Gauss–Jordan elimination."""
        lanes, n, _ = a.shape
        invs = np.empty_like(a)
        dets = np.empty((lanes, 1, 1))
        p = self.p
        for lane in range(lanes):
            m = np.concatenate([a[lane], np.eye(n)], axis=1)
            det = 1
            for col in range(n):
                nonzero = np.nonzero(m[col:, col])[0]
                if nonzero.size == 0:
                    raise _Degenerate("a singular matrix at the random point")
                piv = col + int(nonzero[0])
                if piv != col:
                    m[[col, piv]] = m[[piv, col]]
                    det = -det
                pv = int(m[col, col])
                det = det * pv % p
                m[col] = self.scale(m[col], pow(pv, p - 2, p))
                factors = m[:, col].copy()
                factors[col] = 0.0
                m = self.sub(m, self.mod(np.outer(factors, m[col])))
            invs[lane] = m[:, n:]
            dets[lane, 0, 0] = det % p
        return invs, dets


# --------------------------------------------------------------------------
# Atoms: a keyed hash of the argument's values in every lane


def _mix(x: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser (wrapping uint64 arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _salt(seed: bytes, *parts: object) -> np.uint64:
    digest = hashlib.blake2b(repr(parts).encode(), key=seed[:64], digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


def _rational_reconstruct(a: int, p: int, bound: int = 1 << 10) -> Fraction | None:
    """The fraction ``n/d`` with ``|n|, d ≤ bound`` congruent to ``a`` mod p, if any."""
    r0, r1, s0, s1 = p, a % p, 0, 1
    while r1 > bound:
        q = r0 // r1
        r0, r1, s0, s1 = r1, r0 - q * r1, s1, s0 - q * s1
    if s1 == 0 or abs(s1) > bound:
        return None
    value = Fraction(r1, s1)
    return value if (value.numerator - a * value.denominator) % p == 0 else None


# --------------------------------------------------------------------------
# Degree bounds (for the error probability)


class _Deg:
    """Each entry is ``P/Q`` with ``deg P ≤ n``, ``deg Q ≤ d``; ``common``: one ``Q`` for all entries."""

    __slots__ = ("n", "d", "common")

    def __init__(self, n: int, d: int = 0, common: bool = True):
        self.n, self.d, self.common = n, d, common or d == 0

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"_Deg({self.n}, {self.d}, {self.common})"


def _dadd(a: _Deg | None, b: _Deg | None) -> _Deg | None:
    if a is None or b is None:
        return a or b
    if a.d == 0 and b.d == 0:
        return _Deg(max(a.n, b.n))
    return _Deg(max(a.n + b.d, b.n + a.d), a.d + b.d, a.common and b.common)


def _dmul(a: _Deg | None, b: _Deg | None) -> _Deg | None:
    if a is None or b is None:
        return None
    return _Deg(a.n + b.n, a.d + b.d, a.common and b.common)


def _dsum(a: _Deg | None, count: int) -> _Deg | None:
    """A sum of ``count`` entries."""
    if a is None or a.common or count <= 1:
        return a
    return _Deg(a.n + (count - 1) * a.d, count * a.d, False)


def _dcommon(a: _Deg, count: int) -> _Deg:
    """The entries of a matrix of ``count`` entries over one common denominator."""
    if a.common:
        return a
    return _Deg(a.n + (count - 1) * a.d, count * a.d, True)


def _drecip(a: _Deg, scalar: bool) -> _Deg:
    return _Deg(a.d, a.n, scalar or a.n == 0)


# --------------------------------------------------------------------------
# The evaluator


class _Run:
    """One randomized evaluation: values (lazy, memoised) and tangents in direction V."""

    def __init__(self, problem: Problem, wrt: str, typing: Typing, field: Field, lanes: int, seed: bytes,
                 deadline: Deadline):
        self.problem = problem
        self.wrt = wrt
        self.typing = typing
        self.field = field
        self.lanes = lanes
        self.seed = seed
        self.deadline = deadline
        self.rng = np.random.default_rng(int.from_bytes(hashlib.blake2b(seed, digest_size=16).digest(), "little"))
        self.extra = {problem.upstream: typing.shape_of(problem.expression)}
        self.values: dict[ex.Expr, np.ndarray] = {}
        self.tangents: dict[ex.Expr, np.ndarray | None] = {}
        self.fprime: dict[ex.Expr, np.ndarray] = {}
        self.frozen = False  # when True, no new randomness may be drawn (bisection passes)
        self.direction: np.ndarray | None = None
        self._depends: dict[ex.Expr, bool] = {}
        self.atom_count = 0

    # -- helpers -------------------------------------------------------------
    def shape(self, node: ex.Expr) -> tuple[int, int]:
        r, c = self.typing.shape_of(node, self.extra)
        return int(r), int(c)  # type: ignore[arg-type]

    def depends(self, node: ex.Expr) -> bool:
        found = self._depends.get(node)
        if found is None:
            found = any(isinstance(n, ex.Symbol) and n.name == self.wrt for n in node.walk())
            self._depends[node] = found
        return found

    def random_matrix(self, rows: int, cols: int, symmetric: bool = False) -> np.ndarray:
        if self.frozen:  # pragma: no cover - every symbol is bound in the first pass
            raise AssertionError("new randomness during bisection")
        m = self.rng.integers(0, self.field.p, size=(self.lanes, rows, cols)).astype(np.float64)
        if symmetric:
            upper = np.triu(m)
            m = upper + np.swapaxes(np.triu(m, 1), 1, 2)
        return m

    def full(self, a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        return np.broadcast_to(a, (a.shape[0], *shape)) if a.shape[1:] != shape else a

    def atom(self, fn: str, u: np.ndarray) -> np.ndarray:
        """The value of the atom ``fn(u)`` in every lane: a keyed hash of u's values in all lanes."""
        if self.frozen:  # pragma: no cover - every atom is evaluated in the first pass
            raise AssertionError("new atom during bisection")
        f = self.field
        u = np.broadcast_to(u, (self.lanes, *u.shape[1:]))
        self.atom_count += int(np.prod(u.shape[1:]))
        keys = u.astype(np.uint64)
        h1 = np.full(keys.shape[1:], _salt(self.seed, "h1", fn), dtype=np.uint64)
        h2 = np.full(keys.shape[1:], _salt(self.seed, "h2", fn), dtype=np.uint64)
        for lane in range(self.lanes):
            h1 = _mix(h1 ^ keys[lane])
            h2 = _mix(h2 ^ (keys[lane] + np.uint64(0x9E3779B97F4A7C15)))
        out = np.empty(u.shape)
        for lane in range(self.lanes):
            h = _mix(h1 ^ _mix(h2 ^ _salt(self.seed, "lane", lane)))
            out[lane] = (h % np.uint64(f.p)).astype(np.float64)
        # Arguments equal in every lane are (with high probability) constants; fold them as
        # the exact prover does (relu(0) = 0, exp(0) = 1, log(1) = 0, ...).
        same = np.all(u == u[0], axis=0)
        if np.any(same):
            cache: dict[float, float | None] = {}
            for idx in zip(*np.nonzero(same), strict=True):
                v = float(u[0][idx])
                if v not in cache:
                    c = _rational_reconstruct(int(v), f.p)
                    folded = None
                    if c is not None:
                        if fn == "logabs":
                            folded = Fraction(0) if abs(c) == 1 else None
                        else:
                            folded = _const_fold(fn, c)
                    cache[v] = None if folded is None else f.const(folded)
                if cache[v] is not None:
                    out[(slice(None), *idx)] = cache[v]
        return out

    # -- values --------------------------------------------------------------
    def value(self, node: ex.Expr) -> np.ndarray:
        found = self.values.get(node)
        if found is None:
            self.deadline()
            found = getattr(self, "_v_" + type(node).__name__)(node)
            self.values[node] = found
        return found

    def _v_Symbol(self, node: ex.Symbol) -> np.ndarray:
        rows, cols = self.shape(node)
        return self.random_matrix(rows, cols, node.name in self.typing.symmetric)

    def _v_Number(self, node: ex.Number) -> np.ndarray:
        return np.full((1, 1, 1), self.field.const(node.value))

    def _v_ConstMatrix(self, node: ex.ConstMatrix) -> np.ndarray:
        rows, cols = self.shape(node)
        if node.kind == "ones":
            return np.ones((1, rows, cols))
        if node.kind == "zeros":
            return np.zeros((1, rows, cols))
        return np.eye(rows)[None, :, :]

    def _v_MatMul(self, node: ex.MatMul) -> np.ndarray:
        return self.field.matmul(self.value(node.left), self.value(node.right))

    def _v_Add(self, node: ex.Add) -> np.ndarray:
        return self.field.add(self.value(node.left), self.value(node.right))

    def _v_Sub(self, node: ex.Sub) -> np.ndarray:
        return self.field.sub(self.value(node.left), self.value(node.right))

    def _v_Mul(self, node: ex.Mul) -> np.ndarray:
        return self.field.mul(self.value(node.left), self.value(node.right))

    def _v_Div(self, node: ex.Div) -> np.ndarray:
        return self.field.mul(self.value(node.left), self.reciprocal(node.right))

    def reciprocal(self, node: ex.Expr) -> np.ndarray:
        key = ex.Power(node, exponent=-1)
        found = self.values.get(key)
        if found is None:
            found = self.field.inv_elem(self.value(node))
            self.values[key] = found
        return found

    def _v_Neg(self, node: ex.Neg) -> np.ndarray:
        return self.field.neg(self.value(node.operand))

    def _v_Transpose(self, node: ex.Transpose) -> np.ndarray:
        return np.swapaxes(self.value(node.operand), 1, 2)

    def _v_Power(self, node: ex.Power) -> np.ndarray:
        base = self.reciprocal(node.operand) if node.exponent < 0 else self.value(node.operand)
        return self.field.pow_elem(base, abs(node.exponent))

    def _v_Apply(self, node: ex.Apply) -> np.ndarray:
        return self.atom(node.fn, self.value(node.operand))

    def _v_Trace(self, node: ex.Trace) -> np.ndarray:
        a = self.value(node.operand)
        return self.field.total(np.diagonal(a, axis1=1, axis2=2)[:, :, None], (1, 2))

    def _v_Sum(self, node: ex.Sum) -> np.ndarray:
        a = self.value(node.operand)
        axes = (1, 2) if node.axis is None else ((1,) if node.axis == 0 else (2,))
        return self.field.total(a, axes)

    def inverse_det(self, node: ex.Expr) -> tuple[np.ndarray, np.ndarray]:
        key = ex.Inv(node)
        if key not in self.values:
            inv, det = self.field.solve_inverse(np.broadcast_to(self.value(node), (self.lanes, *self.shape(node))))
            self.values[key] = inv
            self.values[ex.Det(node)] = det
        return self.values[key], self.values[ex.Det(node)]

    def _v_Inv(self, node: ex.Inv) -> np.ndarray:
        return self.inverse_det(node.operand)[0]

    def _v_Det(self, node: ex.Det) -> np.ndarray:
        a = self.value(node.operand)
        if a.shape[-1] == 0:  # pragma: no cover - shapes are positive
            return np.ones((1, 1, 1))
        try:
            return self.inverse_det(node.operand)[1]
        except _Degenerate:
            # A singular matrix has determinant 0; only its derivative needs the inverse.
            return np.zeros((self.lanes, 1, 1))

    def _v_LogDet(self, node: ex.LogDet) -> np.ndarray:
        det = self.inverse_det(node.operand)[1]
        return self.atom("logabs", det)

    def _v_MatPow(self, node: ex.MatPow) -> np.ndarray:
        a = self.value(node.operand)
        n = a.shape[-1]
        result = np.broadcast_to(np.eye(n), (1, n, n)).copy()
        for _ in range(node.k):
            result = self.field.matmul(result, a)
        return result

    # -- tangents (forward mode in direction V) ------------------------------
    def tangent(self, node: ex.Expr) -> np.ndarray | None:
        if not self.depends(node):
            return None
        if node in self.tangents:
            return self.tangents[node]
        self.deadline()
        found = getattr(self, "_t_" + type(node).__name__)(node)
        self.tangents[node] = found
        return found

    def _tadd(self, a: np.ndarray | None, b: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
        if a is None and b is None:
            return None
        if a is None:
            return self.full(b, shape)  # type: ignore[arg-type]
        if b is None:
            return self.full(a, shape)
        return self.field.add(a, b)

    def _t_Symbol(self, node: ex.Symbol) -> np.ndarray:
        assert self.direction is not None
        return self.direction

    def _t_MatMul(self, node: ex.MatMul) -> np.ndarray | None:
        f = self.field
        da, db = self.tangent(node.left), self.tangent(node.right)
        left = None if da is None else f.matmul(da, self.value(node.right))
        right = None if db is None else f.matmul(self.value(node.left), db)
        return self._tadd(left, right, self.shape(node))

    def _t_Add(self, node: ex.Add) -> np.ndarray | None:
        return self._tadd(self.tangent(node.left), self.tangent(node.right), self.shape(node))

    def _t_Sub(self, node: ex.Sub) -> np.ndarray | None:
        db = self.tangent(node.right)
        return self._tadd(self.tangent(node.left), None if db is None else self.field.neg(db), self.shape(node))

    def _t_Mul(self, node: ex.Mul) -> np.ndarray | None:
        f = self.field
        da, db = self.tangent(node.left), self.tangent(node.right)
        left = None if da is None else f.mul(da, self.value(node.right))
        right = None if db is None else f.mul(self.value(node.left), db)
        return self._tadd(left, right, self.shape(node))

    def _t_Div(self, node: ex.Div) -> np.ndarray | None:
        f = self.field
        da, db = self.tangent(node.left), self.tangent(node.right)
        rb = self.reciprocal(node.right)
        left = None if da is None else f.mul(da, rb)
        right = None if db is None else f.neg(f.mul(f.mul(self.value(node), db), rb))
        return self._tadd(left, right, self.shape(node))

    def _t_Neg(self, node: ex.Neg) -> np.ndarray | None:
        d = self.tangent(node.operand)
        return None if d is None else self.field.neg(d)

    def _t_Transpose(self, node: ex.Transpose) -> np.ndarray | None:
        d = self.tangent(node.operand)
        return None if d is None else np.swapaxes(d, 1, 2)

    def _t_Power(self, node: ex.Power) -> np.ndarray | None:
        f = self.field
        d = self.tangent(node.operand)
        if d is None or node.exponent == 0:
            return None
        k = node.exponent
        factor = self.fprime.get(node)
        if factor is None:
            if k > 0:
                factor = f.scale(f.pow_elem(self.value(node.operand), k - 1), k)
            else:
                factor = f.scale(f.pow_elem(self.reciprocal(node.operand), 1 - k), k)
            self.fprime[node] = factor
        return f.mul(factor, d)

    def _t_Apply(self, node: ex.Apply) -> np.ndarray | None:
        d = self.tangent(node.operand)
        if d is None:
            return None
        factor = self.fprime.get(node)
        if factor is None:
            factor = self.derivative_factor(node)
            self.fprime[node] = factor
        return self.field.mul(factor, d)

    def derivative_factor(self, node: ex.Apply) -> np.ndarray:
        """fn'(u) by the prover's table of scalar rules (see :func:`symderiv.algebra._atom_derivative`)."""
        f = self.field
        fn, u = node.fn, self.value(node.operand)
        me = self.value(node)
        one = np.ones((1, 1, 1))
        if fn == "exp":
            return me
        if fn in ("log", "logabs"):
            return f.inv_elem(u)
        if fn == "sqrt":
            return f.inv_elem(f.scale(me, 2))
        if fn == "abs":
            return self.atom("sign", u)
        if fn == "sin":
            return self.atom("cos", u)
        if fn == "cos":
            return f.neg(self.atom("sin", u))
        if fn == "tan":
            return f.add(np.broadcast_to(one, me.shape), f.mul(me, me))
        if fn == "tanh":
            return f.sub(np.broadcast_to(one, me.shape), f.mul(me, me))
        if fn == "sigmoid":
            return f.mul(me, f.sub(np.broadcast_to(one, me.shape), me))
        if fn == "relu":
            return self.atom("step", u)
        if fn in ("step", "sign"):
            raise UnsupportedError(f"cannot differentiate with respect to {self.wrt}: {fn} jumps at 0; its "
                                   "derivative is a Dirac delta, which symderiv does not represent",
                                   hint="rewrite the expression without differentiating through step/sign")
        if fn.endswith("_prime"):
            raise UnsupportedError(f"cannot differentiate with respect to {self.wrt}: {fn} is already a "
                                   "derivative; second derivatives are not supported")
        return self.atom(fn + "_prime", u)

    def _t_Trace(self, node: ex.Trace) -> np.ndarray | None:
        d = self.tangent(node.operand)
        return None if d is None else self.field.total(np.diagonal(d, axis1=1, axis2=2)[:, :, None], (1, 2))

    def _t_Sum(self, node: ex.Sum) -> np.ndarray | None:
        d = self.tangent(node.operand)
        if d is None:
            return None
        axes = (1, 2) if node.axis is None else ((1,) if node.axis == 0 else (2,))
        return self.field.total(d, axes)

    def _t_Inv(self, node: ex.Inv) -> np.ndarray | None:
        d = self.tangent(node.operand)
        if d is None:
            return None
        f = self.field
        inv = self.value(node)
        return f.neg(f.matmul(f.matmul(inv, d), inv))

    def _dtrace_inv(self, node: ex.Expr) -> np.ndarray | None:
        """trace(inv(A) dA) = Σ inv(A)ᵀ ∘ dA."""
        d = self.tangent(node)
        if d is None:
            return None
        inv, _ = self.inverse_det(node)
        f = self.field
        return f.total(f.mul(np.swapaxes(inv, 1, 2), d), (1, 2))

    def _t_Det(self, node: ex.Det) -> np.ndarray | None:
        t = self._dtrace_inv(node.operand)
        return None if t is None else self.field.mul(self.value(node), t)

    def _t_LogDet(self, node: ex.LogDet) -> np.ndarray | None:
        return self._dtrace_inv(node.operand)

    def _t_MatPow(self, node: ex.MatPow) -> np.ndarray | None:
        d = self.tangent(node.operand)
        if d is None or node.k == 0:
            return None
        f = self.field
        a = self.value(node.operand)
        n = a.shape[-1]
        power = np.broadcast_to(np.eye(n), (1, n, n)).copy()
        tan: np.ndarray | None = None
        for _ in range(node.k):
            # (A^j)' = (A^(j-1))' A + A^(j-1) dA
            new = f.matmul(power, d)
            tan = new if tan is None else f.add(f.matmul(tan, a), new)
            power = f.matmul(power, a)
        return tan


# --------------------------------------------------------------------------
# Bounds


def _degree_walk(problem: Problem, wrt: str, typing: Typing, claim: ex.Expr) -> tuple[int, int, int, int]:
    """(numerator degree of one entry of ⟨claim − ∂L/∂W, V⟩, its denominator degree,
    max degree of an atom argument, number of atom values)."""
    extra = {problem.upstream: typing.shape_of(problem.expression)}
    atoms = [0]
    arg_degree = [0]

    def shape(n: ex.Expr) -> tuple[int, int]:
        r, c = typing.shape_of(n, extra)
        return int(r), int(c)  # type: ignore[arg-type]

    memo: dict[ex.Expr, tuple[_Deg, _Deg | None]] = {}

    def walk(n: ex.Expr) -> tuple[_Deg, _Deg | None]:
        found = memo.get(n)
        if found is None:
            found = _walk(n)
            memo[n] = found
        return found

    def _walk(n: ex.Expr) -> tuple[_Deg, _Deg | None]:
        if isinstance(n, ex.Symbol):
            return _Deg(1), (_Deg(1) if n.name == wrt else None)
        if isinstance(n, (ex.Number, ex.ConstMatrix)):
            return _Deg(0), None
        r, c = shape(n)
        if isinstance(n, ex.MatMul):
            (a, da), (b, db) = walk(n.left), walk(n.right)
            k = shape(n.left)[1]
            return _dsum(_dmul(a, b), k), _dsum(_dadd(_dmul(da, b), _dmul(a, db)), k)  # type: ignore[return-value]
        if isinstance(n, (ex.Add, ex.Sub)):
            (a, da), (b, db) = walk(n.left), walk(n.right)
            return _dadd(a, b), _dadd(da, db)  # type: ignore[return-value]
        if isinstance(n, ex.Mul):
            (a, da), (b, db) = walk(n.left), walk(n.right)
            return _dmul(a, b), _dadd(_dmul(da, b), _dmul(a, db))  # type: ignore[return-value]
        if isinstance(n, ex.Div):
            (a, da), (b, db) = walk(n.left), walk(n.right)
            rb = _drecip(b, shape(n.right) == (1, 1))
            value = _dmul(a, rb)
            return value, _dadd(_dmul(da, rb), _dmul(_dmul(value, db), rb))  # type: ignore[return-value]
        if isinstance(n, (ex.Neg, ex.Transpose)):
            return walk(n.operand)
        if isinstance(n, ex.Power):
            a, da = walk(n.operand)
            k = n.exponent
            base = a if k >= 0 else _drecip(a, (r, c) == (1, 1))
            value = _Deg(base.n * abs(k), base.d * abs(k), base.common)
            factor = _Deg(base.n * abs(k - 1 if k > 0 else 1 - k), base.d * abs(k - 1 if k > 0 else 1 - k),
                          base.common)
            return value, _dmul(factor, da)
        if isinstance(n, ex.Apply):
            a, da = walk(n.operand)
            atoms[0] += 2 * r * c  # the atom and its derivative atom
            arg_degree[0] = max(arg_degree[0], a.n + a.d)
            fn = n.fn
            if fn in ("tanh", "sigmoid", "tan"):
                factor = _Deg(2)
            elif fn in ("log", "logabs"):
                factor = _drecip(a, (r, c) == (1, 1))
            elif fn == "sqrt":
                factor = _Deg(0, 1, (r, c) == (1, 1))
            else:
                factor = _Deg(1)
            return _Deg(1), _dmul(factor, da)
        if isinstance(n, ex.Trace):
            a, da = walk(n.operand)
            k = shape(n.operand)[0]
            return _dsum(a, k), _dsum(da, k)  # type: ignore[return-value]
        if isinstance(n, ex.Sum):
            a, da = walk(n.operand)
            rr, cc = shape(n.operand)
            k = rr * cc if n.axis is None else (rr if n.axis == 0 else cc)
            return _dsum(a, k), _dsum(da, k)  # type: ignore[return-value]
        if isinstance(n, (ex.Det, ex.LogDet, ex.Inv)):
            a, da = walk(n.operand)
            k = shape(n.operand)[0]
            ac = _dcommon(a, k * k)
            det = _Deg(k * ac.n, k * ac.d)
            inv = _Deg((k - 1) * ac.n + ac.d, k * ac.n)
            dac = None if da is None else _dcommon(da, k * k)
            dtrace = _dsum(_dmul(inv, dac), k * k)  # trace(inv(A) dA)
            if isinstance(n, ex.Det):
                return det, _dmul(det, dtrace)
            if isinstance(n, ex.LogDet):
                atoms[0] += 1
                arg_degree[0] = max(arg_degree[0], det.n + det.d)
                return _Deg(1), dtrace
            return inv, _dmul(_dmul(inv, dac), inv) if dac is not None else None
        if isinstance(n, ex.MatPow):
            a, da = walk(n.operand)
            k = shape(n.operand)[0]
            value: _Deg = _Deg(0)
            tan: _Deg | None = None
            for _ in range(n.k):
                new = _dsum(_dmul(value, da), k)
                tan = _dadd(_dsum(_dmul(tan, a), k), new) if tan is not None else new
                value = _dsum(_dmul(value, a), k)  # type: ignore[assignment]
            return value, tan
        raise AssertionError(type(n))  # pragma: no cover

    _, dd = walk(problem.expression)
    rows, cols = shape(problem.expression)
    grad = _Deg(0) if dd is None else (dd if (rows, cols) == (1, 1) else _dsum(_dmul(_Deg(1), dd), rows * cols))
    memo_claim = walk(claim)[0]
    claim_v = _dmul(memo_claim, _Deg(1))  # claim_ij · V_ij
    assert grad is not None and claim_v is not None
    num = max(claim_v.n + grad.d, grad.n + claim_v.d)
    return num, claim_v.d + grad.d, arg_degree[0], atoms[0]


def error_bound(num: int, den: int, arg_degree: int, atoms: int, p: int, lanes: int) -> float:
    """log2 of the probability that a wrong claim passes ``lanes`` independent points.

    ``(ε_lane)^lanes`` with ``ε_lane = (num + den + 1)/p`` (Schwartz–Zippel on one failing
    entry, plus the ``1/p`` of the random direction counted in ``num``), plus the
    chance that two distinct atom arguments collide in every lane, that a
    non-constant argument looks constant, and that the 128-bit key hash collides.

    >>> round(error_bound(3, 0, 0, 0, 5_000_000, 2), 1)
    -40.5
    """
    eps = min(1.0, (num + den + 1) / p)
    total = eps ** lanes
    if atoms:
        coll = min(1.0, max(arg_degree, 1) / p)
        total += atoms * atoms / 2 * coll ** lanes + atoms * coll ** (lanes - 1) + atoms * atoms * 2.0 ** -128
    return math.log2(total) if total > 0 else -1074.0


def _field_cost(problem: Problem, typing: Typing, claim: ex.Expr) -> tuple[int, int]:
    """(multiply-adds of one lane, the largest inner dimension of a product)."""
    extra = {problem.upstream: typing.shape_of(problem.expression)}
    inner = [1]
    seen: set[ex.Expr] = set()

    def shape(n: ex.Expr) -> tuple[int, int]:
        r, c = typing.shape_of(n, extra)
        return int(r), int(c)  # type: ignore[arg-type]

    def walk(n: ex.Expr) -> int:
        if n in seen:
            return 0
        seen.add(n)
        cost = sum(walk(c) for c in n.children())
        r, c = shape(n)
        if isinstance(n, ex.MatMul):
            k = shape(n.left)[1]
            inner[0] = max(inner[0], k)
            return cost + 3 * r * k * c
        if isinstance(n, (ex.Inv, ex.Det, ex.LogDet)):
            k = shape(n.operand)[0]
            inner[0] = max(inner[0], k)
            return cost + 6 * k ** 3
        if isinstance(n, ex.MatPow):
            k = shape(n.operand)[0]
            inner[0] = max(inner[0], k)
            return cost + 4 * n.k * k ** 3
        if isinstance(n, (ex.Apply, ex.Div)) or (isinstance(n, ex.Power) and n.exponent < 0):
            return cost + 60 * r * c
        return cost + 3 * r * c

    total = walk(problem.expression) + walk(claim)
    return total, inner[0]


# --------------------------------------------------------------------------
# The check


def _fmt_bits(bits: float) -> str:
    return f"2^{bits:.0f}" if bits > -1000 else "2^-1000"


def verify_random(problem: Problem, wrt: str, claim_text: str, claim_node: ex.Expr, *, budget: int | None = None,
                  deadline: Deadline | None = None, seed: int | None = None) -> Verdict:
    """Check ``∂L/∂wrt == claim`` at random points of a prime field (Schwartz–Zippel).

    A pass is labelled ``probabilistic`` with its error bound; a failure is a
    certain refutation, located at an entry when time allows.

    >>> from symderiv.verification import prepare, parse_claim
    >>> pr = prepare("W @ X", ["W"], {"W": (3, 2), "X": (2, 4)})
    >>> v = verify_random(pr, "W", "G @ X.T", parse_claim(pr, "G @ X.T"), seed=1)
    >>> v.holds, v.status, v.reason.startswith("probabilistic: holds with error probability ≤ 2^-")
    (True, 'probabilistic', True)
    >>> w = verify_random(pr, "W", "G @ X.T", parse_claim(pr, "2 * G @ X.T"), seed=1)
    >>> w.holds, w.status, w.counterexample is not None
    (False, 'refuted', True)
    """
    from .verification import ProofRecord, Verdict, concrete_typings

    deadline = deadline or Deadline(None)
    expression = problem.text
    typing = problem.typing
    want = typing.substitute({}).symbols[wrt]
    if problem.layout == "numerator":
        want = (want[1], want[0])
    try:
        claim_shape = typing.shape_of(claim_node, {problem.upstream: problem.result_shape}, text=claim_text)
    except ShapeError as err:
        return Verdict(False, "shape", f"shape: the claim is not well-shaped ({err.message}), "
                       f"while ∂L/∂{wrt} is {format_shape(want)}", expression, wrt, claim_text)
    if claim_shape != want:
        return Verdict(False, "shape", f"shape: the claim is {format_shape(claim_shape)} but ∂L/∂{wrt} is "
                       f"{format_shape(want)}" + (" (numerator layout)" if problem.layout == "numerator" else ""),
                       expression, wrt, claim_text)
    record = ProofRecord("random")
    worst = -1074.0
    base_seed = seed if seed is not None else int.from_bytes(os.urandom(8), "little")
    for index, concrete in enumerate(concrete_typings(typing)):
        outcome = _check_one(problem, wrt, claim_node, concrete, budget, deadline, base_seed + 7919 * index)
        record.shapes.append(dict(concrete.symbols))
        if outcome[0] == "refuted":
            _, detail, cx = outcome
            where = "{" + ", ".join(f"{n}: {format_shape(s)}" for n, s in concrete.symbols.items()) + "}"
            return Verdict(False, "refuted", f"{detail} on {where}", expression, wrt, claim_text, cx, record)
        worst = max(worst, outcome[1])
    shapes = " and ".join("{" + ", ".join(f"{k}: {format_shape(v)}" for k, v in s.items()) + "}"
                          for s in record.shapes)
    note = "" if worst <= -TARGET_BITS else f" (the target 2^-{TARGET_BITS} was not reached within {MAX_LANES} points)"
    reason = (f"probabilistic: holds with error probability ≤ {_fmt_bits(worst)}{note}, by a randomized "
              f"Schwartz–Zippel check over a prime field on {shapes} (seed {base_seed}); not a proof")
    if not typing.is_concrete:
        reason += "; the sizes checked are small concrete ones, not all shapes"
    return Verdict(True, "probabilistic", reason, expression, wrt, claim_text, None, record)


def _check_one(problem: Problem, wrt: str, claim: ex.Expr, typing: Typing, budget: int | None,
               deadline: Deadline, seed: int) -> tuple[Any, ...]:
    num, den, arg_degree, atoms = _degree_walk(problem, wrt, typing, claim)
    lane_cost, inner = _field_cost(problem, typing, claim)
    p, chunk = choose_prime(inner)
    lanes = 2
    while lanes < MAX_LANES and error_bound(num, den, arg_degree, atoms, p, lanes) > -TARGET_BITS:
        lanes += 1
    limit = DEFAULT_RANDOM_BUDGET if budget is None else budget
    if lanes * lane_cost > limit:
        raise BudgetError(
            f"the randomized check needs about {lanes * lane_cost:.3g} field operations ({lanes} random points), "
            f"over the budget of {limit:.3g}",
            hint="raise it with budget= (CLI --budget), or prove for all shapes by leaving the sizes symbolic")
    bits = error_bound(num, den, arg_degree, atoms, p, lanes)
    field = Field(p, chunk)
    for attempt in range(4):
        key = hashlib.blake2b(f"{seed}:{attempt}".encode(), digest_size=32).digest()
        run = _Run(problem, wrt, typing, field, lanes, key, deadline)
        try:
            return _evaluate(run, claim, seed, bits)
        except _Degenerate:
            continue
    raise SymderivError("the randomized check met a vanishing denominator at every random point tried",
                        hint="the expression is probably singular (a determinant or a divisor that is identically 0)")


def _pairing(run: _Run, claim_value: np.ndarray, direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(⟨claim, V⟩, ⟨G, dD[V]⟩) per lane, for the direction ``direction``."""
    f = run.field
    problem = run.problem
    run.direction = direction
    run.tangents = {}
    dd = run.tangent(problem.expression)
    rows, cols = run.shape(problem.expression)
    if dd is None:
        right = np.zeros((direction.shape[0], 1, 1))
    elif (rows, cols) == (1, 1):
        right = run.full(dd, (1, 1))
    else:
        g = run.values[ex.Symbol(problem.upstream)]
        right = f.total(f.mul(g, run.full(dd, (rows, cols))), (1, 2))
    c = claim_value if problem.layout == "denominator" else np.swapaxes(claim_value, 1, 2)
    left = f.total(f.mul(run.full(c, direction.shape[1:]), direction), (1, 2))
    return left.reshape(-1), right.reshape(-1)


def _evaluate(run: _Run, claim: ex.Expr, seed: int, bits: float) -> tuple[Any, ...]:
    problem = run.problem
    rows, cols = run.shape(problem.expression)
    if (rows, cols) != (1, 1):
        run.values[ex.Symbol(problem.upstream)] = run.random_matrix(rows, cols)
    wrt_shape = run.shape(ex.Symbol(run.wrt))
    direction = run.random_matrix(*wrt_shape)
    run.value(ex.Symbol(run.wrt))
    started = time.monotonic()
    claim_value = run.value(claim)
    left, right = _pairing(run, claim_value, direction)
    failing = np.nonzero(left != right)[0]
    if failing.size == 0:
        return ("holds", bits)
    lane = int(failing[0])
    elapsed = time.monotonic() - started
    return ("refuted", *_locate(run, claim_value, direction, lane, seed, elapsed))


def _locate(run: _Run, claim_value: np.ndarray, direction: np.ndarray, lane: int, seed: int, elapsed: float
            ) -> tuple[str, Any]:
    """Bisect the failing direction to one entry (S(V_A) + S(V_B) = S(V), so one half fails)."""
    from .prover import Counterexample

    f = run.field
    run.frozen = True
    # Restrict every memoised value to the failing lane; the bisection passes reuse them.
    run.values = {k: (v[lane:lane + 1] if v.shape[0] == run.lanes else v) for k, v in run.values.items()}
    run.fprime = {k: (v[lane:lane + 1] if v.shape[0] == run.lanes else v) for k, v in run.fprime.items()}
    claim_lane = claim_value[lane:lane + 1] if claim_value.shape[0] == run.lanes else claim_value
    vdir = direction[lane:lane + 1]
    rows, cols = vdir.shape[1:]
    candidates = np.arange(rows * cols)
    stop = time.monotonic() + max(2.0, elapsed)
    located = True
    while candidates.size > 1:
        if time.monotonic() > stop:
            located = False
            break
        half = candidates[: candidates.size // 2]
        mask = np.zeros(rows * cols)
        mask[half] = 1.0
        masked = vdir * mask.reshape(1, rows, cols)
        left, right = _pairing(run, claim_lane, masked)
        candidates = half if left[0] != right[0] else candidates[candidates.size // 2:]
    p = f.p
    where = f"a random point of F_p, p = {p} (seed {seed}, point {lane + 1})"
    if not located:
        first, last = divmod(int(candidates[0]), cols), divmod(int(candidates[-1]), cols)
        detail = (f"⟨claim, V⟩ ≠ ⟨G, dD[V]⟩ along a random direction V at {where}, so the claim is wrong; "
                  f"the search for the entry stopped for time with {candidates.size} candidate entries left, "
                  f"from [{first[0]},{first[1]}] to [{last[0]},{last[1]}] (method='exact' on smaller shapes "
                  "names the entry)")
        return detail, None
    i, j = divmod(int(candidates[0]), cols)
    unit = np.zeros((1, rows, cols))
    unit[0, i, j] = 1.0
    left, right = _pairing(run, claim_lane, unit)
    grad_value, claim_entry = int(right[0]), int(left[0])
    cx = Counterexample((i, j), f"{grad_value} (mod {p})", f"{claim_entry} (mod {p})", wrt=run.wrt)
    total = sum(int(np.prod(v.shape[1:])) for k, v in run.values.items() if isinstance(k, ex.Symbol))
    if total <= 200:
        cx.values = {k.name: [[str(int(x)) for x in row] for row in v[0]] for k, v in run.values.items()
                     if isinstance(k, ex.Symbol)}
        cx.gradient_value = f"{grad_value} (mod {p})"
        cx.claim_value = f"{claim_entry} (mod {p})"
    detail = (f"differs at entry [{i},{j}]: at {where} ∂L/∂{run.wrt}[{i},{j}] ≡ {grad_value} but the claim "
              f"gives {claim_entry} (mod {p}); a failure at one point is a certain refutation")
    return detail, cx


def probabilistic_label(bits: float) -> str:
    """The reason prefix of a passed randomized check.

    >>> probabilistic_label(-41.2)
    'probabilistic: holds with error probability ≤ 2^-41'
    """
    return f"probabilistic: holds with error probability ≤ {_fmt_bits(bits)}"


__all__ = ["verify_random", "choose_prime", "error_bound", "Field", "probabilistic_label", "DEFAULT_RANDOM_BUDGET"]
