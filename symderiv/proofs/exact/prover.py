"""Proving a claimed gradient on concrete shapes, or refuting it with a witness."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from symderiv.backends.numbers import format_number
from symderiv.backends.to_sympy import ratio_to_sympy, write_out_expansions
from symderiv.core import expr as ex
from symderiv.core.errors import TimeoutError, UnsupportedError
from symderiv.ops import elementwise
from symderiv.proofs.exact.algebra import NotDifferentiable, Poly, Ratio, Variables, gradient_of_pairing
from symderiv.proofs.exact.entrywise import Instance, Matrix, gc_paused, shape_of
from symderiv.proofs.exact.witness import Point, Witness, polynomial_witness, search


@dataclass
class Counterexample:
    """Where a claim fails: the entry, both sides there, and numbers that witness it."""

    entry: tuple[int, int]
    gradient_entry: str
    claim_entry: str
    values: dict[str, list[list[str]]] = field(default_factory=dict)
    gradient_value: str | None = None
    claim_value: str | None = None
    wrt: str = ""

    def describe(self) -> str:
        d, c = self.entry
        lines = [f"at entry [{d},{c}]: ∂L/∂{self.wrt}[{d},{c}] = {self.gradient_entry}",
                 f"              but the claim gives {self.claim_entry}"]
        if self.gradient_value is not None:
            lines.append("witness: " + "; ".join(f"{k} = {_fmt_matrix(v)}" for k, v in self.values.items()))
            lines.append(f"         there ∂L/∂{self.wrt}[{d},{c}] = {self.gradient_value} "
                         f"but the claim gives {self.claim_value}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"entry": list(self.entry), "gradient_entry": self.gradient_entry, "claim_entry": self.claim_entry,
                "values": self.values, "gradient_value": self.gradient_value, "claim_value": self.claim_value}


def _fmt_matrix(rows: list[list[str]]) -> str:
    return "[" + ", ".join("[" + ", ".join(r) + "]" for r in rows) + "]"


@dataclass
class Outcome:
    """The result of one concrete-shape comparison."""

    status: str  # "proved", "refuted", "undecided", "shape"
    detail: str = ""
    counterexample: Counterexample | None = None
    gradient: Matrix | None = None


def loss_gradient(instance: Instance, expression: ex.Expr, wrt: str, upstream: str) -> tuple[Matrix, bool]:
    """∂L/∂wrt as a matrix of Ratios, in the denominator layout, and whether E was scalar."""
    with gc_paused():
        return _loss_gradient(instance, expression, wrt, upstream)


def _loss_gradient(instance: Instance, expression: ex.Expr, wrt: str, upstream: str) -> tuple[Matrix, bool]:
    value = instance.evaluate(expression)
    rows, cols = shape_of(value)
    scalar = (rows, cols) == (1, 1)
    target = [[_var_of(x) for x in row] for row in instance.symbol(wrt)]
    wrt_vars = {v for row in target for v in row}
    if scalar:
        terms: list[tuple[tuple[int, ...], Ratio]] = [((), value[0][0])]
    else:
        # L = Σ G[i,j] D[i,j]; the pairing is differentiated term by term without
        # materialising L (gradient_of_pairing), which halves the work.
        g = instance.symbol(upstream, (rows, cols))
        terms = []
        for i in range(rows):
            for j in range(cols):
                gij = g[i][j]
                (gm, gc), = gij.num.items()
                assert gc == 1 and gij.den is None, "upstream entries are plain variables"
                terms.append((gm, value[i][j]))
    try:
        grads = gradient_of_pairing(instance.vars, terms, wrt_vars, instance.deadline)
    except NotDifferentiable as err:
        raise UnsupportedError(f"cannot differentiate with respect to {wrt}: {err}",
                               hint="rewrite the expression without differentiating through step/sign") from None
    return [[grads.get(v, Ratio({})) for v in row] for row in target], scalar


def proves_with(instance: Instance, expression: ex.Expr, wrt: str, claim: ex.Expr, upstream: str,
                numerator_layout: bool) -> bool:
    """Whether ``claim`` equals the gradient exactly on ``instance`` (a prove-only route: an instance that writes
    some values in a special way, such as the entries of ``inv`` as atoms or a function by its expansion, can
    prove an identity but its differences are no witnesses).
    """
    with gc_paused():
        gradient, _ = loss_gradient(instance, expression, wrt, upstream)
        if numerator_layout:
            gradient = [list(col) for col in zip(*gradient, strict=True)]
        # loss_gradient has bound the upstream G (for a matrix-valued expression) that the claim may hold.
        claimed = instance.evaluate(claim)
    if [len(row) for row in claimed] != [len(row) for row in gradient]:
        return False
    return all(x.equals(claimed[i][j]) for i, row in enumerate(gradient) for j, x in enumerate(row))


def _var_of(entry: Ratio) -> int:
    (mono,) = entry.num
    return mono[0]


def compare(instance: Instance, gradient: Matrix, claim: Matrix, wrt: str, seed: int = 0,
            domain: Callable[[Point], None] | None = None) -> Outcome:
    """Compare entry by entry; the first failing entry is refuted with a confirmed witness when one is found.

    ``domain`` raises ``OutOfDomain`` at points outside the domain of the expression or the claim
    (:class:`symderiv.proofs.exact.witness.PointDomain`); a witness is only ever taken inside it.
    """
    if shape_of(gradient) != shape_of(claim):
        g, c = shape_of(gradient), shape_of(claim)
        return Outcome("shape", f"shape: the claim is {c[0]}×{c[1]} but ∂L/∂{wrt} is {g[0]}×{g[1]}")
    undecided: list[tuple[int, int]] = []
    timed_out = False
    sympy_time = [SYMPY_SECONDS]  # one allowance for the whole comparison, not one per entry
    first: Counterexample | None = None
    for i, (grow, crow) in enumerate(zip(gradient, claim, strict=True)):
        for j, (a, b) in enumerate(zip(grow, crow, strict=True)):
            instance.deadline()
            if a.equals(b):
                continue
            try:
                witness, equal = _decide_entry(instance, a, b, domain, seed + 31 * i + j, sympy_time)
            except TimeoutError:
                witness, equal, timed_out = None, False, True
            if equal:
                continue
            cx = Counterexample((i, j), format_ratio(instance.vars, a), format_ratio(instance.vars, b), wrt=wrt)
            if witness is not None:
                cx.values = witness.values
                cx.gradient_value = witness.gradient_value
                cx.claim_value = witness.claim_value
                return Outcome("refuted", f"differs at entry [{i},{j}]", cx, gradient)
            undecided.append((i, j))
            first = first or cx
            if timed_out:
                break
        if timed_out:
            break
    instance.deadline.clear()
    if undecided:
        if timed_out:
            detail = (f"entry {undecided[-1]} differs as a formal expression; the time limit ran out before a "
                      "witness was found or the entries were shown equal")
        else:
            detail = (f"entries {undecided[:4]} differ as formal expressions but agree at every point of the "
                      "domain tried; symderiv could neither prove nor refute them")
        return Outcome("undecided", detail, first, gradient)
    return Outcome("proved", "", None, gradient)


def _decide_entry(instance: Instance, a: Ratio, b: Ratio, domain: Callable[[Point], None] | None,
                  seed: int, sympy_time: list[float] | None = None) -> tuple[Witness | None, bool]:
    """(a confirmed witness, or None; whether the entries were shown equal through function identities)."""
    diff = a - b
    if not diff.variables() & set(instance.vars.atoms):
        # A rational function of the entries whose exact form is not zero is certainly not zero: small values
        # first (a readable witness), then Schwartz–Zippel, which cannot miss.
        witness = search(instance, a, b, domain=domain, seed=seed, attempts=QUICK_ATTEMPTS)
        return witness or polynomial_witness(instance, a, b, domain=domain, seed=seed), False
    witness = search(instance, a, b, domain=domain, seed=seed)
    if witness is not None:
        return witness, False
    return None, _sympy_equal(instance.vars, a, b, instance.deadline, sympy_time)


#: Largest entry (in printed characters) handed to SymPy's simplify, which has no time limit of its own.
SYMPY_LIMIT = 4000  # pragma: no mutate - tuning: a bound on SymPy's time (its boundary is tested)
#: Tuning: small-value points tried for a readable witness before the polynomial search, which cannot miss.
QUICK_ATTEMPTS = 24  # pragma: no mutate - tuning (above)
#: Seconds SymPy may take when the caller set no time limit.
SYMPY_SECONDS = 60.0


def _sympy_equal(vars_: Variables, a: Ratio, b: Ratio, deadline: Any = None,
                 allowance: list[float] | None = None) -> bool:
    """A second chance for entries equal only through function identities (identities of the functions, which atoms do not know).

    SymPy runs in a worker thread given the time left (an unfinished simplification
    is abandoned and counts as "not proved"), and only on entries of moderate size;
    ``allowance`` (seconds, shared by the entries of one comparison) is used up as it runs.
    """
    if not (a.variables() | b.variables()) & set(vars_.atoms):  # a rational function: equal only when a.equals(b)
        return False
    if len(format_ratio(vars_, a, SYMPY_LIMIT)) + len(format_ratio(vars_, b, SYMPY_LIMIT)) >= SYMPY_LIMIT:
        return False
    end = getattr(deadline, "end", None)
    seconds = allowance[0] if allowance is not None else SYMPY_SECONDS
    if end is not None:
        seconds = min(seconds, end - time.monotonic())
    if seconds <= 0:
        return False
    started = time.monotonic()
    result: list[bool] = []

    def work() -> None:
        try:
            import sympy  # type: ignore[import-untyped]

            diff = write_out_expansions(ratio_to_sympy(vars_, a) - ratio_to_sympy(vars_, b))
            result.append(sympy.simplify(diff) == 0)
        except Exception:  # noqa: BLE001 - a failed simplification is only "not proved"
            result.append(False)

    worker = threading.Thread(target=work, daemon=True, name="symderiv-sympy")
    worker.start()
    worker.join(seconds)
    if allowance is not None:
        allowance[0] -= time.monotonic() - started
    return bool(result and result[0])


# --------------------------------------------------------------------------
# Printing entries


def format_ratio(vars_: Variables, r: Ratio, limit: int = 300) -> str:
    text = _format_poly(vars_, r.num, limit)
    if r.fac is not None:
        parts = [f"({_format_poly(vars_, f, limit)})" + (f"**{e}" if e > 1 else "") for f, e in r.factors()]
        text = f"({text}) / " + " / ".join(parts)
    return text if len(text) <= limit else text[:limit] + " …"


def _format_var(vars_: Variables, v: int, limit: int) -> str:
    atom = vars_.atoms.get(v)
    if atom is None or atom.matrix is not None:  # an entry, or an entry of an inverse's atoms: inv(…)[i,j]
        return vars_.names[v]
    return (elementwise(atom.fn).text or atom.fn + "({})").format(format_ratio(vars_, atom.arg, limit))


def _format_poly(vars_: Variables, p: Poly, limit: int) -> str:
    if not p:
        return "0"
    parts: list[str] = []
    length = 0
    for mono in sorted(p, key=lambda m: (len(m), m)):
        c = p[mono]
        factors: list[str] = []
        for x, run in itertools.groupby(mono):  # a monomial is sorted: equal variables are adjacent
            name, count = _format_var(vars_, x, limit), len(list(run))
            factors.append(name if count == 1 else f"{name}**{count}")
        body = "*".join(factors)
        mag = abs(c)
        if not body:
            term = format_number(mag)
        elif mag == 1:
            term = body
        else:
            term = f"{format_number(mag)}*{body}"
        if parts:
            parts.append(("- " if c < 0 else "+ ") + term)
        else:
            parts.append(("-" if c < 0 else "") + term)
        length += len(term)
        if length > limit:
            break
    return " ".join(parts)
