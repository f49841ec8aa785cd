"""Helpers for test suites: assert a claimed gradient, check a hand-written NumPy backward pass.

``assert_gradient`` proves a claim (``symderiv.verify``) and, when it fails, raises
an ``AssertionError`` whose message names the expression, the claim, the correct
formula, the failing entry with a witness, and a *diagnosis*. Every diagnosis is
decided by verifying a transformed candidate (the claim transposed, its factors
swapped, a sum over the other axis, the claim rescaled, the expression without its
``relu``) — never by looking at how the claim is spelled.

``check_backward`` runs a user's NumPy backward function on random inputs and
compares each returned gradient with the derived formula evaluated by NumPy.

The pytest plugin (``symderiv.pytest_plugin``) builds on these: see docs/testing.md.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from . import expr as ex
from .errors import OptionError, SymderivError
from .verification import Verdict, parse_claim, prepare, verify

__all__ = ["assert_gradient", "check_backward", "diagnose", "BackwardCheck", "Identity", "load_identities",
           "identity_params", "HOLDS", "Checker", "gradient_report", "verdict_report"]

#: Options of ``verify`` that also shape the correct formula (passed on to ``gradient``).
_FORMULA_OPTIONS = ("functions", "symmetric", "upstream", "layout", "budget", "timeout")
#: Most candidates tried per diagnosis family, so a long claim cannot make a failure slow.
_MAX_CANDIDATES = 8
#: Seconds one diagnosis candidate may take when the caller set no timeout.
_CANDIDATE_TIMEOUT = 10.0


# --------------------------------------------------------------------------
# Expression surgery (trees in, trees out; text only for display and for verify)


def _text(node: ex.Expr) -> str:
    from .printing import to_text

    return to_text(node)


def _rebuild(node: ex.Expr, visit: Callable[[ex.Expr], ex.Expr | None]) -> ex.Expr:
    """Bottom-up copy of ``node``; ``visit`` may return a replacement for any (already rebuilt) node."""
    changes = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if isinstance(value, ex.Expr):
            new = _rebuild(value, visit)
            if new is not value:
                changes[f.name] = new
    if changes:
        node = dataclasses.replace(node, **changes)
    replaced = visit(node)
    return node if replaced is None else replaced


def _replace_at(root: ex.Expr, target: ex.Expr, new: ex.Expr) -> ex.Expr:
    """``root`` with the node *object* ``target`` (identity, not equality) replaced by ``new``."""
    if root is target:
        return new
    changes = {}
    for f in dataclasses.fields(root):
        value = getattr(root, f.name)
        if isinstance(value, ex.Expr):
            child = _replace_at(value, target, new)
            if child is not value:
                changes[f.name] = child
    return dataclasses.replace(root, **changes) if changes else root


def _matmul_factors(node: ex.Expr) -> list[ex.Expr]:
    if isinstance(node, ex.MatMul):
        return _matmul_factors(node.left) + _matmul_factors(node.right)
    return [node]


def _chain(factors: Sequence[ex.Expr]) -> ex.Expr:
    node = factors[0]
    for f in factors[1:]:
        node = ex.MatMul(node, f)
    return node


def _order_candidates(claim: ex.Expr) -> list[ex.Expr]:
    """The claim with one product's factors swapped, or a whole product chain reversed."""
    out: list[ex.Expr] = []
    for node in claim.walk():
        if isinstance(node, ex.MatMul):
            out.append(_replace_at(claim, node, ex.MatMul(node.right, node.left)))
            factors = _matmul_factors(node)
            if len(factors) > 2:
                out.append(_replace_at(claim, node, _chain(factors[::-1])))
    return out


def _axis_candidates(node: ex.Expr) -> list[ex.Expr]:
    """``node`` with one ``sum(..., axis=a)`` summed over the other axis instead."""
    out: list[ex.Expr] = []
    for sub in node.walk():
        if isinstance(sub, ex.Sum) and sub.axis is not None:
            flipped = _replace_at(node, sub, ex.Sum(sub.operand, axis=1 - sub.axis))
            out += [flipped, ex.Transpose(flipped)]
    return out


