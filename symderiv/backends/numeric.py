"""NumPy evaluation of expressions: the second, independent oracle (finite differences).

Generic functions (``phi`` and friends) get a fixed smooth stand-in,
``phi(z) = sin(z) + z/3``, whose derivative ``phi_prime(z) = cos(z) + 1/3`` is
consistent with it, so finite differences can check formulas that use them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

import numpy as np

from symderiv.core import expr as ex


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "abs": np.abs, "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "tanh": np.tanh, "sigmoid": _sigmoid, "relu": lambda z: np.maximum(z, 0.0),
    "step": lambda z: np.heaviside(z, 0.5), "sign": np.sign,
}


def generic_function(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """The stand-in for a generic function or its ``_prime``.

    >>> float(generic_function("phi_prime")(np.array(0.0)))
    1.3333333333333333
    """
    if name.endswith("_prime"):
        return lambda z: np.cos(z) + 1.0 / 3.0
    return lambda z: np.sin(z) + z / 3.0


def to_float(value: Fraction) -> float:
    """The nearest float to an exact number, for numeric evaluation only (±inf past the float range).

    >>> to_float(Fraction(1, 10**400)), to_float(Fraction(-(10**400))), to_float(Fraction(1, 3))
    (0.0, -inf, 0.3333333333333333)
    """
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


def evaluate(node: ex.Expr, env: Mapping[str, Any], *, sizes: Mapping[str, int] | None = None) -> np.ndarray:
    """Evaluate ``node`` with NumPy; ``env`` maps symbol names to 2-D arrays.

    >>> from symderiv.syntax.language import parse
    >>> evaluate(parse("W @ X + b"), {"W": np.eye(2), "X": np.ones((2, 3)), "b": np.array([[1.0], [2.0]])})
    array([[2., 2., 2.],
           [3., 3., 3.]])
    """
    sizes = dict(sizes or {})

    def dim(d: ex.Dim) -> int:
        if isinstance(d, int):
            return d
        if d not in sizes:
            raise KeyError(f"no size for dimension {d!r}")
        return sizes[d]

    def ev(n: ex.Expr) -> np.ndarray:
        if isinstance(n, ex.Symbol):
            return np.asarray(env[n.name], dtype=float).reshape(np.shape(env[n.name]))
        if isinstance(n, ex.Number):
            return np.array([[to_float(n.value)]])
        if isinstance(n, ex.ConstMatrix):
            r, c = dim(n.rows), dim(n.cols)
            return {"ones": np.ones, "zeros": np.zeros}[n.kind]((r, c)) if n.kind != "eye" else np.eye(r)
        if isinstance(n, ex.MatMul):
            return ev(n.left) @ ev(n.right)
        if isinstance(n, ex.Add):
            return ev(n.left) + ev(n.right)
        if isinstance(n, ex.Sub):
            return ev(n.left) - ev(n.right)
        if isinstance(n, ex.Mul):
            return ev(n.left) * ev(n.right)
        if isinstance(n, ex.Div):
            return ev(n.left) / ev(n.right)
        if isinstance(n, ex.Neg):
            return -ev(n.operand)
        if isinstance(n, ex.Power):
            return ev(n.operand) ** float(n.exponent)
        if isinstance(n, ex.Transpose):
            return ev(n.operand).T
        if isinstance(n, ex.Apply):
            fn = FUNCTIONS.get(n.fn) or generic_function(n.fn)
            return fn(ev(n.operand))
        if isinstance(n, ex.Trace):
            return np.array([[np.trace(ev(n.operand))]])
        if isinstance(n, ex.Det):
            return np.array([[np.linalg.det(ev(n.operand))]])
        if isinstance(n, ex.LogDet):
            return np.array([[np.linalg.slogdet(ev(n.operand))[1]]])
        if isinstance(n, ex.Inv):
            return np.linalg.inv(ev(n.operand))
        if isinstance(n, ex.Sum):
            a = ev(n.operand)
            return np.array([[a.sum()]]) if n.axis is None else a.sum(axis=n.axis, keepdims=True)
        if isinstance(n, ex.MatPow):
            return np.linalg.matrix_power(ev(n.operand), n.k)
        raise TypeError(f"cannot evaluate {type(n).__name__}")

    return np.asarray(ev(node), dtype=float)


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
        step = h * max(1.0, abs(orig))
        target[idx] = orig + step
        up = loss(base)
        target[idx] = orig - step
        down = loss(base)
        target[idx] = orig
        grad[idx] = (up - down) / (2 * step)
    return grad
