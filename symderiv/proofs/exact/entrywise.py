"""The oracle: concrete matrices of exact symbols, a generic f, the chain rule, exact comparison.

An expression is evaluated on concrete shapes into matrices of :class:`Ratio`
entries (polynomials or rational functions in the entries, with elementwise
functions as atoms). For a matrix-valued ``D`` the loss is ``f(D)``; its
gradient is ``Σ_ij G[i,j] ∂D[i,j]/∂V`` with symbols ``G[i,j]`` standing for
``∂f/∂D[i,j]`` -- the multivariate chain rule, which :mod:`symderiv.proofs.strict`
checks against SymPy's own differentiation of ``f(D(V))``.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from fractions import Fraction

from symderiv.core import expr as ex
from symderiv.core.errors import OptionError, ShapeError, SymderivError, TimeoutError, UnsupportedError
from symderiv.core.meter import NEXT, WORK, tick
from symderiv.proofs.exact.algebra import Poly, Ratio, Variables, pclean, pmul_items_into
from symderiv.proofs.exact.cost import DEFAULT_BUDGET, SECONDS_PER_TERM, check_budget, estimate_cost  # noqa: F401 - re-exported
from symderiv.proofs.exact.linalg import determinant, inverse, nonsingular_somewhere
from symderiv.syntax.constants import fold_function as _const_fold
from symderiv.syntax.shapes import Typing, format_shape

Matrix = list[list[Ratio]]

EXACT_FUNCTIONS = {"relu": None, "step": None, "abs": None, "sign": None}


class Deadline:
    """A wall-clock limit checked in the inner loops (``None`` seconds: no limit).

    It also shows progress: once a proof has run for a second, and only when
    stderr is a terminal, a one-line status is rewritten in place at most twice a
    second (:meth:`clear` erases it).

    >>> d = Deadline(None)
    >>> d()  # no limit: returns at once
    """

    PROGRESS_AFTER = 1.0

    def __init__(self, seconds: float | None):
        if seconds is not None:
            try:
                seconds = float(seconds)
            except (TypeError, ValueError):
                raise OptionError(f"timeout must be a number of seconds, not {seconds!r}") from None
            if not seconds > 0 or seconds == float("inf"):  # also refuses NaN
                raise OptionError(f"timeout must be a positive, finite number of seconds, not {seconds!r}",
                                  hint="leave it out for no limit")
        self.seconds = seconds
        self.start = time.monotonic()
        self.end = None if seconds is None else self.start + seconds
        try:
            self._tty = sys.stderr.isatty()
        except (AttributeError, ValueError):  # a closed or replaced stderr
            self._tty = False
        self._next = self.start + self.PROGRESS_AFTER
        self._shown = False

    def __call__(self) -> None:
        if self.end is None and not self._tty:
            return
        now = time.monotonic()
        if self.end is not None and now > self.end:
            self.clear()
            raise TimeoutError(f"stopped after the time limit of {self.seconds:g} s",
                               hint="raise timeout=/--timeout, use smaller shapes, or method='random'")
        if self._tty and now >= self._next:
            self._next = now + 0.5
            self._shown = True
            sys.stderr.write(f"\r\x1b[Ksymderiv: exact proof running, {now - self.start:.0f} s "
                             "(Ctrl-C stops it; --method random is faster)")
            sys.stderr.flush()

    def clear(self) -> None:
        """Erase the progress line, if one was shown."""
        if self._shown:
            self._shown = False
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


_gc_depth = [0]


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector for the duration of a proof (re-entrant).

    The prover allocates millions of tuples and dicts and creates no reference
    cycles; the collector's generation scans over them cost about a quarter of the
    run time at 64³ and find nothing.

    >>> with gc_paused():
    ...     gc.isenabled()
    False
    """
    outer = _gc_depth[0] == 0
    was_enabled = gc.isenabled()
    if outer and was_enabled:
        gc.disable()
    _gc_depth[0] += 1
    try:
        yield
    finally:
        _gc_depth[0] -= 1
        if outer and was_enabled:
            gc.enable()


def shape_of(m: Matrix) -> tuple[int, int]:
    return (len(m), len(m[0]) if m else 0)


