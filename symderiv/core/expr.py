"""Immutable expression nodes of the symderiv language.

Every value is a 2-D matrix; a scalar is ``1×1``. Nodes compare and hash by
structure; ``span`` (1-based start column and width in the source text) rides
along for error messages and is ignored by equality.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction

Dim = int | str
Shape = tuple[Dim, Dim]

#: Elementwise functions of the language, with a word on each for docs and hints.
ELEMENTWISE: dict[str, str] = {
    "exp": "exponential",
    "log": "natural logarithm",
    "sqrt": "square root",
    "abs": "absolute value",
    "sin": "sine",
    "cos": "cosine",
    "tan": "tangent",
    "tanh": "hyperbolic tangent",
    "sigmoid": "logistic sigmoid 1/(1+exp(-z))",
    "relu": "max(z, 0)",
    "step": "Heaviside step, the derivative of relu",
    "sign": "sign of z, the derivative of abs (an extension of the SPEC table)",
}

#: Functions that take a whole matrix.
MATRIX_FUNCTIONS = ("trace", "det", "logdet", "inv", "sum", "matpow")
#: Constructors of constant matrices.
CONSTRUCTORS = ("ones", "zeros", "eye")
RESERVED = frozenset(ELEMENTWISE) | frozenset(MATRIX_FUNCTIONS) | frozenset(CONSTRUCTORS)

Span = tuple[int, int] | None


@dataclass(frozen=True)
class Expr:
    """Base class of all expression nodes."""

    def children(self) -> tuple[Expr, ...]:
        return ()

    def walk(self) -> Iterator[Expr]:
        """Every node of the tree, parents before children.

        >>> [type(n).__name__ for n in MatMul(Symbol("W"), Symbol("X")).walk()]
        ['MatMul', 'Symbol', 'Symbol']
        """
        stack: list[Expr] = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children()))

    def symbols(self) -> list[str]:
        """Names of the matrix symbols, in order of first appearance."""
        seen: dict[str, None] = {}
        for node in self.walk():
            if isinstance(node, Symbol):
                seen.setdefault(node.name, None)
        return list(seen)

    def functions(self) -> set[str]:
        return {n.fn for n in self.walk() if isinstance(n, Apply)}

    def dim_names(self) -> set[str]:
        names: set[str] = set()
        for node in self.walk():
            if isinstance(node, ConstMatrix):
                names.update(d for d in (node.rows, node.cols) if isinstance(d, str))
        return names


@dataclass(frozen=True)
class Symbol(Expr):
    name: str
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Number(Expr):
    value: Fraction
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ConstMatrix(Expr):
    """``ones(r, c)``, ``zeros(r, c)`` or ``eye(n)`` (kind ``"eye"`` has rows == cols)."""

    kind: str
    rows: Dim
    cols: Dim
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Unary(Expr):
    operand: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.operand,)


@dataclass(frozen=True)
class Binary(Expr):
    left: Expr
    right: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)


@dataclass(frozen=True)
class MatMul(Binary):
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Add(Binary):
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Sub(Binary):
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Mul(Binary):
    """Elementwise (Hadamard) product, or scaling when one side is ``1×1``."""

    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Div(Binary):
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Neg(Unary):
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Transpose(Unary):
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Power(Unary):
    """Elementwise integer power ``A ** k``."""

    exponent: int = 1
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Apply(Unary):
    """An elementwise function: a built-in one, a generic ``phi`` or its ``phi_prime``."""

    fn: str = ""
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Trace(Unary):
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Det(Unary):
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class LogDet(Unary):
    """``log |det A|``."""

    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Inv(Unary):
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Sum(Unary):
    """``sum(A)`` (axis ``None``), column sums (axis 0) or row sums (axis 1)."""

    axis: int | None = None
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class MatPow(Unary):
    k: int = 1
    span: Span = field(default=None, compare=False, repr=False)


def prime_name(fn: str) -> str:
    """The name of a generic function's derivative.

    >>> prime_name("phi")
    'phi_prime'
    """
    return fn + "_prime"
