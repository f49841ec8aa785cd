"""What an operation is: the records of the registry (:mod:`symderiv.ops`).

Two kinds of entries, each holding in one place everything the engines need:

* :class:`Elementwise`, one row per elementwise function (``exp``, ``sqrt``, ...). Its derivative is
  written once, as text in the expression language over ``z`` (the argument) and ``y`` (the value
  ``f(z)``): ``"1 / (2 * y)"`` for sqrt. Every engine evaluates that text its own way.
* :class:`MatrixOp`, an operation on whole matrices that is not a primitive (``matpow``, ...).
  Its value is a macro over the primitives (``expand``), so every backend evaluates it without
  knowing it; its backward rule (``vjp``), shape rule, printing and prose sit beside it.

The primitives, which every backend implements, are the node classes of :mod:`symderiv.core.expr`
(``@``, ``+``, ``-``, ``*``, ``/``, unary ``-``, ``.T``, ``**``, elementwise application, ``trace``,
``det``, ``inv``, ``sum``, constants). This module imports only :mod:`symderiv.core`: numeric
libraries reach an entry as the first argument of its callables (``lambda np, z: np.exp(z)``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal, Protocol

from symderiv.core import expr as ex

Domain = Literal["real", "positive", "nonzero"]


@dataclass(frozen=True)
class Elementwise:
    """One elementwise function ``f``: a row of the table in :mod:`symderiv.ops.elementwise`."""

    name: str
    #: A few words for hints and docs.
    description: str
    #: ``f'`` in the language over ``z`` and ``y = f(z)``; None when ``f`` is not differentiable here.
    derivative: str | None
    #: Why ``f`` cannot be differentiated (used when ``derivative`` is None).
    not_differentiable: str = ""
    #: LaTeX: a macro written before a bracketed argument (``\\exp``), or a template with ``{}``.
    latex: str = ""
    #: ``f`` on NumPy arrays: ``numpy(np, z)``.
    numpy: Callable[[Any, Any], Any] | None = None
    #: ``f`` at an mpmath number: ``mpmath(mpmath, z)``.
    mpmath: Callable[[Any, Any], Any] | None = None
    #: ``f`` as a SymPy function: ``sympy(sympy, z)``; None: an undefined function whose derivative is ``derivative``.
    sympy: Callable[[Any, Any], Any] | None = None
    #: The exact value at a rational constant when it is rational, else None (``exp(5)`` stays an atom).
    fold: Callable[[Fraction], Fraction | None] = field(default=lambda c: None)
    #: Where ``f`` is defined (and real-analytic, apart from ``kink``).
    domain: Domain = "real"
    #: Whether ``f`` has a kink or jump at 0 (witnesses stay off it); ``f`` is monotone on each side of it.
    kink: bool = False
    #: Whether ``f`` jumps at its kink (step, sign): its value at 0 is a convention, no point on it counts.
    jump: bool = False
    #: Whether ``f(-z) = f(z)``: atoms at opposite constants are one (log |z|).
    even: bool = False
    #: Whether ``f`` is periodic (sin): mpmath reduces far larger arguments than ``limited`` allows elsewhere.
    periodic: bool = False
    #: The exact value at any rational point where it is rational, when that is more than ``fold`` knows
    #: (``sqrt(9/4) = 3/2``); constant folding keeps to ``fold``. None: ``fold``.
    rational: Callable[[Fraction], Fraction | None] | None = None
    #: ``f`` on an mpmath interval, ``interval(mpmath.iv, z)``, where ``mpmath`` does not work with ``mpmath.iv``.
    interval: Callable[[Any, Any], Any] | None = None
    #: Whether arguments beyond a size limit are refused (``exp(2**20)`` has 455,000 digits).
    limited: bool = True
    #: A test for a pole at an mpmath number: ``pole(mpmath, z)`` (tan).
    pole: Callable[[Any, Any], bool] | None = None
    #: Internal functions (``logabs``, the atom of the log-determinant) are not names of the language.
    internal: bool = False
    #: A generic function declared by the user (``phi``), or its derivative (``phi_prime``).
    generic: bool = False
    #: The 0/1 elementwise function that is ``f'`` (``step`` for relu), when ``f`` is one whose derivative is
    #: easily forgotten (a backward pass that treats ``f`` as the identity): testing then diagnoses such a
    #: gradient as "missing the mask".
    mask: str | None = None
    #: That mask in NumPy, over ``Z``, for the diagnosis (``(Z > 0)``).
    mask_numpy: str = ""
    #: Plain text of ``f(z)`` where the prover prints its atoms (counterexamples): a template with ``{}``;
    #: default ``name({})``.
    text: str = ""
    #: The error for the constant argument 0 of a function whose domain is ``"nonzero"``.
    zero_error: str = ""
    #: ``f`` in exported code, per target (``"numpy"``, ``"torch"``, ``"jax"``): a call or a bracketed
    #: expression with ``{}`` for the argument (``"np.exp({})"``). Empty: the function does not export.
    code: Mapping[str, str] = field(default_factory=dict)
    #: Identities ``f(z) = text``, each written in the language over ``z``; the simplifier writes ``f(u)``
    #: wherever an expansion appears (``"exp(z) / (1 + exp(z))"`` for sigmoid).
    expansions: tuple[str, ...] = ()


class ShapeRule(Protocol):
    """What a :class:`MatrixOp`'s shape rule may ask of the shape checker."""

    def square(self, shape: ex.Shape, what: str) -> ex.Dim:
        """Require a square shape; its size."""

    def column(self, shape: ex.Shape, what: str) -> ex.Dim:
        """Require a column ``n×1``; its length."""