def _without_relu(expression: ex.Expr) -> list[tuple[ex.Expr, list[ex.Expr]]]:
    """The expression with one ``relu`` (and with every ``relu``) taken out, and the masks dropped."""
    relus = [n for n in expression.walk() if isinstance(n, ex.Apply) and n.fn == "relu"]
    out = []
    for node in relus:
        out.append((_replace_at(expression, node, node.operand), [node.operand]))
    if len(relus) > 1:
        stripped = _rebuild(expression, lambda n: n.operand if isinstance(n, ex.Apply) and n.fn == "relu" else None)
        out.append((stripped, [n.operand for n in relus]))
    return out


def _unique(nodes: Iterable[ex.Expr], exclude: ex.Expr) -> list[ex.Expr]:
    seen: list[ex.Expr] = []
    for n in nodes:
        if n != exclude and n not in seen:
            seen.append(n)
    return seen[:_MAX_CANDIDATES]


def _as_fraction(text: str | None) -> Fraction | None:
    if text is None:
        return None
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        pass
    try:
        return Fraction(float(text)).limit_denominator(1000)
    except (ValueError, OverflowError):
        return None


# --------------------------------------------------------------------------
# The correct formula


def _derived(expression: str, wrt: str, shapes: Mapping[str, Any] | None, options: Mapping[str, Any],
             check: bool = True) -> Any:
    """``symderiv.gradient(...)`` (a Gradient), or None when it refuses the expression."""
    from .backprop import gradient

    kwargs = {k: options[k] for k in _FORMULA_OPTIONS if k in options}
    try:
        return gradient(expression, wrt=wrt, shapes=shapes, check=check, **kwargs)
    except SymderivError:
        return None


def _gradient_formula(expression: str, wrt: str, shapes: Mapping[str, Any] | None,
                      options: Mapping[str, Any], check: bool = True) -> str | None:
    """``symderiv.gradient(...).formula``, or None."""
    formula = getattr(_derived(expression, wrt, shapes, options, check), "formula", None)
    return formula if isinstance(formula, str) else None


# --------------------------------------------------------------------------
# assert_gradient


def diagnose(expression: str, wrt: str, claim: str, shapes: Mapping[str, Any] | None = None,
             verdict: Verdict | None = None, **options: Any) -> list[str]:
    """Why a claim fails, as sentences; each is backed by a transformed candidate that does verify.

    >>> diagnose("X @ W", "W", "G.T @ X", {"X": (3, 2), "W": (2, 4)})[-1]
    'your claim is the transpose of the gradient: `(G.T @ X).T` holds'
    """
    verdict = verdict if verdict is not None else verify(expression, wrt, claim, shapes, **options)
    if verdict.holds or verdict.status not in ("refuted", "shape"):
        return []
    problem = prepare(expression, [wrt], shapes, functions=options.get("functions", ()),
                      symmetric=options.get("symmetric", ()), upstream=options.get("upstream", "G"),
                      layout=options.get("layout", "denominator"))
    claim_node = parse_claim(problem, claim)

    # A candidate is evidence only; one that the exact engine finds slow is given up on, not waited for.
    limited = {**options, "timeout": options.get("timeout") or _CANDIDATE_TIMEOUT}

    def holds(candidate: ex.Expr, on: str = expression) -> bool:
        try:
            return verify(on, wrt, _text(candidate), shapes, **limited).holds
        except SymderivError:  # a candidate outside the language or the budget is simply not evidence
            return False

    found: list[str] = []
    if verdict.status == "shape":
        found.append("your claim has the wrong shape")
    transposed = ex.Transpose(claim_node)
    if holds(transposed):
        found.append(f"your claim is the transpose of the gradient: `{_text(transposed)}` holds")
    for candidate in _unique(_order_candidates(claim_node), claim_node):
        if holds(candidate):
            found.append(f"factors in the wrong order: `{_text(candidate)}` holds")
            break
    for candidate in _unique(_axis_candidates(claim_node), claim_node):
        if holds(candidate):
            found.append(f"summed over the wrong axis: `{_text(candidate)}` holds")
            break
    upstream = problem.upstream
    for stripped, masked in _without_relu(problem.expression):
        if holds(claim_node, on=_text(stripped)):
            masks = ", ".join(f"`step({_text(z)})`" for z in masked)
            sentence = (f"missing the {masks} mask{'s' if len(masked) > 1 else ''}: your claim is the gradient of `{_text(stripped)}`, "
                        "as if relu were the identity")
            if len(masked) == 1 and not problem.scalar:
                mask = ex.Apply(masked[0], fn="step")
                fixed = _rebuild(claim_node, lambda n, mask=mask: ex.Mul(n, mask)
                                 if isinstance(n, ex.Symbol) and n.name == upstream else None)
                if holds(fixed):
                    sentence += f"; `{_text(fixed)}` holds"
            found.append(sentence)
            break
    cx = verdict.counterexample
    if cx is not None:
        want, got = _as_fraction(cx.gradient_value), _as_fraction(cx.claim_value)
        if want and got:
            factor = got / want  # the claim is `factor` times the gradient, if anything
            if factor != 1:
                scaled = ex.Mul(ex.Number(1 / factor), claim_node)
                if holds(scaled):
                    found.append(f"off by a factor of {factor}: your claim is {factor} × the gradient "
                                 f"(`{_text(scaled)}` holds)")
    symmetric = set(options.get("symmetric", ()))
    for name, (rows, cols) in problem.typing.symbols.items():
        if rows == cols and name != wrt and name not in symmetric:
            try:
                if verify(expression, wrt, claim, shapes, **{**limited, "symmetric": [*symmetric, name]}).holds:
                    found.append(f"your claim holds only when `{name}` is symmetric "
                                 f"(it does with symmetric=[{name!r}])")
            except SymderivError:
                pass
    return found


