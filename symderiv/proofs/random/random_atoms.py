"""The randomized test's walker: random symbol values, and elementwise functions as random atoms.

Elementwise functions do not exist modulo a prime. As in the exact prover they are
*atoms*: independent variables, one per distinct (function, argument). An atom's
value in lane ``l`` is a keyed BLAKE2b hash of its key, with a fresh secret key per
run, reduced mod ``p_l`` (192 bits per lane, so the bias is below ``2^-130``); the
hash is modelled as a random function. The key says which argument it is:

- a constant argument (no matrix symbol in it) is evaluated **exactly** in rationals
  (:class:`ConstArith`). Where the function has an exact rational value there
  (``relu(-3) = 0``, ``exp(0) = 1``: the ``fold`` of its registry row, as the exact
  prover folds it) that value is used; otherwise the key is the exact rational
  argument (its absolute value for an ``even`` function), so ``exp(8388593)`` and
  ``exp(0)`` can never share a value whatever the prime, and two such atoms agree
  only when their arguments are the same number;
- any other argument is keyed by its residues in all lanes together: two formally
  distinct arguments then share a value only if they coincide modulo every lane's
  prime, with the probability that :mod:`symderiv.proofs.random.random_bound` counts. A constant argument that is not rational (``exp(exp(2))``) is itself a
  random value, so it is keyed the same way;
- a constant argument too costly to evaluate exactly is keyed by its expression and
  entry: never equal to anything else (at worst a true claim is left undecided).
"""

from __future__ import annotations

import hashlib
from fractions import Fraction
from typing import Any

import numpy as np

from symderiv.backends.field import Degenerate, Field
from symderiv.core import expr as ex
from symderiv.ops import elementwise
from symderiv.proofs.random.random_bound import field_cost
from symderiv.proofs.random.random_eval import Walker
from symderiv.proofs.random.random_real import ExactArith, NotRational, OffDomain, RealWalker
from symderiv.syntax.constants import fold_function

#: Constant subexpressions costing more scalar operations than this are not evaluated exactly.
MAX_CONSTANT_COST = 200_000


class ConstArith(ExactArith):
    """Exact rationals for constant subexpressions: functions fold as in the exact prover, or are not rational."""

    def func1(self, fn: str, x: Fraction) -> Fraction:
        folded = fold_function(fn, x)
        if folded is None:
            raise NotRational(f"{fn}({x})")
        return folded


