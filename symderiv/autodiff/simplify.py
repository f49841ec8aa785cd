"""A canonical, readable form for gradient formulas.

The rules are the ones a lecturer applies by hand:

- transposes are pushed inward: ``(A @ B).T → B.T @ A.T``, ``X.T.T → X``, and the
  transpose of anything ``1×1`` (or of a declared symmetric matrix) is dropped;
- numbers are folded and collected in front of a product (``2 * (W @ X - Y) @ X.T``);
  a minus sign goes on the first factor (``-inv(A).T @ G @ inv(A).T``);
- neutral elements go: ``* 1``, ``+ 0``, ``@ eye(n)``, ``** 1``, and ``ones(r, c) *``
  when it stretches nothing;
- equal terms of a sum are merged (``G + G → 2 * G``) and terms with a common
  factor are collected: ``A @ x + A.T @ x → (A + A.T) @ x`` (inside the new
  bracket, untransposed terms come first).

Shape-dependent rules need to know shapes; they are skipped when no ``shape``
function is given. Every rule preserves the value (and shape) of the expression;
the test suite checks that against the entrywise prover.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

from symderiv.autodiff.canon import ONE as _ONE
from symderiv.autodiff.canon import Canonical, ShapeFn, Term
from symderiv.autodiff.chains import cancel_inverse, eye_sum, power_key, pull_scalars, split_inverses
from symderiv.autodiff.lines import pull_constant, stretch_ones, unspread, written_out
from symderiv.autodiff.products import normalise, size
from symderiv.autodiff.recognise import Pattern, patterns, recognise
from symderiv.core import expr as ex
from symderiv.syntax.constants import constant_value
from symderiv.syntax.printing import to_text

#: Tuning: bounds on the rewriting passes to a fixpoint, and on the rounds of recognising named functions
#: (softmax, ...) and rewriting again. Every pass rewrites to an equal expression, so any bounds are as correct:
#: the bounds only stop a rewriting that would not settle, and the tests meet none that needs more.
_MAX_PASSES = 25  # pragma: no mutate - tuning (above)
_RECOGNITION_ROUNDS = 3  # pragma: no mutate - tuning (above)


def _factor_key(node: ex.Expr) -> str:
    return to_text(node)


def _transpose_count(node: ex.Expr) -> int:
    return sum(isinstance(n, ex.Transpose) for n in node.walk())


class Simplifier(Canonical):
    """Rewrites an expression to the canonical form, given an optional shape oracle.

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.printing import to_text
    >>> to_text(Simplifier().simplify(parse("(A @ B.T).T.T + 0")))
    'A @ B.T'
    """

    def __init__(self, shape: ShapeFn | None = None, symmetric: Iterable[str] = (), *, recognise: bool = True):
        super().__init__(shape, symmetric)
        self._argument = 0
        self._plain: Simplifier | None = None
        self._table: list[Pattern] = []
        if recognise:  # instances of expansions are canonicalised without recognition (no regress)
            self._table = patterns(Simplifier(recognise=False).simplify)

    def _keyer(self) -> Simplifier:
        """A simplifier without recognition, for canonical keys and instances (made once)."""
        if not self._table:
            return self  # no recognition here already (simplify is re-entrant)
        if self._plain is None:
            self._plain = Simplifier(self._shape_fn, self.symmetric, recognise=False)
        return self._plain

    def _recognised(self, node: ex.Expr, in_product: bool = False) -> ex.Expr:
        """Named functions recognised in each whole product (top-down: a product is matched as a whole)."""
        product = isinstance(node, (ex.Mul, ex.Div))
        if isinstance(node, ex.Apply):
            return node  # not inside a function's argument (see _pass)
        if product and not in_product:
            found = recognise(self, node, self._keyer().simplify, self._table)
            if found is not None:
                return found
        kids = [self._recognised(c, product) for c in node.children()]
        return self._rebuild(node, kids)

    # -- driver ------------------------------------------------------------
    def simplify(self, node: ex.Expr) -> ex.Expr:
        """Rewrite until nothing changes (a few passes; each pass is bottom-up), then recognise named functions.
        Inverses of products of square factors are also tried split (``inv(A X B) = inv(B) inv(X) inv(A)``), with
        ``1×1`` factors pulled out of ``@`` chains: that form is kept when it is shorter (its inverses may cancel
        against their neighbours)."""
        outer, self._argument = self._argument, 0
        try:
            node = self._canonical_form(node)
            if self._shape_fn is None or not any(isinstance(n, ex.Inv) for n in node.walk()):
                return node
            split = split_inverses(self, node) or node
            pulled = pull_scalars(self, split)
            if pulled is not None or split is not node:
                candidate = self._canonical_form(pulled or split)
                if size(candidate) < size(node):
                    return candidate
            return node
        finally:
            self._argument = outer

    def _canonical_form(self, node: ex.Expr) -> ex.Expr:
        for _ in range(_RECOGNITION_ROUNDS):
            node = self._fixpoint(node)
            named = self._recognised(node) if self._table else node
            if named == node:
                break
            node = named
        return node

    def _fixpoint(self, node: ex.Expr) -> ex.Expr:
        for _ in range(_MAX_PASSES):
            new = self._pass(node)
            if new == node:
                return new
            node = new
        return node

    def _pass(self, node: ex.Expr) -> ex.Expr:
        # The argument of a function keeps its quotients as written: the prover's atoms are keyed by it.
        self._argument += isinstance(node, ex.Apply)
        try:
            node = self._rebuild(node, [self._pass(c) for c in node.children()])
        finally:
            self._argument -= isinstance(node, ex.Apply)
        if isinstance(node, (ex.Div, ex.Power, ex.Apply)) and (value := constant_value(node)) is not None:
            return ex.Number(value)  # exact: 1 / 3, 2 ** -1, f(c) when f's row folds it to a rational
        method = getattr(self, "_simplify_" + type(node).__name__, None)
        return method(node) if method is not None else node

    # -- node rules ----------------------------------------------------------
    def _simplify_Neg(self, node: ex.Neg) -> ex.Expr:
        if isinstance(node.operand, (ex.Add, ex.Sub)):
            return self._simplify_sum(node)
        return self._canonical_product(node)

    def _simplify_Transpose(self, node: ex.Transpose) -> ex.Expr:
        a = node.operand
        if isinstance(a, ex.Transpose):
            return a.operand
        if isinstance(a, ex.Number) or self.is_scalar(a):
            return a
        if isinstance(a, ex.ConstMatrix):
            return ex.ConstMatrix(a.kind, a.cols, a.rows)
        if isinstance(a, ex.Symbol) and a.name in self.symmetric:
            return a
        if isinstance(a, ex.MatMul):
            return ex.MatMul(ex.Transpose(a.right), ex.Transpose(a.left))
        if isinstance(a, (ex.Add, ex.Sub, ex.Mul, ex.Div)):
            return type(a)(ex.Transpose(a.left), ex.Transpose(a.right))
        if isinstance(a, ex.Neg):
            return ex.Neg(ex.Transpose(a.operand))
        if isinstance(a, ex.Power):
            return ex.Power(ex.Transpose(a.operand), exponent=a.exponent)
        if isinstance(a, ex.Inv) and self._symmetric_expr(a.operand):
            return a
        return node

    def _symmetric_expr(self, node: ex.Expr) -> bool:
        """A declared symmetric name, or a product/sum equal to its own transpose (``X.T @ X``, ``A + A.T``)."""
        if isinstance(node, ex.Symbol):
            return node.name in self.symmetric
        return isinstance(node, (ex.MatMul, ex.Add, ex.Sub)) and self._keyer().simplify(ex.Transpose(node)) == node

    def _simplify_Inv(self, node: ex.Inv) -> ex.Expr:
        if isinstance(node.operand, ex.Transpose):
            return ex.Transpose(ex.Inv(node.operand.operand))
        if isinstance(node.operand, ex.Inv):
            return node.operand.operand
        return node

    def _simplify_MatMul(self, node: ex.MatMul) -> ex.Expr:
        left, right = node.left, node.right
        if self.is_zero(left) or self.is_zero(right):
            return self.zeros(node)
        # A number is 1×1, so `@` with it is scaling (the language itself forbids `2 @ A`).
        if isinstance(left, ex.Number) or isinstance(right, ex.Number):
            return self._canonical_product(ex.Mul(left, right))
        if isinstance(left, ex.ConstMatrix) and left.kind == "eye":
            return right
        if isinstance(right, ex.ConstMatrix) and right.kind == "eye":
            return left
        # A 1×1 factor of a product is scaling: x @ s → s * x, written first as a lecturer would.
        if self.shape(left) == (1, 1) and self.shape(right) is not None:
            return self._simplify_Mul(ex.Mul(left, right))
        if self.shape(right) == (1, 1) and self.shape(left) is not None:
            return self._simplify_Mul(ex.Mul(right, left))
        # Re-associate to the left, `A @ (B @ C) → A @ B @ C`, as one writes a chain.
        if isinstance(right, ex.MatMul):
            return ex.MatMul(ex.MatMul(left, right.left), right.right)
        if (cancelled := cancel_inverse(self, node, self._keyer().simplify)) is not None:
            return cancelled
        return self._canonical_product(node)

    def _hadamard_factors(self, node: ex.Expr) -> list[ex.Expr]:
        if isinstance(node, ex.Mul):
            return self._hadamard_factors(node.left) + self._hadamard_factors(node.right)
        return [node]

    def _simplify_Mul(self, node: ex.Mul) -> ex.Expr:
        if self.is_zero(node.left) or self.is_zero(node.right):
            return self.zeros(node)
        if not self._argument and (narrow := unspread(self, node)) is not None:
            return narrow
        if not self._argument and (normal := normalise(self, node)) is not node:
            return normal
        c, core = self.split(node)
        if core is not None and isinstance(core, ex.Mul):
            factors = self._hadamard_factors(core)
            whole = self.shape(node)
            kept = list(factors)
            for f in factors:
                if isinstance(f, ex.ConstMatrix) and f.kind == "ones" and len(kept) > 1:
                    rest = [g for g in kept if g is not f]
                    candidate = rest[0]
                    for g in rest[1:]:
                        candidate = ex.Mul(candidate, g)
                    if whole is not None and self.shape(candidate) == whole:
                        kept = rest
            # A 1×1 factor is scaling: a lecturer writes it first (det(X) * inv(X).T).
            scalars = [f for f in kept if self.is_scalar(f)]
            if scalars and len(scalars) < len(kept) and self.shape(node) is not None:
                kept = scalars + [f for f in kept if not self.is_scalar(f)]
            core = kept[0]
            for f in kept[1:]:
                core = ex.Mul(core, f)
        return self.join(c, core)

    def _simplify_Div(self, node: ex.Div) -> ex.Expr:
        if self.is_zero(node.left):
            return self.zeros(node)
        if not self._argument and (narrow := unspread(self, node)) is not None:
            return narrow
        if not self._argument and (normal := normalise(self, node)) is not node:
            return normal
        return self._canonical_product(node)

    def _simplify_Power(self, node: ex.Power) -> ex.Expr:
        a, k = node.operand, node.exponent
        if k == 1:
            return a
        if k == 0:
            shape = self.shape(a)
            if shape is not None:
                return ex.ConstMatrix("ones", shape[0], shape[1])
            return node
        if isinstance(a, ex.Neg):
            inner = ex.Power(a.operand, exponent=k)
            return inner if k % 2 == 0 else ex.Neg(inner)
        if isinstance(a, ex.Power):
            return ex.Power(a.operand, exponent=a.exponent * k)
        return node

    def _simplify_Sum(self, node: ex.Sum) -> ex.Expr:
        a = node.operand
        shape = self.shape(a)
        if shape is not None:
            if shape == (1, 1):
                return a
            if node.axis == 0 and shape[0] == 1:
                return a
            if node.axis == 1 and shape[1] == 1:
                return a
        if self.is_zero(a):
            return self.zeros(node)
        if (trace := eye_sum(self, node)) is not None:
            return trace
        if not self._argument and (pulled := pull_constant(self, node)) is not None:
            return pulled
        if not self._argument and (expansion := written_out(a)) is not None:
            # The lines of an operation's value may sum to something simple (a softmax's to 1): kept when shorter.
            lines = self._keyer().simplify(ex.Sum(expansion, axis=node.axis))
            if size(lines) < size(node):
                return lines
        return self._canonical_product(node)

    def _simplify_Trace(self, node: ex.Trace) -> ex.Expr:
        if self.shape(node.operand) == (1, 1):
            return node.operand
        return self._canonical_product(node)

    def _simplify_Add(self, node: ex.Add) -> ex.Expr:
        return stretch_ones(self, node) or self._simplify_sum(node)

    def _simplify_Sub(self, node: ex.Sub) -> ex.Expr:
        return stretch_ones(self, node) or self._simplify_sum(node)

    # -- sums ----------------------------------------------------------------
    def _terms(self, node: ex.Expr, sign: Fraction, out: list[Term]) -> None:
        if isinstance(node, ex.Add):
            self._terms(node.left, sign, out)
            self._terms(node.right, sign, out)
        elif isinstance(node, ex.Sub):
            self._terms(node.left, sign, out)
            self._terms(node.right, -sign, out)
        elif isinstance(node, ex.Neg) and isinstance(node.operand, (ex.Add, ex.Sub)):
            self._terms(node.operand, -sign, out)
        else:
            c, core = self.split(node)
            out.append((sign * c, core))

    def _merge(self, terms: list[Term]) -> list[Term]:
        merged: dict[object, Fraction] = {}
        first: dict[object, ex.Expr | None] = {}
        for c, core in terms:
            if core is not None and self.is_zero(core):
                continue
            # Hadamard products commute: `A * B` and `B * A` are one term.
            key = core if not isinstance(core, ex.Mul) else ("*", tuple(sorted(
                _factor_key(f) for f in self._hadamard_factors(core))))
            if isinstance(key, ex.Expr):
                key = power_key(key, self._keyer().simplify)  # X.T @ X.T and matpow(X, 2).T are one term
            kept = first.setdefault(key, core)
            if kept is not None and core is not None and size(core) < size(kept):
                first[key] = core  # the shortest spelling
            merged[key] = merged.get(key, Fraction(0)) + c
        return [(c, first[key]) for key, c in merged.items() if c != 0]

    def _factor(self, terms: list[Term], side: str) -> list[Term]:
        """Collect ``P @ x + Q @ x`` into ``(P + Q) @ x`` (side "right"), or ``A @ P + A @ Q`` (side "left")."""
        groups: dict[ex.Expr, list[tuple[int, Term]]] = {}
        for i, (c, core) in enumerate(terms):
            if isinstance(core, ex.MatMul):
                shared, other = (core.right, core.left) if side == "right" else (core.left, core.right)
                groups.setdefault(shared, []).append((i, (c, other)))
        result: list[Term] = []
        done: set[int] = set()
        for i, (c, core) in enumerate(terms):
            if i in done:
                continue
            key = (core.right if side == "right" else core.left) if isinstance(core, ex.MatMul) else None
            members = groups[key] if key is not None else []
            if key is None or len(members) < 2:
                result.append((c, core))
                continue
            done.update(j for j, _ in members)
            # Inside the new bracket, untransposed terms come first: (A + A.T) @ x.
            inner = sorted((t for _, t in members), key=lambda t: _transpose_count(t[1]) if t[1] is not None else 0)
            bracket = self._build_sum(inner)
            result.append(self.split(ex.MatMul(bracket, key) if side == "right" else ex.MatMul(key, bracket)))
        return result

    def _build_sum(self, terms: list[Term]) -> ex.Expr:
        if not terms:
            return ex.Number(Fraction(0))
        # A leading minus reads badly: start with a positive term when there is one.
        first = next((i for i, (c, _) in enumerate(terms) if c > 0), 0)
        ordered = [terms[first]] + terms[:first] + terms[first + 1:]
        acc = self.join(*ordered[0])
        for c, core in ordered[1:]:
            if c < 0:
                acc = ex.Sub(acc, self.join(-c, core))
            else:
                acc = ex.Add(acc, self.join(c, core))
        return acc

    def _simplify_sum(self, node: ex.Expr) -> ex.Expr:
        terms: list[Term] = []
        self._terms(node, _ONE, terms)
        terms = self._merge(terms)
        terms = self._merge(self._factor(terms, "right"))
        terms = self._merge(self._factor(terms, "left"))
        if not terms:
            return self.zeros(node)
        result = self._build_sum(terms)
        whole = self.shape(node)
        # Dropping a cancelled term must not drop the broadcasting it did.
        if whole is not None and self.shape(result) != whole:
            return ex.Mul(ex.ConstMatrix("ones", whole[0], whole[1]), result) if not self.is_zero(result) \
                else ex.ConstMatrix("zeros", whole[0], whole[1])
        return result


def simplify(node: ex.Expr, shape: ShapeFn | None = None, *, symmetric: Iterable[str] = ()) -> ex.Expr:
    """The canonical form of ``node`` (``shape`` maps a node to its shape, for the shape-dependent rules).

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.printing import to_text
    >>> to_text(simplify(parse("A @ x + A.T @ x")))
    '(A + A.T) @ x'
    >>> to_text(simplify(parse("(W @ X - Y) * 2 @ X.T")))
    '2 * (W @ X - Y) @ X.T'
    """
    return Simplifier(shape, symmetric).simplify(node)


__all__ = ["simplify", "Simplifier"]
