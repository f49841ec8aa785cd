"""An independent high-precision oracle: expressions evaluated with mpmath, and finite differences at any precision.

The soundness suite confirms every refutation by re-evaluating its witness with an oracle that is not the
prover. NumPy in float64 cannot always do it: at ``softmax((-A) ** 5, axis=1)`` with ``A = [[2, -3/2], ...]``
one entry of the softmax is ``1 - 6e-18``, so ``1 - S`` is 0 in float64, the backward formula cancels to
``-0.0``, and the finite differences of ``L ≈ 1`` (resolution ``eps·|L| / h ≈ 1e-11``) cannot see a true
gradient of ``-8.07e-17``. Nothing is wrong but the arithmetic; at 50 digits both sides are plain.

This module is that oracle at any precision. Its values are written here from the definitions, not taken
from symderiv: the elementwise functions (``sigmoid = 1 / (1 + exp(-z))``, ...), ``inv``/``det`` (mpmath's
LU), and the registry's matrix operations (``softmax`` is ``exp(A) / sum(exp(A), axis)`` along its axis,
``norm`` the Frobenius norm, ...). Only an operation it does not know falls back to the registry's
expansion over the primitives. It shares the tree walk (:class:`symderiv.backends.walk.Interpreter`) and the
parser with symderiv, nothing of the prover.

>>> from symderiv.syntax.language import parse
>>> from fractions import Fraction
>>> node = parse("softmax(A, axis=1)")
>>> value = evaluate(node, {"A": [[Fraction(0), Fraction(0)]]}, dps=30)
>>> [str(x) for x in value[0]]
['0.5', '0.5']
>>> d, err = fd_entry(parse("sum(A ** 3)"), {"A": [[Fraction(2)]]}, {}, "A", None, (0, 0), dps=40)
>>> abs(d - 12) < 1e-20 and err < 1e-20
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np

from symderiv.backends.walk import Interpreter
from symderiv.core import expr as ex
from symderiv.ops import elementwise

Array = np.ndarray


class OutOfDomain(ArithmeticError):
    """A value outside a function's domain (log of a non-positive number, a singular inverse)."""


def mpf(x: Any) -> Any:
    """An exact number (Fraction, int), a float, or a decimal string as an mpmath number at the current precision."""
    if isinstance(x, (Fraction, int)):
        x = Fraction(x)
        return mpmath.mpf(x.numerator) / x.denominator
    return mpmath.mpf(x)


def _positive(fn: Callable[[Any], Any], name: str) -> Callable[[Any], Any]:
    def guarded(z: Any) -> Any:
        if z <= 0:
            raise OutOfDomain(f"{name} of {z}")
        return fn(z)
    return guarded


def _step(z: Any) -> Any:
    return mpmath.mpf(1) if z > 0 else mpmath.mpf(0) if z < 0 else mpmath.mpf(1) / 2


#: The elementwise functions, from their definitions (step(0) = 1/2, as NumPy's heaviside(z, 0.5)).
FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "exp": mpmath.exp, "log": _positive(mpmath.log, "log"), "sqrt": _positive(mpmath.sqrt, "sqrt"),
    "abs": abs, "sin": mpmath.sin, "cos": mpmath.cos, "tan": mpmath.tan, "tanh": mpmath.tanh,
    "sigmoid": lambda z: 1 / (1 + mpmath.exp(-z)), "softplus": lambda z: mpmath.log(1 + mpmath.exp(z)),
    "relu": lambda z: z if z > 0 else mpmath.mpf(0), "step": _step, "sign": mpmath.sign,
    "logabs": lambda z: mpmath.log(abs(z)) if z != 0 else _positive(mpmath.log, "logabs")(z),
}


def _generic(name: str) -> Callable[[Any], Any]:
    # The fixed stand-in of a generic function (docs: phi(z) = sin z + z/3, phi'(z) = cos z + 1/3).
    if name.endswith("_prime"):
        return lambda z: mpmath.cos(z) + mpmath.mpf(1) / 3
    return lambda z: mpmath.sin(z) + z / 3