def gradient_report(verdict: Verdict, shapes: Mapping[str, Any] | None = None, *, witness: bool = True,
                    **options: Any) -> str:
    """The failure message of :func:`assert_gradient` for ``verdict``.

    >>> v = verify("X @ W", "W", "X @ G", {"X": (3, 2), "W": (2, 4)})
    >>> print(gradient_report(v, {"X": (3, 2), "W": (2, 4)}).splitlines()[0])
    ∂L/∂W = X @ G does not hold for L = X @ W
    """
    wrt = verdict.wrt
    lines = [f"∂L/∂{wrt} = {verdict.claim} does not hold for L = {verdict.expression}"]
    try:
        problem = prepare(verdict.expression, [wrt], shapes, functions=options.get("functions", ()),
                          symmetric=options.get("symmetric", ()), upstream=options.get("upstream", "G"))
        from .shapes import format_shape
        lines.append("  shapes:     " + ", ".join(f"{k}: {format_shape(s)}" for k, s in problem.typing.symbols.items()))
    except SymderivError:
        pass
    lines.append(f"  your claim: ∂L/∂{wrt} = {verdict.claim}")
    formula = _gradient_formula(verdict.expression, wrt, shapes, options)
    if formula is not None:
        lines.append(f"  correct:    ∂L/∂{wrt} = {formula}")
    lines.append(f"  why:        {verdict.reason}")
    if witness and verdict.counterexample is not None:
        lines += ["  " + line for line in verdict.counterexample.describe().splitlines()]
    diagnoses = diagnose(verdict.expression, wrt, verdict.claim, shapes, verdict, **options)
    for i, sentence in enumerate(diagnoses):
        lines.append(("  diagnosis:  " if i == 0 else "              ") + sentence)
    return "\n".join(lines)


def verdict_report(verdict: Verdict, *, witness: bool = True) -> str:
    """The report for a verdict seen on its own (as the pytest plugin sees it).

    A verdict does not keep the caller's options, so the correct formula and the
    diagnoses are added when the proof's concrete shapes are known and the claim
    re-verifies with default options; otherwise this is ``verdict.report()``.

    >>> print(verdict_report(verify("X @ W", "W", "X.T @ G", {"X": (3, 2), "W": (2, 4)})))
    PROVED  ∂L/∂W = X.T @ G  for L = X @ W
    proved entrywise on {X: 3×2, W: 2×4}
    """
    shapes = verdict.proof.shapes[0] if verdict.proof is not None and verdict.proof.shapes else None
    if verdict.holds or shapes is None:
        return verdict.report()
    try:
        again = verify(verdict.expression, verdict.wrt, verdict.claim, shapes)
    except SymderivError:
        return verdict.report()
    if again.holds:
        return verdict.report()
    return gradient_report(again, shapes, witness=witness)


