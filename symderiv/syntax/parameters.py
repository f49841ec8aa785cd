"""The constant parameters of calls, read for the parser (:mod:`symderiv.syntax.language`) from the registry's
:class:`~symderiv.ops.Param` entries: positional or ``name=``, optional or required, an integer literal, an
axis (``0``/``1``, or ``-1``/``-2`` as in NumPy) or any rational constant; and the exponent of ``**``.

>>> from symderiv.syntax.language import parse
>>> parse("logsumexp(X, axis=-1)").params, parse("X ** (1/3)").params
((('axis', 1),), (('p', Fraction(1, 3)),))
"""

from __future__ import annotations

import ast
from fractions import Fraction
from typing import Any

from symderiv.core import expr as ex
from symderiv.ops import Param, matrix_op
from symderiv.syntax.constants import constant_value
from symderiv.syntax.lexical import MAX_POWER


class ParameterReader:
    """The parser's methods for constant parameters (a mixin of the parser: ``fail``, ``convert``, ``number``,
    ``source`` and ``int_literal`` are the parser's)."""

    fail: Any
    convert: Any
    number: Any
    source: Any
    int_literal: Any

    def exponent(self, node: ast.AST) -> Fraction:
        """The exponent of ``**``: an integer literal (the primitive power), or any other rational constant
        (``0.5``, ``-1.5``, ``(1/3)``); ``2.0`` is refused with the hint to write ``2``."""
        what, hint = "the exponent of `**`", "`A ** p` takes a constant p: 2, 0.5, -1.5 or (1/3)"
        inner = node.operand if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)) \
            else node
        if isinstance(inner, ast.Constant) and isinstance(inner.value, int) or (
                isinstance(inner, ast.Constant) and self.number(inner).denominator == 1):
            return Fraction(self.int_literal(node, what, lo=-MAX_POWER, hi=MAX_POWER, hint=hint))
        return self.constant(node, what, MAX_POWER, hint)

    def constant(self, node: ast.AST, what: str, limit: int, hint: str) -> Fraction:
        """A rational constant (``0.5``, ``-3/2``, ``2 ** -1``) of absolute value at most ``limit``."""
        value = constant_value(self.convert(node))
        if value is None:
            raise self.fail(node, f"{what} must be a constant number (an integer literal, a decimal or a fraction), "
                            f"not `{self.source(node)}`", hint)
        if abs(value) > limit:
            raise self.fail(node, f"{what} must be between {-limit} and {limit}", hint)
        return value

    def matrix_op(self, node: ast.Call, fn: str, span: tuple[int, int]) -> ex.Expr:
        """A call of a registered matrix operation: its matrix arguments, then its constant parameters
        (positional or ``name=``, as the registry entry declares; optional ones may be left out)."""
        op = matrix_op(fn)
        positional = [p for p in op.params if p.positional]
        form = op.form or f"{fn}(" + ", ".join(["A"] * op.arity + [p.name for p in positional]) + ")"
        least = op.arity + sum(1 for p in positional if not p.optional)
        if not least <= len(node.args) <= op.arity + len(positional):
            count = op.arity + len(positional)
            count_text = f"{least} to {count}" if least != count else str(count)
            raise self.fail(node, f"{fn}(...) takes {count_text} argument{'s' if count != 1 else ''}, "
                            f"not {len(node.args)}", f"write {form}")
        args = tuple(self.convert(a) for a in node.args[: op.arity])
        values = dict(zip([p.name for p in positional], node.args[op.arity:], strict=False))
        values.update({kw.arg: kw.value for kw in node.keywords if kw.arg is not None})
        missing = next((p for p in op.params if not p.optional and p.name not in values), None)
        if missing is not None:
            raise self.fail(node, f"{fn}(...) needs {missing.name}" + ("=" if not missing.positional else ""),
                            f"write {form}" + (f"; {missing.hint}" if missing.hint else ""))
        params = tuple((p.name, self.param(values[p.name], p, fn, form)) for p in op.params if p.name in values)
        return ex.Call(fn, args, params, span=span)

    def param(self, node: ast.AST, p: Param, fn: str, form: str) -> int | Fraction:
        """The value of one constant parameter of a registry operation, by its kind."""
        what, hint = p.what or f"the {p.name} of {fn}", p.hint or f"write {form}"
        if p.kind == "number":
            return self.constant(node, what, p.hi, hint)
        if p.kind == "axis":
            return self.int_literal(node, what, lo=-2, hi=1, hint=hint) % 2
        return self.int_literal(node, what, lo=p.lo, hi=p.hi, hint=hint)


__all__ = ["ParameterReader"]
