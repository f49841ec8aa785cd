"""Proving a claimed gradient on concrete shapes, or refuting it with a witness."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from . import expr as ex
from .algebra import NotDifferentiable, Poly, Ratio, Variables, gradient_of_pairing
from .entrywise import Instance, Matrix, gc_paused, shape_of
from .errors import UnsupportedError

_WITNESS_VALUES = [Fraction(v) for v in (1, -1, 2, -2, 3, -3)] + [
    Fraction(1, 2), Fraction(-1, 2), Fraction(3, 2), Fraction(-3, 2), Fraction(1, 3), Fraction(-2, 3)]
_POSITIVE_ONLY = {"log", "sqrt"}
_KINKED = {"relu", "step", "abs", "sign"}


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
                if gc != 1 or gij.den is not None:  # pragma: no cover - upstream entries are plain variables
                    raise AssertionError("upstream entries must be variables")
                terms.append((gm, value[i][j]))
    try:
        grads = gradient_of_pairing(instance.vars, terms, wrt_vars, instance.deadline)
    except NotDifferentiable as err:
        raise UnsupportedError(f"cannot differentiate with respect to {wrt}: {err}",
                               hint="rewrite the expression without differentiating through step/sign") from None
    return [[grads.get(v, Ratio({})) for v in row] for row in target], scalar


def _var_of(entry: Ratio) -> int:
    (mono,) = entry.num
    return mono[0]


def compare(instance: Instance, gradient: Matrix, claim: Matrix, wrt: str, seed: int = 0) -> Outcome:
    """Compare entry by entry; the first failing entry is refuted with a witness when one is found."""
    if shape_of(gradient) != shape_of(claim):
        g, c = shape_of(gradient), shape_of(claim)
        return Outcome("shape", f"shape: the claim is {c[0]}×{c[1]} but ∂L/∂{wrt} is {g[0]}×{g[1]}")
    undecided: list[tuple[int, int]] = []
    for i, (grow, crow) in enumerate(zip(gradient, claim, strict=True)):
        for j, (a, b) in enumerate(zip(grow, crow, strict=True)):
            instance.deadline()
            if a.equals(b):
                continue
            witness = find_witness(instance, a - b, seed=seed + 31 * i + j)
            if witness is None and _sympy_equal(instance.vars, a, b):
                continue
            cx = Counterexample((i, j), format_ratio(instance.vars, a), format_ratio(instance.vars, b), wrt=wrt)
            if witness is not None:
                values, point = witness
                cx.values = values
                cx.gradient_value = _fmt_number(evaluate(instance.vars, a, point))
                cx.claim_value = _fmt_number(evaluate(instance.vars, b, point))
                return Outcome("refuted", f"differs at entry [{i},{j}]", cx, gradient)
            undecided.append((i, j))
            if len(undecided) == 1:
                first = cx
    instance.deadline.clear()
    if undecided:
        return Outcome("undecided", f"entries {undecided[:4]} differ as formal expressions but agree at every "
                       "point tried; symderiv could neither prove nor refute them", first, gradient)
    return Outcome("proved", "", None, gradient)


def _sympy_equal(vars_: Variables, a: Ratio, b: Ratio) -> bool:
    """A second chance for entries equal only through function identities (e.g. sqrt(x)**2 = x)."""
    if not (vars_.atoms and (a.variables() | b.variables()) & set(vars_.atoms)):
        return False
    try:
        import sympy

        from .to_sympy import ratio_to_sympy
        diff = ratio_to_sympy(vars_, a) - ratio_to_sympy(vars_, b)
        return sympy.simplify(diff) == 0
    except Exception:  # noqa: BLE001 - a failed simplification is only "not proved"
        return False


# --------------------------------------------------------------------------
# Numbers


class _OutOfDomain(Exception):
    pass


def evaluate(vars_: Variables, r: Ratio, point: dict[int, Any], cache: dict[int, Any] | None = None) -> Any:
    """The value of ``r`` at ``point`` (base variables → Fraction): exact where possible, else 60-digit mpmath."""
    cache = {} if cache is None else cache

    def var_value(v: int) -> Any:
        if v in point:
            return point[v]
        if v in cache:
            return cache[v]
        atom = vars_.atoms.get(v)
        if atom is None:
            raise _OutOfDomain(v)
        cache[v] = value = _apply(atom.fn, evaluate(vars_, atom.arg, point, cache))
        return value

    def poly_value(p: Poly) -> Any:
        total: Any = Fraction(0)
        for mono, c in p.items():
            term: Any = c
            for x in mono:
                value = var_value(x)
                term = term * value if isinstance(value, Fraction) or not isinstance(term, Fraction) \
                    else _as_mp(term) * value
            total = total + term if isinstance(term, Fraction) or not isinstance(total, Fraction) \
                else _as_mp(total) + term
        return total

    num = poly_value(r.num)
    if r.fac is None:
        return num
    den: Any = Fraction(1)
    for factor, e in r.factors():
        value = poly_value(factor)
        if value == 0:
            raise _OutOfDomain("denominator")
        den = den * value ** e if isinstance(value, Fraction) or not isinstance(den, Fraction) \
            else _as_mp(den) * value ** e
    return _as_mp(num) / _as_mp(den) if isinstance(num, Fraction) != isinstance(den, Fraction) else num / den


def _as_mp(x: Any) -> Any:
    if isinstance(x, Fraction):
        import mpmath

        mpmath.mp.dps = 60
        return mpmath.mpf(x.numerator) / x.denominator
    return x


def _apply(fn: str, x: Any) -> Any:
    import mpmath

    if fn in _KINKED or fn in _POSITIVE_ONLY or fn == "logabs":
        if x == 0:
            raise _OutOfDomain(fn)
    if fn in _POSITIVE_ONLY and x < 0:
        raise _OutOfDomain(fn)
    if fn == "relu":
        return x if x > 0 else x * 0
    if fn == "step":
        return Fraction(1) if x > 0 else Fraction(0)
    if fn == "abs":
        return abs(x)
    if fn == "sign":
        return Fraction(1) if x > 0 else Fraction(-1)
    mpmath.mp.dps = 60
    y = mpmath.mpf(x.numerator) / x.denominator if isinstance(x, Fraction) else mpmath.mpf(x)
    table = {"exp": mpmath.exp, "log": mpmath.log, "sqrt": mpmath.sqrt, "sin": mpmath.sin, "cos": mpmath.cos,
             "tan": mpmath.tan, "tanh": mpmath.tanh, "sigmoid": lambda t: 1 / (1 + mpmath.exp(-t)),
             "logabs": lambda t: mpmath.log(abs(t))}
    if fn in table:
        return table[fn](y)
    # A generic function: one fixed smooth instance, phi(z) = sin z + z/3, with its true derivative, the same
    # stand-in as symderiv.numeric; a claim that fails for this phi fails for generic phi.
    if fn.endswith("_prime"):
        return mpmath.cos(y) + mpmath.mpf(1) / 3
    return mpmath.sin(y) + y / 3


def _differs(a: Any, b: Any) -> bool:
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return a != b
    scale = max(1, abs(a), abs(b))
    return abs(a - b) > scale * 1e-40


def find_witness(instance: Instance, diff: Ratio, seed: int = 0, attempts: int = 60
                 ) -> tuple[dict[str, list[list[str]]], dict[int, Any]] | None:
    """Small rational values of the symbols where ``diff`` is not zero, or None."""
    vars_ = instance.vars
    base: set[int] = set()
    for v in diff.variables():
        base |= vars_.base_dependencies(v)
    for m in instance.bound.values():
        for row in m:
            for x in row:
                base.update(x.variables())
    rng = random.Random(seed)
    ordered = sorted(base)
    for _ in range(attempts):
        instance.deadline()
        point = {v: rng.choice(_WITNESS_VALUES) for v in ordered}
        try:
            value = evaluate(vars_, diff, point)
        except (_OutOfDomain, ZeroDivisionError, ValueError):
            continue
        if _differs(value, Fraction(0) if isinstance(value, Fraction) else 0):
            values = {name: [[_fmt_number(evaluate(vars_, x, point)) for x in row] for row in m]
                      for name, m in instance.bound.items()}
            return values, point
    return None


def _fmt_number(x: Any) -> str:
    if isinstance(x, Fraction):
        return str(x)
    if isinstance(x, int):
        return str(x)
    import mpmath

    return mpmath.nstr(x, 12)


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
    if atom is None:
        return vars_.names[v]
    inner = format_ratio(vars_, atom.arg, limit)
    if atom.fn == "logabs":
        return f"log|{inner}|"
    return f"{atom.fn}({inner})"


def _format_poly(vars_: Variables, p: Poly, limit: int) -> str:
    if not p:
        return "0"
    parts: list[str] = []
    length = 0
    for mono in sorted(p, key=lambda m: (len(m), m)):
        c = p[mono]
        factors: list[str] = []
        prev, count = None, 0
        for x in list(mono) + [None]:  # type: ignore[list-item]
            if x == prev:
                count += 1
                continue
            if prev is not None:
                name = _format_var(vars_, prev, limit)
                factors.append(name if count == 1 else f"{name}**{count}")
            prev, count = x, 1
        body = "*".join(factors)
        mag = abs(c)
        if not body:
            term = str(mag)
        elif mag == 1:
            term = body
        else:
            term = f"{mag}*{body}"
        if parts:
            parts.append(("- " if c < 0 else "+ ") + term)
        else:
            parts.append(("-" if c < 0 else "") + term)
        length += len(term)
        if length > limit:
            break
    return " ".join(parts)