def assert_gradient(expr: str, wrt: str, claim: str, shapes: Mapping[str, Any] | None = None,
                    **options: Any) -> Verdict:
    """Assert ``∂L/∂wrt == claim``; on failure raise ``AssertionError`` with a readable report.

    ``options`` are those of :func:`symderiv.verify` (``functions``, ``symmetric``,
    ``upstream``, ``layout``, ``budget``, ...). Returns the verdict when it holds.

    >>> assert_gradient("X @ W + b", "W", "X.T @ G", {"X": ("N", "K"), "W": ("K", "M"), "b": (1, "M")}).holds
    True
    >>> assert_gradient("X @ W", "W", "G.T @ X", {"X": (3, 2), "W": (2, 4)})
    Traceback (most recent call last):
    AssertionError: ∂L/∂W = G.T @ X does not hold for L = X @ W
    ...
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this helper's
    verdict = verify(expr, wrt, claim, shapes, **options)
    if not verdict.holds:
        raise AssertionError(gradient_report(verdict, shapes, **options))
    return verdict


class _Holds:
    """Compare a Verdict with this (``assert verdict == HOLDS``) so pytest can show the full report."""

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Verdict):
            return other.holds
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "HOLDS"


#: ``assert symderiv.verify(...) == HOLDS`` fails with the verdict's report under pytest (see docs/testing.md).
HOLDS = _Holds()


# --------------------------------------------------------------------------
# check_backward


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
        derived = _derived(expression, name, shapes, {"functions": functions, "upstream": upstream})
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
    from .shapes import format_shape

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
) -> BackwardCheck:
    """Check a hand-written NumPy backward pass against the derived gradients.

    ``fn(upstream_value, *inputs)`` gets the upstream gradient and the inputs (in
    order of first appearance in ``expr``, or ``inputs``) and returns a dict
    name → array or a tuple in the order of ``wrt``. Dimension names get distinct
    random sizes in each of ``trials`` trials. For a scalar ``expr`` the upstream
    value is ``1.0``. Raises ``AssertionError`` saying which output is wrong and how.

    >>> import numpy as np
    >>> def linear_backward(dY, X, W, b):
    ...     return {"X": dY @ W.T, "W": X.T @ dY, "b": dY.sum(0)}
    >>> check_backward(linear_backward, "X @ W + b", ["X", "W", "b"],
    ...                {"X": ("N", "K"), "W": ("K", "M"), "b": (1, "M")}).max_error < 1e-12
    True
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this helper's
    import numpy as np

    if trials < 1:
        raise OptionError("trials must be at least 1")
    wrt_names = [wrt] if isinstance(wrt, str) else list(wrt)
    functions = tuple(functions)
    problem = prepare(expr, wrt_names, shapes, functions=functions, upstream=upstream)
    order = problem.expression.symbols()
    if inputs is not None:
        inputs = list(inputs)
        if sorted(inputs) != sorted(order):
            raise OptionError(f"inputs must list each matrix of `{expr}` once: {', '.join(order)}",
                              hint=f"got {', '.join(inputs)}")
        order = inputs
    refs = _references(problem, expr, wrt_names, shapes, functions, upstream)
    fn_name = getattr(fn, "__name__", "the backward function")
    positive = bool(problem.expression.functions() & {"log", "sqrt"})
    rng = np.random.default_rng(seed)
    result = BackwardCheck(wrt_names)
    dims = problem.typing.dim_names
    for trial in range(trials):
        sizes = _sizes_for(dims, rng)
        result.sizes.append(sizes)
        concrete = problem.typing.substitute(sizes)
        env: dict[str, Any] = {}
        for name in problem.expression.symbols():
            shape = concrete.symbols[name]
            values = rng.standard_normal(shape)
            env[name] = np.abs(values) + 0.5 if positive else values
        out_shape = _concrete(problem.result_shape, sizes)
        upstream_value: Any = 1.0 if problem.scalar else rng.standard_normal(out_shape)
        returned = fn(upstream_value, *[env[n].copy() for n in order])
        outputs = _call_outputs(returned, wrt_names, fn_name)
        renv = {**env, upstream: np.asarray(upstream_value, dtype=float).reshape(out_shape)}
        from .numeric import evaluate

        failures = []
        for ref in refs:
            want = _concrete(ref.shape, sizes)
            correct = np.broadcast_to(evaluate(ref.node, renv, sizes=sizes), want)
            got, problem_kind = _conform(outputs[ref.name], want)
            if problem_kind is None and np.allclose(got, correct, rtol=rtol, atol=atol):
                result.max_error = max(result.max_error, float(np.max(np.abs(got - correct), initial=0.0)))
                continue
            failures.append(_describe_failure(ref, got, correct, problem_kind, sizes, renv, problem,
                                              shapes, functions, upstream, rtol, atol,
                                              _position(returned, ref.name, wrt_names)))
        if failures:
            where = ", ".join(f"{d}={s}" for d, s in sizes.items())
            head = (f"check_backward: {fn_name} disagrees with the derived gradient of L = {expr}\n"
                    f"  trial {trial + 1} of {trials} (seed {seed})" + (f" with {where}" if where else "")
                    + ("" if problem.scalar else f"; {upstream} is the upstream gradient, {fn_name}'s first argument"))
            raise AssertionError("\n".join([head, *failures]))
    return result