class Instance:
    """Evaluates expressions on one concrete typing, sharing one variable registry."""

    def __init__(self, typing: Typing, variables: Variables | None = None, deadline: Deadline | None = None,
                 inverse_atoms: bool = False):
        self.typing = typing
        self.inverse_atoms = inverse_atoms
        self.vars = variables or Variables()
        self.deadline = deadline or Deadline(None)
        self.bound: dict[str, Matrix] = {}

    def symbol(self, name: str, shape: tuple[int, int] | None = None) -> Matrix:
        if name in self.bound:
            return self.bound[name]
        rows, cols = shape or self.typing.symbols[name]  # type: ignore[misc]
        if not isinstance(rows, int) or not isinstance(cols, int):
            raise SymderivError(f"`{name}` has a symbolic shape here; concrete sizes are needed")
        symmetric = name in self.typing.symmetric
        m: Matrix = []
        for i in range(rows):
            row = []
            for j in range(cols):
                if symmetric and i > j:
                    var = self.vars.entry(name, j, i)
                    self.vars.alias(name, i, j, var)
                else:
                    var = self.vars.entry(name, i, j)
                row.append(Ratio.var(var))
            m.append(row)
        self.bound[name] = m
        return m

    def bind(self, name: str, m: Matrix) -> None:
        self.bound[name] = m

    # -- evaluation --------------------------------------------------------
    def evaluate(self, node: ex.Expr) -> Matrix:
        method = getattr(self, "_eval_" + type(node).__name__)
        try:
            with gc_paused():
                return method(node)
        except ZeroDivisionError as err:
            span = getattr(node, "span", None)
            raise SymderivError(f"{err} in `{type(node).__name__}`", text=self.typing.text,
                                column=span[0] if span else None,
                                hint="a singular inverse or a division by zero cannot be differentiated") from None

    def _eval_Symbol(self, node: ex.Symbol) -> Matrix:
        return self.symbol(node.name)

    def _eval_Number(self, node: ex.Number) -> Matrix:
        return [[Ratio.const(node.value)]]

    def _eval_ConstMatrix(self, node: ex.ConstMatrix) -> Matrix:
        rows, cols = self._dim(node.rows), self._dim(node.cols)
        if node.kind == "ones":
            return [[Ratio.const(1) for _ in range(cols)] for _ in range(rows)]
        if node.kind == "zeros":
            return [[Ratio({}) for _ in range(cols)] for _ in range(rows)]
        return [[Ratio.const(1 if i == j else 0) for j in range(cols)] for i in range(rows)]

    def _dim(self, d: ex.Dim) -> int:
        d = self.typing.resolve(d)
        if isinstance(d, int):
            return d
        raise SymderivError(f"dimension `{d}` has no concrete size here",
                            hint="give the dimension a size in shapes, or use a name of the expression")

    def _eval_MatMul(self, node: ex.MatMul) -> Matrix:
        a, b = self.evaluate(node.left), self.evaluate(node.right)
        return matmul(a, b, self.deadline)

    def _broadcast(self, node: ex.Binary, op: Callable[[Ratio, Ratio], Ratio]) -> Matrix:
        a, b = self.evaluate(node.left), self.evaluate(node.right)
        (ra, ca), (rb, cb) = shape_of(a), shape_of(b)
        rows, cols = max(ra, rb), max(ca, cb)
        if ra not in (1, rows) or rb not in (1, rows) or ca not in (1, cols) or cb not in (1, cols):
            raise ShapeError(f"cannot broadcast {ra}×{ca} with {rb}×{cb}")
        out = []
        for i in range(rows):
            row_a, row_b = a[i if ra > 1 else 0], b[i if rb > 1 else 0]
            out.append([op(row_a[j if ca > 1 else 0], row_b[j if cb > 1 else 0]) for j in range(cols)])
            self.deadline()
        return out

    def _eval_Add(self, node: ex.Add) -> Matrix:
        return self._broadcast(node, lambda x, y: x + y)

    def _eval_Sub(self, node: ex.Sub) -> Matrix:
        return self._broadcast(node, lambda x, y: x - y)

    def _eval_Mul(self, node: ex.Mul) -> Matrix:
        return self._broadcast(node, lambda x, y: x * y)

    def _eval_Div(self, node: ex.Div) -> Matrix:
        return self._broadcast(node, lambda x, y: x / y)

    def _eval_Neg(self, node: ex.Neg) -> Matrix:
        return [[-x for x in row] for row in self.evaluate(node.operand)]

    def _eval_Power(self, node: ex.Power) -> Matrix:
        return [[x.power(node.exponent) for x in row] for row in self.evaluate(node.operand)]

    def _eval_Transpose(self, node: ex.Transpose) -> Matrix:
        return transpose(self.evaluate(node.operand))

    def _eval_Apply(self, node: ex.Apply) -> Matrix:
        return [[self.apply(node.fn, x) for x in row] for row in self.evaluate(node.operand)]

    def apply(self, fn: str, x: Ratio) -> Ratio:
        c = x.constant()
        if c is not None:
            folded = _const_fold(fn, Fraction(c))
            if folded is not None:
                return Ratio.const(folded)
        if fn in ("log", "sqrt") and c is not None and c < 0:
            raise UnsupportedError(f"{fn} of the negative constant {c}")
        return Ratio.var(self.vars.atom(fn, x))

    def _eval_Trace(self, node: ex.Trace) -> Matrix:
        a = self.evaluate(node.operand)
        total = Ratio({})
        for i in range(len(a)):
            total = total + a[i][i]
        return [[total]]

    def _eval_Det(self, node: ex.Det) -> Matrix:
        return [[determinant(self.evaluate(node.operand), self.deadline)]]

    def _eval_LogDet(self, node: ex.LogDet) -> Matrix:
        d = determinant(self.evaluate(node.operand), self.deadline)
        if d.is_zero():
            raise SymderivError("logdet of a matrix whose determinant is identically zero")
        c = d.constant()
        if c is not None and abs(c) == 1:
            return [[Ratio({})]]
        return [[Ratio.var(self.vars.atom("logabs", d))]]

    def _eval_Inv(self, node: ex.Inv) -> Matrix:
        m = self.evaluate(node.operand)
        if self.inverse_atoms and any(x.constant() is None for row in m for x in row):
            # Atoms Y for inv(M) (see Variables.inverse): sound for proving only.
            if not nonsingular_somewhere(m, self.vars) and determinant(m, self.deadline).is_zero():
                raise ZeroDivisionError("inverse of a matrix that is identically singular")
            return [[Ratio.var(v) for v in row] for row in self.vars.inverse(m)]
        return inverse(m, self.deadline)

    def _eval_Sum(self, node: ex.Sum) -> Matrix:
        a = self.evaluate(node.operand)
        rows, cols = shape_of(a)
        if node.axis is None:
            return [[ratio_sum(x for row in a for x in row)]]
        if node.axis == 0:
            return [[ratio_sum(a[i][j] for i in range(rows)) for j in range(cols)]]
        return [[ratio_sum(row)] for row in a]

    def _eval_MatPow(self, node: ex.MatPow) -> Matrix:
        a = self.evaluate(node.operand)
        n = len(a)
        result: Matrix = [[Ratio.const(1 if i == j else 0) for j in range(n)] for i in range(n)]
        for _ in range(node.k):
            result = matmul(result, a, self.deadline)
        return result