def _map(fn: Callable[[Any], Any], a: Array) -> Array:
    return np.frompyfunc(fn, 1, 1)(a).astype(object)


def _reduce(a: Array, axis: Any, fn: Callable[[Array, Any], Array]) -> Array:
    out = fn(a, axis)
    return np.array([[out]], dtype=object) if axis is None else out


def _sum(a: Array, axis: Any) -> Array:
    return _reduce(a, axis, lambda x, k: x.sum() if k is None else x.sum(axis=k, keepdims=True))


def _max(a: Array, axis: Any) -> Array:
    return _reduce(a, axis, lambda x, k: max(x.flat) if k is None else np.max(x, axis=k, keepdims=True))


def _logsumexp(a: Array, axis: Any) -> Array:
    top = _max(a, axis)
    return _map(mpmath.log, _sum(_map(mpmath.exp, a - top), axis)) + top


def _softmax(a: Array, axis: Any) -> Array:
    e = _map(mpmath.exp, a - _max(a, axis))
    return e / _sum(e, axis)


def _matrix(a: Array) -> Any:
    return mpmath.matrix(a.tolist())


def _det(a: Array) -> Any:
    return mpmath.det(_matrix(a))


def _matpow(a: Array, k: int) -> Array:
    out = np.array(mpmath.eye(a.shape[0]).tolist(), dtype=object)
    for _ in range(k):
        out = out @ a
    return out


def _power(a: Array, p: Fraction) -> Array:
    p = Fraction(p)
    if p.denominator == 1:
        return _map(lambda z: z ** int(p), a)
    return _map(_positive(lambda z: z ** mpf(p), "a non-integer power"), a)


def _diag(a: Array) -> Array:
    return np.array([[a[i, i]] for i in range(a.shape[0])], dtype=object)


def _diagflat(x: Array) -> Array:
    flat = list(x.flat)
    out = np.array([[mpmath.mpf(0)] * len(flat) for _ in flat], dtype=object)
    for i, v in enumerate(flat):
        out[i, i] = v
    return out


def _logdet(a: Array) -> Array:
    d = _det(a)
    if d == 0:
        raise OutOfDomain("logdet of a singular matrix")
    return np.array([[mpmath.log(abs(d))]], dtype=object)


def _norm(a: Array) -> Array:
    return np.array([[mpmath.sqrt(sum(z * z for z in a.flat))]], dtype=object)


def _mean(a: Array, axis: Any) -> Array:
    count = a.size if axis is None else a.shape[axis]
    return _sum(a, axis) / count


#: The registry's matrix operations, from their definitions: (arguments, parameters) -> value.
OPERATIONS: dict[str, Callable[[list[Array], dict[str, Any]], Array]] = {
    "logdet": lambda args, p: _logdet(args[0]),
    "matpow": lambda args, p: _matpow(args[0], int(p["k"])),
    "pow": lambda args, p: _power(args[0], p["p"]),
    "logsumexp": lambda args, p: _logsumexp(args[0], p.get("axis")),
    "mean": lambda args, p: _mean(args[0], p.get("axis")),
    "norm": lambda args, p: _norm(args[0]),
    "softmax": lambda args, p: _softmax(args[0], p["axis"]),
    "log_softmax": lambda args, p: args[0] - _logsumexp(args[0], p["axis"]),
    "diag": lambda args, p: _diag(args[0]),
    "diagflat": lambda args, p: _diagflat(args[0]),
}


