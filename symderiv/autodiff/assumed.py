"""Rewriting a formula with what the assumptions on its symbols say (``assume={"Y": "onehot_rows"}``).

Each rule replaces a subexpression by one that is equal *for every matrix with the assumed structure*, for all
shapes, so the rewritten formula is equal to the original one under the assumption:

- rows summing to 1 (``onehot_rows``, ``stochastic_rows``): ``sum(Y, axis=1)`` and ``Y @ ones(C, 1)`` are
  ``ones(N, 1)``; columns summing to 1 the same with ``axis=0`` and ``ones(1, N) @ Y``;
- one-hot entries are 0 or 1: ``Y * Y`` and ``Y ** k`` (``k ≥ 1``) are ``Y``;
- sign entries (``signs``) are ±1: ``y * y`` and ``y ** k`` (``k`` even) are ``ones``, ``y ** k`` (``k`` odd) is ``y``;
- a diagonal or symmetric ``Y`` is its own transpose;
- the rules of :mod:`symderiv.autodiff.assumed_kinds`, a table keyed by kind: ``D * eye(n) = D`` for a diagonal
  ``D``; ``abs(P) = P``, ``relu(P) = P``, ``sign(P) = step(P) = ones`` for a positive ``P``.

Then the ones the rules leave are dropped where they are neutral: ``ones * A`` is ``A`` and ``ones / A`` is
``1 / A`` when ``A`` already has the shape of the result. The caller (:func:`symderiv.gradient`) proves the result
entrywise under the assumptions like any gradient; these rules only make it shorter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction

from symderiv.autodiff.assumed_kinds import apply_kind_rules
from symderiv.autodiff.simplify import Simplifier
from symderiv.core import expr as ex

ShapeFn = Callable[[ex.Expr], ex.Shape]

_ROWS = ("onehot_rows", "stochastic_rows")
_COLS = ("onehot_cols", "stochastic_cols")


class AssumedRewriter:
    """Rewrites a formula with the assumptions ``assume`` (symbol → kind); :attr:`used` lists the rules applied,
    as sentences.

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.shapes import infer_shapes
    >>> typing = infer_shapes(parse("X + Y"), {"X": ("N", "C")})
    >>> r = AssumedRewriter({"Y": "onehot_rows"}, typing.shape_of)
    >>> from symderiv.syntax.printing import to_text
    >>> to_text(r.rewrite(parse("(sum(Y, axis=1) / sum(exp(X), axis=1)) @ ones(1, C) * exp(X) - Y")))
    'softmax(X, axis=1) - Y'
    >>> r.used
    ['sum(Y, axis=1) = ones(N, 1), since each row of Y sums to 1 (Y onehot_rows)']
    """

    def __init__(self, assume: Mapping[str, str], shape: ShapeFn, symmetric: frozenset[str] = frozenset()):
        self.assume = dict(assume)
        self.shape = shape
        self.simplifier = Simplifier(shape, symmetric)
        self.used: list[str] = []
        #: the same as data, for derivations: ``(before, after, name, kind)``, e.g. ``(sum(Y, axis=1), ones(N, 1),
        #: "Y", "onehot_rows")``
        self.identities: list[tuple[ex.Expr, ex.Expr, str, str]] = []

    def rewrite(self, node: ex.Expr) -> ex.Expr:
        """``node`` rewritten until nothing changes (at most a few passes), then simplified."""
        for _ in range(4):
            new = self.simplifier.simplify(self._pass(node))
            if new == node:
                break
            node = new
        return node

    def _pass(self, node: ex.Expr) -> ex.Expr:
        children = [self._pass(c) for c in node.children()]
        if children and children != list(node.children()):
            node = ex.with_children(node, children)
        return self._rule(node) or self._by_kind(node) or self._neutral(node) or node

    def _by_kind(self, node: ex.Expr) -> ex.Expr | None:
        """The rules of :data:`symderiv.autodiff.assumed_kinds.RULES_BY_KIND` for the kinds assumed."""
        found = apply_kind_rules(node, set(self.assume.values()), self._kind, self.shape)
        if found is None:
            return None
        self._note(found[1])
        return found[0]

    def _kind(self, node: ex.Expr) -> tuple[str, str] | None:
        if isinstance(node, ex.Symbol) and node.name in self.assume:
            return node.name, self.assume[node.name]
        return None

    def _note(self, sentence: str, identity: tuple[ex.Expr, ex.Expr, str, str] | None = None) -> None:
        if sentence not in self.used:
            self.used.append(sentence)
            if identity is not None:
                self.identities.append(identity)

    def _rule(self, node: ex.Expr) -> ex.Expr | None:
        if isinstance(node, ex.Sum) and node.axis is not None:
            return self._line_sum(node.operand, node.axis)
        if isinstance(node, ex.MatMul):
            if _is_ones(node.right) and self.shape(node.right)[1] == 1:
                return self._line_sum(node.left, 1, node)
            if _is_ones(node.left) and self.shape(node.left)[0] == 1:
                return self._line_sum(node.right, 0, node)
            return None
        if isinstance(node, ex.Transpose):
            found = self._kind(node.operand)
            rows, cols = self.shape(node.operand)
            if found and found[1] in ("diagonal", "symmetric") and rows == cols:
                self._note(f"{found[0]}.T = {found[0]}, since {found[0]} is {found[1]}",
                           (node, node.operand, *found))
                return node.operand
            return None
        return self._idempotent(node)

    def _line_sum(self, operand: ex.Expr, axis: int, written: ex.Expr | None = None) -> ex.Expr | None:
        """``ones`` for the sums of the lines of a matrix whose lines sum to 1."""
        found = self._kind(operand)
        if found is None or found[1] not in (_ROWS if axis == 1 else _COLS):
            return None
        name, kind = found
        rows, cols = self.shape(operand)
        result = ex.ConstMatrix("ones", rows, 1) if axis == 1 else ex.ConstMatrix("ones", 1, cols)
        line = "row" if axis == 1 else "column"
        self._note(f"sum({name}, axis={axis}) = {_ones_text(result)}, since each {line} of {name} sums to 1 "
                   f"({name} {kind})", (written or ex.Sum(operand, axis), result, name, kind))
        return result

    def _idempotent(self, node: ex.Expr) -> ex.Expr | None:
        """``Y * Y`` and ``Y ** k`` are ``Y`` for a one-hot ``Y`` (its entries are 0 or 1); for ``y`` of signs
        (entries ±1), ``y * y`` and an even power are ``ones``, an odd power is ``y``."""
        if isinstance(node, ex.Mul) and node.left == node.right:
            target, power = node.left, 2
        elif isinstance(node, ex.Power) and node.exponent >= 1:
            target, power = node.operand, node.exponent
        else:
            return None
        found = self._kind(target)
        if found is not None and found[1] == "signs":
            return self._signs(found[0], target, power)
        if found is None or not found[1].startswith("onehot"):
            return None
        self._note(f"{found[0]} * {found[0]} = {found[0]}, since the entries of {found[0]} are 0 or 1 "
                   f"({found[0]} {found[1]})", (ex.Mul(target, target), target, *found))
        return target

    def _signs(self, name: str, target: ex.Expr, power: int) -> ex.Expr:
        """``y ** k`` for ``y`` of signs: ``ones`` of its shape when ``k`` is even, ``y`` when it is odd."""
        if power % 2:
            self._note(f"{name} ** {power} = {name}, since the entries of {name} are +1 or -1 ({name} signs)",
                       (ex.Power(target, power), target, name, "signs"))
            return target
        rows, cols = self.shape(target)
        ones = ex.ConstMatrix("ones", rows, cols)
        self._note(f"{name} ** {power} = {_ones_text(ones)}, since the entries of {name} are +1 or -1 "
                   f"({name} signs)", (ex.Power(target, power), ones, name, "signs"))
        return ones

    def _neutral(self, node: ex.Expr) -> ex.Expr | None:
        """Identities that tidy what the rules leave, when the other operand has the result's shape: ``ones * A``
        is ``A``, ``ones / A`` is ``1 / A``, ``(b @ ones(1, C)) * A`` is ``b * A`` (broadcasting), and
        ``(1 / b) * A`` is ``A / b``."""
        if not isinstance(node, (ex.Mul, ex.Div)):
            return None
        shape = self.shape(node)
        left, right = node.left, node.right
        if isinstance(node, ex.Mul):
            for ones, other in ((left, right), (right, left)):
                if _is_ones(ones) and self.shape(other) == shape:
                    return other
            for spread, other in ((left, right), (right, left)):
                if self.shape(other) != shape:
                    continue
                if (narrow := self._unspread(spread)) is not None:
                    return ex.Mul(narrow, other) if spread is left else ex.Mul(other, narrow)
                if isinstance(spread, ex.Div) and _is_number(spread.left, 1):
                    return ex.Div(other, spread.right)
            return None
        if _is_ones(left) and self.shape(right) == shape:
            return ex.Div(ex.Number(Fraction(1)), right)
        if self.shape(left) == shape and (narrow := self._unspread(right)) is not None:
            return ex.Div(left, narrow)
        if self.shape(right) == shape and (narrow := self._unspread(left)) is not None:
            return ex.Div(narrow, right)
        return None

    def _unspread(self, node: ex.Expr) -> ex.Expr | None:
        """``b`` for ``b @ ones(1, C)`` (``b`` a column) or ``ones(N, 1) @ b`` (``b`` a row): NumPy broadcasting
        stretches ``b`` the same way."""
        if not isinstance(node, ex.MatMul):
            return None
        if _is_ones(node.right) and self.shape(node.left)[1] == 1:
            return node.left
        if _is_ones(node.left) and self.shape(node.right)[0] == 1:
            return node.right
        return None


def _is_number(node: ex.Expr, value: int) -> bool:
    return isinstance(node, ex.Number) and node.value == value


def _is_ones(node: ex.Expr) -> bool:
    return isinstance(node, ex.ConstMatrix) and node.kind == "ones"


def _ones_text(node: ex.ConstMatrix) -> str:
    return f"ones({node.rows}, {node.cols})"


def rewrite_assumed(node: ex.Expr, assume: Mapping[str, str], shape: ShapeFn,
                    symmetric: frozenset[str] = frozenset()) -> tuple[ex.Expr, list[str]]:
    """``node`` rewritten under ``assume``, and the rules used (as sentences); ``node`` itself when none applies.

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.shapes import infer_shapes
    >>> typing = infer_shapes(parse("Y"), {"Y": (3, 4)})
    >>> rewrite_assumed(parse("sum(Y, axis=1)"), {"Y": "stochastic_rows"}, typing.shape_of)[0]
    ConstMatrix(kind='ones', rows=3, cols=1)
    """
    rewriter = AssumedRewriter(assume, shape, symmetric)
    result = rewriter.rewrite(node)
    return (result, rewriter.used) if rewriter.used else (node, [])


__all__ = ["AssumedRewriter", "rewrite_assumed"]
