"""Code export: an expression as runnable NumPy, PyTorch or JAX source (``Gradient.to_code``).

A backend of :class:`~symderiv.backends.walk.Interpreter` whose values are Python source text. Every value
of the language is a 2-D matrix; the printed code keeps that, with the libraries' idioms: axis sums keep
their axis (``keepdims=True``), ``trace``/``det``/``logdet`` give 0-d scalars (which broadcast like a
``1×1`` matrix) and are reshaped to ``(1, 1)`` only where a matrix is needed (a product, or the result).
Elementwise functions print through the ``code`` templates of their registry rows, matrix operations
through their ``code`` templates or, when they have none, through their expansion over the primitives.
Subexpressions made of numbers alone are folded to one float. Generic functions (``phi``) become
parameters of the generated function.

>>> from symderiv.syntax.language import parse
>>> from symderiv.syntax.shapes import infer_shapes
>>> node = parse("sum(W @ X, axis=1) + trace(W)")
>>> print(expression_code(node, infer_shapes(node, {"W": (2, 2)}), "numpy"))
(W @ X).sum(axis=1, keepdims=True) + np.trace(W)
"""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from symderiv.backends.numeric import NumpyBackend
from symderiv.backends.walk import Interpreter
from symderiv.core import expr as ex
from symderiv.core.errors import OptionError, UnsupportedError
from symderiv.ops import Elementwise, elementwise, matrix_op
from symderiv.syntax.shapes import Typing

#: Binding strength of Python's operators, loosest first (a value of level ATOM needs no brackets).
ADD, MUL, NEG, POW, ATOM = 1, 2, 3, 4, 5
#: Kinds of value: a Python float, a 0-d array (a 1×1 value), a 2-D array.
NUM, SCALAR, ARRAY = 0, 1, 2


@dataclass(frozen=True)
class Target:
    """How one library spells the primitives. ``{like}`` is a tensor whose dtype and device constants copy."""

    name: str
    imports: str
    module: str
    sum_all: str
    sum_axis: str
    trace: str
    det: str
    inv: str
    eye: str
    ones: str
    zeros: str
    full: str


_TORCH_LIKE = "dtype={like}.dtype, device={like}.device"
TARGETS: dict[str, Target] = {
    "numpy": Target("numpy", "import numpy as np", "np", "{0}.sum()", "{0}.sum(axis={1}, keepdims=True)",
                    "np.trace({0})", "np.linalg.det({0})", "np.linalg.inv({0})", "np.eye({n})",
                    "np.ones(({r}, {c}))", "np.zeros(({r}, {c}))", "np.full(({r}, {c}), {v})"),
    "torch": Target("torch", "import torch", "torch", "{0}.sum()", "{0}.sum(dim={1}, keepdim=True)",
                    "torch.trace({0})", "torch.linalg.det({0})", "torch.linalg.inv({0})",
                    f"torch.eye({{n}}, {_TORCH_LIKE})", f"torch.ones({{r}}, {{c}}, {_TORCH_LIKE})",
                    f"torch.zeros({{r}}, {{c}}, {_TORCH_LIKE})", f"torch.full(({{r}}, {{c}}), {{v}}, {_TORCH_LIKE})"),
    "jax": Target("jax", "import jax\nimport jax.numpy as jnp", "jnp", "{0}.sum()", "{0}.sum(axis={1}, keepdims=True)",
                  "jnp.trace({0})", "jnp.linalg.det({0})", "jnp.linalg.inv({0})", "jnp.eye({n})",
                  "jnp.ones(({r}, {c}))", "jnp.zeros(({r}, {c}))", "jnp.full(({r}, {c}), {v})"),
}
#: Names the generated code uses itself; a symbol so named is renamed with a trailing underscore.
TAKEN = frozenset({"np", "torch", "jax", "jnp", "float"})
#: A placeholder that is a whole argument of a call (``np.exp({})``) needs no brackets around its argument.
_BARE = re.compile(r"[(\[,] ?\{(\w*)\}(?=[,)\]])")


