"""Printers of an expression tree: back to the language (``to_text``) and to LaTeX (``to_latex``).

Each printer is a class that dispatches on the node type (``_print_<ClassName>``),
as SymPy's printers do; the expression tree knows nothing about output formats.

``to_text`` writes the fewest parentheses Python's precedence needs (``**`` above
unary minus above ``@ * /`` above ``+ -``; ``@ * /`` share one level and group to
the left), with one exception for readers: when ``@``, ``*`` and ``/`` are mixed,
the left operand is bracketed when ``@`` meets ``*`` or ``/``, so ``(G * step(Z)) @ X.T`` is written rather than the
equivalent but misleading ``G * step(Z) @ X.T``. Scaling by a number literal
(``2 * A @ B``) is left bare. Brackets never change the tree: ``parse(to_text(e)) == e``.
"""

from __future__ import annotations

import re

from symderiv.core import expr as ex
from symderiv.core.literals import number_text
from symderiv.ops import elementwise, is_builtin, matrix_op

# Precedence levels of the language (Python's).
_ADD, _MUL, _UNARY, _POW, _POSTFIX, _ATOM = 1, 2, 3, 4, 5, 6

_MUL_OPS = (ex.MatMul, ex.Mul, ex.Div)


class Printer:
    """Dispatch on node type to ``_print_<ClassName>`` (SymPy's printer pattern); each returns (text, precedence)."""

    format_name = "text"
    open_bracket, close_bracket = "(", ")"

    def doprint(self, node: ex.Expr) -> str:
        text, _ = self._print(node)
        return text

    def _print(self, node: ex.Expr) -> tuple[str, int]:
        method = getattr(self, "_print_" + type(node).__name__, None)
        if method is None:
            raise TypeError(f"no {self.format_name} printer for {type(node).__name__}")
        return method(node)

    def _wrap(self, node: ex.Expr, minimum: int) -> str:
        text, level = self._print(node)
        return text if level >= minimum else f"{self.open_bracket}{text}{self.close_bracket}"


class TextPrinter(Printer):
    """Prints an Expr in the expression language."""

    def _print_Symbol(self, node: ex.Symbol) -> tuple[str, int]:
        return node.name, _ATOM

    def _print_Number(self, node: ex.Number) -> tuple[str, int]:
        text = number_text(node.value)
        return text, (_UNARY if node.value < 0 else _ATOM)

    def _print_ConstMatrix(self, node: ex.ConstMatrix) -> tuple[str, int]:
        if node.kind == "eye":
            return f"eye({node.rows})", _ATOM
        return f"{node.kind}({node.rows}, {node.cols})", _ATOM

    def _binary(self, node: ex.Binary, symbol: str, level: int) -> tuple[str, int]:
        left_min = level
        if level == _MUL and isinstance(node.left, _MUL_OPS) and (
                isinstance(node, ex.MatMul) != isinstance(node.left, ex.MatMul)):
            # Only `@` mixed with `*` or `/` misleads; `a * b / c` reads as written.
            scaling = isinstance(node.left, ex.Mul) and isinstance(node.left.left, ex.Number)
            if not scaling:
                left_min = level + 1
        left = self._wrap(node.left, left_min)
        right_text, right_level = self._print(node.right)
        if right_level <= level or (right_level == _UNARY and right_text.startswith("-")):
            # `A - -B` parses, but `A - (-B)` is what a reader expects.
            right_text = f"({right_text})"
        return f"{left} {symbol} {right_text}", level

    def _print_MatMul(self, node: ex.MatMul) -> tuple[str, int]:
        return self._binary(node, "@", _MUL)

    def _print_Mul(self, node: ex.Mul) -> tuple[str, int]:
        return self._binary(node, "*", _MUL)

    def _print_Div(self, node: ex.Div) -> tuple[str, int]:
        return self._binary(node, "/", _MUL)

    def _print_Add(self, node: ex.Add) -> tuple[str, int]:
        return self._binary(node, "+", _ADD)

    def _print_Sub(self, node: ex.Sub) -> tuple[str, int]:
        return self._binary(node, "-", _ADD)

    def _print_Neg(self, node: ex.Neg) -> tuple[str, int]:
        inner, level = self._print(node.operand)
        if level < _UNARY or inner.startswith("-"):
            inner = f"({inner})"
        return f"-{inner}", _UNARY

    def _print_Power(self, node: ex.Power) -> tuple[str, int]:
        # `**` is right-associative and binds tighter than a unary minus on its left.
        base = self._wrap(node.operand, _POSTFIX)
        return f"{base} ** {node.exponent}", _POW

    def _print_Transpose(self, node: ex.Transpose) -> tuple[str, int]:
        text, level = self._print(node.operand)
        if level < _POSTFIX or isinstance(node.operand, ex.Number):
            text = f"({text})"  # `2.T` would not even tokenize
        return f"{text}.T", _POSTFIX

    def _call(self, name: str, node: ex.Unary, *extra: str) -> tuple[str, int]:
        args = ", ".join([self.doprint(node.operand), *extra])
        return f"{name}({args})", _POSTFIX

    def _print_Apply(self, node: ex.Apply) -> tuple[str, int]:
        return self._call(node.fn, node)

    def _print_Trace(self, node: ex.Trace) -> tuple[str, int]:
        return self._call("trace", node)

    def _print_Det(self, node: ex.Det) -> tuple[str, int]:
        return self._call("det", node)

    def _print_Inv(self, node: ex.Inv) -> tuple[str, int]:
        return self._call("inv", node)

    def _print_Sum(self, node: ex.Sum) -> tuple[str, int]:
        if node.axis is None:
            return self._call("sum", node)
        return self._call("sum", node, f"axis={node.axis}")

    def _print_Call(self, node: ex.Call) -> tuple[str, int]:
        if matrix_op(node.op).infix:  # `X ** -0.5`: the one argument, the operator, the one parameter
            (_, value), = node.params
            exponent = number_text(value if value is not None else 0)
            return f"{self._wrap(node.args[0], _POSTFIX)} {matrix_op(node.op).infix} {exponent}", _POW
        positional = {p.name for p in matrix_op(node.op).params if p.positional}
        params = [str(v) if name in positional else f"{name}={v}" for name, v in node.params]
        return f"{node.op}({', '.join([*map(self.doprint, node.args), *params])})", _POSTFIX


