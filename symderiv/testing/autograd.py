"""``check_autograd``: a framework's automatic gradient of a forward function, against the derived gradient.

The forward function computes the expression with PyTorch or JAX; its gradient is taken by the framework
(``torch.autograd.grad``, or ``jax.vjp``), so a custom ``torch.autograd.Function`` is checked through its
``backward``. The comparison is :func:`~symderiv.testing.backward_check.check_backward`'s, on rectangular
shapes with distinct sizes, with the same diagnoses (transposed, wrong axis, missing mask).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from symderiv.core.errors import OptionError
from symderiv.proofs.verification import prepare
from symderiv.testing.backward_check import BackwardCheck, check_backward
from symderiv.testing.convert import framework_module

__all__ = ["check_autograd"]


def _torch_backward(forward_fn: Callable[..., Any], wrt: list[str], order: list[str], scalar: bool,
                    name: str) -> Callable[..., Any]:
    torch = framework_module("torch")

    def backward(upstream: Any, *inputs: Any) -> tuple[Any, ...]:
        leaves = [x.clone().requires_grad_(n in wrt) for n, x in zip(order, inputs, strict=True)]
        out = forward_fn(*leaves)
        wanted = [leaves[order.index(n)] for n in wrt]
        seed = torch.ones_like(out) if scalar else upstream.reshape(out.shape)
        grads = torch.autograd.grad(out, wanted, grad_outputs=seed, allow_unused=True)
        return tuple(torch.zeros_like(w) if g is None else g for w, g in zip(wanted, grads, strict=True))

    backward.__name__ = name
    return backward


def _jax_backward(forward_fn: Callable[..., Any], wrt: list[str], order: list[str], scalar: bool,
                  name: str) -> Callable[..., Any]:
    jax = framework_module("jax")
    numpy = importlib.import_module("jax.numpy")

    def backward(upstream: Any, *inputs: Any) -> tuple[Any, ...]:
        out, vjp = jax.vjp(forward_fn, *inputs)
        seed = numpy.ones_like(out) if scalar else numpy.reshape(upstream, out.shape)
        grads = vjp(seed)
        return tuple(grads[order.index(n)] for n in wrt)

    backward.__name__ = name
    return backward


def check_autograd(
    forward_fn: Callable[..., Any],
    expr: str,
    wrt: str | Sequence[str],
    shapes: Mapping[str, Any] | None,
    *,
    framework: str = "torch",
    inputs: Sequence[str] | None = None,
    functions: Iterable[str] = (),
    trials: int = 3,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    seed: int = 0,
) -> BackwardCheck:
    """Check ``framework``'s gradient of ``forward_fn`` (which computes ``expr``) against symderiv's.

    ``forward_fn(*inputs)`` takes the matrices of ``expr`` (in order of first appearance, or ``inputs``) as
    float64 tensors (``framework="torch"``) or arrays (``"jax"``) and returns the value of ``expr``. Its
    gradient, by the framework's autograd, is compared with the derived one; a custom ``autograd.Function``
    (pass ``MyOp.apply``) is thereby checked through its own ``backward``. Raises ``AssertionError`` with the
    diagnosis, like :func:`~symderiv.testing.backward_check.check_backward`.

    >>> import torch  # doctest: +SKIP
    >>> check_autograd(torch.nn.functional.linear, "X @ W.T + b", ["X", "W", "b"],
    ...                {"X": ("N", "K"), "W": ("M", "K"), "b": (1, "M")}).max_error < 1e-12  # doctest: +SKIP
    True
    """
    __tracebackhide__ = True
    if framework not in ("torch", "jax"):
        raise OptionError(f"check_autograd checks torch or jax, not {framework!r}",
                          hint="a NumPy backward pass is checked by check_backward")
    names = [wrt] if isinstance(wrt, str) else list(wrt)
    functions = tuple(functions)
    problem = prepare(expr, names, shapes, functions=functions)
    order = list(inputs) if inputs is not None else problem.expression.symbols()
    label = f"{framework}'s gradient of {getattr(forward_fn, '__qualname__', 'the forward function')}"
    make = _torch_backward if framework == "torch" else _jax_backward
    backward = make(forward_fn, names, order, problem.scalar, label)
    try:
        return check_backward(backward, expr, names, shapes, inputs=inputs, functions=functions, trials=trials,
                              rtol=rtol, atol=atol, seed=seed, framework=framework)
    except AssertionError as err:
        # The message of check_backward, told of a forward function: the upstream is the seed of the backward pass.
        text = str(err).replace("check_backward: ", "check_autograd: ", 1)
        text = text.replace(f", {label}'s first argument", " (the seed of the backward pass)", 1)
        raise AssertionError(text) from None