def _describe_failure(ref: _Reference, got: Any, correct: Any, kind: str | None, sizes: dict[str, int],
                      env: dict[str, Any], problem: Any, shapes: Mapping[str, Any] | None,
                      functions: tuple[str, ...], upstream: str, rtol: float, atol: float, position: str) -> str:
    import numpy as np

    from .numeric import evaluate

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
    for candidate in _axis_candidates(ref.node)[:_MAX_CANDIDATES]:
        try:
            value = evaluate(candidate, env, sizes=sizes)
        except (ValueError, KeyError):
            continue
        if _same(got, value, rtol, atol):
            diagnoses.append(f"summed over the wrong axis: it equals {_text(candidate)}")
            break
    for stripped, masked in _without_relu(problem.expression):
        # Unchecked: a candidate only has to match the user's numbers, and a wrong one simply does not.
        derived = _derived(_text(stripped), ref.name, shapes, {"functions": functions, "upstream": upstream},
                           check=False)
        if derived is None:
            continue
        if _same(got, np.broadcast_to(evaluate(derived.expr, env, sizes=sizes), want), rtol, atol):
            masks = ", ".join(f"step({_text(z)})" for z in masked)
            diagnoses.append(f"missing the {masks} mask{'s' if len(masked) > 1 else ''}: it is the gradient of {_text(stripped)}, as if relu were "
                             "the identity (multiply the upstream gradient by the mask, in NumPy `(Z > 0)`, "
                             "where relu(Z) is applied)")
            break
    if kind is None and not diagnoses:
        norm = float(np.sum(correct * correct))
        if norm > 0:
            factor = float(np.sum(got * correct)) / norm
            if abs(factor - 1) > 1e-6 and np.allclose(got, factor * correct, rtol=rtol, atol=atol):
                shown = Fraction(factor).limit_denominator(1000)
                text = str(shown) if abs(float(shown) - factor) <= 1e-9 * max(1.0, abs(factor)) else f"{factor:.6g}"
                diagnoses.append(f"off by a factor of {text}: it is {text} × the gradient")
    for sentence in diagnoses:
        lines.append(f"    diagnosis: {sentence}")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Tables of identities


@dataclass(frozen=True)
class Identity:
    """One row of an identity table: ``∂L/∂wrt = claim`` for ``L = expr`` (or a known non-identity).

    >>> Identity("W @ X", "W", "G @ X.T").check().holds
    True
    """

    expr: str
    wrt: str
    claim: str
    shapes: Mapping[str, Any] | None = None
    id: str | None = None
    holds: bool = True
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def test_id(self) -> str:
        """A readable id for ``-k``: the row's ``id``, else ``d<wrt>-<expr words>``."""
        if self.id:
            return self.id
        import re

        words = re.sub(r"[^0-9A-Za-z_]+", "_", self.expr).strip("_")
        return f"d{self.wrt}-{words}"

    def check(self) -> Verdict:
        """Assert the row: it holds (``holds = true``) or it does not (``holds = false``)."""
        __tracebackhide__ = True
        if self.holds:
            return assert_gradient(self.expr, self.wrt, self.claim, self.shapes, **dict(self.options))
        verdict = verify(self.expr, self.wrt, self.claim, self.shapes, **dict(self.options))
        if verdict.holds:
            raise AssertionError(f"∂L/∂{self.wrt} = {self.claim} for L = {self.expr} is listed as false, but it "
                                 f"holds: {verdict.reason}")
        return verdict


