"""Assumptions on symbols (``assume={"Y": "onehot_rows"}``) as the exact prover uses them.

A structured symbol is *parametrised*: its matrix of entries is built from free parameters so that
every value of the parameters is a matrix with the structure, and every matrix with the structure is
reached.

- ``stochastic_rows``: row ``i`` is ``(p[i,0], ..., p[i,C-2], 1 - Σ_k p[i,k])``; ``stochastic_cols`` the same
  down each column. Identities in the free parameters are then exactly the identities under the assumption.
- ``onehot_rows`` / ``onehot_cols``: the stochastic parametrisation, plus the equations of a one-hot row:
  ``p² = p`` and ``p[i,j] p[i,k] = 0`` for ``j ≠ k``. These generate the ideal of the ``C`` points of a one-hot row
  (all parameters 0, the last entry 1; or one parameter 1), and they form a Gröbner basis of it (the standard
  monomials ``1, p[i,0], ..., p[i,C-2]`` are exactly as many as the points), so reducing a polynomial modulo
  them (:func:`reduce_poly`: exponents to 1, two parameters of one row to 0) gives a normal form that is zero
  exactly when the polynomial vanishes at every one-hot value, whatever the other variables are. A rational
  function is zero on the one-hot matrices when its numerator reduces to zero (the denominators must not vanish
  there, which :func:`reduce_ratio` checks). Atoms (``exp(X[0,0])``) are further independent variables, so this
  stays sound when an atom's argument contains a parameter.
- ``signs`` (alias ``pm1``): every entry is +1 or −1. The entries are free variables ``y``, and identities are
  decided modulo ``y² = 1``. These equations (one per entry) are a Gröbner basis of the ideal of the sign points
  ``{±1}ⁿ`` (the standard monomials, products of distinct entries, are as many as the points), so reducing a
  polynomial modulo them (:func:`reduce_poly`: each exponent of a sign entry taken modulo 2) gives a normal form,
  multilinear in the signs, that is zero exactly when the polynomial vanishes at every sign point, whatever the
  other variables are; rational functions as for one-hot rows. Labels ``y = ±1`` of logistic regression are the
  example: ``y² s (1 - s)`` becomes ``s (1 - s)``.
- ``diagonal``: the entries off the diagonal are the constant 0.
- ``positive``: free entries (a polynomial or rational identity that holds on an open set holds everywhere),
  with witnesses drawn positive; ``abs``, ``relu``, ``sign`` and ``step`` of a positive multiple of a product of
  such entries are evaluated (``abs(P) = P``).
- ``symmetric`` is the ``symmetric=[...]`` declaration (one variable for ``S[i,j]`` and ``S[j,i]``).

Witness points respect the assumption (:func:`constrain`): one-hot parameters are set to a one-hot pattern, sign
entries to ±1, the entries of a positive matrix made positive, so a refutation under an assumption has a witness that satisfies it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction
from itertools import groupby
from math import isqrt
from typing import Any

from symderiv.core.errors import OptionError, UnsupportedError
from symderiv.proofs.exact.algebra import Poly, Ratio, Variables, normal_coeff

#: The kinds of SPEC section 6, each with a sentence for reports.
KINDS: dict[str, str] = {
    "symmetric": "symmetric",
    "diagonal": "diagonal (zero off the diagonal)",
    "onehot_rows": "one-hot rows (each row has one 1 and zeros)",
    "onehot_cols": "one-hot columns (each column has one 1 and zeros)",
    "stochastic_rows": "row-stochastic (each row sums to 1)",
    "stochastic_cols": "column-stochastic (each column sums to 1)",
    "positive": "positive entries",
    "signs": "signs (every entry is +1 or -1)",
}

#: Other names accepted for a kind (``pm1`` for ``signs``); verdicts use the kind's own name.
ALIASES: dict[str, str] = {"pm1": "signs"}

#: Kinds whose rows (or columns) sum to 1.
ROW_SUMS_ONE = ("onehot_rows", "stochastic_rows")
COL_SUMS_ONE = ("onehot_cols", "stochastic_cols")

Matrix = list[list[Ratio]]


def normalise(assume: Mapping[str, str] | None) -> dict[str, str]:
    """Check the shape of an ``assume`` mapping: names to kinds of :data:`KINDS`.

    >>> normalise({"Y": "onehot_rows"})
    {'Y': 'onehot_rows'}
    >>> normalise({"Y": "unit"})
    Traceback (most recent call last):
    symderiv.core.errors.OptionError: assume: `unit` is not a kind of assumption (for `Y`)
    hint: the kinds are symmetric, diagonal, onehot_rows, onehot_cols, stochastic_rows, stochastic_cols, positive, signs
    >>> normalise({"y": "pm1"})
    {'y': 'signs'}
    """
    if assume is None:
        return {}
    if not isinstance(assume, Mapping):
        raise OptionError(f"assume must map names to kinds, such as {{'Y': 'onehot_rows'}}, not {assume!r}")
    out: dict[str, str] = {}
    for name, kind in assume.items():
        if not isinstance(name, str) or not isinstance(kind, str):
            raise OptionError(f"assume must map names to kinds (strings), not {name!r}: {kind!r}")
        kind = ALIASES.get(kind, kind)
        if kind not in KINDS:
            raise OptionError(f"assume: `{kind}` is not a kind of assumption (for `{name}`)",
                              hint="the kinds are " + ", ".join(KINDS))
        out[name] = kind
    return out


def check_against(assume: Mapping[str, str], symbols: Mapping[str, Any], wrt: Iterable[str], upstream: str) -> None:
    """Refuse assumptions on names the expression does not have, on the upstream, or on a differentiated matrix
    (an assumption constrains a symbol that is held fixed; ``symmetric`` is the one structure ``wrt`` may have)."""
    wrt = set(wrt)
    for name, kind in assume.items():
        if name == upstream:
            raise OptionError(f"assume: `{name}` is the upstream gradient, which is arbitrary by definition")
        if name not in symbols:
            raise OptionError(f"assume names `{name}`, which the expression does not have",
                              hint="assume is about matrices of the expression: " + ", ".join(symbols))
        if name in wrt and kind != "symmetric":
            raise UnsupportedError(
                f"assume: `{name}` is differentiated, so it cannot be assumed {kind}",
                hint="assumptions describe matrices that are held fixed, such as labels Y; symmetric is the one "
                     "structure a wrt matrix may have (see symmetric_convention)")


def describe(assume: Mapping[str, str]) -> str:
    """``Y onehot_rows, P positive``: the assumptions as reports name them.

    >>> describe({"Y": "onehot_rows"})
    'Y onehot_rows'
    """
    return ", ".join(f"{name} {kind}" for name, kind in assume.items())


class Structure:
    """The parametrised symbols of one proof: how each is bound, the one-hot groups, positive parameters."""

    def __init__(self, assume: Mapping[str, str] | None = None):
        self.assume = dict(assume or {})
        #: one-hot parameter variable → its group (one row or column of one symbol)
        self.group: dict[int, int] = {}
        self.groups: list[list[int]] = []
        self.positive: set[int] = set()
        #: entries assumed +1 or -1 (``signs``): reduced modulo ``y² = 1``
        self.signs: set[int] = set()

    @property
    def reduces(self) -> bool:
        """Whether identities are decided modulo equations (one-hot rows, signs), not only by the parametrisation."""
        return bool(self.group or self.signs)

    def __bool__(self) -> bool:
        return bool(self.assume)

    def bind(self, vars_: Variables, name: str, rows: int, cols: int) -> Matrix | None:
        """The entries of ``name`` under its assumption, or None when it has none (or only symmetry)."""
        kind = self.assume.get(name)
        if kind is None or kind == "symmetric":
            return None
        if kind == "diagonal":
            return [[Ratio.var(vars_.entry(name, i, j)) if i == j else Ratio({}) for j in range(cols)]
                    for i in range(rows)]
        if kind in ("positive", "signs"):
            m = [[Ratio.var(vars_.entry(name, i, j)) for j in range(cols)] for i in range(rows)]
            (self.positive if kind == "positive" else self.signs).update(x.variables().pop() for row in m for x in row)
            return m
        by_cols = kind.endswith("_cols")
        outer, inner = (cols, rows) if by_cols else (rows, cols)
        lines = [self._line(vars_, name, k, inner, by_cols, kind.startswith("onehot")) for k in range(outer)]
        return [list(col) for col in zip(*lines, strict=True)] if by_cols else lines

    def _line(self, vars_: Variables, name: str, k: int, length: int, by_cols: bool, onehot: bool) -> list[Ratio]:
        """One row (or column) summing to 1: free parameters, and the last entry 1 minus their sum."""
        params = [vars_.entry(name, j, k) if by_cols else vars_.entry(name, k, j) for j in range(length - 1)]
        if onehot and params:
            self.groups.append(params)
            for v in params:
                self.group[v] = len(self.groups) - 1
        last: Poly = {(): 1}
        for v in params:
            last[(v,)] = -1
        return [Ratio.var(v) for v in params] + [Ratio(last)]

    def positive_value(self, fn: str, x: Ratio) -> Ratio | None:
        """``abs``, ``relu``, ``sign`` or ``step`` of a certainly positive ``x`` (a positive multiple of a product of
        entries assumed positive): ``x``, ``x``, 1 and 1; ``sqrt`` of such an ``x`` that is an exact square
        (a rational square times even powers): its positive root; None otherwise."""
        if not self.positive or fn not in ("abs", "relu", "sign", "step", "sqrt") or x.fac is not None \
                or len(x.num) != 1:
            return None
        ((mono, coeff),) = x.num.items()
        if coeff <= 0 or not mono or any(v not in self.positive for v in mono):
            return None
        if fn == "sqrt":
            return _positive_root(mono, Fraction(coeff))
        return x if fn in ("abs", "relu") else Ratio.const(1)

    # ------------------------------------------------------------------
    # The one-hot and sign normal form

    def reduce_poly(self, p: Poly) -> Poly:
        """``p`` modulo ``q² = q`` and ``q q' = 0`` (``q``, ``q'`` parameters of one one-hot row) and ``y² = 1``
        (``y`` an entry assumed ±1)."""
        if not self.reduces:
            return p
        group, signs = self.group, self.signs
        out: Poly = {}
        for mono, c in p.items():
            reduced = _reduce_mono(mono, group, signs)
            if reduced is None:
                continue
            value = out.get(reduced, 0) + c
            if value:
                out[reduced] = value
            else:
                out.pop(reduced, None)
        return out

    def reduce_ratio(self, r: Ratio) -> Ratio:
        """``r`` with its numerator in normal form (equal to ``r`` at every one-hot value); its denominators are
        checked not to vanish at every one-hot value."""
        if not self.reduces or not _mentions(r, self.group, self.signs):
            return r
        for factor, _ in r.factors():
            if not self.reduce_poly(factor):
                raise UnsupportedError("a denominator vanishes at every value the assumptions allow (one-hot rows, "
                                       "signs), so the expression is undefined there")
        return Ratio(self.reduce_poly(r.num), fac=r.fac)

    def equal(self, a: Ratio, b: Ratio) -> bool:
        """Whether ``a`` and ``b`` agree at every value the assumptions allow (decided exactly for polynomials and
        rational functions in the parameters; atoms are independent variables)."""
        if a.equals(b):
            return True
        if not self.reduces:
            return False
        return not self.reduce_ratio(a - b).num

    # ------------------------------------------------------------------
    # Witness points

    def constrain(self, point: dict[int, Any]) -> dict[int, Any]:
        """``point`` moved onto the assumptions: one-hot parameters set to a one-hot pattern chosen from the drawn
        values, sign entries set to the sign of the drawn value (a zero becomes 1), positive entries made positive (a
        zero becomes 1)."""
        if not self.group and not self.positive and not self.signs:
            return point
        out = dict(point)
        for v in self.positive:
            if v in out:
                out[v] = abs(out[v]) or Fraction(1)
        for v in self.signs:
            if v in out:
                out[v] = Fraction(-1 if out[v] < 0 else 1)  # type: ignore[operator]
        for params in self.groups:
            drawn = [out.get(v, Fraction(0)) for v in params]
            # A pattern that varies with the drawn numbers: the position of the largest, or the last entry.
            choice = hash(tuple(drawn)) % (len(params) + 1)
            for j, v in enumerate(params):
                out[v] = Fraction(1 if j == choice else 0)
        return out


def _positive_root(mono: tuple[int, ...], coeff: Fraction) -> Ratio | None:
    """The positive square root of ``coeff · mono`` (positive variables, ``coeff > 0``) when every power is even
    and ``coeff`` is the square of a rational, else None."""
    num, den = isqrt(coeff.numerator), isqrt(coeff.denominator)
    if num * num != coeff.numerator or den * den != coeff.denominator:
        return None
    root: list[int] = []
    for v, run in groupby(mono):
        power = len(list(run))
        if power % 2:
            return None
        root.extend([v] * (power // 2))
    return Ratio({tuple(root): normal_coeff(Fraction(num, den))})


def _reduce_mono(mono: tuple[int, ...], group: Mapping[int, int], signs: set[int]) -> tuple[int, ...] | None:
    """A monomial in normal form: each one-hot parameter to the first power, None for two of one group; each sign
    entry to the power 0 or 1 (``y² = 1``). Monomials are sorted, so equal variables are adjacent."""
    seen: dict[int, int] = {}
    out: list[int] = []
    for v, run in groupby(mono):
        power = len(list(run))
        if v in signs:
            if power % 2:
                out.append(v)
            continue
        g = group.get(v)
        if g is None:
            out.extend([v] * power)
            continue
        if g in seen:
            return None  # two parameters of one one-hot row (equal ones are one run)
        seen[g] = v
        out.append(v)
    return tuple(out)


def _mentions(r: Ratio, group: Mapping[int, int], signs: set[int]) -> bool:
    return any(v in group or v in signs for v in r.variables())


__all__ = ["ALIASES", "COL_SUMS_ONE", "KINDS", "ROW_SUMS_ONE", "Structure", "check_against", "describe", "normalise"]