class LatexPrinter(Protocol):
    """What a :class:`MatrixOp`'s LaTeX rule may ask of the printer."""

    POSTFIX: int

    def doprint(self, node: ex.Expr) -> str:
        """LaTeX of a whole subexpression."""

    def wrap(self, node: ex.Expr, level: int) -> str:
        """LaTeX of a subexpression, bracketed when it binds looser than ``level``."""

    def superscript(self, node: ex.Expr, sup: str) -> tuple[str, int]:
        """``node`` with a superscript, bracketed as needed."""


Params = Mapping[str, Any]


@dataclass(frozen=True)
class Param:
    """A constant parameter of a matrix operation: an integer literal, positional or ``name=``.

    >>> Param("axis", 0, 1, positional=False, kind="axis", optional=True).default is None
    True
    """

    name: str
    lo: int
    hi: int
    positional: bool = True
    #: How error messages name it (``the power of matpow``).
    what: str = ""
    #: ``"int"``: an integer literal in ``[lo, hi]``; ``"axis"``: ``0`` or ``1`` (``-1``, ``-2`` as in NumPy);
    #: ``"number"``: any rational constant (``0.5``, ``-3/2``) of absolute value at most ``hi``.
    kind: Literal["int", "axis", "number"] = "int"
    #: Whether the parameter may be left out; the node then has no entry for it and the op reads ``default``.
    optional: bool = False
    default: int | Fraction | None = None
    #: A hint for a bad value (``axis is 0 (down each column) or 1 (along each row)``).
    hint: str = ""


@dataclass(frozen=True)
class MatrixOp:
    """One operation on whole matrices that is defined over the primitives."""

    name: str
    description: str
    #: How many matrix arguments, and the constant parameters after them.
    arity: int
    params: tuple[Param, ...]
    #: The result's shape from the arguments' shapes and the parameters.
    shape: Callable[[ShapeRule, Sequence[ex.Shape], Params], ex.Shape]
    #: The value as an expression over primitives, from the arguments and their shapes: every backend
    #: evaluates this.
    expand: Callable[[Sequence[ex.Expr], Sequence[ex.Shape], Params], ex.Expr]
    #: The backward rule: given the node and the upstream ``g`` (shaped like the node), one contribution
    #: per argument (None for no contribution), each shaped like its argument.
    vjp: Callable[[ex.Call, ex.Expr], tuple[ex.Expr | None, ...]]
    #: LaTeX of the node.
    latex: Callable[[LatexPrinter, ex.Call], tuple[str, int]]
    #: The noun used in derivation prose (``the log-determinant``).
    noun: str
    #: Whether the value is 1×1 whatever the argument (``*`` by it is scaling).
    scalar: bool = False
    #: In index notation: ``"lemma"`` (a scalar op, differentiated by its ``vjp`` as a lemma) or
    #: ``"expand"`` (replaced by its expansion).
    index: Literal["lemma", "expand"] = "expand"
    #: With ``index="lemma"``: the name under which index-notation prose cites the lemma (``"jacobi"``, shared
    #: with ``det``); empty: ``"lemma:<name>"``.
    lemma: str = ""
    #: A faster or more accurate NumPy value than the expansion: ``numpy(np, args, params)``.
    numpy: Callable[[Any, Sequence[Any], Params], Any] | None = None
    #: How a call is written, for hints (``matpow(A, k) with an integer literal k ≥ 0``); default ``name(A)``.
    form: str = ""
    #: How much larger than its argument the op can make a constant (``matpow(c, k)``: ``k`` times the digits).
    growth: Callable[[Params], int] = field(default=lambda p: 1)
    #: The value in exported code, per target: a call with ``{0}``, ``{1}``... for the arguments and ``{name}``
    #: for the parameters (``"np.linalg.matrix_power({0}, {k})"``), a 0-d value when ``scalar``. A target
    #: missing here exports the expansion.
    code: Mapping[str, str] = field(default_factory=dict)
    #: A backward rule that needs the arguments' shapes (``mean`` divides by the count); the sweep uses it
    #: instead of ``vjp`` when set: ``vjp_shaped(node, g, shapes)``.
    vjp_shaped: Callable[[ex.Call, ex.Expr, Sequence[ex.Shape]], tuple[ex.Expr | None, ...]] | None = None
    #: An infix operator the call is written with in the language (``**``: ``pow(A, p)`` is ``A ** p``),
    #: its one parameter on the right; empty: ``name(A, ...)``.
    infix: str = ""
    #: Identities ``name(A, **params) = text``, each the text in the language over ``A`` and the parameters of
    #: the call it equals (``("exp(A) / sum(exp(A), axis=1)", {"axis": 1})``); the simplifier writes the call
    #: wherever it finds an instance of the text (as :attr:`Elementwise.expansions`).
    expansions: tuple[tuple[str, Mapping[str, int]], ...] = ()

    def value(self, node: ex.Call, name: str) -> Any:
        """A parameter of a call of this operation, or its default when the call leaves it out.

        >>> op = MatrixOp("f", "", 1, (Param("axis", 0, 1, optional=True),), shape=lambda r, s, p: (1, 1),
        ...               expand=lambda a, s, p: a[0], vjp=lambda n, g: (g,), latex=lambda p, n: ("", 0), noun="f")
        >>> op.value(call("f", ex.Symbol("A")), "axis") is None
        True
        """
        given = dict(node.params)
        if name in given:
            return given[name]
        return next(p.default for p in self.params if p.name == name)


def call(op: str, *args: ex.Expr, **params: Any) -> ex.Call:
    """A :class:`~symderiv.core.expr.Call` node.

    >>> call("matpow", ex.Symbol("X"), k=2).params
    (('k', 2),)
    """
    return ex.Call(op, tuple(args), tuple(params.items()))


__all__ = ["Domain", "Elementwise", "LatexPrinter", "MatrixOp", "Param", "Params", "ShapeRule", "call"]