class MpBackend(Interpreter[Array]):
    """Values as 2-D object arrays of mpmath numbers (at the precision in force while evaluating)."""

    def __init__(self, env: Mapping[str, Any], sizes: Mapping[str, int] | None = None) -> None:
        super().__init__()
        self.env = env
        self.sizes = dict(sizes or {})

    def dim(self, d: Any) -> int:
        return d if isinstance(d, int) else self.sizes[d]

    def shape(self, node: ex.Expr) -> ex.Shape:
        rows, cols = self.evaluate(node).shape
        return int(rows), int(cols)

    def call(self, node: ex.Call, args: list[Array]) -> Array:
        known = OPERATIONS.get(node.op)
        if known is None:  # an operation added later: its registry expansion over the primitives
            return super().call(node, args)
        return known(args, dict(node.params))

    def symbol(self, node: ex.Symbol) -> Array:
        value = self.env[node.name]
        return np.array([[mpf(x) for x in row] for row in np.asarray(value, dtype=object).reshape(
            np.shape(value))], dtype=object)

    def number(self, node: ex.Number) -> Array:
        return np.array([[mpf(node.value)]], dtype=object)

    def constant(self, node: ex.ConstMatrix) -> Array:
        r, c = self.dim(node.rows), self.dim(node.cols)
        eye = node.kind == "eye"
        return np.array([[mpmath.mpf(int(eye and i == j) if node.kind != "ones" else 1) for j in range(c)]
                         for i in range(r)], dtype=object)

    def apply(self, node: ex.Apply, row: Any, a: Array) -> Array:
        fn = FUNCTIONS.get(node.fn)
        if fn is None:
            fn = _generic(node.fn) if elementwise(node.fn).generic else lambda z: row.mpmath(mpmath, z)
        return _map(fn, a)

    def matmul(self, node: ex.MatMul, a: Array, b: Array) -> Array:
        return a @ b

    def add(self, node: ex.Add, a: Array, b: Array) -> Array:
        return a + b

    def sub(self, node: ex.Sub, a: Array, b: Array) -> Array:
        return a - b

    def mul(self, node: ex.Mul, a: Array, b: Array) -> Array:
        return a * b

    def div(self, node: ex.Div, a: Array, b: Array) -> Array:
        if any(z == 0 for z in b.flat):
            raise OutOfDomain("division by zero")
        return a / b

    def neg(self, node: ex.Neg, a: Array) -> Array:
        return -a

    def transpose(self, node: ex.Transpose, a: Array) -> Array:
        return a.T

    def power(self, node: ex.Power, a: Array) -> Array:
        return _power(a, node.exponent)

    def trace(self, node: ex.Trace, a: Array) -> Array:
        return np.array([[sum(a[i, i] for i in range(a.shape[0]))]], dtype=object)

    def det(self, node: ex.Det, a: Array) -> Array:
        return np.array([[_det(a)]], dtype=object)

    def inv(self, node: ex.Inv, a: Array) -> Array:
        if _det(a) == 0:
            raise OutOfDomain("inverse of a singular matrix")
        return np.array(mpmath.inverse(_matrix(a)).tolist(), dtype=object)

    def sum(self, node: ex.Sum, a: Array) -> Array:
        return _sum(a, node.axis)


def evaluate(node: ex.Expr, env: Mapping[str, Any], sizes: Mapping[str, int] | None = None, *,
             dps: int = 50) -> Array:
    """``node`` at ``env`` (names to 2-D nested lists or arrays of exact numbers or decimal strings), computed
    with ``dps`` decimal digits."""
    with mpmath.workdps(dps):
        return MpBackend(env, sizes).evaluate(node)


def loss(node: ex.Expr, env: Mapping[str, Any], sizes: Mapping[str, int] | None, upstream: Any, *,
         dps: int) -> Any:
    """``L = Σ upstream ∘ E`` (``L = E`` when ``upstream`` is None, for a ``1×1`` ``E``)."""
    with mpmath.workdps(dps):
        value = MpBackend(env, sizes).evaluate(node)
        if upstream is None:
            return value[0, 0]
        g = MpBackend({"G": upstream}).evaluate(ex.Symbol("G"))
        return (np.broadcast_to(g, value.shape) * value).sum()