_ROW_KEYS = {"expr", "wrt", "claim", "shapes", "id", "holds", "functions", "symmetric", "upstream", "layout"}


def _row(raw: Any, where: str) -> Identity:
    if isinstance(raw, Identity):
        return raw
    if not isinstance(raw, Mapping):
        raise OptionError(f"{where}: an identity is a table with expr, wrt, claim (and shapes), not {raw!r}")
    unknown = set(raw) - _ROW_KEYS
    missing = {"expr", "wrt", "claim"} - set(raw)
    if unknown or missing:
        raise OptionError(f"{where}: " + "; ".join(
            ([f"missing {', '.join(sorted(missing))}"] if missing else [])
            + ([f"unknown key {', '.join(sorted(unknown))}"] if unknown else [])),
            hint="keys are " + ", ".join(sorted(_ROW_KEYS)))
    shapes = raw.get("shapes")
    if shapes is not None:
        shapes = {k: tuple(v) for k, v in shapes.items()}
    options = {k: raw[k] for k in ("functions", "symmetric", "upstream", "layout") if k in raw}
    return Identity(str(raw["expr"]), str(raw["wrt"]), str(raw["claim"]), shapes, raw.get("id"),
                    bool(raw.get("holds", True)), options)


def load_identities(source: str | Path | Iterable[Any]) -> list[Identity]:
    """Rows from a TOML or JSON file (``[[identity]]`` tables / a list of objects) or from a list.

    >>> [i.test_id for i in load_identities([{"expr": "W @ X", "wrt": "W", "claim": "G @ X.T"}])]
    ['dW-W_X']
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".toml":
            try:
                import tomllib
            except ImportError:  # Python 3.10: TOML needs 3.11's tomllib; JSON tables work everywhere
                raise OptionError(f"{path}: reading TOML needs Python 3.11 or later",
                                  hint="write the table as JSON instead") from None
            data: Any = tomllib.loads(text)
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            raise OptionError(f"{path}: identity tables are .toml or .json files")
        if isinstance(data, Mapping):
            data = data.get("identity", data.get("identities"))
            if data is None:
                raise OptionError(f"{path}: no [[identity]] rows found")
        rows = [_row(r, f"{path} row {i + 1}") for i, r in enumerate(data)]
    else:
        rows = [_row(r, f"row {i + 1}") for i, r in enumerate(source)]
    ids = [r.test_id for r in rows]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        # Equal ids would make pytest suffix them with 0, 1, ...; give the rows an `id` instead.
        rows = [dataclasses.replace(r, id=f"{r.test_id}-{n}") if r.test_id in dupes else r
                for n, r in enumerate(rows)]
    return rows


def identity_params(source: str | Path | Iterable[Any]) -> list[Any]:
    """``pytest.param`` objects, one per row, each with the row's readable id.

    >>> [p.id for p in identity_params([{"expr": "trace(A)", "wrt": "A", "claim": "eye(n)", "id": "trace"}])]
    ['trace']
    """
    import pytest

    return [pytest.param(row, id=row.test_id) for row in load_identities(source)]


class Checker:
    """What the ``symderiv_verify`` fixture gives a test: assert a claim, an identity row, or a backward pass.

    >>> Checker()("W @ X", "W", "G @ X.T").holds
    True
    """

    def __call__(self, expr: str | Identity | Mapping[str, Any], wrt: str | None = None, claim: str | None = None,
                 shapes: Mapping[str, Any] | None = None, **options: Any) -> Verdict:
        if not isinstance(expr, str):
            __tracebackhide__ = True
            return _row(expr, "identity").check()
        if wrt is None or claim is None:
            raise OptionError("symderiv_verify(expr, wrt, claim, shapes) needs wrt and claim")
        __tracebackhide__ = True
        return assert_gradient(expr, wrt, claim, shapes, **options)

    def backward(self, fn: Callable[..., Any], expr: str, wrt: str | Sequence[str],
                 shapes: Mapping[str, Any] | None, **options: Any) -> BackwardCheck:
        __tracebackhide__ = True
        return check_backward(fn, expr, wrt, shapes, **options)

    def verdict(self, expr: str, wrt: str, claim: str, shapes: Mapping[str, Any] | None = None,
                **options: Any) -> Verdict:
        return verify(expr, wrt, claim, shapes, **options)