@dataclass(frozen=True)
class Code:
    """A printed value: its text, how tightly it binds, and its kind (NUM, SCALAR or ARRAY)."""

    text: str
    level: int
    kind: int
    #: The operator at the top (``@`` and ``*`` bind alike; a mix of them is bracketed for the reader).
    op: str = ""


def target(name: str) -> Target:
    """The target called ``name``.

    >>> target("torch").inv
    'torch.linalg.inv({0})'
    """
    if name not in TARGETS:
        raise OptionError(f"no code target {name!r}", hint="the targets are " + ", ".join(TARGETS))
    return TARGETS[name]


def python_name(name: str) -> str:
    """A symbol's name as a Python identifier of the generated code.

    >>> python_name("W"), python_name("np"), python_name("lambda")
    ('W', 'np_', 'lambda_')
    """
    return name + "_" if keyword.iskeyword(name) or name in TAKEN else name


def _wrap(code: Code, level: int) -> str:
    return code.text if code.level >= level else f"({code.text})"


def _literal(value: float) -> Code:
    if not math.isfinite(value):
        return Code(f'float("{value}")', ATOM, NUM)
    text = str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    return Code(text, NEG if value < 0 else ATOM, NUM)


def fill(template: str, args: Sequence[Code], params: Mapping[str, object] | None = None) -> str:
    """A registry template filled with printed arguments: bare where the placeholder is a whole call argument,
    bracketed elsewhere.

    >>> fill("np.exp({})", [Code("a + b", ADD, ARRAY)]), fill("(1 / (1 + np.exp(-{})))", [Code("a + b", ADD, ARRAY)])
    ('np.exp(a + b)', '(1 / (1 + np.exp(-(a + b))))')
    """
    bare = {m.group(1) or "0" for m in _BARE.finditer(template)}
    wrapped = [a.text if str(i) in bare else _wrap(a, ATOM) for i, a in enumerate(args)]
    return template.replace("{}", "{0}").format(*wrapped, **(params or {}))