def fd_entry(node: ex.Expr, env: Mapping[str, Any], sizes: Mapping[str, int] | None, wrt: str, upstream: Any,
             entry: tuple[int, int], *, dps: int) -> tuple[Any, Any]:
    """Central finite differences of ``L`` in one entry of ``wrt``, at ``dps`` digits, and an error bound.

    The steps are ``h = 10**(-dps/3)`` and ``h/2``: the truncation error (``∝ h²``) and the rounding error
    (``≈ 10**-dps·|L| / h``) are both near ``10**(-2·dps/3)`` relative to the size of ``L`` and its derivatives.
    The bound is ten times the distance of the two differences plus the rounding estimate.
    """
    with mpmath.workdps(dps + 10):
        base = np.array([[mpf(x) for x in row] for row in np.asarray(env[wrt], dtype=object)], dtype=object)
        h = mpmath.mpf(10) ** (-(dps // 3))

        def difference(step: Any) -> Any:
            plus, minus = base.copy(), base.copy()
            plus[entry] += step
            minus[entry] -= step
            up = loss(node, {**env, wrt: plus}, sizes, upstream, dps=dps)
            down = loss(node, {**env, wrt: minus}, sizes, upstream, dps=dps)
            return (up - down) / (2 * step), abs(up) + abs(down)

        coarse, _ = difference(h)
        fine, size = difference(h / 2)
        rounding = mpmath.mpf(10) ** (-dps) * size / h
        return fine, 10 * abs(fine - coarse) + 10 * rounding


#: The precisions tried in turn (decimal digits) until a difference is resolved or shown to be rounding.
LADDER = (30, 60, 120, 240, 480)


class Unresolved(ArithmeticError):
    """Even at the top of :data:`LADDER`, the numbers do not tell whether two values differ."""


def witness_number(text: str) -> Fraction | str:
    """A number of a witness: exact (``"-3/2"``), or a rounded display (``"≈ -0.0549"``) kept as its digits."""
    text = text.strip().removeprefix("≈").strip()
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        return text


def value_at(node: ex.Expr, env: Mapping[str, Any], sizes: Mapping[str, int] | None, shape: tuple[int, int], *,
             dps: int) -> Array:
    """``node`` at ``dps`` digits, broadcast to ``shape`` (a claim may be a ``1×1`` multiple)."""
    return np.broadcast_to(evaluate(node, env, sizes, dps=dps), shape)


def with_error(node: ex.Expr, env: Mapping[str, Any], sizes: Mapping[str, int] | None, shape: tuple[int, int], *,
               dps: int) -> tuple[Array, Array]:
    """``node``'s entries at ``2·dps`` digits and a bound on their error: ``|v(dps) − v(2·dps)|``, the error of
    the ``dps``-digit values, bounds that of the ``2·dps``-digit ones (a computation loses the same digits to
    cancellation at any precision, so doubling the digits shrinks the error by ``10**-dps``)."""
    low = value_at(node, env, sizes, shape, dps=dps)
    high = value_at(node, env, sizes, shape, dps=2 * dps)
    with mpmath.workdps(2 * dps):
        return high, np.frompyfunc(lambda a, b: abs(a - b), 2, 1)(low, high)


def differ(a: ex.Expr, b: ex.Expr, env: Mapping[str, Any], sizes: Mapping[str, int] | None,
           shape: tuple[int, int]) -> bool:
    """Whether two formulas differ at a point, decided by raising the precision until their difference is
    well above the rounding error (they differ) or vanishes with it (they agree); :class:`Unresolved` if
    neither happens by the top of :data:`LADDER`."""
    for dps in LADDER:
        va, ea = with_error(a, env, sizes, shape, dps=dps)
        vb, eb = with_error(b, env, sizes, shape, dps=dps)
        with mpmath.workdps(2 * dps):
            gaps = [(abs(x - y), ex_ + ey) for x, y, ex_, ey in zip(va.flat, vb.flat, ea.flat, eb.flat, strict=True)]
            if any(gap > 10 * err for gap, err in gaps):
                return True
            if all(gap <= err * mpmath.mpf(10) ** (-(dps // 2)) for gap, err in gaps):
                return False
    raise Unresolved(f"no decision at {LADDER[-1]} digits")


__all__ = ["FUNCTIONS", "LADDER", "OPERATIONS", "MpBackend", "OutOfDomain", "Unresolved", "differ", "evaluate",
           "fd_entry", "loss", "mpf", "value_at", "with_error", "witness_number"]