class FieldWalker(Walker):
    """One randomized evaluation over :class:`Field` (all lanes at once)."""

    def __init__(self, problem: Any, wrt: str, typing: Any, field: Field, seed: bytes, deadline: Any = None,
                 sample_bits: int = 60):
        super().__init__(problem, wrt, typing, field, deadline)
        self.field = field
        self.sample_bits = sample_bits
        self.rng = np.random.default_rng(int.from_bytes(hashlib.blake2b(seed, digest_size=16).digest(), "little"))
        self.keys = [hashlib.blake2b(seed + lane.to_bytes(4, "little"), digest_size=32).digest()
                     for lane in range(field.lanes)]
        self.frozen = False  # when True, no new randomness may be drawn (bisection passes)
        self.constants = RealWalker(problem, wrt, typing, ConstArith(), {})
        self._exact: dict[ex.Expr, np.ndarray | None | str] = {}
        self._atoms: dict[tuple[str, ex.Expr | None], np.ndarray] = {}

    def symbol_value(self, node: ex.Symbol) -> np.ndarray:
        if self.frozen:  # pragma: no cover - every symbol is bound in the first pass
            raise AssertionError("new randomness during bisection")
        m = self.draw(*self.shape(node))
        if node.name in self.typing.symmetric:
            m = np.triu(m) + np.swapaxes(np.triu(m, 1), 1, 2)
        return m

    def draw(self, rows: int, cols: int) -> np.ndarray:
        """Coordinates uniform on F_p, or on [0, 2^sample_bits) when that is smaller."""
        if self.sample_bits >= 60:
            return self.field.uniform(self.rng, rows, cols)
        raw = self.rng.bit_generator.random_raw(self.field.lanes * rows * cols)  # uniform 64-bit words
        return (raw >> np.uint64(64 - self.sample_bits)).reshape(self.field.lanes, rows, cols)

    # -- exact constants ---------------------------------------------------------
    def exact(self, node: ex.Expr) -> np.ndarray | None | str:
        """The exact rational value of a constant node; None if it has a matrix symbol or is not
        rational; "costly" if it is too expensive to evaluate exactly."""
        if node in self._exact:
            return self._exact[node]
        found: np.ndarray | None | str
        if any(isinstance(n, ex.Symbol) for n in node.walk()):
            found = None
        elif field_cost(self.problem, self.typing, node)[1] > MAX_CONSTANT_COST:
            found = "costly"
        else:
            try:
                found = self.constants.value(node)
            except NotRational:
                found = None
            except OffDomain:  # a singular constant matrix, a constant division by 0
                found = "costly"
        self._exact[node] = found
        return found

    # -- atoms -------------------------------------------------------------------
    def _values(self, fn: str, messages: list[bytes]) -> np.ndarray:
        """Keyed BLAKE2b of ``fn`` and each message: 192 bits per lane, reduced mod the lane's prime."""
        f = self.field
        out = np.empty((f.lanes, len(messages)), dtype=np.uint64)
        prefix = fn.encode() + b"\x00"
        for start in range(0, f.lanes, 2):  # one 48-byte digest serves two lanes
            parts = []
            for at in range(0, len(messages), 1 << 16):
                self.deadline()
                parts.append(b"".join([hashlib.blake2b(prefix + m, key=self.keys[start], digest_size=48).digest()
                                       for m in messages[at:at + (1 << 16)]]))
            digest = b"".join(parts)
            words = np.frombuffer(digest, dtype="<u8").reshape(len(messages), 6)
            for j, lane in enumerate(range(start, min(start + 2, f.lanes))):
                p = np.array([f.primes[lane]], dtype=np.uint64)
                shift = np.array([pow(2, 64, int(p[0]))], dtype=np.uint64)
                t = words[:, 3 * j] % p
                for k in (1, 2):
                    t = f._mulmod(t, shift, p) + words[:, 3 * j + k] % p
                    t = t - (t >= p) * p
                out[lane] = t
        return out

    def atom(self, fn: str, u: np.ndarray, operand: ex.Expr | None = None) -> np.ndarray:
        """The values of ``fn`` at ``u`` (the value of ``operand``) in every lane.

        The key of a non-constant argument is its residues in *all* lanes, so two
        formally distinct arguments share a value only if they coincide in every lane.
        """
        memo = (fn, operand)
        if operand is not None and memo in self._atoms:
            return self._atoms[memo]
        if self.frozen:  # pragma: no cover - every atom is evaluated in the first pass
            raise AssertionError("new atom during bisection")
        found = self._atom(fn, u, operand)
        if operand is not None:
            self._atoms[memo] = found
        return found

    def _atom(self, fn: str, u: np.ndarray, operand: ex.Expr | None) -> np.ndarray:
        f = self.field
        shape = u.shape[1:]
        exact = None if operand is None else self.exact(operand)
        if isinstance(exact, np.ndarray):
            out = np.empty((f.lanes, *shape), dtype=np.uint64)
            for idx, c in np.ndenumerate(exact[0]):
                at = (slice(None), *idx)
                folded = fold_function(fn, c)
                if folded is not None:
                    out[at] = f.const(folded)[:, 0, 0]
                else:
                    num = abs(c.numerator) if elementwise(fn).even else c.numerator
                    key = b"Q" + repr((num, c.denominator)).encode()
                    out[at] = self._values(fn, [key])[:, 0]
            return out
        if exact == "costly":
            assert operand is not None
            tag = hashlib.blake2b(repr(operand).encode(), digest_size=32).digest()
            keys = [b"S" + tag + repr(idx).encode() for idx in np.ndindex(*shape)]
            return self._values(fn, keys).reshape(f.lanes, *shape)
        rows = np.ascontiguousarray(np.broadcast_to(u, (f.lanes, *shape)).reshape(f.lanes, -1).T)
        raw, step = rows.astype("<u8").tobytes(), 8 * f.lanes
        keys = [b"R" + raw[i:i + step] for i in range(0, len(raw), step)]
        return self._values(fn, keys).reshape(f.lanes, *shape)

    def apply_value(self, node: ex.Apply, u: np.ndarray) -> np.ndarray:
        if elementwise(node.fn).domain == "nonzero" and np.any(u == 0):
            # log |det A| of a matrix singular at this point (or modulo this prime) is undefined: draw again, so
            # that an argument that is 0 everywhere is an error, not a verdict.
            raise Degenerate(f"{node.fn} at 0 at the random point")
        return self.atom(node.fn, u, node.operand)

    def derived(self, fn: str, u: np.ndarray, operand: ex.Expr) -> np.ndarray:
        return self.atom(fn, u, operand)


__all__ = ["FieldWalker", "ConstArith", "MAX_CONSTANT_COST"]
