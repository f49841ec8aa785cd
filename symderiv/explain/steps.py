"""What a derivation is made of, as frozen data: equations, steps, blocks and the document.

Nothing here computes or formats: :mod:`symderiv.explain.derivation` builds these records and
:mod:`symderiv.render` prints them (this is the one module of :mod:`symderiv.explain` that the printers
import). An equation is a chain of sides, each an index-notation sum (``IndexSum``), a matrix
expression (:class:`Matrix`) or a whole gradient (:class:`Grad`); prose is a tuple of strings and math.

>>> from symderiv.core import expr as ex
>>> Equation((Grad("W"), Matrix(ex.Symbol("G")))).rhs
Matrix(expr=Symbol(name='G'))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from symderiv.core import expr as ex
from symderiv.proofs.index import Ent, Idx, Index, IndexSum


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


@dataclass(frozen=True)
class Name:
    """A letter or name as itself, for the prose (``called G in formulas``): unlike ``Matrix(Symbol("G"))``, never
    written as the gradient it stands for."""

    name: str


@dataclass(frozen=True)
class Code:
    """A formula in symderiv's language, quoted in prose (``G @ X.T``): typeset as code, not as math or text."""

    text: str


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


Math = Equation | IndexSum | Matrix | Grad | IndexEq | Ent | Idx | Dims | Name
#: A sentence: plain words (``str``), math, and quoted code; names and formulas are never plain words.
Prose = tuple[str | Math | Code, ...]


def symbol(name: str) -> Matrix:
    """The matrix named ``name`` as a piece of prose.

    >>> symbol("W").expr
    Symbol(name='W')
    """
    return Matrix(ex.Symbol(name))


class StepKind(str, Enum):
    """What a step does; the printers dispatch on its value (``_step_chain_rule``, ...).

    >>> StepKind.CHAIN_RULE.value, StepKind("matrix_form") is StepKind.MATRIX_FORM
    ('chain_rule', True)
    """

    CHAIN_RULE = "chain_rule"
    INDEX_FORM = "index_form"
    SPARSITY = "sparsity"
    DIFFERENTIATE = "differentiate"
    SUBSTITUTE = "substitute"
    #: A routine block in one step (``detail="compact"``): chain rule, sparsity, derivative and substitution.
    ENTRYWISE = "entrywise"
    TRANSPOSE = "transpose"
    MATRIX_FORM = "matrix_form"
    ACCUMULATE = "accumulate"
    ASSEMBLE = "assemble"
    RESULT = "result"
    SIMPLIFY = "simplify"


@dataclass(frozen=True)
class Draft:
    """A step before its check: the equation, the sentence (prose), the indices involved, the block."""

    kind: StepKind
    equation: Equation
    prose: Prose
    indices: tuple[str, ...] = ()
    block: int = 0


@dataclass(frozen=True)
class Step:
    """One step of a derivation: an equation (data), the rule it uses in a sentence, and how it was checked.

    ``justification`` and ``equation_text`` are the sentence and the equation in plain Unicode;
    ``checked`` says whether the step was evaluated exactly on a small instance, ``check_note`` how,
    when that was not the direct entrywise comparison.
    """

    kind: StepKind
    equation: Equation
    prose: Prose
    justification: str
    equation_text: str
    indices: tuple[str, ...] = ()
    block: int = 0
    checked: bool = False
    check_note: str = ""


@dataclass(frozen=True)
class Block:
    """One node of the backprop: ``name = definition``, differentiated with respect to ``wrt``.

    ``upstream`` is the symbol standing for ``∂L/∂name`` (None: the block is the scalar loss);
    ``partial``: ``wrt`` feeds several blocks, and this one gives only its part of ``∂L/∂wrt``.
    """

    number: int
    name: str
    definition: ex.Expr
    wrt: str
    upstream: str | None
    partial: bool
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Document:
    """What the printers read: the title's parts, the intro, the blocks of steps, the final steps, the result.

    ``upstreams`` maps each upstream symbol to the node it is the gradient of (``G`` → ``D``), so that
    the printers write it ``∂L/∂D``.
    """

    expression: str
    source: ex.Expr
    wrt: str
    layout: str
    upstreams: Mapping[str, str]
    intro: tuple[Prose, ...]
    blocks: tuple[Block, ...]
    final: tuple[Step, ...]
    conclusion: Prose

    @property
    def steps(self) -> list[Step]:
        """Every step in order: the blocks', then the final ones."""
        return [s for b in self.blocks for s in b.steps] + list(self.final)


__all__ = ["Block", "Code", "Dims", "Document", "Draft", "Equation", "Grad", "IndexEq", "Math", "Matrix", "Name",
           "Prose", "Side", "Step", "StepKind", "symbol"]