class CodePrinter(Interpreter[Code]):
    """Print an expression for one target. ``arguments`` are the function's matrix parameters with their shapes
    (they name the sizes and lend their dtype to constants); ``typing`` gives every subexpression's shape."""

    def __init__(self, target: Target, typing: Typing, arguments: Mapping[str, ex.Shape],
                 shared: Sequence[ex.Expr] = ()) -> None:
        super().__init__()
        self.target = target
        self.typing = typing
        self.arguments = dict(arguments)
        self.generic: dict[str, None] = {}
        #: Subexpressions computed once into a local variable (``t1 = ...``), and those assignments in order.
        self.shared = _repeated(shared)
        self.assignments: list[str] = []

    def visit(self, node: ex.Expr, args: list[Code]) -> Code:
        if args and all(a.kind == NUM for a in args) and not self._generic(node):
            # numbers alone: one float (the NumPy evaluator's value)
            return _literal(float(NumpyBackend({}).evaluate(node)[0, 0]))
        code = super().visit(node, args)
        if node in self.shared and code.level < ATOM or node in self.shared and "(" in code.text:
            local = self.local()
            text = code.text[1:-1] if code.text.startswith("(") and _closes_at_end(code.text) else code.text
            self.assignments.append(f"{local} = {text}")
            return Code(local, ATOM, code.kind)
        return code

    def local(self) -> str:
        taken = {python_name(a) for a in self.arguments} | set(self.generic)
        i = len(self.assignments) + 1
        while f"t{i}" in taken:
            i += 1000
        return f"t{i}"

    @staticmethod
    def _generic(node: ex.Expr) -> bool:
        return isinstance(node, ex.Apply) and elementwise(node.fn).generic

    # -- helpers ---------------------------------------------------------------------------------------
    def like(self) -> str:
        return python_name(next(iter(self.arguments)))

    def size(self, d: ex.Dim) -> str:
        d = self.typing.resolve(d)
        if isinstance(d, int):
            return str(d)
        for name, shape in self.arguments.items():
            if d in shape:
                return f"{python_name(name)}.shape[{shape.index(d)}]"
        raise UnsupportedError(f"no argument of the generated function has the dimension {d}")

    def matrix(self, code: Code) -> Code:
        """A value as a 2-D array."""
        if code.kind == ARRAY:
            return code
        if code.kind == SCALAR:
            return Code(f"{_wrap(code, ATOM)}.reshape(1, 1)", ATOM, ARRAY)
        return Code(self.target.full.format(r=1, c=1, v=code.text, like=self.like()), ATOM, ARRAY)

    def result(self, code: Code, shape: ex.Shape) -> str:
        """The text of a value returned as a matrix of ``shape``."""
        if code.kind == NUM:
            r, c = (self.size(d) for d in shape)
            return self.target.full.format(r=r, c=c, v=code.text, like=self.like())
        return self.matrix(code).text

    def binary(self, a: Code, op: str, b: Code, level: int) -> Code:
        left = _wrap(a, level + 1) if a.level == level and (a.op == "@") != (op == "@") else _wrap(a, level)
        return Code(f"{left} {op} {_wrap(b, level + 1)}", level, max(a.kind, b.kind), op)

    # -- the primitives -----------------------------------------------------------------------------------
    def shape(self, node: ex.Expr) -> ex.Shape:
        return self.typing.shape_of(node, self.arguments)

    def symbol(self, node: ex.Symbol) -> Code:
        return Code(python_name(node.name), ATOM, ARRAY)

    def number(self, node: ex.Number) -> Code:
        value = node.value
        if value.denominator == 1 and abs(value) < 2**53:
            return Code(str(value.numerator), NEG if value < 0 else ATOM, NUM)
        return _literal(float(value))

    def constant(self, node: ex.ConstMatrix) -> Code:
        r, c = self.size(node.rows), self.size(node.cols)
        template = getattr(self.target, node.kind)
        return Code(template.format(n=r, r=r, c=c, like=self.like()), ATOM, ARRAY)

    def apply(self, node: ex.Apply, row: Elementwise, a: Code) -> Code:
        template = row.code.get(self.target.name)
        if template is None:
            if not row.generic:
                raise UnsupportedError(f"{row.name} has no {self.target.name} code",
                                       hint=f"add code={{'{self.target.name}': ...}} to its row in symderiv/ops")
            self.generic.setdefault(row.name, None)
            template = python_name(row.name) + "({})"
        return Code(fill(template, [a]), ATOM, max(a.kind, SCALAR))

    def call(self, node: ex.Call, args: list[Code]) -> Code:
        op = matrix_op(node.op)
        template = op.code.get(self.target.name)
        if template is None:
            return super().call(node, args)
        text = fill(template, [self.matrix(a) for a in args], dict(node.params))
        return Code(text, ATOM, SCALAR if op.scalar else ARRAY)

    def matmul(self, node: ex.MatMul, a: Code, b: Code) -> Code:
        return self.binary(self.matrix(a), "@", self.matrix(b), MUL)

    def add(self, node: ex.Add, a: Code, b: Code) -> Code:
        return self.binary(a, "+", b, ADD)

    def sub(self, node: ex.Sub, a: Code, b: Code) -> Code:
        return self.binary(a, "-", b, ADD)

    def mul(self, node: ex.Mul, a: Code, b: Code) -> Code:
        return self.binary(a, "*", b, MUL)

    def div(self, node: ex.Div, a: Code, b: Code) -> Code:
        return self.binary(a, "/", b, MUL)

    def neg(self, node: ex.Neg, a: Code) -> Code:
        return Code(f"-{_wrap(a, POW)}", NEG, a.kind)

    def transpose(self, node: ex.Transpose, a: Code) -> Code:
        return a if a.kind != ARRAY else Code(f"{_wrap(a, ATOM)}.T", ATOM, ARRAY)

    def power(self, node: ex.Power, a: Code) -> Code:
        k = node.exponent
        return Code(f"{_wrap(a, ATOM)} ** {k if k >= 0 else f'({k})'}", POW, a.kind)

    def trace(self, node: ex.Trace, a: Code) -> Code:
        return a if a.kind != ARRAY else Code(self.target.trace.format(a.text), ATOM, SCALAR)

    def det(self, node: ex.Det, a: Code) -> Code:
        return a if a.kind != ARRAY else Code(self.target.det.format(a.text), ATOM, SCALAR)

    def inv(self, node: ex.Inv, a: Code) -> Code:
        return Code(self.target.inv.format(self.matrix(a).text), ATOM, ARRAY)

    def sum(self, node: ex.Sum, a: Code) -> Code:
        if a.kind != ARRAY:
            return a
        if node.axis is None:
            return Code(self.target.sum_all.format(_wrap(a, ATOM)), ATOM, SCALAR)
        return Code(self.target.sum_axis.format(_wrap(a, ATOM), node.axis), ATOM, ARRAY)


