"""``check_backward``: a hand-written NumPy backward pass against the derived gradients.

The user's function gets copies of the upstream array and of every input, and the
reference is computed from pristine copies, so a backward pass that scales or
zeroes its arguments in place (``dY *= 0``) cannot make itself look right.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import partial
from typing import Any

from symderiv import ops
from symderiv.core import expr as ex
from symderiv.core.errors import OptionError
from symderiv.proofs.exact.assumed import normalise
from symderiv.proofs.verification import prepare
from symderiv.syntax.shapes import format_shape
from symderiv.testing.convert import call_with, framework_module
from symderiv.testing.structure import backward_assumptions, draw
from symderiv.testing.surgery import (
    MAX_CANDIDATES,
    axis_candidates,
    derive_gradient,
    mask_functions,
    mask_of,
    show,
    without_masks,
)


def _evaluate() -> Callable[..., Any]:
    """NumPy's evaluator of expressions, loaded on first use (the NumPy backend imports NumPy)."""
    return importlib.import_module("symderiv.backends.numeric").evaluate  # type: ignore[no-any-return]


@dataclass
class BackwardCheck:
    """What :func:`check_backward` compared: the sizes of each trial and the largest error seen."""

    wrt: list[str]
    sizes: list[dict[str, int]] = field(default_factory=list)
    max_error: float = 0.0


@dataclass
class _Reference:
    name: str
    shape: ex.Shape
    formula: str
    node: ex.Expr


def _references(problem: Any, expression: str, wrt: list[str], shapes: Mapping[str, Any] | None,
                functions: tuple[str, ...], upstream: str) -> list[_Reference]:
    refs = []
    for name in wrt:
        derived = derive_gradient(expression, name, shapes, {"functions": functions, "upstream": upstream,
                                                             "assume": problem.assume})
        if derived is None:
            raise OptionError(f"symderiv cannot derive ∂L/∂{name} for `{expression}`, so there is nothing to "
                              "compare the backward function with")
        refs.append(_Reference(name, problem.typing.symbols[name], derived.formula, derived.expr))
    return refs


def _sizes_for(dims: list[str], rng: Any) -> dict[str, int]:
    # Distinct sizes, so a transposed or wrongly-summed result cannot pass by having the right shape.
    pool = list(range(2, 2 + len(dims) + 3))
    chosen = rng.choice(pool, size=len(dims), replace=False) if dims else []
    return {d: int(s) for d, s in zip(dims, chosen, strict=True)}


def _concrete(shape: ex.Shape, sizes: Mapping[str, int]) -> tuple[int, int]:
    return tuple(d if isinstance(d, int) else sizes[d] for d in shape)  # type: ignore[return-value]


def _fmt_shape(shape: ex.Shape, concrete: tuple[int, int]) -> str:
    text = format_shape(shape)
    plain = format_shape(concrete)
    return text if text == plain else f"{text} = {plain}"


def _conform(value: Any, want: tuple[int, int]) -> tuple[Any, str | None]:
    """The user's array as a ``want``-shaped matrix, or None and why its shape is wrong."""
    import numpy as np

    arr = np.asarray(value, dtype=float)
    if arr.shape == want:
        return arr, None
    if arr.ndim == 1 and 1 in want and arr.size == want[0] * want[1]:
        return arr.reshape(want), None  # a 1-D array for a vector input carries the same entries
    if arr.ndim == 0 and want == (1, 1):
        return arr.reshape(want), None
    return arr, "shape"


def _same(a: Any, b: Any, rtol: float, atol: float) -> bool:
    import numpy as np

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim == 1 or b.ndim == 1:  # vectors compare by their entries, whatever their orientation
        if a.size != b.size or (a.ndim == 2 and 1 not in a.shape) or (b.ndim == 2 and 1 not in b.shape):
            return False
        a, b = a.ravel(), b.ravel()
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


def _name_size(n: int, sizes: Mapping[str, int]) -> str:
    names = [d for d, s in sizes.items() if s == n]
    return f"{' = '.join(names)} = {n}" if names else str(n)