def to_text(expr: ex.Expr) -> str:
    """The expression in the language, with minimal (and a few readability) parentheses.

    >>> from symderiv.syntax.language import parse
    >>> to_text(parse("(G * step(W @ X + b)) @ (X.T)", allow_upstream=True))
    '(G * step(W @ X + b)) @ X.T'
    >>> to_text(parse("2 * ((W @ X) - Y) @ X.T"))
    '2 * (W @ X - Y) @ X.T'
    """
    return TextPrinter().doprint(expr)


# -- LaTeX ------------------------------------------------------------------

_GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu", "nu",
    "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega", "Gamma", "Delta", "Theta",
    "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega",
}


_NAME = re.compile(r"([A-Za-z]+?)_?(\d+)\Z")


def _name_latex(name: str) -> str:
    """``W1``/``W_1`` → ``W_{1}``, ``alpha`` → ``\\alpha``, ``logits`` → ``\\mathrm{logits}``."""
    if "_" in name and not _NAME.match(name):
        head, _, tail = name.partition("_")
        return f"{_name_latex(head)}_{{\\mathrm{{{tail.replace('_', ' ')}}}}}" if len(tail) > 1 else \
            f"{_name_latex(head)}_{{{tail}}}"
    match = _NAME.match(name)
    if match and len(name) > 1:
        return f"{_name_latex(match.group(1))}_{{{match.group(2)}}}"
    if name in _GREEK:
        return "\\" + name
    if len(name) == 1:
        return name
    return f"\\mathrm{{{name}}}"


def _function_latex(fn: str) -> str:
    if is_builtin(fn) and "{}" not in elementwise(fn).latex:
        return elementwise(fn).latex
    if fn.endswith("_prime"):
        return _function_latex(fn[: -len("_prime")]) + "'"
    if fn in _GREEK:
        return "\\" + fn
    return f"\\operatorname{{{fn}}}" if len(fn) > 1 else fn


def _scalar_like(node: ex.Expr) -> bool:
    """Whether a node is 1×1 by its form alone (so that ``*`` is plain scaling, written by juxtaposition)."""
    if isinstance(node, (ex.Number, ex.Trace, ex.Det)):
        return True
    if isinstance(node, ex.Call):
        return matrix_op(node.op).scalar
    if isinstance(node, ex.Sum):
        return node.axis is None
    if isinstance(node, (ex.Apply, ex.Power, ex.Neg, ex.Transpose)):
        return _scalar_like(node.operand)
    if isinstance(node, (ex.Mul, ex.Div, ex.Add, ex.Sub)):
        return _scalar_like(node.left) and _scalar_like(node.right)
    return False


_SCIENTIFIC = re.compile(r"(\d+(?:\.\d+)?)e(-?\d+)")