def ratio_sum(items) -> Ratio:
    polys: list[Poly] = []
    rest = Ratio({})
    for x in items:
        if x.fac is None:
            polys.append(x.num)
        else:
            rest = rest + x
    acc: Poly = {}
    for p in polys:
        WORK[0] += len(p)
        for m, c in p.items():
            acc[m] = acc.get(m, 0) + c
    total = Ratio(pclean(acc))
    return total + rest if not rest.is_zero() else total


def transpose(m: Matrix) -> Matrix:
    return [list(col) for col in zip(*m, strict=True)] if m else m


def matmul(a: Matrix, b: Matrix, deadline: Deadline | None = None) -> Matrix:
    """The exact matrix product; polynomial entries are multiplied in one flat loop.

    >>> x, y = Ratio.var(0), Ratio.var(1)
    >>> matmul([[x, y]], [[y], [x]])[0][0].num
    {(0, 1): 2}
    """
    (ra, ca), (rb, cb) = shape_of(a), shape_of(b)
    if ca != rb:
        raise ShapeError(f"cannot multiply {ra}×{ca} @ {rb}×{cb}")
    # Polynomial entries as item lists, zeros as None, rational entries left as Ratio:
    # the hot loop then touches only tuples and ints.
    def prepare(m: Matrix) -> list[list]:
        return [[(list(x.num.items()) if x.num else None) if x.fac is None else x for x in row] for row in m]

    a_rows = prepare(a)
    b_prepared = prepare(b)
    b_cols = [list(col) for col in zip(*b_prepared, strict=True)] if b else []
    # The work counter: Σ_ij Σ_k |a_ik|·|b_kj| = Σ_i Σ_k |a_ik|·(Σ_j |b_kj|) over polynomial pairs, once per row.
    b_terms = [sum(len(y) for y in row if y.__class__ is list) for row in b_prepared]
    out: Matrix = []
    for i in range(ra):
        row = []
        ai = a_rows[i]
        for j in range(cb):
            acc: Poly = {}
            rest = None
            for x, y in zip(ai, b_cols[j], strict=True):
                if x is None or y is None:
                    continue
                if x.__class__ is list and y.__class__ is list:
                    pmul_items_into(acc, x, y)
                else:
                    rx = x if isinstance(x, Ratio) else Ratio(dict(x))
                    ry = y if isinstance(y, Ratio) else Ratio(dict(y))
                    term = rx * ry
                    rest = term if rest is None else rest + term
            value = Ratio({m: c for m, c in acc.items() if c})
            row.append(value if rest is None else value + rest)
        out.append(row)
        WORK[0] += sum(len(x) * t for x, t in zip(ai, b_terms, strict=True) if x.__class__ is list)
        if WORK[0] >= NEXT[0]:
            tick()
        if deadline is not None:
            deadline()
    return out


def describe_shapes(typing: Typing) -> str:
    return ", ".join(f"{n}: {format_shape(s)}" for n, s in typing.symbols.items())
