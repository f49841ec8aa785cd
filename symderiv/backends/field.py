"""Exact arithmetic modulo random 61-bit primes, one prime per lane (for ``method="random"``).

Every array has shape ``(lanes, rows, cols)`` and dtype ``uint64``; lane ``l`` holds
residues in ``[0, p_l)`` for its own prime ``p_l``. An array with one lane (a constant)
broadcasts over all lanes. The primes are drawn uniformly at random from the primes in
``[2^60, 2^62)`` on every run (:func:`random_prime`), so no fixed modulus can be targeted.

Products of residues need 124 bits. Elementwise products use the quotient trick
with x87 ``long double`` (64-bit mantissa): ``q ≈ a·b/p`` is within 1 of the true
quotient, and ``a·b − q·p`` is then exact in wrapping 64-bit arithmetic. Where
``long double`` is narrower, Python integers do the work. Matrix products split both
factors into three 21-bit limbs and run float64 BLAS on the limbs: a limb product is
below ``2^42``, so blocks of 2048 along the inner dimension sum exactly below ``2^53``.
Inverses and determinants use python-flint's ``nmod_mat`` (LU, any word-size modulus).

>>> f = Field([2**61 - 1])
>>> a = f.const(3) ; b = f.const(-1)
>>> int(f.mul(a, b)[0, 0, 0]) == 2**61 - 4, int(f.add(a, b)[0, 0, 0])
(True, 2)
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

#: The primes are drawn from [PRIME_LOW, PRIME_HIGH).
PRIME_LOW = 2**60
PRIME_HIGH = 2**62
#: A lower bound on the number of primes in [2^60, 2^62): π(x) > x/ln x (x ≥ 17) and
#: π(x) < 1.25506·x/ln x (Rosser–Schoenfeld) give π(2^62) − π(2^60) > 0.0629·2^60 > 2^56.
PRIME_COUNT_LOG2 = 56

_LIMB = 21
_LIMB_MASK = np.uint64((1 << _LIMB) - 1)
#: Blocks along the inner dimension: 2048·(2^21 − 1)^2 < 2^53, so float64 sums are exact.
BLOCK = 2048
_WITNESSES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)


class Degenerate(ArithmeticError):
    """A divisor or a pivot vanished at the random point (or modulo the prime): draw again."""


def is_prime(n: int) -> bool:
    """Miller–Rabin with the first twelve primes as bases: deterministic below 3.3·10^24.

    >>> is_prime(2**61 - 1), is_prime(2**61 + 1), is_prime(2)
    (True, False, True)
    """
    if n < 2:
        return False
    for q in _WITNESSES:
        if n % q == 0:
            return n == q
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in _WITNESSES:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def random_prime(rng: random.Random) -> int:
    """A prime drawn uniformly from the primes in ``[2^60, 2^62)`` (rejection sampling).

    >>> p = random_prime(random.Random(1))
    >>> 2**60 <= p < 2**62 and is_prime(p)
    True
    """
    while True:
        n = rng.randrange(PRIME_LOW, PRIME_HIGH) | 1  # below PRIME_HIGH still: it is even
        if is_prime(n):
            return n


def _long_double_ok() -> bool:
    if np.finfo(np.longdouble).nmant < 63:  # pragma: no cover - x86-64 Linux has 63
        return False
    rng = random.Random(0)  # pragma: no mutate - the self-check's operands: any seed draws 62-bit ones as well
    # A prime at the top of the range the engine draws from, [2^60, 2^62): any one near it serves as well.
    p = (1 << 62) - 57  # pragma: no mutate - tuning (above)
    xs = [p - 1, p - 2, 1, 0, p // 2, p // 3] + [rng.randrange(p) for _ in range(200)]
    a, b = np.array(xs, dtype=np.uint64), np.array(xs[::-1], dtype=np.uint64)
    got = _mulmod_ld(a, b, np.full((1, 1, 1), p, dtype=np.uint64))  # broadcast as a field's lanes
    return [int(v) for v in got.ravel()] == [x * y % p for x, y in zip(xs, xs[::-1], strict=True)]


def _mulmod_ld(a: np.ndarray, b: np.ndarray, primes: np.ndarray) -> np.ndarray:
    inv = np.longdouble(1) / primes.astype(np.longdouble)
    q = (a.astype(np.longdouble) * b.astype(np.longdouble) * inv).astype(np.uint64)
    # q is within 1 of floor(ab/p): ab/p < p < 2^62 and three roundings of 2^-64 each, so r is in (-p, 2p).
    r = (a * b - q * primes).view(np.int64)  # wrapping arithmetic: exact, since |r| < 2p < 2^63
    sp = primes.view(np.int64)
    r = r + (r < 0) * sp  # [0, 2p)   (two comparisons: about 3 times faster than NumPy's %)
    r = r - (r >= sp) * sp  # [0, p)
    return r.view(np.uint64)


def _mulmod_int(a: np.ndarray, b: np.ndarray, primes: np.ndarray) -> np.ndarray:
    out = (a.astype(object) * b.astype(object)) % primes.astype(object)
    return np.asarray(out, dtype=np.uint64)


#: The elementwise product in use (long double when exact on this platform, else Python ints).
LONG_DOUBLE = _long_double_ok()


class Field:
    """Arithmetic modulo ``primes[l]`` in lane ``l``.

    >>> f = Field([101, 103])
    >>> x = f.const(Fraction(1, 2))
    >>> [int(v) for v in f.mul(x, f.const(2)).ravel()]
    [1, 1]
    """

    def __init__(self, primes: Sequence[int]):
        self.primes = [int(p) for p in primes]
        if max(self.primes) >= PRIME_HIGH:  # the long-double product needs |r| < 2p < 2^63
            raise ValueError(f"Field needs moduli below 2^62, not {max(self.primes)}")
        self.lanes = len(self.primes)
        self.P = np.array(self.primes, dtype=np.uint64).reshape(self.lanes, 1, 1)
        self._mulmod = _mulmod_ld if LONG_DOUBLE else _mulmod_int
        self._limb_pows = [np.array([pow(2, _LIMB * s, p) for p in self.primes], dtype=np.uint64).reshape(self.lanes, 1, 1)
                           for s in range(5)]

    # -- constructors ------------------------------------------------------
    def const(self, c: Fraction | int) -> np.ndarray:
        """The residues of a rational constant in every lane (Degenerate if a prime divides its denominator)."""
        c = Fraction(c)
        out = []
        for p in self.primes:
            den = c.denominator % p
            if den == 0:
                raise Degenerate(f"the prime divides the denominator of {c}")
            out.append(c.numerator % p * pow(den, -1, p) % p)
        return np.array(out, dtype=np.uint64).reshape(self.lanes, 1, 1)

    @staticmethod
    def ones(rows: int, cols: int) -> np.ndarray:
        return np.ones((1, rows, cols), dtype=np.uint64)

    @staticmethod
    def zeros(rows: int, cols: int) -> np.ndarray:
        return np.zeros((1, rows, cols), dtype=np.uint64)

    @staticmethod
    def eye(n: int) -> np.ndarray:
        return np.eye(n, dtype=np.uint64)[None, :, :]

    def uniform(self, rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
        return rng.integers(0, self.P, size=(self.lanes, rows, cols), dtype=np.uint64)

    # -- elementwise -------------------------------------------------------
    def add(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        s = a + b  # both below 2^62: no wrap
        return s - (s >= self.P) * self.P

    def neg(self, a: np.ndarray) -> np.ndarray:
        return (self.P - a) * (a != 0)

    def sub(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self.add(a, self.neg(b))

    def mul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self._mulmod(a, b, self.P)

    def scale(self, a: np.ndarray, c: int | Fraction) -> np.ndarray:
        return self.mul(a, self.const(c))

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
        """Elementwise inverse (Degenerate on a zero)."""
        if np.any(a == 0):
            raise Degenerate("division by zero at the random point")
        a = np.broadcast_to(a, (self.lanes, *a.shape[1:]))
        out = np.empty(a.shape, dtype=np.uint64)
        for lane, p in enumerate(self.primes):
            out[lane] = np.array([pow(x, -1, p) for x in a[lane].ravel().tolist()],
                                 dtype=np.uint64).reshape(a.shape[1:])
        return out

    def total(self, a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        """Sums over ``axes`` (kept), exact: the high and low 31-bit halves are summed apart."""
        hi = np.sum(a >> np.uint64(31), axis=axes, keepdims=True, dtype=np.uint64)
        lo = np.sum(a & np.uint64(0x7FFFFFFF), axis=axes, keepdims=True, dtype=np.uint64)
        hi = hi % self.P
        lo = lo % self.P
        return self.add(self.mul(hi, self.const(2**31)), lo)

    # -- matrices ----------------------------------------------------------
    @staticmethod
    def _limbs(a: np.ndarray) -> list[np.ndarray]:
        top = int(a.max()) if a.size else 0
        count = max(1, -(-top.bit_length() // _LIMB))
        if count == 1:
            return [a.astype(np.float64)]
        return [((a >> np.uint64(_LIMB * k)) & _LIMB_MASK).astype(np.float64) for k in range(count)]

    def matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``a @ b`` per lane, exact (float64 BLAS on 21-bit limbs, blocks of 2048)."""
        inner = a.shape[-1]
        out: np.ndarray | None = None
        for start in range(0, inner, BLOCK):
            part = self._matmul_block(a[..., start:start + BLOCK], b[..., start:start + BLOCK, :])
            out = part if out is None else self.add(out, part)
        assert out is not None
        return out

    def _matmul_block(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        al, bl = self._limbs(a), self._limbs(b)
        groups: dict[int, np.ndarray] = {}
        for i, x in enumerate(al):
            for j, y in enumerate(bl):
                m = np.matmul(x, y).astype(np.uint64)  # exact integer below 2^53
                groups[i + j] = m if i + j not in groups else groups[i + j] + m
        out: np.ndarray | None = None
        for s, g in groups.items():
            g = g % self.P  # g < 3·2^53: already reduced for the primes drawn, not for small test moduli
            term = g if s == 0 else self.mul(g, self._limb_pows[s])
            out = term if out is None else self.add(out, term)
        assert out is not None
        return out

    def inverse_det(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The inverse and the determinant of every lane's square matrix (python-flint ``nmod_mat``)."""
        import flint

        a = np.broadcast_to(a, (self.lanes, *a.shape[1:]))
        n = a.shape[-1]
        invs = np.empty(a.shape, dtype=np.uint64)
        dets = np.empty((self.lanes, 1, 1), dtype=np.uint64)
        for lane, p in enumerate(self.primes):
            m = flint.nmod_mat(n, n, a[lane].ravel().tolist(), p)
            det = int(m.det())
            if det == 0:
                raise Degenerate("a singular matrix at the random point")
            dets[lane, 0, 0] = det
            invs[lane] = np.array([int(x) for x in m.inv().entries()], dtype=np.uint64).reshape(n, n)
        return invs, dets


__all__ = ["Field", "Degenerate", "random_prime", "is_prime", "PRIME_LOW", "PRIME_HIGH", "PRIME_COUNT_LOG2",
           "LONG_DOUBLE"]
