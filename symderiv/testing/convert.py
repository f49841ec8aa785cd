"""The boundary between NumPy and the frameworks: arrays in, tensors out, and back.

``check_backward(..., framework="torch")`` and :func:`symderiv.testing.check_autograd` hand the user's code
PyTorch tensors or JAX arrays (float64) and read its results back as NumPy arrays. The frameworks are optional
(the ``frameworks`` extra) and loaded by name on first use.

>>> import numpy as np
>>> call_with(lambda G, X: G @ X.T, "numpy", np.ones((1, 2)), [np.ones((3, 2))])
array([[2., 2., 2.]])
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType
from typing import Any

from symderiv.core.errors import OptionError

FRAMEWORKS = ("numpy", "torch", "jax")

__all__ = ["FRAMEWORKS", "call_with", "framework_module", "to_framework", "to_numpy"]


def framework_module(framework: str) -> ModuleType:
    """``numpy``, ``torch`` or ``jax``, imported; a missing one is an OptionError saying how to install it.

    >>> framework_module("numpy").__name__
    'numpy'
    """
    if framework not in FRAMEWORKS:
        raise OptionError(f"framework must be one of {', '.join(FRAMEWORKS)}, not {framework!r}")
    try:
        return importlib.import_module(framework)
    except ImportError as err:
        raise OptionError(f"{framework} is not installed ({err})",
                          hint="pip install 'symderiv[frameworks]' installs torch and jax") from None


def to_framework(value: Any, framework: str) -> Any:
    """A NumPy array (or float) as a float64 tensor of ``framework`` (NumPy: unchanged).

    >>> to_framework(1.5, "numpy")
    1.5
    """
    if framework == "numpy":
        return value
    module = framework_module(framework)
    if framework == "torch":
        return module.tensor(value, dtype=module.float64)
    numpy = importlib.import_module("jax.numpy")
    return numpy.asarray(value, dtype=numpy.float64)


def to_numpy(value: Any) -> Any:
    """A tensor of any framework as a NumPy array; anything else unchanged.

    >>> to_numpy([1.0, 2.0])
    [1.0, 2.0]
    """
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # torch.Tensor
        return value.detach().cpu().numpy()
    if type(value).__module__.startswith(("jax", "jaxlib")):
        return importlib.import_module("numpy").asarray(value)
    return value


@contextlib.contextmanager
def _precision(framework: str) -> Iterator[None]:
    """JAX computes in float32 unless 64-bit types are enabled: enable them for the call."""
    if framework == "jax":
        jax = framework_module("jax")
        # jax.enable_x64 (newer releases) or jax.experimental.enable_x64 (older ones)
        enable = getattr(jax, "enable_x64", None)
        if enable is None:
            enable = importlib.import_module("jax.experimental").enable_x64
        with enable(True):
            yield
    else:
        yield


def call_with(fn: Callable[..., Any], framework: str, upstream: Any, inputs: Sequence[Any]) -> Any:
    """``fn(upstream, *inputs)`` with the arguments as tensors of ``framework``, its results as NumPy arrays
    (a tuple, list or dict of them keeps its form)."""
    with _precision(framework):
        result = fn(to_framework(upstream, framework), *[to_framework(x, framework) for x in inputs])
        if isinstance(result, dict):
            return {k: to_numpy(v) for k, v in result.items()}
        if isinstance(result, (tuple, list)):
            return type(result)(to_numpy(v) for v in result)
        return to_numpy(result)
