"""Text → Expr: a whitelist over Python's ``ast``; nothing is ever evaluated.

Limits are enforced before ``ast.parse`` sees the text, so that hostile input
(``"(" * 100000``, huge literals, deep nesting) is refused at once with a
:class:`~symderiv.core.errors.ParseError` that names the column.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterable
from fractions import Fraction

from symderiv.core import expr as ex
from symderiv.core.errors import NameKindError, ParseError
from symderiv.core.literals import LiteralError, read_literal
from symderiv.ops import language_functions, matrix_ops
from symderiv.syntax.constants import check_constants
from symderiv.syntax.lexical import (
    MAX_DIM_VALUE,
    MAX_NODES,
    MAX_TREE_DEPTH,
    check_identifier,
    is_identifier,
    prescan,
)
from symderiv.syntax.parameters import ParameterReader

_OPERATOR_HINTS = {
    ast.BitXor: "`^` is not a power here; write `A ** k` (elementwise) or `matpow(A, k)`",
    ast.FloorDiv: "`//` is not supported; use `/` for the elementwise quotient",
    ast.Mod: "`%` is not supported",
    ast.LShift: "shifts are not supported",
    ast.RShift: "shifts are not supported",
    ast.BitOr: "`|` is not supported",
    ast.BitAnd: "`&` is not supported",
}


class _Parser(ParameterReader):
    def __init__(self, text: str, functions: Iterable[str], upstream: str | None, allow_upstream: bool):
        self.text = text
        self.generic = set(functions)
        self.primes = {ex.prime_name(f) for f in self.generic}
        self.upstream = upstream
        self.allow_upstream = allow_upstream
        # The parsed source is one line, the text wrapped in "(" ... ")": a column there is one more than in
        # the text (the text's own line breaks are spaces by now, see parse()).
        self.wrapped = "(" + text + ")"

    # -- positions -------------------------------------------------------
    def _char_col(self, byte_col: int) -> int:
        """The 1-based column in the text of a byte offset of the wrapped source."""
        return len(self.wrapped.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        """(column, width) of ``node`` in the text; every node given here is an expression, with its positions."""
        start, end = (self._char_col(getattr(node, key, 0)) for key in ("col_offset", "end_col_offset"))
        return (start, max(1, end - start))

    def fail(self, node: ast.AST, message: str, hint: str | None = None, cls: type = ParseError):
        start, width = self.span(node)
        return cls(message, text=self.text, column=start, width=width, hint=hint)

    def source(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.wrapped, node) or type(node).__name__

    # -- conversion ------------------------------------------------------
    def convert(self, node: ast.AST) -> ex.Expr:
        span = self.span(node)
        if isinstance(node, ast.BinOp):
            return self.binop(node, span)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                inner = self.convert(node.operand)
                if isinstance(inner, ex.Number):
                    return ex.Number(-inner.value, span=span)
                return ex.Neg(inner, span=span)
            if isinstance(node.op, ast.UAdd):
                return self.convert(node.operand)
            raise self.fail(node, f"the operator in `{self.source(node)}` is not supported",
                            "only unary minus is allowed")
        if isinstance(node, ast.Name):
            return self.name(node, span)
        if isinstance(node, ast.Constant):
            return ex.Number(self.number(node), span=span)
        if isinstance(node, ast.Attribute):
            if node.attr != "T":
                raise self.fail(node, f"attribute `.{node.attr}` is not allowed",
                                "the only attribute is `.T` (transpose)")
            return ex.Transpose(self.convert(node.value), span=span)
        if isinstance(node, ast.Call):
            return self.call(node, span)
        raise self.fail(node, f"{_describe(node)} is not part of the expression language",
                        "use matrix names, numbers, @ * + - / **, .T and the functions of the language")

    def binop(self, node: ast.BinOp, span: tuple[int, int]) -> ex.Expr:
        op = type(node.op)
        if op in _OPERATOR_HINTS:
            raise self.fail(node, f"operator in `{self.source(node)}` is not supported", _OPERATOR_HINTS[op])
        if op is ast.Pow:
            base = self.convert(node.left)
            p = self.exponent(node.right)
            if p.denominator == 1:
                return ex.Power(base, exponent=int(p), span=span)
            return ex.Call("pow", (base,), (("p", p),), span=span)
        left, right = self.convert(node.left), self.convert(node.right)
        cls = {ast.MatMult: ex.MatMul, ast.Add: ex.Add, ast.Sub: ex.Sub, ast.Mult: ex.Mul, ast.Div: ex.Div}.get(op)
        if cls is None:
            raise self.fail(node, f"operator in `{self.source(node)}` is not supported")
        return cls(left, right, span=span)

    def name(self, node: ast.Name, span: tuple[int, int]) -> ex.Expr:
        name = node.id
        if not is_identifier(name):
            raise self.fail(node, f"name `{name}` is not allowed",
                            "names start with a letter and use letters, digits and single underscores")
        if name in RESERVED or name in self.generic or name in self.primes:
            raise self.fail(node, f"`{name}` is a function, not a matrix", f"call it, as in {name}(A)",
                            cls=NameKindError)
        if name == self.upstream and not self.allow_upstream:
            raise self.fail(node, f"`{name}` is the upstream gradient ∂L/∂D and may appear only in claims",
                            "rename the matrix, or choose another name for the upstream with upstream=/--upstream",
                            cls=NameKindError)
        return ex.Symbol(name, span=span)

    def number(self, node: ast.Constant) -> Fraction:
        """The literal's exact value, read from its source text (Python's float is never used)."""
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(node, f"{_describe(node)} is not allowed here", "only real number literals are allowed")
        try:
            return read_literal(self.source(node))
        except LiteralError as err:
            raise self.fail(node, err.message, err.hint) from None

    def int_literal(self, node: ast.AST, what: str, lo: int, hi: int, hint: str | None = None) -> int:
        sign = node.op if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)) else None
        inner = node.operand if isinstance(node, ast.UnaryOp) and sign is not None else node
        if not (isinstance(inner, ast.Constant) and isinstance(inner.value, (int, float))
                and not isinstance(inner.value, bool)):
            raise self.fail(node, f"{what} must be an integer literal", hint)
        value = -self.number(inner) if isinstance(sign, ast.USub) else self.number(inner)
        if not isinstance(inner.value, int):
            # `W ** 1.0` is not read as `W ** 1`: an integer slot takes an integer literal.
            if value.denominator == 1 and lo <= value <= hi:
                hint = f"write {value}" + (f"; {hint}" if hint else "")
            raise self.fail(node, f"{what} must be an integer literal, not `{self.source(node)}`", hint)
        if not lo <= value <= hi:
            raise self.fail(node, f"{what} must be between {lo} and {hi}", hint)
        return int(value)

    def dim(self, node: ast.AST, what: str) -> ex.Dim:
        if isinstance(node, ast.Name):
            check_dim = node.id
            if not is_identifier(check_dim):
                raise self.fail(node, f"`{check_dim}` is not a valid dimension name")
            return check_dim
        value = self.int_expr(node, what)
        if value < 1:
            raise self.fail(node, f"{what} must be a positive size, not {value}")
        if value > MAX_DIM_VALUE:
            raise self.fail(node, f"{what} is too large", f"sizes are at most {MAX_DIM_VALUE}")
        return value

    def int_expr(self, node: ast.AST, what: str) -> int:
        """Integer literal arithmetic for sizes (``10**9``), capped so nothing explodes."""
        if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
            if abs(node.value) > MAX_DIM_VALUE * 10:
                raise self.fail(node, f"{what} is too large", f"sizes are at most {MAX_DIM_VALUE}")
            return node.value
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Pow)):
            a, b = self.int_expr(node.left, what), self.int_expr(node.right, what)
            if isinstance(node.op, ast.Pow):
                # |a| ≤ 10·MAX_DIM_VALUE here, so a ** 64 has under 900 digits: cheap, and capped below
                if b < 0:
                    raise self.fail(node, f"{what} has a negative exponent", "sizes are whole numbers")
                if b > 64:
                    raise self.fail(node, f"{what} is too large", f"sizes are at most {MAX_DIM_VALUE}")
                value = a**b
            else:
                value = {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b}[type(node.op)]
            if abs(value) > MAX_DIM_VALUE * 10:
                raise self.fail(node, f"{what} is too large", f"sizes are at most {MAX_DIM_VALUE}")
            return value
        hint = "for example ones(n, 1) or eye(3)"
        if isinstance(node, ast.Constant) and isinstance(node.value, float):
            exact = self.number(node)
            if exact.denominator == 1 and 1 <= exact <= MAX_DIM_VALUE:
                hint = f"write {exact}"
        raise self.fail(node, f"{what} must be a positive integer or a dimension name", hint)

    def call(self, node: ast.Call, span: tuple[int, int]) -> ex.Expr:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node.func, "only the functions of the language can be called",
                            "for example exp(A), trace(A), sum(A, axis=0)")
        fn = node.func.id
        starred = next((arg for arg in node.args if isinstance(arg, ast.Starred)), None)
        if starred is not None:
            raise self.fail(starred, "starred arguments are not allowed")
        op = matrix_ops().get(fn)
        self.check_keywords(node, fn, {"axis"} if fn == "sum" else {p.name for p in op.params if not p.positional}
                            if op else set(), op.form if op else "")
        nargs = len(node.args)

        def need(count: int, form: str) -> None:
            if nargs != count:
                raise self.fail(node, f"{fn}(...) takes {count} argument{'s' if count != 1 else ''}, not {nargs}",
                                f"write {form}")

        if fn in language_functions() or fn in self.generic or fn in self.primes:
            need(1, f"{fn}(A)")
            return ex.Apply(self.convert(node.args[0]), fn=fn, span=span)
        if op is not None:
            return self.matrix_op(node, fn, span)
        if fn in ("trace", "det", "inv"):
            need(1, f"{fn}(A)")
            cls = {"trace": ex.Trace, "det": ex.Det, "inv": ex.Inv}[fn]
            return cls(self.convert(node.args[0]), span=span)
        if fn == "sum":
            need(1, "sum(A), sum(A, axis=0) or sum(A, axis=1)")
            axis = None
            for kw in node.keywords:
                axis = self.int_literal(kw.value, "axis", lo=-2, hi=1, hint="axis is 0 (column sums) or 1 (row sums)")
                axis %= 2
            return ex.Sum(self.convert(node.args[0]), axis=axis, span=span)
        if fn in ("ones", "zeros", "eye"):
            need(1 if fn == "eye" else 2, "eye(n)" if fn == "eye" else f"{fn}(rows, cols)")
            return self.constructor(node, fn, span)
        known = sorted(RESERVED | self.generic)
        hint = "known functions: " + ", ".join(known)
        if is_identifier(fn):
            hint += f"; declare a generic elementwise function with functions=[{fn!r}] / --fn {fn}"
        raise self.fail(node.func, f"unknown function `{fn}`", hint, cls=NameKindError)

    def check_keywords(self, node: ast.Call, fn: str, allowed: set[str], form: str = "") -> None:
        """Keyword arguments: only the allowed names, each once, no ``**``."""
        seen: set[str] = set()
        for kw in node.keywords:
            if kw.arg is None:
                raise self.fail(kw.value, "`**` arguments are not allowed")
            if kw.arg in seen:
                raise self.fail(kw.value, f"keyword argument `{kw.arg}=` is repeated")
            seen.add(kw.arg)
            if kw.arg not in allowed:
                hint = (f"write {form}" if form else "the only keyword is axis=, in sum(A, axis=0|1)") if allowed \
                    else f"{fn}(...) takes no keyword arguments"
                raise self.fail(kw.value, f"keyword argument `{kw.arg}=` is not allowed in {fn}(...)", hint)

    def constructor(self, node: ast.Call, fn: str, span: tuple[int, int]) -> ex.Expr:
        """``ones(r, c)``, ``zeros(r, c)`` or ``eye(n)``."""
        if fn == "eye":
            n = self.dim(node.args[0], "the size of eye")
            return ex.ConstMatrix("eye", n, n, span=span)
        return ex.ConstMatrix(fn, self.dim(node.args[0], "the row count"),
                              self.dim(node.args[1], "the column count"), span=span)

#: Names of functions and constructors: never names of matrices.
RESERVED = frozenset(language_functions()) | frozenset(matrix_ops()) | {"trace", "det", "inv", "sum", "ones", "zeros",
                                                                       "eye"}


def _describe(node: ast.AST) -> str:
    names = {
        ast.Subscript: "subscripting (`A[0]`)", ast.Lambda: "a lambda", ast.ListComp: "a comprehension",
        ast.GeneratorExp: "a generator", ast.DictComp: "a comprehension", ast.SetComp: "a comprehension",
        ast.JoinedStr: "an f-string", ast.NamedExpr: "`:=`", ast.Compare: "a comparison",
        ast.BoolOp: "`and`/`or`", ast.IfExp: "a conditional expression", ast.Tuple: "a tuple",
        ast.List: "a list", ast.Dict: "a dict", ast.Set: "a set", ast.Starred: "a starred expression",
        ast.Await: "await", ast.Yield: "yield", ast.Slice: "a slice",
    }
    if isinstance(node, ast.Constant):
        return f"the constant {type(node.value).__name__} literal"
    return names.get(type(node), f"`{type(node).__name__}`")


def _check_tree_size(tree: ast.AST, parser: _Parser) -> None:
    count = 0
    body = getattr(tree, "body", tree)
    stack: list[tuple[ast.AST, int, ast.AST]] = [(tree, 0, body)]
    while stack:
        node, depth, placed = stack.pop()
        if hasattr(node, "col_offset"):
            placed = node
        count += 1
        if count > MAX_NODES:
            raise parser.fail(placed, f"expression has more than {MAX_NODES} syntax nodes",
                              "split it into smaller pieces")
        if depth > MAX_TREE_DEPTH:
            raise parser.fail(placed, f"expression nested more than {MAX_TREE_DEPTH} levels deep "
                              "(a chain like `A + B + C` counts one level per operator)", "simplify the expression")
        stack.extend((child, depth + 1, placed) for child in ast.iter_child_nodes(node))


def parse(
    text: str,
    *,
    functions: Iterable[str] = (),
    upstream: str | None = "G",
    allow_upstream: bool = False,
) -> ex.Expr:
    """Parse ``text`` into an expression tree, refusing anything outside the language.

    ``functions`` declares generic elementwise functions (``phi`` also declares
    ``phi_prime``). ``upstream`` is the name reserved for ∂L/∂D; it is allowed
    only when ``allow_upstream`` (claims and results).

    >>> parse("W @ X + b")
    Add(left=MatMul(left=Symbol(name='W'), right=Symbol(name='X')), right=Symbol(name='b'))
    """
    prescan(text)
    functions = tuple(functions)
    for fn in functions:
        check_identifier(fn, "function")
        if fn in RESERVED:
            raise NameKindError(f"`{fn}` is a built-in function and cannot be declared generic",
                                hint="choose another name, such as phi")
    # Columns are kept: line breaks become spaces, and the wrapping "(" is taken off again.
    flat = text.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    parser = _Parser(flat, functions, upstream, allow_upstream)
    try:
        with warnings.catch_warnings():  # Python's SyntaxWarnings about user text are not ours to print
            warnings.simplefilter("ignore")
            tree = ast.parse(parser.wrapped, mode="eval")
    except SyntaxError as err:
        column = err.offset - 1 if err.offset else None  # one line: the text's breaks are spaces by now
        if column is not None and not 1 <= column <= len(flat) + 1:
            column = len(flat) + 1
        msg = re.sub(r"\s*\(<unknown>, line \d+\)", "", err.msg or "invalid syntax")
        raise ParseError(f"syntax error: {msg}", text=flat, column=column,
                         hint="expressions use @ * + - / **, .T, numbers, names and function calls") from None
    except (RecursionError, MemoryError, ValueError, OverflowError) as err:
        raise ParseError(f"expression too deeply nested or malformed ({type(err).__name__})",
                         hint="simplify the expression") from None
    _check_tree_size(tree, parser)
    return check_constants(parser.convert(tree.body), flat)