def _latex_decimal(text: str) -> tuple[str, int]:
    """A non-negative integer or decimal of :func:`number_text` in LaTeX: ``1e-400`` → ``10^{-400}``,
    ``1.5e-7`` → ``1.5 \\times 10^{-7}``, a bracketed sum of literals → ``\\left(1 + 10^{-400}\\right)``."""

    def one(match: re.Match[str]) -> str:
        mantissa, exponent = match.groups()
        return f"10^{{{exponent}}}" if mantissa == "1" else rf"{mantissa} \times 10^{{{exponent}}}"

    if text.startswith("("):
        return rf"\left({_SCIENTIFIC.sub(one, text[1:-1])}\right)", _ATOM
    latex = _SCIENTIFIC.sub(one, text)
    if latex == text:
        return text, _ATOM
    return latex, (_MUL if r"\times" in latex else _POW)


def _dim_latex(dim: ex.Dim) -> str:
    return str(dim) if isinstance(dim, int) else _name_latex(dim)


class LatexPrinter(Printer):
    """Prints an Expr as LaTeX math (no surrounding ``$``)."""

    format_name = "LaTeX"
    open_bracket, close_bracket = r"\left(", r"\right)"

    def __init__(self, upstream: str = "G", upstream_latex: str | None = None):
        self.upstream = upstream
        self.upstream_latex = upstream_latex


    def _print_Symbol(self, node: ex.Symbol) -> tuple[str, int]:
        if node.name == self.upstream and self.upstream_latex is not None:
            # A fraction reads as one factor in a product, but needs brackets under a superscript.
            return self.upstream_latex, _POW
        return _name_latex(node.name), _ATOM

    def _print_Number(self, node: ex.Number) -> tuple[str, int]:
        value = node.value
        text = number_text(value, exponent_limit=None)
        if "/" not in text and (value.denominator == 1 or "e" in text or "(" in text or value.denominator > 10**6):
            # An integer, or a decimal with an exponent (1.5e-7 → 1.5 \times 10^{-7}) or many places (0.30000000000000001).
            text, level = _latex_decimal(number_text(abs(value), exponent_limit=None))
            return ("-" + text, _UNARY) if value < 0 else (text, level)
        num, den = (_latex_decimal(number_text(n, exponent_limit=None))[0].removeprefix(r"\left(").removesuffix(r"\right)")
                    for n in (abs(value.numerator), value.denominator))
        body = rf"\frac{{{num}}}{{{den}}}"
        return ("-" + body, _UNARY) if value < 0 else (body, _POW)

    def _print_ConstMatrix(self, node: ex.ConstMatrix) -> tuple[str, int]:
        if node.kind == "eye":
            return f"I_{{{_dim_latex(node.rows)}}}", _ATOM
        bold = r"\mathbf{1}" if node.kind == "ones" else r"\mathbf{0}"
        return rf"{bold}_{{{_dim_latex(node.rows)} \times {_dim_latex(node.cols)}}}", _ATOM

    def _op_of(self, node: ex.Expr) -> str | None:
        """The infix operator a product-level node prints with (None for other nodes)."""
        if isinstance(node, ex.MatMul):
            return ""
        if isinstance(node, ex.Mul):
            return "" if _scalar_like(node.left) or _scalar_like(node.right) else r"\odot"
        if isinstance(node, ex.Div) and not _scalar_like(node.right):
            return r"\oslash"
        return None

    def _product(self, node: ex.Binary, op: str) -> tuple[str, int]:
        left_op = self._op_of(node.left)
        # Mixed operators are bracketed, as in the text printer: (A ⊙ B) C; scaling by a number is not.
        scaling = isinstance(node.left, ex.Mul) and isinstance(node.left.left, ex.Number)
        left = self._wrap(node.left, _MUL + (left_op is not None and left_op != op and not scaling))
        right, level = self._print(node.right)
        if level <= _MUL or (level == _UNARY and right.startswith("-")) or (not op and level == _UNARY):
            right = rf"\left({right}\right)"
        return (f"{left} {op} {right}" if op else f"{left} {right}"), _MUL

    def _print_MatMul(self, node: ex.MatMul) -> tuple[str, int]:
        return self._product(node, "")

    def _print_Mul(self, node: ex.Mul) -> tuple[str, int]:
        if _scalar_like(node.left) or _scalar_like(node.right):
            return self._product(node, "")
        return self._product(node, r"\odot")

    def _print_Div(self, node: ex.Div) -> tuple[str, int]:
        if _scalar_like(node.right):
            return rf"\frac{{{self.doprint(node.left)}}}{{{self.doprint(node.right)}}}", _POW
        return self._product(node, r"\oslash")

    def _additive(self, node: ex.Binary, op: str) -> tuple[str, int]:
        left = self._wrap(node.left, _ADD)
        right, level = self._print(node.right)
        if level <= _ADD or right.startswith("-"):
            right = rf"\left({right}\right)"
        return f"{left} {op} {right}", _ADD

    def _print_Add(self, node: ex.Add) -> tuple[str, int]:
        return self._additive(node, "+")

    def _print_Sub(self, node: ex.Sub) -> tuple[str, int]:
        return self._additive(node, "-")

    def _print_Neg(self, node: ex.Neg) -> tuple[str, int]:
        inner, level = self._print(node.operand)
        if level < _MUL or inner.startswith("-"):
            inner = rf"\left({inner}\right)"
        return f"-{inner}", _UNARY

    def _superscript(self, node: ex.Expr, sup: str) -> tuple[str, int]:
        # A superscripted result is bracketed before another superscript (no `A^{3}^{\top}`).
        return f"{self._wrap(node, _POSTFIX)}^{{{sup}}}", _POW

    def _print_Power(self, node: ex.Power) -> tuple[str, int]:
        # Elementwise powers of matrices are Hadamard powers, A^{\circ k}.
        sup = str(node.exponent) if _scalar_like(node.operand) else rf"\circ {node.exponent}"
        return self._superscript(node.operand, sup)

    def _print_Transpose(self, node: ex.Transpose) -> tuple[str, int]:
        if isinstance(node.operand, ex.Inv):
            return self._superscript(node.operand.operand, r"-\top")
        return self._superscript(node.operand, r"\top")

    def _print_Inv(self, node: ex.Inv) -> tuple[str, int]:
        return self._superscript(node.operand, "-1")

    # The interface of symderiv.ops.base.LatexPrinter, through which a registry entry prints itself.
    POSTFIX = _POSTFIX

    def wrap(self, node: ex.Expr, level: int) -> str:
        return self._wrap(node, level)

    def superscript(self, node: ex.Expr, sup: str) -> tuple[str, int]:
        return self._superscript(node, sup)

    def _print_Call(self, node: ex.Call) -> tuple[str, int]:
        return matrix_op(node.op).latex(self, node)

    def _print_Apply(self, node: ex.Apply) -> tuple[str, int]:
        inner = self.doprint(node.operand)
        if is_builtin(node.fn) and "{}" in elementwise(node.fn).latex:
            return elementwise(node.fn).latex.format(inner), _POSTFIX
        return rf"{_function_latex(node.fn)}\left({inner}\right)", _POSTFIX

    def _print_Trace(self, node: ex.Trace) -> tuple[str, int]:
        return rf"\operatorname{{tr}}\left({self.doprint(node.operand)}\right)", _POSTFIX

    def _print_Det(self, node: ex.Det) -> tuple[str, int]:
        return rf"\det\left({self.doprint(node.operand)}\right)", _POSTFIX

    def _print_Sum(self, node: ex.Sum) -> tuple[str, int]:
        if node.axis is None:
            return rf"\operatorname{{sum}}\left({self.doprint(node.operand)}\right)", _POSTFIX
        # Column sums are 1ᵀA, row sums A1: products with a ones vector.
        text, level = self._print(node.operand)
        # 1ᵀ(A B) = 1ᵀA B, but 1ᵀ(A ⊙ B) needs its brackets.
        if level < _MUL or (level == _MUL and self._op_of(node.operand) != "") or text.startswith("-"):
            text = rf"\left({text}\right)"
        inner = text
        if node.axis == 0:
            return rf"\mathbf{{1}}^{{\top}} {inner}", _MUL
        return rf"{inner} \mathbf{{1}}", _MUL


def to_latex(expr: ex.Expr, *, upstream: str = "G", upstream_latex: str | None = None) -> str:
    r"""LaTeX math for ``expr``: ``X^{\top}``, ``\odot``, ``\operatorname{tr}``, ``A^{-1}``, ``I_n`` ...

    The symbol named ``upstream`` is printed as ``upstream_latex`` when given
    (for example ``\frac{\partial L}{\partial D}``), else as its name.

    >>> from symderiv.syntax.language import parse
    >>> to_latex(parse("(G * step(W @ X + b)) @ X.T", allow_upstream=True))
    '\\left(G \\odot \\operatorname{step}\\left(W X + b\\right)\\right) X^{\\top}'
    >>> to_latex(parse("G @ X.T", allow_upstream=True), upstream_latex=r"\frac{\partial L}{\partial D}")
    '\\frac{\\partial L}{\\partial D} X^{\\top}'
    """
    return LatexPrinter(upstream, upstream_latex).doprint(expr)


__all__ = ["to_text", "to_latex", "number_text", "TextPrinter", "LatexPrinter"]