def _call_outputs(result: Any, wrt: list[str], fn_name: str) -> dict[str, Any]:
    if isinstance(result, Mapping):
        missing = [n for n in wrt if n not in result]
        if missing:
            raise AssertionError(f"check_backward: {fn_name} returned no gradient for "
                                 + ", ".join(f"`{n}`" for n in missing)
                                 + f" (it returned keys {sorted(map(str, result))})")
        return {n: result[n] for n in wrt}
    if len(wrt) == 1 and not isinstance(result, (tuple, list)):
        return {wrt[0]: result}
    if not isinstance(result, (tuple, list)) or len(result) != len(wrt):
        count = len(result) if isinstance(result, (tuple, list)) else 1
        raise AssertionError(f"check_backward: {fn_name} returned {count} value{'s' if count != 1 else ''}; "
                             f"expected a dict or a tuple of {len(wrt)} in the order of wrt "
                             f"({', '.join(wrt)})")
    return dict(zip(wrt, result, strict=True))


def _position(result: Any, name: str, wrt: list[str]) -> str:
    if isinstance(result, (tuple, list)) and len(wrt) > 1:
        return f" (returned value {wrt.index(name) + 1} of {len(wrt)})"
    if isinstance(result, Mapping):
        return f" (returned[{name!r}])"
    return ""


def check_backward(
    fn: Callable[..., Any],
    expr: str,
    wrt: str | Sequence[str],
    shapes: Mapping[str, Any] | None,
    *,
    inputs: Sequence[str] | None = None,
    functions: Iterable[str] = (),
    upstream: str = "G",
    trials: int = 3,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    seed: int = 0,
    assume: Mapping[str, str] | None = None,
    framework: str = "numpy",
) -> BackwardCheck:
    """Check a hand-written NumPy backward pass against the derived gradients.

    ``fn(upstream_value, *inputs)`` gets the upstream gradient and the inputs (in
    order of first appearance in ``expr``, or ``inputs``) and returns a dict
    name → array or a tuple in the order of ``wrt``. Dimension names get distinct
    random sizes in each of ``trials`` trials. For a scalar ``expr`` the upstream
    value is ``1.0``. Raises ``AssertionError`` saying which output is wrong and how.
    ``framework="torch"`` or ``"jax"``: ``fn`` takes and returns float64 tensors of that framework.

    ``assume={"Y": "onehot_rows"}`` draws ``Y`` with that structure (docs/assumptions.md): a backward pass that is
    right only for one-hot labels passes with it, and fails without it with a diagnosis naming the assumption.

    >>> import numpy as np
    >>> def linear_backward(dY, X, W, b):
    ...     return {"X": dY @ W.T, "W": X.T @ dY, "b": dY.sum(0)}
    >>> check_backward(linear_backward, "X @ W + b", ["X", "W", "b"],
    ...                {"X": ("N", "K"), "W": ("K", "M"), "b": (1, "M")}).max_error < 1e-12
    True
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this helper's
    import numpy as np

    for option, value in (("trials", trials), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise OptionError(f"{option} must be a whole number, not {value!r}")
    if trials < 1:
        raise OptionError("trials must be at least 1")
    wrt_names = [wrt] if isinstance(wrt, str) else list(wrt)
    framework_module(framework)
    functions = tuple(functions)
    problem = prepare(expr, wrt_names, shapes, functions=functions, upstream=upstream, assume=normalise(assume))
    order = problem.expression.symbols()
    if inputs is not None:
        inputs = list(inputs)
        if sorted(inputs) != sorted(order):
            raise OptionError(f"inputs must list each matrix of `{expr}` once: {', '.join(order)}",
                              hint=f"got {', '.join(inputs)}")
        order = inputs
    refs = _references(problem, expr, wrt_names, shapes, functions, upstream)
    fn_name = getattr(fn, "__name__", "the backward function")
    if framework != "numpy":
        fn = partial(_through_framework, fn, framework)
    positive = any(ops.elementwise(f).domain != "real" for f in problem.expression.functions())
    rng = np.random.default_rng(seed)
    result = BackwardCheck(wrt_names)
    dims = problem.typing.dim_names
    for trial in range(trials):
        sizes = _sizes_for(dims, rng)
        result.sizes.append(sizes)
        concrete = problem.typing.substitute(sizes)
        env, upstream_value, returned, outputs = _run(fn, problem, concrete, sizes, order, rng, problem.assume,
                                                     positive, fn_name, wrt_names)
        out_shape = _concrete(problem.result_shape, sizes)
        renv = {**env, upstream: np.asarray(upstream_value, dtype=float).reshape(out_shape)}
        evaluate = _evaluate()

        failures = []
        for ref in refs:
            want = _concrete(ref.shape, sizes)
            correct = np.broadcast_to(evaluate(ref.node, renv, sizes=sizes), want)
            if np.iscomplexobj(outputs[ref.name]):
                failures.append(f"  ∂L/∂{ref.name}{_position(returned, ref.name, wrt_names)} is complex "
                                f"(dtype {np.asarray(outputs[ref.name]).dtype}); the gradient of a real function is "
                                "real, and symderiv does not drop imaginary parts")
                continue
            got, problem_kind = _conform(outputs[ref.name], want)
            if problem_kind is None and np.allclose(got, correct, rtol=rtol, atol=atol):
                result.max_error = max(result.max_error, float(np.max(np.abs(got - correct), initial=0.0)))
                continue
            failures.append(_describe_failure(ref, got, correct, problem_kind, sizes, renv, problem,
                                              shapes, functions, upstream, rtol, atol,
                                              _position(returned, ref.name, wrt_names)))
        if failures:
            agrees = partial(_agrees, fn, problem, refs, concrete, sizes, order, seed + 7919 * (trial + 1),
                             positive=positive, fn_name=fn_name, wrt=wrt_names, rtol=rtol, atol=atol)
            failures += [f"    diagnosis: {sentence}" for sentence in backward_assumptions(
                {n: _concrete(concrete.symbols[n], sizes) for n in problem.expression.symbols()}, wrt_names,
                problem.assume, agrees)]
            where = ", ".join(f"{d}={s}" for d, s in sizes.items())
            head = (f"check_backward: {fn_name} disagrees with the derived gradient of L = {expr}\n"
                    f"  trial {trial + 1} of {trials} (seed {seed})" + (f" with {where}" if where else "")
                    + ("" if problem.scalar else f"; {upstream} is the upstream gradient, {fn_name}'s first argument"))
            raise AssertionError("\n".join([head, *failures]))
    return result


def _through_framework(fn: Callable[..., Any], framework: str, upstream_value: Any, *arrays: Any) -> Any:
    """The user's function called with tensors of its framework, its results back as NumPy arrays."""
    return call_with(fn, framework, upstream_value, arrays)


