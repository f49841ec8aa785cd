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
from contextlib import contextmanager
from fractions import Fraction

from symderiv.backends.walk import Interpreter
from symderiv.core import expr as ex
from symderiv.core.errors import OptionError, SymderivError, TimeoutError, UnsupportedError
from symderiv.ops import Elementwise, elementwise, matrix_op
from symderiv.proofs.exact.algebra import Coeff, Ratio, Variables
from symderiv.proofs.exact.assumed import Structure
from symderiv.proofs.exact.atoms import expansion_rule
from symderiv.proofs.exact.cost import DEFAULT_BUDGET, SECONDS_PER_TERM, check_budget, estimate_cost  # noqa: F401 - re-exported
from symderiv.proofs.exact.linalg import (  # noqa: F401 - matmul, ratio_sum and transpose re-exported
    Matrix,
    broadcast,
    determinant,
    inverse,
    matmul,
    nonsingular_somewhere,
    ratio_sum,
    shape_of,
    transpose,
)
from symderiv.syntax.constants import fold_function
from symderiv.syntax.shapes import Typing, format_shape


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


class Instance:
    """Evaluates expressions on one concrete typing, sharing one variable registry."""

    def __init__(self, typing: Typing, variables: Variables | None = None, deadline: Deadline | None = None,
                 inverse_atoms: bool = False, structure: Structure | None = None,
                 expand_functions: bool = False):
        self.typing = typing
        self.inverse_atoms = inverse_atoms
        #: the assumptions (``assume=``): how structured symbols are parametrised, and witness points kept on them
        self.structure = structure or Structure()
        #: Functions whose registry row lists expansions are written by the first (sigmoid as exp's quotient).
        self.expand_functions = expand_functions
        self.vars = variables or Variables()
        self.deadline = deadline or Deadline(None)
        self.bound: dict[str, Matrix] = {}

    def symbol(self, name: str, shape: tuple[int, int] | None = None) -> Matrix:
        if name in self.bound:
            return self.bound[name]
        rows, cols = shape or self.typing.symbols[name]  # type: ignore[misc]
        if not isinstance(rows, int) or not isinstance(cols, int):
            raise SymderivError(f"`{name}` has a symbolic shape here; concrete sizes are needed")
        structured = self.structure.bind(self.vars, name, rows, cols)
        if structured is not None:
            self.bound[name] = structured
            return structured
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

    def constrain(self, point: dict[int, object]) -> dict[int, object]:
        """A witness point moved onto the assumptions (one-hot rows one-hot, positive entries positive)."""
        return self.structure.constrain(point)

    def bind(self, name: str, m: Matrix) -> None:
        self.bound[name] = m

    def evaluate(self, node: ex.Expr) -> Matrix:
        """The value of ``node``: a matrix of exact entries over this instance's variables.

        >>> from symderiv.syntax.language import parse
        >>> from symderiv.syntax.shapes import infer_shapes
        >>> inst = Instance(infer_shapes(parse("W @ X"), {"W": (1, 2), "X": (2, 1)}))
        >>> inst.evaluate(parse("W @ X"))[0][0].num
        {(0, 2): 1, (1, 3): 1}
        """
        with gc_paused():
            # A walk per evaluation: the instance holds no reference to it, so no cycle keeps a proof's
            # values alive for the garbage collector (which is paused while proofs run).
            walk = _Entrywise(self)
            walk.count(node)
            return walk.evaluate(node)

    def _dim(self, d: ex.Dim) -> int:
        d = self.typing.resolve(d)
        if isinstance(d, int):
            return d
        raise SymderivError(f"dimension `{d}` has no concrete size here",
                            hint="give the dimension a size in shapes, or use a name of the expression")

    def apply(self, fn: str, x: Ratio, row: Elementwise | None = None) -> Ratio:
        """``fn(x)``: its exact value when ``x`` is a constant the row folds (by its ``fold``), else an atom."""
        c = x.constant()
        if c is not None:
            folded = fold_function(fn, Fraction(c))
            if folded is not None:
                return Ratio.const(folded)
            _check_domain(row or elementwise(fn), c)
        known = self.structure.positive_value(fn, x)  # abs(P) = P for an entry assumed positive
        if known is not None:
            return known
        expanded = expansion_rule(fn) if self.expand_functions else None
        if expanded is not None:  # sigmoid(x) = exp(x) / (1 + exp(x)): no atom of its own
            return expanded(self.vars, x, Ratio.const(0))
        return Ratio.var(self.vars.atom(fn, x))


def _check_domain(row: Elementwise, c: Coeff) -> None:
    """Refuse a constant argument outside the row's domain."""
    if row.domain == "positive" and c < 0:
        raise UnsupportedError(f"{row.name} of the negative constant {c}")
    if row.domain == "nonzero" and c == 0:
        raise SymderivError(row.zero_error or f"{row.name} of the constant 0")


