"""Helpers for test suites: assert a claimed gradient, check a hand-written NumPy backward pass.

``assert_gradient`` proves a claim (``symderiv.verify``) and, when it fails, raises
an ``AssertionError`` whose message names the expression, the claim, the correct
formula, the failing entry with a witness, and a *diagnosis*. Every diagnosis is
decided by verifying a transformed candidate (the claim transposed, its factors
swapped, a sum over the other axis, the claim rescaled, the expression without a
function whose derivative is a mask, such as relu's) — never by looking at how the claim is spelled.

``assert_gradient`` passes on ``proved`` and ``probabilistic`` verdicts only: an
``undecided`` one (for example symbolic shapes checked at sample sizes) fails with a
message that says how to get a proof.

``check_backward`` (module ``symderiv.testing.backward_check``) runs a user's NumPy backward
function on random inputs and compares each returned gradient with the derived
formula evaluated by NumPy; ``framework="torch"``/``"jax"`` takes a function of tensors.
``check_autograd`` (module ``symderiv.testing.autograd``) checks a PyTorch or JAX forward function's
automatic gradient (or a custom ``torch.autograd.Function``'s backward) the same way.

The pytest plugin (``symderiv.pytest_plugin``) builds on these: see docs/testing.md.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from symderiv.core.errors import OptionError, SymderivError
from symderiv.core.status import Status
from symderiv.proofs.verification import Verdict, prepare, verify
from symderiv.syntax.shapes import format_shape
from symderiv.testing.autograd import check_autograd
from symderiv.testing.backward_check import BackwardCheck, check_backward
from symderiv.testing.diagnosis import diagnose
from symderiv.testing.surgery import gradient_formula

__all__ = ["assert_gradient", "check_autograd", "check_backward", "diagnose", "BackwardCheck", "Identity", "load_identities",
           "identity_params", "HOLDS", "Checker", "gradient_report", "verdict_report", "how_to_prove"]

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: TOML tables need 3.11's tomllib; JSON tables work everywhere
    tomllib = None



# --------------------------------------------------------------------------
# assert_gradient


def gradient_report(verdict: Verdict, shapes: Mapping[str, Any] | None = None, *, witness: bool = True,
                    **options: Any) -> str:
    """The failure message of :func:`assert_gradient` for ``verdict``.

    >>> v = verify("X @ W", "W", "X @ G", {"X": (3, 2), "W": (2, 4)})
    >>> print(gradient_report(v, {"X": (3, 2), "W": (2, 4)}).splitlines()[0])
    ∂L/∂W = X @ G does not hold for L = X @ W
    """
    wrt = verdict.wrt
    if verdict.status is Status.UNDECIDED:
        lines = [f"∂L/∂{wrt} = {verdict.claim} is not proved (undecided) for L = {verdict.expression}"]
    else:
        lines = [f"∂L/∂{wrt} = {verdict.claim} does not hold for L = {verdict.expression}"]
    try:
        problem = prepare(verdict.expression, [wrt], shapes, functions=options.get("functions", ()),
                          symmetric=options.get("symmetric", ()), upstream=options.get("upstream", "G"),
                          assume=options.get("assume"))
        lines.append("  shapes:     " + ", ".join(f"{k}: {format_shape(s)}" for k, s in problem.typing.symbols.items()))
    except SymderivError:
        pass
    lines.append(f"  your claim: ∂L/∂{wrt} = {verdict.claim}")
    formula = gradient_formula(verdict.expression, wrt, shapes, options)
    if formula is not None:
        lines.append(f"  correct:    ∂L/∂{wrt} = {formula}")
    lines.append(f"  why:        {verdict.reason}")
    if verdict.status is Status.UNDECIDED:
        lines.append(f"  to prove:   {how_to_prove(verdict)}")
    if witness and verdict.counterexample is not None:
        lines += ["  " + line for line in verdict.counterexample.describe().splitlines()]
    diagnoses = diagnose(verdict.expression, wrt, verdict.claim, shapes, verdict, **options)
    for i, sentence in enumerate(diagnoses):
        lines.append(("  diagnosis:  " if i == 0 else "              ") + sentence)
    return "\n".join(lines)


def how_to_prove(verdict: Verdict) -> str:
    """What would turn an ``undecided`` verdict into a proof (or a refutation).

    >>> v = verify("trace(W)", "W", "eye(n) + (trace(eye(n)) - 2) * (trace(eye(n)) - 3) * W")
    >>> how_to_prove(v).startswith("give concrete shapes")
    True
    """
    if verdict.checked_at_sizes:
        return ("give concrete shapes (shapes={'W': (3, 2), ...}) for an exact proof on those sizes, or write the "
                "claim in a form the all-shapes (index) engine handles (products, transposes, sums, traces, "
                "elementwise functions of them) to prove it for every size")
    return ("the two sides differ as formal expressions but agree at every point of the domain tried: rewrite the "
            "claim in the form symderiv derives (symderiv.gradient gives it), or check it with strict=True")


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
    ``upstream``, ``layout``, ``budget``, ``assume``, ``symmetric_convention``, ...). Returns the verdict when it holds
    (``proved`` or ``probabilistic``); an ``undecided`` verdict fails too, with a note
    on how to get a proof.

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


_OPTION_KEYS = ("functions", "symmetric", "upstream", "layout", "assume", "symmetric_convention")
_ROW_KEYS = {"expr", "wrt", "claim", "shapes", "id", "holds", *_OPTION_KEYS}


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
    options = {k: raw[k] for k in _OPTION_KEYS if k in raw}
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
            if tomllib is None:  # Python 3.10: TOML needs 3.11's tomllib; JSON tables work everywhere
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
    pytest = importlib.import_module("pytest")  # lazily: pytest is a test dependency, not a dependency
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
