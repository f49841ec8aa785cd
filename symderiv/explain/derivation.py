"""Step-by-step derivations: equations as data, a sentence each, every step checked.

``derive`` cuts the expression into *blocks* at its non-polynomial nodes
(elementwise functions, ``inv``, ``det``, ``logdet``, divisions by the variable),
names each block's output (``D`` for a single product, ``Z`` for an affine map,
``A`` for an activation, ``L`` for a scalar loss) and derives one block at a
time in backprop order, always by the same six moves of the source derivation:

1. the chain rule as a sum over every entry of the block's output;
2. the sparsity of ``∂D_ij/∂V_dc``, which collapses that sum;
3. the index form of one entry, differentiated (``∂V_ab/∂V_dc = δ_ad δ_bc``);
4. the pieces put together;
5. entries transposed so each summed index sits between neighbours;
6. the matrix form (a sum over a shared index is a product).

Steps 2 and 5 are left out when they have nothing to do. Every equation is
evaluated exactly on a small concrete instance (:mod:`symderiv.proofs.exact.entrywise`)
against the prover's own chain rule; a mismatch raises ``DerivationError``.
Nothing here formats: :mod:`symderiv.render` prints the same data as LaTeX,
Markdown, HTML or text.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from symderiv.core import expr as ex
from symderiv.core.errors import DerivationError, SymderivError, UnsupportedError
from symderiv.proofs.index import (
    Delta,
    Ent,
    Idx,
    Index,
    IndexEngine,
    IndexSum,
    Partial,
    Term,
    collapse_term,
    contains,
    merge_terms,
    tidy,
)
from symderiv.syntax.shapes import Typing

# ---------------------------------------------------------------------------
# Equation data


@dataclass(frozen=True)
class Matrix:
    """A matrix-level expression as one side of an equation."""

    expr: ex.Expr


@dataclass(frozen=True)
class Grad:
    """``∂L/∂name`` as a whole matrix (``numerator`` layout: its transpose)."""

    name: str
    layout: str = "denominator"


@dataclass(frozen=True)
class IndexEq:
    """``a = b`` between two indices, for the prose (``i = d``)."""

    a: Index
    b: Index


@dataclass(frozen=True)
class Dims:
    """A shape ``rows×cols``, for the prose."""

    shape: ex.Shape


Side = IndexSum | Matrix | Grad


@dataclass(frozen=True)
class Equation:
    """``sides[0] = sides[1] = ...``: a chain of equal expressions."""

    sides: tuple[Side, ...]

    @property
    def lhs(self) -> Side:
        return self.sides[0]

    @property
    def rhs(self) -> Side:
        return self.sides[-1]


Math = Equation | IndexSum | Matrix | Grad | IndexEq | Ent | Idx | Dims
Prose = tuple[str | Math, ...]


def plain(prose: Prose) -> str:
    """The prose as one plain Unicode string (math in the text printer's notation)."""
    from symderiv.render.text import TextPrinter

    return TextPrinter().prose(prose)


@dataclass
class Step:
    """One step: an equation (data), the rule it uses in a sentence, the indices involved, a kind.

    ``kind`` is one of ``chain_rule``, ``index_form``, ``sparsity``, ``differentiate``,
    ``substitute``, ``transpose``, ``matrix_form``, ``accumulate``, ``assemble``, ``result``.

    >>> [step.kind for step in derive("W @ X", "W").steps]
    ['chain_rule', 'sparsity', 'differentiate', 'substitute', 'transpose', 'matrix_form']
    """

    kind: str
    equation: Equation
    prose: Prose
    indices: tuple[str, ...] = ()
    block: int = 0
    checked: bool = False
    upstreams: dict[str, str] = field(default_factory=dict, repr=False)  # G -> D, for printing ∂L/∂D
    check_note: str = ""  # how the check was done, when it was not the direct entrywise comparison

    @property
    def justification(self) -> str:
        """The sentence, in plain Unicode."""
        from symderiv.render.text import TextPrinter

        return TextPrinter(self.upstreams).prose(self.prose)

    @property
    def equation_text(self) -> str:
        """The equation, in plain Unicode."""
        from symderiv.render.text import TextPrinter

        return TextPrinter(self.upstreams).equation(self.equation)


@dataclass
class Block:
    """One node of the backprop: ``name = definition``, differentiated with respect to ``wrt``."""

    number: int
    name: str
    definition: ex.Expr
    wrt: str
    upstream: str | None  # the symbol standing for ∂L/∂name (None: the block is the scalar loss)
    steps: list[Step] = field(default_factory=list)
    partial: bool = False  # wrt feeds several blocks: this one gives only its part of ∂L/∂wrt


@dataclass
class Derivation:
    """A derivation of ``∂L/∂wrt``: blocks of steps, the intro, and the proved result.

    >>> d = derive("W @ X", wrt="W", check=False)
    >>> [s.kind for s in d.steps]
    ['chain_rule', 'sparsity', 'differentiate', 'substitute', 'transpose', 'matrix_form']
    """

    expression: str
    wrt: str
    blocks: list[Block]
    intro: list[Prose]
    formula: ex.Expr
    upstream: str
    upstreams: dict[str, str]  # upstream symbol -> the node it is the gradient of (G -> D)
    shapes: dict[str, ex.Shape]
    scalar: bool
    layout: str = "denominator"
    result: Any = None  # the Gradient from symderiv.gradient
    final: list[Step] = field(default_factory=list)
    conclusion: Prose = ()
    definitions: dict[str, ex.Expr] = field(default_factory=dict)
    check_shapes: dict[str, ex.Shape] = field(default_factory=dict)
    symmetric: frozenset[str] = frozenset()
    source: ex.Expr | None = None  # the parsed expression
    all_shapes: str | None = None  # "canonical" or "derived": which form the index proof closed for

    @property
    def steps(self) -> list[Step]:
        return [s for b in self.blocks for s in b.steps] + list(self.final)

    def to_latex(self, standalone: bool = True) -> str:
        """LaTeX: a standalone ``article`` (``standalone=False``: a fragment to ``\\input``)."""
        from symderiv.render.latex import LatexDerivationPrinter

        return LatexDerivationPrinter(self).document(standalone=standalone)

    def to_markdown(self) -> str:
        from symderiv.render.markdown import MarkdownDerivationPrinter

        return MarkdownDerivationPrinter(self).document()

    def to_html(self) -> str:
        from symderiv.render.html import HtmlDerivationPrinter

        return HtmlDerivationPrinter(self).document()

    def to_text(self) -> str:
        from symderiv.render.text import TextDerivationPrinter

        return TextDerivationPrinter(self).document()

    def __str__(self) -> str:
        return self.to_text()

    def _repr_latex_(self) -> str:
        """For Jupyter (MathJax): the equations in one ``align*``, each tagged with its step."""
        from symderiv.render.latex import LatexDerivationPrinter

        return LatexDerivationPrinter(self).jupyter()

    def _repr_markdown_(self) -> str:
        return self.to_markdown()


# ---------------------------------------------------------------------------
# Blocks

_NONPOLY = (ex.Apply, ex.Inv, ex.Det, ex.LogDet)



def _cuts(node: ex.Expr, wrt: str) -> bool:
    """Whether ``node`` is a non-polynomial node through which ``wrt`` flows (a block boundary)."""
    if not contains(node, wrt):
        return False
    if isinstance(node, _NONPOLY):
        return True
    if isinstance(node, ex.Div):
        return contains(node.right, wrt)
    return isinstance(node, ex.Power) and node.exponent < 0


def _rebuild(node: ex.Expr, children: list[ex.Expr]) -> ex.Expr:
    if isinstance(node, ex.Binary):
        return replace(node, left=children[0], right=children[1])
    if isinstance(node, ex.Unary):
        return replace(node, operand=children[0])
    return node


def _letter(node: ex.Expr, wrt: str) -> str:
    if isinstance(node, ex.Apply):
        return "A"
    return "U" if _cuts(node, wrt) else "Z"


_CANDIDATES = {"D": "DEFYPQ", "Z": "ZYUVPQ", "A": "AHSFRT", "U": "UPQRTY"}


@dataclass
class _Plan:
    names: dict[ex.Expr, str]
    definitions: dict[str, ex.Expr]  # name -> definition with inner blocks replaced by their names
    order: list[str]  # root first, each block after all blocks that use it
    root: str


def plan_blocks(expression: ex.Expr, wrt: str, scalar: bool, taken: set[str]) -> _Plan:
    """Cut the expression into blocks and name them (``D``, ``Z``, ``A``, numbered when repeated)."""
    found: dict[ex.Expr, list] = {}  # subexpression -> [letter, depth, discovery]
    consumers: dict[ex.Expr, set[ex.Expr]] = {}

    def visit(node: ex.Expr, owner: ex.Expr, depth: int, is_root: bool) -> None:
        if not contains(node, wrt) or (isinstance(node, ex.Symbol) and not is_root):
            return
        starts = is_root or _cuts(node, wrt) or _cuts(owner, wrt) and owner is not node
        if starts and not is_root:
            consumers.setdefault(node, set()).add(owner)
            if node in found:
                return
        if starts:
            found[node] = [_letter(node, wrt), depth, len(found)]
            owner, depth = node, depth + 1
        for child in node.children():
            # the operand of a cut node starts a block of its own when compound
            visit(child, owner, depth, False)

    visit(expression, expression, 0, True)
    if len(found) == 1 or not _cuts(expression, wrt):
        found[expression][0] = "L" if scalar else "D"
    elif scalar:
        found[expression][0] = "L"
    # names: numbered from the innermost block when a letter repeats
    by_letter: dict[str, list[ex.Expr]] = {}
    for node, (letter, _depth, _n) in found.items():
        by_letter.setdefault(letter, []).append(node)
    names: dict[ex.Expr, str] = {}
    used = set(taken)
    for letter, nodes in by_letter.items():
        if letter == "L":
            names[nodes[0]] = "L"
            continue
        pool = [c for c in _CANDIDATES[letter] if c not in used]
        base = pool[0] if pool else letter + "_"
        nodes.sort(key=lambda x: (-found[x][1], -found[x][2]))
        for k, node in enumerate(nodes, 1):
            name = base if len(nodes) == 1 else f"{base}{k}"
            while name in used:
                name += "_"
            names[node] = name
            used.add(name)
    definitions: dict[str, ex.Expr] = {}

    def lower(node: ex.Expr, is_root: bool) -> ex.Expr:
        if node in names and not is_root:
            return ex.Symbol(names[node])
        if not contains(node, wrt) or isinstance(node, ex.Symbol):
            return node
        return _rebuild(node, [lower(c, False) for c in node.children()])

    for node, name in names.items():
        definitions[name] = lower(node, True)
    # order: a block comes after every block that consumes it
    order: list[str] = []
    remaining = dict(names)
    while remaining:
        for node, name in list(remaining.items()):
            if all(names[c] in order for c in consumers.get(node, ())):
                order.append(name)
                del remaining[node]
                break
        else:  # pragma: no cover - a tree has no cycles
            raise DerivationError("cyclic blocks")
    return _Plan(names, definitions, order, names[expression])


# ---------------------------------------------------------------------------
# Checking


class _Checker:
    """Evaluates equation sides exactly on one concrete instance and compares them."""

    def __init__(self, typing: Typing, symbols: Mapping[str, ex.Shape], bind: Mapping[str, ex.Expr],
                 loss: ex.Expr, upstream: str | None, seconds: float | None = None) -> None:
        from symderiv.proofs.exact.entrywise import Deadline, Instance

        self.typing = Typing(dict(symbols), typing.symmetric, None, dict(typing.sizes))
        self.deadline = Deadline(seconds)
        self.instance = Instance(self.typing, deadline=self.deadline)
        for name, definition in bind.items():  # innermost first
            self.instance.bind(name, self.instance.evaluate(definition))
        self.loss = loss
        self.upstream = upstream
        self._values: dict[ex.Expr, list] = {}
        self._grads: dict[str, list] = {}

    def size(self, dim: ex.Dim) -> int:
        return dim if isinstance(dim, int) else self.typing.sizes[dim]

    def matrix(self, node: ex.Expr) -> list:
        found = self._values.get(node)
        if found is None:
            found = self.instance.evaluate(node)
            self._values[node] = found
        return found

    def var(self, name: str, r: int, c: int) -> int:
        (mono,) = self.instance.symbol(name)[r][c].num
        return mono[0]

    def loss_gradient(self, name: str) -> list:
        found = self._grads.get(name)
        if found is None:
            from symderiv.proofs.exact.algebra import gradient_of
            from symderiv.proofs.exact.entrywise import ratio_sum

            value = self.matrix(self.loss)
            if self.upstream is None:
                loss = value[0][0]
            else:
                g = self.instance.symbol(self.upstream, (len(value), len(value[0])))
                loss = ratio_sum(g[i][j] * value[i][j] for i in range(len(value)) for j in range(len(value[0])))
            m = self.instance.symbol(name)
            wanted = {self.var(name, r, c) for r in range(len(m)) for c in range(len(m[0]))}
            grads = gradient_of(self.instance.vars, loss, wanted, self.deadline)
            from symderiv.proofs.exact.algebra import Ratio

            found = [[grads.get(self.var(name, r, c), Ratio({})) for c in range(len(m[0]))] for r in range(len(m))]
            self._grads[name] = found
        return found

    # -- values ---------------------------------------------------------------
    def index_value(self, i: Index, env: Mapping[Idx, int]) -> int:
        return env[i] if isinstance(i, Idx) else i

    def side(self, side: Side, env: Mapping[Idx, int]):
        from symderiv.proofs.exact.algebra import Ratio

        if isinstance(side, Grad):
            g = self.loss_gradient(side.name)
            return g if side.layout == "denominator" else [list(col) for col in zip(*g, strict=True)]
        if isinstance(side, Matrix):
            return self.matrix(side.expr)
        total = Ratio({})
        for t in side.terms:
            total = total + self.term(t, env).scale(t.coeff)
        return total

    def term(self, t: Term, env: Mapping[Idx, int]):
        from symderiv.proofs.exact.algebra import Ratio

        bound = list(dict.fromkeys(t.sums))
        total = Ratio({})
        for values in itertools.product(*(range(self.size(k.dim)) for k in bound)):
            local = dict(env)
            local.update(zip(bound, values, strict=True))
            prod = Ratio.const(1)
            for f in t.factors:
                prod = prod * self.factor(f, local)
                if prod.is_zero():
                    break
            total = total + prod
        return total

    def factor(self, f, env: Mapping[Idx, int]):
        from symderiv.proofs.exact.algebra import Ratio, gradient_of

        if isinstance(f, Ent):
            return self.matrix(f.expr)[self.index_value(f.row, env)][self.index_value(f.col, env)]
        if isinstance(f, Delta):
            return Ratio.const(1 if self.index_value(f.a, env) == self.index_value(f.b, env) else 0)
        den = f.den
        assert isinstance(den.expr, ex.Symbol)
        r, c = self.index_value(den.row, env), self.index_value(den.col, env)
        if f.num is None:
            return self.loss_gradient(den.expr.name)[r][c]
        value = self.factor(f.num, env) if isinstance(f.num, Ent) else self.side(f.num, env)
        var = self.var(den.expr.name, r, c)
        return gradient_of(self.instance.vars, value, {var}).get(var, Ratio({}))

    def equal(self, a, b) -> bool:
        if a.equals(b):
            return True
        from symderiv.proofs.exact.prover import _sympy_equal

        return _sympy_equal(self.instance.vars, a, b)

    def check(self, step: Step) -> None:
        sides = step.equation.sides
        free: dict[Idx, None] = {}
        for s in sides:
            if isinstance(s, IndexSum):
                for i in s.free_indices():
                    free.setdefault(i, None)
        idx = list(free)
        ranges = [range(self.size(i.dim)) for i in idx]
        matrices = [s for s in sides if not isinstance(s, IndexSum)]
        if matrices:
            values = [self.side(s, {}) for s in matrices]
            rows, cols = len(values[0]), len(values[0][0])
            for v in values[1:]:
                if (len(v), len(v[0])) != (rows, cols):
                    raise DerivationError(f"step `{step.kind}` is not well-shaped on {self._where()}")
                for r in range(rows):
                    for c in range(cols):
                        if not self.equal(values[0][r][c], v[r][c]):
                            raise self._fail(step, f"entry [{r},{c}]")
            return
        for values in itertools.product(*ranges):
            env = dict(zip(idx, values, strict=True))
            first = self.side(sides[0], env)
            for s in sides[1:]:
                if not self.equal(first, self.side(s, env)):
                    where = ", ".join(f"{i.name}={v}" for i, v in env.items())
                    raise self._fail(step, where)

    def _where(self) -> str:
        from symderiv.syntax.shapes import format_shape

        return "{" + ", ".join(f"{k}: {format_shape(v)}" for k, v in self.typing.symbols.items()) + "}"

    def _fail(self, step: Step, where: str) -> DerivationError:
        return DerivationError(
            f"the `{step.kind}` step ({step.justification}) does not hold at {where} on {self._where()}; "
            "this derivation is wrong and is not printed. This is a bug in symderiv; please report it.")


# ---------------------------------------------------------------------------
# One block


def _transposed(e: Ent, symmetric: frozenset[str]) -> Ent:
    """The same entry with its indices in the other order: ``X_cj = (Xᵀ)_jc``."""
    node = e.expr
    if isinstance(node, ex.Symbol) and node.name in symmetric:
        return Ent(node, e.col, e.row)
    inner = node.operand if isinstance(node, ex.Transpose) else ex.Transpose(node)
    return Ent(inner, e.col, e.row)


def orient(s: IndexSum, d: Index, c: Index, symmetric: frozenset[str]) -> tuple[IndexSum, list[tuple[Ent, Ent]]]:
    """Order and transpose the entries of each term into a chain ``d → k → … → c``.

    Returns the new sum and the rewrites made (``X_cj`` → ``(Xᵀ)_jc``).
    """
    rewrites: list[tuple[Ent, Ent]] = []
    terms = []
    for t in s.terms:
        ents = [f for f in t.factors if isinstance(f, Ent)]
        others = [f for f in t.factors if not isinstance(f, Ent)]
        scalars = [e for e in ents if e.row == 0 and e.col == 0]
        rest = [e for e in ents if not (e.row == 0 and e.col == 0)]
        chain: list[Ent] = []
        cur: Index = d
        while isinstance(cur, Idx) or (cur == 0 and not chain and d == 0 and False):
            pick = None
            for e in rest:
                if e.row == cur:
                    pick = e
                    break
            if pick is None:
                for e in rest:
                    if e.col == cur:
                        pick = _transposed(e, symmetric)
                        rewrites.append((e, pick))
                        rest = [x if x is not e else pick for x in rest]
                        break
            if pick is None:
                break
            rest = [x for x in rest if x is not pick]
            chain.append(pick)
            if pick.col == c or pick.col not in t.sums:
                break
            cur = pick.col
        terms.append(Term(t.coeff, t.sums, tuple(scalars + chain + rest + others)))
    return IndexSum(tuple(terms)), rewrites


class _BlockDeriver:
    def __init__(self, owner: _Deriver, block: Block) -> None:
        self.o = owner
        self.block = block
        self.eng = owner.engine
        self.sym = owner.symmetric

    def step(self, kind: str, sides: Iterable[Side], prose: Prose, indices: Iterable[Index] = ()) -> Step:
        clean: list[Side] = []
        for s in sides:
            if not clean or clean[-1] != s:
                clean.append(s)
        names = tuple(dict.fromkeys(str(i) for i in indices if isinstance(i, Idx)))
        st = Step(kind, Equation(tuple(clean)), prose, names, self.block.number)
        self.block.steps.append(st)
        return st

    def run(self) -> ex.Expr:
        b, eng = self.block, self.eng
        eng.reset_names()
        eng.rules = []
        P = b.wrt
        pshape = eng.shape(ex.Symbol(P))
        d, c = eng.fresh(pshape[0], "d"), eng.fresh(pshape[1], "c")
        ve = Ent(ex.Symbol(P), d, c)
        lhs = IndexSum.of(Partial(None, ve))
        E = b.definition
        name = ex.Symbol(b.name)
        if b.upstream is not None:
            rows, cols = eng.shape(E)
            i, j = eng.fresh(rows, "i"), eng.fresh(cols, "j")
            outer = [x for x in (i, j) if isinstance(x, Idx)]
            up = ex.Symbol(b.upstream)
            chain = IndexSum.of(Ent(up, i, j), Partial(Ent(name, i, j), ve), sums=outer)
            self.step("chain_rule", [lhs, chain],
                      ("By the chain rule, ", Partial(None, ve).den, " changes ", Ent(ex.Symbol("L"), 0, 0),
                       " through every entry ", Ent(name, i, j), " of ", Matrix(name),
                       ", so we sum over ", *self._index_list(outer), ":"), [d, c, *outer])
            # sparsity: which outer indices are pinned to d, c in every term of ∂D_ij/∂V_dc
            form_ij = eng.entry(E, i, j)
            d_ij = eng.collapse(eng.differentiate(form_ij, P, d, c))
            pins = self._pins(d_ij, outer, (d, c))
            at_i, at_j = i, j
            if pins:
                at_i, at_j = pins.get(i, i), pins.get(j, j)
                left = [x for x in outer if x not in pins]
                reduced = IndexSum.of(Ent(up, at_i, at_j), Partial(Ent(name, at_i, at_j), ve), sums=left)
                self.step("sparsity", [lhs, reduced], self._sparsity_prose(name, form_ij, i, j, ve, pins),
                          [d, c, *outer])
            eng.reset_names({x.name for x in (d, c, i, j) if isinstance(x, Idx)})
            form = self._readable(eng.entry(E, at_i, at_j), {d, c, at_i, at_j})
            raw = eng.differentiate(form, P, d, c)
            log: list[tuple[Idx, Index]] = []
            col = self._collapse(raw, log)
            self.step("differentiate",
                      [IndexSum.of(Partial(Ent(name, at_i, at_j), ve)), IndexSum.of(Partial(form, ve)), raw, col],
                      self._differentiate_prose(name, at_i, at_j, form, ve, log),
                      [d, c, at_i, at_j, *form.terms[0].sums] if form.terms else [d, c])
            left = [x for x in outer if x not in pins]
            together = IndexSum.of(Ent(up, at_i, at_j), sums=left) * col
            total = self._collapse(together, [])
            if pins:
                prose: Prose = ("Putting the pieces together:",)
            else:
                prose = ("Substituting into the chain rule, the Kronecker deltas collapse the sums over ",
                         *self._index_list(outer), ":")
            self.step("substitute", [lhs, together, total], prose, [d, c, *left])
        else:
            form = self._readable(eng.entry(E, 0, 0), {d, c})
            self.step("index_form", [IndexSum.of(Ent(name, 0, 0)), form],
                      ("The loss is the scalar ", Ent(name, 0, 0), "; written out entry by entry:"),
                      [i for t in form.terms for i in t.sums])
            raw = eng.differentiate(form, P, d, c)
            log = []
            total = self._collapse(raw, log)
            self.step("differentiate", [lhs, IndexSum.of(Partial(form, ve)), raw, total],
                      self._differentiate_prose(None, 0, 0, form, ve, log), [d, c])
        oriented, rewrites = orient(total, d, c, self.sym)
        if oriented != total:
            self.step("transpose", [lhs, oriented], self._transpose_prose(rewrites, oriented),
                      [d, c, *[k for t in oriented.terms for k in t.sums]])
        matrix = eng.recognise(oriented, d, c, self.sym)
        if matrix is None:
            raise UnsupportedError(f"the entries of ∂L/∂{P} in `{self.o.text}` are not a product, elementwise "
                                   "product or sum that symderiv can write as a matrix formula",
                                   hint="symderiv.gradient gives the formula without the steps")
        self.step("matrix_form", [Grad(P), Matrix(matrix)], self._matrix_prose(matrix, d, c), [d, c])
        return matrix

    # -- helpers -----------------------------------------------------------------
    def _readable(self, s: IndexSum, keep: set) -> IndexSum:
        """Rename summed indices in order of first appearance (k, l, p, ...), as one would by hand."""
        from symderiv.proofs.index import substitute

        taken = {x.name for x in keep if isinstance(x, Idx)}
        out = []
        for t in s.terms:
            order = [i for i in dict.fromkeys(i for f in t.factors for i in _indices_of(f)) if i in t.sums]
            order += [i for i in t.sums if i not in order]
            temp = t
            fresh = [n for n in ("k", "l", "p", "q", "r", "s", "t", "u", "v") if n not in taken
                     and n not in self.eng.reserved]
            if len(fresh) < len(order):
                out.append(t)
                continue
            placeholders = [Idx(f"_{n}", i.dim) for n, i in enumerate(order)]
            for old, new in zip(order, placeholders, strict=True):
                temp = substitute(temp, old, new)
            temp = Term(temp.coeff, tuple(placeholders), temp.factors)
            for ph, name in zip(placeholders, fresh, strict=False):  # fresh may be longer
                new = Idx(name, ph.dim)
                temp = substitute(temp, ph, new)
                temp = Term(temp.coeff, temp.sums + (new,), temp.factors)
            self.eng.used.update(fresh[:len(order)])
            out.append(temp)
        return IndexSum(tuple(out))

    def _collapse(self, s: IndexSum, log: list) -> IndexSum:
        out = []
        for t in s.terms:
            before = set(t.sums)
            t2 = collapse_term(t)
            if t2 is None:
                continue
            log.extend(k for k in t.sums if k in before and k not in t2.sums)  # in order: output is deterministic
            out.append(t2)
        return merge_terms(out, self.sym)

    @staticmethod
    def _index_list(idx: list[Idx]) -> list:
        out: list = []
        for n, k in enumerate(idx):
            if n:
                out.append(" and ")
            out.append(k)
        return out

    @staticmethod
    def _pins(s: IndexSum, outer: list[Idx], targets: tuple[Index, Index]) -> dict[Idx, Index]:
        if not s.terms:
            return {}
        common: dict[Idx, Index] | None = None
        for t in s.terms:
            found: dict[Idx, Index] = {}
            for f in t.factors:
                if isinstance(f, Delta):
                    for a, b in ((f.a, f.b), (f.b, f.a)):
                        if a in outer and b in targets:
                            found[a] = b  # type: ignore[index]
            common = found if common is None else {k: v for k, v in common.items() if found.get(k) == v}
        return common or {}

    def _sparsity_prose(self, name: ex.Symbol, form: IndexSum, i: Index, j: Index, ve: Ent,
                        pins: dict[Idx, Index]) -> Prose:
        P = ve.expr
        d, c = ve.row, ve.col
        conditions: list = []
        for k, v in pins.items():
            if conditions:
                conditions.append(" and ")
            conditions.append(IndexEq(k, v))
        rows = [k for k, v in pins.items() if v == d]
        cols = [k for k, v in pins.items() if v == c]
        pshape = self.eng.shape(P)
        if rows and cols:
            where: list = ["only through the entry ", Ent(P, rows[0], cols[0])]
        elif rows and pshape[1] == 1:
            where = ["only through the entry ", Ent(P, rows[0], 0)]
        elif cols and pshape[0] == 1:
            where = ["only through the entry ", Ent(P, 0, cols[0])]
        elif rows:
            where = ["only through row ", rows[0], " of ", Matrix(P)]
        else:
            where = ["only through column ", cols[0], " of ", Matrix(P)]
        return (Equation((IndexSum.of(Ent(name, i, j)), form)), " involves ", Matrix(P), " ", *where,
                ", so ", Equation((IndexSum.of(Partial(Ent(name, i, j), ve)), IndexSum(()))), " unless ", *conditions,
                "; only those terms of the sum survive:")

    def _differentiate_prose(self, name, a, b, form: IndexSum, ve: Ent, log: list) -> Prose:
        P = ve.expr
        shape = self.eng.shape(P)
        ga = Idx("a", shape[0]) if shape[0] != 1 else 0
        gb = Idx("b", shape[1]) if shape[1] != 1 else 0
        prose: list = []
        if name is not None:
            prose += ["Expanding ", Equation((IndexSum.of(Ent(name, a, b)), form)), " and differentiating"]
        else:
            prose += ["Differentiating"]
        prose += [" term by term"]
        rules = self.eng.rules
        sentences: list[list] = []
        if "delta" in rules:
            deltas = tuple(x for x in (Delta(ga, ve.row), Delta(gb, ve.col)) if x.a != x.b)
            sentences.append(["with ", Equation((IndexSum.of(Partial(Ent(P, ga, gb), ve)),
                                                 IndexSum.of(*deltas) if deltas else IndexSum.of())),
                              " (1 when the indices match, else 0)"])
        M = ex.Symbol("M")
        p, q = Idx("p", "n"), Idx("q", "n")
        for rule in rules:
            if rule.startswith("elementwise:"):
                fn = rule.split(":", 1)[1]
                sentences.append([f"{fn} acts entry by entry, so the chain rule takes its derivative at the same "
                                  "entry, ", Equation((Matrix(ex.Apply(ex.Symbol("z"), fn=fn + "_prime")),
                                                       Matrix(_prime_of(fn))))])
            elif rule == "jacobi":
                sentences.append(["by Jacobi's formula ",
                                  Equation((IndexSum.of(Partial(Ent(ex.LogDet(M), 0, 0), Ent(M, p, q))),
                                            IndexSum.of(Ent(ex.Inv(M), q, p)))),
                                  " (and the derivative of det M is det M times the same)"])
            elif rule == "inverse":
                a, b = Idx("a", "n"), Idx("b", "n")
                sentences.append(["the derivative of an inverse is ",
                                  Equation((IndexSum.of(Partial(Ent(ex.Inv(M), a, b), Ent(M, p, q))),
                                            IndexSum.of(Ent(ex.Inv(M), a, p), Ent(ex.Inv(M), q, b), coeff=-1)))])
            elif rule == "reciprocal":
                u = ex.Symbol("u")
                sentences.append(["the derivative of a reciprocal is ",
                                  Equation((Matrix(ex.Div(_one(), u)), Matrix(ex.Neg(ex.Div(_one(), ex.Power(
                                      u, exponent=2))))))])
        for n, s in enumerate(sentences):
            prose += [", " if n == 0 else "; "] + s
        killed = list(dict.fromkeys(k for k in log if isinstance(k, Idx)))
        if killed:
            prose += ["; each Kronecker delta collapses the sum over "] + self._index_list(killed)
        prose += [":"]
        return tuple(prose)

    def _transpose_prose(self, rewrites: list[tuple[Ent, Ent]], oriented: IndexSum) -> Prose:
        prose: list = ["Writing "]
        for n, (a, b) in enumerate(rewrites):
            if n:
                prose.append(" and ")
            prose.append(Equation((IndexSum.of(a), IndexSum.of(b))))
        if not rewrites:
            prose = ["Reordering the factors"]
        if any(t.sums for t in oriented.terms):
            prose.append(" puts each summed index between neighbouring factors, row index first, "
                         "so each sum is a row times a column:")
        else:
            prose.append(" puts the indices in the order of the entry we picked:")
        return tuple(prose)

    def _matrix_prose(self, matrix: ex.Expr, d: Index, c: Index) -> Prose:
        kinds = {type(n) for n in matrix.walk()}
        parts = []
        if ex.MatMul in kinds:
            parts.append("a sum over a shared index is a matrix product")
        if ex.Mul in kinds and any(isinstance(n, ex.Mul) and not isinstance(n.left, ex.Number)
                                   for n in matrix.walk()):
            parts.append("entries at the same position multiply elementwise (the Hadamard product)")
        if ex.Sum in kinds:
            parts.append("a sum over one index alone is a row or column sum")
        if ex.Trace in kinds:
            parts.append("a sum along the diagonal is a trace")
        if any(isinstance(n, ex.ConstMatrix) and n.kind == "eye" for n in matrix.walk()):
            parts.append("a Kronecker delta between the two entry indices is the identity matrix")
        idx = [x for x in (d, c) if isinstance(x, Idx)]
        head: list = ["This holds for every "] + self._index_list(idx)
        tail = (": " + "; ".join(parts) + ", so in matrix form:") if parts else ", so in matrix form:"
        return tuple(head) + (tail,)


def _indices_of(f) -> list:
    from symderiv.proofs.index import factor_indices

    return factor_indices(f)


def _one() -> ex.Number:
    from fractions import Fraction

    return ex.Number(Fraction(1))


def _prime_of(fn: str) -> ex.Expr:
    from symderiv.proofs.index import elementwise_derivative

    return elementwise_derivative(fn, ex.Symbol("z"))


# ---------------------------------------------------------------------------
# The whole derivation


class _Deriver:
    def __init__(self, problem, wrt: str) -> None:
        self.problem = problem
        self.text = problem.text
        self.wrt = wrt
        self.symmetric = frozenset(problem.typing.symmetric)


def _substitute(node: ex.Expr, mapping: Mapping[str, ex.Expr]) -> ex.Expr:
    if isinstance(node, ex.Symbol):
        return mapping.get(node.name, node)
    kids = node.children()
    if not kids:
        return node
    return _rebuild(node, [_substitute(k, mapping) for k in kids])


def derive(
    expr: str,
    wrt: str,
    shapes: Mapping[str, Any] | None = None,
    *,
    functions: Iterable[str] = (),
    symmetric: Iterable[str] = (),
    upstream: str = "G",
    layout: str = "denominator",
    check: bool = True,
    timeout: float | None = None,
) -> Derivation:
    """Derive ``∂L/∂wrt`` step by step in index notation, every step checked on a small instance.

    With no shapes the dimensions are the inferred names (``W @ X``: ``W`` is
    ``n×m``); give ``shapes={"W": ("H", "m"), "X": ("m", "n")}`` for the source's.
    ``check=False`` skips the entrywise checks (for speed; the result is then
    not proved). ``timeout`` (seconds) bounds each check; past it a TimeoutError is raised.

    >>> d = derive("W @ X", wrt="W", shapes={"W": ("H", "m"), "X": ("m", "n")})
    >>> len(d.steps), d.result.formula
    (6, 'G @ X.T')
    >>> print(d.steps[0].equation_text)
    ∂L/∂W_dc = Σ_{i,j} ∂L/∂D_ij · ∂D_ij/∂W_dc
    """
    from symderiv.autodiff.backprop import gradient
    from symderiv.proofs.verification import prepare

    if not isinstance(wrt, str):
        raise SymderivError("derive takes one wrt name", hint="call derive once per matrix")
    problem = prepare(expr, [wrt], shapes, functions=functions, symmetric=symmetric, upstream=upstream,
                      layout=layout)
    typing = problem.typing
    owner = _Deriver(problem, wrt)
    taken = set(typing.symbols) | set(typing.dim_names) | {upstream, "L", "G"}
    plan = plan_blocks(problem.expression, wrt, problem.scalar, taken)
    # upstream symbols: the user's for the root, fresh names for inner blocks
    upstreams: dict[str, str] = {}
    up_of: dict[str, str | None] = {}
    for name in plan.order:
        if name == plan.root:
            up_of[name] = None if problem.scalar else upstream
        else:
            sym = f"dL_d{name}"
            while sym in taken:
                sym += "_"
            up_of[name] = sym
        if up_of[name] is not None:
            upstreams[up_of[name]] = name  # type: ignore[index]
    shapes_all: dict[str, ex.Shape] = dict(typing.symbols)
    full: dict[str, ex.Expr] = {}
    for name in reversed(plan.order):
        full[name] = _substitute(plan.definitions[name], full)
        shapes_all[name] = typing.shape_of(full[name])
        if up_of[name] is not None:
            shapes_all[up_of[name]] = shapes_all[name]  # type: ignore[index]
    owner.engine = IndexEngine(typing, shapes_all, reserved=set(shapes_all) | {"L"})  # type: ignore[attr-defined]
    blocks: list[Block] = []
    contributions: dict[str, list[ex.Expr]] = {}
    grads: dict[str, ex.Expr] = {}  # name -> ∂L/∂name in terms of its consumers' upstream symbols
    for name in plan.order:
        definition = plan.definitions[name]
        accumulate: Step | None = None
        if name != plan.root:
            parts = contributions.get(name, [])
            total = parts[0]
            for p in parts[1:]:
                total = ex.Add(total, p)
            grads[name] = total
            if len(parts) > 1:
                users = [n for n in plan.order if n != name and contains(plan.definitions[n], name)]
                accumulate = Step("accumulate", Equation((Grad(name), Matrix(total))),
                                  (Matrix(ex.Symbol(name)), " is used by ", *_and_list([ex_symbol(u) for u in users]),
                                   ", so its gradient is the sum of what those blocks gave:"))
                if check:
                    _check_accumulate(accumulate, name, problem, plan, up_of, grads, shapes_all, timeout)
        inputs = [n for n in plan.order if n != name and contains(definition, n)]
        if contains(definition, wrt):
            inputs.append(wrt)
        for target in inputs:
            block = Block(len(blocks) + 1, name, definition, target, up_of[name])
            block.partial = sum(contains(plan.definitions[n], target) for n in plan.order) > 1
            if accumulate is not None:
                accumulate.block = block.number
                block.steps.append(accumulate)
                accumulate = None
            matrix = _BlockDeriver(owner, block).run()
            blocks.append(block)
            contributions.setdefault(target, []).append(matrix)
    parts = contributions[wrt]
    composed = parts[0]
    for p in parts[1:]:
        composed = ex.Add(composed, p)
    # replace each inner upstream symbol by its value, outermost names last
    for name in plan.order:
        sym = up_of[name]
        if name != plan.root and sym is not None:
            composed = _substitute(composed, {sym: grads[name]})
            for other in list(grads):
                grads[other] = _substitute(grads[other], {sym: grads[name]})
    composed = tidy(composed, owner.symmetric)
    if layout == "numerator":
        composed = tidy(ex.Transpose(composed), owner.symmetric)
    # The derivation checks its own steps and proves the result below, so gradient()'s proof is not repeated.
    result = gradient(expr, wrt, shapes, functions=functions, symmetric=symmetric, upstream=upstream,
                      layout=layout, check=False)
    final: list[Step] = []
    inner = [n for n in plan.order if n != plan.root]
    expanded = tidy(_substitute(composed, {n: full[n] for n in inner}), owner.symmetric)
    fin_block = len(blocks) + 1
    if len(blocks) > 1 or layout == "numerator":
        prose: Prose = ("Chaining the blocks back to ", Grad(plan.root) if not problem.scalar else "L",
                        " (the upstream gradient of each inner name replaced by what its block gave):")
        if layout == "numerator":
            prose = ("In the numerator layout the result is the transpose:",)
        final.append(Step("assemble", Equation((Grad(wrt, layout), Matrix(composed))), prose, (), fin_block))
    if inner and expanded != composed:
        final.append(Step("result", Equation((Grad(wrt, layout), Matrix(expanded))),
                          ("Substituting the definitions of ", *[x for n in inner for x in
                                                                (", " if n != inner[0] else "", ex_symbol(n))],
                           " gives the formula in the original names:"), (), fin_block))
    last = final[-1].equation.rhs if final else blocks[-1].steps[-1].equation.rhs
    if isinstance(last, Matrix) and last.expr != result.expr:
        final.append(Step("result", Equation((Grad(wrt, layout), Matrix(result.expr))),
                          ("Collecting terms gives symderiv's canonical formula:",), (), fin_block))
    derivation = Derivation(
        expression=expr, wrt=wrt, blocks=blocks, intro=[], formula=result.expr, upstream=upstream,
        upstreams=upstreams, shapes=dict(typing.symbols), scalar=problem.scalar, layout=layout, result=result,
        final=final, definitions={n: plan.definitions[n] for n in plan.order}, symmetric=owner.symmetric,
        source=problem.expression)
    for step in derivation.steps:
        step.upstreams = upstreams
    derivation.intro = _intro(derivation, plan, problem)
    # the final identity for all shapes: symderiv's canonical spelling, else the derivation's own form
    from symderiv.proofs.index import prove_all_shapes

    if prove_all_shapes(problem, wrt, result.expr, refute=False) is True:
        derivation.all_shapes = "canonical"
    elif prove_all_shapes(problem, wrt, expanded, refute=False) is True:
        derivation.all_shapes = "derived"
    if check:
        _check_all(derivation, problem, plan, up_of, full, shapes_all, timeout)
    if check:
        result.proof_status = "proved" if derivation.all_shapes == "canonical" or typing.is_concrete else "checked"
        result.proof = [dict(derivation.check_shapes)]
    derivation.conclusion = _conclusion(derivation, problem)
    return derivation


def _and_list(items: list) -> list:
    out: list = []
    for n, item in enumerate(items):
        if n:
            out.append(" and " if n == len(items) - 1 else ", ")
        out.append(item)
    return out


def _check_accumulate(step: Step, name: str, problem, plan: _Plan, up_of: Mapping[str, str | None],
                      grads: Mapping[str, ex.Expr], shapes_all: Mapping[str, ex.Shape],
                      timeout: float | None = None) -> None:
    """Check ``∂L/∂name = Σ contributions`` with ``name`` a free matrix and everything else expanded."""
    mapping = {n: plan.definitions[n] for n in plan.order if n not in (name, plan.root)}

    def expand(node: ex.Expr) -> ex.Expr:
        for _ in range(len(plan.order)):  # each pass opens one level of names
            node = _substitute(node, mapping)
        return node

    claim = step.equation.rhs.expr  # type: ignore[union-attr]
    values = {up_of[n]: grads[n] for n in grads if n != name and up_of[n] is not None}
    for _ in range(len(plan.order) + 1):
        claim = _substitute(claim, values)  # type: ignore[arg-type]
    claim = expand(claim)
    loss = expand(plan.definitions[plan.root])
    typing = problem.typing.substitute(problem.typing.assignments(1)[0])
    sizes = typing.sizes
    symbols = {k: tuple(sizes.get(x, x) if isinstance(x, str) else x for x in v) for k, v in shapes_all.items()}
    checker = _Checker(typing, symbols, {}, loss, None if problem.scalar else problem.upstream, timeout)
    checker.check(Step(step.kind, Equation((step.equation.lhs, Matrix(claim))), step.prose))
    step.checked = True


def ex_symbol(name: str) -> Matrix:
    return Matrix(ex.Symbol(name))


def _intro(d: Derivation, plan: _Plan, problem) -> list[Prose]:
    shapes: list = []
    items = list(d.shapes.items())
    for n, (name, shape) in enumerate(items):
        sep = "" if n == 0 else (" and " if n == len(items) - 1 else ", ")
        shapes += [sep, Matrix(ex.Symbol(name)), " be ", Dims(shape)]
    paras: list[Prose] = [("Let ", *shapes, ".")]
    root_def = plan.definitions[plan.root]
    if d.scalar:
        paras.append(("The expression is a scalar, so the loss is the expression itself: ",
                      Equation((ex_symbol("L"), Matrix(root_def))), "."))
    else:
        paras.append(("Write ", Equation((ex_symbol(plan.root), Matrix(root_def))), " and let ",
                      Equation((ex_symbol("L"), Matrix(ex.Apply(ex.Symbol(plan.root), fn="f")))),
                      " for an arbitrary scalar function f of all entries. The upstream gradient ",
                      Grad(plan.root), f" (called {d.upstream} in formulas) has entries ",
                      _upstream_entry(d, plan), "."))
    inner = [n for n in plan.order if n != plan.root]
    if inner:
        defs: list = []
        for n, name in enumerate(reversed(inner)):
            defs += [", " if n else "", Equation((ex_symbol(name), Matrix(plan.definitions[name])))]
        paras.append(("Name the intermediate results ", *defs,
                      f". We go backwards from the loss, one block per node, ending at {d.wrt}."))
    rows, cols = d.shapes[d.wrt]
    entry = Ent(ex.Symbol(d.wrt), 0 if rows == 1 else Idx("d", rows), 0 if cols == 1 else Idx("c", cols))
    paras.append(("We pick one entry ", entry, " and find ", IndexSum.of(Partial(None, entry)),
                  "; every step below is checked exactly on a small instance."))
    return paras


def _upstream_entry(d: Derivation, plan: _Plan) -> IndexSum:
    from symderiv.syntax.shapes import Typing as _T

    rows, cols = _T(d.shapes).shape_of(d.source) if d.source is not None else (2, 2)
    return IndexSum.of(Ent(ex.Symbol(d.upstream), 0 if rows == 1 else Idx("i", rows),
                           0 if cols == 1 else Idx("j", cols)))


def _conclusion(d: Derivation, problem) -> Prose:
    head: Prose = ("Result: ", Equation((Grad(d.wrt, d.layout), Matrix(d.formula))),
                   f" ({d.result.formula} in symderiv's language)")
    checked = "checked step by step entrywise" if all(s.checked for s in d.steps) else \
        "not checked entrywise (check=False)"
    if d.all_shapes == "canonical":
        return head + (f", proved for all shapes in index notation and {checked}.",)
    if d.all_shapes == "derived":
        return head + (". The derived form before the last step is proved for all shapes in index notation; "
                       f"the canonical spelling is {checked}.",)
    return head + (f", {checked}; the index engine could not close a proof for all shapes of this spelling.",)


def _check_all(d: Derivation, problem, plan: _Plan, up_of: Mapping[str, str | None], full: Mapping[str, ex.Expr],
               shapes_all: Mapping[str, ex.Shape], timeout: float | None = None) -> None:
    """Check every step on the first small concrete assignment of the dimensions."""
    typing = problem.typing.substitute(problem.typing.assignments(1)[0])
    sizes = typing.sizes

    def concrete(shape: ex.Shape) -> ex.Shape:
        return tuple(sizes.get(x, x) if isinstance(x, str) else x for x in shape)  # type: ignore[return-value]

    symbols = {k: concrete(v) for k, v in shapes_all.items()}
    d.check_shapes = {k: symbols[k] for k in problem.typing.symbols}
    for block in d.blocks:
        inner = {n: plan.definitions[n] for n in [block.name]}
        checker = _Checker(typing, symbols, inner, ex.Symbol(block.name), block.upstream, timeout)
        for step in block.steps:
            if step.kind != "accumulate":
                checker.check(step)
                step.checked = True
    if d.final:
        inner_names = [n for n in plan.order if n != plan.root]
        binds = {n: full[n] for n in reversed(inner_names)}
        checker = _Checker(typing, symbols, binds, problem.expression, None if problem.scalar else problem.upstream,
                           timeout)
        # The final formulas against one another: evaluation only, no derivative, so always affordable.
        forms = [s.equation.rhs for s in d.final]
        for step, (a, b) in zip(d.final[1:], zip(forms, forms[1:], strict=False), strict=True):
            checker.check(Step(step.kind, Equation((a, b)), step.prose))
        quotients = sum(isinstance(n, ex.Div) for n in problem.expression.walk())
        if d.all_shapes and quotients > 1:
            # Nested quotients make exact rational arithmetic explode in the whole-expression oracle; the link
            # to ∂L/∂wrt is then the identity proved for all shapes, and the blocks above are each checked.
            for step in d.final:
                step.check_note = ("the formulas checked against one another; their link to the gradient is the "
                                   "identity proved for all shapes in index notation")
        else:  # the first against the whole expression's chain rule (the oracle)
            checker.check(d.final[0])
        for step in d.final:
            step.checked = True


__all__ = ["derive", "Derivation", "Step", "Block", "Equation", "Matrix", "Grad", "IndexEq", "plain"]