class _Entrywise(Interpreter[Matrix]):
    """The entrywise evaluator: the primitives on matrices of exact entries, for one :class:`Instance`.
    A registered operation (:class:`~symderiv.core.expr.Call`) is evaluated through its expansion."""

    def __init__(self, instance: Instance) -> None:
        super().__init__()
        self.instance = instance
        self.tick = instance.deadline
        #: How many computed parents each node still has to serve: a value leaves the memo after its last
        #: use, so a shared subtree is computed once and intermediate matrices do not pile up.
        self.uses: dict[ex.Expr, int] = {}

    def count(self, root: ex.Expr) -> None:
        """Add the parent-child edges of the distinct nodes under ``root`` to :attr:`uses`."""
        uses, memo, seen, stack = self.uses, self.memo, set(), [root]
        while stack:
            node = stack.pop()
            if node in seen or (memo and node in memo):  # an empty memo: no hashing
                continue
            seen.add(node)
            for child in node.children():
                uses[child] = uses.get(child, 0) + 1
                stack.append(child)

    def visit(self, node: ex.Expr, args: list[Matrix]) -> Matrix:
        try:
            value = super().visit(node, args)
        except ZeroDivisionError as err:
            span = getattr(node, "span", None)
            raise SymderivError(f"{err} in `{type(node).__name__}`", text=self.instance.typing.text,
                                column=span[0] if span else None,
                                hint="a singular inverse or a division by zero cannot be differentiated") from None
        uses = self.uses
        for child in node.children():
            left = uses.get(child, 0) - 1
            if left > 0:
                uses[child] = left
            else:
                uses.pop(child, None)
                self.memo.pop(child, None)
        return value

    def call(self, node: ex.Call, args: list[Matrix]) -> Matrix:
        """A registered operation: its expansion over the primitives, evaluated on the same memo."""
        expansion = matrix_op(node.op).expand(node.args, [shape_of(a) for a in args], dict(node.params))
        self.count(expansion)
        value = self.evaluate(expansion)
        if not self.uses.get(expansion):
            self.memo.pop(expansion, None)
        return value

    def symbol(self, node: ex.Symbol) -> Matrix:
        return self.instance.symbol(node.name)

    def number(self, node: ex.Number) -> Matrix:
        return [[Ratio.const(node.value)]]

    def constant(self, node: ex.ConstMatrix) -> Matrix:
        rows, cols = self.instance._dim(node.rows), self.instance._dim(node.cols)
        if node.kind == "ones":
            return [[Ratio.const(1) for _ in range(cols)] for _ in range(rows)]
        if node.kind == "zeros":
            return [[Ratio({}) for _ in range(cols)] for _ in range(rows)]
        return [[Ratio.const(1 if i == j else 0) for j in range(cols)] for i in range(rows)]

    def apply(self, node: ex.Apply, row: Elementwise, a: Matrix) -> Matrix:
        apply, fn = self.instance.apply, row.name
        return [[apply(fn, x, row) for x in r] for r in a]

    def matmul(self, node: ex.MatMul, a: Matrix, b: Matrix) -> Matrix:
        return matmul(a, b, self.tick)

    def add(self, node: ex.Add, a: Matrix, b: Matrix) -> Matrix:
        return broadcast(a, b, lambda x, y: x + y, self.tick)

    def sub(self, node: ex.Sub, a: Matrix, b: Matrix) -> Matrix:
        return broadcast(a, b, lambda x, y: x - y, self.tick)

    def mul(self, node: ex.Mul, a: Matrix, b: Matrix) -> Matrix:
        return broadcast(a, b, lambda x, y: x * y, self.tick)

    def div(self, node: ex.Div, a: Matrix, b: Matrix) -> Matrix:
        return broadcast(a, b, lambda x, y: x / y, self.tick)

    def neg(self, node: ex.Neg, a: Matrix) -> Matrix:
        return [[-x for x in row] for row in a]

    def power(self, node: ex.Power, a: Matrix) -> Matrix:
        return [[x.power(node.exponent) for x in row] for row in a]

    def transpose(self, node: ex.Transpose, a: Matrix) -> Matrix:
        return transpose(a)

    def trace(self, node: ex.Trace, a: Matrix) -> Matrix:
        total = Ratio({})
        for i in range(len(a)):
            total = total + a[i][i]
        return [[total]]

    def det(self, node: ex.Det, a: Matrix) -> Matrix:
        return [[determinant(a, self.tick)]]

    def inv(self, node: ex.Inv, m: Matrix) -> Matrix:
        if self.instance.inverse_atoms and any(x.constant() is None for row in m for x in row):
            # Atoms Y for inv(M) (see Variables.inverse): sound for proving only.
            vars_ = self.instance.vars
            if not nonsingular_somewhere(m, vars_) and determinant(m, self.tick).is_zero():
                raise ZeroDivisionError("inverse of a matrix that is identically singular")
            return [[Ratio.var(v) for v in row] for row in vars_.inverse(m)]
        return inverse(m, self.tick)

    def sum(self, node: ex.Sum, a: Matrix) -> Matrix:
        rows, cols = shape_of(a)
        if node.axis is None:
            return [[ratio_sum(x for row in a for x in row)]]
        if node.axis == 0:
            return [[ratio_sum(a[i][j] for i in range(rows)) for j in range(cols)]]
        return [[ratio_sum(row)] for row in a]


def describe_shapes(typing: Typing) -> str:
    return ", ".join(f"{n}: {format_shape(s)}" for n, s in typing.symbols.items())
