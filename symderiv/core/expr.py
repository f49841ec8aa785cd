"""Immutable expression nodes of the symderiv language.

Every value is a 2-D matrix; a scalar is ``1×1``. Nodes compare and hash by
structure; ``span`` (1-based start column and width in the source text) rides
along for error messages and is ignored by equality.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from fractions import Fraction

Dim = int | str
Shape = tuple[Dim, Dim]

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
class Inv(Unary):
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Sum(Unary):
    """``sum(A)`` (axis ``None``), column sums (axis 0) or row sums (axis 1)."""

    axis: int | None = None
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Call(Expr):
    """An operation of the registry (:mod:`symderiv.ops`) applied to matrices, with constant parameters:
    ``matpow(X, 3)`` is ``Call("matpow", (X,), (("k", 3),))``.
    The primitives above are what every backend implements; a ``Call`` is defined by its registry entry.
    """

    op: str
    args: tuple[Expr, ...]
    params: tuple[tuple[str, int | Fraction | None], ...] = ()
    span: Span = field(default=None, compare=False, repr=False)

    def children(self) -> tuple[Expr, ...]:
        return self.args

    def param(self, name: str) -> int | Fraction | None:
        """The value of one constant parameter.

        >>> Call("matpow", (Symbol("X"),), (("k", 3),)).param("k")
        3
        """
        return dict(self.params)[name]


def prime_name(fn: str) -> str:
    """The name of a generic function's derivative.

    >>> prime_name("phi")
    'phi_prime'
    """
    return fn + "_prime"


def _cached_hash(self: Expr) -> int:
    # The value dataclasses would compute (a tuple of the compared fields), computed once per node:
    # memoised walks hash every subtree, and a recursive hash per lookup made them O(n·depth).
    cached = self.__dict__.get("_hash")
    if cached is None:
        cached = hash(tuple(getattr(self, f.name) for f in fields(self) if f.compare))
        object.__setattr__(self, "_hash", cached)
    return cached


def _state(self: Expr) -> dict[str, object]:
    # A cached hash is only valid in the process that computed it (string hashing is salted).
    return {k: v for k, v in self.__dict__.items() if k != "_hash"}


def _node_classes(cls: type[Expr]) -> list[type[Expr]]:
    return [cls, *(c for sub in cls.__subclasses__() for c in _node_classes(sub))]


for _cls in _node_classes(Expr):
    setattr(_cls, "__hash__", _cached_hash)  # noqa: B010 - on every node class, after dataclass made its own
    setattr(_cls, "__getstate__", _state)  # noqa: B010


def with_children(node: Expr, children: tuple[Expr, ...] | list[Expr]) -> Expr:
    """``node`` rebuilt over new children (the one rebuilder every rewriting pass uses).

    >>> with_children(MatMul(Symbol("W"), Symbol("X")), (Symbol("A"), Symbol("B")))
    MatMul(left=Symbol(name='A'), right=Symbol(name='B'))
    """
    if isinstance(node, Binary):
        return replace(node, left=children[0], right=children[1])
    if isinstance(node, Unary):
        return replace(node, operand=children[0])
    if isinstance(node, Call):
        return replace(node, args=tuple(children))
    return node
