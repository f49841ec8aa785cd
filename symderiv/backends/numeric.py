"""NumPy evaluation of expressions: the second, independent oracle (finite differences).

A backend of :class:`~symderiv.backends.walk.Interpreter`: elementwise functions take their NumPy value
from their registry row, and a registered matrix operation its ``numpy`` override or else its expansion.
Generic functions (``phi`` and friends) get the registry's fixed smooth stand-in,
``phi(z) = sin(z) + z/3``, whose derivative ``phi_prime(z) = cos(z) + 1/3`` is
consistent with it, so finite differences can check formulas that use them.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import numpy as np

from symderiv.backends.walk import Interpreter
from symderiv.core import expr as ex
from symderiv.ops import Elementwise, matrix_op


def to_float(value: Fraction) -> float:
    """The nearest float to an exact number, for numeric evaluation only (±inf past the float range).

    >>> to_float(Fraction(1, 10**400)), to_float(Fraction(-(10**400))), to_float(Fraction(1, 3))
    (0.0, -inf, 0.3333333333333333)
    """
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


class NumpyBackend(Interpreter[np.ndarray]):
    """Values as 2-D float arrays; ``env`` maps symbol names to arrays, ``sizes`` names dimensions.

    >>> from symderiv.syntax.language import parse
    >>> NumpyBackend({"X": np.eye(2)}).evaluate(parse("inv(2 * X) @ X"))
    array([[0.5, 0. ],
           [0. , 0.5]])
    """

    def __init__(self, env: Mapping[str, Any], sizes: Mapping[str, int] | None = None) -> None:
        super().__init__()
        self.env = env
        self.sizes = dict(sizes or {})
        self.seen: dict[int, tuple[ex.Expr, np.ndarray]] = {}

    def evaluate(self, node: ex.Expr) -> np.ndarray:
        """The walk of :class:`Interpreter`, memoised by node identity: finite differences evaluate one tree
        many times, and hashing its nodes would cost more than the arithmetic on small matrices."""
        found = self.seen.get(id(node))
        if found is not None:
            return found[1]
        value = self.visit(node, [self.evaluate(c) for c in node.children()])
        self.seen[id(node)] = (node, value)  # the node is kept, so its id stays its own
        return value

    def dim(self, d: ex.Dim) -> int:
        if isinstance(d, int):
            return d
        if d not in self.sizes:
            raise KeyError(f"no size for dimension {d!r}")
        return self.sizes[d]

    def shape(self, node: ex.Expr) -> ex.Shape:
        rows, cols = self.evaluate(node).shape
        return int(rows), int(cols)

    def call(self, node: ex.Call, args: list[np.ndarray]) -> np.ndarray:
        op = matrix_op(node.op)
        if op.numpy is not None:
            return op.numpy(np, args, dict(node.params))  # type: ignore[no-any-return]
        return super().call(node, args)

    def symbol(self, node: ex.Symbol) -> np.ndarray:
        value = self.env[node.name]
        return np.asarray(value, dtype=float).reshape(np.shape(value))

    def number(self, node: ex.Number) -> np.ndarray:
        return np.array([[to_float(node.value)]])

    def constant(self, node: ex.ConstMatrix) -> np.ndarray:
        r, c = self.dim(node.rows), self.dim(node.cols)
        if node.kind == "eye":
            return np.eye(r)
        return np.ones((r, c)) if node.kind == "ones" else np.zeros((r, c))

    def apply(self, node: ex.Apply, row: Elementwise, a: np.ndarray) -> np.ndarray:
        if row.numpy is None:  # pragma: no cover - every row has a NumPy value
            raise TypeError(f"cannot evaluate {row.name} with NumPy")
        return row.numpy(np, a)  # type: ignore[no-any-return]

    def matmul(self, node: ex.MatMul, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a @ b

    def add(self, node: ex.Add, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a + b

    def sub(self, node: ex.Sub, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a - b

    def mul(self, node: ex.Mul, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a * b

    def div(self, node: ex.Div, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a / b

    def neg(self, node: ex.Neg, a: np.ndarray) -> np.ndarray:
        return -a

    def transpose(self, node: ex.Transpose, a: np.ndarray) -> np.ndarray:
        return a.T

    def power(self, node: ex.Power, a: np.ndarray) -> np.ndarray:
        return a ** float(node.exponent)  # type: ignore[no-any-return]

    def trace(self, node: ex.Trace, a: np.ndarray) -> np.ndarray:
        return np.array([[np.trace(a)]])

    def det(self, node: ex.Det, a: np.ndarray) -> np.ndarray:
        return np.array([[np.linalg.det(a)]])

    def inv(self, node: ex.Inv, a: np.ndarray) -> np.ndarray:
        return np.linalg.inv(a)

    def sum(self, node: ex.Sum, a: np.ndarray) -> np.ndarray:
        return np.array([[a.sum()]]) if node.axis is None else a.sum(axis=node.axis, keepdims=True)


def evaluate(node: ex.Expr, env: Mapping[str, Any], *, sizes: Mapping[str, int] | None = None) -> np.ndarray:
    """Evaluate ``node`` with NumPy; ``env`` maps symbol names to 2-D arrays.

    >>> from symderiv.syntax.language import parse
    >>> evaluate(parse("W @ X + b"), {"W": np.eye(2), "X": np.ones((2, 3)), "b": np.array([[1.0], [2.0]])})
    array([[2., 2., 2.],
           [3., 3., 3.]])
    """
    return np.asarray(NumpyBackend(env, sizes).evaluate(node), dtype=float)


def finite_difference_gradient(
    node: ex.Expr, wrt: str, env: Mapping[str, np.ndarray], upstream: np.ndarray | None,
    *, sizes: Mapping[str, int] | None = None, h: float = 1e-6,
) -> np.ndarray:
    """Central finite differences of ``L = Σ upstream ∘ E`` (or ``L = E`` when ``upstream`` is None).

    >>> from symderiv.syntax.language import parse
    >>> W, X = np.ones((2, 2)), np.arange(4.0).reshape(2, 2)
    >>> G = np.ones((2, 2))
    >>> np.allclose(finite_difference_gradient(parse("W @ X"), "W", {"W": W, "X": X}, G), G @ X.T)
    True
    """
    base = {k: np.array(v, dtype=float) for k, v in env.items()}

    def loss(values: Mapping[str, np.ndarray]) -> float:
        value = evaluate(node, values, sizes=sizes)
        return float(value.sum() if upstream is None else (upstream * value).sum())

    target = base[wrt]
    grad = np.zeros_like(target)
    for idx in np.ndindex(*target.shape):
        orig = target[idx]
        step = h * max(1.0, abs(float(orig)))
        target[idx] = orig + step
        up = loss(base)
        target[idx] = orig - step
        down = loss(base)
        target[idx] = orig
        grad[idx] = (up - down) / (2 * step)
    return grad
