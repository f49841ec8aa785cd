"""Random inputs with an assumed structure, and the diagnosis of a missing assumption.

:func:`draw` gives a NumPy matrix with one of the kinds of ``assume=`` (one-hot rows, row-stochastic rows, ...),
so :func:`~symderiv.testing.check_backward` tests a backward pass on the inputs it is meant for.
:func:`missing_assumptions` finds the kinds under which a failing claim (``assert_gradient``) does hold.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from symderiv.core.errors import SymderivError
from symderiv.proofs.exact.assumed import KINDS
from symderiv.proofs.verification import verify
from symderiv.syntax.language import parse

#: The kinds tried when a claim or a backward pass fails without them, the weaker ones first.
CANDIDATE_KINDS = ("stochastic_rows", "onehot_rows", "stochastic_cols", "onehot_cols", "symmetric", "diagonal",
                   "positive")


def draw(kind: str | None, shape: tuple[int, int], rng: Any, *, positive: bool = False) -> Any:
    """A random ``shape`` matrix with the structure ``kind`` (None: standard normal entries, or positive ones).

    >>> import numpy as np
    >>> y = draw("onehot_rows", (4, 3), np.random.default_rng(0))
    >>> y.sum(axis=1).tolist(), sorted(set(y.ravel().tolist()))
    ([1.0, 1.0, 1.0, 1.0], [0.0, 1.0])
    >>> sorted(set(draw("signs", (20, 1), np.random.default_rng(0)).ravel().tolist()))
    [-1.0, 1.0]
    """
    import numpy as np

    rows, cols = shape
    if kind == "signs":
        return rng.choice(np.array([-1.0, 1.0]), size=shape)
    if kind in ("onehot_rows", "onehot_cols"):
        by_cols = kind == "onehot_cols"
        lines, length = (cols, rows) if by_cols else (rows, cols)
        m = np.eye(length)[rng.integers(0, length, size=lines)]
        return m.T.copy() if by_cols else m
    if kind in ("stochastic_rows", "stochastic_cols"):
        m = rng.random(shape) + 0.1
        return m / m.sum(axis=1 if kind == "stochastic_rows" else 0, keepdims=True)
    values = rng.standard_normal(shape)
    if kind == "positive" or positive:
        values = np.abs(values) + 0.5
    if kind == "symmetric":
        return (values + values.T) / 2
    if kind == "diagonal":
        return np.diag(np.diag(values)) if rows == cols else values * np.eye(rows, cols)
    return values


def fits(kind: str, shape: tuple[Any, Any]) -> bool:
    """Whether a matrix of ``shape`` can have the structure ``kind`` in a way that matters (square for symmetric
    and diagonal; more than one entry per line for one-hot and stochastic lines)."""
    rows, cols = shape
    if kind in ("symmetric", "diagonal"):
        return rows == cols and rows != 1
    if kind.endswith("_rows"):
        return cols != 1
    if kind.endswith("_cols"):
        return rows != 1
    return True


#: Kinds tried only for a backward pass (rerun on inputs drawn with them, which is cheap): ``signs`` changes every
#: even power of a symbol, so trying it on every failing claim would cost a proof per symbol.
BACKWARD_KINDS = (*CANDIDATE_KINDS, "signs")

#: Functions whose value the ``positive`` assumption changes (abs(P) = P): without them it cannot make a claim hold.
SIGN_FUNCTIONS = frozenset({"abs", "relu", "sign", "step"})


def candidates(symbols: Mapping[str, tuple[Any, Any]], wrt: list[str], assume: Mapping[str, str],
               functions: set[str] | frozenset[str] = SIGN_FUNCTIONS,
               kinds: tuple[str, ...] = CANDIDATE_KINDS) -> list[tuple[str, str]]:
    """``(name, kind)`` pairs worth trying: symbols held fixed and not yet assumed anything, kinds that fit
    (``positive`` only when the expression applies one of :data:`SIGN_FUNCTIONS`, given as ``functions``)."""
    return [(name, kind) for name, shape in symbols.items() if name not in wrt and name not in assume
            for kind in kinds if fits(kind, shape)
            and (kind != "positive" or functions & SIGN_FUNCTIONS)]


def advice(found: list[tuple[str, str]]) -> str:
    """The sentence naming the missing assumption(s).

    >>> advice([("Y", "stochastic_rows"), ("Y", "onehot_rows")])
    "missing assumption: it holds when `Y` is stochastic_rows or onehot_rows (each row sums to 1), not for every `Y`: pass assume={'Y': 'onehot_rows'} (or 'stochastic_rows')"
    """
    name = found[0][0]
    kinds = [k for n, k in found if n == name]
    why = {"stochastic_rows": "each row sums to 1", "onehot_rows": "each row sums to 1",
           "stochastic_cols": "each column sums to 1", "onehot_cols": "each column sums to 1",
           "signs": "every entry is +1 or -1"}
    reason = why.get(kinds[0]) or KINDS[kinds[0]]
    best = next((k for k in kinds if k.startswith("onehot")), kinds[0])
    others = [k for k in kinds if k != best]
    return (f"missing assumption: it holds when `{name}` is {' or '.join(kinds)} ({reason}), not for every `{name}`: "
            f"pass assume={{{name!r}: {best!r}}}" + (f" (or {', '.join(repr(k) for k in others)})" if others else ""))


def missing_assumptions(expression: str, wrt: str, claim: str, shapes: Mapping[str, Any] | None,
                        symbols: Mapping[str, tuple[Any, Any]], options: Mapping[str, Any]) -> list[str]:
    """The diagnosis of a claim that holds only under an assumption on a symbol it does not differentiate."""
    assume = dict(options.get("assume") or {})
    found: list[tuple[str, str]] = []
    applied = parse(expression, functions=tuple(options.get("functions", ())),
                    upstream=options.get("upstream", "G")).functions()
    for name, kind in candidates(symbols, [wrt], assume, applied):
        if kind == "symmetric":
            continue  # diagnosis.symmetric says this one in its own words
        try:
            again = verify(expression, wrt, claim, shapes, **{**options, "assume": {**assume, name: kind}})
        except SymderivError:
            continue
        if again.holds or again.checked_at_sizes:
            found.append((name, kind))
    return [advice(found)] if found else []


def backward_assumptions(symbols: Mapping[str, tuple[int, int]], wrt: list[str], assume: Mapping[str, str],
                         agrees: Callable[[Mapping[str, str]], bool]) -> list[str]:
    """The diagnosis of a backward pass that agrees with the gradient when some input has a structure it was not
    declared to have: ``agrees(assume)`` reruns the comparison on inputs drawn with ``assume``."""
    found = [(name, kind) for name, kind in candidates(symbols, wrt, assume, kinds=BACKWARD_KINDS)
             if kind != "positive" and agrees({**assume, name: kind})]
    return [advice(found)] if found else []


__all__ = ["BACKWARD_KINDS", "CANDIDATE_KINDS", "advice", "backward_assumptions", "candidates", "draw", "fits", "missing_assumptions"]