def _closes_at_end(text: str) -> bool:
    """Whether the bracket that opens ``text`` closes at its end."""
    depth = 0
    for i, char in enumerate(text):
        depth += (char == "(") - (char == ")")
        if depth == 0:
            return i == len(text) - 1
    return False


def _repeated(outputs: Sequence[ex.Expr]) -> set[ex.Expr]:
    """The subexpressions written more than once (apart from names, numbers, constants, transposes and
    negations); inside a repeated one, nothing counts again (it is written once, into its variable)."""
    seen: set[ex.Expr] = set()
    repeated: set[ex.Expr] = set()
    stack = list(reversed(outputs))
    while stack:
        node = stack.pop()
        cheap = isinstance(node, (ex.Symbol, ex.Number, ex.ConstMatrix, ex.Transpose, ex.Neg))
        if not cheap and node in seen:
            repeated.add(node)
            continue
        seen.add(node)
        stack.extend(reversed(node.children()))
    return repeated


def expression_code(node: ex.Expr, typing: Typing, target_name: str,
                    arguments: Mapping[str, ex.Shape] | None = None) -> str:
    """The text of one expression for a target (``arguments``: the parameters in scope, by default its symbols)."""
    printer = CodePrinter(target(target_name), typing, arguments if arguments is not None else typing.symbols)
    return printer.evaluate(node).text


@dataclass(frozen=True)
class Output:
    """One value a generated function returns: the expression, its shape, and its name in the docstring."""

    node: ex.Expr
    shape: ex.Shape


def function_code(name: str, outputs: Sequence[Output], typing: Typing, target_name: str,
                  arguments: Mapping[str, ex.Shape], doc: str) -> str:
    """One Python function returning ``outputs`` (a tuple when there are several), without the imports.

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.shapes import infer_shapes
    >>> t = infer_shapes(parse("W @ X"))
    >>> print(function_code("grad_W", [Output(parse("U @ X.T"), ("n", "m"))], t, "numpy",
    ...                     {"U": ("n", "p"), **t.symbols}, "dL/dW"))
    def grad_W(U, W, X):
        \"\"\"dL/dW\"\"\"
        return U @ X.T
    <BLANKLINE>
    """
    printer = CodePrinter(target(target_name), typing, arguments, [o.node for o in outputs])
    values = [printer.result(printer.evaluate(o.node), o.shape) for o in outputs]
    params = [python_name(a) for a in arguments] + [python_name(f) for f in printer.generic]
    lines = [f"def {name}({', '.join(params)}):", f'    """{doc}"""']
    lines += [f"    {line}" for line in printer.assignments]
    lines.append(f"    return {', '.join(values)}")
    return "\n".join(lines) + "\n"


def module_code(target_name: str, functions: Sequence[str]) -> str:
    """The imports of a target followed by the functions."""
    return target(target_name).imports + "\n\n\n" + "\n\n".join(functions)


__all__ = ["Code", "CodePrinter", "Output", "TARGETS", "Target", "expression_code", "fill", "function_code",
           "module_code", "python_name", "target"]
