"""check_backward on PyTorch/JAX functions and check_autograd: the framework boundary and the diagnoses.

torch and jax are loaded only in a subprocess, which tests/test_code_export.py starts for this module and for
its own torch and JAX targets: a pytest process that has imported them is 1.3 GB larger, and the
memory tests measure the peak RSS of their children, which inherit the parent's. Skipped, with the reason, when
torch or jax is not installed (the ``frameworks`` extra).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from symderiv.core.errors import OptionError
from symderiv.testing import check_autograd, check_backward

FRAMEWORKS_ENV = "SYMDERIV_FRAMEWORK_TESTS"
IN_SUBPROCESS = os.environ.get(FRAMEWORKS_ENV) == "1"


if not IN_SUBPROCESS:
    pytest.skip("torch and jax are tested in a subprocess (test_code_export.py::test_the_framework_tests_pass_in_a_subprocess)",
                allow_module_level=True)
torch = pytest.importorskip("torch", reason="torch is not installed (pip install '.[frameworks]')")
F = torch.nn.functional

AFFINE = {"x": ("N", "D"), "w": ("D", "M"), "b": (1, "M")}


def affine_backward(dout, x, w, b):
    """cs231n's affine_backward, written with torch tensors."""
    dx = dout @ w.T
    dw = x.T @ dout
    db = dout.sum(dim=0)
    return dx, dw, db


def test_a_torch_affine_backward_passes_check_backward():
    result = check_backward(affine_backward, "x @ w + b", ["x", "w", "b"], AFFINE, framework="torch")
    assert result.max_error < 1e-12 and len(result.sizes) == 3


def test_a_transposed_torch_backward_gets_the_transpose_diagnosis():
    def transposed(dout, x, w, b):
        dx, dw, db = affine_backward(dout, x, w, b)
        return dx, (dout.T @ x), db

    with pytest.raises(AssertionError, match="it is the transpose of the gradient"):
        check_backward(transposed, "x @ w + b", ["x", "w", "b"], AFFINE, framework="torch")


def test_a_wrong_axis_torch_backward_is_diagnosed():
    def wrong_axis(dout, x, w, b):
        return dout.sum(dim=1)

    with pytest.raises(AssertionError, match="summed over the wrong axis"):
        check_backward(wrong_axis, "x @ w + b", "b", AFFINE, framework="torch")


def test_check_autograd_passes_torch_linear():
    result = check_autograd(F.linear, "X @ W.T + b", ["X", "W", "b"], {"X": ("N", "K"), "W": ("M", "K"), "b": (1, "M")})
    assert result.max_error < 1e-12


class ReluNoMask(torch.autograd.Function):
    """A custom relu whose backward forgets the mask."""

    @staticmethod
    def forward(ctx, z):
        return z.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        return grad


class Relu(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z):
        ctx.save_for_backward(z)
        return z.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        (z,) = ctx.saved_tensors
        return grad * (z > 0)


def test_check_autograd_catches_a_custom_function_with_a_wrong_backward():
    shapes = {"W": ("H", "D"), "X": ("D", "N")}
    check_autograd(lambda W, X: Relu.apply(W @ X), "relu(W @ X)", "W", shapes)
    with pytest.raises(AssertionError, match="missing the step"):
        check_autograd(lambda W, X: ReluNoMask.apply(W @ X), "relu(W @ X)", "W", shapes)


def test_check_autograd_on_a_scalar_loss():
    check_autograd(lambda X: torch.logdet(X @ X.T + 3 * torch.eye(X.shape[0], dtype=X.dtype)),
                   "logdet(X @ X.T + 3 * eye(n))", "X", {"X": ("n", "m")})


def test_jax_functions_are_checked_too():
    jax = pytest.importorskip("jax", reason="jax is not installed (pip install '.[frameworks]')")
    jnp = jax.numpy
    check_autograd(lambda W, X: jax.nn.sigmoid(W @ X), "sigmoid(W @ X)", "W", {"W": ("H", "D"), "X": ("D", "N")},
                   framework="jax")
    with pytest.raises(AssertionError, match="transpose"):
        check_backward(lambda G, W, X: X @ G.T, "W @ X", "W", {"W": ("H", "D"), "X": ("D", "N")}, framework="jax")
    assert isinstance(jnp.ones(1), jax.Array)


def test_unknown_framework_is_an_option_error():
    with pytest.raises(OptionError):
        check_backward(affine_backward, "x @ w + b", "x", AFFINE, framework="tensorflow")
    with pytest.raises(OptionError):
        check_autograd(F.linear, "X @ W.T", "X", None, framework="numpy")
    assert np.isfinite(1.0)