def _run(fn: Callable[..., Any], problem: Any, concrete: Any, sizes: dict[str, int], order: list[str], rng: Any,
         assume: Mapping[str, str], positive: bool, fn_name: str, wrt: list[str]) -> tuple[Any, Any, Any, Any]:
    """Draw the inputs (with the assumed structures) and the upstream value, and call the user's function."""
    import numpy as np

    env: dict[str, Any] = {}
    for name in problem.expression.symbols():
        env[name] = draw(assume.get(name), _concrete(concrete.symbols[name], sizes), rng, positive=positive)
    out_shape = _concrete(problem.result_shape, sizes)
    upstream_value: Any = 1.0 if problem.scalar else rng.standard_normal(out_shape)
    # The function gets copies: a backward pass that scales its arguments in place (dY *= 0) must not change
    # the reference, which is computed from the pristine arrays.
    given = upstream_value.copy() if isinstance(upstream_value, np.ndarray) else upstream_value
    returned = fn(given, *[env[n].copy() for n in order])
    return env, upstream_value, returned, _call_outputs(returned, wrt, fn_name)


def _agrees(fn: Callable[..., Any], problem: Any, refs: list[_Reference], concrete: Any, sizes: dict[str, int],
            order: list[str], seed: int, assume: Mapping[str, str], *, positive: bool, fn_name: str, wrt: list[str],
            rtol: float, atol: float) -> bool:
    """Whether ``fn`` agrees with every reference on inputs drawn with ``assume`` (twice, for evidence)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for _ in range(2):
        try:
            env, upstream_value, _, outputs = _run(fn, problem, concrete, sizes, order, rng, assume, positive,
                                                   fn_name, wrt)
        except Exception:  # noqa: BLE001 - a user's function that fails on other inputs is simply not evidence
            return False
        out_shape = _concrete(problem.result_shape, sizes)
        renv = {**env, problem.upstream: np.asarray(upstream_value, dtype=float).reshape(out_shape)}
        for ref in refs:
            want = _concrete(ref.shape, sizes)
            correct = np.broadcast_to(_evaluate()(ref.node, renv, sizes=sizes), want)
            got, kind = _conform(outputs[ref.name], want)
            if kind is not None or not np.allclose(got, correct, rtol=rtol, atol=atol):
                return False
    return True


def _describe_failure(ref: _Reference, got: Any, correct: Any, kind: str | None, sizes: dict[str, int],
                      env: dict[str, Any], problem: Any, shapes: Mapping[str, Any] | None,
                      functions: tuple[str, ...], upstream: str, rtol: float, atol: float, position: str) -> str:
    import numpy as np

    evaluate = _evaluate()
    want = correct.shape
    lines = [f"  ∂L/∂{ref.name}{position} is wrong; the derived gradient is {ref.formula}"]
    if kind == "shape":
        entries, needed = int(got.size), want[0] * want[1]
        counts = (f" with {_name_size(entries, sizes)} entries" if entries != needed else "")
        lines.append(f"    shape: it has shape {tuple(got.shape)}{counts}, where `{ref.name}` is "
                     f"{_fmt_shape(ref.shape, want)}" + (f" and needs {_name_size(needed, sizes)}" if counts else ""))
    else:
        diff = np.abs(got - correct)
        i, j = np.unravel_index(int(np.argmax(diff)), diff.shape)
        lines.append(f"    values: at [{i},{j}] it gives {got[i, j]:.6g} where the gradient is {correct[i, j]:.6g} "
                     f"(largest difference {diff[i, j]:.3g})")
    diagnoses: list[str] = []
    if got.ndim == 2 and _same(got.T, correct, rtol, atol):
        diagnoses.append("it is the transpose of the gradient")
    for candidate in axis_candidates(ref.node)[:MAX_CANDIDATES]:
        try:
            value = evaluate(candidate, env, sizes=sizes)
        except (ValueError, KeyError):
            continue
        if _same(got, value, rtol, atol):
            diagnoses.append(f"summed over the wrong axis: it equals {show(candidate)}")
            break
    for stripped, taken in without_masks(problem.expression):
        # Unchecked: a candidate only has to match the user's numbers, and a wrong one simply does not.
        derived = derive_gradient(show(stripped), ref.name, shapes, {"functions": functions, "upstream": upstream},
                           check=False)
        if derived is None:
            continue
        if _same(got, np.broadcast_to(evaluate(derived.expr, env, sizes=sizes), want), rtol, atol):
            diagnoses.append(_missing_mask(stripped, taken))
            break
    if kind is None and not diagnoses:
        diagnoses += _off_by_a_factor(got, correct, rtol, atol)
    for sentence in diagnoses:
        lines.append(f"    diagnosis: {sentence}")
    return "\n".join(lines)


def _off_by_a_factor(got: Any, correct: Any, rtol: float, atol: float) -> list[str]:
    """The diagnosis of a result that is a constant multiple of the gradient, if it is one."""
    import numpy as np

    norm = float(np.sum(correct * correct))
    if norm <= 0:
        return []
    factor = float(np.sum(got * correct)) / norm
    if abs(factor - 1) <= 1e-6 or not np.allclose(got, factor * correct, rtol=rtol, atol=atol):
        return []
    shown = Fraction(factor).limit_denominator(1000)
    text = str(shown) if abs(float(shown) - factor) <= 1e-9 * max(1.0, abs(factor)) else f"{factor:.6g}"
    return [f"off by a factor of {text}: it is {text} × the gradient"]


def _missing_mask(stripped: ex.Expr, taken: list[ex.Apply]) -> str:
    """The diagnosis of a backward pass that treats the masked functions ``taken`` as the identity."""
    masks = ", ".join(show(mask_of(n)) for n in taken)
    names = mask_functions(taken)
    where = " and ".join(f"`{ops.elementwise(fn).mask_numpy}`, where {fn}(Z) is applied" for fn in names)
    return (f"missing the {masks} mask{'s' if len(taken) > 1 else ''}: it is the gradient of {show(stripped)}, as if "
            f"{' and '.join(names)} were the identity (multiply the upstream gradient by the mask, in NumPy {where})")


__all__ = ["check_backward", "BackwardCheck"]
