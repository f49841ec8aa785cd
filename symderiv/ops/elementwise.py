"""The elementwise functions: one row each, the derivative written once in the language.

To add a function, add a row here; every engine (gradient rules, NumPy, mpmath, SymPy, the exact
and randomized provers, index notation, printing) reads it from this table.
"""

from __future__ import annotations

import math
from fractions import Fraction

from symderiv.ops.base import Elementwise


def _at_zero(value: Fraction):  # noqa: ANN202 - a fold rule: the value at 0, rational
    return lambda c: value if c == 0 else None


def _code(numpy: str, torch: str, jax: str) -> dict[str, str]:
    """Code templates of a row, per target (:mod:`symderiv.backends.code`)."""
    return {"numpy": numpy, "torch": torch, "jax": jax}


def _sigmoid_np(np, z):  # noqa: ANN001, ANN202
    return 1.0 / (1.0 + np.exp(-z))


def _sqrt_rational(c: Fraction) -> Fraction | None:
    if c < 0:
        return None
    num, den = math.isqrt(c.numerator), math.isqrt(c.denominator)
    return Fraction(num, den) if num * num == c.numerator and den * den == c.denominator else None


def _tan_pole(mpmath, z) -> bool:  # noqa: ANN001
    return bool(abs(mpmath.cos(z)) < mpmath.mpf(10) ** (-mpmath.mp.dps // 2))


ROWS: tuple[Elementwise, ...] = (
    Elementwise("exp", "exponential", "y", latex=r"\exp",
                code=_code("np.exp({})", "torch.exp({})", "jnp.exp({})"),
                numpy=lambda np, z: np.exp(z), mpmath=lambda mp, z: mp.exp(z), sympy=lambda sp, z: sp.exp(z),
                fold=_at_zero(Fraction(1))),
    Elementwise("log", "natural logarithm", "1 / z", latex=r"\log", domain="positive", limited=False,
                code=_code("np.log({})", "torch.log({})", "jnp.log({})"),
                numpy=lambda np, z: np.log(z), mpmath=lambda mp, z: mp.log(z), sympy=lambda sp, z: sp.log(z),
                fold=lambda c: Fraction(0) if c == 1 else None),
    Elementwise("sqrt", "square root", "1 / (2 * y)", latex=r"\sqrt{{{}}}", domain="positive", limited=False,
                rational=_sqrt_rational,
                code=_code("np.sqrt({})", "torch.sqrt({})", "jnp.sqrt({})"),
                numpy=lambda np, z: np.sqrt(z), mpmath=lambda mp, z: mp.sqrt(z), sympy=lambda sp, z: sp.sqrt(z),
                fold=_at_zero(Fraction(0))),
    Elementwise("abs", "absolute value", "sign(z)", latex=r"\left\lvert {} \right\rvert", kink=True, limited=False,
                even=True, code=_code("np.abs({})", "torch.abs({})", "jnp.abs({})"),
                numpy=lambda np, z: np.abs(z), mpmath=lambda mp, z: abs(z), sympy=lambda sp, z: sp.Abs(z),
                fold=abs),
    Elementwise("sin", "sine", "cos(z)", latex=r"\sin", periodic=True,
                code=_code("np.sin({})", "torch.sin({})", "jnp.sin({})"),
                numpy=lambda np, z: np.sin(z), mpmath=lambda mp, z: mp.sin(z), sympy=lambda sp, z: sp.sin(z),
                fold=_at_zero(Fraction(0))),
    Elementwise("cos", "cosine", "-sin(z)", latex=r"\cos", periodic=True,
                code=_code("np.cos({})", "torch.cos({})", "jnp.cos({})"),
                numpy=lambda np, z: np.cos(z), mpmath=lambda mp, z: mp.cos(z), sympy=lambda sp, z: sp.cos(z),
                fold=_at_zero(Fraction(1))),
    Elementwise("tan", "tangent", "1 + y ** 2", latex=r"\tan", pole=_tan_pole, periodic=True,
                code=_code("np.tan({})", "torch.tan({})", "jnp.tan({})"),
                numpy=lambda np, z: np.tan(z), mpmath=lambda mp, z: mp.tan(z), sympy=lambda sp, z: sp.tan(z),
                fold=_at_zero(Fraction(0))),
    Elementwise("tanh", "hyperbolic tangent", "1 - y ** 2", latex=r"\tanh",
                interval=lambda iv, z: 1 - 2 / (iv.exp(2 * z) + 1),
                code=_code("np.tanh({})", "torch.tanh({})", "jnp.tanh({})"),
                numpy=lambda np, z: np.tanh(z), mpmath=lambda mp, z: mp.tanh(z), sympy=lambda sp, z: sp.tanh(z),
                fold=_at_zero(Fraction(0))),
    Elementwise("sigmoid", "logistic sigmoid 1/(1+exp(-z))", "y * (1 - y)", latex=r"\sigma",
                code=_code("(1 / (1 + np.exp(-{})))", "torch.sigmoid({})", "jax.nn.sigmoid({})"),
                numpy=_sigmoid_np, mpmath=lambda mp, z: 1 / (1 + mp.exp(-z)),
                expansions=("exp(z) / (1 + exp(z))", "1 / (1 + exp(-z))"),
                fold=_at_zero(Fraction(1, 2))),
    Elementwise("softplus", "log(1 + exp(z)), a smooth relu", "sigmoid(z)", latex=r"\operatorname{softplus}",
                code=_code("np.logaddexp(0, {})", "torch.nn.functional.softplus({})", "jax.nn.softplus({})"),
                numpy=lambda np, z: np.logaddexp(0.0, z), mpmath=lambda mp, z: mp.log(1 + mp.exp(z)),
                expansions=("log(1 + exp(z))",)),
    Elementwise("relu", "max(z, 0)", "step(z)", latex=r"\operatorname{relu}", kink=True, limited=False,
                code=_code("np.maximum({}, 0)", "torch.relu({})", "jax.nn.relu({})"),
                numpy=lambda np, z: np.maximum(z, 0.0), mpmath=lambda mp, z: max(z, 0 * z),
                fold=lambda c: max(c, Fraction(0)), mask="step", mask_numpy="(Z > 0)"),
    Elementwise("step", "Heaviside step, the derivative of relu", None, latex=r"\operatorname{step}", kink=True,
                jump=True, limited=False,
                not_differentiable="step (the derivative of relu)",
                code=_code("np.heaviside({}, 0.5)", "(0.5 * (torch.sign({}) + 1))", "jnp.heaviside({}, 0.5)"),
                numpy=lambda np, z: np.heaviside(z, 0.5), mpmath=lambda mp, z: Fraction(int(mp.sign(z)) + 1, 2),
                sympy=lambda sp, z: sp.Heaviside(z),
                fold=lambda c: Fraction(1) if c > 0 else Fraction(0) if c < 0 else Fraction(1, 2)),
    Elementwise("sign", "sign of z, the derivative of abs (an extension of the SPEC table)", None,
                latex=r"\operatorname{sign}", kink=True, jump=True, limited=False, not_differentiable="sign (the derivative of abs)",
                code=_code("np.sign({})", "torch.sign({})", "jnp.sign({})"),
                numpy=lambda np, z: np.sign(z), mpmath=lambda mp, z: Fraction(int(mp.sign(z))),
                sympy=lambda sp, z: sp.sign(z), fold=lambda c: Fraction((c > 0) - (c < 0))),
)


def _generic_np(np, z):  # noqa: ANN001, ANN202 - the fixed stand-in phi(z) = sin z + z/3
    return np.sin(z) + z / 3.0


def _generic_prime_np(np, z):  # noqa: ANN001, ANN202 - its derivative
    return np.cos(z) + 1.0 / 3.0


def generic(name: str) -> Elementwise:
    """The row of a generic function declared by the user (``phi``) or of its derivative (``phi_prime``).

    Numeric engines evaluate a generic function by one fixed smooth stand-in, ``phi(z) = sin z + z/3``
    with ``phi'(z) = cos z + 1/3``: a claim that fails for this ``phi`` fails for a generic ``phi``.

    >>> generic("phi").derivative, generic("phi_prime").derivative
    ('phi_prime(z)', None)
    """
    if name.endswith("_prime"):
        return Elementwise(name, "the derivative of a generic function", None, generic=True,
                           not_differentiable=f"{name} (the derivative of a generic function)",
                           numpy=_generic_prime_np, mpmath=lambda mp, z: mp.cos(z) + mp.mpf(1) / 3)
    return Elementwise(name, "a generic function", f"{name}_prime(z)", generic=True,
                       numpy=_generic_np, mpmath=lambda mp, z: mp.sin(z) + z / 3)


__all__ = ["ROWS", "generic"]
