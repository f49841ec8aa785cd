"""Every step of a derivation evaluated exactly on one small concrete instance, against the chain rule.

The sides of an equation are evaluated with the entrywise prover's exact arithmetic
(:mod:`symderiv.proofs.exact`): matrices directly, index sums entry by entry over every value of their
free indices, ``∂L/∂V_dc`` by the prover's own chain rule (the oracle). A side that differs raises
:class:`~symderiv.core.errors.DerivationError`: a wrong derivation is never printed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from symderiv.core import expr as ex
from symderiv.core.errors import DerivationError
from symderiv.proofs.exact.algebra import Ratio, gradient_of
from symderiv.proofs.exact.entrywise import Deadline, Instance, ratio_sum
from symderiv.proofs.exact.prover import _sympy_equal
from symderiv.proofs.index import Delta, Ent, Idx, Index, IndexSum, Partial, Term
from symderiv.syntax.shapes import Typing, format_shape

from .steps import Draft, Grad, Matrix, Side

Entries = list[list[Ratio]]
Env = Mapping[Idx, int]


def concrete(typing: Typing, shapes: Mapping[str, ex.Shape],
             sizes: Mapping[int, int] | None = None) -> tuple[Typing, dict[str, ex.Shape]]:
    """The first small concrete assignment of the dimensions, and ``shapes`` under it.

    ``sizes`` replaces concrete sizes by others (see :func:`small_sizes`).

    >>> from symderiv.syntax.shapes import infer_shapes
    >>> from symderiv.syntax.language import parse
    >>> typing = infer_shapes(parse("W @ X"), {"W": ("H", "m")})
    >>> concrete(typing, {"D": ("H", "n")})[1]
    {'D': (2, 4)}
    >>> typing = infer_shapes(parse("W @ X"), {"W": (64, 32), "X": (32, 128)})
    >>> concrete(typing, {"D": (64, 128)}, small_sizes(typing, parse("W @ X")))[1]
    {'D': (3, 4)}
    """
    small = typing.substitute(typing.assignments(1)[0])
    named = small.sizes
    remap = dict(sizes or {})

    def dim(x: ex.Dim) -> ex.Dim:
        if isinstance(x, str):
            x = named.get(x, x)
        return remap.get(x, x) if isinstance(x, int) else x

    if remap:
        small = Typing({k: (dim(r), dim(c)) for k, (r, c) in small.symbols.items()}, small.symmetric, small.text,
                       {k: remap.get(v, v) for k, v in small.sizes.items()},
                       {k: dim(v) for k, v in small.aliases.items()})
    return small, {k: (dim(v[0]), dim(v[1])) for k, v in shapes.items()}


#: Concrete sizes up to this are checked as they are.
SMALL = 5


def small_sizes(typing: Typing, expression: ex.Expr) -> dict[int, int]:
    """Smaller sizes for the large concrete ones, keeping the structure (which sizes are equal, which are 1).

    A derivation in index notation does not depend on the sizes, so each step is checked on a small
    instance of the same structure. Sizes written in the expression itself (``ones(64, 1)``) keep
    every size as it is.

    >>> from symderiv.syntax.shapes import infer_shapes
    >>> from symderiv.syntax.language import parse
    >>> small_sizes(infer_shapes(parse("W @ X"), {"W": (64, 32), "X": (32, 128)}), parse("W @ X"))
    {32: 2, 64: 3, 128: 4}
    >>> small_sizes(infer_shapes(parse("W @ X"), {"W": (3, 2), "X": (2, 4)}), parse("W @ X"))
    {}
    """
    for node in expression.walk():
        if isinstance(node, ex.ConstMatrix) and any(isinstance(d, int) and d > 1 for d in (node.rows, node.cols)):
            return {}
    used = sorted({d for shape in typing.symbols.values() for d in shape if isinstance(d, int) and d > 1}
                  | {v for v in typing.aliases.values() if isinstance(v, int) and v > 1})
    if not used or max(used) <= SMALL:
        return {}
    names = typing.dim_names
    # after the named dimensions' sizes (2, 3, ...), so no concrete size meets a named one by accident
    start = 2 + len(names)
    return {size: start + n for n, size in enumerate(used)}


class Checker:
    """Evaluates equation sides exactly on one concrete instance and compares them.

    ``bind`` gives the names to evaluate first (innermost first); ``loss`` is the expression whose
    gradient ``∂L/∂V`` stands for, with ``upstream`` the symbol of ``∂L/∂loss`` (None: a scalar loss).
    ``describe`` gives a draft's sentence, for the error message; ``sizes`` the small sizes that stand for
    large concrete ones (the dimensions of the index sums' indices).
    """

    def __init__(self, typing: Typing, symbols: Mapping[str, ex.Shape], bind: Mapping[str, ex.Expr],
                 loss: ex.Expr, upstream: str | None, describe: Callable[[Draft], str],
                 seconds: float | None = None, sizes: Mapping[int, int] | None = None) -> None:
        self.remap = dict(sizes or {})
        self.typing = Typing(dict(symbols), typing.symmetric, None, dict(typing.sizes))
        self.deadline = Deadline(seconds)
        self.instance = Instance(self.typing, deadline=self.deadline)
        for name, definition in bind.items():  # innermost first
            self.instance.bind(name, self.instance.evaluate(self.shrunk(definition)))
        self.loss = loss
        self.upstream = upstream
        self.describe = describe
        self._values: dict[ex.Expr, Entries] = {}
        self._grads: dict[str, Entries] = {}

    def size(self, dim: ex.Dim) -> int:
        return self.remap.get(dim, dim) if isinstance(dim, int) else self.typing.sizes[dim]

    def shrunk(self, node: ex.Expr) -> ex.Expr:
        """``node`` with the sizes written in it (``ones(64, 1)`` of a derived formula) replaced by the small ones."""
        if not self.remap:
            return node
        if isinstance(node, ex.ConstMatrix):
            rows, cols = (self.remap.get(d, d) if isinstance(d, int) else d for d in (node.rows, node.cols))
            return ex.ConstMatrix(node.kind, rows, cols)
        children = node.children()
        return ex.with_children(node, [self.shrunk(c) for c in children]) if children else node

    def matrix(self, node: ex.Expr) -> Entries:
        found = self._values.get(node)
        if found is None:
            found = self.instance.evaluate(self.shrunk(node))
            self._values[node] = found
        return found

    def var(self, name: str, r: int, c: int) -> int:
        (mono,) = self.instance.symbol(name)[r][c].num
        return mono[0]

    def loss_gradient(self, name: str) -> Entries:
        """``∂L/∂name`` by the prover's chain rule."""
        found = self._grads.get(name)
        if found is None:
            value = self.matrix(self.loss)
            if self.upstream is None:
                loss = value[0][0]
            else:
                g = self.instance.symbol(self.upstream, (len(value), len(value[0])))
                loss = ratio_sum(g[i][j] * value[i][j] for i in range(len(value)) for j in range(len(value[0])))
            m = self.instance.symbol(name)
            wanted = {self.var(name, r, c) for r in range(len(m)) for c in range(len(m[0]))}
            grads = gradient_of(self.instance.vars, loss, wanted, self.deadline)
            found = [[grads.get(self.var(name, r, c), Ratio({})) for c in range(len(m[0]))] for r in range(len(m))]
            self._grads[name] = found
        return found

    # -- values ---------------------------------------------------------------
    @staticmethod
    def index_value(i: Index, env: Env) -> int:
        return env[i] if isinstance(i, Idx) else i

    def side(self, side: Side, env: Env) -> Any:
        """A matrix of entries for a matrix side, one entry for an index sum at ``env``."""
        if isinstance(side, Grad):
            g = self.loss_gradient(side.name)
            return g if side.layout == "denominator" else [list(col) for col in zip(*g, strict=True)]
        if isinstance(side, Matrix):
            return self.matrix(side.expr)
        total = Ratio({})
        for t in side.terms:
            total = total + self.term(t, env).scale(t.coeff)
        return total

    def term(self, t: Term, env: Env) -> Ratio:
        bound = list(dict.fromkeys(t.sums))
        total = Ratio({})
        for values in itertools.product(*(range(self.size(k.dim)) for k in bound)):
            self.deadline()
            local = dict(env)
            local.update(zip(bound, values, strict=True))
            prod = Ratio.const(1)
            for f in t.factors:
                prod = prod * self.factor(f, local)
                if prod.is_zero():
                    break
            total = total + prod
        return total

    def factor(self, f: Any, env: Env) -> Ratio:
        if isinstance(f, Ent):
            return self.matrix(f.expr)[self.index_value(f.row, env)][self.index_value(f.col, env)]
        if isinstance(f, Delta):
            return Ratio.const(1 if self.index_value(f.a, env) == self.index_value(f.b, env) else 0)
        assert isinstance(f, Partial)
        den = f.den
        assert isinstance(den.expr, ex.Symbol)
        r, c = self.index_value(den.row, env), self.index_value(den.col, env)
        if f.num is None:
            return self.loss_gradient(den.expr.name)[r][c]
        value = self.factor(f.num, env) if isinstance(f.num, Ent) else self.side(f.num, env)
        var = self.var(den.expr.name, r, c)
        return gradient_of(self.instance.vars, value, {var}, self.deadline).get(var, Ratio({}))

    def equal(self, a: Ratio, b: Ratio) -> bool:
        if a.equals(b):
            return True
        self.deadline()  # SymPy's simplification cannot be interrupted: the limit is checked before each call
        return _sympy_equal(self.instance.vars, a, b)

    # -- checking -------------------------------------------------------------
    def check(self, draft: Draft) -> None:
        """Raise unless every side of the draft's equation has the same value (entry by entry)."""
        sides = draft.equation.sides
        matrices = [s for s in sides if not isinstance(s, IndexSum)]
        if matrices:
            self._check_matrices(draft, matrices)
            return
        free: dict[Idx, None] = {}
        for s in sides:
            if isinstance(s, IndexSum):
                for i in s.free_indices():
                    free.setdefault(i, None)
        idx = list(free)
        for values in itertools.product(*(range(self.size(i.dim)) for i in idx)):
            env = dict(zip(idx, values, strict=True))
            self.deadline()
            first = self.side(sides[0], env)
            for s in sides[1:]:
                if not self.equal(first, self.side(s, env)):
                    raise self._fail(draft, ", ".join(f"{i.name}={v}" for i, v in env.items()))

    def _check_matrices(self, draft: Draft, matrices: Sequence[Side]) -> None:
        values = [self.side(s, {}) for s in matrices]
        rows, cols = len(values[0]), len(values[0][0])
        for v in values[1:]:
            if (len(v), len(v[0])) != (rows, cols):
                raise DerivationError(f"step `{draft.kind.value}` is not well-shaped on {self._where()}")
            for r in range(rows):
                for c in range(cols):
                    if not self.equal(values[0][r][c], v[r][c]):
                        raise self._fail(draft, f"entry [{r},{c}]")

    def _where(self) -> str:
        return "{" + ", ".join(f"{k}: {format_shape(v)}" for k, v in self.typing.symbols.items()) + "}"

    def _fail(self, draft: Draft, where: str) -> DerivationError:
        return DerivationError(
            f"the `{draft.kind.value}` step ({self.describe(draft)}) does not hold at {where} on {self._where()}; "
            "this derivation is wrong and is not printed. This is a bug in symderiv; please report it.")


__all__ = ["Checker", "SMALL", "concrete", "small_sizes"]
